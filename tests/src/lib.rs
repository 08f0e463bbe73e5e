//! Shared helpers for the end-to-end tests.
//!
//! Everything here drives real tools (`rpmbuild`, `createrepo_c`, `dnf`,
//! `zypper`) and real files; nothing is mocked. `scripts/test.sh` prepares the
//! environment these helpers read:
//!
//! | variable | meaning | fallback |
//! |---|---|---|
//! | `RPMBUCKET_FIXTURES` | directory of built fixture RPMs | built once into the cache |
//! | `RPMBUCKET_CACHE` | cache directory | `$HOME/.cache/rpmbucket` |
//! | `RPMBUCKET_CORPUS` | corpus of real RPMs | `../shared/corpus` from the repo root |
//! | `RPMBUCKET_BIN` | the built `rpmbucket` binary | `$CARGO_TARGET_DIR/debug/rpmbucket` |
//! | `RPMBUCKET_TEST_S3_ENDPOINT` | moto S3 endpoint | none: [`s3_endpoint`] panics |
//!
//! ```no_run
//! let repo = tempfile::tempdir().unwrap();
//! for rpm in rpmbucket_tests::fixture_rpms() {
//!     std::fs::copy(&rpm, repo.path().join(rpm.file_name().unwrap())).unwrap();
//! }
//! rpmbucket_tests::createrepo_c(repo.path(), &[]).unwrap();
//! let url = rpmbucket_tests::file_url(repo.path());
//! let nevras = rpmbucket_tests::dnf_nevras(&url).unwrap();
//! assert!(nevras.contains("fx-basic-0:1.0-1.noarch"));
//! ```

#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{bail, Context as _, Result};
use sha2::{Digest as _, Sha256};

pub mod gen;
pub mod gpg;
pub mod http;
pub mod s3proxy;

pub use http::StaticServer;

/// File names of the fixture RPMs built by `tests/fixtures/build.sh`.
///
/// What each one covers is written at the top of its spec file in
/// `tests/fixtures/specs/`.
pub mod fx {
    /// `%config` files, plain/ghost dirs, ghost file, symlink, own-file requires. Installable
    /// (needs `fx-lib`).
    pub const BASIC: &str = "fx-basic-1.0-1.noarch.rpm";
    /// Older `fx-lib`; owns the file that conflicts with [`CONFLICT`].
    pub const LIB_1_0: &str = "fx-lib-1.0-1.noarch.rpm";
    /// Newer `fx-lib`; `/usr/lib/sendmail`, `/opt/fx/sbin/fx-tool`, `/usr/share/robin/x`.
    pub const LIB_1_2: &str = "fx-lib-1.2-1.noarch.rpm";
    /// Ships `/usr/share/fx-common/shared.txt` with content different from `fx-lib`'s.
    pub const CONFLICT: &str = "fx-conflict-0.9-2.noarch.rpm";
    /// No files at all; requires `fx-basic` and `fx-lib-api >= 1.0`.
    pub const META: &str = "fx-meta-1-0.noarch.rpm";
    /// Epoch 3, version `2.5.1~rc1^git7`.
    pub const EPOCH: &str = "fx-epoch-2.5.1~rc1^git7-4.fc40.noarch.rpm";
    /// UTF-8 summary, description, changelog and file names.
    pub const UTF8: &str = "fx-utf8-1.0-1.noarch.rpm";
    /// Latin-1 (invalid UTF-8) summary, description and changelog; no encoding tag.
    pub const LATIN1: &str = "fx-latin1-1.0-1.noarch.rpm";
    /// File names with spaces, `&`, `<`, `>`, quotes, `%20`, `+` and UTF-8.
    pub const NAMES: &str = "fx-names-1.0-1.noarch.rpm";
    /// 2,000 files in 40 directories.
    pub const MANY: &str = "fx-many-1.0-1.noarch.rpm";
    /// 12 changelog entries, equal dates, trailing spaces in authors.
    pub const CHANGELOG: &str = "fx-changelog-1.0-12.noarch.rpm";
    /// A `+` in the package (and file) name.
    pub const CPP: &str = "fx-c++-1.0-1.noarch.rpm";
    /// Package `fx-space`, stored under a file name with a space.
    pub const SPACE: &str = "fx space-1.0-1.noarch.rpm";
    /// Epoch 1; every dependency kind, operator, weak and rich dep, scriptlet requires.
    pub const DEPS: &str = "fx-deps-2.0-3.noarch.rpm";
    /// Source RPM of [`DEPS`].
    pub const DEPS_SRC: &str = "fx-deps-2.0-3.src.rpm";
    /// x86_64 with four `libc.so.6` requires and a provided library.
    pub const X86: &str = "fx-x86-1.0-1.x86_64.rpm";

