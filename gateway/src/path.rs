//! Request path → object key validation.
//!
//! URLs mirror keys: `PUT /el9/x86_64/pkg.rpm` writes the key `el9/x86_64/pkg.rpm`. The raw
//! (still percent-encoded) path is split on `/` first and each segment decoded once, on its
//! own, so an encoded separator (`%2f`) can never turn into structure. The decoded key is then
//! checked by the engine's one key rule ([`rpmbucket_engine::store::validate_key`], the same
//! function the stores and the indexer apply: dot segments, backslashes, control and Unicode
//! format characters, length) and, for packages, [`rpmbucket_engine::layout::is_package_key`].
//! The gateway adds one rule of its own: no hidden names (a segment starting with `.`). Every
//! rejection carries a one-line reason that the gateway returns with `400`.
//!
//! `curl -T pkg.rpm http://host/el9/x86_64/` appends the local file name itself (the request
//! line says `/el9/x86_64/pkg.rpm`), so the server never has to guess a name; a PUT that still
//! ends in `/` has no name and is refused.

use rpmbucket_repodata::extra::ExtraKind;
use std::fmt;

use percent_encoding::percent_decode_str;

/// Why a path was refused (the `Display` text is the one-line reason sent to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathError {}

fn err(reason: impl Into<String>) -> PathError {
    PathError(reason.into())
}

/// A validated package key: `dir` is the directory part (ends with `/`, or empty for the root),
/// `name` the file name, `key == dir + name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagePath {
    /// The whole object key, valid for the store.
    pub key: String,
    /// Directory part, ending with `/`, or empty for the root.
    pub dir: String,
    /// File name.
    pub name: String,
}

/// Split a raw request path (with or without the leading `/`) into decoded, validated segments.
/// A trailing `/` yields a final empty segment (a directory URL); empty segments elsewhere are
/// refused.
pub fn segments(raw: &str) -> Result<Vec<String>, PathError> {
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    if raw.starts_with('/') {
        return Err(err("absolute path: the key must not start with '/'"));
    }
    if raw.is_empty() {
        return Ok(vec![String::new()]);
    }
    let parts: Vec<&str> = raw.split('/').collect();
    let last = parts.len() - 1;
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            if i == last {
                out.push(String::new());
                continue;
            }
            return Err(err("empty path segment ('//')"));
        }
        let decoded = percent_decode_str(part)
            .decode_utf8()
            .map_err(|_| err("path is not valid UTF-8 after percent-decoding"))?;
        if decoded.contains('/') {
            return Err(err("encoded '/' (%2f) in a path segment"));
        }
        out.push(decoded.into_owned());
    }
    let key = out
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("/");
    if !key.is_empty() {
        if let Err(rpmbucket_engine::store::Error::InvalidKey { reason, .. }) =
            rpmbucket_engine::store::validate_key(&key)
        {
            return Err(err(format!("invalid key: {reason}")));
        }
    }
    if out.iter().any(|s| s.starts_with('.')) {
        return Err(err("hidden name (starts with '.')"));
    }
    Ok(out)
}

/// Validate the path of a package write (PUT, DELETE, presign, status): an `.rpm` file name
/// or an extra-metadata source (`updateinfo.xml`, `comps.xml`, `modules.yaml`), not under
/// `repodata/`, no traversal.
pub fn package_path(raw: &str) -> Result<PackagePath, PathError> {
    let segs = segments(raw)?;
    let (name, dirs) = segs.split_last().expect("segments is never empty");
    if name.is_empty() {
        return Err(err(
            "no file name: PUT to a directory URL needs the name (curl -T FILE URL/ appends it)",
        ));
    }
    if dirs.iter().any(|d| d == "repodata") {
        return Err(err("repodata/ is written by the indexer only"));
    }
    let rpm = name.ends_with(".rpm") && name.len() > ".rpm".len();
    if !rpm && ExtraKind::from_source_name(name).is_none() {
        return Err(err(format!(
            "not an RPM package name (must end in .rpm) nor extra metadata (updateinfo.xml, comps.xml, modules.yaml): {name}"
        )));
    }
    let mut dir = String::new();
    for d in dirs {
        dir.push_str(d);
        dir.push('/');
    }
    let key = format!("{dir}{name}");
    if rpm && !rpmbucket_engine::layout::is_package_key(&key) {
        return Err(err("not a package key"));
    }
    if !rpm && !rpmbucket_engine::layout::is_extra_key(&key) {
        return Err(err("not an extra-metadata key"));
    }
    Ok(PackagePath {
        key: format!("{dir}{name}"),
        dir,
        name: name.clone(),
    })
}

