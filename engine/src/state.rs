//! The engine's own published state, referenced from `repomd.xml` so that the metadata clients
//! see and the state the next publish starts from are always the same generation.
//!
//! Format 2 (current) is sharded: the state file (`repodata/<sha256>-rpmbucket-state.json.gz`,
//! a `<data type="rpmbucket-state">` record) is a small index — generation, rejected keys,
//! garbage lists and a list of *chunks*. A chunk is a run of consecutive packages in
//! createrepo_c order (about [`CHUNK_TARGET`] of them) stored as its own content-addressed file
//! (`repodata/<sha256>-rpmbucket-chunk.json.gz`) holding each package's record and the ETag it
//! was built from. The index also says where each chunk's XML sits in this generation's
//! `primary.xml.gz`, `filelists.xml.gz` and `other.xml.gz`: one gzip member per chunk, so a
//! publish that changes one package reads one chunk, re-renders one member per file and copies
//! the others.
//!
//! Format 1 (read for upgrades) held every record inline in the state file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use rpmbucket_repodata::bz2block::BlockRef;
use rpmbucket_repodata::writer::location_cmp;
use rpmbucket_repodata::Package;
use serde::{Deserialize, Serialize};

/// The repomd record type of the state file.
pub const STATE_TYPE: &str = "rpmbucket-state";
/// Base name of the state file (prefixed with its sha256 when stored).
pub const STATE_FILE: &str = "rpmbucket-state.json.gz";
/// Base name of a chunk file (prefixed with its sha256 when stored).
pub const CHUNK_FILE: &str = "rpmbucket-chunk.json.gz";
/// Current format version; readers refuse newer ones.
pub const STATE_FORMAT: u32 = 2;
/// Packages per chunk when chunks are cut; a chunk that grows past twice this is split.
pub const CHUNK_TARGET: usize = 128;

/// One generation of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version of the state file ([`STATE_FORMAT`] when written by this version).
    pub format: u32,
    /// Incremented by each publish.
    pub generation: u64,
    /// The packages, as chunks in createrepo_c order (format 2).
    #[serde(default)]
    pub chunks: Vec<ChunkRef>,
    /// Loaded packages by location href (key relative to the root): the entries of the chunks
    /// marked in `loaded`, or every package of a format-1 state. Not written (format 2 keeps
    /// them in the chunk files).
    #[serde(default, skip_serializing)]
    pub packages: BTreeMap<String, Entry>,
    /// Which of `chunks` have their entries in `packages`.
    #[serde(skip)]
    pub loaded: Vec<bool>,
    /// Keys whose current object could not be published, by location href.
    #[serde(default)]
    pub rejected: BTreeMap<String, Rejected>,
    /// Files (`repodata/NAME`, relative to the root) no longer referenced, with the time they
    /// stopped being referenced; deleted once older than the grace period.
    #[serde(default)]
    pub garbage: Vec<Garbage>,
    /// Files deleted recently (time of deletion). A publisher that started from an older
    /// generation may still be deleting them, so a new generation never reuses these names.
    #[serde(default)]
    pub tombstones: Vec<Garbage>,
    /// The repository's metadata settings (format 2; absent in older states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    /// Keys dropped from the metadata by retention (by location href), with the ETag of the
    /// object dropped and when: the object is deleted once that is older than the grace
    /// period; until then a publish that sees the same object leaves it out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retired: BTreeMap<String, Rejected>,
    /// The bzip2 blocks of this generation's primary, filelists and other databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub db_blocks: Vec<Vec<BlockRef>>,
    /// Extra metadata published from source files next to the packages (`updateinfo.xml`,
    /// `comps.xml`, `modules.yaml`), by the source's href. Records of these kinds that are not
    /// listed here were added by another tool and are carried over untouched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extras: BTreeMap<String, ExtraSource>,
}

/// The source object an extra-metadata record was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraSource {
    /// ETag of the source object the published records were built from.
    pub etag: String,
    /// When it was published.
    pub since: i64,
}

impl Default for State {
    fn default() -> State {
        State {
            format: STATE_FORMAT,
            generation: 0,
            chunks: Vec::new(),
            packages: BTreeMap::new(),
            loaded: Vec::new(),
            rejected: BTreeMap::new(),
            garbage: Vec::new(),
            tombstones: Vec::new(),
            db_blocks: Vec::new(),
            settings: None,
            extras: BTreeMap::new(),
            retired: BTreeMap::new(),
        }
    }
}

