//! Reading published primary/filelists/other XML back into [`Package`] records, the way
//! `createrepo_c --update` reuses old metadata.
//!
//! The readers take decompressed streams (see [`crate::compress::Compression::decoder`]). For
//! metadata written by createrepo_c or by this crate, writing the records back out with
//! [`crate::xml`] gives the same bytes. Information the XML does not carry cannot come back:
//! dependency versions whose flags are not a comparison and entries with an empty name are not
//! in the XML, so the sqlite rows of such entries differ from a fresh header read — as with
//! createrepo_c's own `--update`. (An empty version, as in `Requires: foo >= 5:`, is restored:
//! an `epoch` without `ver` means the version was empty.)
//!
//! [`PackageStream`] merges the three files in lockstep (they list packages in the same order);
//! [`read_packages`] merges by `pkgid` and accepts any order.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::compress::Compression;
use crate::metadata_error::{MetadataError, MetadataResult};
use crate::package::{Changelog, DepFlag, Dependency, FileKind, Package, PackageFile};
use crate::repomd::{push_ref, Repomd};

/// Pull parser that reports start tags with attributes and end tags with the text collected
/// since the last start tag.
struct Pull<R: BufRead> {
    reader: Reader<R>,
    buf: Vec<u8>,
    text: String,
    file: &'static str,
    pending_end: Option<Vec<u8>>,
}

/// Attributes of a start tag: (name, unescaped value).
type Attrs = Vec<(Vec<u8>, String)>;

enum Ev {
    Start(Vec<u8>, Attrs),
    End(Vec<u8>, String),
    Eof,
}

impl<R: BufRead> Pull<R> {
    fn new(r: R, file: &'static str) -> Self {
        Pull {
            reader: Reader::from_reader(r),
            buf: Vec::with_capacity(4096),
            text: String::new(),
            file,
            pending_end: None,
        }
    }

    fn bad(&self, reason: impl Into<String>) -> MetadataError {
        MetadataError::malformed(self.file, reason)
    }

    fn attrs(file: &'static str, e: &BytesStart<'_>) -> MetadataResult<Attrs> {
        let mut v = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| MetadataError::malformed(file, err.to_string()))?;
            let val = a
                .unescape_value()
                .map_err(|err| MetadataError::malformed(file, err.to_string()))?;
            v.push((a.key.as_ref().to_vec(), val.into_owned()));
        }
        Ok(v)
    }

    fn next(&mut self) -> MetadataResult<Ev> {
        if let Some(name) = self.pending_end.take() {
            return Ok(Ev::End(name, String::new()));
        }
        loop {
            self.buf.clear();
            let ev = match self.reader.read_event_into(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) => {
                    let pos = self.reader.error_position();
                    return Err(MetadataError::malformed(
                        self.file,
                        format!("at byte {pos}: {e}"),
                    ));
                }
            };
            match ev {
                Event::Start(ref e) => {
                    let name = e.name().as_ref().to_vec();
                    let attrs = Self::attrs(self.file, e)?;
                    self.text.clear();
                    return Ok(Ev::Start(name, attrs));
                }
                Event::Empty(ref e) => {
                    let name = e.name().as_ref().to_vec();
                    let attrs = Self::attrs(self.file, e)?;
                    self.text.clear();
                    self.pending_end = Some(name.clone());
                    return Ok(Ev::Start(name, attrs));
                }
                Event::End(ref e) => {
                    let name = e.name().as_ref().to_vec();
                    return Ok(Ev::End(name, std::mem::take(&mut self.text)));
                }
                Event::Text(ref t) => {
                    let s = t
                        .decode()
                        .map_err(|e| MetadataError::malformed(self.file, e.to_string()))?;
                    self.text.push_str(&s);
                }
                Event::CData(ref t) => {
                    let s = t
                        .decode()
                        .map_err(|e| MetadataError::malformed(self.file, e.to_string()))?;
                    self.text.push_str(&s);
                }
                Event::GeneralRef(ref r) => {
                    let file = self.file;
                    push_ref(&mut self.text, r, &|m| MetadataError::malformed(file, m))?;
                }
                Event::Eof => return Ok(Ev::Eof),
                _ => {}
            }
        }
    }

    /// Skips to the next `<package>` start tag (returning its attributes) or the end of input.
    fn next_package(&mut self) -> MetadataResult<Option<Attrs>> {
        loop {
            match self.next()? {
                Ev::Start(name, attrs) if name == b"package" => return Ok(Some(attrs)),
                Ev::Eof => return Ok(None),
                _ => {}
            }
        }
    }
}

