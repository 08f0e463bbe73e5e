//! The browsable repository page (`index.html` next to `repodata/`): every package with name,
//! EVR, arch, size, build date and summary, a filter box, links to the files and the `.repo`
//! snippet to copy.
//!
//! Package text is attacker controlled. Every string from a package is HTML-escaped (and hrefs
//! percent-encoded), and the page carries a Content-Security-Policy that allows exactly one
//! script, ours, by its SHA-256: markup that slipped through could not run a script even then.
//! The script only filters rows and fills in the `baseurl` from the page's own address; without
//! it the page is still complete.
//!
//! ```
//! use rpmbucket_repodata::page::{render_page, PageInfo};
//! use rpmbucket_repodata::Package;
//!
//! let p = Package {
//!     name: "hello".into(), version: "1.0".into(), release: "1".into(), arch: "x86_64".into(),
//!     summary: "<b>hi</b>".into(), location_href: "hello-1.0-1.x86_64.rpm".into(),
//!     ..Package::default()
//! };
//! let html = render_page(&[&p], &PageInfo::new("el9/x86_64"));
//! assert!(html.contains("&lt;b&gt;hi&lt;/b&gt;"));
//! ```

use std::fmt::Write;

use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Digest;

use crate::Package;

/// File name of the page in a repository's root.
pub const PAGE_FILE: &str = "index.html";

/// What the page says about the repository besides its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// Shown as the title: the repository's path (`el9/x86_64`) or a name.
    pub title: String,
    /// The repository id in the `.repo` snippet (`[id]`); derived from the title by default.
    pub repo_id: String,
    /// `repomd.xml` revision the page was made from.
    pub revision: String,
    /// Seconds since the epoch when it was made (0: not shown).
    pub generated: i64,
    /// `gpgcheck=1` in the snippet (packages are signed).
    pub gpgcheck: bool,
    /// The repository has this many packages but the page lists only the ones given (a page
    /// for very large repositories would be too big to be useful).
    pub total: Option<usize>,
}

impl PageInfo {
    /// A page titled `title` (a repository path such as `el9/x86_64/`).
    pub fn new(title: &str) -> PageInfo {
        let title = title.trim_matches('/');
        let id: String = title
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        PageInfo {
            title: if title.is_empty() {
                "repository".into()
            } else {
                title.into()
            },
            repo_id: if id.is_empty() {
                "rpmbucket".into()
            } else {
                format!("rpmbucket-{id}")
            },
            revision: String::new(),
            generated: 0,
            gpgcheck: false,
            total: None,
        }
    }
}

/// Our only script: filter the rows as the box changes (`?q=` or `#q=` in the address sets it
/// first) and put the page's own directory into the snippet's `baseurl`.
const SCRIPT: &str = r##"(function () {
  var box = document.getElementById("filter");
  var rows = document.querySelectorAll("#packages tbody tr");
  var shown = document.getElementById("shown");
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var n = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].getAttribute("data-search");
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      rows[i].hidden = !ok;
      if (ok) n++;
    }
    shown.textContent = n === rows.length ? "" : n + " of " + rows.length + " shown";
  }
  var m = /[?#&]q=([^&#]*)/.exec(location.search + location.hash);
  if (m) box.value = decodeURIComponent(m[1].replace(/\+/g, " "));
  box.addEventListener("input", apply);
  apply();
  var base = location.href.replace(/[?#].*$/, "").replace(/[^\/]*$/, "");
  document.getElementById("baseurl").textContent = base;
  var copy = document.getElementById("copy");
  copy.hidden = !navigator.clipboard;
  copy.addEventListener("click", function () {
    navigator.clipboard.writeText(document.getElementById("repofile").textContent);
    copy.textContent = "Copied";
  });
})();"##;

const STYLE: &str = r#"
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #59636e; --line: #d1d9e0; --bg: #fff;
  --code: #f6f8fa; --link: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --line: #3d444d;
  --bg: #0d1117; --code: #151b23; --link: #4493f8; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 72rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; word-break: break-all; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.meta, .muted { color: var(--muted); font-size: .9rem; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: .75rem;
  overflow-x: auto; margin: 0; font-size: .85rem; }
