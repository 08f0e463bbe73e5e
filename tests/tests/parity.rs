//! Byte-for-byte parity of our record building and XML chunks with createrepo_c (the oracle).
//!
//! Every RPM of the corpus (`RPMBUCKET_CORPUS`, default `<repo root>/../shared/corpus`, its
//! `rpms/` directory) is mirrored into a temporary directory with symlinks (so sizes and mtimes
//! are the originals), `createrepo_c --no-database` runs over it, and each package's
//! primary/filelists/other chunk is compared with what `read_package_file` + `*_chunk` produce
//! for the same file. The same runs over the fixture RPMs. Without the corpus or createrepo_c the
//! tests fail under `CI` and skip loudly elsewhere (`rpmbucket_testenv`).
//!
//! Also here: every file of `corpus/bad` must give an error (never a panic), and the parser must
//! survive every corpus file truncated at many points and with deterministic byte flips.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rpmbucket_repodata::header::{header_extent, Extent, RpmHeaders};
use rpmbucket_repodata::parse::{read_package_file, FileInfo, ParseOptions};
use rpmbucket_repodata::xml::{filelists_chunk, other_chunk, primary_chunk};
use rpmbucket_repodata::{Error, Package};

/// All regular `*.rpm` files under `dir`, as paths relative to `dir`, sorted.
fn rpm_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                walk(base, &p, out);
            } else if p.extension().is_some_and(|x| x == "rpm") {
                out.push(p.strip_prefix(base).expect("under base").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn gunzip(path: &Path) -> String {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut s = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut s)
        .expect("gunzip");
    s
}

/// Split an XML file into its `<package …>…</package>\n` chunks (they start at column 0).
fn chunks(xml: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("\n<package ").map(|i| i + 1) {
        let tail = &rest[start..];
        let end = tail.find("\n</package>\n").expect("package end") + "\n</package>\n".len();
        out.push(&tail[..end]);
        rest = &tail[end - 1..];
    }
    out
}

fn unescape_attr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..].find(';').expect("entity end") + i;
        let ent = &rest[i + 1..semi];
        match ent {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).expect("hex ref")
                } else {
                    ent.trim_start_matches('#').parse().expect("dec ref")
                };
                out.push(char::from_u32(n).expect("char"));
            }
        }
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    out
}

fn href_of(primary_chunk: &str) -> String {
    let loc = primary_chunk.find("<location ").expect("location element");
    let href = primary_chunk[loc..].find(" href=\"").expect("href") + loc + 7;
    let end = primary_chunk[href..].find('"').expect("href end") + href;
    unescape_attr(&primary_chunk[href..end])
}

/// createrepo_c's chunks of one run, keyed by location href.
struct Oracle {
    by_href: BTreeMap<String, [String; 3]>,
}

fn run_createrepo(files: &[PathBuf], src: &Path) -> Oracle {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    for rel in files {
        let link = repo.join(rel);
        std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(src.join(rel), &link).expect("symlink");
    }
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir out");
    let status = Command::new("createrepo_c")
        .args([
            "--no-database",
            "--simple-md-filenames",
            "--quiet",
            "--workers",
            "2",
            "-o",
        ])
        .arg(&out)
        .arg(&repo)
        // Use the C-locale (first) text of translated tags, as our parser does.
        .env_remove("LANGUAGE")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .status()
        .expect("run createrepo_c");
    // createrepo_c 0.17.3 exits 0 even when some packages fail; 1.x exits 2.
    assert!(
        status.code().is_some_and(|c| c == 0 || c == 2),
        "createrepo_c failed: {status}"
    );
    let rd = out.join("repodata");
    let primary = gunzip(&rd.join("primary.xml.gz"));
    let filelists = gunzip(&rd.join("filelists.xml.gz"));
    let other = gunzip(&rd.join("other.xml.gz"));
    let (p, f, o) = (chunks(&primary), chunks(&filelists), chunks(&other));
    assert_eq!(p.len(), f.len(), "primary/filelists package counts");
    assert_eq!(p.len(), o.len(), "primary/other package counts");
    let mut by_href = BTreeMap::new();
    for ((p, f), o) in p.iter().zip(&f).zip(&o) {
        by_href.insert(href_of(p), [p.to_string(), f.to_string(), o.to_string()]);
    }
    Oracle { by_href }
}

