//! `repodata/rpmbucket-rejected.json`: the keys a repository does not publish, and why. The
//! engine writes it after each publish that changes the set; `rpmbucket reconcile --strict`
//! and operators read it. This is its one definition, for both sides.

use serde::{Deserialize, Serialize};

use crate::state::State;

/// Per-repository list of rejected keys (machine-readable, rewritten after each publish that
/// changes it), in the repository's `repodata/`.
pub const REJECTED_FILE: &str = "rpmbucket-rejected.json";

/// The document in [`REJECTED_FILE`].
///
/// Fields are declared in the order they are written (alphabetical, as the file has always
/// been written), so the bytes stay what readers of earlier versions saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RejectedList {
    /// The rejected keys, in key order.
    pub rejected: Vec<RejectedKey>,
    /// The `repomd.xml` revision this list belongs to.
    pub revision: String,
    /// The repository root (ends with `/`, or empty).
    pub root: String,
}

/// One key the repository does not publish (fields in the order they are written).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RejectedKey {
    /// Version token (ETag) of the object that was rejected; a new object under the key is
    /// read again.
    pub etag: String,
    /// The full key (root included).
    pub key: String,
    /// Why it was rejected, in words.
    pub reason: String,
    /// When it was first rejected, seconds since the epoch.
    pub since: i64,
}

impl RejectedList {
    /// The list of `state`'s rejected keys for repository `root` at `revision`.
    pub fn of_state(root: &str, revision: &str, state: &State) -> RejectedList {
        RejectedList {
            rejected: state
                .rejected
                .iter()
                .map(|(href, r)| RejectedKey {
                    etag: r.etag.clone(),
                    key: format!("{root}{href}"),
                    reason: r.reason.clone(),
                    since: r.since,
                })
                .collect(),
            revision: revision.to_owned(),
            root: root.to_owned(),
        }
    }

    /// The file's bytes (pretty-printed JSON).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a RejectedList always serialises")
    }

    /// Parse the file; missing fields are empty.
    pub fn from_json(bytes: &[u8]) -> Result<RejectedList, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Rejected;

    #[test]
    fn written_as_before_and_read_back() {
        let mut state = State::default();
        state.rejected.insert(
            "bad.rpm".into(),
            Rejected {
                etag: "e1".into(),
                reason: "not an rpm".into(),
                since: 7,
            },
        );
        let list = RejectedList::of_state("el9/", "42", &state);
        let bytes = list.to_json();
        // The layout the engine wrote before this type existed (serde_json's json! map: keys
        // in alphabetical order; items in field order).
        let items = vec![serde_json::json!({
            "key": "el9/bad.rpm", "etag": "e1", "reason": "not an rpm", "since": 7
        })];
        let old = serde_json::json!({ "root": "el9/", "revision": "42", "rejected": items });
        let old = serde_json::to_vec_pretty(&old).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            String::from_utf8(old).unwrap()
        );
        assert_eq!(RejectedList::from_json(&bytes).unwrap(), list);
        assert_eq!(list.rejected[0].key, "el9/bad.rpm");
    }

    #[test]
    fn missing_fields_are_empty_and_garbage_is_an_error() {
        assert_eq!(
            RejectedList::from_json(b"{}").unwrap(),
            RejectedList::default()
        );
        let one = RejectedList::from_json(br#"{"rejected":[{"key":"k"}]}"#).unwrap();
        assert_eq!(one.rejected[0].key, "k");
        assert_eq!(one.rejected[0].reason, "");
        assert!(RejectedList::from_json(b"not json").is_err());
    }
}