fn get<'a>(attrs: &'a [(Vec<u8>, String)], key: &[u8]) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.as_slice() == key)
        .map(|(_, v)| v.as_str())
}

fn int(pull_file: &'static str, attrs: &[(Vec<u8>, String)], key: &[u8]) -> MetadataResult<i64> {
    match get(attrs, key) {
        None => Ok(0),
        Some(v) => v.trim().parse().map_err(|_| {
            MetadataError::malformed(
                pull_file,
                format!("{}={v:?} is not a number", String::from_utf8_lossy(key)),
            )
        }),
    }
}

fn dep_flag(s: &str) -> Option<DepFlag> {
    Some(match s {
        "LT" => DepFlag::Lt,
        "LE" => DepFlag::Le,
        "EQ" => DepFlag::Eq,
        "GE" => DepFlag::Ge,
        "GT" => DepFlag::Gt,
        _ => return None,
    })
}

fn file_kind(attrs: &[(Vec<u8>, String)]) -> FileKind {
    match get(attrs, b"type") {
        Some("dir") => FileKind::Dir,
        Some("ghost") => FileKind::Ghost,
        _ => FileKind::File,
    }
}

/// Splits a full path into header-style dirname (with trailing `/`) and basename.
fn split_path(path: &str) -> PackageFile {
    let (dirname, basename) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    PackageFile {
        dirname: dirname.to_owned(),
        basename: basename.to_owned(),
        kind: FileKind::File,
    }
}

/// Reads `primary.xml` packages one at a time. `files` holds only the primary files listed
/// there; the full list comes from filelists.xml.
pub struct PrimaryReader<R: BufRead> {
    pull: Pull<R>,
}

impl<R: BufRead> PrimaryReader<R> {
    /// Reads from a decompressed primary.xml stream.
    pub fn new(r: R) -> Self {
        PrimaryReader {
            pull: Pull::new(r, "primary.xml"),
        }
    }