/// Name of the element or attribute on the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> String {
    for (la, lb) in a.lines().zip(b.lines()) {
        if la != lb {
            let elem = la
                .trim_start()
                .trim_start_matches('<')
                .split([' ', '>', '/'])
                .next()
                .unwrap_or("?")
                .to_string();
            let attr = la
                .split(' ')
                .zip(lb.split(' '))
                .find(|(x, y)| x != y)
                .map(|(x, _)| x.split('=').next().unwrap_or("").to_string())
                .filter(|x| !x.starts_with('<'))
                .map(|x| format!(" attribute {x}"))
                .unwrap_or_default();
            return format!("<{elem}>{attr}");
        }
    }
    "line count".to_string()
}

const KINDS: [&str; 3] = ["primary", "filelists", "other"];

/// Does the main header hold a version or release (of the package or of a dependency) that is
/// not UTF-8? createrepo_c writes such bytes in ways a record of Rust strings cannot reproduce:
/// other.xml's `<version>` skips its latin-1 conversion (the bytes come out as `&#xHH;`), and a
/// dependency EVR part whose bytes all drop out in the conversion still gets an empty attribute.
fn has_non_utf8_evr(path: &Path) -> bool {
    const EVR_TAGS: [u32; 12] = [
        1001, 1002, 1113, 1050, 1055, 1115, 5050, 5056, 5047, 5053, 1157, 1160,
    ];
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    let Ok(h) = RpmHeaders::parse(&data) else {
        return false;
    };
    EVR_TAGS.iter().any(|&t| {
        h.main()
            .strings(t)
            .is_some_and(|v| v.iter().any(|s| std::str::from_utf8(s).is_err()))
    })
}

/// Why a difference from createrepo_c is accepted. Each excuse names the one field it covers;
/// the report counts them and [`assert_clean`] bounds each count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Excuse {
    /// The header's payload digest does not match the payload: createrepo_c indexes the package,
    /// we reject it on purpose (field: the payload digest tag).
    PayloadDigest,
    /// A non-UTF-8 version or release (see [`has_non_utf8_evr`]): only the `epoch`/`ver`/`rel`
    /// attributes of `<version>` and `<rpm:entry>` lines may differ, nothing else in the chunk.
    NonUtf8Evr,
}

impl Excuse {
    /// The field the excuse covers.
    fn field(self) -> &'static str {
        match self {
            Excuse::PayloadDigest => "payload digest (we reject, createrepo_c indexes)",
            Excuse::NonUtf8Evr => "epoch/ver/rel of <version>/<rpm:entry> (non-UTF-8 bytes)",
        }
    }
}

/// Attribute names a non-UTF-8 EVR may change.
const EVR_ATTRS: [&str; 3] = ["epoch", "ver", "rel"];

/// `line` without its ` epoch="…"`, ` ver="…"` and ` rel="…"` attributes (values hold no `"`:
/// it is escaped in the XML).
fn without_evr_attrs(line: &str) -> String {
    let mut out = line.to_string();
    for name in EVR_ATTRS {
        let pat = format!(" {name}=\"");
        if let Some(start) = out.find(&pat) {
            let value = start + pat.len();
            let end = out[value..].find('"').map_or(out.len(), |e| value + e + 1);
            out.replace_range(start..end, "");
        }
    }
    out
}

fn element(line: &str) -> &str {
    line.trim_start()
        .trim_start_matches('<')
        .split([' ', '>', '/'])
        .next()
        .unwrap_or("")
}

