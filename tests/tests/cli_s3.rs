//! The real `rpmbucket` binary over the engine: `index s3://BUCKET[/PREFIX]` publishes every
//! repository of a moto bucket, `reconcile` (bucket and directory) reports and repairs exactly
//! the drift made behind its back, and dnf reads the result over HTTP (moto) or file://.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Output;

use rpmbucket_engine::testkit::{moto, MotoServer};
use rpmbucket_engine::{ObjectStore, PutOptions, S3Store};
use rpmbucket_tests::{dnf_nevras, file_url, fixture, fx, rpm_nevra, rpmbucket_command};
use serde_json::Value;

/// First repository: packages directly in the root directory.
const EL9: &str = "el9/x86_64/";
const EL9_PKGS: [&str; 5] = [fx::BASIC, fx::CPP, fx::SPACE, fx::LIB_1_0, fx::LIB_1_2];
/// Second repository: packages under `Packages/`, so the root is its parent.
const EL8: &str = "el8/noarch/";
const EL8_DIR: &str = "el8/noarch/Packages/f/";
const EL8_PKGS: [&str; 4] = [fx::EPOCH, fx::META, fx::CONFLICT, fx::DEPS_SRC];

/// Runs `rpmbucket ARGS` with the moto endpoint and credentials (if any) in its environment.
fn rpmbucket(server: Option<&MotoServer>, args: &[&str]) -> Output {
    let mut cmd = rpmbucket_command();
    cmd.args(args);
    if let Some(s) = server {
        for (k, v) in s.env_vars() {
            cmd.env(k, v);
        }
    }
    cmd.output().expect("run rpmbucket")
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "rpmbucket {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs and expects exit status `code`; returns stdout.
fn expect(server: Option<&MotoServer>, args: &[&str], code: i32) -> String {
    let out = rpmbucket(server, args);
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// The `--json` reports by repository root.
fn reports(stdout: &str) -> BTreeMap<String, Value> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["root"].as_str().expect("root").to_owned(), v)
        })
        .collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

fn keys(dir: &str, names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| format!("{dir}{n}")).collect()
}

fn nevras(names: &[&str]) -> BTreeSet<String> {
    names
        .iter()
        .map(|n| rpm_nevra(&fixture(n)).unwrap())
        .collect()
}

/// `added`/`removed` of one report.
fn changes(r: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    (strings(&r["added"]), strings(&r["removed"]))
}

async fn upload(store: &S3Store, dir: &str, names: &[&str]) {
    for n in names {
        store
            .put_file(&format!("{dir}{n}"), &fixture(n), PutOptions::default())
            .await
            .unwrap();
    }
}