    /// The next package, or `None` at the end.
    pub fn next_package(&mut self) -> MetadataResult<Option<Package>> {
        const F: &str = "primary.xml";
        if self.pull.next_package()?.is_none() {
            return Ok(None);
        }
        let mut p = Package::default();
        let mut list: Option<&'static str> = None;
        loop {
            match self.pull.next()? {
                Ev::Start(name, a) => match name.as_slice() {
                    b"version" => {
                        p.epoch = get(&a, b"epoch").unwrap_or_default().to_owned();
                        p.version = get(&a, b"ver").unwrap_or_default().to_owned();
                        p.release = get(&a, b"rel").unwrap_or_default().to_owned();
                    }
                    b"checksum" => {
                        p.checksum_type = get(&a, b"type").unwrap_or_default().to_owned();
                    }
                    b"time" => {
                        p.time_file = int(F, &a, b"file")?;
                        p.time_build = int(F, &a, b"build")?;
                    }
                    b"size" => {
                        p.size_package = int(F, &a, b"package")?;
                        p.size_installed = int(F, &a, b"installed")?;
                        p.size_archive = int(F, &a, b"archive")?;
                    }
                    b"location" => {
                        p.location_href = get(&a, b"href").unwrap_or_default().to_owned();
                        p.location_base = get(&a, b"xml:base").unwrap_or_default().to_owned();
                    }
                    b"rpm:header-range" => {
                        p.header_start = int(F, &a, b"start")?;
                        p.header_end = int(F, &a, b"end")?;
                    }
                    b"rpm:provides" => list = Some("provides"),
                    b"rpm:requires" => list = Some("requires"),
                    b"rpm:conflicts" => list = Some("conflicts"),
                    b"rpm:obsoletes" => list = Some("obsoletes"),
                    b"rpm:suggests" => list = Some("suggests"),
                    b"rpm:enhances" => list = Some("enhances"),
                    b"rpm:recommends" => list = Some("recommends"),
                    b"rpm:supplements" => list = Some("supplements"),
                    b"rpm:entry" => {
                        let flags = get(&a, b"flags").and_then(dep_flag);
                        let opt = |k: &[u8]| get(&a, k).map(str::to_owned);
                        let d = Dependency {
                            name: get(&a, b"name").unwrap_or_default().to_owned(),
                            flags,
                            epoch: opt(b"epoch"),
                            // createrepo_c splits a non-empty EVR into an epoch (always
                            // set) and a version that may be empty ("5:"); the XML omits an
                            // empty `ver`, the sqlite row has ''.
                            version: opt(b"ver")
                                .or_else(|| get(&a, b"epoch").map(|_| String::new())),
                            release: opt(b"rel"),
                            pre: matches!(get(&a, b"pre"), Some("1") | Some("true")),
                        };
                        let target = match list {
                            Some("provides") => &mut p.provides,
                            Some("requires") => &mut p.requires,
                            Some("conflicts") => &mut p.conflicts,
                            Some("obsoletes") => &mut p.obsoletes,
                            Some("suggests") => &mut p.suggests,
                            Some("enhances") => &mut p.enhances,
                            Some("recommends") => &mut p.recommends,
                            Some("supplements") => &mut p.supplements,
                            _ => {
                                return Err(self.pull.bad("<rpm:entry> outside a dependency list"))
                            }
                        };
                        target.push(d);
                    }
                    b"file" => {
                        let mut f = split_path("");
                        f.kind = file_kind(&a);
                        p.files.push(f);
                    }
                    _ => {}
                },
                Ev::End(name, text) => match name.as_slice() {
                    b"package" => break,
                    b"name" => p.name = text,
                    b"arch" => p.arch = text,
                    b"checksum" => p.pkgid = text,
                    b"summary" => p.summary = text,
                    b"description" => p.description = text,
                    b"packager" => p.packager = text,
                    b"url" => p.url = text,
                    b"rpm:license" => p.license = text,
                    b"rpm:vendor" => p.vendor = text,
                    b"rpm:group" => p.group = text,
                    b"rpm:buildhost" => p.buildhost = text,
                    b"rpm:sourcerpm" => p.sourcerpm = text,
                    b"file" => {
                        let kind = p.files.last().map(|f| f.kind).unwrap_or_default();
                        let mut f = split_path(&text);
                        f.kind = kind;
                        if let Some(last) = p.files.last_mut() {
                            *last = f;
                        }
                    }
                    b"rpm:provides" | b"rpm:requires" | b"rpm:conflicts" | b"rpm:obsoletes"
                    | b"rpm:suggests" | b"rpm:enhances" | b"rpm:recommends"
                    | b"rpm:supplements" => list = None,
                    _ => {}
                },
                Ev::Eof => return Err(self.pull.bad("input ends inside <package>")),
            }
        }
        if p.pkgid.is_empty() {
            return Err(self
                .pull
                .bad(format!("package {:?} has no checksum", p.name)));
        }
        Ok(Some(p))
    }
}