/// Whether every difference between the chunks `got` and `want` lies in the EVR attributes of a
/// `<version>` or `<rpm:entry>` line (same lines otherwise, same line count); the number of
/// lines that differ, or `None` when anything else differs.
fn evr_only_difference(got: &str, want: &str) -> Option<usize> {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    if g.len() != w.len() {
        return None;
    }
    let mut lines = 0;
    for (a, b) in g.iter().zip(&w) {
        if a == b {
            continue;
        }
        let elem = element(a);
        if elem != element(b) || !matches!(elem, "version" | "rpm:entry") {
            return None;
        }
        if without_evr_attrs(a) != without_evr_attrs(b) {
            return None;
        }
        lines += 1;
    }
    Some(lines)
}

#[test]
fn non_utf8_evr_excuse_covers_only_evr_attributes() {
    let want = "<package>\n  <version epoch=\"0\" ver=\"1&#xE9;\" rel=\"1\"/>\n  <rpm:entry name=\"a\" flags=\"EQ\" epoch=\"0\" ver=\"\" rel=\"2\"/>\n</package>\n";
    let evr = "<package>\n  <version epoch=\"0\" ver=\"1\u{e9}\" rel=\"1\"/>\n  <rpm:entry name=\"a\" flags=\"EQ\" epoch=\"0\" rel=\"2\"/>\n</package>\n";
    assert_eq!(evr_only_difference(evr, want), Some(2));
    assert_eq!(evr_only_difference(want, want), Some(0));
    // Another attribute of the same line, another element, or a missing line: not excused.
    let name = want.replace("name=\"a\"", "name=\"b\"");
    assert_eq!(evr_only_difference(&name, want), None);
    let flags = evr.replace("EQ", "GE");
    assert_eq!(evr_only_difference(&flags, want), None);
    let summary = format!("{want}  <summary>x</summary>\n");
    assert_eq!(evr_only_difference(&summary, want), None);
    let other = want.replace("<package>", "<package pkgid=\"x\">");
    assert_eq!(evr_only_difference(&other, want), None);
}

struct Report {
    name: String,
    /// `*.rpm` files looked at.
    files: usize,
    /// Packages createrepo_c indexed.
    indexed: usize,
    identical: [usize; 3],
    compared: usize,
    /// Accepted differences by excuse, each with what it excused.
    excused: BTreeMap<Excuse, Vec<String>>,
    failures: Vec<String>,
}

impl Report {
    fn excuse(&mut self, excuse: Excuse, what: String) {
        self.excused.entry(excuse).or_default().push(what);
    }
}

