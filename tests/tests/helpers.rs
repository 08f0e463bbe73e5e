//! Proves the shared test helpers work against the real tools: the fixtures
//! build and are what `fx` says, createrepo_c indexes them, dnf (file:// and
//! http://) lists every NEVRA and installs with checksum verification, zypper
//! finds packages, and the static server behaves like an HTTP server.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use rpmbucket_tests::{
    cache_dir, createrepo_c, dnf_install, dnf_nevras, dnf_repoquery, file_url, fixture,
    fixture_repo, fixture_rpms, fixtures_dir, fixtures_key, free_port, fx, overwrite_at,
    read_decompressed, repo_root, repodata_xml, repomd_locations, rpm_nevra, rpm_qf, run,
    s3_create_public_bucket, s3_endpoint, s3_upload_dir, unique_bucket, zypper_install,
    zypper_search, StaticServer,
};

/// NEVRAs of all fixtures according to rpm itself.
fn fixture_nevras() -> BTreeSet<String> {
    fixture_rpms()
        .iter()
        .map(|p| rpm_nevra(p).unwrap())
        .collect()
}

#[test]
fn fixtures_are_the_documented_set() {
    let dir = fixtures_dir();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".rpm"))
        .collect();
    names.sort();
    assert_eq!(names, fx::ALL.to_vec());
    // Every file parses, and NEVRAs are all distinct.
    assert_eq!(fixture_nevras().len(), fx::ALL.len());
    // scripts/test.sh computes the cache key in shell; it must agree.
    if dir.starts_with(cache_dir().join("fixtures")) {
        assert_eq!(dir.file_name().unwrap(), &*fixtures_key().unwrap());
    }
}

#[test]
fn test_script_computes_the_same_fixture_key() {
    let script = repo_root().join("scripts/test.sh");
    let out = run(std::process::Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && fixtures_key")
        .arg("bash")
        .arg(&script))
    .unwrap();
    assert_eq!(out.trim(), fixtures_key().unwrap());
}

#[test]
fn fixtures_cover_what_they_claim() {
    let q = |name: &str, qf: &str| rpm_qf(&fixture(name), qf).unwrap();
    assert_eq!(q(fx::EPOCH, "%{epoch}"), "3");
    assert_eq!(q(fx::X86, "%{arch}"), "x86_64");
    assert_eq!(q(fx::DEPS_SRC, "%|SOURCEPACKAGE?{src}:{bin}|"), "src");
    assert_eq!(q(fx::SPACE, "%{name}"), "fx-space");
    assert_eq!(q(fx::MANY, "[%{filenames}\n]").lines().count(), 2000 + 41);
    assert_eq!(q(fx::CHANGELOG, "[%{changelogtime}\n]").lines().count(), 12);
    assert!(q(fx::CHANGELOG, "[%{changelogname}|]").contains("   - 1.0-12   |"));
    assert_eq!(q(fx::META, "[%{filenames}\n]"), "");
    assert_eq!(q(fx::UTF8, "%{summary}"), "Ünïcödé fixture – 日本語 ✓");

    // Latin-1 bytes survive (rpm prints them raw; not valid UTF-8).
    let out = std::process::Command::new("rpm")
        .args(["-qp", "--qf", "%{summary}"])
        .arg(fixture(fx::LATIN1))
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout.clone()).is_err());
    assert!(out.stdout.windows(2).any(|w| w == b"\xe0\xe1"));

    let files = q(fx::NAMES, "[%{filenames}\n]");
    for name in [
        "file with spaces.txt",
        "a&b/c&d.txt",
        "<angle>/<x>.txt",
        "ümlaut ß.txt",
    ] {
        assert!(files.contains(name), "{name} missing from {files}");
    }
    let basic = q(
        fx::BASIC,
        "[%{fileflags:fflags} %{filemodes:perms} %{filenames}\n]",
    );
    for (flags, path) in [
        ("c ", "/etc/fx-basic.conf"),
        ("cn ", "/etc/fx-basic.d/10-default.conf"),
        ("g ", "/var/log/fx-basic.log"),
        ("g drwx", "/run/fx-basic"),
        ("d ", "/usr/share/doc/fx-basic/README"),
        ("l ", "/usr/share/licenses/fx-basic/COPYING"),
    ] {
        assert!(
            basic
                .lines()
                .any(|l| l.starts_with(flags) && l.ends_with(path)),
            "{flags}{path} not in\n{basic}"
        );
    }
    assert!(basic.contains("lrwxrwxrwx /usr/share/fx-basic/link-to-data"));
    assert!(basic.contains(" drwxr-xr-x /var/lib/fx-basic"));

    let deps = q(
        fx::DEPS,
        "[R %{requirename} %{requireflags:deptype} %{requireversion}\n]\
         [P %{providename}\n][C %{conflictname}\n][O %{obsoletename}\n]\
         [REC %{recommendname}\n][SUG %{suggestname}\n][SUP %{supplementname}\n][ENH %{enhancename}\n]",
    );
    for needle in [
        "R fx-pre pre",
        "R fx-post post",
        "R fx-preun preun",
        "R fx-pretrans pretrans",
        "R (fx-lib >= 1.0 or fx-basic)",
        "R fx-weird-release manual 1.0-",
        "C fx-c-ge",
        "O fx-o-eq",
        "REC fx-rec-versioned",
        "SUG fx-sug",
        "SUP (fx-lib and fx-basic)",
        "ENH fx-enh",
    ] {
        assert!(deps.contains(needle), "{needle:?} missing from\n{deps}");
    }
    let libc = q(fx::X86, "[%{requirename}\n]");
    assert_eq!(
        libc.lines().filter(|l| l.starts_with("libc.so.6")).count(),
        4
    );
}