.snippet { position: relative; }
#copy { position: absolute; top: .4rem; right: .4rem; }
button, input { font: inherit; color: inherit; }
button { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  padding: .2rem .6rem; cursor: pointer; }
.bar { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; margin: .5rem 0; }
#filter { flex: 1 1 16rem; padding: .45rem .6rem; border: 1px solid var(--line);
  border-radius: 6px; background: var(--bg); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
td.num { text-align: right; white-space: nowrap; }
td.evr, td.date, td.arch { white-space: nowrap; }
td.name { overflow-wrap: anywhere; min-width: 10rem; }
td.name a { font-weight: 600; }
td.summary { color: var(--muted); overflow-wrap: anywhere; }
@media (max-width: 700px) {
  thead { display: none; }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { display: flex; flex-wrap: wrap; column-gap: .6rem; border-bottom: 1px solid var(--line);
    padding: .5rem 0; }
  td { border: 0; padding: .05rem 0; min-width: 0; }
  td.evr, td.arch, td.num, td.date { width: auto; text-align: left; white-space: normal;
    overflow-wrap: anywhere; font-size: .85rem; color: var(--muted); }
  td.summary { margin-top: .15rem; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
}
"#;

/// Characters percent-encoded in a path segment of a link: everything but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Render the page. `packages` may come in any order; they are listed by name, newest EVR
/// first, then arch.
pub fn render_page(packages: &[&Package], info: &PageInfo) -> String {
    let mut sorted: Vec<&Package> = packages.to_vec();
    sorted.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| b.cmp_evr(a))
            .then_with(|| a.arch.cmp(&b.arch))
            .then_with(|| a.location_href.cmp(&b.location_href))
    });
    let script_hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT.as_bytes()));
    let title = escape(&info.title);
    let mut h = String::with_capacity(4096 + sorted.len() * 400);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; base-uri 'none'; \
         form-action 'none'\">\n<meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title} · rpmbucket</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n"
    );
    let count = match info.total {
        Some(total) if total != sorted.len() => format!(
            "{total} packages (the first {} are listed here)",
            sorted.len()
        ),
        _ if sorted.len() == 1 => "1 package".into(),
        _ => format!("{} packages", sorted.len()),
    };
    let _ = write!(h, "<p class=\"meta\">{count}");
    if info.generated > 0 {
        let _ = write!(h, " · updated {} UTC", datetime(info.generated));
    }
    if !info.revision.is_empty() {
        let _ = write!(h, " · revision {}", escape(&info.revision));
    }
    h.push_str("</p>\n");

    let _ = write!(
        h,
        "<h2>Use it</h2>\n<p class=\"muted\">Save as <code>/etc/yum.repos.d/{id}.repo</code>, \
         then <code>dnf install NAME</code>.</p>\n<div class=\"snippet\">\
         <pre id=\"repofile\">[{id}]\nname={title}\nbaseurl=<span id=\"baseurl\">\
         URL-OF-THIS-PAGE</span>\nenabled=1\ngpgcheck={gpg}\n</pre>\
         <button id=\"copy\" type=\"button\" hidden>Copy</button></div>\n",
        id = escape(&info.repo_id),
        gpg = u8::from(info.gpgcheck),
    );

    h.push_str(
        "<h2>Packages</h2>\n<div class=\"bar\"><input id=\"filter\" type=\"search\" \
         placeholder=\"Filter by name, version, arch or summary\" aria-label=\"Filter packages\" \
         autocomplete=\"off\"><span id=\"shown\" class=\"muted\"></span></div>\n\
         <table id=\"packages\">\n<thead><tr><th>Name</th><th>Version</th><th>Arch</th>\
         <th>Size</th><th>Built</th><th>Summary</th></tr></thead>\n<tbody>\n",
    );
    for p in &sorted {
        let evr = p.evr();
        let search = format!("{} {} {} {}", p.name, evr, p.arch, p.summary).to_lowercase();
        let _ = writeln!(
            h,
            "<tr data-search=\"{search}\"><td class=\"name\"><a href=\"{href}\" title=\"{file}\">\
             {name}</a></td><td class=\"evr\">{evr}</td><td class=\"arch\">{arch}</td>\
             <td class=\"num\">{size}</td><td class=\"date\">{built}</td>\
             <td class=\"summary\">{summary}</td></tr>",
            search = escape(&search),
            href = escape(&link(&p.location_href)),
            file = escape(&p.location_href),
            name = escape(&p.name),
            evr = escape(&evr),
            arch = escape(&p.arch),
            size = human_size(p.size_package),
            built = date(p.time_build),
            summary = escape(&p.summary),
        );
    }
    let _ = write!(
        h,
        "</tbody>\n</table>\n<p class=\"muted\">Made by rpmbucket from the published metadata \
         (<a href=\"repodata/repomd.xml\">repodata/repomd.xml</a>).</p>\n</main>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    h
}