fn compare_dir(name: &str, dir: &Path) -> Report {
    let files = rpm_files(dir);
    assert!(!files.is_empty(), "no rpms under {}", dir.display());
    let oracle = run_createrepo(&files, dir);
    let opts = ParseOptions::default();
    let mut report = Report {
        name: name.to_string(),
        files: files.len(),
        indexed: oracle.by_href.len(),
        identical: [0; 3],
        compared: 0,
        excused: BTreeMap::new(),
        failures: Vec::new(),
    };
    let started = Instant::now();
    let mut ours: HashMap<String, Result<Package, Error>> = HashMap::new();
    for rel in &files {
        let href = rel.to_str().expect("utf-8 corpus paths").to_string();
        ours.insert(
            href.clone(),
            read_package_file(&dir.join(rel), &href, &opts),
        );
    }
    let elapsed = started.elapsed();
    println!("{name}: read_package_file on {} rpm files (header + SHA-256 of every byte) in {elapsed:.2?}", files.len());
    // Header-only work, as the indexer does it after a ranged read: bytes already in memory.
    let prefixes: Vec<Vec<u8>> = files
        .iter()
        .filter_map(|rel| {
            let data = std::fs::read(dir.join(rel)).ok()?;
            match header_extent(&data) {
                Ok(Extent::Complete(r)) => Some(data[..r.end as usize].to_vec()),
                _ => None,
            }
        })
        .collect();
    let started = Instant::now();
    let info = FileInfo {
        location_href: "x.rpm".into(),
        checksum_type: "sha256".into(),
        ..Default::default()
    };
    let parsed = prefixes
        .iter()
        .filter(|b| {
            RpmHeaders::parse(b).is_ok_and(|h| Package::from_headers(&h, &info, &opts).is_ok())
        })
        .count();
    let bytes: usize = prefixes.iter().map(Vec::len).sum();
    println!(
        "{name}: RpmHeaders::parse + Package::from_headers on {parsed} in-memory headers ({bytes} bytes) in {:.2?}",
        started.elapsed()
    );

    for rel in &files {
        let href = rel.to_str().expect("utf-8").to_string();
        let mine = &ours[&href];
        match (oracle.by_href.get(&href), mine) {
            (None, Err(e)) => println!("{name}: both reject {href}: {e}"),
            (None, Ok(_)) => report
                .failures
                .push(format!("{href}: createrepo_c dropped it, we accepted it")),
            (Some(_), Err(e @ Error::PayloadDigestMismatch { .. })) => report.excuse(
                Excuse::PayloadDigest,
                format!("{href}: createrepo_c indexed it, we reject it: {e}"),
            ),
            (Some(_), Err(e)) => report
                .failures
                .push(format!("{href}: createrepo_c indexed it, we failed: {e}")),
            (Some(want), Ok(p)) => {
                report.compared += 1;
                let mut got = [Vec::new(), Vec::new(), Vec::new()];
                primary_chunk(p, &mut got[0]);
                filelists_chunk(p, &mut got[1]);
                other_chunk(p, &mut got[2]);
                for k in 0..3 {
                    let got = String::from_utf8(std::mem::take(&mut got[k])).expect("utf-8 xml");
                    if got == want[k] {
                        report.identical[k] += 1;
                    } else {
                        let field = first_difference(&got, &want[k]);
                        let diff = pretty_assertions::StrComparison::new(&want[k], &got);
                        let msg = format!(
                            "{href}: {} differs at {field} (left: createrepo_c, right: ours)\n{diff}",
                            KINDS[k]
                        );
                        let evr_only = evr_only_difference(&got, &want[k]).is_some();
                        if evr_only && has_non_utf8_evr(&dir.join(rel)) {
                            report.excuse(Excuse::NonUtf8Evr, format!("{} {msg}", KINDS[k]));
                        } else {
                            report.failures.push(msg);
                        }
                    }
                }
            }
        }
    }
    println!(
        "{name}: {} packages compared; identical primary {} filelists {} other {}",
        report.compared, report.identical[0], report.identical[1], report.identical[2]
    );
    for (excuse, what) in &report.excused {
        for d in what {
            println!("{name}: excused ({}): {d}", excuse.field());
        }
    }
    report
}

/// How many differences of each kind a run may excuse.
struct Bounds {
    payload_digest: usize,
    non_utf8_evr: usize,
}

