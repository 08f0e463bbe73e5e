//! Signed repositories and the package-signature policy on the local server, with the real
//! `gpg`, `rpmsign`, `curl`, `dnf` and `zypper`: the published `repomd.xml.asc` verifies with
//! `gpg --verify` and the published key; dnf with `repo_gpgcheck=1` reads the repository and
//! refuses it once one byte of `repomd.xml` changes; zypper refreshes it as signed after
//! importing the key; refused packages are reported by `/status` with their reason and the
//! accepted one installs with `gpgcheck=1`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use rpmbucket_engine::{PackagePolicy, RepoConfig, Signer, TrustedKeys};
use rpmbucket_gateway::{LocalOptions, LocalServer};
use rpmbucket_tests::gpg::{policy_packages, Algo, Gpg};
use rpmbucket_tests::{dnf_command, fixture, fx, zypper_command, TEST_REPO_ID};

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    async fn start(root: &Path, config: RepoConfig) -> Running {
        let opts = LocalOptions::new(root)
            .with_listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .with_config(config);
        let server = LocalServer::bind(opts).await.unwrap();
        let addr = server.addr();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        Running {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// Run a command off the runtime: (success, stdout, stderr).
async fn run(mut cmd: Command) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn curl(args: &[&str]) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--noproxy", "*"]).args(args);
    c
}

async fn upload(srv: &Running, file: &Path, dir: &str) {
    let f = file.display().to_string();
    let (ok, out, err) = run(curl(&["-f", "-T", &f, &srv.url(dir)])).await;
    assert!(ok, "upload {f}: {out} {err}");
}

/// dnf with `repo_gpgcheck=1` and the key at `gpgkey`, in `root`: `args` after the options.
fn dnf_signed(baseurl: &str, gpgkey: &str, root: &Path, args: &[&str]) -> Command {
    let mut c = dnf_command(baseurl, root);
    c.arg(format!("--setopt={TEST_REPO_ID}.repo_gpgcheck=1"))
        .arg(format!("--setopt={TEST_REPO_ID}.gpgkey={gpgkey}"))
        .args(args);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_repository_is_verified_by_gpg_dnf_and_zypper() {
    let gpg = Gpg::new().unwrap();
    let fpr = gpg.generate("Local Repo", Algo::Rsa).unwrap();
    let signer = Signer::from_armored(&gpg.export_secret(&[&fpr]).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(dir.path(), RepoConfig::default().with_signer(Some(signer))).await;
    for f in [fx::LIB_1_2, fx::BASIC] {
        upload(&srv, &fixture(f), "el9/").await;
    }
    let (ok, out, _) = run(curl(&[
        "-f",
        &srv.url("status/el9/fx-basic-1.0-1.noarch.rpm?wait=30"),
    ]))
    .await;
    assert!(ok, "{out}");

    // gpg --verify with the key the server publishes.
    let work = tempfile::tempdir().unwrap();
    for name in ["repomd.xml", "repomd.xml.asc", "repomd.xml.key"] {
        let out = work.path().join(name).display().to_string();
        let (ok, _, err) = run(curl(&[
            "-f",
            "-o",
            &out,
            &srv.url(&format!("el9/repodata/{name}")),
        ]))
        .await;
        assert!(ok, "{name}: {err}");
    }
    let key = std::fs::read_to_string(work.path().join("repomd.xml.key")).unwrap();
    let verified = Gpg::verify_with(
        &key,
        &work.path().join("repomd.xml.asc"),
        &work.path().join("repomd.xml"),
    )
    .unwrap();
    assert!(verified.contains("Good signature"), "{verified}");

    // The .repo file asks for metadata checks with the published key.
    let (ok, repo, _) = run(curl(&["-f", &srv.url("el9/el9.repo")])).await;
    assert!(ok);
    assert!(repo.contains("repo_gpgcheck=1\n"), "{repo}");
    assert!(repo.contains("gpgcheck=0\n"), "{repo}");
    let keyurl = srv.url("el9/repodata/repomd.xml.key");
    assert!(repo.contains(&format!("gpgkey={keyurl}\n")), "{repo}");

    // dnf with repo_gpgcheck=1 reads it.
    let base = srv.url("el9/");
    let root = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dnf_signed(
        &base,
        &keyurl,
        root.path(),
        &["-y", "repoquery", "--qf", "%{name}", "fx-basic"],
    ))
    .await;
    assert!(ok && out.contains("fx-basic"), "{out}\n{err}");

    // zypper refreshes it as signed once the key is imported.
    let zroot = tempfile::tempdir().unwrap();
    let mut ar = zypper_command(zroot.path());
    ar.args(["addrepo", "-f", &base, TEST_REPO_ID]);
    let (ok, out, err) = run(ar).await;
    assert!(ok, "{out}{err}");
    let mut refresh = zypper_command(zroot.path());
    refresh.args(["--gpg-auto-import-keys", "refresh"]);
    let (ok, out, err) = run(refresh).await;
    assert!(ok, "{out}{err}");
    // zypper prints the fingerprint in groups of eight.
    assert!(
        out.replace(" ", "").contains(&fpr),
        "no key import shown:\n{out}{err}"
    );
    assert!(!format!("{out}{err}").contains("unsigned"), "{out}{err}");

    // One byte of repomd.xml changed: dnf (fresh cache) and zypper (key imported) refuse it.
    let path = dir.path().join("el9/repodata/repomd.xml");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(10).position(|w| w == b"<revision>").unwrap() + 10;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&path, &bytes).unwrap();
    let root = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dnf_signed(
        &base,
        &keyurl,
        root.path(),
        &["-y", "makecache"],
    ))
    .await;
    assert!(!ok, "dnf accepted a tampered repomd.xml:\n{out}{err}");
    assert!(err.contains("GPG") || err.contains("signature"), "{err}");
    let mut refresh = zypper_command(zroot.path());
    refresh.args(["refresh", "-f"]);
    let (ok, out, err) = run(refresh).await;
    assert!(!ok, "zypper accepted a tampered repomd.xml:\n{out}{err}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_policy_refuses_with_reasons_and_dnf_installs_the_signed_one() {
    let gpg = Gpg::new().unwrap();
    let work = tempfile::tempdir().unwrap();
    let p = policy_packages(&gpg, work.path()).unwrap();
    let trusted = TrustedKeys::from_armored(&p.trusted).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = RepoConfig::default().with_package_policy(PackagePolicy::Keys, trusted);
    let srv = Running::start(dir.path(), config).await;
    let mut all = p.good.clone();
    all.extend([p.unsigned.clone(), p.by_other.clone(), p.corrupt.clone()]);
    for f in &all {
        upload(&srv, f, "el9/").await;
    }
    let status = |name: &str| {
        let url = srv.url(&format!("status/el9/{name}?wait=30"));
        async move { run(curl(&["-w", "\n%{http_code}", &url])).await.1 }
    };
    for good in ["good-rsa.rpm", "good-ed.rpm"] {
        let out = status(good).await;
        assert!(out.ends_with("\n200"), "{good}: {out}");
    }
    let out = status("unsigned.rpm").await;
    assert_eq!(out, "rejected el9/unsigned.rpm: unsigned\n\n422");
    let out = status("other.rpm").await;
    assert_eq!(
        out,
        format!(
            "rejected el9/other.rpm: unknown key 0x{}\n\n422",
            p.other_key_id
        )
    );
    let out = status("corrupt.rpm").await;
    assert!(
        out.starts_with("rejected el9/corrupt.rpm: bad signature"),
        "{out}"
    );
    // Refused objects are kept; the rejected list names them.
    for name in ["unsigned.rpm", "other.rpm", "corrupt.rpm"] {
        assert!(
            dir.path().join("el9").join(name).is_file(),
            "{name} deleted"
        );
    }
    let rejected =
        std::fs::read_to_string(dir.path().join("el9/repodata/rpmbucket-rejected.json")).unwrap();
    assert!(rejected.contains("\"reason\": \"unsigned\""), "{rejected}");

    // The .repo file asks dnf to check package signatures.
    let (_, repo, _) = run(curl(&["-f", &srv.url("el9/el9.repo")])).await;
    assert!(repo.contains("gpgcheck=1\n"), "{repo}");

    // dnf with gpgcheck=1 installs the accepted package.
    let keyfile = work.path().join("trusted.asc");
    std::fs::write(&keyfile, &p.trusted).unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut dnf = dnf_command(&srv.url("el9/"), root.path());
    dnf.arg(format!("--setopt={TEST_REPO_ID}.gpgcheck=1"))
        .arg(format!(
            "--setopt={TEST_REPO_ID}.gpgkey=file://{}",
            keyfile.display()
        ))
        .args(["-y", "install", "fx-lib"]);
    let (ok, out, err) = run(dnf).await;
    assert!(ok, "{out}\n{err}");
    srv.stop().await;
}