/// The per-package content of filelists.xml or other.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageExtra {
    /// `pkgid` attribute: hex checksum of the .rpm, the key shared with primary.xml.
    pub pkgid: String,
    /// `name` attribute.
    pub name: String,
    /// `arch` attribute of the `<package>` element.
    pub arch: String,
    /// `<file>` entries (filelists.xml; empty when reading other.xml).
    pub files: Vec<PackageFile>,
    /// `<changelog>` entries (other.xml; empty when reading filelists.xml).
    pub changelogs: Vec<Changelog>,
}

/// Reads `filelists.xml` or `other.xml` packages one at a time.
pub struct ExtraReader<R: BufRead> {
    pull: Pull<R>,
}

impl<R: BufRead> ExtraReader<R> {
    /// Reads a decompressed filelists.xml stream.
    pub fn filelists(r: R) -> Self {
        ExtraReader {
            pull: Pull::new(r, "filelists.xml"),
        }
    }

    /// Reads a decompressed other.xml stream.
    pub fn other(r: R) -> Self {
        ExtraReader {
            pull: Pull::new(r, "other.xml"),
        }
    }

    /// The next package, or `None` at the end.
    pub fn next_package(&mut self) -> MetadataResult<Option<PackageExtra>> {
        let file = self.pull.file;
        let Some(attrs) = self.pull.next_package()? else {
            return Ok(None);
        };
        let mut x = PackageExtra {
            pkgid: get(&attrs, b"pkgid").unwrap_or_default().to_owned(),
            name: get(&attrs, b"name").unwrap_or_default().to_owned(),
            arch: get(&attrs, b"arch").unwrap_or_default().to_owned(),
            ..Default::default()
        };
        if x.pkgid.is_empty() {
            return Err(self.pull.bad("<package> without pkgid"));
        }
        let mut kind = FileKind::File;
        let mut author = String::new();
        let mut date = 0i64;
        loop {
            match self.pull.next()? {
                Ev::Start(name, a) => match name.as_slice() {
                    b"file" => kind = file_kind(&a),
                    b"changelog" => {
                        author = get(&a, b"author").unwrap_or_default().to_owned();
                        date = int(file, &a, b"date")?;
                    }
                    _ => {}
                },
                Ev::End(name, text) => match name.as_slice() {
                    b"package" => break,
                    b"file" => {
                        let mut f = split_path(&text);
                        f.kind = kind;
                        x.files.push(f);
                    }
                    b"changelog" => x.changelogs.push(Changelog {
                        author: std::mem::take(&mut author),
                        date,
                        text,
                    }),
                    _ => {}
                },
                Ev::Eof => return Err(self.pull.bad("input ends inside <package>")),
            }
        }
        Ok(Some(x))
    }
}

/// Merges primary, filelists and other in lockstep: the three files must list the same packages
/// in the same order (as createrepo_c and this crate write them). Memory holds one package.
pub struct PackageStream<P: BufRead, F: BufRead, O: BufRead> {
    primary: PrimaryReader<P>,
    filelists: ExtraReader<F>,
    other: ExtraReader<O>,
}

impl<P: BufRead, F: BufRead, O: BufRead> PackageStream<P, F, O> {
    /// Reads three decompressed streams.
    pub fn new(primary: P, filelists: F, other: O) -> Self {
        PackageStream {
            primary: PrimaryReader::new(primary),
            filelists: ExtraReader::filelists(filelists),
            other: ExtraReader::other(other),
        }
    }

    fn next_merged(&mut self) -> MetadataResult<Option<Package>> {
        let p = self.primary.next_package()?;
        let f = self.filelists.next_package()?;
        let o = self.other.next_package()?;
        merge(p, f, o)
    }
}

