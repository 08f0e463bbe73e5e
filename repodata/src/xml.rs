//! primary.xml, filelists.xml and other.xml in createrepo_c's exact byte format
//! (`docs/REPODATA-SPEC.md` §1, §3.5, §4, §5, §7.2).
//!
//! createrepo_c serialises each `<package>` with libxml2's `xmlNodeDump` (format on, level 0) and
//! appends `\n`; files are the header line, the root start tag, the chunks in package order and a
//! footer without a trailing newline. The escaping is libxml2 2.9.14's (the Debian 12 build used as
//! oracle): in text `&`, `<`, `>` and CR are escaped; in attribute values additionally `"`, TAB
//! and LF, and every non-ASCII character becomes a `&#xHEX;` reference. The writer is hand-written
//! rather than built on quick-xml because quick-xml's escaping differs from libxml2's in exactly
//! these details; the output is plain well-formed XML either way.

use std::fmt::Write as _;

use crate::package::{is_primary_file, Dependency, FileKind, Package};

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// primary.xml up to and including the root start tag, for `n` packages.
pub fn primary_header(n: usize) -> String {
    format!(
        "{XML_DECL}<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{n}\">\n"
    )
}

/// filelists.xml up to and including the root start tag, for `n` packages.
pub fn filelists_header(n: usize) -> String {
    format!("{XML_DECL}<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{n}\">\n")
}

/// other.xml up to and including the root start tag, for `n` packages.
pub fn other_header(n: usize) -> String {
    format!(
        "{XML_DECL}<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{n}\">\n"
    )
}

/// End of primary.xml (no trailing newline, like createrepo_c).
pub const PRIMARY_FOOTER: &str = "</metadata>";
/// End of filelists.xml.
pub const FILELISTS_FOOTER: &str = "</filelists>";
/// End of other.xml.
pub const OTHER_FOOTER: &str = "</otherdata>";

/// Append `s` escaped as libxml2 2.9 escapes text content.
pub fn escape_text(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let rep: &[u8] = match c {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
}

/// Append `s` escaped as libxml2 2.9 escapes attribute values of nodes without a document.
pub fn escape_attr(s: &str, out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        let rep: &str = match ch {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\n' => "&#10;",
            '\r' => "&#13;",
            '\t' => "&#9;",
            c if !c.is_ascii() => {
                out.extend_from_slice(&s.as_bytes()[start..i]);
                let mut r = String::with_capacity(10);
                let _ = write!(r, "&#x{:X};", c as u32);
                out.extend_from_slice(r.as_bytes());
                start = i + c.len_utf8();
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        out.extend_from_slice(rep.as_bytes());
        start = i + ch.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
}

fn indent(level: usize, out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(b' ', level * 2));
}

/// ` name="value"`
fn attr(name: &str, value: &str, out: &mut Vec<u8>) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    escape_attr(value, out);
    out.push(b'"');
}

/// `<name attrs>text</name>\n` at `level`.
fn text_elem(level: usize, name: &str, attrs: &[(&str, &str)], text: &str, out: &mut Vec<u8>) {
    indent(level, out);
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for (k, v) in attrs {
        attr(k, v, out);
    }
    out.push(b'>');
    escape_text(text, out);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">\n");
}

/// `<name attrs/>\n` at `level`.
fn empty_elem(level: usize, name: &str, attrs: &[(&str, &str)], out: &mut Vec<u8>) {
    indent(level, out);
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for (k, v) in attrs {
        attr(k, v, out);
    }
    out.extend_from_slice(b"/>\n");
}

fn open_tag(level: usize, name: &str, attrs: &[(&str, &str)], out: &mut Vec<u8>) {
    indent(level, out);
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for (k, v) in attrs {
        attr(k, v, out);
    }
    out.extend_from_slice(b">\n");
}

fn close_tag(level: usize, name: &str, out: &mut Vec<u8>) {
    indent(level, out);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">\n");
}

fn version_elem(p: &Package, out: &mut Vec<u8>) {
    empty_elem(
        1,
        "version",
        &[
            ("epoch", &p.epoch),
            ("ver", &p.version),
            ("rel", &p.release),
        ],
        out,
    );
}

fn file_type(kind: FileKind) -> Option<&'static str> {
    match kind {
        FileKind::File => None,
        FileKind::Dir => Some("dir"),
        FileKind::Ghost => Some("ghost"),
    }
}

fn files(p: &Package, level: usize, primary_only: bool, out: &mut Vec<u8>) {
    for f in &p.files {
        let path = f.path();
        if primary_only && !is_primary_file(&path) {
            continue;
        }
        match file_type(f.kind) {
            Some(t) => text_elem(level, "file", &[("type", t)], &path, out),
            None => text_elem(level, "file", &[], &path, out),
        }
    }
}

