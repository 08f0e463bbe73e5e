//! A tiny static HTTP/1.1 file server on 127.0.0.1 for tests (dnf and zypper
//! over `http://`). GET and HEAD, percent-decoded paths, single `Range:
//! bytes=` requests (206/416), 404 for anything missing; no directory listing.
//! It stops when dropped.

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Result;

/// A running static file server; see the module docs.
pub struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Serves the files under `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let root = root.canonicalize()?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (root, requests) = (root.clone(), requests.clone());
                    std::thread::spawn(move || {
                        let _ = serve_connection(conn, &root, &requests);
                    });
                }
            })
        };
        Ok(Self {
            addr,
            stop,
            requests,
            thread: Some(thread),
        })
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Number of requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_connection(conn: TcpStream, root: &Path, requests: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut range = None;
        let mut close = false;
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "range" => range = Some(v.to_owned()),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    "content-length" => content_length = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        // Discard any request body.
        std::io::copy(
            &mut (&mut reader).take(content_length as u64),
            &mut std::io::sink(),
        )?;
        requests.fetch_add(1, Ordering::SeqCst);
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        respond(&mut out, root, method, target, range.as_deref())?;
        if close {
            let _ = out.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

fn respond(
    out: &mut TcpStream,
    root: &Path,
    method: &str,
    target: &str,
    range: Option<&str>,
) -> std::io::Result<()> {
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return status(out, "405 Method Not Allowed", head_only);
    }
    let Some(path) = resolve(root, target) else {
        return status(out, "404 Not Found", head_only);
    };
    let Ok(body) = fs::read(&path) else {
        return status(out, "404 Not Found", head_only);
    };
    let len = body.len() as u64;
    let (code, slice, extra) = match range.map(|r| parse_range(r, len)) {
        None => ("200 OK", &body[..], String::new()),
        Some(Some((start, end))) => (
            "206 Partial Content",
            &body[start as usize..=end as usize],
            format!("Content-Range: bytes {start}-{end}/{len}\r\n"),
        ),
        Some(None) => {
            let msg = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n\
                 Content-Length: 0\r\n\r\n"
            );
            return out.write_all(msg.as_bytes());
        }
    };
    let header = format!(
        "HTTP/1.1 {code}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\
         Content-Type: application/octet-stream\r\n{extra}\r\n",
        slice.len()
    );
    out.write_all(header.as_bytes())?;
    if !head_only {
        out.write_all(slice)?;
    }
    out.flush()
}

fn status(out: &mut TcpStream, code: &str, head_only: bool) -> std::io::Result<()> {
    let body = if head_only { "" } else { code };
    let msg = format!(
        "HTTP/1.1 {code}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
        code.len()
    );
    out.write_all(msg.as_bytes())
}

/// Maps a request target to a file under `root`; rejects `..` and anything
/// that is not a regular file.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let mut full = root.to_path_buf();
    for comp in Path::new(decoded.as_ref()).components() {
        match comp {
            Component::Normal(c) => full.push(c),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    full.is_file().then_some(full)
}

/// `bytes=A-B`, `bytes=A-`, `bytes=-N` → inclusive (start, end); `None` when
/// unsatisfiable or malformed.
fn parse_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let spec = spec.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(len.checked_sub(1)?),
        ),
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
