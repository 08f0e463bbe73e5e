//! What a test needs from its environment, and what happens when it is missing.
//!
//! A test that cannot run must never count as a pass in CI. Every test whose prerequisite (the
//! corpus of real RPMs, an external tool, a service) may be absent asks through [`skip`] or one
//! of the helpers built on it:
//!
//! - under CI ([`in_ci`]: the `CI` variable is set to anything but empty, `0` or `false`) the
//!   missing prerequisite is a failure: the helper panics with what was missing and why;
//! - elsewhere it writes a banner straight to the process's stderr (past the test harness's
//!   output capture, so `cargo test` shows it even for a passing test) and the test returns.
//!
//! ```no_run
//! let Some(corpus) = rpmbucket_testenv::corpus_dir() else { return };
//! if !rpmbucket_testenv::tool("createrepo_c") { return }
//! # let _ = corpus;
//! ```
//!
//! No dependencies: the pure `repodata` crate's tests use it as well as the end-to-end ones.

#![warn(missing_docs)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether the `CI` environment variable says this is a CI run (set, and not empty, `0` or
/// `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !v.is_empty() && v != "false" && v != "0"
    })
}

/// A prerequisite of the running test is missing: `what` says which, `hint` how to provide it.
///
/// # Panics
///
/// Under CI ([`in_ci`]): CI runs everything, so a missing prerequisite is a broken setup.
/// Elsewhere the test should return after this call; the banner names the test (libtest names
/// the test's thread after it).
pub fn skip(what: &str, hint: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    if in_ci() {
        panic!("{test}: {what} ({hint}); CI=true, so this is a failure, not a skip");
    }
    // Straight to the file descriptor: eprintln! output of a passing test is swallowed.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n**** SKIPPED {test}: {what} ({hint}) ****\n"
    );
}

/// The repository root (the workspace directory).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testenv lives inside the workspace")
        .to_path_buf()
}

/// The corpus of real RPMs (a directory with `rpms/`, `bad/` and `MANIFEST.tsv`):
/// `RPMBUCKET_CORPUS`, else `../shared/corpus` relative to the repository root. `None` after
/// [`skip`] when it is absent (which panics under CI).
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RPMBUCKET_CORPUS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("..").join("shared").join("corpus"));
    if dir.join("rpms").is_dir() {
        Some(dir)
    } else {
        skip(
            &format!("no corpus of real RPMs at {}", dir.display()),
            "set RPMBUCKET_CORPUS",
        );
        None
    }
}

/// Whether the external program `name` runs (`name --version` exits successfully); [`skip`]s
/// (which panics under CI) when it does not.
pub fn tool(name: &str) -> bool {
    let runs = Command::new(name)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        skip(
            &format!("`{name}` is not installed"),
            "scripts/test.sh installs it",
        );
    }
    runs
}

/// Creates `dir/repodata/` holding a `repomd.xml` with no records (what `modifyrepo_c` needs
/// to add a record to) and returns the path of `repodata/`. The tests that take `modifyrepo_c`
/// as the oracle for extra metadata start from it.
pub fn empty_repodata(dir: &Path) -> PathBuf {
    let repodata = dir.join("repodata");
    std::fs::create_dir(&repodata).expect("create repodata/");
    std::fs::write(
        repodata.join("repomd.xml"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision></repomd>\n",
    )
    .expect("write repodata/repomd.xml");
    repodata
}

/// Runs the installed `modifyrepo_c ARGS SRC REPODATA` (adds `src` to the repository whose
/// metadata is `repodata/`); panics with its stderr when it fails.
pub fn modifyrepo_c(args: &[&str], src: &Path, repodata: &Path) {
    run_installed(
        Command::new("modifyrepo_c")
            .args(args)
            .arg(src)
            .arg(repodata),
    );
}

/// Runs the installed `rpm --eval SCRIPT` (a macro, typically `%{lua: ...}` asking rpm's own
/// version rules) and returns the words it printed; panics with rpm's stderr when it fails. The
/// tests that take rpm as the oracle for version ordering use it.
pub fn rpm_eval_words(script: &str) -> Vec<String> {
    let out = run_installed(Command::new("rpm").arg("--eval").arg(script));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Runs `cmd`, a tool scripts/test.sh installs, and returns its output; panics with the command
/// and its stderr when it cannot start or fails.
fn run_installed(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?} (installed by scripts/test.sh): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the ignored test `child` of this binary with `CI` set to `ci` (or removed), in a child
    /// process so the variable never leaks into tests running in parallel; its stdout and stderr.
    fn in_child(child: &str, ci: Option<&str>) -> (bool, String) {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([child, "--exact", "--nocapture", "--ignored"])
            .env("RPMBUCKET_TESTENV_CHILD", "1");
        match ci {
            Some(v) => cmd.env("CI", v),
            None => cmd.env_remove("CI"),
        };
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn is_child() -> bool {
        std::env::var_os("RPMBUCKET_TESTENV_CHILD").is_some()
    }

    #[test]
    #[ignore = "run by skip_fails_under_ci_and_says_so_elsewhere in a child process"]
    fn child_skips() {
        if is_child() {
            skip("the moon is missing", "look up");
        }
    }

    #[test]
    #[ignore = "run by a missing_tool_fails_under_ci_and_says_so_elsewhere in a child process"]
    fn child_needs_tool() {
        if is_child() {
            assert!(!tool("rpmbucket-no-such-tool"));
        }
    }

    #[test]
    fn skip_fails_under_ci_and_says_so_elsewhere() {
        let name = "tests::child_skips";
        let (ok, text) = in_child(name, Some("true"));
        assert!(!ok, "CI=true must fail: {text}");
        assert!(text.contains("the moon is missing"), "{text}");
        assert!(text.contains("CI=true, so this is a failure"), "{text}");

        for ci in [None, Some(""), Some("false"), Some("0")] {
            let (ok, text) = in_child(name, ci);
            assert!(ok, "CI={ci:?} must skip: {text}");
            assert!(
                text.contains("SKIPPED tests::child_skips: the moon is missing (look up)"),
                "CI={ci:?}: {text}"
            );
        }
    }

    #[test]
    fn missing_tool_fails_under_ci_and_says_so_elsewhere() {
        let name = "tests::child_needs_tool";
        let (ok, text) = in_child(name, Some("1"));
        assert!(!ok, "CI=1 must fail: {text}");
        assert!(
            text.contains("`rpmbucket-no-such-tool` is not installed"),
            "{text}"
        );
        let (ok, text) = in_child(name, None);
        assert!(ok, "{text}");
        assert!(
            text.contains("SKIPPED tests::child_needs_tool: `rpmbucket-no-such-tool`"),
            "{text}"
        );
    }

    #[test]
    fn tool_finds_an_installed_program() {
        // `cargo` runs these tests, so it is on PATH (or CARGO names it).
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        assert!(tool(&cargo));
    }
}