    /// Every fixture file name, sorted.
    pub const ALL: [&str; 16] = [
        SPACE, BASIC, CPP, CHANGELOG, CONFLICT, DEPS, DEPS_SRC, EPOCH, LATIN1, LIB_1_0, LIB_1_2,
        MANY, META, NAMES, UTF8, X86,
    ];
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives inside the workspace")
        .to_path_buf()
}

/// Non-empty environment variable.
fn env_path(name: &str) -> Option<PathBuf> {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The cache directory: `RPMBUCKET_CACHE`, else `$HOME/.cache/rpmbucket`.
pub fn cache_dir() -> PathBuf {
    env_path("RPMBUCKET_CACHE")
        .or_else(|| env_path("HOME").map(|h| h.join(".cache").join("rpmbucket")))
        .unwrap_or_else(|| env::temp_dir().join("rpmbucket-cache"))
}

/// The corpus of real RPMs (see [`rpmbucket_testenv::corpus_dir`]: a failure under CI when
/// absent, a loud skip elsewhere).
pub use rpmbucket_testenv::corpus_dir;

/// The built `rpmbucket` binary: `RPMBUCKET_BIN`, else `debug/rpmbucket` under
/// `CARGO_TARGET_DIR` (or the workspace's `target/`). Panics with a hint when
/// it has not been built.
pub fn rpmbucket_bin() -> PathBuf {
    let bin = env_path("RPMBUCKET_BIN").unwrap_or_else(|| {
        env_path("CARGO_TARGET_DIR")
            .unwrap_or_else(|| repo_root().join("target"))
            .join("debug")
            .join("rpmbucket")
    });
    assert!(
        bin.is_file(),
        "rpmbucket binary not found at {} (run scripts/test.sh, or `cargo build -p rpmbucket` \
         and set RPMBUCKET_BIN)",
        bin.display()
    );
    bin
}

/// The proxy variables the test helpers remove from a child's environment: test traffic goes
/// to loopback only.
pub const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
];

/// Remove [`PROXY_VARS`] from `cmd`'s environment.
pub fn without_proxies(cmd: &mut Command) -> &mut Command {
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// A command running [`rpmbucket_bin`] with no proxies and no layout from the caller's
/// environment (`RPMBUCKET_PREFIXES`, `RPMBUCKET_LAYOUT` removed); add arguments and the
/// store's environment.
pub fn rpmbucket_command() -> Command {
    let mut cmd = Command::new(rpmbucket_bin());
    cmd.env_remove("RPMBUCKET_PREFIXES")
        .env_remove("RPMBUCKET_LAYOUT");
    without_proxies(&mut cmd);
    cmd
}

/// The moto S3 endpoint started by `scripts/test.sh` (`RPMBUCKET_TEST_S3_ENDPOINT`).
/// Panics when unset: S3 tests must not silently pass without a server.
pub fn s3_endpoint() -> String {
    env::var("RPMBUCKET_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("RPMBUCKET_TEST_S3_ENDPOINT is not set: run the tests through scripts/test.sh")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port on 127.0.0.1")
        .port()
}

/// `rpmbucket serve` (the binary `bin`) on a free port of 127.0.0.1, serving `root`; killed on
/// drop.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts [`Served`]: `bin serve --root ROOT --listen 127.0.0.1:PORT`, output discarded; returns
/// once the port accepts connections (panics after 20 s).
pub fn serve(bin: &Path, root: &Path) -> Served {
    let port = free_port();
    let child = std::process::Command::new(bin)
        .args(["serve", "--root", root.to_str().unwrap(), "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "rpmbucket serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// `file://` URL of a local directory (made absolute).
pub fn file_url(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!("file://{}", abs.display())
}

// ---------------------------------------------------------------------------
// Fixtures

/// Directory of the fixture RPMs (see [`fx`]).
///
/// Uses `RPMBUCKET_FIXTURES` when set; otherwise runs `tests/fixtures/build.sh`
/// once into `<cache>/fixtures/<hash of build.sh and specs>`. The build goes to
/// a private temporary directory that is renamed into place, so concurrent test
/// processes never see a half-built directory (the loser of the race throws its
/// copy away). `scripts/test.sh` uses the same key.
pub fn fixtures_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = env_path("RPMBUCKET_FIXTURES") {
            assert!(
                dir.join(fx::BASIC).is_file(),
                "RPMBUCKET_FIXTURES={} does not hold the fixtures",
                dir.display()
            );
            return dir;
        }
        build_fixtures_cached().unwrap_or_else(|e| panic!("building the test fixtures: {e:#}"))
    })
    .clone()
}

/// Path of one fixture, e.g. `fixture(fx::BASIC)`.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// All fixture RPM paths (binary and source), sorted by file name.
pub fn fixture_rpms() -> Vec<PathBuf> {
    list_rpms(&fixtures_dir()).expect("list fixture RPMs")
}

/// `*.rpm` files directly inside `dir`, sorted by file name.
pub fn list_rpms(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut rpms = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension() == Some(OsStr::new("rpm")) && path.is_file() {
            rpms.push(path);
        }
    }
    rpms.sort();
    Ok(rpms)
}

