//! Which repository an object key belongs to.
//!
//! One bucket holds many repositories (`el9/x86_64/`, `el8/aarch64/`, …). The layout maps a
//! package key to the root of its repository: the directory whose `repodata/` describes it.
//! The rule is written down in the engine's README ("Layout") and tested below.

use std::fmt;

use rpmbucket_repodata::extra::ExtraKind;

/// How a package key is mapped to its repository root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayoutRule {
    /// The directory that holds the `.rpm`, except that a directory named `Packages` (at any
    /// depth below the root, the last one wins) makes its parent the root:
    /// `el9/x86_64/Packages/f/foo.rpm` → `el9/x86_64/`, `el9/x86_64/foo.rpm` → `el9/x86_64/`.
    #[default]
    Auto,
    /// Always the directory that holds the `.rpm`.
    Directory,
    /// The configured prefix itself is the root and every `.rpm` below it, at any depth, belongs
    /// to it (what `createrepo_c PREFIX` does with a directory tree). Needs prefixes.
    Prefix,
}

impl LayoutRule {
    /// Parse the `RPMBUCKET_LAYOUT` value: `auto`, `directory` (or `dir`), `prefix`.
    pub fn parse(s: &str) -> Option<LayoutRule> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" | "default" => Some(LayoutRule::Auto),
            "dir" | "directory" => Some(LayoutRule::Directory),
            "prefix" => Some(LayoutRule::Prefix),
            _ => None,
        }
    }
}

impl fmt::Display for LayoutRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayoutRule::Auto => "auto",
            LayoutRule::Directory => "directory",
            LayoutRule::Prefix => "prefix",
        })
    }
}

/// Prefixes that hold repositories plus the rule that finds a key's repository root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// Normalised prefixes: no leading `/`, ending in `/` (or empty for the whole bucket).
    prefixes: Vec<String>,
    rule: LayoutRule,
}

/// The directory name that holds a repository's metadata.
pub const REPODATA_DIR: &str = "repodata";

impl Layout {
    /// A layout with the default rule. An empty list means "every key of the bucket".
    pub fn new(prefixes: Vec<String>) -> Layout {
        Layout::with_rule(prefixes, LayoutRule::Auto)
    }

    /// A layout with an explicit rule.
    pub fn with_rule(prefixes: Vec<String>, rule: LayoutRule) -> Layout {
        let mut prefixes: Vec<String> = prefixes
            .iter()
            .map(|p| normalise_prefix(p))
            .filter(|p| !p.is_empty())
            .collect();
        prefixes.sort();
        prefixes.dedup();
        Layout { prefixes, rule }
    }

    /// `RPMBUCKET_PREFIXES` (comma-separated, empty or unset = whole bucket) and
    /// `RPMBUCKET_LAYOUT` (`auto`, `directory`, `prefix`; unknown values fall back to `auto`
    /// with a warning).
    pub fn from_env() -> Layout {
        let prefixes = std::env::var("RPMBUCKET_PREFIXES")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let raw = std::env::var("RPMBUCKET_LAYOUT").unwrap_or_default();
        let rule = LayoutRule::parse(&raw).unwrap_or_else(|| {
            tracing::warn!(value = %raw, "unknown RPMBUCKET_LAYOUT, using auto");
            LayoutRule::Auto
        });
        Layout::with_rule(prefixes, rule)
    }

    /// The configured prefixes (normalised).
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// The rule in use.
    pub fn rule(&self) -> LayoutRule {
        self.rule
    }

    /// Repository root (ends with `/`, or `""` for the bucket root) of a package key; `None` for
    /// keys that are not packages of a configured repository: keys with a `repodata` path
    /// component, keys not ending in `.rpm`, keys outside the prefixes, malformed keys.
    pub fn repo_root(&self, key: &str) -> Option<String> {
        if !is_package_key(key) {
            return None;
        }
        let prefix = self.matching_prefix(key)?;
        let dir = match key.rfind('/') {
            Some(i) => &key[..=i],
            None => "",
        };
        let root = match self.rule {
            LayoutRule::Directory => dir.to_string(),
            LayoutRule::Prefix => prefix.to_string(),
            LayoutRule::Auto => {
                // The last `Packages/` component at or below the prefix decides.
                let below = &dir[prefix.len()..];
                let mut root = dir.to_string();
                let mut offset = 0;
                for component in below.split_terminator('/') {
                    if component == "Packages" {
                        root = dir[..prefix.len() + offset].to_string();
                    }
                    offset += component.len() + 1;
                }
                root
            }
        };
        Some(root)
    }