/// createrepo_c `cr_xml_dump_primary_dump_pco`.
fn dep_list(elem: &str, deps: &[Dependency], requires: bool, out: &mut Vec<u8>) {
    if deps.is_empty() {
        return;
    }
    let mut body = Vec::new();
    for d in deps.iter().filter(|d| !d.name.is_empty()) {
        let mut attrs: Vec<(&str, &str)> = vec![("name", &d.name)];
        if let Some(f) = d.flags {
            attrs.push(("flags", f.as_str()));
            for (k, v) in [
                ("epoch", &d.epoch),
                ("ver", &d.version),
                ("rel", &d.release),
            ] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    attrs.push((k, v));
                }
            }
        }
        if requires && d.pre {
            attrs.push(("pre", "1"));
        }
        empty_elem(3, "rpm:entry", &attrs, &mut body);
    }
    if body.is_empty() {
        empty_elem(2, elem, &[], out);
    } else {
        open_tag(2, elem, &[], out);
        out.extend_from_slice(&body);
        close_tag(2, elem, out);
    }
}

/// One `<package>` element of primary.xml followed by `\n`, appended to `out`.
pub fn primary_chunk(p: &Package, out: &mut Vec<u8>) {
    open_tag(0, "package", &[("type", "rpm")], out);
    text_elem(1, "name", &[], &p.name, out);
    text_elem(1, "arch", &[], &p.arch, out);
    version_elem(p, out);
    text_elem(
        1,
        "checksum",
        &[("type", &p.checksum_type), ("pkgid", "YES")],
        &p.pkgid,
        out,
    );
    text_elem(1, "summary", &[], &p.summary, out);
    text_elem(1, "description", &[], &p.description, out);
    text_elem(1, "packager", &[], &p.packager, out);
    text_elem(1, "url", &[], &p.url, out);
    let (tf, tb) = (p.time_file.to_string(), p.time_build.to_string());
    empty_elem(1, "time", &[("file", &tf), ("build", &tb)], out);
    let (sp, si, sa) = (
        p.size_package.to_string(),
        p.size_installed.to_string(),
        p.size_archive.to_string(),
    );
    empty_elem(
        1,
        "size",
        &[("package", &sp), ("installed", &si), ("archive", &sa)],
        out,
    );
    if p.location_base.is_empty() {
        empty_elem(1, "location", &[("href", &p.location_href)], out);
    } else {
        let base = if p.location_base.starts_with('/') {
            format!("file://{}", p.location_base)
        } else {
            p.location_base.clone()
        };
        empty_elem(
            1,
            "location",
            &[("xml:base", &base), ("href", &p.location_href)],
            out,
        );
    }
    open_tag(1, "format", &[], out);
    text_elem(2, "rpm:license", &[], &p.license, out);
    text_elem(2, "rpm:vendor", &[], &p.vendor, out);
    text_elem(2, "rpm:group", &[], &p.group, out);
    text_elem(2, "rpm:buildhost", &[], &p.buildhost, out);
    text_elem(2, "rpm:sourcerpm", &[], &p.sourcerpm, out);
    let (hs, he) = (p.header_start.to_string(), p.header_end.to_string());
    empty_elem(2, "rpm:header-range", &[("start", &hs), ("end", &he)], out);
    dep_list("rpm:provides", &p.provides, false, out);
    dep_list("rpm:requires", &p.requires, true, out);
    dep_list("rpm:conflicts", &p.conflicts, false, out);
    dep_list("rpm:obsoletes", &p.obsoletes, false, out);
    dep_list("rpm:suggests", &p.suggests, false, out);
    dep_list("rpm:enhances", &p.enhances, false, out);
    dep_list("rpm:recommends", &p.recommends, false, out);
    dep_list("rpm:supplements", &p.supplements, false, out);
    files(p, 2, true, out);
    close_tag(1, "format", out);
    close_tag(0, "package", out);
}

fn id_attrs(p: &Package) -> [(&str, &str); 3] {
    [("pkgid", &p.pkgid), ("name", &p.name), ("arch", &p.arch)]
}

/// One `<package>` element of filelists.xml followed by `\n`, appended to `out`.
pub fn filelists_chunk(p: &Package, out: &mut Vec<u8>) {
    open_tag(0, "package", &id_attrs(p), out);
    version_elem(p, out);
    files(p, 1, false, out);
    close_tag(0, "package", out);
}

