//! A hostile client against a real `rpmbucket serve` process on 127.0.0.1 (bounded in count
//! and time): credential storms, idle and slow connections, oversized bodies, hostile keys,
//! symlinks, one bad key among good ones, a payload-corrupt package.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rpmbucket_tests::{fixture, fx, rpmbucket_bin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A 64-hex-digit secret for the fast scheme.
const GOOD: &str = "5f2b6c9d0e1a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4";

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// `rpmbucket serve --root ROOT` with `extra` flags; waits until it accepts connections.
    fn start(root: &Path, extra: &[&str]) -> Server {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(rpmbucket_bin())
            .args(["serve", "--root"])
            .arg(root)
            .args(["--listen", &addr.to_string()])
            .args(extra)
            .env("RPMBUCKET_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rpmbucket serve");
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// File descriptors the server process has open now.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    /// Peak resident set of the server process (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }
}

/// A token file: `ci` with the fast scheme (GOOD), `old` with a default-parameter argon2 hash
/// (19 MiB per verification) made by the real `rpmbucket token hash`.
fn token_file(dir: &Path) -> PathBuf {
    let out = Command::new(rpmbucket_bin())
        .args([
            "token",
            "hash",
            "--user",
            "old",
            "--scheme",
            "argon2",
            "--permissions",
            "rw",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"legacy-secret\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let old = String::from_utf8(out.stdout).unwrap();
    let out = Command::new(rpmbucket_bin())
        .args([
            "token",
            "hash",
            "--user",
            "ci",
            "--scheme",
            "sha256",
            "--permissions",
            "rwd",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{GOOD}\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let ci = String::from_utf8(out.stdout).unwrap();
    assert!(ci.contains("$rpmbucket-sha256$"), "{ci}");
    let path = dir.join("tokens");
    std::fs::write(&path, format!("{old}{ci}")).unwrap();
    path
}

/// curl (blocking, off the runtime) → (HTTP status, body).
async fn curl(args: Vec<String>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-sS", "--noproxy", "*", "-w", "\n%{http_code}"])
            .args(&args)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    })
    .await
    .unwrap()
}

fn s(x: impl AsRef<str>) -> String {
    x.as_ref().to_string()
}

async fn upload(srv: &Server, cred: Option<&str>, file: &Path, dir_url: &str) -> (u16, String) {
    let mut a = vec![s("--max-time"), s("30")];
    if let Some(c) = cred {
        a.extend([s("-u"), s(c)]);
    }
    a.extend([s("-T"), file.display().to_string(), srv.url(dir_url)]);
    curl(a).await
}

/// One raw HTTP request on a fresh connection → status code (0: connection closed).
async fn raw_status(addr: SocketAddr, request: String) -> u16 {
    raw_status_from("127.0.0.1", addr, request).await
}

/// [`raw_status`] from the loopback address `from`.
async fn raw_status_from(from: &str, addr: SocketAddr, request: String) -> u16 {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let Ok(mut c) = sock.connect(addr).await else {
        return 0;
    };
    if c.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut buf = vec![0u8; 256];
    let mut n = 0;
    while n < 12 {
        match c.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|t| t.get(9..12))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// PUT `body` to `path` as one chunk of a chunked request on a raw connection and return the
/// whole answer as text. Write errors are ignored: a server that refuses the body may close
/// before taking all of it, and its answer is still read.
async fn raw_chunked(addr: SocketAddr, path: &str, body: &[u8]) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    let _ = c.write_all(&req).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn basic(user: &str, secret: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credential_storm_stays_small_and_a_valid_upload_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let root = dir.path().join("root");
    // Let the whole storm reach authentication (the per-address connection cap would
    // otherwise turn most of it away first).
    let srv = Server::start(
        &root,
        &[
            "--tokens",
            tokens.to_str().unwrap(),
            "--max-connections-per-client",
            "300",
            "--auth-failures-per-minute",
            "5",
        ],
    );
    let cred = format!("ci:{GOOD}");
    // The CI client authenticated before the storm.
    let (code, body) = upload(&srv, Some(&cred), &fixture(fx::BASIC), "el9/").await;
    assert_eq!(code, 201, "{body}");

    let addr = srv.addr;
    let storm = tokio::spawn(async move {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(150));
        let mut tasks = Vec::new();
        for i in 0..600u32 {
            let permit = std::sync::Arc::clone(&sem).acquire_owned().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let _p = permit;
                // Known and unknown users, Basic and Bearer, random secrets.
                let secret = format!("{:032x}{i}", rand_u128(i));
                let auth = match i % 3 {
                    0 => format!("Basic {}", basic("old", &secret)),
                    1 => format!("Basic {}", basic(&format!("nobody{i}"), &secret)),
                    _ => format!("Bearer {secret}"),
                };
                // From another address than the CI client's.
                raw_status_from(
                    "127.0.0.3",
                    addr,
                    format!(
                        "PUT /el9/storm-{i}.rpm HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 4\r\nConnection: close\r\n\r\njunk"
                    ),
                )
                .await
            }));
        }
        let mut codes = std::collections::BTreeMap::<u16, u32>::new();
        for t in tasks {
            *codes.entry(t.await.unwrap()).or_default() += 1;
        }
        codes
    });
    // A valid upload while the storm runs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, body) = upload(&srv, Some(&cred), &fixture(fx::LIB_1_0), "el9/").await;
    assert_eq!(code, 201, "valid upload during the storm: {body}");
    let codes = storm.await.unwrap();
    eprintln!("storm answers: {codes:?}");
    assert_eq!(codes.values().sum::<u32>(), 600);
    for c in codes.keys() {
        assert!(
            [401, 429, 503].contains(c),
            "unexpected answer {c}: {codes:?}"
        );
    }
    assert!(
        codes.get(&429).copied().unwrap_or(0) > 0,
        "rate limit never hit: {codes:?}"
    );
    let peak = srv.peak_rss_kib();
    eprintln!("peak RSS {} MiB", peak / 1024);
    // The bound. argon2 runs on a fixed pair of threads reusing their memory block,
    // so the storm cannot grow the process by more than two blocks (~38 MiB).
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    // Nothing of the storm was stored.
    assert!(!root.join("el9/storm-0.rpm").exists());
}