/// Cache key of the fixtures: first 16 hex digits of SHA-256 over
/// `build.sh` and `specs/*` (sorted by name), each as `path NUL content`.
/// `scripts/test.sh` computes the same key in shell.
pub fn fixtures_key() -> Result<String> {
    let base = repo_root().join("tests").join("fixtures");
    let mut names = vec!["build.sh".to_owned()];
    let mut specs: Vec<String> = fs::read_dir(base.join("specs"))?
        .map(|e| Ok(format!("specs/{}", e?.file_name().to_string_lossy())))
        .collect::<Result<_>>()?;
    specs.sort();
    names.extend(specs);
    let mut hash = Sha256::new();
    for name in names {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(fs::read(base.join(&name)).with_context(|| format!("reading {name}"))?);
    }
    Ok(hex::encode(hash.finalize())[..16].to_owned())
}

fn build_fixtures_cached() -> Result<PathBuf> {
    let root = cache_dir().join("fixtures");
    let dir = root.join(fixtures_key()?);
    if dir.is_dir() {
        return Ok(dir);
    }
    fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(&root)?;
    let script = repo_root().join("tests/fixtures/build.sh");
    run(Command::new("bash").arg(&script).arg(tmp.path()))?;
    let tmp = tmp.keep();
    if let Err(e) = fs::rename(&tmp, &dir) {
        let _ = fs::remove_dir_all(&tmp);
        if !dir.is_dir() {
            return Err(e).with_context(|| format!("moving fixtures to {}", dir.display()));
        }
    }
    Ok(dir)
}

// ---------------------------------------------------------------------------
// Running tools

/// Runs a command, returns its stdout; a non-zero exit is an error that quotes
/// the command line, the status and stderr.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("{cmd:?}: stdout is not UTF-8"))
}

/// `rpm -qp --qf FORMAT FILE` (with an empty rpm database of its own).
pub fn rpm_qf(rpm: &Path, format: &str) -> Result<String> {
    run(Command::new("rpm")
        .args(["-qp", "--nosignature", "--nodigest", "--qf", format])
        .arg(rpm)
        .env("LC_ALL", "C.UTF-8"))
}

/// `name-epoch:version-release.arch` of an RPM file, as dnf prints it
/// (`arch` is `src` for source packages; the epoch is `0` when absent).
pub fn rpm_nevra(rpm: &Path) -> Result<String> {
    rpm_qf(rpm, NEVRA_RPM_QF)
}

/// rpm query format giving the same text as [`NEVRA_DNF_QF`].
pub const NEVRA_RPM_QF: &str =
    "%{name}-%{epochnum}:%{version}-%{release}.%|SOURCEPACKAGE?{src}:{%{arch}}|";
/// dnf repoquery format for `name-epoch:version-release.arch`.
pub const NEVRA_DNF_QF: &str = "%{name}-%{epoch}:%{version}-%{release}.%{arch}";

/// `createrepo_c [ARGS] DIR` (quiet).
pub fn createrepo_c(dir: &Path, args: &[&str]) -> Result<()> {
    run(Command::new("createrepo_c")
        .arg("--quiet")
        .args(args)
        .arg(dir))?;
    Ok(())
}