/// Validate the path of a `.repo` file request: returns (repository directory, repo id).
pub fn repo_file_path(raw: &str) -> Result<(String, String), PathError> {
    let segs = segments(raw)?;
    let (name, dirs) = segs.split_last().expect("segments is never empty");
    let id = name
        .strip_suffix(".repo")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("not a .repo file name"))?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(err(
            "repo id may only contain letters, digits and - _ . : (dnf's rule)",
        ));
    }
    if dirs.iter().any(|d| d == "repodata") {
        return Err(err("a repository cannot live under repodata/"));
    }
    let mut dir = String::new();
    for d in dirs {
        dir.push_str(d);
        dir.push('/');
    }
    Ok((dir, id.to_string()))
}

/// Percent-encode a key for use in a URL path (segments kept, everything else but unreserved
/// characters encoded).
pub fn encode_key(key: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(key, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_package_keys() {
        let p = package_path("/el9/x86_64/pkg-1.0-1.x86_64.rpm").unwrap();
        assert_eq!(p.key, "el9/x86_64/pkg-1.0-1.x86_64.rpm");
        assert_eq!(p.dir, "el9/x86_64/");
        assert_eq!(p.name, "pkg-1.0-1.x86_64.rpm");
        let p = package_path("/pkg.rpm").unwrap();
        assert_eq!((p.dir.as_str(), p.key.as_str()), ("", "pkg.rpm"));
        let p = package_path("/a/my%20pkg%2B1.0.rpm").unwrap();
        assert_eq!(p.key, "a/my pkg+1.0.rpm");
    }

    macro_rules! refused {
        ($($name:ident: $path:expr => $reason:expr;)*) => {$(
            #[test]
            fn $name() {
                let e = package_path($path).unwrap_err();
                assert!(e.0.contains($reason), "{:?} gave {:?}", $path, e.0);
            }
        )*};
    }

    refused! {
        dotdot: "/el9/../etc/pkg.rpm" => "traversal";
        dot: "/el9/./pkg.rpm" => "traversal";
        encoded_dotdot: "/el9/%2e%2e/pkg.rpm" => "traversal";
        encoded_dotdot_upper: "/el9/%2E%2E/pkg.rpm" => "traversal";
        encoded_slash: "/el9%2f..%2fetc/pkg.rpm" => "%2f";
        backslash: "/el9/..\\pkg.rpm" => "backslash";
        encoded_backslash: "/el9/%5c/pkg.rpm" => "backslash";
        absolute: "//etc/pkg.rpm" => "absolute";
        empty_segment: "/el9//pkg.rpm" => "empty path segment";
        control: "/el9/a%0ab.rpm" => "control character";
        nul: "/el9/a%00b.rpm" => "control character";
        not_rpm: "/el9/pkg.tar.gz" => "not an RPM";
        bare_rpm: "/el9/.rpm" => "hidden";
        only_ext: "/el9/x/.rpm" => "hidden";
        repodata: "/el9/repodata/pkg.rpm" => "repodata/";
        directory: "/el9/x86_64/" => "no file name";
        bad_utf8: "/el9/%ff.rpm" => "UTF-8";
        hidden: "/.rpmbucket/x.rpm" => "hidden";
        bidi_override: "/el9/evil%E2%80%AEmpr.exe.rpm" => "Unicode format character";
        zero_width: "/el9/a%E2%80%8Bb.rpm" => "Unicode format character";
        too_long: &format!("/el9/{}.rpm", "a".repeat(2000)) => "longer than 1024 bytes";
        reserved: "/el9/.rpmbucket-lock/x.rpm" => "reserved name";
    }

    #[test]
    fn repo_files() {
        assert_eq!(
            repo_file_path("/el9/x86_64/rpmbucket.repo").unwrap(),
            ("el9/x86_64/".to_string(), "rpmbucket".to_string())
        );
        assert!(repo_file_path("/el9/x86_64/a b.repo").is_err());
        assert!(repo_file_path("/el9/.repo").is_err());
        assert!(repo_file_path("/el9/repodata/x.repo").is_err());
    }

    #[test]
    fn encodes_keys() {
        assert_eq!(encode_key("a/my pkg+1.rpm"), "a/my%20pkg%2B1.rpm");
    }
}
