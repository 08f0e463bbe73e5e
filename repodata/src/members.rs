//! `primary.xml.gz`, `filelists.xml.gz` and `other.xml.gz` written as runs of gzip members, so
//! that a publisher can copy the members of packages that did not change.
//!
//! Concatenated gzip members are one valid gzip file whose content is the members' contents in
//! order (RFC 1952 §2.2); zlib's `gzread`, libsolv (dnf) and zypper read it. A file is: a member
//! with the XML declaration and root start tag (it holds the package count, so it is always
//! new), one member per run of packages, a member with the root end tag. The content is byte for
//! byte what one stream would hold, so `open-checksum` and `open-size` are createrepo_c's.

use sha2::{Digest, Sha256};

use crate::compress::{gunzip_member, gzip_member, FileDigest};
use crate::writer::XmlKind;
use crate::Package;

/// The XML of a run of packages as one gzip member per kind, in [`XmlKind::ALL`] order.
#[derive(Debug, Clone)]
pub struct RunMembers {
    pub members: [Vec<u8>; 3],
    /// Size of each member's content.
    pub open_sizes: [u64; 3],
}

/// Render `packages` (in createrepo_c order) as one member per kind.
pub fn run_members(packages: &[&Package]) -> RunMembers {
    let mut members: [Vec<u8>; 3] = Default::default();
    let mut open_sizes = [0u64; 3];
    let mut xml = Vec::new();
    for (k, kind) in XmlKind::ALL.iter().enumerate() {
        xml.clear();
        for p in packages {
            kind.chunk(p, &mut xml);
        }
        open_sizes[k] = xml.len() as u64;
        members[k] = gzip_member(&xml);
    }
    RunMembers {
        members,
        open_sizes,
    }
}

/// A file put together by [`assemble`].
#[derive(Debug, Clone)]
pub struct Assembled {
    pub bytes: Vec<u8>,
    pub digest: FileDigest,
    /// Offset of each member in `bytes`, in the order given.
    pub offsets: Vec<u64>,
}

/// A member that is not one complete gzip member of the size it should hold.
#[derive(Debug, thiserror::Error)]
#[error("member {index}: {reason}")]
pub struct MemberError {
    pub index: usize,
    pub reason: String,
}

/// The file of `kind` for `package_count` packages from `members` (each with the size of its
/// content): header member, the members, footer member. Every member is inflated once, to
/// compute `open-checksum`; that also checks it is exactly one gzip member of that size.
pub fn assemble(
    kind: XmlKind,
    package_count: usize,
    members: &[(&[u8], u64)],
) -> Result<Assembled, MemberError> {
    let mut out = Vec::new();
    let mut open = Sha256::new();
    let header = kind.header(package_count);
    out.extend_from_slice(&gzip_member(header.as_bytes()));
    open.update(header.as_bytes());
    let mut open_size = header.len() as u64;
    let mut offsets = Vec::with_capacity(members.len());
    for (index, &(member, expected)) in members.iter().enumerate() {
        let bad = |reason: String| MemberError { index, reason };
        let content = gunzip_member(member, expected as usize).map_err(|e| bad(e.to_string()))?;
        if content.len() as u64 != expected {
            return Err(bad(format!(
                "holds {} bytes, expected {expected}",
                content.len()
            )));
        }
        open.update(&content);
        open_size += expected;
        offsets.push(out.len() as u64);
        out.extend_from_slice(member);
    }
    let footer = kind.footer();
    out.extend_from_slice(&gzip_member(footer.as_bytes()));
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
        let ps: Vec<Package> = (0..5).map(|i| pkg(&format!("p{i}"))).collect();
        let refs: Vec<&Package> = ps.iter().collect();
        let (a, b) = (run_members(&refs[..2]), run_members(&refs[2..]));
        for (k, kind) in XmlKind::ALL.iter().enumerate() {
            let parts = [
                (&a.members[k][..], a.open_sizes[k]),
                (&b.members[k][..], b.open_sizes[k]),
            ];
            let out = assemble(*kind, 5, &parts).unwrap();
            let mut plain = kind.header(5).into_bytes();
            for p in &refs {
                kind.chunk(p, &mut plain);
            }
            plain.extend_from_slice(kind.footer().as_bytes());
            let mut open = Vec::new();
            flate2::read::MultiGzDecoder::new(&out.bytes[..])
                .read_to_end(&mut open)
                .unwrap();
            assert_eq!(open, plain);
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
            assert_eq!(assemble(*kind, 2, &wrong).unwrap_err().index, 0);
            let cut = [(&a.members[k][..a.members[k].len() - 1], a.open_sizes[k])];
            assert!(assemble(*kind, 2, &cut).is_err());
        }
    }
}
