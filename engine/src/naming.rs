//! Names of the files a publish writes: `repodata/<sha256>-<name>` (content-addressed, never
//! overwritten with other content), or `repodata/<sha256>-g<generation>-<name>` when the plain
//! name is a recent tombstone (see the garbage rules of the `publish` module).

use std::collections::BTreeSet;

use crate::layout::REPODATA_DIR;

/// The href (relative to the root) of a content-addressed file with `checksum` and base `name`
/// in generation `generation`: the plain name unless it was deleted recently (`tombstones`,
/// hrefs), as an older publisher may still be deleting it.
pub fn content_name(
    checksum: &str,
    name: &str,
    generation: u64,
    tombstones: &BTreeSet<&str>,
) -> String {
    let plain = format!("{REPODATA_DIR}/{checksum}-{name}");
    if tombstones.contains(plain.as_str()) {
        format!("{REPODATA_DIR}/{checksum}-g{generation}-{name}")
    } else {
        plain
    }
}

/// `<64 hex>-…`: a name this engine (or createrepo_c) gives a content-addressed file.
pub fn is_content_addressed(name: &str) -> bool {
    name.len() > 65
        && name.as_bytes()[64] == b'-'
        && name[..64].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Content-Type` a file is served with, by its extension.
pub fn content_type(href: &str) -> &'static str {
    if href.ends_with(".gz") {
        "application/gzip"
    } else if href.ends_with(".zst") {
        "application/zstd"
    } else if href.ends_with(".xz") {
        "application/x-xz"
    } else if href.ends_with(".bz2") {
        "application/x-bzip2"
    } else if href.ends_with(".xml") {
        "application/xml"
    } else if href.ends_with(".sqlite") {
        "application/vnd.sqlite3"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_names() {
        let h = "a".repeat(64);
        assert!(is_content_addressed(&format!("{h}-primary.xml.gz")));
        assert!(is_content_addressed(&format!("{h}-g3-primary.xml.gz")));
        assert!(!is_content_addressed("repomd.xml"));
        assert!(!is_content_addressed(&format!("{}-x", "z".repeat(64))));
        assert!(!is_content_addressed(&format!("{h}-")));
        assert!(!is_content_addressed(&format!("{h}_x")));
    }

    #[test]
    fn names_avoid_tombstones() {
        let h = "b".repeat(64);
        let none = BTreeSet::new();
        assert_eq!(
            content_name(&h, "primary.xml.gz", 7, &none),
            format!("repodata/{h}-primary.xml.gz")
        );
        let plain = format!("repodata/{h}-primary.xml.gz");
        let tomb = BTreeSet::from([plain.as_str()]);
        let name = content_name(&h, "primary.xml.gz", 7, &tomb);
        assert_eq!(name, format!("repodata/{h}-g7-primary.xml.gz"));
        assert!(is_content_addressed(name.rsplit('/').next().unwrap()));
        // Another file's tombstone does not matter.
        assert_eq!(
            content_name(&h, "other.xml.gz", 7, &tomb),
            format!("repodata/{h}-other.xml.gz")
        );
    }

    #[test]
    fn content_types() {
        for (href, t) in [
            ("a.xml.gz", "application/gzip"),
            ("a.xml.zst", "application/zstd"),
            ("a.xml.xz", "application/x-xz"),
            ("a.sqlite.bz2", "application/x-bzip2"),
            ("repomd.xml", "application/xml"),
            ("a.sqlite", "application/vnd.sqlite3"),
            ("a.json", "application/octet-stream"),
        ] {
            assert_eq!(content_type(href), t, "{href}");
        }
    }
}