    /// Repository root of an extra-metadata key (`ROOT/updateinfo.xml`, `ROOT/comps.xml`,
    /// `ROOT/modules.yaml`, see [`rpmbucket_repodata::extra`]): the directory that holds the
    /// file, which must be inside the prefixes (with the `Prefix` rule: be one of them). `None`
    /// for any other key.
    pub fn extra_root(&self, key: &str) -> Option<String> {
        let (dir, name) = match key.rfind('/') {
            Some(i) => (&key[..=i], &key[i + 1..]),
            None => ("", key),
        };
        ExtraKind::from_source_name(name)?;
        if key.starts_with('/')
            || dir
                .split_terminator('/')
                .any(|c| c.is_empty() || c == "." || c == ".." || c == REPODATA_DIR)
        {
            return None;
        }
        let prefix = self.matching_prefix(key)?;
        if self.rule == LayoutRule::Prefix && dir != prefix {
            return None;
        }
        Some(dir.to_string())
    }

    /// Repository root of a key the engine publishes: a package ([`Layout::repo_root`]) or an
    /// extra-metadata file ([`Layout::extra_root`]).
    pub fn root_of(&self, key: &str) -> Option<String> {
        self.repo_root(key).or_else(|| self.extra_root(key))
    }

    /// Is `root` a repository root this layout can produce (inside the prefixes)?
    pub fn covers_root(&self, root: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| root.starts_with(p.as_str()))
    }

    fn matching_prefix(&self, key: &str) -> Option<&str> {
        if self.prefixes.is_empty() {
            return Some("");
        }
        // Longest matching prefix, so nested prefixes behave predictably with `Prefix`.
        self.prefixes
            .iter()
            .filter(|p| key.starts_with(p.as_str()))
            .max_by_key(|p| p.len())
            .map(|p| p.as_str())
    }
}

/// `el9/x86_64` → `el9/x86_64/`, `/a//b/` → `a/b/`, `` → ``.
pub fn normalise_prefix(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    if parts.is_empty() {
        String::new()
    } else {
        let mut s = parts.join("/");
        s.push('/');
        s
    }
}

/// Normalise a repository root given by a user (`s3://b/el9` style paths already stripped):
/// same as [`normalise_prefix`].
pub fn normalise_root(root: &str) -> String {
    normalise_prefix(root)
}

/// A key whose file name is an extra-metadata source (`updateinfo.xml`, `comps.xml`,
/// `modules.yaml`); [`Layout::extra_root`] decides whether it belongs to a repository.
pub fn is_extra_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    ExtraKind::from_source_name(name).is_some()
}