/// Joins the n-th package of primary, filelists and other.
fn merge(
    p: Option<Package>,
    f: Option<PackageExtra>,
    o: Option<PackageExtra>,
) -> MetadataResult<Option<Package>> {
    match (p, f, o) {
        (None, None, None) => Ok(None),
        (Some(mut p), Some(f), Some(o)) => {
            for (x, file) in [(&f, "filelists.xml"), (&o, "other.xml")] {
                if x.pkgid != p.pkgid {
                    return Err(MetadataError::malformed(
                        file,
                        format!(
                            "package order differs from primary.xml: {} ({}) where primary has {} ({})",
                            x.pkgid, x.name, p.pkgid, p.name
                        ),
                    ));
                }
            }
            p.files = f.files;
            p.changelogs = o.changelogs;
            Ok(Some(p))
        }
        _ => Err(MetadataError::malformed(
            "repodata",
            "primary, filelists and other list different numbers of packages",
        )),
    }
}

/// [`PackageStream`] with each file decompressed and parsed on its own thread (bounded
/// read-ahead), for large repositories. The threads stop when the stream is dropped.
pub struct ThreadedPackageStream {
    primary: Receiver<MetadataResult<Option<Package>>>,
    filelists: Receiver<MetadataResult<Option<PackageExtra>>>,
    other: Receiver<MetadataResult<Option<PackageExtra>>>,
    done: bool,
}

const READ_AHEAD: usize = 128;

fn pump<T: Send + 'static>(
    name: &str,
    mut next: impl FnMut() -> MetadataResult<Option<T>> + Send + 'static,
) -> Receiver<MetadataResult<Option<T>>> {
    let (tx, rx) = sync_channel(READ_AHEAD);
    let spawned = std::thread::Builder::new()
        .name(format!("rpmbucket-read-{name}"))
        .spawn(move || loop {
            let r = next();
            let last = !matches!(r, Ok(Some(_)));
            if tx.send(r).is_err() || last {
                break;
            }
        });
    if let Err(e) = spawned {
        // No thread: hand the error to the consumer through a fresh channel.
        let (tx, rx) = sync_channel(1);
        let _ = tx.send(Err(MetadataError::Stream(e)));
        return rx;
    }
    rx
}

impl ThreadedPackageStream {
    /// Starts reading three decompressed streams.
    pub fn new<P, F, O>(primary: P, filelists: F, other: O) -> Self
    where
        P: BufRead + Send + 'static,
        F: BufRead + Send + 'static,
        O: BufRead + Send + 'static,
    {
        let mut p = PrimaryReader::new(primary);
        let mut f = ExtraReader::filelists(filelists);
        let mut o = ExtraReader::other(other);
        ThreadedPackageStream {
            primary: pump("primary", move || p.next_package()),
            filelists: pump("filelists", move || f.next_package()),
            other: pump("other", move || o.next_package()),
            done: false,
        }
    }

    fn next_merged(&mut self) -> MetadataResult<Option<Package>> {
        fn recv<T>(
            rx: &Receiver<MetadataResult<Option<T>>>,
            file: &'static str,
        ) -> MetadataResult<Option<T>> {
            rx.recv()
                .unwrap_or_else(|_| Err(MetadataError::malformed(file, "reader thread stopped")))
        }
        let p = recv(&self.primary, "primary.xml")?;
        let f = recv(&self.filelists, "filelists.xml")?;
        let o = recv(&self.other, "other.xml")?;
        merge(p, f, o)
    }
}

impl Iterator for ThreadedPackageStream {
    type Item = MetadataResult<Package>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_merged().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

impl<P: BufRead, F: BufRead, O: BufRead> Iterator for PackageStream<P, F, O> {
    type Item = MetadataResult<Package>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_merged().transpose()
    }
}

