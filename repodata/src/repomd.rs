//! `repomd.xml`: writing it in createrepo_c's exact layout and reading it back
//! (`docs/REPODATA-SPEC.md` §6; createrepo_c `src/xml_dump_repomd.c`, `src/repomd.c`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::metadata_error::{MetadataError, MetadataResult};

/// The repository index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repomd {
    /// `<revision>`: createrepo_c uses the Unix time of generation unless `--revision` is given.
    pub revision: String,
    /// `<tags>` content (written only when at least one tag exists).
    pub tags: RepomdTags,
    /// `<data>` records, in the order they are written (see [`Repomd::sort_records`]).
    pub records: Vec<RepomdRecord>,
}

/// `<tags>`: `--content`, `--repo`, `--distro` values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepomdTags {
    /// `<content>` tags (`--content`), in the order given.
    pub content: Vec<String>,
    /// `<repo>` tags (`--repo`), in the order given.
    pub repo: Vec<String>,
    /// `(cpeid, text)`.
    pub distro: Vec<(Option<String>, String)>,
}

impl RepomdTags {
    fn is_empty(&self) -> bool {
        self.content.is_empty() && self.repo.is_empty() && self.distro.is_empty()
    }
}

/// One `<data type="…">` record. Equality compares the fields, not [`RepomdRecord::raw`].
#[derive(Debug, Clone, Eq, Default)]
pub struct RepomdRecord {
    /// `primary`, `filelists`, `other`, `primary_db`, … or any extra type (`group`, …).
    pub data_type: String,
    /// Digest algorithm of `checksum` (and of the open/header checksums), e.g. `sha256`.
    pub checksum_type: String,
    /// Digest of the file as stored.
    pub checksum: String,
    /// Digest of the uncompressed content (compressed files only).
    pub open_checksum: Option<String>,
    /// zchunk header digest (zck records only).
    pub header_checksum: Option<String>,
    /// `repodata/<checksum>-primary.xml.gz`.
    pub location_href: String,
    /// `xml:base` of the location (not set by the createrepo_c CLI).
    pub location_base: Option<String>,
    /// Modification time of the stored file (seconds).
    pub timestamp: i64,
    /// Size of the stored file.
    pub size: u64,
    /// Uncompressed size (compressed files only).
    pub open_size: Option<u64>,
    /// zchunk header size.
    pub header_size: Option<u64>,
    /// `<database_version>`; written for every type ending in `_db` (createrepo_c writes 10).
    pub database_version: Option<u32>,
    /// The record's `<data …>…</data>` element exactly as it appeared in the parsed document.
    /// When set, [`Repomd::to_xml`] writes it verbatim instead of the fields above: how a tool
    /// carries over a record it does not own (one `modifyrepo_c` added, say) byte for byte.
    /// [`Repomd::parse`] sets it on every record; clear it to write the fields.
    pub raw: Option<String>,
}

impl PartialEq for RepomdRecord {
    fn eq(&self, o: &RepomdRecord) -> bool {
        self.data_type == o.data_type
            && self.checksum_type == o.checksum_type
            && self.checksum == o.checksum
            && self.open_checksum == o.open_checksum
            && self.header_checksum == o.header_checksum
            && self.location_href == o.location_href
            && self.location_base == o.location_base
            && self.timestamp == o.timestamp
            && self.size == o.size
            && self.open_size == o.open_size
            && self.header_size == o.header_size
            && self.database_version == o.database_version
    }
}

impl RepomdRecord {
    /// The file name part of `location_href` (`<checksum>-primary.xml.gz`).
    pub fn file_name(&self) -> &str {
        self.location_href
            .rsplit_once('/')
            .map_or(self.location_href.as_str(), |(_, n)| n)
    }
}

/// Is a record of this type derived from the packages (so a tool that rewrites the package
/// metadata must rewrite or drop it)? The primary/filelists/other family in every form
/// createrepo_c writes (XML, sqlite, zchunk, and the `filelists_ext` variants). Every other
/// type (`updateinfo`, `group`, `group_gz`, `modules`, `prestodelta`, `productid`, …) is
/// independent of the package list.
pub fn describes_packages(data_type: &str) -> bool {
    let base = data_type
        .strip_suffix("_db")
        .or_else(|| data_type.strip_suffix("_zck"))
        .unwrap_or(data_type);
    matches!(base, "primary" | "filelists" | "other" | "filelists_ext")
}

