//! Rendering a generation from chunks: fresh chunks are rendered from their records, unchanged
//! chunks' gzip members (zstd frames) are copied out of the previous generation's files
//! ([`rpmbucket_repodata::members`] has the file format). Synchronous and pure (bytes in, bytes
//! out); the publish code runs it on a blocking thread. A copied member that does not inflate
//! to its recorded size fails the render, and the caller renders everything from records.

use rpmbucket_repodata::members::{assemble as assemble_members, run_members, MemberError};
use rpmbucket_repodata::writer::{location_cmp, XmlKind};
use sha2::{Digest, Sha256};

use std::collections::BTreeSet;

use crate::backend::{self, Compression, RenderedFile};
use crate::cache::MetadataCache;
use crate::config::RepoConfig;
use crate::state::{encode_chunk, ChunkRef, Entry, Members, Span, State};

/// One chunk of the next generation.
#[derive(Debug)]
pub enum Piece<'a> {
    /// Unchanged: copy its members from the previous files.
    Reuse(&'a ChunkRef),
    /// Render from these entries (createrepo_c order).
    Fresh(Vec<&'a Entry>),
}

/// A chunk of the rendered generation.
#[derive(Debug, Clone)]
pub struct NewChunk {
    /// Number of packages.
    pub count: usize,
    /// Location href of its first package (see [`ChunkRef::first`](crate::state::ChunkRef::first)).
    pub first: String,
    /// `None` when the XML is neither gzip nor zstd (nothing to reuse next time).
    pub members: Option<Members>,
    /// The reused chunk's href, or `None` for a fresh chunk (its file is in `file`).
    pub href: Option<String>,
    /// Fresh chunks: the chunk file and its hex sha256.
    pub file: Option<(String, Vec<u8>)>,
}

/// The three XML files and the chunks.
#[derive(Debug)]
pub struct RenderedXml {
    /// primary, filelists, other (`*.xml.gz` or `*.xml.zst`).
    pub files: Vec<RenderedFile>,
    /// The chunks of the new generation, in createrepo_c order.
    pub chunks: Vec<NewChunk>,
    /// Chunks rendered from their records.
    pub fresh: usize,
    /// Chunks whose members were copied from the previous files.
    pub reused: usize,
}

/// A member of the previous files that cannot be copied (the caller then renders every chunk
/// from its records).
#[derive(Debug, thiserror::Error)]
#[error("cannot reuse the previous {file}: {reason}")]
pub struct ReuseError {
    /// `"primary"`, `"filelists"` or `"other"`.
    pub file: &'static str,
    /// What is wrong with the member.
    #[source]
    pub reason: ReuseReason,
}

/// What is wrong with a member of the previous files ([`ReuseError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReuseReason {
    /// The state names no member of the chunk in the previous files.
    #[error("{chunk} has no member")]
    NoMember {
        /// The chunk's href.
        chunk: String,
    },
    /// A chunk is to be copied, but the previous files were not given.
    #[error("not read")]
    NotRead,
    /// The member the state names ends past the end of the previous file.
    #[error("member of {chunk} is out of bounds")]
    OutOfBounds {
        /// The chunk's href.
        chunk: String,
    },
    /// A copied member is not one complete member of the size the state says.
    #[error(transparent)]
    Member(#[from] MemberError),
}

/// Rendered members of a fresh chunk.
struct FreshOut {
    members: [Vec<u8>; 3],
    open_sizes: [u64; 3],
    file: (String, Vec<u8>),
}

/// Render `pieces` into `primary`/`filelists`/`other` files made of gzip members or zstd frames
/// (`compression`, one that [`Compression::concatenates`]). `previous` holds the previous
/// generation's three files (primary, filelists, other, in the same compression) when any
/// piece is reused. `threads` fresh chunks are rendered at once.
pub fn render_members(
    pieces: &[Piece],
    previous: Option<&[bytes::Bytes; 3]>,
    threads: usize,
    compression: Compression,
) -> Result<RenderedXml, ReuseError> {
    // 1. Fresh chunks, in parallel.
    let fresh_idx: Vec<usize> = pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, Piece::Fresh(_)))
        .map(|(i, _)| i)
        .collect();
    let mut fresh: Vec<Option<FreshOut>> = (0..pieces.len()).map(|_| None).collect();
    let done: Vec<(usize, FreshOut)> = rpmbucket_repodata::pool::map(&fresh_idx, threads, |&i| {
        let Piece::Fresh(entries) = &pieces[i] else {
            unreachable!()
        };
        (i, render_fresh(entries, compression))
    });
    for (i, f) in done {
        fresh[i] = Some(f);
    }

    // 2. The three files, in parallel: header, members, footer; hash the open content.
    let total: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Reuse(c) => c.count,
            Piece::Fresh(e) => e.len(),
        })
        .sum();
    let fresh = &fresh;
    let kinds: Vec<(usize, XmlKind)> = XmlKind::ALL.iter().copied().enumerate().collect();
    let assembled: Vec<Result<(RenderedFile, Vec<Span>), ReuseError>> =
        rpmbucket_repodata::pool::map(&kinds, kinds.len(), |&(k, kind)| {
            assemble(kind, k, pieces, fresh, previous, total, compression)
        });
    let mut files = Vec::with_capacity(3);
    let mut spans = Vec::with_capacity(3);
    for a in assembled {
        let (f, s) = a?;
        files.push(f);
        spans.push(s);
    }

    let mut chunks = Vec::with_capacity(pieces.len());
    let (mut n_fresh, mut n_reused) = (0, 0);
    for (i, piece) in pieces.iter().enumerate() {
        let members = Some(Members {
            primary: spans[0][i],
            filelists: spans[1][i],
            other: spans[2][i],
        });
        chunks.push(match piece {
            Piece::Reuse(c) => {
                n_reused += 1;
                NewChunk {
                    count: c.count,
                    first: c.first.clone(),
                    members,
                    href: Some(c.href.clone()),
                    file: None,
                }
            }
            Piece::Fresh(entries) => {
                n_fresh += 1;
                NewChunk {
                    count: entries.len(),
                    first: entries
                        .first()
                        .map(|e| e.package.location_href.clone())
                        .unwrap_or_default(),
                    members,
                    href: None,
                    file: fresh[i].as_ref().map(|f| f.file.clone()),
                }
            }
        });
    }
    Ok(RenderedXml {
        files,
        chunks,
        fresh: n_fresh,
        reused: n_reused,
    })
}

