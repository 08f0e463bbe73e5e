//! Extra metadata a repository can carry next to its packages: errata (`updateinfo.xml`), comps
//! groups (`comps.xml`) and modules (`modules.yaml`). Each source file is validated (well-formed,
//! with the fields dnf and zypper need) and turned into the files and repomd records that
//! `modifyrepo_c` writes for it:
//!
//! | source | repomd records | files |
//! |---|---|---|
//! | `updateinfo.xml` | `updateinfo` | `updateinfo.xml.gz` |
//! | `comps.xml` | `group` (stored as is) and `group_gz` | `comps.xml`, `comps.xml.gz` |
//! | `modules.yaml` | `modules` | `modules.yaml.gz` |
//!
//! (`group` + `group_gz` is what `createrepo_c -g comps.xml` writes, and what
//! `modifyrepo_c --no-compress --mdtype=group` plus `modifyrepo_c --mdtype=group_gz` give.)
//! The compressed files use the same parameters as the package metadata ([`Compression`]), so
//! with gzip the bytes, checksums and sizes equal modifyrepo_c's.

use std::fmt;
use std::io::Write;

use quick_xml::events::Event;
use quick_xml::Reader;
use sha2::{Digest, Sha256};

use crate::compress::{Compression, CountingEncoder};

/// A kind of extra metadata, named by its source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtraKind {
    /// `updateinfo.xml`: errata (advisories).
    Updateinfo,
    /// `comps.xml`: package groups, categories, environments.
    Comps,
    /// `modules.yaml`: modulemd documents.
    Modules,
}

impl ExtraKind {
    /// Every kind.
    pub const ALL: [ExtraKind; 3] = [ExtraKind::Updateinfo, ExtraKind::Comps, ExtraKind::Modules];

    /// The kind whose source file is called `name` (a base name: `updateinfo.xml`,
    /// `comps.xml`, `modules.yaml`).
    pub fn from_source_name(name: &str) -> Option<ExtraKind> {
        ExtraKind::ALL.into_iter().find(|k| k.source_name() == name)
    }

    /// The source file's base name.
    pub fn source_name(self) -> &'static str {
        match self {
            ExtraKind::Updateinfo => "updateinfo.xml",
            ExtraKind::Comps => "comps.xml",
            ExtraKind::Modules => "modules.yaml",
        }
    }

    /// The repomd record types made from it.
    pub fn record_types(self) -> &'static [&'static str] {
        match self {
            ExtraKind::Updateinfo => &["updateinfo"],
            ExtraKind::Comps => &["group", "group_gz"],
            ExtraKind::Modules => &["modules"],
        }
    }

    /// The kind that writes records of `data_type`.
    pub fn of_record_type(data_type: &str) -> Option<ExtraKind> {
        ExtraKind::ALL
            .into_iter()
            .find(|k| k.record_types().contains(&data_type))
    }
}

impl fmt::Display for ExtraKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source_name())
    }
}

/// Why a source file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExtraError {
    /// The XML source is not well-formed.
    #[error("{kind}: not well-formed XML at byte {position}: {reason}")]
    Xml {
        /// Which source file.
        kind: ExtraKind,
        /// Byte offset in the source where the parser stopped.
        position: u64,
        /// The parser's message.
        reason: String,
    },
    /// The YAML source does not parse.
    #[error("{kind}: not valid YAML: {reason}")]
    Yaml {
        /// Which source file.
        kind: ExtraKind,
        /// The parser's message.
        reason: String,
    },
    /// The source parses but is not UTF-8 or lacks something clients need (a missing `id`,
    /// a package without an arch, a wrong root element, ...).
    #[error("{kind}: {reason}")]
    Content {
        /// Which source file.
        kind: ExtraKind,
        /// What is missing or wrong.
        reason: String,
    },
    /// The compressor failed while writing to memory.
    #[error("{kind}: compressing: {source}")]
    Compress {
        /// Which source file.
        kind: ExtraKind,
        /// The compressor's error.
        #[source]
        source: std::io::Error,
    },
}

/// What a valid source file holds (for logs and replies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Which source file was checked.
    pub kind: ExtraKind,
    /// Advisories, groups (plus categories and environments), or modulemd documents.
    pub items: usize,
}