#[test]
fn dnf_lists_every_fixture_over_file_url() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), None).unwrap();
    assert_eq!(
        dnf_nevras(&file_url(repo.path())).unwrap(),
        fixture_nevras()
    );
}

#[test]
fn dnf_lists_every_fixture_over_http_and_reads_file_lists() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), None).unwrap();
    let server = StaticServer::start(repo.path()).unwrap();
    let url = server.url();
    assert_eq!(dnf_nevras(&url).unwrap(), fixture_nevras());
    assert!(server.requests() >= 2, "dnf fetched repomd.xml and primary");
    // filelists: which package owns an awkward path.
    let owner = dnf_repoquery(
        &url,
        &[
            "--qf",
            "%{name}",
            "--whatprovides",
            "/usr/share/fx-names/a&b/c&d.txt",
        ],
    )
    .unwrap();
    assert_eq!(owner.trim(), "fx-names");
}

#[test]
fn dnf_installs_with_dependencies_and_rejects_a_corrupted_package() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(
        repo.path(),
        Some(&[fx::META, fx::BASIC, fx::LIB_1_0, fx::LIB_1_2, fx::CPP]),
    )
    .unwrap();
    let url = file_url(repo.path());
    let root = tempfile::tempdir().unwrap();
    dnf_install(&url, "fx-meta", root.path()).unwrap();
    assert_eq!(
        fs::read_to_string(root.path().join("etc/fx-basic.conf")).unwrap(),
        "key = value\n"
    );
    // The newest fx-lib was chosen.
    assert_eq!(
        fs::read_to_string(root.path().join("usr/share/fx-common/shared.txt")).unwrap(),
        "fx-lib 1.2\n"
    );

    // Same size, different bytes: only the checksum can tell.
    let victim = repo.path().join(fx::CPP);
    let len = fs::metadata(&victim).unwrap().len();
    overwrite_at(&victim, len - 16, b"corrupted bytes!").unwrap();
    let root2 = tempfile::tempdir().unwrap();
    let err = dnf_install(&url, "fx-c++", root2.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("incorrect checksum"), "{err}");
}

