//! createrepo_c parity as clients see it: `rpmbucket index DIR` and `createrepo_c DIR` on copies
//! of the fixtures give dnf the same packages with the same dependencies of every kind, and
//! zypper the same search results and package information.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rpmbucket_tests::{
    createrepo_c, dnf_repoquery, file_url, fixture_rpms, rpmbucket_bin, run, zypper_search,
    NEVRA_DNF_QF, TEST_REPO_ID,
};

/// The dependency kinds dnf reports (its `--requires`, `--provides`, … options).
const DEP_TAGS: [&str; 8] = [
    "requires",
    "provides",
    "recommends",
    "suggests",
    "supplements",
    "enhances",
    "conflicts",
    "obsoletes",
];

/// Copies of the fixtures indexed by rpmbucket (`ours`) and by createrepo_c (`theirs`).
struct Repos {
    _tmp: tempfile::TempDir,
    ours: PathBuf,
    theirs: PathBuf,
}

fn repos() -> Repos {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    for dir in [&ours, &theirs] {
        fs::create_dir_all(dir).unwrap();
        for rpm in fixture_rpms() {
            fs::copy(&rpm, dir.join(rpm.file_name().unwrap())).unwrap();
        }
    }
    run(Command::new(rpmbucket_bin())
        .arg("index")
        .arg("-q")
        .arg(&ours))
    .unwrap();
    createrepo_c(&theirs, &[]).unwrap();
    Repos {
        _tmp: tmp,
        ours,
        theirs,
    }
}

/// Per package (NEVRA), per dependency kind, the sorted dependencies dnf reports.
type Deps = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn dnf_deps(repo: &Path) -> Deps {
    let mut qf = format!("@@{NEVRA_DNF_QF}\n");
    for tag in DEP_TAGS {
        qf.push_str(&format!("#{tag}\n%{{{tag}}}\n"));
    }
    let out = dnf_repoquery(&file_url(repo), &["--all", "--qf", &qf]).unwrap();
    let mut deps = Deps::new();
    let (mut pkg, mut tag) = (None::<String>, None::<String>);
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(nevra) = line.strip_prefix("@@") {
            pkg = Some(nevra.to_owned());
            tag = None;
            deps.entry(nevra.to_owned()).or_default();
        } else if let Some(t) = line.strip_prefix('#').filter(|t| DEP_TAGS.contains(t)) {
            tag = Some(t.to_owned());
        } else {
            let (Some(p), Some(t)) = (&pkg, &tag) else {
                panic!("unexpected repoquery line {line:?} in:\n{out}");
            };
            deps.get_mut(p)
                .unwrap()
                .entry(t.clone())
                .or_default()
                .push(line.to_owned());
        }
    }
    for kinds in deps.values_mut() {
        kinds.values_mut().for_each(|v| v.sort());
    }
    deps
}

#[test]
fn dnf_sees_the_same_packages_and_dependencies() {
    let r = repos();
    let ours = dnf_deps(&r.ours);
    let theirs = dnf_deps(&r.theirs);
    assert_eq!(ours.len(), fixture_rpms().len(), "{:?}", ours.keys());
    // The fixtures exercise every kind (fx-deps has them all), so equality is not vacuous.
    for tag in DEP_TAGS {
        assert!(
            theirs.values().any(|k| k.contains_key(tag)),
            "no fixture has {tag}"
        );
    }
    pretty_assertions::assert_eq!(ours, theirs);
}

/// `zypper info NAMES` against the repository (fresh root; zypper verifies the checksums).
fn zypper_info(repo_url: &str, names: &[String]) -> String {
    let root = tempfile::tempdir().unwrap();
    let zypper = |args: &[&str]| {
        let mut cmd = Command::new("zypper");
        cmd.args(["--non-interactive", "--no-color", "--root"])
            .arg(root.path())
            .args(args)
            .env("ZYPP_LOCKFILE_ROOT", root.path())
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null());
        for var in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] {
            cmd.env_remove(var);
        }
        cmd
    };
    run(&mut zypper(&[
        "addrepo",
        "-G",
        "-f",
        repo_url,
        TEST_REPO_ID,
    ]))
    .unwrap();
    run(&mut zypper(&["--gpg-auto-import-keys", "refresh"])).unwrap();
    let mut args = vec!["info"];
    args.extend(names.iter().map(String::as_str));
    run(&mut zypper(&args)).unwrap()
}

#[test]
fn zypper_sees_the_same_packages() {
    let r = repos();
    let (ours, theirs) = (file_url(&r.ours), file_url(&r.theirs));
    let hits = zypper_search(&ours, "fx").unwrap();
    // Binary packages (zypper lists source packages under another type).
    assert_eq!(hits.len(), fixture_rpms().len() - 1, "{hits:?}");
    assert_eq!(hits, zypper_search(&theirs, "fx").unwrap());

    let mut names: Vec<String> = hits.iter().map(|h| h.name.clone()).collect();
    names.dedup();
    let info = zypper_info(&ours, &names);
    for name in &names {
        assert!(
            info.contains(&format!("Name           : {name}\n")),
            "{name}:\n{info}"
        );
    }
    pretty_assertions::assert_eq!(info, zypper_info(&theirs, &names));
}