/// Lines of `reconcile`'s text output starting with `marker` (`+`, `-`, `!`), as keys.
fn marked(stdout: &str, marker: &str) -> BTreeSet<String> {
    let prefix = format!("  {marker} ");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn index_and_reconcile_a_bucket_then_dnf_reads_it() {
    let server = moto().await;
    let store = server.new_bucket().await;
    let bucket = store.bucket().to_owned();
    upload(&store, EL9, &EL9_PKGS).await;
    upload(&store, EL8_DIR, &EL8_PKGS).await;
    let s = Some(&server);

    // A prefix selects the repositories under it.
    let url = format!("s3://{bucket}/el8");
    let out = reports(&expect(s, &["index", &url, "--json"], 0));
    assert_eq!(out.keys().collect::<Vec<_>>(), [EL8]);
    assert_eq!(changes(&out[EL8]).0, keys(EL8_DIR, &EL8_PKGS));

    // The whole bucket: the other repository is built, the first one reused as it is.
    let url = format!("s3://{bucket}/");
    let out = reports(&expect(s, &["index", &url, "--json"], 0));
    assert_eq!(out.keys().collect::<Vec<_>>(), [EL8, EL9]);
    assert_eq!(out[EL8]["unchanged"], true, "{}", out[EL8]);
    assert_eq!(changes(&out[EL9]).0, keys(EL9, &EL9_PKGS));
    assert_eq!(out[EL9]["packages"], EL9_PKGS.len());
    for r in out.values() {
        assert!(strings(&r["removed"]).is_empty() && r["rejected"] == Value::Array(vec![]));
    }

    // Again: nothing changed, no package is read.
    let text = expect(s, &["index", &url], 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "one summary line per repository: {text}");
    for (line, root) in lines.iter().zip([EL8, EL9]) {
        assert!(
            line.starts_with(&format!(
                "s3://{bucket}/{root}: added 0, removed 0, rejected 0;"
            )),
            "{line}"
        );
        assert!(
            line.contains("(unchanged)") && line.contains("range 0, stream 0"),
            "{line}"
        );
    }

    // Behind its back: delete one package, upload another.
    let gone = format!("{EL9}{}", fx::LIB_1_0);
    store.delete(&gone).await.unwrap();
    let new = format!("{EL8_DIR}{}", fx::X86);
    upload(&store, EL8_DIR, &[fx::X86]).await;

    let text = expect(s, &["reconcile", &format!("s3://{bucket}")], 0);
    assert_eq!(marked(&text, "+"), BTreeSet::from([new.clone()]), "{text}");
    assert_eq!(marked(&text, "-"), BTreeSet::from([gone.clone()]), "{text}");
    assert!(marked(&text, "!").is_empty(), "{text}");
    assert!(
        text.contains(&format!("s3://{bucket}/{EL9}: added 0, removed 1,")),
        "{text}"
    );
    assert!(
        text.contains(&format!("s3://{bucket}/{EL8}: added 1, removed 0,")),
        "{text}"
    );

    // Repaired: a second reconcile finds nothing.
    let out = reports(&expect(s, &["reconcile", &url, "--json"], 0));
    assert_eq!(out.len(), 2);
    for r in out.values() {
        let (added, removed) = changes(r);
        assert!(added.is_empty() && removed.is_empty(), "{r}");
    }

    // dnf reads both repositories straight from the bucket.
    server.make_public(&store).await;
    let base = format!("{}/{bucket}/", server.endpoint());
    let el9: Vec<&str> = EL9_PKGS.into_iter().filter(|n| *n != fx::LIB_1_0).collect();
    assert_eq!(dnf_nevras(&format!("{base}{EL9}")).unwrap(), nevras(&el9));
    let mut el8 = EL8_PKGS.to_vec();
    el8.push(fx::X86);
    assert_eq!(dnf_nevras(&format!("{base}{EL8}")).unwrap(), nevras(&el8));
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_packages_strict_and_errors() {
    let server = moto().await;
    let store = server.new_bucket().await;
    let bucket = store.bucket().to_owned();
    upload(&store, "repo/", &[fx::BASIC]).await;
    let junk = "repo/junk-1.0-1.noarch.rpm";
    store
        .put(junk, "not an rpm".into(), PutOptions::default())
        .await
        .unwrap();
    let s = Some(&server);
    let url = format!("s3://{bucket}/repo");

    // --strict: exit 2, the good package is still published, the bad one named on stderr.
    let args = ["index", url.as_str(), "--strict", "--json"];
    let out = rpmbucket(s, &args);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&args, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("s3://{bucket}/{junk}")),
        "{stderr}"
    );
    let r = &reports(&String::from_utf8_lossy(&out.stdout))["repo/"];
    assert_eq!(strings(&r["added"]), keys("repo/", &[fx::BASIC]));
    assert_eq!(r["rejected"][0][0], junk);

    // Still rejected on the next run, although nothing is read again.
    let out = reports(&expect(s, &["index", &url, "--strict", "--json"], 2));
    assert_eq!(out["repo/"]["unchanged"], true);
    expect(s, &["reconcile", &url, "--strict", "-q"], 2);
    // Without --strict a rejected package is not an error.
    expect(s, &["index", &url, "-q"], 0);
    expect(s, &["reconcile", &url, "-q"], 0);

    // Fixed by replacing the object: accepted, and --strict is satisfied.
    store
        .put_file(junk, &fixture(fx::UTF8), PutOptions::default())
        .await
        .unwrap();
    let out = reports(&expect(s, &["reconcile", &url, "--strict", "--json"], 0));
    assert_eq!(
        strings(&out["repo/"]["added"]),
        BTreeSet::from([junk.to_owned()])
    );

    // Errors: a missing bucket, engine options on a directory, --revision on a bucket.
    expect(s, &["index", "s3://no-such-bucket-rpmbucket/"], 1);
    expect(s, &["reconcile", "s3://no-such-bucket-rpmbucket/"], 1);
    let dir = tempfile::tempdir().unwrap();
    expect(None, &["index", dir.path().to_str().unwrap(), "--json"], 1);
    expect(s, &["index", &url, "--revision", "7"], 1);
    expect(None, &["reconcile", "/nonexistent/rpmbucket-test"], 1);
}