/// Name of the repository the dnf and zypper helpers configure.
pub const TEST_REPO_ID: &str = "rpmbucket-test";

/// A `dnf` command configured for exactly one repository at `repo_url`
/// (`file://` or `http://`) and the given install root; add the subcommand.
///
/// No system repos (`reposdir=/dev/null`), no plugins, GPG checks off,
/// `skip_if_unavailable=0` (broken metadata is an error, not an empty repo),
/// metadata never considered fresh, and weak deps not installed. dnf always
/// verifies the checksums of repodata files against repomd.xml and of packages
/// against primary.xml (also for `file://` repos: "has incorrect checksum").
/// Proxy variables are removed: traffic goes to loopback only.
pub fn dnf_command(repo_url: &str, installroot: &Path) -> Command {
    let r = TEST_REPO_ID;
    let mut cmd = Command::new("dnf");
    cmd.arg("--setopt=reposdir=/dev/null")
        .arg(format!("--repofrompath={r},{repo_url}"))
        .args(["--repo", r, "--noplugins", "--releasever", "9"])
        .arg("--installroot")
        .arg(installroot)
        .arg(format!("--setopt={r}.gpgcheck=0"))
        .arg(format!("--setopt={r}.repo_gpgcheck=0"))
        .arg(format!("--setopt={r}.skip_if_unavailable=0"))
        .arg(format!("--setopt={r}.metadata_expire=0"))
        .arg("--setopt=install_weak_deps=0")
        .env("LC_ALL", "C.UTF-8");
    without_proxies(&mut cmd);
    cmd
}

/// `dnf repoquery ARGS` against the repository at `repo_url`, in a fresh
/// throw-away install root (so no cache from an earlier call is reused).
/// Returns stdout.
pub fn dnf_repoquery(repo_url: &str, args: &[&str]) -> Result<String> {
    let root = tempfile::tempdir()?;
    run(dnf_command(repo_url, root.path())
        .args(["--quiet", "repoquery"])
        .args(args))
}