/// Reads all packages, merging filelists and other into primary by `pkgid` (any order; when a
/// pkgid occurs several times, entries are matched in order of occurrence).
pub fn read_packages(
    primary: impl BufRead,
    filelists: impl BufRead,
    other: impl BufRead,
) -> MetadataResult<Vec<Package>> {
    let mut pr = PrimaryReader::new(primary);
    let mut pkgs = Vec::new();
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    while let Some(mut p) = pr.next_package()? {
        by_id.entry(p.pkgid.clone()).or_default().push(pkgs.len());
        p.files.clear();
        pkgs.push(p);
    }
    let mut have_files = vec![false; pkgs.len()];
    let mut have_log = vec![false; pkgs.len()];
    for (mut reader, is_files) in [
        (
            ExtraReader::filelists(Box::new(filelists) as Box<dyn BufRead>),
            true,
        ),
        (
            ExtraReader::other(Box::new(other) as Box<dyn BufRead>),
            false,
        ),
    ] {
        let file = reader.pull.file;
        while let Some(x) = reader.next_package()? {
            let seen = if is_files {
                &mut have_files
            } else {
                &mut have_log
            };
            let idx = by_id
                .get(&x.pkgid)
                .and_then(|v| v.iter().copied().find(|&i| !seen[i]))
                .ok_or_else(|| {
                    MetadataError::malformed(
                        file,
                        format!("package {} ({}) is not in primary.xml", x.pkgid, x.name),
                    )
                })?;
            seen[idx] = true;
            if is_files {
                pkgs[idx].files = x.files;
            } else {
                pkgs[idx].changelogs = x.changelogs;
            }
        }
    }
    if let Some(i) = (0..pkgs.len()).find(|&i| !have_files[i] || !have_log[i]) {
        return Err(MetadataError::malformed(
            if have_files[i] {
                "other.xml"
            } else {
                "filelists.xml"
            },
            format!("package {} ({}) is missing", pkgs[i].pkgid, pkgs[i].name),
        ));
    }
    Ok(pkgs)
}