/// No difference may go unexcused, something must have been compared, every package
/// createrepo_c indexed was either compared or excused, and no excuse is used more often than
/// `bounds` allows.
fn assert_clean(report: Report, bounds: Bounds) {
    let name = &report.name;
    let count = |e: Excuse| report.excused.get(&e).map_or(0, Vec::len);
    println!(
        "{name}: {} files, createrepo_c indexed {}, compared {}; excused: payload digest {} (max {}), non-UTF-8 EVR {} (max {})",
        report.files,
        report.indexed,
        report.compared,
        count(Excuse::PayloadDigest),
        bounds.payload_digest,
        count(Excuse::NonUtf8Evr),
        bounds.non_utf8_evr
    );
    if !report.failures.is_empty() {
        let shown: Vec<&String> = report.failures.iter().take(20).collect();
        panic!(
            "{} differences (first {}):\n{}",
            report.failures.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(report.compared > 0, "{name}: nothing was compared");
    assert_eq!(
        report.compared + count(Excuse::PayloadDigest),
        report.indexed,
        "{name}: every package createrepo_c indexed is compared or excused"
    );
    for (excuse, max) in [
        (Excuse::PayloadDigest, bounds.payload_digest),
        (Excuse::NonUtf8Evr, bounds.non_utf8_evr),
    ] {
        let n = count(excuse);
        assert!(
            n <= max,
            "{name}: {n} differences excused as {}, at most {max} allowed:\n{}",
            excuse.field(),
            report.excused[&excuse].join("\n")
        );
    }
}

#[test]
fn corpus_matches_createrepo_c() {
    let Some(corpus) = rpmbucket_tests::corpus_dir() else {
        return;
    };
    if !rpmbucket_testenv::tool("createrepo_c") {
        return;
    }
    // The corpus holds no package with a broken payload digest or a non-UTF-8 EVR that
    // createrepo_c indexes.
    let bounds = Bounds {
        payload_digest: 0,
        non_utf8_evr: 0,
    };
    assert_clean(compare_dir("corpus", &corpus.join("rpms")), bounds);
}

#[test]
fn fixtures_match_createrepo_c() {
    let dir = rpmbucket_tests::fixtures_dir();
    if !rpmbucket_testenv::tool("createrepo_c") {
        return;
    }
    let bounds = Bounds {
        payload_digest: 0,
        non_utf8_evr: 0,
    };
    assert_clean(compare_dir("fixtures", &dir), bounds);
}

#[test]
fn bad_corpus_files_give_clear_errors() {
    let Some(corpus) = rpmbucket_tests::corpus_dir() else {
        return;
    };
    let bad = corpus.join("bad");
    let files = rpm_files(&bad);
    assert!(!files.is_empty(), "no files under {}", bad.display());
    for rel in files {
        let href = rel.to_str().expect("utf-8");
        match read_package_file(&bad.join(&rel), href, &ParseOptions::default()) {
            Ok(p) => panic!(
                "{href}: accepted a bad package as {}-{}-{}",
                p.name, p.version, p.release
            ),
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.is_empty(), "{href}: empty error message");
                println!("{href}: {msg}");
            }
        }
    }
}

/// Deterministic xorshift so the mutations are the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn exercise(bytes: &[u8]) {
    let _ = header_extent(bytes);
    if let Ok(h) = RpmHeaders::parse(bytes) {
        let info = FileInfo {
            location_href: "x.rpm".into(),
            checksum_type: "sha256".into(),
            ..Default::default()
        };
        if let Ok(p) = Package::from_headers(&h, &info, &ParseOptions::default()) {
            let mut out = Vec::new();
            primary_chunk(&p, &mut out);
            filelists_chunk(&p, &mut out);
            other_chunk(&p, &mut out);
        }
    }
}

#[test]
fn mutated_corpus_headers_never_panic() {
    let Some(corpus) = rpmbucket_tests::corpus_dir() else {
        return;
    };
    let mut files: Vec<PathBuf> = rpm_files(&corpus.join("rpms"))
        .into_iter()
        .map(|r| corpus.join("rpms").join(r))
        .collect();
    files.extend(
        rpm_files(&corpus.join("bad"))
            .into_iter()
            .map(|r| corpus.join("bad").join(r)),
    );
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut cases = 0usize;
    for path in files {
        let data = std::fs::read(&path).expect("read corpus file");
        let end = match header_extent(&data) {
            Ok(Extent::Complete(r)) => r.end as usize,
            _ => data.len().min(64 * 1024),
        };
        let head = &data[..end];
        // Truncations: every interesting boundary plus a few spread points.
        let mut cuts = vec![0, 4, 95, 96, 111, 112, 113, end / 2, end.saturating_sub(1)];
        for _ in 0..4 {
            cuts.push((rng.next() % (end as u64 + 1)) as usize);
        }
        for cut in cuts {
            exercise(&head[..cut.min(end)]);
            cases += 1;
        }
        // Byte flips, biased towards the index entries where offsets and counts live.
        for _ in 0..12 {
            let mut m = head.to_vec();
            if m.is_empty() {
                break;
            }
            let pos = if rng.next().is_multiple_of(2) {
                (96 + rng.next() % 600) as usize % m.len()
            } else {
                (rng.next() % m.len() as u64) as usize
            };
            m[pos] ^= (rng.next() % 255 + 1) as u8;
            exercise(&m);
            cases += 1;
        }
    }
    println!("mutated-header cases run: {cases}");
}