#[test]
fn dnf_installs_over_http_including_a_file_name_with_a_space() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), Some(&[fx::SPACE])).unwrap();
    let server = StaticServer::start(repo.path()).unwrap();
    let root = tempfile::tempdir().unwrap();
    dnf_install(&server.url(), "fx-space", root.path()).unwrap();
    assert!(root.path().join("usr/share/fx-space/space.txt").is_file());
}

#[test]
fn zypper_finds_packages() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), None).unwrap();
    let hits = zypper_search(&file_url(repo.path()), "fx-lib").unwrap();
    let mut editions: Vec<&str> = hits
        .iter()
        .filter(|h| h.name == "fx-lib")
        .map(|h| h.edition.as_str())
        .collect();
    editions.sort();
    assert_eq!(editions, ["1.0-1", "1.2-1"]);
    assert!(zypper_search(&file_url(repo.path()), "no-such-package-xyz")
        .unwrap()
        .is_empty());

    // And over http.
    let server = StaticServer::start(repo.path()).unwrap();
    let hits = zypper_search(&server.url(), "fx-epoch").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].edition, "3:2.5.1~rc1^git7-4.fc40");
}

#[test]
fn zypper_installs_and_rejects_a_corrupted_package() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), Some(&[fx::SPACE, fx::CPP, fx::EPOCH])).unwrap();
    let server = StaticServer::start(repo.path()).unwrap();
    let root = tempfile::tempdir().unwrap();
    zypper_install(&server.url(), "fx-space", root.path()).unwrap();
    zypper_install(&server.url(), "fx-epoch", root.path()).unwrap();
    assert!(root.path().join("usr/share/fx-space/space.txt").is_file());
    assert!(root.path().join("usr/share/fx-epoch/epoch.txt").is_file());

    let victim = repo.path().join(fx::CPP);
    let len = fs::metadata(&victim).unwrap().len();
    overwrite_at(&victim, len - 16, b"corrupted bytes!").unwrap();
    let err = zypper_install(&server.url(), "fx-c++", root.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.to_lowercase().contains("digest") || err.contains("checksum"),
        "{err}"
    );
    assert!(!root.path().join("usr/share/fx-c++").exists());
}

#[test]
fn broken_repodata_is_an_error_not_an_empty_repo() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), Some(&[fx::BASIC])).unwrap();
    let repodata = repo.path().join("repodata");
    let primary = fs::read_dir(&repodata)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("primary.xml.gz"))
        .unwrap();
    overwrite_at(&primary, 20, b"XXXX").unwrap();
    // librepo checks the file against repomd.xml's checksum and gives up on it.
    let err = dnf_nevras(&file_url(repo.path())).unwrap_err().to_string();
    assert!(err.contains("primary.xml.gz"), "{err}");
    assert!(err.contains("Failed to download metadata"), "{err}");
}

fn http_get(port: u16, request: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn static_server_serves_ranges_and_decodes_paths() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a b+c.txt"), b"0123456789").unwrap();
    let server = StaticServer::start(dir.path()).unwrap();
    let port: u16 = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let get = |path: &str, extra: &str| {
        String::from_utf8(http_get(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"),
        ))
        .unwrap()
    };
    let full = get("/a%20b+c.txt", "");
    assert!(full.starts_with("HTTP/1.1 200 OK\r\n"), "{full}");
    assert!(full.ends_with("\r\n\r\n0123456789"));
    let part = get("/a%20b+c.txt", "Range: bytes=2-4\r\n");
    assert!(part.starts_with("HTTP/1.1 206 "), "{part}");
    assert!(part.contains("Content-Range: bytes 2-4/10\r\n"));
    assert!(part.ends_with("\r\n\r\n234"));
    assert!(get("/a%20b+c.txt", "Range: bytes=10-\r\n").starts_with("HTTP/1.1 416 "));
    assert!(get("/missing", "").starts_with("HTTP/1.1 404 "));
    assert!(get("/../etc/passwd", "").starts_with("HTTP/1.1 404 "));
    drop(server);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server stopped"
    );
}