/// A cheap deterministic scramble (no RNG crate needed for junk secrets).
fn rand_u128(i: u32) -> u128 {
    let mut x = u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) ^ 0xDEAD_BEEF;
    x ^= x >> 67;
    x.wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

fn fd_soft_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_up_to_the_fd_limit_do_not_block_an_upload() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("root"), &["--header-timeout", "30"]);
    let fds_before = srv.open_fds();
    // Idle connections from another loopback address, as many as this process may open.
    let want = fd_soft_limit().saturating_sub(200).min(20_000);
    let mut idle = Vec::new();
    for _ in 0..want {
        let sock = TcpSocket::new_v4().unwrap();
        if sock.bind("127.0.0.2:0".parse().unwrap()).is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(2), sock.connect(srv.addr)).await {
            Ok(Ok(c)) => idle.push(c),
            _ => break,
        }
    }
    assert!(
        idle.len() as u64 >= want.min(500),
        "opened only {}",
        idle.len()
    );
    // The server holds at most its per-address limit (64) of them; the rest were refused and
    // closed, so its descriptors did not grow with the flood.
    let fds = srv.open_fds();
    assert!(
        fds <= fds_before + 64 + 8,
        "the server has {fds} descriptors open ({fds_before} before {} idle connections)",
        idle.len()
    );
    let started = Instant::now();
    let (code, body) = curl(vec![
        s("--max-time"),
        s("5"),
        s("-T"),
        fixture(fx::BASIC).display().to_string(),
        srv.url("el9/"),
    ])
    .await;
    assert_eq!(code, 201, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The server refused the connections over its per-client limit instead of holding them.
    let mut closed = 0;
    for c in idle.iter_mut() {
        let mut b = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), c.read(&mut b)).await {
            if n == 0 || b.starts_with(b"HTTP/1.1 503") {
                closed += 1;
            }
        }
    }
    assert!(closed > 0 || idle.len() <= 64, "no connection was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_sent_one_byte_a_second_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("root"), &["--header-timeout", "2"]);
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    let header = b"GET /el9/repodata/repomd.xml HTTP/1.1\r\nHost: x\r\n\r\n";
    let started = Instant::now();
    let mut cut = false;
    for b in header {
        if c.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            Ok(Ok(n)) => {
                // hyper answers 408 before closing.
                assert!(buf[..n].starts_with(b"HTTP/1.1 408"), "{:?}", &buf[..n]);
                cut = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(cut, "the slow header was never cut");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// The answer at the start of `buf` → (status, body), once its head and its whole
/// `Content-Length` body are there.
fn complete_answer(buf: &[u8]) -> Option<(u16, String)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if buf.len() < end + 4 + len {
        return None;
    }
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
    Some((status, body))
}

/// Read one HTTP response (headers and a `Content-Length` body) → (status, body).
async fn read_response(c: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(answer) = complete_answer(&buf) {
            return answer;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut chunk))
            .await
            .expect("response within 10 s")
            .expect("read response");
        assert!(n > 0, "connection closed mid-response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Seconds until the server closes `c` (reads return 0), at most `limit`.
async fn closed_within(c: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut b = [0u8; 256];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, c.read(&mut b)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_but_slow_uploads_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // The header timeout is long: what closes the idle connections is the idle timeout.
    let srv = Server::start(&root, &["--header-timeout", "60", "--idle-timeout", "1"]);
    // A connection that never sends a byte, and one kept alive after a request.
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    let mut kept = TcpStream::connect(srv.addr).await.unwrap();
    kept.write_all(b"GET /el9/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (code, _) = read_response(&mut kept).await;
    assert!(code > 0);
    // An upload whose body trickles in (a chunk every 400 ms for 4 s): active, so not idle.
    let pkg = std::fs::read(fixture(fx::BASIC)).unwrap();
    let mut slow = TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(
        format!(
            "PUT /el9/{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            fx::BASIC,
            pkg.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let step = pkg.len().div_ceil(10);
    for part in pkg.chunks(step) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        slow.write_all(part).await.unwrap();
    }
    let (code, body) = read_response(&mut slow).await;
    assert_eq!(code, 201, "{body}");
    // By now (> 4 s) both idle connections are closed, long before the header timeout.
    for (what, c) in [("silent", &mut silent), ("kept-alive", &mut kept)] {
        let t = closed_within(c, Duration::from_secs(5)).await;
        assert!(t.is_some(), "{what} connection still open");
    }
    // And a fresh idle connection is closed after about a second.
    let mut fresh = TcpStream::connect(srv.addr).await.unwrap();
    let t = closed_within(&mut fresh, Duration::from_secs(10))
        .await
        .expect("fresh idle connection closed");
    assert!(t >= Duration::from_millis(500), "closed too early: {t:?}");
}

/// What a finished child (curl with `-w %{http_code}`) printed on its stdout.
fn stdout_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// A server whose uploads are cut after `secs` seconds of body, with long header and idle
/// timeouts (so what ends an upload is the body timeout).
fn body_timeout_server(root: &Path, secs: &str) -> Server {
    Server::start(
        root,
        &[
            "--body-timeout",
            secs,
            "--idle-timeout",
            "60",
            "--header-timeout",
            "60",
        ],
    )
}

/// Nothing of a cut upload stays under `root`: no package, no partial file.
fn assert_no_package_kept(root: &Path) {
    assert!(
        stored_files(root)
            .iter()
            .all(|f| !f.ends_with(".rpm") && !f.ends_with(".part")),
        "kept: {:?}",
        stored_files(root)
    );
}

fn stored_files(root: &Path) -> Vec<String> {
    walkdir(root)
        .into_iter()
        .filter(|p| !p.contains("repodata"))
        .collect()
}

fn walkdir(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_uploads_get_413_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let srv = Server::start(&root, &["--max-upload", "1048576"]);
    // Declared 5 GiB: refused before the body is read.
    let code = raw_status(
        srv.addr,
        "PUT /el9/big.rpm HTTP/1.1\r\nHost: x\r\nContent-Length: 5368709120\r\n\r\n".into(),
    )
    .await;
    assert_eq!(code, 413);
    // Chunked, crossing the limit: cut, nothing kept.
    let big = dir.path().join("big.rpm");
    std::fs::write(&big, vec![7u8; 3 << 20]).unwrap();
    let (code, body) = curl(vec![
        s("-H"),
        s("Transfer-Encoding: chunked"),
        s("-T"),
        big.display().to_string(),
        srv.url("el9/"),
    ])
    .await;
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("limit"), "{body}");
    let files = stored_files(&root);
    assert!(files.is_empty(), "kept: {files:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_keys_get_400_with_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("el9")).unwrap();
    std::fs::write(root.join("el9/.secret"), "secret").unwrap();
    let srv = Server::start(&root, &[]);
    for (path, why) in [
        ("el9%2F..%2Fx.rpm", "%2f"),
        ("el9/%2e%2e/x.rpm", "traversal"),
        ("el9/a%5Cb.rpm", "backslash"),
        ("el9/a%00b.rpm", "control character"),
        ("el9/evil%E2%80%AEmpr.rpm", "Unicode format character"),
    ] {
        let code_body = curl(vec![
            s("--path-as-is"),
            s("-T"),
            fixture(fx::BASIC).display().to_string(),
            srv.url(path),
        ])
        .await;
        assert_eq!(code_body.0, 400, "{path}: {}", code_body.1);
        assert!(code_body.1.contains(why), "{path}: {}", code_body.1);
    }
    // The encoded slash does not reach a dotfile.
    let (code, body) = curl(vec![s("--path-as-is"), srv.url("el9%2F.secret")]).await;
    assert_ne!(code, 200);
    assert!(!body.contains("secret\n") && body != "secret", "{body}");
    assert!(stored_files(&root).iter().all(|f| f == "el9/.secret"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_out_of_the_root_are_neither_served_nor_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("el9")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.rpm"), "outside secret").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("el9/out")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.rpm"), root.join("el9/link.rpm")).unwrap();
    let srv = Server::start(&root, &[]);
    for path in ["el9/out/secret.rpm", "el9/link.rpm"] {
        let (code, body) = curl(vec![srv.url(path)]).await;
        assert_ne!(code, 200, "{path} served: {body}");
        assert!(!body.contains("outside secret"));
    }
    // Writes through the directory link or onto the file link are refused.
    let (code, body) = upload(&srv, None, &fixture(fx::BASIC), "el9/out/").await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = curl(vec![
        s("-T"),
        fixture(fx::BASIC).display().to_string(),
        srv.url("el9/link.rpm"),
    ])
    .await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = curl(vec![s("-X"), s("DELETE"), srv.url("el9/out/secret.rpm")]).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.rpm")).unwrap(),
        "outside secret"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
}

async fn published(srv: &Server, key: &str) -> bool {
    curl(vec![srv.url(&format!("status/{key}?wait=20"))])
        .await
        .0
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_over_long_key_among_five_good_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("root"), &[]);
    let good = [fx::BASIC, fx::LIB_1_0, fx::LIB_1_2, fx::META, fx::UTF8];
    let long = format!("el9/{}/x.rpm", vec!["d".repeat(200); 10].join("/"));
    assert!(long.len() > 2000);
    let (code, body) = curl(vec![
        s("-T"),
        fixture(fx::DEPS).display().to_string(),
        srv.url(&long),
    ])
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("longer than 1024 bytes"), "{body}");
    for f in good {
        let (code, body) = upload(&srv, None, &fixture(f), "el9/").await;
        assert_eq!(code, 201, "{f}: {body}");
    }
    for f in good {
        assert!(
            published(&srv, &format!("el9/{f}")).await,
            "{f} not published"
        );
    }
}

/// A fixture with its last byte flipped: the header is intact, the payload digest is wrong.
fn corrupt_copy(dir: &Path, name: &str) -> PathBuf {
    let mut bytes = std::fs::read(fixture(name)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_corrupt_package_is_rejected_by_serve_and_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt_dir = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt_dir).unwrap();
    let bad = corrupt_copy(&corrupt_dir, fx::LIB_1_2);
    // serve
    let root = dir.path().join("root");
    let srv = Server::start(&root, &[]);
    let (code, body) = upload(&srv, None, &bad, "el9/").await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = upload(&srv, None, &fixture(fx::BASIC), "el9/").await;
    assert_eq!(code, 201, "{body}");
    assert!(published(&srv, &format!("el9/{}", fx::BASIC)).await);
    assert!(!published(&srv, &format!("el9/{}", fx::LIB_1_2)).await);
    let rejected =
        std::fs::read_to_string(root.join("el9/repodata/rpmbucket-rejected.json")).unwrap();
    assert!(
        rejected.contains(fx::LIB_1_2) && rejected.contains("payload digest"),
        "{rejected}"
    );
    drop(srv);
    // reconcile over a directory holding the same corrupt package
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy(&bad, repo.join(fx::LIB_1_2)).unwrap();
    std::fs::copy(fixture(fx::BASIC), repo.join(fx::BASIC)).unwrap();
    let out = Command::new(rpmbucket_bin())
        .arg("reconcile")
        .arg(&repo)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rejected = std::fs::read_to_string(repo.join("repodata/rpmbucket-rejected.json")).unwrap();
    assert!(
        rejected.contains(fx::LIB_1_2) && rejected.contains("payload digest"),
        "{text}\n{rejected}"
    );
    let primary = Command::new("sh")
        .arg("-c")
        .arg(format!("zcat {}/repodata/*primary.xml.gz", repo.display()))
        .output()
        .unwrap();
    let primary = String::from_utf8_lossy(&primary.stdout);
    assert!(
        primary.contains("href=\"fx-basic") && !primary.contains("href=\"fx-lib"),
        "{primary}"
    );
}

/// `rpmbucket ARGS` → (success, stdout + stderr).
fn cli(args: &[&str]) -> (bool, String) {
    let out = rpmbucket_tests::rpmbucket_command()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_repository_upload_limit_from_config() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for d in ["el9", "el8"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let el9 = root.join("el9");
    let el9 = el9.to_str().unwrap();
    // `config` validates the value and stores it with the repository.
    let (ok, text) = cli(&["config", el9, "max-upload-size=lots"]);
    assert!(!ok && text.contains("max-upload-size=lots"), "{text}");
    let (ok, text) = cli(&["config", el9, "max-upload-size=64K"]);
    assert!(ok && text.contains("max-upload-size=65536\n"), "{text}");
    let many = fixture(fx::MANY);
    let many_len = std::fs::metadata(&many).unwrap().len();
    assert!(many_len > 65536);

    // The server's own limit is larger: the repository's applies to el9/ only.
    let srv = Server::start(&root, &[]);
    let (code, body) = upload(&srv, None, &fixture(fx::BASIC), "el9/").await;
    assert_eq!(code, 201, "{body}");
    // A declared length over it: 413 at once, before the body is read (none is sent here).
    let code = tokio::time::timeout(
        Duration::from_secs(10),
        raw_status(
            srv.addr,
            "PUT /el9/big.rpm HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n".into(),
        ),
    )
    .await
    .expect("answered without the body");
    assert_eq!(code, 413);
    let (code, body) = upload(&srv, None, &many, "el9/").await;
    assert_eq!(code, 413, "{body}");
    assert!(
        body.contains("65536") && body.contains("max-upload-size"),
        "{body}"
    );
    // Chunked (no declared length), crossing it: cut, nothing kept. Sent on a raw socket that
    // reads the answer even when the server closes before taking the rest of the body (curl
    // stops at the failed send and may report only the 100 Continue).
    let text = raw_chunked(srv.addr, "/el9/big.rpm", &std::fs::read(&many).unwrap()).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("nothing was kept"), "{text}");
    // el8/ has no setting of its own.
    let (code, body) = upload(&srv, None, &many, "el8/").await;
    assert_eq!(code, 201, "{body}");
    assert!(published(&srv, &format!("el8/{}", fx::MANY)).await);
    assert!(published(&srv, &format!("el9/{}", fx::BASIC)).await);
    let mut stored = stored_files(&root);
    stored.retain(|f| f.ends_with(".rpm") || f.contains(".rpmbucket-uploads"));
    stored.sort();
    assert_eq!(
        stored,
        [format!("el8/{}", fx::MANY), format!("el9/{}", fx::BASIC)],
        "nothing of the refused uploads was kept"
    );
    // Lifting the setting takes effect without a restart.
    let (ok, text) = cli(&["config", el9, "max-upload-size=off"]);
    assert!(ok && text.contains("max-upload-size=off\n"), "{text}");
    let (code, body) = upload(&srv, None, &many, "el9/").await;
    assert_eq!(code, 201, "{body}");
    // The server's limit still holds below a larger repository setting.
    drop(srv);
    let (ok, text) = cli(&["config", el9, "max-upload-size=1G"]);
    assert!(ok, "{text}");
    let srv = Server::start(&root, &["--max-upload", "65536"]);
    let (code, body) = upload(&srv, None, &many, "el9/").await;
    assert_eq!(code, 413, "{body}");
    assert!(
        body.contains("65536") && !body.contains("max-upload-size"),
        "{body}"
    );
}

/// Is `key` (`DIR/FILE.rpm`) in the published primary of `root/DIR`? Read from the files,
/// with no server running.
fn in_primary(root: &Path, key: &str) -> bool {
    let (dir, file) = key.rsplit_once('/').unwrap();
    let Ok(entries) = std::fs::read_dir(root.join(dir).join("repodata")) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with("primary.xml.gz") {
            return false;
        }
        let out = Command::new("zcat").arg(e.path()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains(&format!("href=\"{file}\""))
    })
}

/// `rpmbucket serve` SIGKILLed right after it answered 201 (other uploads still in flight),
/// three times, then restarted: every acknowledged upload ends up published, or listed as
/// rejected with its reason (the payload-corrupt one); nothing half-written is ever in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_right_after_201_loses_no_acknowledged_upload() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let corrupt_dir = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt_dir).unwrap();
    let corrupt = corrupt_copy(&corrupt_dir, fx::NAMES);
    let good = [
        fx::BASIC,
        fx::LIB_1_0,
        fx::LIB_1_2,
        fx::META,
        fx::UTF8,
        fx::DEPS,
        fx::X86,
        fx::CONFLICT,
    ];
    // Key → what the client was told (201 only: acknowledged).
    let mut acknowledged: Vec<(String, PathBuf)> = Vec::new();
    let mut unpublished_at_kill = 0;
    let mut in_flight_at_kill = 0;
    for round in 0..3 {
        let srv = Server::start(&root, &[]);
        let repo = format!("el9-r{round}");
        let mut files: Vec<PathBuf> = good.iter().map(|f| fixture(f)).collect();
        files.push(corrupt.clone());
        // A slow upload (about 14 s) that is surely in flight at the kill.
        files.push(fixture(fx::MANY));
        let mut uploads: Vec<(String, PathBuf, Child)> = files
            .into_iter()
            .map(|f| {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                let mut cmd = Command::new("curl");
                cmd.args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--noproxy",
                    "*",
                ]);
                if name == fx::MANY {
                    cmd.args(["--limit-rate", "20k"]);
                }
                let child = cmd
                    .arg("-T")
                    .arg(&f)
                    .arg(srv.url(&format!("{repo}/")))
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                (format!("{repo}/{name}"), f, child)
            })
            .collect();
        // Wait for the first 201 (in the first round: the corrupt package's, so that one is
        // surely acknowledged), then SIGKILL the server at once.
        let trigger = (round == 0).then(|| uploads.iter().position(|u| u.1 == corrupt).unwrap());
        let mut answers: Vec<Option<String>> = vec![None; uploads.len()];
        let started = Instant::now();
        'watch: loop {
            for (i, (_, _, child)) in uploads.iter_mut().enumerate() {
                if answers[i].is_none() && child.try_wait().unwrap().is_some() {
                    let code = stdout_of(child);
                    let created = code == "201";
                    answers[i] = Some(code);
                    if created && trigger.is_none_or(|t| t == i) {
                        break 'watch;
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no 201 within 30 s: {answers:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(srv); // SIGKILL, and reaped
        for (i, (key, file, child)) in uploads.iter_mut().enumerate() {
            let code = match answers[i].take() {
                Some(c) => c,
                None => {
                    child.wait().unwrap();
                    let code = stdout_of(child);
                    if code != "201" {
                        in_flight_at_kill += 1;
                    }
                    code
                }
            };
            if code == "201" {
                if !in_primary(&root, key) {
                    unpublished_at_kill += 1;
                }
                acknowledged.push((key.clone(), file.clone()));
            }
        }
        // Whatever is in place is a whole upload, never a part of one.
        let repo_dir = root.join(&repo);
        for e in std::fs::read_dir(&repo_dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".rpm") {
                continue;
            }
            let source = if name == fx::NAMES {
                corrupt.clone()
            } else {
                fixture(&name)
            };
            assert_eq!(
                std::fs::read(e.path()).unwrap(),
                std::fs::read(&source).unwrap(),
                "{repo}/{name} is not the whole upload"
            );
        }
    }
    eprintln!(
        "acknowledged {}, of them unpublished at the kill {unpublished_at_kill}; in flight at the kill {in_flight_at_kill}",
        acknowledged.len()
    );
    assert!(acknowledged.len() >= 3, "{acknowledged:?}");
    assert!(acknowledged.iter().any(|(_, f)| *f == corrupt));
    assert!(
        unpublished_at_kill > 0,
        "every kill came after the publish: the test did not reach the case it is for"
    );
    assert!(in_flight_at_kill >= 3, "no upload was in flight at a kill");
    // Restarted: each acknowledged upload is published, or rejected with its reason.
    let srv = Server::start(&root, &[]);
    for (key, file) in &acknowledged {
        let (code, body) = curl(vec![srv.url(&format!("status/{key}?wait=30"))]).await;
        if *file == corrupt {
            assert_eq!(code, 422, "{key}: {body}");
            assert!(body.contains("payload digest"), "{key}: {body}");
        } else {
            assert_eq!(code, 200, "{key} acknowledged but not published: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_waiters_are_capped_and_woken_by_the_publish() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let srv = Server::start(&root, &["--max-status-waiters", "2"]);
    let key = format!("el9/{}", fx::BASIC);
    // Two waiters take the two places.
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let url = srv.url(&format!("status/{key}?wait=60"));
            tokio::spawn(async move { curl(vec![s("--max-time"), s("90"), url]).await })
        })
        .collect();
    // The third is refused at once (they are surely waiting by now).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (code, body) = curl(vec![
        s("-D"),
        s("-"),
        s("--max-time"),
        s("10"),
        srv.url(&format!("status/{key}?wait=60")),
    ])
    .await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.to_ascii_lowercase().contains("retry-after: 1"),
        "{body}"
    );
    assert!(
        body.contains("too many /status waiters (limit 2)"),
        "{body}"
    );
    // A status request without wait= does not count.
    let (code, _) = curl(vec![srv.url(&format!("status/{key}"))]).await;
    assert_eq!(code, 404);
    // The upload's publish answers both waiters.
    let (code, body) = upload(&srv, None, &fixture(fx::BASIC), "el9/").await;
    assert_eq!(code, 201, "{body}");
    for w in waiters {
        let (code, body) = w.await.unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(body.starts_with("published el9/"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_coming_is_cut_by_the_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let srv = body_timeout_server(&root, "2");
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(
        b"PUT /el9/slow.rpm HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789",
    )
    .await
    .unwrap();
    let started = Instant::now();
    // Until the server answers or closes the connection.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(20), c.read(&mut chunk))
            .await
            .expect("the server ended the upload within 20 s")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&buf);
    assert!(
        elapsed >= Duration::from_millis(1500),
        "cut after {elapsed:?}: {text}"
    );
    // Answered with a refusal (or the connection closed), never 201.
    assert!(!text.contains(" 201 "), "{text}");
    assert_no_package_kept(&root);
}

/// A request whose answer always has a `Content-Length` (a `/status` refusal or answer), so
/// the connection can be reused after reading it.
const STATUS_REQUEST: &[u8] = b"GET /status/el9/none-1-1.x86_64.rpm HTTP/1.1\r\nHost: x\r\n\r\n";

/// Read one answer (head and `Content-Length` body) → its status; 0 when the connection
/// closes or fails first, or nothing comes within 10 s.
async fn answer_status(c: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((status, _)) = complete_answer(&buf) {
            return status;
        }
        match tokio::time::timeout(Duration::from_secs(10), c.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return 0,
        }
    }
}

/// A connection from `from` that the server has served (one request answered, the
/// connection kept alive), so it holds one of the server's connection slots. While the
/// answer is 503 (every slot taken, e.g. by a connection whose close the server has not yet
/// seen, such as `Server::start`'s readiness probe) it tries again, for at most 30 s.
async fn served_connection(from: &str, addr: SocketAddr) -> TcpStream {
    let started = Instant::now();
    loop {
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let mut c = sock.connect(addr).await.unwrap();
        let code = match c.write_all(STATUS_REQUEST).await {
            Ok(()) => answer_status(&mut c).await,
            Err(_) => 0,
        };
        if code != 0 && code != 503 {
            return c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no connection slot for {from} within 30 s (last answer {code})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_server_cap_get_503() {
    let dir = tempfile::tempdir().unwrap();
    // Long idle and header timeouts: only the test closes connections.
    let srv = Server::start(
        &dir.path().join("root"),
        &[
            "--max-connections",
            "3",
            "--idle-timeout",
            "300",
            "--header-timeout",
            "300",
        ],
    );
    // Three connections from three addresses (the per-address limit plays no part), each
    // served and kept alive: together they hold every slot.
    let mut held = Vec::new();
    for from in ["127.0.0.11", "127.0.0.12", "127.0.0.13"] {
        held.push(served_connection(from, srv.addr).await);
    }
    // While they stay open, every further connection is refused.
    for _ in 0..5 {
        let code = raw_status_from(
            "127.0.0.14",
            srv.addr,
            s("GET /el9/ HTTP/1.1\r\nHost: x\r\n\r\n"),
        )
        .await;
        assert_eq!(code, 503, "a connection over the cap of 3 was not refused");
    }
    // The held connections are still served.
    for c in held.iter_mut() {
        c.write_all(STATUS_REQUEST).await.unwrap();
        assert_eq!(answer_status(c).await, 404);
    }
    // One leaves: its slot comes free and a new connection gets it; then the server is full
    // again.
    drop(held.pop());
    held.push(served_connection("127.0.0.14", srv.addr).await);
    let code = raw_status_from(
        "127.0.0.15",
        srv.addr,
        s("GET /el9/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    assert_eq!(code, 503, "a connection over the cap of 3 was not refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_file_baseurl_comes_from_the_public_url_never_the_host_header() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &dir.path().join("root"),
        &["--public-url", "https://rpms.example.org/"],
    );
    let (code, body) = curl(vec![
        s("-H"),
        s("Host: evil.example"),
        srv.url("el9/x86_64/mine.repo"),
    ])
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("\nbaseurl=https://rpms.example.org/el9/x86_64/\n"),
        "{body}"
    );
    assert!(!body.contains("evil.example"), "{body}");
    // Not signed, no package policy: no GPG checks claimed.
    assert!(
        body.contains("gpgcheck=0\n") && body.contains("repo_gpgcheck=0\n"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_is_cut_by_the_body_timeout_in_total() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let srv = body_timeout_server(&root, "3");
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(b"PUT /el9/trickle.rpm HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    // Ten bytes every 300 ms: never a pause near the timeout, but more than 3 s in total.
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let (mut r, mut w) = c.into_split();
        let sending = async {
            for _ in 0..100 {
                if w.write_all(b"0123456789").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        };
        let mut answer = Vec::new();
        let reading = async {
            let mut chunk = [0u8; 1024];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match r.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&chunk[..n]),
                }
            }
        };
        tokio::select! {
            () = sending => {}
            () = reading => {}
        }
        answer
    });
    let answer = tokio::time::timeout(Duration::from_secs(25), writer)
        .await
        .expect("cut within 25 s")
        .unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(elapsed >= Duration::from_millis(2500), "{elapsed:?}");
    assert_no_package_kept(&root);
}