fn render_fresh(entries: &[&Entry], compression: Compression) -> FreshOut {
    let packages: Vec<&rpmbucket_repodata::Package> = entries.iter().map(|e| &*e.package).collect();
    let run = run_members(&packages, compression);
    let bytes = encode_chunk(entries);
    let sum = hex::encode(Sha256::digest(&bytes));
    FreshOut {
        members: run.members,
        open_sizes: run.open_sizes,
        file: (sum, bytes),
    }
}

fn assemble(
    kind: XmlKind,
    k: usize,
    pieces: &[Piece],
    fresh: &[Option<FreshOut>],
    previous: Option<&[bytes::Bytes; 3]>,
    total: usize,
    compression: Compression,
) -> Result<(RenderedFile, Vec<Span>), ReuseError> {
    let file = kind.name();
    let bad = |reason: ReuseReason| ReuseError { file, reason };
    let mut members: Vec<(&[u8], u64)> = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        members.push(match piece {
            Piece::Reuse(c) => {
                let span = c
                    .members
                    .ok_or_else(|| {
                        bad(ReuseReason::NoMember {
                            chunk: c.href.clone(),
                        })
                    })?
                    .spans()[k];
                let prev = previous.ok_or_else(|| bad(ReuseReason::NotRead))?[k].as_ref();
                let end = span
                    .offset
                    .checked_add(span.size)
                    .filter(|e| *e <= prev.len() as u64)
                    .ok_or_else(|| {
                        bad(ReuseReason::OutOfBounds {
                            chunk: c.href.clone(),
                        })
                    })?;
                (&prev[span.offset as usize..end as usize], span.open_size)
            }
            Piece::Fresh(_) => {
                let f = fresh[i].as_ref().expect("fresh chunk rendered");
                (&f.members[k], f.open_sizes[k])
            }
        });
    }
    let out = assemble_members(kind, total, &members, compression).map_err(|e| bad(e.into()))?;
    let spans = out
        .offsets
        .iter()
        .zip(&members)
        .map(|(&offset, &(member, open_size))| Span {
            offset,
            size: member.len() as u64,
            open_size,
        })
        .collect();
    Ok((
        RenderedFile {
            data_type: file.to_string(),
            name: format!("{file}.xml{}", compression.suffix()),
            bytes: out.bytes,
            checksum: out.digest.checksum,
            open: Some((out.digest.open_checksum, out.digest.open_size)),
            database_version: None,
            blocks: Vec::new(),
        },
        spans,
    ))
}

