//! The engine's own published state: one gzip-compressed JSON document per generation, stored
//! content-addressed next to the metadata (`repodata/<sha256>-rpmbucket-state.json.gz`) and
//! referenced from `repomd.xml` as a `<data type="rpmbucket-state">` record. Because the record is
//! part of the `repomd.xml` that is swapped, the metadata clients see and the state the next
//! publish starts from are always the same generation.
//!
//! It holds, per package key (relative to the repository root, i.e. the `location href`), the
//! ETag the record was built from and the record itself, so an update never re-reads unchanged
//! packages; plus rejected keys, and the files of earlier generations awaiting deletion.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use rpmbucket_repodata::Package;
use serde::{Deserialize, Serialize};

/// The repomd record type of the state file.
pub const STATE_TYPE: &str = "rpmbucket-state";
/// Base name of the state file (prefixed with its sha256 when stored).
pub const STATE_FILE: &str = "rpmbucket-state.json.gz";
/// Current format version; readers refuse newer ones.
pub const STATE_FORMAT: u32 = 1;

/// One generation of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// Incremented by each publish.
    pub generation: u64,
    /// Published packages by location href (key relative to the root).
    pub packages: BTreeMap<String, Entry>,
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
}

impl Default for State {
    fn default() -> State {
        State {
            format: STATE_FORMAT,
            generation: 0,
            packages: BTreeMap::new(),
            rejected: BTreeMap::new(),
            garbage: Vec::new(),
            tombstones: Vec::new(),
        }
    }
}

/// A published package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// ETag of the object the record was built from; `None` when the record came from
    /// metadata written by another tool (then the next reindex reads the package again).
    pub etag: Option<String>,
    pub package: Package,
}

/// A key that was not published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub etag: String,
    pub reason: String,
    /// Seconds since the epoch.
    pub since: i64,
}

/// A file name with a time (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Garbage {
    pub href: String,
    pub since: i64,
}

/// Error of [`State::decode`].
#[derive(Debug, thiserror::Error)]
#[error("state file: {0}")]
pub struct StateError(String);

impl State {
    /// Gzip-compressed JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        serde_json::to_writer(&mut enc, self).expect("state serialises");
        enc.flush().expect("writing to a Vec");
        enc.finish().expect("writing to a Vec")
    }

    /// Parse what [`State::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<State, StateError> {
        let mut json = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut json)
            .map_err(|e| StateError(format!("not gzip: {e}")))?;
        let state: State =
            serde_json::from_slice(&json).map_err(|e| StateError(format!("bad json: {e}")))?;
        if state.format > STATE_FORMAT {
            return Err(StateError(format!(
                "format {} is newer than this engine understands ({STATE_FORMAT})",
                state.format
            )));
        }
        Ok(state)
    }

    /// Same packages and rejections (what clients and operators see)?
    pub fn same_content(&self, other: &State) -> bool {
        self.packages == other.packages && self.rejected == other.rejected
    }

    /// Packages in createrepo_c order: by base name, then by directory (byte-wise).
    pub fn ordered_packages(&self) -> Vec<&Package> {
        let mut v: Vec<&Package> = self.packages.values().map(|e| &e.package).collect();
        v.sort_by(|a, b| createrepo_order(&a.location_href, &b.location_href));
        v
    }
}

/// createrepo_c's task order (`task_cmp`): base name, ties broken by the directory.
pub fn createrepo_order(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| match s.rfind('/') {
        Some(i) => (s[i + 1..].to_string(), s[..i].to_string()),
        None => (s.to_string(), String::new()),
    };
    let (ab, ad) = split(a);
    let (bb, bd) = split(b);
    ab.as_bytes()
        .cmp(bb.as_bytes())
        .then_with(|| ad.as_bytes().cmp(bd.as_bytes()))
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

    #[test]
    fn round_trip() {
        let mut s = State {
            generation: 7,
            ..State::default()
        };
        s.packages.insert(
            "a.rpm".into(),
            Entry {
                etag: Some("\"e\"".into()),
                package: pkg("a.rpm"),
            },
        );
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
        assert_eq!(back, s);
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

    #[test]
    fn order_is_basename_then_dir() {
        let mut s = State::default();
        for h in ["b/a.rpm", "a/b.rpm", "a/a.rpm", "c.rpm"] {
            s.packages.insert(
                h.into(),
                Entry {
                    etag: None,
                    package: pkg(h),
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