/// All packages of the repository as `name-epoch:version-release.arch`.
pub fn dnf_nevras(repo_url: &str) -> Result<BTreeSet<String>> {
    let out = dnf_repoquery(repo_url, &["--all", "--qf", NEVRA_DNF_QF])?;
    Ok(out
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `dnf -y install PKG` from the repository at `repo_url` into `installroot`
/// (created if missing). dnf verifies each package's checksum before
/// installing. Returns stdout.
pub fn dnf_install(repo_url: &str, pkg: &str, installroot: &Path) -> Result<String> {
    fs::create_dir_all(installroot)?;
    run(dnf_command(repo_url, installroot).args(["-y", "install", pkg]))
}

/// One line of `zypper search` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZypperHit {
    /// Package name.
    pub name: String,
    /// `[epoch:]version-release`.
    pub edition: String,
    /// Architecture.
    pub arch: String,
}

/// A `zypper` command working on the system root `root` (non-interactive,
/// no colour, its own lock file so parallel tests do not collide, no proxies);
/// add the subcommand.
pub fn zypper_command(root: &Path) -> Command {
    let mut cmd = Command::new("zypper");
    cmd.args(["--non-interactive", "--no-color", "--root"])
        .arg(root)
        // zypper locks /run/zypp.pid by default; keep parallel tests apart.
        .env("ZYPP_LOCKFILE_ROOT", root)
        .env("LC_ALL", "C.UTF-8");
    without_proxies(&mut cmd);
    cmd
}

/// Adds the repository at `repo_url` (`file://` or `http://`) to the zypper
/// root `root` as [`TEST_REPO_ID`], without GPG checks, and refreshes it
/// (zypper verifies the repodata checksums against repomd.xml).
pub fn zypper_add_repo(repo_url: &str, root: &Path) -> Result<()> {
    fs::create_dir_all(root)?;
    run(zypper_command(root).args(["addrepo", "-G", "-f", repo_url, TEST_REPO_ID]))?;
    run(zypper_command(root).args(["--gpg-auto-import-keys", "refresh"]))?;
    Ok(())
}

/// Adds the repository at `repo_url` to a throw-away zypper root and runs
/// `zypper search -s TERM` (substring match on names). No match gives an
/// empty list.
pub fn zypper_search(repo_url: &str, term: &str) -> Result<Vec<ZypperHit>> {
    let root = tempfile::tempdir()?;
    zypper_add_repo(repo_url, root.path())?;
    let out = zypper_command(root.path())
        .args(["search", "-s", term])
        .stdin(Stdio::null())
        .output()?;
    // 104: ZYPPER_EXIT_INF_CAP_NOT_FOUND, i.e. no match.
    match out.status.code() {
        Some(0) => {}
        Some(104) => return Ok(Vec::new()),
        _ => bail!(
            "zypper search {term} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    Ok(parse_zypper_table(&String::from_utf8_lossy(&out.stdout)))
}

/// `zypper install --no-recommends PKG` from the repository at `repo_url`
/// into the system root `root` (created if missing; the repository is added
/// unless `root` already has it). zypper checks package checksums. Note that
/// zypper resolves file requires only against primary.xml's file list: a
/// package requiring one of its own non-primary files (kept by createrepo_c,
/// e.g. `fx-basic`) is not installable with zypper. Returns stdout.
pub fn zypper_install(repo_url: &str, pkg: &str, root: &Path) -> Result<String> {
    let listed = root
        .join("etc/zypp/repos.d")
        .join(format!("{TEST_REPO_ID}.repo"));
    if !listed.is_file() {
        zypper_add_repo(repo_url, root)?;
    }
    run(zypper_command(root).args(["install", "--no-recommends", pkg]))
}

/// Parses `zypper search -s` table rows: `S | Name | Type | Version | Arch | Repository`.
fn parse_zypper_table(out: &str) -> Vec<ZypperHit> {
    out.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            if cols.len() != 6 || cols[1] == "Name" || cols[2] != "package" {
                return None;
            }
            Some(ZypperHit {
                name: cols[1].to_owned(),
                edition: cols[3].to_owned(),
                arch: cols[4].to_owned(),
            })
        })
        .collect()
}

/// Copies the fixture RPMs (all, or those named) into `dir` and runs
/// `createrepo_c` there. Returns the copied paths.
pub fn fixture_repo(dir: &Path, names: Option<&[&str]>) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let sources = match names {
        Some(names) => names.iter().map(|n| fixture(n)).collect(),
        None => fixture_rpms(),
    };
    let mut copied = Vec::new();
    for src in sources {
        let dst = dir.join(src.file_name().expect("fixture has a file name"));
        fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
        copied.push(dst);
    }
    createrepo_c(dir, &[])?;
    Ok(copied)
}

/// Writes `bytes` at `offset` inside an existing file (to corrupt it in place).
pub fn overwrite_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    use std::io::{Seek as _, SeekFrom};
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(bytes)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading repodata

/// `type → href` of every `<data>` entry in `repo/repodata/repomd.xml`
/// (e.g. `"primary" → "repodata/…-primary.xml.gz"`).
pub fn repomd_locations(repo: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let path = repo.join("repodata").join("repomd.xml");
    let xml = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = std::collections::BTreeMap::new();
    for chunk in xml.split("<data type=\"").skip(1) {
        let kind = chunk.split('"').next().unwrap_or_default();
        let href = chunk
            .split("<location href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .with_context(|| format!("no location for {kind} in {}", path.display()))?;
        out.insert(kind.to_owned(), href.to_owned());
    }
    Ok(out)
}

/// Reads a (possibly compressed) file: `.gz`, `.bz2`, `.zst`, `.xz` are
/// decompressed, anything else is returned as is.
pub fn read_decompressed(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let raw = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
    } else if name.ends_with(".bz2") {
        bzip2::read::MultiBzDecoder::new(&raw[..]).read_to_end(&mut out)?;
    } else if name.ends_with(".zst") {
        out = zstd::decode_all(&raw[..])?;
    } else if name.ends_with(".xz") {
        xz2::read::XzDecoder::new_multi_decoder(&raw[..]).read_to_end(&mut out)?;
    } else {
        out = raw;
    }
    Ok(out)
}

/// The decompressed text of one repodata file named in repomd.xml, e.g.
/// `repodata_xml(dir, "primary")`.
pub fn repodata_xml(repo: &Path, kind: &str) -> Result<String> {
    let locations = repomd_locations(repo)?;
    let href = locations
        .get(kind)
        .with_context(|| format!("repomd.xml of {} has no {kind}", repo.display()))?;
    let bytes = read_decompressed(&repo.join(href))?;
    String::from_utf8(bytes).with_context(|| format!("{href} is not UTF-8"))
}