#[test]
fn free_port_is_bindable() {
    let port = free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
}

#[test]
fn createrepo_c_errors_are_reported() {
    let missing = tempfile::tempdir().unwrap().path().join("nope");
    let err = createrepo_c(&missing, &[]).unwrap_err().to_string();
    assert!(err.contains("createrepo_c"), "{err}");
}

/// Needs moto (scripts/test.sh): a public bucket holding a createrepo_c repo
/// is readable by dnf and zypper, including keys with `+` and a space.
#[test]
fn dnf_and_zypper_read_a_public_moto_bucket() {
    let endpoint = s3_endpoint();
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), Some(&[fx::CPP, fx::SPACE, fx::LIB_1_2])).unwrap();
    let bucket = unique_bucket("helpers");
    let url = s3_create_public_bucket(&endpoint, &bucket).unwrap();
    let keys = s3_upload_dir(&endpoint, &bucket, "el9/", repo.path()).unwrap();
    assert!(
        keys.contains(&"el9/repodata/repomd.xml".to_owned()),
        "{keys:?}"
    );
    assert!(keys.contains(&format!("el9/{}", fx::CPP)));

    let url = format!("{url}/el9");
    let expected: BTreeSet<String> = [fx::CPP, fx::SPACE, fx::LIB_1_2]
        .iter()
        .map(|n| rpm_nevra(&fixture(n)).unwrap())
        .collect();
    assert_eq!(dnf_nevras(&url).unwrap(), expected);
    let root = tempfile::tempdir().unwrap();
    dnf_install(&url, "fx-c++", root.path()).unwrap();
    dnf_install(&url, "fx-space", root.path()).unwrap();
    assert!(root.path().join("usr/share/fx-c++/plus.txt").is_file());
    assert!(root.path().join("usr/share/fx-space/space.txt").is_file());

    let hits = zypper_search(&url, "fx-space").unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
}

#[test]
fn repodata_of_createrepo_c_can_be_read_back() {
    let repo = tempfile::tempdir().unwrap();
    fixture_repo(repo.path(), Some(&[fx::UTF8, fx::NAMES])).unwrap();
    let kinds: Vec<String> = repomd_locations(repo.path()).unwrap().into_keys().collect();
    assert_eq!(
        kinds,
        [
            "filelists",
            "filelists_db",
            "other",
            "other_db",
            "primary",
            "primary_db"
        ]
    );
    let primary = repodata_xml(repo.path(), "primary").unwrap();
    assert!(primary.contains("<summary>Ünïcödé fixture – 日本語 ✓</summary>"));
    assert!(primary.contains(r#"packages="2""#));
    let filelists = repodata_xml(repo.path(), "filelists").unwrap();
    assert!(filelists.contains("<file>/usr/share/fx-names/a&amp;b/c&amp;d.txt</file>"));
    // The bz2 sqlite database decompresses to an SQLite file.
    let href = &repomd_locations(repo.path()).unwrap()["primary_db"];
    let db = read_decompressed(&repo.path().join(href)).unwrap();
    assert!(db.starts_with(b"SQLite format 3\0"));
}

/// Golden files may depend on fixture bytes: a second build must be identical.
#[test]
fn fixture_build_is_reproducible() {
    let again = tempfile::tempdir().unwrap();
    run(std::process::Command::new("bash")
        .arg(repo_root().join("tests/fixtures/build.sh"))
        .arg(again.path()))
    .unwrap();
    for name in fx::ALL {
        assert!(
            fs::read(again.path().join(name)).unwrap() == fs::read(fixture(name)).unwrap(),
            "{name} differs between two builds"
        );
    }
}