/// HTML-escape text for element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A relative link to a location href: each segment percent-encoded, so no href can become
/// `javascript:` or leave the repository (`..` segments are encoded dots, which browsers do
/// not resolve as a parent).
fn link(href: &str) -> String {
    let segments: Vec<String> = href
        .split('/')
        .map(|s| match s {
            "." | ".." => s.replace('.', "%2E"),
            s => utf8_percent_encode(s, SEGMENT).to_string(),
        })
        .collect();
    format!("./{}", segments.join("/"))
}

fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} GiB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// `YYYY-MM-DD` (UTC) of seconds since the epoch.
pub fn date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` (UTC) of seconds since the epoch.
pub fn datetime(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!("{} {:02}:{:02}", date(secs), s / 3600, s % 3600 / 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, summary: &str, href: &str) -> Package {
        Package {
            name: name.into(),
            epoch: "0".into(),
            version: version.into(),
            release: "1".into(),
            arch: "x86_64".into(),
            summary: summary.into(),
            location_href: href.into(),
            size_package: 123_456,
            time_build: 1_764_806_400,
            ..Package::default()
        }
    }

    #[test]
    fn package_text_is_escaped() {
        let evil = pkg(
            "a<b",
            "1\"x",
            "<img src=x onerror=alert(1)>' \"&",
            "Packages/\"><script>alert(1)</script>.rpm",
        );
        let html = render_page(&[&evil], &PageInfo::new("el9/x86_64/"));
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&#39; &quot;&amp;"));
        assert!(html.contains("a&lt;b"));
        assert!(html.contains("1&quot;x"));
        assert_eq!(html.matches("<script").count(), 1, "only ours");
        assert!(
            html.contains("href=\"./Packages/%22%3E%3Cscript%3Ealert%281%29%3C/script%3E.rpm\"")
        );
    }

    #[test]
    fn links_cannot_escape_or_run() {
        assert_eq!(link("javascript:alert(1)"), "./javascript%3Aalert%281%29");
        assert_eq!(link("../../etc/passwd"), "./%2E%2E/%2E%2E/etc/passwd");
        assert_eq!(link("a b+c.rpm"), "./a%20b%2Bc.rpm");
    }

    #[test]
    fn csp_names_our_script_hash() {
        let html = render_page(&[], &PageInfo::new(""));
        let hash = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(SCRIPT.as_bytes()));
        assert!(html.contains(&format!("script-src 'sha256-{hash}'")));
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains("0 packages"));
        assert!(html.contains("[rpmbucket]"));
    }

    #[test]
    fn newest_first_within_a_name() {
        let a = pkg("foo", "1.0~rc1", "", "foo-rc.rpm");
        let b = pkg("foo", "1.0", "", "foo-1.0.rpm");
        let c = pkg("bar", "9", "", "bar.rpm");
        let html = render_page(&[&a, &c, &b], &PageInfo::new("r"));
        let pos = |s: &str| html.find(s).unwrap();
        assert!(pos("bar.rpm") < pos("foo-1.0.rpm"));
        assert!(pos("foo-1.0.rpm") < pos("foo-rc.rpm"));
    }

    #[test]
    fn dates_and_sizes() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_764_806_400), "2025-12-04");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(
            datetime(1_764_806_400 + 3_600 * 13 + 60 * 5),
            "2025-12-04 13:05"
        );
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(123_456), "120.6 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn partial_listing_says_so() {
        let a = pkg("foo", "1", "", "foo.rpm");
        let info = PageInfo {
            total: Some(20_000),
            ..PageInfo::new("big")
        };
        let html = render_page(&[&a], &info);
        assert!(html.contains("20000 packages (the first 1 are listed here)"));
    }
}