fn type_rank(t: &str) -> u8 {
    match t {
        "primary" => 1,
        "filelists" => 2,
        "other" => 3,
        "primary_db" => 4,
        "filelists_db" => 5,
        "other_db" => 6,
        "primary_zck" => 7,
        "filelists_zck" => 8,
        "other_zck" => 9,
        _ => 10,
    }
}

/// createrepo_c `record_cmp`: the nine base types in logical order, then by type, href, base.
pub fn record_cmp(a: &RepomdRecord, b: &RepomdRecord) -> Ordering {
    type_rank(&a.data_type)
        .cmp(&type_rank(&b.data_type))
        .then_with(|| a.data_type.cmp(&b.data_type))
        .then_with(|| a.location_href.cmp(&b.location_href))
        .then_with(|| a.location_base.cmp(&b.location_base))
}

/// Text content escaping of libxml2 for a UTF-8 document: `&`, `<`, `>`, CR.
fn esc_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Attribute escaping of libxml2 for a UTF-8 document (non-ASCII stays raw).
fn esc_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

fn text_el(out: &mut String, indent: &str, tag: &str, attr: Option<(&str, &str)>, text: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(tag);
    if let Some((k, v)) = attr {
        let _ = write!(out, " {k}=\"");
        esc_attr(out, v);
        out.push('"');
    }
    out.push('>');
    esc_text(out, text);
    let _ = writeln!(out, "</{tag}>");
}

impl Repomd {
    /// Sorts the records the way createrepo_c does before writing.
    pub fn sort_records(&mut self) {
        self.records.sort_by(record_cmp);
    }

    /// The record of a type, if present.
    pub fn record(&self, data_type: &str) -> Option<&RepomdRecord> {
        self.records.iter().find(|r| r.data_type == data_type)
    }

    /// Serialises in createrepo_c's layout (records in their current order; call
    /// [`Repomd::sort_records`] first for createrepo_c's order).
    pub fn to_xml(&self) -> String {
        let mut o = String::with_capacity(512 + 700 * self.records.len());
        o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        o.push_str("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n");
        text_el(&mut o, "  ", "revision", None, &self.revision);
        if !self.tags.is_empty() {
            o.push_str("  <tags>\n");
            for t in &self.tags.content {
                text_el(&mut o, "    ", "content", None, t);
            }
            for t in &self.tags.repo {
                text_el(&mut o, "    ", "repo", None, t);
            }
            for (cpeid, t) in &self.tags.distro {
                let attr = cpeid.as_deref().map(|c| ("cpeid", c));
                text_el(&mut o, "    ", "distro", attr, t);
            }
            o.push_str("  </tags>\n");
        }
        for r in &self.records {
            if let Some(raw) = &r.raw {
                o.push_str("  ");
                o.push_str(raw);
                o.push('\n');
                continue;
            }
            o.push_str("  <data type=\"");
            esc_attr(&mut o, &r.data_type);
            o.push_str("\">\n");
            let ct = Some(("type", r.checksum_type.as_str()));
            text_el(&mut o, "    ", "checksum", ct, &r.checksum);
            if let Some(c) = &r.open_checksum {
                text_el(&mut o, "    ", "open-checksum", ct, c);
            }
            if let Some(c) = &r.header_checksum {
                text_el(&mut o, "    ", "header-checksum", ct, c);
            }
            o.push_str("    <location href=\"");
            esc_attr(&mut o, &r.location_href);
            o.push('"');
            if let Some(b) = &r.location_base {
                o.push_str(" xml:base=\"");
                esc_attr(&mut o, b);
                o.push('"');
            }
            o.push_str("/>\n");
            let _ = writeln!(o, "    <timestamp>{}</timestamp>", r.timestamp);
            let _ = writeln!(o, "    <size>{}</size>", r.size);
            if let Some(s) = r.open_size {
                let _ = writeln!(o, "    <open-size>{s}</open-size>");
            }
            if let (Some(_), Some(s)) = (&r.header_checksum, r.header_size) {
                let _ = writeln!(o, "    <header-size>{s}</header-size>");
            }
            if r.data_type.ends_with("_db") {
                let v = r.database_version.unwrap_or(crate::sqlite::DB_VERSION);
                let _ = writeln!(o, "    <database_version>{v}</database_version>");
            }
            o.push_str("  </data>\n");
        }
        o.push_str("</repomd>\n");
        o
    }