/// A repository's metadata settings, kept with its state so that every indexer (Lambda, CLI,
/// local server) publishes it the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// XML compression (`gz`, `zstd`, `xz`, `bz2`, `none`).
    pub compression: String,
    /// sqlite databases on or off.
    pub database: bool,
    /// Changelog entries kept per package (applies to packages read from then on).
    pub changelog_limit: i32,
    /// Fingerprint of the key that signs `repomd.xml`; `None`: not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// Fingerprints of the keys published in `repomd.xml.key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published_keys: Vec<String>,
    /// Package-signature policy: `off`, `signed` or `keys`.
    #[serde(default = "policy_off", skip_serializing_if = "is_off")]
    pub package_policy: String,
    /// Armored public keys trusted to sign packages.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trusted_keys: String,
    /// Retention rules (absent: keep everything).
    #[serde(default, skip_serializing_if = "is_default")]
    pub retention: crate::config::Retention,
    /// Write `index.html` (absent in older states: on).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub page: bool,
    /// Largest package the upload faces accept into the repository, in bytes (absent: the
    /// server's limit only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload_size: Option<u64>,
}

fn policy_off() -> String {
    "off".into()
}

fn is_off(s: &String) -> bool {
    s == "off"
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

impl Settings {
    /// The settings part of a configuration.
    pub fn of(config: &crate::config::RepoConfig) -> Settings {
        Settings {
            compression: config.compression.name().to_string(),
            database: config.database,
            changelog_limit: config.changelog_limit,
            signing_key: config.signer.as_ref().map(|s| s.fingerprint()),
            published_keys: config
                .signer
                .as_ref()
                .map(|s| s.published().to_vec())
                .unwrap_or_default(),
            package_policy: config.package_policy.name().to_string(),
            trusted_keys: config.trusted_keys.armored().to_string(),
            retention: config.retention,
            page: config.page,
            max_upload_size: config.max_upload_size,
        }
    }
}

/// A chunk of the package list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// `repodata/<sha256>-rpmbucket-chunk.json.gz`, relative to the root.
    pub href: String,
    /// Number of packages.
    pub count: usize,
    /// Location href of its first package; the chunk holds the packages from here up to the
    /// next chunk's `first` (createrepo_c order).
    pub first: String,
    /// Where its XML is in this generation's files, when they are gzip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Members>,
}

/// The gzip members of one chunk in `primary`, `filelists` and `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// Its member in the primary XML file.
    pub primary: Span,
    /// Its member in the filelists XML file.
    pub filelists: Span,
    /// Its member in the other XML file.
    pub other: Span,
}

impl Members {
    /// In the order primary, filelists, other.
    pub fn spans(&self) -> [Span; 3] {
        [self.primary, self.filelists, self.other]
    }
}

/// A byte range of a compressed file and the size of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Offset of the member in the compressed file, in bytes.
    pub offset: u64,
    /// Compressed size of the member, in bytes.
    pub size: u64,
    /// Size of the member's uncompressed content, in bytes.
    pub open_size: u64,
}

/// A published package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// ETag of the object the record was built from; `None` when the record came from
    /// metadata written by another tool (then the next reindex reads the package again).
    pub etag: Option<String>,
    /// Shared with the read that produced it (a reindex of a large repository holds every
    /// record once, not twice).
    pub package: Arc<Package>,
}

/// A key that was not published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// ETag of the object version that was refused; a new version is read again.
    pub etag: String,
    /// Why it was refused.
    pub reason: String,
    /// Seconds since the epoch.
    pub since: i64,
}

/// A file name with a time (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Garbage {
    /// `repodata/NAME`, relative to the repository root.
    pub href: String,
    /// When it stopped being referenced ([`State::garbage`]) or was deleted
    /// ([`State::tombstones`]).
    pub since: i64,
}