/// Reads the packages of a published repository: finds the primary/filelists/other records in
/// `repomd`, opens each through `open(location_href)` (e.g. `repodata/<sum>-primary.xml.gz`,
/// relative to the repository root), decompresses by file suffix and merges them.
pub fn read_published<F>(repomd: &Repomd, mut open: F) -> MetadataResult<Vec<Package>>
where
    F: FnMut(&str) -> std::io::Result<Box<dyn Read>>,
{
    let mut streams = Vec::with_capacity(3);
    for t in ["primary", "filelists", "other"] {
        let rec = repomd
            .record(t)
            .ok_or_else(|| MetadataError::malformed("repomd.xml", format!("no {t} record")))?;
        let href = rec.location_href.as_str();
        let raw = open(href).map_err(|e| MetadataError::io(href, e))?;
        let dec = Compression::from_file_name(href)
            .decoder(raw)
            .map_err(|e| MetadataError::io(href, e))?;
        streams.push(BufReader::with_capacity(256 * 1024, dec));
    }
    let o = streams.pop().expect("three streams");
    let f = streams.pop().expect("three streams");
    let p = streams.pop().expect("three streams");
    read_packages(p, f, o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::sample;
    use crate::xml;
    use pretty_assertions::assert_eq;

    fn render(pkgs: &[Package]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut p = xml::primary_header(pkgs.len()).into_bytes();
        let mut f = xml::filelists_header(pkgs.len()).into_bytes();
        let mut o = xml::other_header(pkgs.len()).into_bytes();
        for pkg in pkgs {
            xml::primary_chunk(pkg, &mut p);
            xml::filelists_chunk(pkg, &mut f);
            xml::other_chunk(pkg, &mut o);
        }
        p.extend_from_slice(xml::PRIMARY_FOOTER.as_bytes());
        f.extend_from_slice(xml::FILELISTS_FOOTER.as_bytes());
        o.extend_from_slice(xml::OTHER_FOOTER.as_bytes());
        (p, f, o)
    }

    /// Packages with every field and the awkward characters the writers escape.
    fn tricky_packages() -> Vec<Package> {
        let mut a = sample("alpha");
        a.description = "Line one\n\n  indented & <b>bold</b> \"q\" 'a'\r\nend  ".into();
        a.summary = "Tom\u{e1}\u{161} Ml\u{10d}och \u{2014} \u{1f600}".into();
        a.packager = "P <p@example.org>".into();
        a.vendor = "V\tendor".into();
        a.location_base = "https://mirror.example/a&b/".into();
        a.location_href = "sub dir/alpha&1.rpm".into();
        a.requires[0].name = "config(\"x\") <tab>\there".into();
        a.provides.push(Dependency {
            name: "(a and b)".into(),
            ..Default::default()
        });
        a.provides.push(Dependency {
            name: "foo".into(),
            flags: Some(DepFlag::Lt),
            epoch: Some("1".into()),
            version: Some("2.0".into()),
            release: Some("3.fc40".into()),
            pre: false,
        });
        a.requires.push(Dependency {
            name: "epoch-only".into(),
            flags: Some(DepFlag::Ge),
            epoch: Some("5".into()),
            version: Some(String::new()),
            release: None,
            pre: false,
        });
        a.files.push(PackageFile {
            dirname: "/usr/share/\u{e9}t\u{e9}/".into(),
            basename: "a&b <c>.txt".into(),
            kind: FileKind::Ghost,
        });
        a.changelogs.push(Changelog {
            author: "Tom\u{e1}\u{161} <t@x> - 1.0-2".into(),
            date: 1_700_000_001,
            text: "- fix \"quotes\" & <angles>\n- second\r".into(),
        });
        let mut src = sample("beta");
        src.arch = "src".into();
        src.sourcerpm = String::new();
        src.files = vec![PackageFile {
            dirname: String::new(),
            basename: "beta.spec".into(),
            kind: FileKind::File,
        }];
        src.changelogs.clear();
        src.requires.clear();
        let mut empty = sample("gamma");
        empty.files.clear();
        empty.provides.clear();
        empty.requires.clear();
        empty.suggests.clear();
        empty.summary = String::new();
        vec![a, src, empty]
    }

    #[test]
    fn rewriting_parsed_records_is_byte_identical() {
        let pkgs = tricky_packages();
        let (p, f, o) = render(&pkgs);
        let back: Vec<Package> = PackageStream::new(&p[..], &f[..], &o[..])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back.len(), pkgs.len());
        let (p2, f2, o2) = render(&back);
        assert_eq!(
            String::from_utf8(p2).unwrap(),
            String::from_utf8(p).unwrap()
        );
        assert_eq!(
            String::from_utf8(f2).unwrap(),
            String::from_utf8(f.clone()).unwrap()
        );
        assert_eq!(
            String::from_utf8(o2).unwrap(),
            String::from_utf8(o.clone()).unwrap()
        );
        // Everything comes back as it was (these records hold nothing the XML drops).
        assert_eq!(back, pkgs);
        // Everything the XML carries comes back as it was.
        assert_eq!(back[0].description, pkgs[0].description);
        assert_eq!(back[0].files, pkgs[0].files);
        assert_eq!(back[0].changelogs, pkgs[0].changelogs);
        assert_eq!(back[1].files, pkgs[1].files);
    }

    #[test]
    fn threaded_stream_equals_lockstep_stream() {
        let pkgs: Vec<Package> = (0..500)
            .map(|i| sample(&format!("p{i:04}")))
            .chain(tricky_packages())
            .collect();
        let (p, f, o) = render(&pkgs);
        let a: Vec<Package> = PackageStream::new(&p[..], &f[..], &o[..])
            .collect::<Result<_, _>>()
            .unwrap();
        let b: Vec<Package> = ThreadedPackageStream::new(
            std::io::Cursor::new(p.clone()),
            std::io::Cursor::new(f.clone()),
            std::io::Cursor::new(o.clone()),
        )
        .collect::<Result<_, _>>()
        .unwrap();
        assert_eq!(a.len(), pkgs.len());
        assert!(a == b);
        // errors end the stream
        let (_, _, o1) = render(&pkgs[..3]);
        let r: Vec<_> = ThreadedPackageStream::new(
            std::io::Cursor::new(p),
            std::io::Cursor::new(f),
            std::io::Cursor::new(o1),
        )
        .collect();
        assert_eq!(r.len(), 4);
        assert!(r[3].is_err());
        // dropping early does not hang
        let (p, f, o) = render(&pkgs);
        let mut s = ThreadedPackageStream::new(
            std::io::Cursor::new(p),
            std::io::Cursor::new(f),
            std::io::Cursor::new(o),
        );
        assert!(s.next().unwrap().is_ok());
        drop(s);
    }

    #[test]
    fn read_packages_merges_out_of_order() {
        let pkgs = tricky_packages();
        let (p, _, _) = render(&pkgs);
        let rev: Vec<Package> = pkgs.iter().rev().cloned().collect();
        let (_, f, o) = render(&rev);
        assert!(PackageStream::new(&p[..], &f[..], &o[..])
            .collect::<Result<Vec<_>, _>>()
            .is_err());
        let back = read_packages(&p[..], &f[..], &o[..]).unwrap();
        let (p2, _, _) = render(&back);
        assert_eq!(p2, p);
        assert_eq!(back[2].files, pkgs[2].files);
        assert_eq!(back[0].changelogs, pkgs[0].changelogs);
    }

    #[test]
    fn reads_what_the_writer_published() {
        use crate::writer::{RepodataWriter, WriteOptions};
        let dir = tempfile::tempdir().unwrap();
        let pkgs = tricky_packages();
        let opts = WriteOptions::default()
            .with_database(false)
            .with_compression(Compression::Xz);
        let mut w = RepodataWriter::new(dir.path(), pkgs.len(), &opts).unwrap();
        for p in &pkgs {
            w.add(p).unwrap();
        }
        let out = w.finish(Some("7".into())).unwrap();
        let back = read_published(&out.repomd, |href| {
            let name = href.strip_prefix("repodata/").unwrap();
            Ok(Box::new(std::fs::File::open(dir.path().join(name))?) as Box<dyn Read>)
        })
        .unwrap();
        assert_eq!(render(&back), render(&pkgs));
        let missing = read_published(&out.repomd, |_| {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        })
        .unwrap_err();
        assert!(missing.to_string().contains("primary.xml.xz"), "{missing}");
    }

    #[test]
    fn duplicate_pkgids_keep_their_own_data() {
        let mut a = sample("dup");
        let mut b = a.clone();
        a.location_href = "a/dup.rpm".into();
        b.location_href = "b/dup.rpm".into();
        b.files.truncate(1);
        let pkgs = vec![a, b];
        let (p, f, o) = render(&pkgs);
        let back = read_packages(&p[..], &f[..], &o[..]).unwrap();
        assert_eq!(back[1].files.len(), 1);
        assert_eq!(back[0].files.len(), pkgs[0].files.len());
    }

    #[test]
    fn errors_instead_of_panics() {
        let pkgs = tricky_packages();
        let (p, f, o) = render(&pkgs);
        // truncated primary
        let cut = &p[..p.len() / 2];
        assert!(read_packages(cut, &f[..], &o[..]).is_err());
        // a package missing from other.xml
        let (_, _, o1) = render(&pkgs[..1]);
        let err = read_packages(&p[..], &f[..], &o1[..]).unwrap_err();
        assert!(err.to_string().contains("other.xml"), "{err}");
        // garbage
        assert!(read_packages(
            &b"<metadata><package><time file=\"x\"/></package></metadata>"[..],
            &f[..],
            &o[..]
        )
        .is_err());
        assert!(read_packages(&b"\xff\xfe<<<"[..], &f[..], &o[..]).is_err());
        // an empty repository is fine
        let (p0, f0, o0) = render(&[]);
        assert!(read_packages(&p0[..], &f0[..], &o0[..]).unwrap().is_empty());
    }
}
