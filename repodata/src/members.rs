//! `primary.xml.gz`, `filelists.xml.gz` and `other.xml.gz` (or `.zst`) written as runs of gzip
//! members (zstd frames), so that a publisher can copy the members of packages that did not
//! change.
//!
//! Concatenated gzip members are one valid gzip file whose content is the members' contents in
//! order (RFC 1952 §2.2); concatenated zstd frames are one valid zstd file the same way (RFC 8878
//! §3). zlib's `gzread`, libzstd's streaming decoder, libsolv (dnf) and zypper read them. A file
//! is: a member with the XML declaration and root start tag (it holds the package count, so it
//! is always new), one member per run of packages, a member with the root end tag. The content
//! is byte for byte what one stream would hold, so `open-checksum` and `open-size` are
//! createrepo_c's. xz is never cut this way ([`Compression::concatenates`]).

use sha2::{Digest, Sha256};

use crate::compress::{member, unmember, Compression, FileDigest};
use crate::writer::XmlKind;
use crate::Package;

/// The XML of a run of packages as one gzip member per kind, in [`XmlKind::ALL`] order.
#[derive(Debug, Clone)]
pub struct RunMembers {
    /// One compressed member each for primary, filelists and other.
    pub members: [Vec<u8>; 3],
    /// Size of each member's content.
    pub open_sizes: [u64; 3],
}

/// Render `packages` (in createrepo_c order) as one member per kind, compressed with
/// `compression` (gzip or zstd: [`Compression::concatenates`]).
pub fn run_members(packages: &[&Package], compression: Compression) -> RunMembers {
    let mut members: [Vec<u8>; 3] = Default::default();
    let mut open_sizes = [0u64; 3];
    let mut xml = Vec::new();
    for (k, kind) in XmlKind::ALL.iter().enumerate() {
        xml.clear();
        for p in packages {
            kind.chunk(p, &mut xml);
        }
        open_sizes[k] = xml.len() as u64;
        members[k] = member(compression, &xml);
    }
    RunMembers {
        members,
        open_sizes,
    }
}

/// A file put together by [`assemble`].
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The whole compressed file: header member, the given members, footer member.
    pub bytes: Vec<u8>,
    /// Checksum and size of `bytes` and of its uncompressed content.
    pub digest: FileDigest,
    /// Offset of each member in `bytes`, in the order given.
    pub offsets: Vec<u64>,
}

/// A member that is not one complete gzip member (zstd frame) of the size it should hold.
#[derive(Debug, thiserror::Error)]
#[error("member {index}: {reason}")]
pub struct MemberError {
    /// Position of the member in the list given to [`assemble`].
    pub index: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// The file of `kind` for `package_count` packages from `members` (each with the size of its
/// content), all compressed with `compression`: header member, the members, footer member.
/// Every member is decompressed once, to compute `open-checksum`; that also checks it is
/// exactly one member of that size.
pub fn assemble(
    kind: XmlKind,
    package_count: usize,
    members: &[(&[u8], u64)],
    compression: Compression,
) -> Result<Assembled, MemberError> {
    if !compression.concatenates() {
        return Err(MemberError {
            index: 0,
            reason: format!("{} files are not cut into members", compression.name()),
        });
    }
    let mut out = Vec::new();
    let mut open = Sha256::new();
    let header = kind.header(package_count);
    out.extend_from_slice(&member(compression, header.as_bytes()));
    open.update(header.as_bytes());
    let mut open_size = header.len() as u64;
    let mut offsets = Vec::with_capacity(members.len());
    for (index, &(piece, expected)) in members.iter().enumerate() {
        let bad = |reason: String| MemberError { index, reason };
        let content =
            unmember(compression, piece, expected as usize).map_err(|e| bad(e.to_string()))?;
        if content.len() as u64 != expected {
            return Err(bad(format!(
                "holds {} bytes, expected {expected}",
                content.len()
            )));
        }
        open.update(&content);
        open_size += expected;
        offsets.push(out.len() as u64);
        out.extend_from_slice(piece);
    }
    let footer = kind.footer();
    out.extend_from_slice(&member(compression, footer.as_bytes()));
    open.update(footer.as_bytes());
    open_size += footer.len() as u64;
    Ok(Assembled {
        digest: FileDigest {
            checksum: hex::encode(Sha256::digest(&out)),
            size: out.len() as u64,
            open_checksum: hex::encode(open.finalize()),
            open_size,
        },
        bytes: out,
        offsets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pkg(name: &str) -> Package {
        Package {
            name: name.into(),
            arch: "noarch".into(),
            version: "1".into(),
            release: "1".into(),
            pkgid: format!("{name:0>64}"),
            checksum_type: "sha256".into(),
            location_href: format!("{name}.rpm"),
            ..Package::default()
        }
    }

    #[test]
    fn members_make_the_file_one_stream_would() {
        for c in [Compression::Gz, Compression::Zstd] {
            check_members(c);
        }
    }

    fn check_members(c: Compression) {
        let ps: Vec<Package> = (0..5).map(|i| pkg(&format!("p{i}"))).collect();
        let refs: Vec<&Package> = ps.iter().collect();
        let (a, b) = (run_members(&refs[..2], c), run_members(&refs[2..], c));
        for (k, kind) in XmlKind::ALL.iter().enumerate() {
            let parts = [
                (&a.members[k][..], a.open_sizes[k]),
                (&b.members[k][..], b.open_sizes[k]),
            ];
            let out = assemble(*kind, 5, &parts, c).unwrap();
            let mut plain = kind.header(5).into_bytes();
            for p in &refs {
                kind.chunk(p, &mut plain);
            }
            plain.extend_from_slice(kind.footer().as_bytes());
            let mut open = Vec::new();
            c.decoder(&out.bytes[..])
                .unwrap()
                .read_to_end(&mut open)
                .unwrap();
            assert_eq!(open, plain, "{c:?}");
            assert_eq!(out.digest.open_size, plain.len() as u64);
            assert_eq!(
                out.digest.open_checksum,
                hex::encode(Sha256::digest(&plain))
            );
            assert_eq!(out.digest.checksum, hex::encode(Sha256::digest(&out.bytes)));
            let at = out.offsets[1] as usize;
            assert_eq!(&out.bytes[at..at + b.members[k].len()], &b.members[k][..]);
            // A wrong size or a cut member is refused.
            let wrong = [(&a.members[k][..], a.open_sizes[k] + 1)];
            assert_eq!(assemble(*kind, 2, &wrong, c).unwrap_err().index, 0);
            let cut = [(&a.members[k][..a.members[k].len() - 1], a.open_sizes[k])];
            assert!(assemble(*kind, 2, &cut, c).is_err());
            // A member of the other format is refused, not copied.
            let other = if c == Compression::Gz {
                Compression::Zstd
            } else {
                Compression::Gz
            };
            let foreign = run_members(&refs[..2], other);
            let mixed = [(&foreign.members[k][..], foreign.open_sizes[k])];
            assert!(assemble(*kind, 2, &mixed, c).is_err());
        }
    }

    #[test]
    fn xz_is_not_cut() {
        let err = assemble(XmlKind::Primary, 0, &[], Compression::Xz).unwrap_err();
        assert!(err.reason.contains("xz"), "{err}");
    }
}