/// Why a state file or a chunk file does not decode ([`State::decode`], [`decode_chunk`]), or
/// why a chunk's entries do not fit the state ([`State::add_chunk`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes do not decompress as gzip.
    #[error("state file: not gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// The decompressed bytes are not the JSON of a state (chunk) file.
    #[error("state file: bad json: {0}")]
    Json(#[source] serde_json::Error),
    /// The state file was written in a newer format than this engine reads.
    #[error("state file: format {found} is newer than this engine understands ({supported})")]
    NewerFormat {
        /// The file's format.
        found: u32,
        /// The newest format this engine reads ([`STATE_FORMAT`]).
        supported: u32,
    },
    /// A chunk file was written in a newer format than this engine reads.
    #[error(
        "state file: chunk format {found} is newer than this engine understands ({supported})"
    )]
    NewerChunkFormat {
        /// The chunk file's format.
        found: u32,
        /// The newest format this engine reads ([`STATE_FORMAT`]).
        supported: u32,
    },
    /// A format 1 state file (records inline) also names chunks.
    #[error("state file: format 1 with chunks")]
    ChunksInFormat1,
    /// A format 2 state file (records in chunks) also holds records inline.
    #[error("state file: format 2 with inline packages")]
    PackagesInFormat2,
    /// Two chunks are not in createrepo_c order of their first location hrefs.
    #[error("state file: chunks out of order at {first:?}, {second:?}")]
    ChunksOutOfOrder {
        /// The first href of the earlier chunk.
        first: String,
        /// The first href of the chunk after it, which does not sort after `first`.
        second: String,
    },
    /// A chunk file holds another number of packages than the state says.
    #[error("state file: {chunk}: {found} packages, the index says {expected}")]
    ChunkCount {
        /// The chunk file's href.
        chunk: String,
        /// Packages in the chunk file.
        found: usize,
        /// Packages the state says it holds.
        expected: usize,
    },
    /// A chunk file holds a package that sorts into another chunk.
    #[error("state file: {chunk}: {href} does not belong to this chunk")]
    ForeignPackage {
        /// The chunk file's href.
        chunk: String,
        /// The package's location href.
        href: String,
    },
}

impl State {
    /// Gzip-compressed JSON.
    pub fn encode(&self) -> Vec<u8> {
        gzip_json(self)
    }

    /// Parse what [`State::encode`] wrote (format 1 or 2). Format 1's packages are all loaded;
    /// format 2's chunks start unloaded.
    pub fn decode(bytes: &[u8]) -> Result<State, StateError> {
        let mut state: State = gunzip_json(bytes)?;
        if state.format > STATE_FORMAT {
            return Err(StateError::NewerFormat {
                found: state.format,
                supported: STATE_FORMAT,
            });
        }
        if state.format < 2 && !state.chunks.is_empty() {
            return Err(StateError::ChunksInFormat1);
        }
        if state.format >= 2 && !state.packages.is_empty() {
            return Err(StateError::PackagesInFormat2);
        }
        for w in state.chunks.windows(2) {
            if location_cmp(&w[0].first, &w[1].first) != std::cmp::Ordering::Less {
                return Err(StateError::ChunksOutOfOrder {
                    first: w[0].first.clone(),
                    second: w[1].first.clone(),
                });
            }
        }
        state.loaded = vec![false; state.chunks.len()];
        Ok(state)
    }

    /// Number of packages (loaded or not).
    pub fn package_count(&self) -> usize {
        let unloaded: usize = self
            .chunks
            .iter()
            .zip(&self.loaded)
            .filter(|(_, l)| !**l)
            .map(|(c, _)| c.count)
            .sum();
        unloaded + self.packages.len()
    }

    /// Are all packages in `packages`?
    pub fn complete(&self) -> bool {
        self.loaded.iter().all(|l| *l)
    }

    /// The chunk an href belongs (or would belong) to: the last one whose `first` is not after
    /// it, or the first chunk. `None` when there are no chunks.
    pub fn chunk_for(&self, href: &str) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let after = self
            .chunks
            .partition_point(|c| location_cmp(&c.first, href) != std::cmp::Ordering::Greater);
        Some(after.saturating_sub(1))
    }

    /// Put the entries of chunk `index` (decoded from its file) into `packages`. Refuses
    /// entries that do not belong to that chunk.
    pub fn add_chunk(&mut self, index: usize, entries: Vec<Entry>) -> Result<(), StateError> {
        let chunk = &self.chunks[index];
        if entries.len() != chunk.count {
            return Err(StateError::ChunkCount {
                chunk: chunk.href.clone(),
                found: entries.len(),
                expected: chunk.count,
            });
        }
        for e in &entries {
            if self.chunk_for(&e.package.location_href) != Some(index) {
                return Err(StateError::ForeignPackage {
                    chunk: self.chunks[index].href.clone(),
                    href: e.package.location_href.clone(),
                });
            }
        }
        for e in entries {
            self.packages.insert(e.package.location_href.clone(), e);
        }
        self.loaded[index] = true;
        Ok(())
    }

    /// Loaded packages in createrepo_c order: by base name, then by directory (byte-wise).
    pub fn ordered_packages(&self) -> Vec<&Package> {
        let mut v: Vec<&Package> = self.packages.values().map(|e| &*e.package).collect();
        v.sort_by(|a, b| location_cmp(&a.location_href, &b.location_href));
        v
    }
}