/// One `<package>` element of other.xml followed by `\n`, appended to `out`.
pub fn other_chunk(p: &Package, out: &mut Vec<u8>) {
    open_tag(0, "package", &id_attrs(p), out);
    version_elem(p, out);
    for c in &p.changelogs {
        let date = c.date.to_string();
        text_elem(
            1,
            "changelog",
            &[("author", &c.author), ("date", &date)],
            &c.text,
            out,
        );
    }
    close_tag(0, "package", out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Changelog, DepFlag, PackageFile};
    use pretty_assertions::assert_eq;

    macro_rules! escapes {
        ($f:ident: $($input:expr => $want:expr),* $(,)?) => {{
            $(
                let mut out = Vec::new();
                $f($input, &mut out);
                assert_eq!(String::from_utf8(out).unwrap(), $want, "input {:?}", $input);
            )*
        }};
    }

    #[test]
    fn text_escaping() {
        escapes! { escape_text:
            "plain" => "plain",
            "a & b <c> \"d\" 'e'" => "a &amp; b &lt;c&gt; \"d\" 'e'",
            "tab\tlf\ncr\r" => "tab\tlf\ncr&#13;",
            "Tomáš ✓ 😀" => "Tomáš ✓ 😀",
            "" => "",
        }
    }

    #[test]
    fn attr_escaping() {
        escapes! { escape_attr:
            "plain" => "plain",
            "a & b <c> \"d\" 'e'" => "a &amp; b &lt;c&gt; &quot;d&quot; 'e'",
            "tab\tlf\ncr\r" => "tab&#9;lf&#10;cr&#13;",
            "Tomáš" => "Tom&#xE1;&#x161;",
            "😀x" => "&#x1F600;x",
            "\u{80}" => "&#x80;",
        }
    }

    fn sample() -> Package {
        Package {
            name: "foo".into(),
            arch: "x86_64".into(),
            epoch: "0".into(),
            version: "1.0".into(),
            release: "1".into(),
            checksum_type: "sha256".into(),
            pkgid: "abc".into(),
            summary: "S & s".into(),
            location_href: "foo-1.0-1.x86_64.rpm".into(),
            header_start: 4504,
            header_end: 9000,
            time_file: 10,
            time_build: 20,
            size_package: 30,
            provides: vec![
                Dependency {
                    name: "foo".into(),
                    flags: Some(DepFlag::Eq),
                    epoch: Some("0".into()),
                    version: Some("1.0".into()),
                    release: Some("1".into()),
                    pre: false,
                },
                Dependency {
                    name: "".into(),
                    ..Default::default()
                },
            ],
            requires: vec![Dependency {
                name: "bar".into(),
                flags: None,
                epoch: Some("0".into()),
                version: Some("9".into()),
                pre: true,
                ..Default::default()
            }],
            obsoletes: vec![Dependency {
                name: "".into(),
                ..Default::default()
            }],
            files: vec![
                PackageFile {
                    dirname: "/etc/".into(),
                    basename: "foo.conf".into(),
                    kind: FileKind::File,
                },
                PackageFile {
                    dirname: "/usr/share/".into(),
                    basename: "foo".into(),
                    kind: FileKind::Dir,
                },
                PackageFile {
                    dirname: "/usr/bin/".into(),
                    basename: "g".into(),
                    kind: FileKind::Ghost,
                },
            ],
            changelogs: vec![Changelog {
                author: "Tomáš <t@x>".into(),
                date: 5,
                text: "- fix".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn primary_chunk_layout() {
        let mut out = Vec::new();
        primary_chunk(&sample(), &mut out);
        let want = r#"<package type="rpm">
  <name>foo</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">abc</checksum>
  <summary>S &amp; s</summary>
  <description></description>
  <packager></packager>
  <url></url>
  <time file="10" build="20"/>
  <size package="30" installed="0" archive="0"/>
  <location href="foo-1.0-1.x86_64.rpm"/>
  <format>
    <rpm:license></rpm:license>
    <rpm:vendor></rpm:vendor>
    <rpm:group></rpm:group>
    <rpm:buildhost></rpm:buildhost>
    <rpm:sourcerpm></rpm:sourcerpm>
    <rpm:header-range start="4504" end="9000"/>
    <rpm:provides>
      <rpm:entry name="foo" flags="EQ" epoch="0" ver="1.0" rel="1"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="bar" pre="1"/>
    </rpm:requires>
    <rpm:obsoletes/>
    <file>/etc/foo.conf</file>
    <file type="ghost">/usr/bin/g</file>
  </format>
</package>
"#;
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn location_base_gets_protocol() {
        let mut p = sample();
        p.location_base = "/srv/repo".into();
        let mut out = Vec::new();
        primary_chunk(&p, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.contains(r#"<location xml:base="file:///srv/repo" href="foo-1.0-1.x86_64.rpm"/>"#),
            "{s}"
        );
        p.location_base = "https://x/".into();
        let mut out = Vec::new();
        primary_chunk(&p, &mut out);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#"xml:base="https://x/" href"#));
    }

    #[test]
    fn filelists_and_other_layout() {
        let mut out = Vec::new();
        filelists_chunk(&sample(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<package pkgid="abc" name="foo" arch="x86_64">
  <version epoch="0" ver="1.0" rel="1"/>
  <file>/etc/foo.conf</file>
  <file type="dir">/usr/share/foo</file>
  <file type="ghost">/usr/bin/g</file>
</package>
"#
        );
        let mut out = Vec::new();
        other_chunk(&sample(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<package pkgid="abc" name="foo" arch="x86_64">
  <version epoch="0" ver="1.0" rel="1"/>
  <changelog author="Tom&#xE1;&#x161; &lt;t@x&gt;" date="5">- fix</changelog>
</package>
"#
        );
    }

    #[test]
    fn framing() {
        assert_eq!(
            primary_header(2),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"2\">\n"
        );
        assert!(filelists_header(0).ends_with(
            "<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"0\">\n"
        ));
        assert!(other_header(1).ends_with(
            "<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"1\">\n"
        ));
        assert!(!PRIMARY_FOOTER.ends_with('\n'));
    }
}