/// A key that can be a package: ends in `.rpm` (not just `.rpm`), no empty or `.`/`..`
/// components, not below a `repodata` directory.
pub fn is_package_key(key: &str) -> bool {
    if !key.ends_with(".rpm") || key.starts_with('/') {
        return false;
    }
    let mut components = key.split('/').peekable();
    while let Some(c) = components.next() {
        if c.is_empty() || c == "." || c == ".." {
            return false;
        }
        let last = components.peek().is_none();
        if last {
            return c.len() > ".rpm".len();
        }
        if c == REPODATA_DIR {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! roots {
        ($layout:expr, $($key:expr => $root:expr),* $(,)?) => {
            $(
                assert_eq!(
                    $layout.repo_root($key).as_deref(),
                    $root,
                    "key {:?} with {:?}",
                    $key,
                    $layout
                );
            )*
        };
    }

    #[test]
    fn auto_rule() {
        let l = Layout::new(vec![]);
        roots!(l,
            "foo-1.0-1.noarch.rpm" => Some(""),
            "el9/x86_64/foo-1.0-1.x86_64.rpm" => Some("el9/x86_64/"),
            "el9/x86_64/Packages/foo-1.0-1.x86_64.rpm" => Some("el9/x86_64/"),
            "el9/x86_64/Packages/f/foo-1.0-1.x86_64.rpm" => Some("el9/x86_64/"),
            "Packages/foo.rpm" => Some(""),
            "a/Packages/b/Packages/c/foo.rpm" => Some("a/Packages/b/"),
            "el9/x86_64/my pkg+1.0.rpm" => Some("el9/x86_64/"),
            "el9/x86_64/PackagesX/foo.rpm" => Some("el9/x86_64/PackagesX/"),
        );
    }

    #[test]
    fn ignored_keys() {
        let l = Layout::new(vec![]);
        roots!(l,
            "el9/x86_64/repodata/foo.rpm" => None,
            "el9/x86_64/repodata/repomd.xml" => None,
            "repodata/x.rpm" => None,
            "el9/x86_64/foo.rpm.sig" => None,
            "el9/x86_64/foo.RPM" => None,
            "el9/x86_64/.rpm" => None,
            ".rpm" => None,
            "/abs/foo.rpm" => None,
            "a//foo.rpm" => None,
            "a/../foo.rpm" => None,
            "el9/x86_64/" => None,
            "" => None,
        );
    }

    #[test]
    fn prefixes_filter_keys() {
        let l = Layout::new(vec!["/el9/".into(), "el8".into(), "".into()]);
        assert_eq!(l.prefixes(), ["el8/", "el9/"]);
        roots!(l,
            "el9/x86_64/foo.rpm" => Some("el9/x86_64/"),
            "el8/foo.rpm" => Some("el8/"),
            "el10/foo.rpm" => None,
            "el9x/foo.rpm" => None,
            "foo.rpm" => None,
        );
        assert!(l.covers_root("el9/x86_64/"));
        assert!(!l.covers_root("el10/"));
    }

    #[test]
    fn directory_rule() {
        let l = Layout::with_rule(vec![], LayoutRule::Directory);
        roots!(l,
            "el9/x86_64/Packages/foo.rpm" => Some("el9/x86_64/Packages/"),
            "foo.rpm" => Some(""),
        );
    }

    #[test]
    fn prefix_rule() {
        let l = Layout::with_rule(vec!["el9/x86_64".into(), "el9".into()], LayoutRule::Prefix);
        roots!(l,
            "el9/x86_64/Packages/f/foo.rpm" => Some("el9/x86_64/"),
            "el9/noarch/foo.rpm" => Some("el9/"),
            "el8/foo.rpm" => None,
        );
        let whole = Layout::with_rule(vec![], LayoutRule::Prefix);
        roots!(whole, "a/b/c.rpm" => Some(""));
    }

    #[test]
    fn extra_metadata_keys() {
        let l = Layout::new(vec![]);
        assert_eq!(
            l.extra_root("el9/x86_64/updateinfo.xml").as_deref(),
            Some("el9/x86_64/")
        );
        assert_eq!(l.extra_root("comps.xml").as_deref(), Some(""));
        assert_eq!(l.root_of("el9/modules.yaml").as_deref(), Some("el9/"));
        assert_eq!(l.root_of("el9/a.rpm").as_deref(), Some("el9/"));
        for key in [
            "el9/repodata/updateinfo.xml",
            "el9/updateinfo.xml.gz",
            "el9//comps.xml",
            "/comps.xml",
            "el9/../comps.xml",
            "el9/other.xml",
        ] {
            assert_eq!(l.extra_root(key), None, "{key}");
        }
        let p = Layout::with_rule(vec!["el9".into()], LayoutRule::Prefix);
        assert_eq!(p.extra_root("el9/comps.xml").as_deref(), Some("el9/"));
        assert_eq!(p.extra_root("el9/sub/comps.xml"), None);
        assert_eq!(p.extra_root("el8/comps.xml"), None);
    }

    #[test]
    fn parse_rule() {
        assert_eq!(LayoutRule::parse("Dir"), Some(LayoutRule::Directory));
        assert_eq!(LayoutRule::parse(""), Some(LayoutRule::Auto));
        assert_eq!(LayoutRule::parse("prefix"), Some(LayoutRule::Prefix));
        assert_eq!(LayoutRule::parse("nope"), None);
    }

    #[test]
    fn normalise() {
        assert_eq!(normalise_prefix("/a//b/"), "a/b/");
        assert_eq!(normalise_prefix("a"), "a/");
        assert_eq!(normalise_prefix("/"), "");
    }
}