fn copy_into(dir: &Path, names: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    for n in names {
        fs::copy(fixture(n), dir.join(n)).unwrap();
    }
}

#[test]
fn reconcile_a_directory_then_dnf_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    copy_into(&root.join(EL9), &EL9_PKGS);
    copy_into(&root.join(EL8_DIR), &EL8_PKGS);
    let dir = root.to_str().unwrap();

    // The first reconcile publishes both repositories.
    let out = reports(&expect(None, &["reconcile", dir, "--json"], 0));
    assert_eq!(out.keys().collect::<Vec<_>>(), [EL8, EL9]);
    assert_eq!(changes(&out[EL9]).0, keys(EL9, &EL9_PKGS));
    assert_eq!(changes(&out[EL8]).0, keys(EL8_DIR, &EL8_PKGS));

    // Manual delete and copy.
    fs::remove_file(root.join(EL9).join(fx::LIB_1_0)).unwrap();
    copy_into(&root.join(EL8_DIR), &[fx::X86]);
    let out = reports(&expect(None, &["reconcile", dir, "--json"], 0));
    assert_eq!(
        changes(&out[EL9]),
        (BTreeSet::new(), keys(EL9, &[fx::LIB_1_0]))
    );
    assert_eq!(
        changes(&out[EL8]),
        (keys(EL8_DIR, &[fx::X86]), BTreeSet::new())
    );
    let out = reports(&expect(None, &["reconcile", dir, "--json"], 0));
    assert!(out.values().all(|r| r["unchanged"] == true), "{out:?}");

    let el9: Vec<&str> = EL9_PKGS.into_iter().filter(|n| *n != fx::LIB_1_0).collect();
    assert_eq!(
        dnf_nevras(&file_url(&root.join(EL9))).unwrap(),
        nevras(&el9)
    );
    let mut el8 = EL8_PKGS.to_vec();
    el8.push(fx::X86);
    assert_eq!(
        dnf_nevras(&file_url(&root.join(EL8))).unwrap(),
        nevras(&el8)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn layout_and_prefixes_choose_the_repositories() {
    let server = moto().await;
    let store = server.new_bucket().await;
    let bucket = store.bucket().to_owned();
    upload(&store, "tree/a/", &[fx::BASIC]).await;
    upload(&store, "tree/b/c/", &[fx::CPP]).await;
    upload(&store, "other/x/", &[fx::UTF8]).await;
    upload(&store, "other/y/", &[fx::NAMES]).await;
    let s = Some(&server);
    let tree = format!("s3://{bucket}/tree/");

    // `--layout prefix`: the given prefix is one repository of every package below it.
    let out = reports(&expect(
        s,
        &["index", &tree, "--layout", "prefix", "--json"],
        0,
    ));
    assert_eq!(out.keys().collect::<Vec<_>>(), ["tree/"]);
    assert_eq!(
        strings(&out["tree/"]["added"]),
        BTreeSet::from([
            format!("tree/a/{}", fx::BASIC),
            format!("tree/b/c/{}", fx::CPP)
        ])
    );

    // `--prefixes`: only repositories under them, whatever the location says.
    let all = format!("s3://{bucket}");
    let out = reports(&expect(
        s,
        &["index", &all, "--prefixes", "other/y,nowhere", "--json"],
        0,
    ));
    assert_eq!(out.keys().collect::<Vec<_>>(), ["other/y/"]);

    // Reconcile with the same layout: nothing drifted.
    let text = expect(s, &["reconcile", &tree, "--layout", "prefix"], 0);
    assert!(
        text.starts_with(&format!("{tree}: added 0, removed 0,")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");

    // The default layout (directory of the package) below `tree/a`.
    let out = reports(&expect(s, &["index", &format!("{tree}a"), "--json"], 0));
    assert_eq!(out.keys().collect::<Vec<_>>(), ["tree/a/"]);
    assert_eq!(
        strings(&out["tree/a/"]["added"]),
        BTreeSet::from([format!("tree/a/{}", fx::BASIC)])
    );

    // The default layout over `tree/` now: `tree/` keeps no package (they belong to
    // `tree/a/` and `tree/b/c/`), and a second reconcile finds nothing to do.
    let text = expect(s, &["reconcile", &tree], 0);
    assert!(
        text.starts_with(&format!("{tree}: added 0, removed 2,")),
        "{text}"
    );
    assert_eq!(
        marked(&text, "-"),
        BTreeSet::from([
            format!("tree/a/{}", fx::BASIC),
            format!("tree/b/c/{}", fx::CPP)
        ]),
        "{text}"
    );
    assert_eq!(
        marked(&text, "+"),
        BTreeSet::from([format!("tree/b/c/{}", fx::CPP)]),
        "{text}"
    );
    let out = reports(&expect(s, &["reconcile", &tree, "--json"], 0));
    assert_eq!(
        out.keys().collect::<Vec<_>>(),
        ["tree/", "tree/a/", "tree/b/c/"]
    );
    for r in out.values() {
        assert_eq!(r["unchanged"], true, "{r}");
    }

    // `index` applies other settings at once (nothing else changed) and stores them; `reconcile`
    // (like the Lambda) keeps a repository's stored settings whatever its own flags say.
    let y = format!("s3://{bucket}/other/y");
    let repomd = || async {
        let (body, _) = store.get("other/y/repodata/repomd.xml").await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    };
    for (extra, published, xz) in [
        (&["--no-database"][..], true, false),
        (&["--no-database"][..], false, false),
        (&["--no-database", "--compress-type=xz"][..], true, true),
        (&["--no-database", "--compress-type=xz"][..], false, true),
    ] {
        let mut args = vec!["index", y.as_str(), "--json"];
        args.extend(extra);
        let out = reports(&expect(s, &args, 0));
        assert_eq!(
            out["other/y/"]["unchanged"], !published,
            "{args:?}: {out:?}"
        );
        let md = repomd().await;
        assert!(!md.contains("primary_db"), "{args:?}: {md}");
        assert_eq!(md.contains("primary.xml.xz"), xz, "{args:?}: {md}");
    }
    let out = reports(&expect(s, &["reconcile", &y, "--json"], 0));
    assert_eq!(out["other/y/"]["unchanged"], true, "{out:?}");
    let md = repomd().await;
    assert!(
        md.contains("primary.xml.xz") && !md.contains("primary_db"),
        "{md}"
    );

    // An empty prefix becomes an empty repository (like createrepo_c on an empty directory).
    let out = reports(&expect(
        s,
        &["index", &format!("s3://{bucket}/empty/"), "--json"],
        0,
    ));
    assert_eq!(out["empty/"]["packages"], 0);
    assert!(store.head("empty/repodata/repomd.xml").await.is_ok());
}