/// One file to store under `repodata/<checksum>-<name>` and its repomd record's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    /// repomd record type (`updateinfo`, `group`, `group_gz`, `modules`).
    pub data_type: String,
    /// Base name without the checksum prefix (`updateinfo.xml.gz`).
    pub name: String,
    /// The file's content as stored (compressed, or as is for `group`).
    pub bytes: Vec<u8>,
    /// Hex sha256 of `bytes`.
    pub checksum: String,
    /// Hex sha256 and size of the uncompressed content (compressed files only).
    pub open: Option<(String, u64)>,
}

/// Check `data` as a source file of `kind`: well-formed, UTF-8, and every item carries the
/// fields clients need (advisory: `id`, packages with name, version, release, arch; group,
/// category, environment: `id` and `name`; modulemd: name, stream, version, context, arch,
/// summary; defaults: module).
pub fn validate(kind: ExtraKind, data: &[u8]) -> Result<Summary, ExtraError> {
    let items = match kind {
        ExtraKind::Updateinfo => validate_updateinfo(data)?,
        ExtraKind::Comps => validate_comps(data)?,
        ExtraKind::Modules => validate_modules(data)?,
    };
    Ok(Summary { kind, items })
}

/// Validate `data` and build its files, compressed with `compression` (gzip is what
/// modifyrepo_c writes by default; `group_gz` is always gzip).
pub fn render(
    kind: ExtraKind,
    data: &[u8],
    compression: Compression,
) -> Result<(Summary, Vec<ExtraFile>), ExtraError> {
    let summary = validate(kind, data)?;
    let compressed = |data_type: &str, compression: Compression| -> Result<ExtraFile, ExtraError> {
        let mut enc = CountingEncoder::new(Vec::with_capacity(data.len() / 4 + 64), compression)
            .map_err(|source| ExtraError::Compress { kind, source })?;
        enc.write_all(data)
            .map_err(|source| ExtraError::Compress { kind, source })?;
        let (bytes, digest) = enc
            .finish()
            .map_err(|source| ExtraError::Compress { kind, source })?;
        let open =
            (compression != Compression::None).then_some((digest.open_checksum, digest.open_size));
        Ok(ExtraFile {
            data_type: data_type.to_string(),
            name: format!("{}{}", kind.source_name(), compression.suffix()),
            bytes,
            checksum: digest.checksum,
            open,
        })
    };
    let files = match kind {
        ExtraKind::Updateinfo => vec![compressed("updateinfo", compression)?],
        ExtraKind::Modules => vec![compressed("modules", compression)?],
        ExtraKind::Comps => vec![
            ExtraFile {
                data_type: "group".into(),
                name: kind.source_name().into(),
                bytes: data.to_vec(),
                checksum: hex::encode(Sha256::digest(data)),
                open: None,
            },
            // `group_gz` says gzip, whatever the other files use.
            compressed("group_gz", Compression::Gz)?,
        ],
    };
    Ok((summary, files))
}

fn content(kind: ExtraKind, reason: impl Into<String>) -> ExtraError {
    ExtraError::Content {
        kind,
        reason: reason.into(),
    }
}

