//! The local server driven by the real `curl` and `dnf`: upload, wait for publication,
//! install; delete; checksum binding; tokens.

use std::net::SocketAddr;
use std::path::Path;

use rpmbucket_gateway::auth::{hash_token_with, Tokens};
use rpmbucket_gateway::{LocalOptions, LocalServer};
use rpmbucket_tests::{dnf_install, dnf_nevras, fixture, fx};
use sha2::Digest;

mod common;

use common::s;

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    async fn start(root: &Path, tokens: Option<Tokens>) -> Running {
        let mut opts = LocalOptions::new(root).with_listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        if let Some(t) = tokens {
            opts = opts.with_tokens(t);
        }
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

/// Run curl (`common::curl`) and return (exit ok, stdout, stderr).
async fn curl(args: Vec<String>) -> (bool, String, String) {
    let c = common::curl(args).await;
    (c.ok, c.stdout, c.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_with_curl_then_dnf_installs() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(dir.path(), None).await;
    // `curl -T FILE URL/` appends the file name; the key mirrors the URL.
    for f in [fx::LIB_1_2, fx::BASIC, fx::SPACE] {
        let (ok, out, err) = curl(vec![
            s("-f"),
            s("-T"),
            fixture(f).display().to_string(),
            srv.url("el9/x86_64/"),
        ])
        .await;
        assert!(ok, "upload {f}: {out} {err}");
        assert!(out.starts_with("stored el9/x86_64/"), "{out}");
        assert_eq!(
            std::fs::read(dir.path().join("el9/x86_64").join(f)).unwrap(),
            std::fs::read(fixture(f)).unwrap()
        );
    }
    let (ok, out, err) = curl(vec![
        s("-f"),
        srv.url("status/el9/x86_64/fx-basic-1.0-1.noarch.rpm?wait=20"),
    ])
    .await;
    assert!(ok, "status: {out} {err}");
    assert!(
        out.starts_with("published el9/x86_64/fx-basic-1.0-1.noarch.rpm (revision "),
        "{out}"
    );
    let (ok, out, _) = curl(vec![
        s("-f"),
        srv.url("status/el9/x86_64/fx%20space-1.0-1.noarch.rpm?wait=20"),
    ])
    .await;
    assert!(ok, "{out}");

    // dnf installs from the server, with the baseurl the banner prints.
    let baseurl = srv.url("el9/x86_64/");
    let root = tempfile::tempdir().unwrap();
    let b2 = baseurl.clone();
    let rp = root.path().to_path_buf();
    tokio::task::spawn_blocking(move || dnf_install(&b2, "fx-basic", &rp).unwrap())
        .await
        .unwrap();
    assert!(root.path().join("usr/share/fx-basic/data.txt").is_file());
    let b2 = baseurl.clone();
    let nevras = tokio::task::spawn_blocking(move || dnf_nevras(&b2).unwrap())
        .await
        .unwrap();
    assert!(nevras.contains("fx-space-0:1.0-1.noarch"), "{nevras:?}");

    // The generated .repo file points at the same baseurl.
    let (ok, repo, _) = curl(vec![s("-f"), srv.url("el9/x86_64/fx.repo")]).await;
    assert!(ok);
    assert!(repo.contains(&format!("baseurl={baseurl}\n")), "{repo}");

    // Range GET (dnf and the indexer read headers this way).
    let (ok, out, _) = curl(vec![
        s("-f"),
        s("-r"),
        s("0-3"),
        s("-o"),
        s("/dev/null"),
        s("-w"),
        s("%{http_code} %{size_download}"),
        srv.url("el9/x86_64/fx-basic-1.0-1.noarch.rpm"),
    ])
    .await;
    assert!(ok);
    assert_eq!(out, "206 4");

    // DELETE removes the file and, after the next publish, the package.
    let (ok, _, err) = curl(vec![
        s("-f"),
        s("-X"),
        s("DELETE"),
        srv.url("el9/x86_64/fx%20space-1.0-1.noarch.rpm"),
    ])
    .await;
    assert!(ok, "{err}");
    assert!(!dir.path().join("el9/x86_64").join(fx::SPACE).exists());
    let mut gone = false;
    for _ in 0..40 {
        let (ok, _, _) = curl(vec![
            s("-f"),
            srv.url("status/el9/x86_64/fx%20space-1.0-1.noarch.rpm"),
        ])
        .await;
        if !ok {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(gone, "deleted package still published");
    let b2 = baseurl.clone();
    let nevras = tokio::task::spawn_blocking(move || dnf_nevras(&b2).unwrap())
        .await
        .unwrap();
    assert!(!nevras.contains("fx-space-0:1.0-1.noarch"), "{nevras:?}");
    assert!(nevras.contains("fx-basic-0:1.0-1.noarch"), "{nevras:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_checksum_is_checked_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(dir.path(), None).await;
    let pkg = fixture(fx::LIB_1_0);
    let good = hex::encode(sha2::Sha256::digest(std::fs::read(&pkg).unwrap()));
    let wrong = "0".repeat(64);
    let (ok, out, _) = curl(vec![
        s("-T"),
        pkg.display().to_string(),
        s("-w"),
        s("%{http_code}"),
        srv.url(&format!("el9/?sha256={wrong}")),
    ])
    .await;
    assert!(ok);
    assert!(out.contains("does not match the bound checksum"), "{out}");
    assert!(out.ends_with("400"), "{out}");
    assert!(!dir.path().join("el9").join(fx::LIB_1_0).exists());
    // Nothing left behind in the upload area either.
    let tmp = dir.path().join(rpmbucket_gateway::local::TMP_DIR);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // The right checksum, as the S3 header, is accepted.
    let b64 = rpmbucket_gateway::presign::hex_to_base64(&good).unwrap();
    let (ok, out, err) = curl(vec![
        s("-f"),
        s("-H"),
        format!("x-amz-checksum-sha256: {b64}"),
        s("-T"),
        pkg.display().to_string(),
        srv.url("el9/"),
    ])
    .await;
    assert!(ok, "{out} {err}");
    assert!(out.contains(&good), "{out}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_apply_to_the_local_server() {
    let dir = tempfile::tempdir().unwrap();
    let hash = hash_token_with("pw", argon2::Params::new(256, 1, 1, None).unwrap());
    let tokens = Tokens::parse(&format!("ci:{hash} rw el9/")).unwrap();
    let srv = Running::start(dir.path(), Some(tokens)).await;
    let pkg = fixture(fx::LIB_1_0).display().to_string();
    let code = |args: Vec<String>| async move {
        let mut a = vec![s("-o"), s("/dev/null"), s("-w"), s("%{http_code}")];
        a.extend(args);
        curl(a).await.1
    };
    assert_eq!(
        code(vec![s("-T"), pkg.clone(), srv.url("el9/")]).await,
        "401"
    );
    assert_eq!(
        code(vec![
            s("-u"),
            s("ci:nope"),
            s("-T"),
            pkg.clone(),
            srv.url("el9/")
        ])
        .await,
        "401"
    );
    assert_eq!(
        code(vec![
            s("-u"),
            s("ci:pw"),
            s("-T"),
            pkg.clone(),
            srv.url("el8/")
        ])
        .await,
        "403"
    );
    assert_eq!(
        code(vec![
            s("-u"),
            s("ci:pw"),
            s("-T"),
            pkg.clone(),
            srv.url("el9/")
        ])
        .await,
        "201"
    );
    assert_eq!(
        code(vec![
            s("-u"),
            s("ci:pw"),
            s("-X"),
            s("DELETE"),
            srv.url("el9/fx-lib-1.0-1.noarch.rpm")
        ])
        .await,
        "403"
    );
    // Reading needs no token: dnf uses the server as a plain baseurl.
    assert_eq!(
        code(vec![srv.url("el9/fx-lib-1.0-1.noarch.rpm")]).await,
        "200"
    );
    // Traversal through the file server is refused too (400: the key rule names it).
    assert_eq!(
        code(vec![s("--path-as-is"), srv.url("el9/../../etc/passwd")]).await,
        "400"
    );
    assert_eq!(code(vec![srv.url(".rpmbucket-uploads/")]).await, "400");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_already_in_the_directory_are_indexed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("el8/noarch");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy(fixture(fx::LIB_1_0), repo.join(fx::LIB_1_0)).unwrap();
    let srv = Running::start(dir.path(), None).await;
    let (ok, out, err) = curl(vec![
        s("-f"),
        srv.url(&format!("status/el8/noarch/{}?wait=20", fx::LIB_1_0)),
    ])
    .await;
    assert!(ok, "{out} {err}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_uploads_are_streamed_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(dir.path(), None).await;
    let src = tempfile::tempdir().unwrap();
    let big = src.path().join("big-1.0-1.noarch.rpm");
    let body: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&big, &body).unwrap();
    let (ok, out, err) = curl(vec![
        s("-f"),
        s("-T"),
        big.display().to_string(),
        srv.url("big/"),
    ])
    .await;
    assert!(ok, "{out} {err}");
    let want = hex::encode(sha2::Sha256::digest(&body));
    assert!(out.contains(&want), "{out}");
    assert_eq!(
        std::fs::read(dir.path().join("big/big-1.0-1.noarch.rpm")).unwrap(),
        body
    );
    srv.stop().await;
}

/// Extra metadata goes through the same face: `curl -T comps.xml URL/` publishes the groups
/// (dnf lists them after later package uploads); a malformed file is refused with its reason
/// before anything is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_metadata_uploaded_with_curl() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(dir.path(), None).await;
    let src = tempfile::tempdir().unwrap();
    let comps = src.path().join("comps.xml");
    std::fs::write(
        &comps,
        "<?xml version=\"1.0\"?>\n<comps><group><id>fx-tools</id><name>FX Tools</name><uservisible>true</uservisible><packagelist><packagereq>fx-basic</packagereq></packagelist></group></comps>\n",
    )
    .unwrap();
    let (ok, out, err) = curl(vec![
        s("-f"),
        s("-T"),
        comps.display().to_string(),
        srv.url("el9/x86_64/"),
    ])
    .await;
    assert!(ok, "{out} {err}");
    assert!(out.starts_with("stored el9/x86_64/comps.xml"), "{out}");
    let (ok, out, err) = curl(vec![
        s("-f"),
        srv.url("status/el9/x86_64/comps.xml?wait=20"),
    ])
    .await;
    assert!(ok, "status: {out} {err}");

    // Packages uploaded afterwards; the group stays.
    for f in [fx::LIB_1_2, fx::BASIC] {
        let (ok, out, err) = curl(vec![
            s("-f"),
            s("-T"),
            fixture(f).display().to_string(),
            srv.url("el9/x86_64/"),
        ])
        .await;
        assert!(ok, "{out} {err}");
        let (ok, out, _) = curl(vec![
            s("-f"),
            srv.url(&format!("status/el9/x86_64/{f}?wait=20")),
        ])
        .await;
        assert!(ok, "{out}");
    }

    // A malformed updateinfo.xml: 400 with the reason, nothing stored.
    let bad = src.path().join("updateinfo.xml");
    std::fs::write(&bad, "<updates><update><id>X</id></updates>").unwrap();
    let (ok, out, _) = curl(vec![
        s("-T"),
        bad.display().to_string(),
        s("-w"),
        s("%{http_code}"),
        srv.url("el9/x86_64/"),
    ])
    .await;
    assert!(ok);
    assert!(out.ends_with("400"), "{out}");
    assert!(out.contains("updateinfo.xml: not well-formed XML"), "{out}");
    assert!(!dir.path().join("el9/x86_64/updateinfo.xml").exists());

    let url = srv.url("el9/x86_64/");
    let out = tokio::task::spawn_blocking(move || {
        let root = tempfile::tempdir().unwrap();
        let out = rpmbucket_tests::dnf_command(&url, root.path())
            .args(["group", "list", "--hidden"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap();
    assert!(out.contains("FX Tools"), "dnf group list:\n{out}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_needs_read_on_the_source_and_write_on_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(dir.path(), Some(common::promotion_tokens())).await;
    for f in [fx::LIB_1_0, fx::LIB_1_2, fx::BASIC] {
        let (ok, out, err) = curl(vec![
            s("-f"),
            s("-u"),
            s("ci:pw"),
            s("-T"),
            fixture(f).display().to_string(),
            srv.url("el9/testing/"),
        ])
        .await;
        assert!(ok, "{out} {err}");
    }
    let (ok, out, err) = curl(vec![
        s("-f"),
        s("-u"),
        s("ci:pw"),
        srv.url("status/el9/testing/fx-basic-1.0-1.noarch.rpm?wait=20"),
    ])
    .await;
    assert!(ok, "{out} {err}");
    let url = srv.url("promote?from=el9/testing&to=el9/stable/");
    // (status, body) of a promote request with `user` and the names in `body`.
    let promote = |user: Option<&'static str>, body: &'static str, url: String| {
        common::promote(url, user, body)
    };
    assert_eq!(promote(None, "fx-lib", url.clone()).await.0, "401");
    // Write on the target but no read on the source; read on the source but no write on the
    // target: both 403, nothing copied.
    let (code, body) = promote(Some("release:rel"), "fx-lib", url.clone()).await;
    assert_eq!(code, "403", "{body}");
    let (code, body) = promote(Some("qa:qa"), "fx-lib", url.clone()).await;
    assert_eq!(code, "403", "{body}");
    assert!(!dir.path().join("el9/stable").exists());
    // Bad requests say why.
    let (code, body) = promote(Some("ci:pw"), "nope", url.clone()).await;
    assert_eq!(code, "404", "{body}");
    assert!(body.contains("no package \"nope\""), "{body}");
    let (code, body) = promote(Some("ci:pw"), "\n", url.clone()).await;
    assert_eq!(code, "400", "{body}");
    let same = srv.url("promote?from=el9/testing&to=el9/testing");
    assert_eq!(promote(Some("ci:pw"), "fx-lib", same).await.0, "400");
    let traversal = srv.url("promote?from=el9/../etc&to=el9/stable");
    assert_eq!(promote(Some("ci:pw"), "fx-lib", traversal).await.0, "400");
    let (_, out, _) = curl(vec![
        s("-w"),
        s("%{http_code}"),
        s("-o"),
        s("/dev/null"),
        url.clone(),
    ])
    .await;
    assert_eq!(out, "405");

    // The newest fx-lib and fx-basic by NEVRA: copied, published, installable.
    let (code, body) = promote(Some("ci:pw"), "fx-lib\nfx-basic-1.0-1.noarch\n", url).await;
    assert_eq!(code, "200", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["packages"], 2, "{v}");
    let nevras: Vec<&str> = v["promoted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["nevra"].as_str().unwrap())
        .collect();
    assert_eq!(nevras, ["fx-basic-1.0-1.noarch", "fx-lib-1.2-1.noarch"]);
    assert_eq!(
        std::fs::read(dir.path().join("el9/stable").join(fx::LIB_1_2)).unwrap(),
        std::fs::read(fixture(fx::LIB_1_2)).unwrap()
    );
    let baseurl = srv.url("el9/stable/");
    let root = tempfile::tempdir().unwrap();
    let rp = root.path().to_path_buf();
    let b2 = baseurl.clone();
    let nevras = tokio::task::spawn_blocking(move || {
        dnf_install(&b2, "fx-basic", &rp).unwrap();
        dnf_nevras(&b2).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(nevras, common::promoted_nevras());
    assert!(root.path().join("usr/share/fx-basic/data.txt").is_file());
    srv.stop().await;
}