/// A caller doing HTTP range reads needs at most two: the speculative prefix, then exactly the rest.
#[test]
fn corpus_headers_need_at_most_two_reads() {
    use rpmbucket_repodata::header::SPECULATIVE_READ;
    let Some(corpus) = rpmbucket_tests::corpus_dir() else {
        return;
    };
    let rpms = corpus.join("rpms");
    let (mut one, mut two) = (0usize, 0usize);
    for rel in rpm_files(&rpms) {
        let data = std::fs::read(rpms.join(&rel)).expect("read");
        let first = &data[..data.len().min(SPECULATIVE_READ as usize)];
        let range = match header_extent(first).expect("valid corpus rpm") {
            Extent::Complete(r) => {
                one += 1;
                r
            }
            Extent::NeedBytes(n) => {
                assert!(
                    n as usize <= data.len(),
                    "{}: asks for {n} bytes of {}",
                    rel.display(),
                    data.len()
                );
                match header_extent(&data[..n as usize]).expect("valid") {
                    Extent::Complete(r) => {
                        two += 1;
                        r
                    }
                    Extent::NeedBytes(m) => {
                        panic!("{}: a third read of {m} bytes after {n}", rel.display())
                    }
                }
            }
        };
        // The range is createrepo_c's header-range: a real header starts there.
        assert_eq!(
            &data[range.start as usize..range.start as usize + 3],
            &[0x8e, 0xad, 0xe8]
        );
        assert!(
            RpmHeaders::parse(&data[..range.end as usize]).is_ok(),
            "{}",
            rel.display()
        );
    }
    println!("header reads: {one} files with one read of {SPECULATIVE_READ} bytes, {two} needing a second");
    assert!(one > 0);
}

/// Damaged headers: createrepo_c (librpm) and we must accept and reject the same files, and
/// write the same XML for the accepted ones. Deterministic byte flips in the lead, the index
/// entries and the data of a sample of corpus files.
#[test]
fn mutated_headers_match_createrepo_c() {
    let Some(corpus) = rpmbucket_tests::corpus_dir() else {
        return;
    };
    if !rpmbucket_testenv::tool("createrepo_c") {
        return;
    }
    let rpms = corpus.join("rpms");
    let tmp = tempfile::tempdir().expect("tempdir");
    // RPMBUCKET_KEEP_MUTANTS=DIR keeps the damaged files for a closer look.
    let src = std::env::var_os("RPMBUCKET_KEEP_MUTANTS")
        .map_or_else(|| tmp.path().join("src"), PathBuf::from);
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let files = rpm_files(&rpms);
    let per_file = std::env::var("RPMBUCKET_MUTANTS_PER_FILE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize);
    for (i, rel) in files.iter().enumerate() {
        let data = std::fs::read(rpms.join(rel)).expect("read");
        let Ok(Extent::Complete(r)) = header_extent(&data) else {
            continue;
        };
        for k in 0..per_file {
            let mut m = data.clone();
            let (start, end) = (96usize, r.end as usize);
            let flips = 1 + rng.next() % 3;
            for _ in 0..flips {
                let pos = match rng.next() % 3 {
                    // the main header's index entries
                    0 => r.start as usize + 16 + (rng.next() % (16 * 8)) as usize,
                    // anywhere in the headers
                    _ => start + (rng.next() % (end - start) as u64) as usize,
                };
                if pos < end {
                    m[pos] ^= 1 << (rng.next() % 8);
                }
            }
            let name = format!("m{i:05}-{k}.rpm");
            std::fs::create_dir_all(&src).expect("mkdir");
            std::fs::write(src.join(&name), &m).expect("write mutant");
        }
    }
    let report = compare_dir("mutants", &src);
    // A flip inside the payload digest tag's value makes createrepo_c (which does not check it)
    // index a package we reject; a flip in a version may make it non-UTF-8. Both are rare: at
    // most one mutant in a hundred each.
    let bounds = Bounds {
        payload_digest: report.files / 100,
        non_utf8_evr: report.files / 100,
    };
    assert_clean(report, bounds);
}