/// A small DOM of the parts of an XML document the checks look at.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parse a whole XML document (well-formedness checked by quick-xml: matching end tags,
/// attribute syntax, known entities, one root element).
fn parse_xml(kind: ExtraKind, data: &[u8]) -> Result<Node, ExtraError> {
    let xml_err = |position: u64, reason: String| ExtraError::Xml {
        kind,
        position,
        reason,
    };
    std::str::from_utf8(data).map_err(|e| content(kind, format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_reader(data);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_err(reader.error_position(), e.to_string()))?;
        let pos = reader.buffer_position();
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(xml_err(pos, "content after the root element".into()));
                }
                let mut node = Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    ..Node::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(|err| xml_err(pos, err.to_string()))?;
                    let v = a
                        .unescape_value()
                        .map_err(|err| xml_err(pos, err.to_string()))?;
                    node.attrs.push((
                        String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                        v.into_owned(),
                    ));
                }
                if matches!(ev, Event::Start(_)) {
                    stack.push(node);
                } else {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| xml_err(pos, "unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| xml_err(pos, e.to_string()))?;
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(xml_err(pos, "text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| xml_err(pos, e.to_string()))?;
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let mut s = String::new();
                crate::repomd::push_ref(&mut s, &r, &|reason| {
                    crate::metadata_error::MetadataError::malformed(kind.source_name(), reason)
                })
                .map_err(|e| xml_err(pos, e.to_string()))?;
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(xml_err(
            data.len() as u64,
            format!("document ends inside <{}>", stack[stack.len() - 1].name),
        ));
    }
    root.ok_or_else(|| xml_err(0, "no root element".into()))
}

fn validate_updateinfo(data: &[u8]) -> Result<usize, ExtraError> {
    let kind = ExtraKind::Updateinfo;
    let root = parse_xml(kind, data)?;
    if root.name != "updates" {
        return Err(content(
            kind,
            format!("root element is <{}>, not <updates>", root.name),
        ));
    }
    let mut n = 0;
    for (i, u) in root.children("update").enumerate() {
        let id = u
            .child_text("id")
            .ok_or_else(|| content(kind, format!("update #{} has no <id>", i + 1)))?;
        for c in u.children("pkglist").flat_map(|p| p.children("collection")) {
            for p in c.children("package") {
                for field in ["name", "version", "release", "arch"] {
                    if p.attr(field).is_none_or(str::is_empty) {
                        return Err(content(
                            kind,
                            format!("update {id}: a <package> lacks the {field} attribute"),
                        ));
                    }
                }
            }
        }
        n += 1;
    }
    Ok(n)
}

fn validate_comps(data: &[u8]) -> Result<usize, ExtraError> {
    let kind = ExtraKind::Comps;
    let root = parse_xml(kind, data)?;
    if root.name != "comps" {
        return Err(content(
            kind,
            format!("root element is <{}>, not <comps>", root.name),
        ));
    }
    let mut n = 0;
    for what in ["group", "category", "environment"] {
        for (i, g) in root.children(what).enumerate() {
            let id = g
                .child_text("id")
                .ok_or_else(|| content(kind, format!("{what} #{} has no <id>", i + 1)))?;
            if g.child_text("name").is_none() {
                return Err(content(kind, format!("{what} {id} has no <name>")));
            }
            for req in g
                .children("packagelist")
                .flat_map(|l| l.children("packagereq"))
            {
                if req.text.trim().is_empty() {
                    return Err(content(kind, format!("{what} {id}: an empty <packagereq>")));
                }
            }
            n += 1;
        }
    }
    Ok(n)
}

fn validate_modules(data: &[u8]) -> Result<usize, ExtraError> {
    use yaml_rust2::{Yaml, YamlLoader};
    let kind = ExtraKind::Modules;
    let text = std::str::from_utf8(data).map_err(|e| content(kind, format!("not UTF-8: {e}")))?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| ExtraError::Yaml {
        kind,
        reason: e.to_string(),
    })?;
    let mut n = 0;
    for (i, doc) in docs.iter().enumerate() {
        let at = |reason: String| content(kind, format!("document #{}: {reason}", i + 1));
        if doc.is_null() {
            continue;
        }
        let document = doc["document"]
            .as_str()
            .ok_or_else(|| at("no `document` key".into()))?;
        if doc["version"].as_i64().is_none() {
            return Err(at("`version` is missing or not a number".into()));
        }
        let data = &doc["data"];
        if data.as_hash().is_none() {
            return Err(at("`data` is missing or not a mapping".into()));
        }
        let required: &[&str] = match document {
            "modulemd" => &["name", "stream", "version", "context", "arch", "summary"],
            "modulemd-defaults" => &["module"],
            "modulemd-obsoletes" => &["module", "stream", "message"],
            "modulemd-translations" => &["module", "stream"],
            other => return Err(at(format!("unknown document type {other:?}"))),
        };
        for field in required {
            let v = &data[*field];
            let present = match v {
                Yaml::String(s) => !s.is_empty(),
                Yaml::Integer(_) | Yaml::Real(_) => true,
                _ => false,
            };
            if !present {
                return Err(at(format!("{document} lacks data.{field}")));
            }
        }
        n += 1;
    }
    if n == 0 {
        return Err(content(kind, "no modulemd document"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATEINFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="a@b" status="final" type="security" version="1">
    <id>FX-1</id>
    <title>t &amp; u</title>
    <pkglist><collection short="x"><name>x</name>
      <package name="fx" version="1" release="1" epoch="0" arch="noarch"><filename>fx.rpm</filename></package>
    </collection></pkglist>
  </update>
  <update type="bugfix"><id>FX-2</id></update>
</updates>
"#;

    const COMPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group><id>g</id><name>G</name><packagelist><packagereq>fx</packagereq></packagelist></group>
  <category><id>c</id><name>C</name></category>
</comps>
"#;

    const MODULES: &str = "---\ndocument: modulemd\nversion: 2\ndata:\n  name: fx\n  stream: \"1\"\n  version: 20260101\n  context: abcd\n  arch: noarch\n  summary: FX\n  description: d\n  license: {module: [MIT]}\n...\n---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: fx\n  stream: \"1\"\n...\n";

    #[test]
    fn names() {
        assert_eq!(
            ExtraKind::from_source_name("comps.xml"),
            Some(ExtraKind::Comps)
        );
        assert_eq!(ExtraKind::from_source_name("comps.xml.gz"), None);
        assert_eq!(
            ExtraKind::of_record_type("group_gz"),
            Some(ExtraKind::Comps)
        );
        assert_eq!(ExtraKind::of_record_type("primary"), None);
    }

    #[test]
    fn valid_sources() {
        assert_eq!(
            validate(ExtraKind::Updateinfo, UPDATEINFO.as_bytes())
                .unwrap()
                .items,
            2
        );
        assert_eq!(
            validate(ExtraKind::Comps, COMPS.as_bytes()).unwrap().items,
            2
        );
        assert_eq!(
            validate(ExtraKind::Modules, MODULES.as_bytes())
                .unwrap()
                .items,
            2
        );
    }

    #[test]
    fn refusals_say_why() {
        let cases: [(ExtraKind, String, &str); 9] = [
            (
                ExtraKind::Updateinfo,
                "<updates><update>".into(),
                "ends inside",
            ),
            (
                ExtraKind::Updateinfo,
                "<updates></update>".into(),
                "well-formed",
            ),
            (ExtraKind::Updateinfo, "<other/>".into(), "not <updates>"),
            (
                ExtraKind::Updateinfo,
                UPDATEINFO.replace("<id>FX-2</id>", ""),
                "update #2 has no <id>",
            ),
            (
                ExtraKind::Updateinfo,
                UPDATEINFO.replace("release=\"1\" ", ""),
                "update FX-1: a <package> lacks the release attribute",
            ),
            (
                ExtraKind::Comps,
                COMPS.replace("<name>G</name>", ""),
                "group g has no <name>",
            ),
            (ExtraKind::Modules, "a: [b".into(), "not valid YAML"),
            (
                ExtraKind::Modules,
                MODULES.replace("  context: abcd\n", ""),
                "document #1: modulemd lacks data.context",
            ),
            (
                ExtraKind::Modules,
                "---\n...\n".into(),
                "no modulemd document",
            ),
        ];
        for (kind, src, want) in cases {
            let e = validate(kind, src.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{kind} {src:?}: {e}");
        }
    }

    #[test]
    fn files_and_records() {
        let (_, files) = render(ExtraKind::Comps, COMPS.as_bytes(), Compression::Gz).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].data_type, "group");
        assert_eq!(files[0].bytes, COMPS.as_bytes());
        assert_eq!(files[0].open, None);
        assert_eq!(files[1].data_type, "group_gz");
        assert_eq!(files[1].name, "comps.xml.gz");
        let (open_sum, open_size) = files[1].open.clone().unwrap();
        assert_eq!(open_sum, files[0].checksum);
        assert_eq!(open_size, COMPS.len() as u64);
        assert_eq!(
            files[1].checksum,
            hex::encode(Sha256::digest(&files[1].bytes))
        );
        let back = crate::compress::gunzip_member(&files[1].bytes, 0).unwrap();
        assert_eq!(back, COMPS.as_bytes());

        let (_, files) = render(ExtraKind::Modules, MODULES.as_bytes(), Compression::Zstd).unwrap();
        assert_eq!(files[0].name, "modules.yaml.zst");
        assert!(render(ExtraKind::Modules, b"x: [", Compression::Gz).is_err());
    }
}
