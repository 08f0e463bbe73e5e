//! The real `rpmbucket` binary with `--signing-key`: `index s3://` signs a moto bucket's
//! repository and dnf with `repo_gpgcheck=1` reads it straight from the bucket; a key rotation
//! with `reconcile DIR` (A, then A + B announced, then B signing) keeps dnf working for a
//! client that trusts A before and B after, and for one that loads the published keys.

use std::path::Path;
use std::process::Command;

use rpmbucket_engine::testkit::moto;
use rpmbucket_engine::{ObjectStore, PutOptions};
use rpmbucket_tests::gpg::{Algo, Gpg};
use rpmbucket_tests::{dnf_command, file_url, fixture, fx, rpmbucket_bin, run, TEST_REPO_ID};

fn rpmbucket(envs: &[(&str, String)], args: &[&str]) -> String {
    let mut cmd = Command::new(rpmbucket_bin());
    cmd.args(args)
        .env_remove("RPMBUCKET_PREFIXES")
        .env_remove("RPMBUCKET_LAYOUT")
        .env_remove("RPMBUCKET_SIGNING_KEY");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run(&mut cmd).unwrap()
}

/// `dnf repoquery` with `repo_gpgcheck=1` and the key(s) at `gpgkey`, in `root`.
fn dnf_signed(baseurl: &str, gpgkey: &str, root: &Path) -> anyhow::Result<String> {
    run(dnf_command(baseurl, root)
        .arg(format!("--setopt={TEST_REPO_ID}.repo_gpgcheck=1"))
        .arg(format!("--setopt={TEST_REPO_ID}.gpgkey={gpgkey}"))
        .args(["-y", "repoquery", "--qf", "%{name}"]))
}

#[tokio::test(flavor = "multi_thread")]
async fn index_s3_signs_and_dnf_reads_the_bucket() {
    let gpg = Gpg::new().unwrap();
    let fpr = gpg.generate("Bucket Repo", Algo::Rsa).unwrap();
    let keyfile = gpg
        .write("key.asc", &gpg.export_secret(&[&fpr]).unwrap())
        .unwrap();
    let server = moto().await;
    let store = server.new_bucket().await;
    server.make_public(&store).await;
    for f in [fx::BASIC, fx::LIB_1_2] {
        store
            .put(
                &format!("el9/{f}"),
                std::fs::read(fixture(f)).unwrap().into(),
                PutOptions::default(),
            )
            .await
            .unwrap();
    }
    let url = format!("s3://{}", store.bucket());
    let envs: Vec<(&str, String)> = server.env_vars();
    let mut with_key = envs.clone();
    with_key.push(("RPMBUCKET_SIGNING_KEY", keyfile.display().to_string()));
    rpmbucket(&with_key, &["index", "--quiet", &url]);

    let base = format!("{}el9/", server.base_url(&store));
    let keyurl = format!("{base}repodata/repomd.xml.key");
    let root = tempfile::tempdir().unwrap();
    let out = dnf_signed(&base, &keyurl, root.path()).unwrap();
    assert!(out.contains("fx-basic") && out.contains("fx-lib"), "{out}");

    // One byte of repomd.xml changed in the bucket: dnf (fresh cache) refuses it.
    let key = "el9/repodata/repomd.xml";
    let (mut bytes, _) = store.get(key).await.map(|(b, m)| (b.to_vec(), m)).unwrap();
    let at = bytes.windows(10).position(|w| w == b"<revision>").unwrap() + 10;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    store
        .put(key, bytes.into(), PutOptions::default())
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let e = dnf_signed(&base, &keyurl, root.path()).unwrap_err();
    assert!(format!("{e:#}").contains("GPG"), "{e:#}");

    // `reconcile` with the key repairs the signature (re-signs what is there).
    let mut with_flag = envs.clone();
    with_flag.retain(|(k, _)| *k != "RPMBUCKET_SIGNING_KEY");
    let keyarg = keyfile.display().to_string();
    rpmbucket(
        &with_flag,
        &["reconcile", "--quiet", "--signing-key", &keyarg, &url],
    );
    let root = tempfile::tempdir().unwrap();
    dnf_signed(&base, &keyurl, root.path()).unwrap();
}

#[test]
fn rotation_keeps_dnf_working() {
    let gpg = Gpg::new().unwrap();
    let a = gpg.generate("Rotate A", Algo::Rsa).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = gpg.generate("Rotate B", Algo::Ed25519).unwrap();
    let pub_a = gpg
        .write("a.pub", &gpg.export_public(&[&a]).unwrap())
        .unwrap();
    let pub_b = gpg
        .write("b.pub", &gpg.export_public(&[&b]).unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::copy(fixture(fx::BASIC), repo.join(fx::BASIC)).unwrap();
    let base = format!("{}/", file_url(&repo));
    let published = format!("{base}repodata/repomd.xml.key");
    let key_a = format!("file://{}", pub_a.display());
    let key_b = format!("file://{}", pub_b.display());
    // A client that loads the published keys and keeps its cache across the rotation.
    let steady = tempfile::tempdir().unwrap();
    let reconcile = |keyfile: &Path| {
        let k = keyfile.display().to_string();
        let r = repo.display().to_string();
        rpmbucket(&[], &["reconcile", "--quiet", "--signing-key", &k, &r]);
    };
    let fresh = |key: &str| dnf_signed(&base, key, tempfile::tempdir().unwrap().path());

    // 1. A signs.
    reconcile(
        &gpg.write("k1.asc", &gpg.export_secret(&[&a]).unwrap())
            .unwrap(),
    );
    fresh(&key_a).unwrap();
    dnf_signed(&base, &published, steady.path()).unwrap();
    // 2. B announced: A still signs, both published.
    let k2 = gpg.export_secret(&[&a]).unwrap() + &gpg.export_public(&[&b]).unwrap();
    std::fs::write(
        repo.join("fx-lib-1.0-1.noarch.rpm"),
        std::fs::read(fixture(fx::LIB_1_0)).unwrap(),
    )
    .unwrap();
    reconcile(&gpg.write("k2.asc", &k2).unwrap());
    fresh(&key_a).unwrap();
    dnf_signed(&base, &published, steady.path()).unwrap();
    // 3. B signs: a client trusting B works, one trusting only A does not, the steady one does.
    reconcile(
        &gpg.write("k3.asc", &gpg.export_secret(&[&a, &b]).unwrap())
            .unwrap(),
    );
    fresh(&key_b).unwrap();
    assert!(
        fresh(&key_a).is_err(),
        "a client trusting only A accepted B's signature"
    );
    dnf_signed(&base, &published, steady.path()).unwrap();
}