/// The content of a chunk file: its entries in createrepo_c order.
#[derive(Debug, Serialize, Deserialize)]
struct ChunkFile {
    format: u32,
    entries: Vec<Entry>,
}

/// Encode a chunk file (gzip JSON).
pub fn encode_chunk(entries: &[&Entry]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Out<'a> {
        format: u32,
        entries: &'a [&'a Entry],
    }
    gzip_json(&Out {
        format: STATE_FORMAT,
        entries,
    })
}

/// Decode a chunk file.
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<Entry>, StateError> {
    let f: ChunkFile = gunzip_json(bytes)?;
    if f.format > STATE_FORMAT {
        return Err(StateError::NewerChunkFormat {
            found: f.format,
            supported: STATE_FORMAT,
        });
    }
    Ok(f.entries)
}

fn gzip_json<T: Serialize>(value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).expect("state serialises");
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::new(6),
    );
    enc.write_all(&json).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

fn gunzip_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StateError> {
    let mut json = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(StateError::Gzip)?;
    serde_json::from_slice(&json).map_err(StateError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(href: &str) -> Package {
        Package {
            name: href.into(),
            location_href: href.into(),
            ..Package::default()
        }
    }

    fn entry(href: &str) -> Entry {
        Entry {
            etag: Some(format!("\"{href}\"")),
            package: Arc::new(pkg(href)),
        }
    }

    fn chunk(first: &str, count: usize) -> ChunkRef {
        ChunkRef {
            href: format!("repodata/{first}-{CHUNK_FILE}"),
            count,
            first: first.into(),
            members: None,
        }
    }

    #[test]
    fn round_trip() {
        let mut s = State {
            generation: 7,
            chunks: vec![chunk("a.rpm", 1), chunk("c.rpm", 2)],
            ..State::default()
        };
        s.chunks[1].members = Some(Members {
            primary: Span {
                offset: 1,
                size: 2,
                open_size: 3,
            },
            filelists: Span {
                offset: 4,
                size: 5,
                open_size: 6,
            },
            other: Span {
                offset: 7,
                size: 8,
                open_size: 9,
            },
        });
        s.rejected.insert(
            "b.rpm".into(),
            Rejected {
                etag: "x".into(),
                reason: "bad lead".into(),
                since: 5,
            },
        );
        s.garbage.push(Garbage {
            href: "repodata/x-primary.xml.gz".into(),
            since: 3,
        });
        let back = State::decode(&s.encode()).unwrap();
        s.loaded = vec![false, false];
        assert_eq!(back, s);
        assert_eq!(back.package_count(), 3);
        assert!(!back.complete());
    }

    #[test]
    fn chunks_load_and_check_membership() {
        let mut s = State {
            chunks: vec![chunk("b.rpm", 2), chunk("d.rpm", 1)],
            loaded: vec![false, false],
            ..State::default()
        };
        assert_eq!(s.chunk_for("a.rpm"), Some(0), "before the first chunk");
        assert_eq!(s.chunk_for("b.rpm"), Some(0));
        assert_eq!(s.chunk_for("c.rpm"), Some(0));
        assert_eq!(s.chunk_for("d.rpm"), Some(1));
        assert_eq!(s.chunk_for("x/a.rpm"), Some(0), "base name first");
        let file = encode_chunk(&[&entry("b.rpm"), &entry("c.rpm")]);
        let entries = decode_chunk(&file).unwrap();
        // Wrong chunk, wrong count: refused.
        assert!(s.add_chunk(1, entries.clone()).is_err());
        assert!(s.add_chunk(0, entries[..1].to_vec()).is_err());
        s.add_chunk(0, entries).unwrap();
        assert_eq!(s.package_count(), 3);
        assert!(s.packages.contains_key("c.rpm"));
        assert!(!s.complete());
    }

    #[test]
    fn reads_format_1() {
        let v1 = serde_json::json!({
            "format": 1,
            "generation": 4,
            "packages": { "a.rpm": entry("a.rpm") },
            "rejected": {},
            "garbage": [],
        });
        let bytes = gzip_json(&v1);
        let s = State::decode(&bytes).unwrap();
        assert_eq!(s.generation, 4);
        assert!(s.complete());
        assert_eq!(s.package_count(), 1);
        assert_eq!(s.packages["a.rpm"], entry("a.rpm"));
    }

    #[test]
    fn refuses_garbage_and_newer_formats() {
        assert!(State::decode(b"nope").is_err());
        let s = State {
            format: STATE_FORMAT + 1,
            ..State::default()
        };
        let err = State::decode(&s.encode()).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    /// Each refusal is its own variant, keeps the message it had as a string, and carries the
    /// decoder's error as its source where there is one.
    #[test]
    fn refusals_say_what_is_wrong() {
        use std::error::Error as _;
        let state = |v: serde_json::Value| State::decode(&gzip_json(&v)).unwrap_err();
        let chunk_file = |v: serde_json::Value| decode_chunk(&gzip_json(&v)).unwrap_err();
        let newer = STATE_FORMAT + 1;
        let format_1_chunks =
            serde_json::json!({"generation": 1, "format": 1, "chunks": [chunk("a.rpm", 1)]});
        let format_2_packages = serde_json::json!(
            {"generation": 1, "format": 2, "packages": {"a.rpm": entry("a.rpm")}}
        );
        let disordered = serde_json::json!(
            {"generation": 1, "format": 2, "chunks": [chunk("b.rpm", 1), chunk("a.rpm", 1)]}
        );
        let understands = format!("is newer than this engine understands ({STATE_FORMAT})");
        let cases: Vec<(StateError, String, bool)> = vec![
            (
                State::decode(b"nope").unwrap_err(),
                "state file: not gzip: ".into(),
                true,
            ),
            (
                State::decode(&gzip_json(&"[")).unwrap_err(),
                "state file: bad json: ".into(),
                true,
            ),
            (
                state(serde_json::json!({"format": newer, "generation": 1})),
                format!("state file: format {newer} {understands}"),
                false,
            ),
            (
                chunk_file(serde_json::json!({"format": newer, "entries": []})),
                format!("state file: chunk format {newer} {understands}"),
                false,
            ),
            (
                state(format_1_chunks),
                "state file: format 1 with chunks".into(),
                false,
            ),
            (
                state(format_2_packages),
                "state file: format 2 with inline packages".into(),
                false,
            ),
            (
                state(disordered),
                r#"state file: chunks out of order at "b.rpm", "a.rpm""#.into(),
                false,
            ),
        ];
        for (err, message, has_source) in &cases {
            assert!(
                err.to_string().starts_with(message.as_str()),
                "{err} / {message}"
            );
            assert_eq!(err.source().is_some(), *has_source, "{err}");
        }
        assert!(matches!(cases[0].0, StateError::Gzip(_)));
        assert!(matches!(cases[1].0, StateError::Json(_)));
        assert!(matches!(
            cases[2].0,
            StateError::NewerFormat { found, supported } if found == newer && supported == STATE_FORMAT
        ));
        assert!(matches!(cases[3].0, StateError::NewerChunkFormat { found, .. } if found == newer));
        assert!(matches!(cases[4].0, StateError::ChunksInFormat1));
        assert!(matches!(cases[5].0, StateError::PackagesInFormat2));
        assert!(matches!(
            &cases[6].0,
            StateError::ChunksOutOfOrder { first, second } if first == "b.rpm" && second == "a.rpm"
        ));

        let mut s = State {
            chunks: vec![chunk("b.rpm", 2), chunk("d.rpm", 1)],
            loaded: vec![false, false],
            ..State::default()
        };
        let err = s.add_chunk(0, vec![entry("b.rpm")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "state file: repodata/b.rpm-rpmbucket-chunk.json.gz: 1 packages, the index says 2"
        );
        assert!(matches!(
            err,
            StateError::ChunkCount {
                found: 1,
                expected: 2,
                ..
            }
        ));
        let err = s.add_chunk(1, vec![entry("b.rpm")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "state file: repodata/d.rpm-rpmbucket-chunk.json.gz: b.rpm does not belong to this chunk"
        );
        assert!(matches!(err, StateError::ForeignPackage { href, .. } if href == "b.rpm"));
    }

    #[test]
    fn order_is_basename_then_dir() {
        let mut s = State::default();
        for h in ["b/a.rpm", "a/b.rpm", "a/a.rpm", "c.rpm"] {
            s.packages.insert(
                h.into(),
                Entry {
                    etag: None,
                    package: Arc::new(pkg(h)),
                },
            );
        }
        let order: Vec<&str> = s
            .ordered_packages()
            .iter()
            .map(|p| p.location_href.as_str())
            .collect();
        assert_eq!(order, ["a/a.rpm", "b/a.rpm", "a/b.rpm", "c.rpm"]);
    }
}