/// The next generation's metadata files and chunks.
#[derive(Debug)]
pub struct Generation {
    /// XML files, then the databases if configured.
    pub files: Vec<RenderedFile>,
    /// The chunks of the new generation, in createrepo_c order.
    pub chunks: Vec<NewChunk>,
    /// Chunks rendered from their records.
    pub fresh: usize,
    /// Chunks whose members were copied from the previous files.
    pub reused: usize,
}

/// The previous generation's databases and what changed since.
#[derive(Debug, Clone, Copy)]
pub struct PreviousDb<'a> {
    /// primary, filelists and other `.sqlite.bz2`, as published.
    pub files: &'a [bytes::Bytes; 3],
    /// Their blocks, from the state (reused where the database pages did not change).
    pub blocks: Option<&'a [Vec<backend::BlockRef>]>,
    /// Packages removed and added since that generation.
    pub delta: &'a backend::DbDelta<'a>,
    /// Their open-checksums and open-sizes, to find the uncompressed databases in the cache.
    pub open: [(&'a str, u64); 3],
}

/// How [`render_generation`] works, apart from what it renders.
#[derive(Debug, Clone, Copy)]
pub struct Tuning<'a> {
    /// Threads rendering chunks and compressing.
    pub threads: usize,
    /// Packages per chunk when chunks are cut.
    pub chunk_target: usize,
    /// Where the uncompressed databases are taken from and kept.
    pub cache: Option<&'a MetadataCache>,
}