    /// Parses a `repomd.xml` (as written by createrepo_c, this module, or other tools that follow
    /// the format). Unknown elements are skipped.
    pub fn parse(xml: &[u8]) -> MetadataResult<Repomd> {
        let bad = |r: String| MetadataError::malformed("repomd.xml", r);
        let mut reader = Reader::from_reader(xml);
        let mut buf = Vec::new();
        let mut path: Vec<Vec<u8>> = Vec::new();
        let mut text = String::new();
        let mut repomd = Repomd::default();
        let mut seen_root = false;
        let mut rec: Option<RepomdRecord> = None;
        let mut distro_cpeid: Option<String> = None;
        // Where the current `<data>` element starts, to keep its exact text.
        let mut data_start = 0usize;
        loop {
            let before = reader.buffer_position() as usize;
            let ev = reader
                .read_event_into(&mut buf)
                .map_err(|e| bad(format!("at byte {}: {e}", reader.error_position())))?;
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(ev, Event::Empty(_));
                    let name = e.name().as_ref().to_vec();
                    text.clear();
                    match (path.len(), name.as_slice()) {
                        (0, b"repomd") => seen_root = true,
                        (0, other) => {
                            return Err(bad(format!(
                                "root element is <{}>, not <repomd>",
                                String::from_utf8_lossy(other)
                            )))
                        }
                        (1, b"data") => {
                            let t = attr(e, b"type", &bad)?
                                .ok_or_else(|| bad("<data> without type".into()))?;
                            data_start = before;
                            rec = Some(RepomdRecord {
                                data_type: t,
                                ..Default::default()
                            });
                        }
                        (2, b"location") if path[1] == b"data" => {
                            if let Some(r) = rec.as_mut() {
                                r.location_href = attr(e, b"href", &bad)?
                                    .ok_or_else(|| bad("<location> without href".into()))?;
                                r.location_base = attr(e, b"xml:base", &bad)?;
                            }
                        }
                        (2, b"checksum") if path[1] == b"data" => {
                            if let Some(r) = rec.as_mut() {
                                r.checksum_type = attr(e, b"type", &bad)?.unwrap_or_default();
                            }
                        }
                        (2, b"distro") if path[1] == b"tags" => {
                            distro_cpeid = attr(e, b"cpeid", &bad)?;
                        }
                        _ => {}
                    }
                    if !empty {
                        path.push(name);
                    } else if path.len() == 1 && name == b"data" {
                        // <data type="x"/> — a record without content
                        if let Some(mut r) = rec.take() {
                            r.raw = Some(raw_text(xml, data_start, &reader, &bad)?);
                            repomd.records.push(r);
                        }
                    }
                }
                Event::Text(t) => {
                    let s = t.decode().map_err(|e| bad(e.to_string()))?;
                    text.push_str(&s);
                }
                Event::CData(t) => {
                    let s = t.decode().map_err(|e| bad(e.to_string()))?;
                    text.push_str(&s);
                }
                Event::GeneralRef(r) => push_ref(&mut text, &r, &bad)?,
                Event::End(_) => {
                    let name = path.pop().ok_or_else(|| bad("unbalanced end tag".into()))?;
                    let parent = path.last().map(Vec::as_slice);
                    let val = std::mem::take(&mut text);
                    match (parent, name.as_slice()) {
                        (Some(b"repomd"), b"revision") => repomd.revision = val,
                        (Some(b"repomd"), b"data") => {
                            if let Some(mut r) = rec.take() {
                                r.raw = Some(raw_text(xml, data_start, &reader, &bad)?);
                                repomd.records.push(r);
                            }
                        }
                        (Some(b"tags"), b"content") => repomd.tags.content.push(val),
                        (Some(b"tags"), b"repo") => repomd.tags.repo.push(val),
                        (Some(b"tags"), b"distro") => {
                            repomd.tags.distro.push((distro_cpeid.take(), val))
                        }
                        (Some(b"data"), field) => {
                            if let Some(r) = rec.as_mut() {
                                let num = |v: &str| {
                                    v.trim().parse::<u64>().map_err(|_| {
                                        bad(format!(
                                            "<{}> is not a number: {v:?}",
                                            String::from_utf8_lossy(field)
                                        ))
                                    })
                                };
                                match field {
                                    b"checksum" => r.checksum = val,
                                    b"open-checksum" => r.open_checksum = Some(val),
                                    b"header-checksum" => r.header_checksum = Some(val),
                                    b"timestamp" => {
                                        r.timestamp = val.trim().parse::<i64>().map_err(|_| {
                                            bad(format!("<timestamp> is not a number: {val:?}"))
                                        })?
                                    }
                                    b"size" => r.size = num(&val)?,
                                    b"open-size" => r.open_size = Some(num(&val)?),
                                    b"header-size" => r.header_size = Some(num(&val)?),
                                    b"database_version" => {
                                        r.database_version = Some(num(&val)? as u32)
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        if !seen_root {
            return Err(bad("no <repomd> element".into()));
        }
        if !path.is_empty() {
            return Err(bad("document ends inside an element".into()));
        }
        for r in &repomd.records {
            if r.location_href.is_empty() || r.checksum.is_empty() {
                return Err(bad(format!(
                    "record {:?} lacks a location or checksum",
                    r.data_type
                )));
            }
        }
        Ok(repomd)
    }
}

/// The text of `xml` from `start` to where `reader` stands (the end of the event just read).
fn raw_text(
    xml: &[u8],
    start: usize,
    reader: &Reader<&[u8]>,
    bad: &dyn Fn(String) -> MetadataError,
) -> MetadataResult<String> {
    let end = reader.buffer_position() as usize;
    let bytes = xml.get(start..end).ok_or_else(|| {
        bad(format!(
            "record text {start}..{end} is outside the document"
        ))
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|e| bad(format!("record is not UTF-8: {e}")))
}

pub(crate) fn attr(
    e: &BytesStart<'_>,
    key: &[u8],
    bad: &dyn Fn(String) -> MetadataError,
) -> MetadataResult<Option<String>> {
    for a in e.attributes() {
        let a = a.map_err(|err| bad(err.to_string()))?;
        if a.key.as_ref() == key {
            let v = a.unescape_value().map_err(|err| bad(err.to_string()))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Appends the character an entity or character reference stands for.
pub(crate) fn push_ref(
    text: &mut String,
    r: &quick_xml::events::BytesRef<'_>,
    bad: &dyn Fn(String) -> MetadataError,
) -> MetadataResult<()> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| bad(e.to_string()))? {
        text.push(c);
        return Ok(());
    }
    let name: Cow<'_, str> = r.decode().map_err(|e| bad(e.to_string()))?;
    let c = match name.as_ref() {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        other => return Err(bad(format!("unknown entity &{other};"))),
    };
    text.push(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn rec(t: &str, compressed: bool) -> RepomdRecord {
        let sum = format!("{:0>64}", t.len());
        RepomdRecord {
            data_type: t.into(),
            checksum_type: "sha256".into(),
            checksum: sum.clone(),
            open_checksum: compressed.then(|| "f".repeat(64)),
            header_checksum: None,
            location_href: format!("repodata/{sum}-{t}.xml.gz"),
            location_base: None,
            timestamp: 1795782921,
            size: 2003,
            open_size: compressed.then_some(8944),
            header_size: None,
            database_version: t.ends_with("_db").then_some(10),
            raw: None,
        }
    }

    #[test]
    fn layout_matches_createrepo() {
        let mut md = Repomd {
            revision: "1795782921".into(),
            tags: RepomdTags::default(),
            records: vec![rec("primary_db", true), rec("primary", true)],
        };
        md.sort_records();
        let z = "0".repeat(63);
        let expected = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1795782921</revision>
  <data type="primary">
    <checksum type="sha256">{z}7</checksum>
    <open-checksum type="sha256">{f}</open-checksum>
    <location href="repodata/{z}7-primary.xml.gz"/>
    <timestamp>1795782921</timestamp>
    <size>2003</size>
    <open-size>8944</open-size>
  </data>
  <data type="primary_db">
    <checksum type="sha256">{y}10</checksum>
    <open-checksum type="sha256">{f}</open-checksum>
    <location href="repodata/{y}10-primary_db.xml.gz"/>
    <timestamp>1795782921</timestamp>
    <size>2003</size>
    <open-size>8944</open-size>
    <database_version>10</database_version>
  </data>
</repomd>
"#,
            f = "f".repeat(64),
            y = "0".repeat(62)
        );
        assert_eq!(md.to_xml(), expected);
    }

    #[test]
    fn package_derived_types() {
        for t in [
            "primary",
            "filelists_db",
            "other_zck",
            "filelists_ext",
            "filelists_ext_db",
        ] {
            assert!(describes_packages(t), "{t}");
        }
        for t in [
            "updateinfo",
            "group",
            "group_gz",
            "modules",
            "prestodelta",
            "primary_x",
        ] {
            assert!(!describes_packages(t), "{t}");
        }
    }

    #[test]
    fn sort_order() {
        let mut md = Repomd::default();
        for t in [
            "updateinfo",
            "other_db",
            "group",
            "other",
            "primary_zck",
            "filelists_db",
            "primary",
            "filelists",
            "primary_db",
        ] {
            md.records.push(rec(t, true));
        }
        md.sort_records();
        let order: Vec<_> = md.records.iter().map(|r| r.data_type.as_str()).collect();
        assert_eq!(
            order,
            [
                "primary",
                "filelists",
                "other",
                "primary_db",
                "filelists_db",
                "other_db",
                "primary_zck",
                "group",
                "updateinfo"
            ]
        );
    }

    #[test]
    fn parse_round_trip_with_tags_and_escapes() {
        let mut md = Repomd {
            revision: "rev <1> & \"x\"".into(),
            tags: RepomdTags {
                content: vec!["binary-x86_64".into()],
                repo: vec!["Fedora".into()],
                distro: vec![
                    (
                        Some("cpe:/o:fedoraproject:fedora:40".into()),
                        "Fedora 40".into(),
                    ),
                    (None, "Příliš".into()),
                ],
            },
            records: vec![rec("primary", true), rec("group", false)],
        };
        md.records[1].location_base = Some("http://mirror/a&b".into());
        md.sort_records();
        let xml = md.to_xml();
        let back = Repomd::parse(xml.as_bytes()).unwrap();
        assert_eq!(back.to_xml(), xml);
        assert_eq!(back, md);
        assert!(back.records.iter().all(|r| r.raw.is_some()));
    }

    #[test]
    fn parses_createrepo_output_with_zck_and_unknown_elements() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <repoid type="sha256">abc</repoid>
  <data type="primary_zck">
    <checksum type="sha256">aa</checksum>
    <open-checksum type="sha256">bb</open-checksum>
    <header-checksum type="sha256">cc</header-checksum>
    <location href="repodata/aa-primary.xml.zck"/>
    <timestamp>1700000001</timestamp>
    <size>10</size>
    <open-size>20</open-size>
    <header-size>5</header-size>
  </data>
</repomd>
"#;
        let md = Repomd::parse(xml).unwrap();
        assert_eq!(md.revision, "1700000000");
        let r = md.record("primary_zck").unwrap();
        assert_eq!(r.header_checksum.as_deref(), Some("cc"));
        assert_eq!(r.header_size, Some(5));
        assert_eq!(r.file_name(), "aa-primary.xml.zck");
    }

    #[test]
    fn foreign_records_are_written_back_byte_for_byte() {
        // A record in another tool's style (attribute order, spacing, an unknown element):
        // parsed, re-sorted among records written from fields, and written back unchanged.
        let foreign = "<data type=\"updateinfo\">\n    <checksum type=\"sha256\">aa</checksum>\n    <open-checksum type=\"sha256\">bb</open-checksum>\n    <location xml:base=\"http://x/\" href=\"repodata/aa-updateinfo.xml.gz\"/>\n    <timestamp>1700000001</timestamp>\n    <size>10</size>\n    <open-size>20</open-size>\n    <extra a='1'>&amp;</extra>\n  </data>";
        let xml = format!(
            "<?xml version=\"1.0\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\">\n  <revision>1</revision>\n  {foreign}\n</repomd>\n"
        );
        let mut md = Repomd::parse(xml.as_bytes()).unwrap();
        assert_eq!(md.records[0].raw.as_deref(), Some(foreign));
        assert_eq!(md.records[0].location_base.as_deref(), Some("http://x/"));
        md.records.push(rec("primary", true));
        md.sort_records();
        let out = md.to_xml();
        assert!(out.contains(&format!("  {foreign}\n</repomd>")), "{out}");
        assert!(out.find("<data type=\"primary\">") < out.find("updateinfo"));
        let again = Repomd::parse(out.as_bytes()).unwrap();
        assert_eq!(again.records[1].raw.as_deref(), Some(foreign));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"not xml at all"[..],
            b"<other/>",
            b"<repomd><data type=\"primary\"><size>x</size></data></repomd>",
            b"<repomd><data type=\"primary\"><checksum>a</checksum></data></repomd>",
            b"<repomd><data><location href=\"a\"/></data></repomd>",
            b"<repomd><revision>1</revision>",
        ] {
            assert!(
                Repomd::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