// ---------------------------------------------------------------------------
// S3 (moto) through curl

/// A bucket name no other test uses: `PREFIX-PID-COUNTER-NANOS`, lowercase,
/// at most 63 characters (S3 names need 3..=63 characters).
pub fn unique_bucket(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "{}-{}-{}-{nanos}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    name.chars().take(63).collect()
}

/// Percent-encodes an S3 key for a URL path: everything but unreserved
/// characters and `/` (so `+` becomes `%2B` and a space `%20`).
pub fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(key, KEEP).to_string()
}

/// `curl` signing requests with SigV4 and the dummy credentials `test:test`
/// (what moto accepts), failing on HTTP errors.
fn s3_curl() -> Command {
    let mut cmd = Command::new("curl");
    cmd.args([
        "--silent",
        "--show-error",
        "--fail-with-body",
        "--max-time",
        "60",
    ])
    .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"]);
    cmd
}

/// Creates `bucket` at the S3 `endpoint` with a policy that lets anonymous
/// clients (dnf, zypper, curl) GET its objects; moto answers 403 otherwise.
///
/// The policy names `s3:HeadObject` besides `s3:GetObject`: moto checks HEAD
/// against that (non-AWS) action and zypper HEADs repomd.xml before the GET.
/// AWS itself covers HEAD with `s3:GetObject` and rejects the unknown action,
/// so this policy is for moto only.
/// Returns the bucket's base URL (`ENDPOINT/BUCKET`, path style).
pub fn s3_create_public_bucket(endpoint: &str, bucket: &str) -> Result<String> {
    let url = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
    run(s3_curl().args(["-X", "PUT", &url]))?;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:HeadObject"],"Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    run(s3_curl()
        .args(["-X", "PUT", "-H", "Content-Type: application/json"])
        .args(["--data-binary", &policy])
        .arg(format!("{url}?policy")))?;
    Ok(url)
}

/// Uploads a local file to `bucket/key`. Uses `curl -T`: with `--data-binary`
/// curl sends a form content type and moto stores an empty object.
pub fn s3_put_file(endpoint: &str, bucket: &str, key: &str, file: &Path) -> Result<()> {
    let url = format!(
        "{}/{bucket}/{}",
        endpoint.trim_end_matches('/'),
        encode_key(key)
    );
    run(s3_curl()
        .arg("-T")
        .arg(file)
        .arg(&url)
        .args(["-o", "/dev/null"]))?;
    Ok(())
}

/// Uploads every file under `dir` (recursively) to `bucket` under `prefix`
/// (`""` or ending in `/`). Returns the keys, sorted.
pub fn s3_upload_dir(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
    dir: &Path,
) -> Result<Vec<String>> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &format!("{rel}{name}/"), out)?;
            } else {
                out.push((format!("{rel}{name}"), path));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, prefix, &mut files)?;
    files.sort();
    for (key, path) in &files {
        s3_put_file(endpoint, bucket, key, path)?;
    }
    Ok(files.into_iter().map(|(k, _)| k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zypper_table_rows() {
        let out = "Loading repository data...\n\nS | Name   | Type    | Version | Arch   | Repository\n\
                   --+--------+---------+---------+--------+-----------\n  | fx-lib | package | 1.2-1   | noarch | t\n  \
                   | fx-lib | srcpackage | 1.2-1 | noarch | t\n";
        assert_eq!(
            parse_zypper_table(out),
            vec![ZypperHit {
                name: "fx-lib".into(),
                edition: "1.2-1".into(),
                arch: "noarch".into()
            }]
        );
    }

    #[test]
    fn keys_are_encoded_for_paths() {
        assert_eq!(encode_key("a/fx-c++ 1.0~x.rpm"), "a/fx-c%2B%2B%201.0~x.rpm");
        assert_eq!(encode_key("ü&<>"), "%C3%BC%26%3C%3E");
    }

    #[test]
    fn bucket_names_are_valid_and_unique() {
        let (a, b) = (unique_bucket("Repo"), unique_bucket("repo"));
        assert_ne!(a, b);
        assert!(a.starts_with("repo-") && a.len() <= 63);
    }

    #[test]
    fn fx_all_is_sorted_and_unique() {
        let mut sorted = fx::ALL.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, fx::ALL.to_vec());
    }
}