/// Why [`render_generation`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderFailure {
    /// A member of the previous files could not be reused: render everything from records.
    #[error(transparent)]
    Reuse(#[from] ReuseError),
    /// The previous databases could not be updated: rebuild them from every record.
    #[error("cannot update the previous databases: {0}")]
    Databases(#[source] backend::RenderError),
    /// Writing the files from records failed.
    #[error(transparent)]
    Render(#[from] backend::RenderError),
    /// A chunk must be rendered but its records were not read.
    #[error("{href} must be rendered but was not read")]
    NotRead {
        /// The chunk's href.
        href: String,
    },
    /// Rendering these files needs every record, and not all were read.
    #[error("{0} need every record")]
    Incomplete(&'static str),
}

/// Render the next generation of `state`: the chunks in `dirty` (indexes into `state.chunks`)
/// and every chunk that cannot be copied are rendered from the loaded records, the others are
/// copied from `previous` (the current primary, filelists and other files, in the configured
/// compression, which must be gzip or zstd). A chunk
/// that grew past twice `chunk_target` ([`CHUNK_TARGET`](crate::state::CHUNK_TARGET) by default) is cut into chunks of
/// about that size; an emptied chunk
/// disappears. The databases, when configured, are updated from `previous_db` or built from
/// every record (`state` must then be complete); with a `cache`, the uncompressed databases
/// are taken from it and kept in it.
pub fn render_generation(
    state: &State,
    dirty: &BTreeSet<usize>,
    previous: Option<&[bytes::Bytes; 3]>,
    previous_db: Option<PreviousDb>,
    config: &RepoConfig,
    tuning: Tuning,
) -> Result<Generation, RenderFailure> {
    let Tuning {
        threads,
        chunk_target,
        cache,
    } = tuning;
    let chunked = config.compression.concatenates();
    let mut groups: Vec<Vec<&Entry>> = vec![Vec::new(); state.chunks.len().max(1)];
    for e in state.packages.values() {
        groups[state.chunk_for(&e.package.location_href).unwrap_or(0)].push(e);
    }
    for g in &mut groups {
        g.sort_by(|a, b| location_cmp(&a.package.location_href, &b.package.location_href));
    }
    let mut pieces = Vec::new();
    if state.chunks.is_empty() {
        cut(&groups[0], chunk_target, &mut pieces);
    }
    for (j, c) in state.chunks.iter().enumerate() {
        if chunked && previous.is_some() && c.members.is_some() && !dirty.contains(&j) {
            pieces.push(Piece::Reuse(c));
        } else if state.loaded.get(j) == Some(&true) {
            cut(&groups[j], chunk_target, &mut pieces);
        } else {
            return Err(RenderFailure::NotRead {
                href: c.href.clone(),
            });
        }
    }

    if chunked {
        let xml = render_members(&pieces, previous, threads, config.compression)?;
        let mut files = xml.files;
        if config.database {
            let sums = [
                files[0].checksum.as_str(),
                files[1].checksum.as_str(),
                files[2].checksum.as_str(),
            ];
            let dbs = match previous_db {
                Some(PreviousDb {
                    files,
                    blocks,
                    delta,
                    open,
                }) => backend::update_databases(
                    files,
                    blocks,
                    delta,
                    sums,
                    threads,
                    cache.map(|c| (c, open)),
                )
                .map_err(RenderFailure::Databases)?,
                None if state.complete() => {
                    let ordered = state.ordered_packages();
                    backend::render_databases(&ordered, sums, threads, cache)?
                }
                None => return Err(RenderFailure::Incomplete("databases")),
            };
            files.extend(dbs);
        }
        return Ok(Generation {
            files,
            chunks: xml.chunks,
            fresh: xml.fresh,
            reused: xml.reused,
        });
    }

    // Other compressions (xz, bz2, none): one stream per file from every record; chunks
    // without members.
    if !state.complete() {
        return Err(RenderFailure::Incomplete(
            "metadata files that are neither gzip nor zstd",
        ));
    }
    let ordered = state.ordered_packages();
    let files = backend::render(&ordered, config)?;
    let chunks: Vec<NewChunk> = pieces
        .iter()
        .map(|p| {
            let Piece::Fresh(entries) = p else {
                unreachable!("nothing is reused without gzip or zstd")
            };
            let bytes = encode_chunk(entries);
            NewChunk {
                count: entries.len(),
                first: entries[0].package.location_href.clone(),
                members: None,
                href: None,
                file: Some((hex::encode(Sha256::digest(&bytes)), bytes)),
            }
        })
        .collect();
    let fresh = chunks.len();
    Ok(Generation {
        files,
        chunks,
        fresh,
        reused: 0,
    })
}

/// Fresh pieces for one group of entries: one piece, or pieces of about `target` (normally
/// [`CHUNK_TARGET`](crate::state::CHUNK_TARGET)) when the group is larger than twice that; nothing for an empty group.
fn cut<'a>(group: &[&'a Entry], target: usize, pieces: &mut Vec<Piece<'a>>) {
    if group.is_empty() {
        return;
    }
    let parts = if group.len() > 2 * target {
        group.len().div_ceil(target)
    } else {
        1
    };
    let base = group.len() / parts;
    let extra = group.len() % parts;
    let mut at = 0;
    for i in 0..parts {
        let n = base + usize::from(i < extra);
        pieces.push(Piece::Fresh(group[at..at + n].to_vec()));
        at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpmbucket_repodata::Package;
    use std::io::Read;

    fn entry(name: &str) -> Entry {
        Entry {
            etag: None,
            package: std::sync::Arc::new(Package {
                name: name.into(),
                arch: "noarch".into(),
                version: "1".into(),
                release: "1".into(),
                pkgid: format!("{name:0>64}"),
                checksum_type: "sha256".into(),
                location_href: format!("{name}.rpm"),
                ..Package::default()
            }),
        }
    }

    /// Everything a client reads from `b` (all gzip members, all zstd frames).
    fn open_all(c: Compression, b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        c.decoder(b).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    /// The XML of `entries` written the plain way: header, every package, footer.
    fn plain(kind: XmlKind, entries: &[&Entry]) -> Vec<u8> {
        let mut v = kind.header(entries.len()).into_bytes();
        for e in entries {
            kind.chunk(&e.package, &mut v);
        }
        v.extend_from_slice(kind.footer().as_bytes());
        v
    }

    #[test]
    fn cut_keeps_small_groups_and_splits_large_ones() {
        let es: Vec<Entry> = (0..11).map(|i| entry(&format!("p{i:02}"))).collect();
        let refs: Vec<&Entry> = es.iter().collect();
        let sizes = |target, n: usize| {
            let mut pieces = Vec::new();
            cut(&refs[..n], target, &mut pieces);
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Fresh(e) => e.len(),
                    Piece::Reuse(_) => unreachable!(),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(4, 0), Vec::<usize>::new());
        assert_eq!(sizes(4, 8), [8]);
        assert_eq!(sizes(4, 9), [3, 3, 3]);
        assert_eq!(sizes(4, 11), [4, 4, 3]);
    }

    #[test]
    fn reused_members_give_the_same_content_and_bad_spans_are_refused() {
        for c in [Compression::Gz, Compression::Zstd] {
            reuse_in(c);
        }
    }

    /// Each refusal of a reused member names its reason, with the member check's error as the
    /// source where that check failed.
    #[test]
    fn refused_members_say_why() {
        use std::error::Error as _;
        let es: Vec<Entry> = (0..2).map(|i| entry(&format!("p{i}"))).collect();
        let refs: Vec<&Entry> = es.iter().collect();
        let c = Compression::Gz;
        let first = render_members(&[Piece::Fresh(refs)], None, 1, c).unwrap();
        let previous: [bytes::Bytes; 3] =
            std::array::from_fn(|k| bytes::Bytes::from(first.files[k].bytes.clone()));
        let kept = ChunkRef {
            href: "repodata/x-rpmbucket-chunk.json.gz".into(),
            count: first.chunks[0].count,
            first: first.chunks[0].first.clone(),
            members: first.chunks[0].members,
        };
        let refuse = |chunk: &ChunkRef, previous: Option<&[bytes::Bytes; 3]>| {
            render_members(&[Piece::Reuse(chunk)], previous, 1, c).unwrap_err()
        };

        let err = refuse(&kept, None);
        assert!(matches!(err.reason, ReuseReason::NotRead), "{err}");
        assert_eq!(
            err.to_string(),
            "cannot reuse the previous primary: not read"
        );

        let mut bad = kept.clone();
        bad.members = None;
        let err = refuse(&bad, Some(&previous));
        assert!(matches!(err.reason, ReuseReason::NoMember { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "cannot reuse the previous primary: repodata/x-rpmbucket-chunk.json.gz has no member"
        );

        let mut bad = kept.clone();
        bad.members.as_mut().unwrap().other.size = u64::MAX;
        let err = refuse(&bad, Some(&previous));
        assert_eq!(err.file, "other");
        assert!(
            matches!(err.reason, ReuseReason::OutOfBounds { .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "cannot reuse the previous other: member of repodata/x-rpmbucket-chunk.json.gz is out of bounds"
        );

        let mut bad = kept;
        bad.members.as_mut().unwrap().filelists.open_size += 1;
        let err = refuse(&bad, Some(&previous));
        assert_eq!(err.file, "filelists");
        let ReuseReason::Member(member) = &err.reason else {
            panic!("{err}")
        };
        assert_eq!(member.index, 0, "the one member given");
        assert!(err.source().is_some());
        assert_eq!(
            err.to_string(),
            format!("cannot reuse the previous filelists: {member}")
        );
    }

    fn reuse_in(c: Compression) {
        let es: Vec<Entry> = (0..6).map(|i| entry(&format!("p{i}"))).collect();
        let refs: Vec<&Entry> = es.iter().collect();
        let first = render_members(
            &[
                Piece::Fresh(refs[..3].to_vec()),
                Piece::Fresh(refs[3..].to_vec()),
            ],
            None,
            2,
            c,
        )
        .unwrap();
        for (k, kind) in XmlKind::ALL.iter().enumerate() {
            assert_eq!(open_all(c, &first.files[k].bytes), plain(*kind, &refs));
        }
        let previous: [bytes::Bytes; 3] =
            std::array::from_fn(|k| bytes::Bytes::from(first.files[k].bytes.clone()));
        let chunk = |c: &NewChunk| ChunkRef {
            href: "repodata/x-rpmbucket-chunk.json.gz".into(),
            count: c.count,
            first: c.first.clone(),
            members: c.members,
        };
        let kept = chunk(&first.chunks[0]);
        // Reuse the first chunk, drop p4 from the second.
        let second = render_members(
            &[Piece::Reuse(&kept), Piece::Fresh(vec![refs[3], refs[5]])],
            Some(&previous),
            1,
            c,
        )
        .unwrap();
        assert_eq!((second.fresh, second.reused), (1, 1));
        let now = [refs[0], refs[1], refs[2], refs[3], refs[5]];
        for (k, kind) in XmlKind::ALL.iter().enumerate() {
            let f = &second.files[k];
            assert!(f.name.ends_with(c.suffix()), "{}", f.name);
            let open = open_all(c, &f.bytes);
            assert_eq!(open, plain(*kind, &now));
            let (sum, size) = f.open.clone().unwrap();
            assert_eq!(size, open.len() as u64);
            assert_eq!(sum, hex::encode(Sha256::digest(&open)));
        }
        // A span that is off by one byte, or points past the file: refused, not copied.
        let mut bad = kept.clone();
        bad.members.as_mut().unwrap().filelists.offset += 1;
        let err = render_members(&[Piece::Reuse(&bad)], Some(&previous), 1, c).unwrap_err();
        assert_eq!(err.file, "filelists");
        let mut bad = kept.clone();
        bad.members.as_mut().unwrap().other.size = u64::MAX;
        assert!(render_members(&[Piece::Reuse(&bad)], Some(&previous), 1, c).is_err());
        let mut bad = kept;
        bad.members.as_mut().unwrap().primary.open_size += 1;
        assert!(render_members(&[Piece::Reuse(&bad)], Some(&previous), 1, c).is_err());
    }
}
