//! A fault-injecting HTTP proxy for S3 (path-style) on 127.0.0.1, put between a client under
//! test (the engine, the `rpmbucket` binary) and a real S3 server (moto).
//!
//! Every request is matched against an ordered list of [`Rule`]s: method, object key (a glob
//! with `*`), a substring of the query string and the presence of a request header, then a
//! probability and a budget (`skip` the first matches, fire at most `times`). A rule that fires
//! applies its [`Fault`]:
//!
//! | fault | what the client sees | reaches the server |
//! |---|---|---|
//! | `internal_error` | 500 with an S3 `InternalError` XML body | no |
//! | `slow_down` | 503 with an S3 `SlowDown` XML body | no |
//! | `reset` | the connection closed before any answer | no |
//! | `reset_mid_body` | the server's status and headers, half the body, then the connection dies | yes |
//! | `land_then_500` | 500 `InternalError`, although the server did the request | yes |
//! | `latency` | the answer, `ms` milliseconds late | yes |
//! | `strip_conditionals` | the server's answer to the request without `If-Match` / `If-None-Match` (a backend that ignores conditional writes) | yes |
//!
//! `latency` and `strip_conditionals` modify the request and matching goes on with the next
//! rules; the others end it. Requests pass unchanged otherwise: the `Host` header is forwarded
//! as the client sent it (the client signs for the proxy's address; moto does not check
//! signatures).
//!
//! Rules are set from Rust ([`FaultProxy::set_rules`]) or over HTTP on the proxy's own port:
//! `PUT /_proxy/rules` with a JSON array of rules, `GET /_proxy/stats` for the counters (an S3
//! bucket name cannot start with `_`, so these paths never shadow a bucket). The
//! `s3-fault-proxy` binary runs one from the command line.
//!
//! ```no_run
//! use rpmbucket_tests::s3proxy::{Fault, FaultProxy, Rule};
//! let proxy = FaultProxy::start("http://127.0.0.1:5000").unwrap();
//! proxy.set_rules(vec![Rule::new("flaky puts", Fault::SlowDown).method("PUT").probability(0.1)]);
//! // point AWS_ENDPOINT_URL at proxy.endpoint() ...
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

/// What a firing rule does to the request (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 500 `InternalError`; the request does not reach the server.
    InternalError,
    /// 503 `SlowDown`; the request does not reach the server.
    SlowDown,
    /// Close the connection without an answer; the request does not reach the server.
    Reset,
    /// Forward, send the status, the headers and half the body, then kill the connection.
    ResetMidBody,
    /// Forward (the server does the work), answer 500 `InternalError`.
    #[serde(rename = "land_then_500")]
    LandThen500,
    /// Forward `ms` milliseconds late (later rules still apply).
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Drop `If-Match` and `If-None-Match` before forwarding (later rules still apply).
    StripConditionals,
}

impl Fault {
    /// Does this fault end the matching (answer the request itself)?
    fn is_terminal(&self) -> bool {
        !matches!(self, Fault::Latency { .. } | Fault::StripConditionals)
    }
}

/// One rule: which requests, how often, which fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Shown in the statistics.
    pub name: String,
    /// HTTP method (`GET`, `PUT`, `HEAD`, `DELETE`, `POST`); any when unset.
    #[serde(default)]
    pub method: Option<String>,
    /// Glob (`*` matches any run of characters, `/` included) on the decoded object key, `""`
    /// for requests on the bucket itself (listing); any when unset.
    #[serde(default)]
    pub key: Option<String>,
    /// Substring the raw query string must contain (e.g. `list-type=2`).
    #[serde(default)]
    pub query: Option<String>,
    /// Header the request must carry (e.g. `if-match`).
    #[serde(default)]
    pub header: Option<String>,
    /// Chance that a matching request fires the rule (1.0 when unset).
    #[serde(default = "always")]
    pub probability: f64,
    /// Matching requests let through before the rule can fire.
    #[serde(default)]
    pub skip: u64,
    /// Fire at most this many times (no limit when unset).
    #[serde(default)]
    pub times: Option<u64>,
    /// What happens.
    pub fault: Fault,
}

fn always() -> f64 {
    1.0
}

impl Rule {
    /// A rule matching every request, always firing `fault`.
    pub fn new(name: &str, fault: Fault) -> Rule {
        Rule {
            name: name.into(),
            method: None,
            key: None,
            query: None,
            header: None,
            probability: 1.0,
            skip: 0,
            times: None,
            fault,
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.into());
        self
    }

    /// Only objects whose key matches this glob.
    pub fn key(mut self, glob: &str) -> Rule {
        self.key = Some(glob.into());
        self
    }

    /// Only requests whose query string contains this.
    pub fn query(mut self, needle: &str) -> Rule {
        self.query = Some(needle.into());
        self
    }

    /// Only requests carrying this header.
    pub fn header(mut self, name: &str) -> Rule {
        self.header = Some(name.into());
        self
    }

    /// Fire on this fraction of the matching requests.
    pub fn probability(mut self, p: f64) -> Rule {
        self.probability = p;
        self
    }

    /// Let the first `n` matching requests through.
    pub fn skip(mut self, n: u64) -> Rule {
        self.skip = n;
        self
    }

    /// Fire at most `n` times.
    pub fn times(mut self, n: u64) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, req: &RequestInfo) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(req.method.as_str()))
            && self.key.as_deref().is_none_or(|g| glob(g, &req.key))
            && self.query.as_deref().is_none_or(|q| req.query.contains(q))
            && self
                .header
                .as_deref()
                .is_none_or(|h| req.headers.iter().any(|n| n.eq_ignore_ascii_case(h)))
    }
}

/// Counters of one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleStats {
    /// The rule's name.
    pub name: String,
    /// Requests that reached it and matched it (a terminal fault of an earlier rule ends the
    /// matching, so later rules do not see that request).
    pub matched: u64,
    /// Times it fired.
    pub fired: u64,
}

/// Counters of the proxy since the rules were last set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received (control requests excluded).
    pub requests: u64,
    /// Requests answered with a terminal fault or modified by `strip_conditionals`.
    pub faults: u64,
    /// Requests delayed by `latency`.
    pub delayed: u64,
    /// Per rule, in rule order.
    pub rules: Vec<RuleStats>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    stats: Stats,
}

impl State {
    fn set_rules(&mut self, rules: Vec<Rule>) {
        self.stats = Stats {
            rules: rules
                .iter()
                .map(|r| RuleStats {
                    name: r.name.clone(),
                    ..RuleStats::default()
                })
                .collect(),
            ..Stats::default()
        };
        self.rules = rules;
    }

    /// The faults that fire for `req`, in order, the terminal one (if any) last.
    fn decide(&mut self, req: &RequestInfo) -> Vec<Fault> {
        self.stats.requests += 1;
        let mut out = Vec::new();
        for (rule, st) in self.rules.iter().zip(self.stats.rules.iter_mut()) {
            if !rule.matches(req) {
                continue;
            }
            st.matched += 1;
            if st.matched <= rule.skip
                || rule.times.is_some_and(|t| st.fired >= t)
                || (rule.probability < 1.0 && fastrand::f64() >= rule.probability)
            {
                continue;
            }
            st.fired += 1;
            match rule.fault {
                Fault::Latency { .. } => self.stats.delayed += 1,
                _ => self.stats.faults += 1,
            }
            out.push(rule.fault.clone());
            if rule.fault.is_terminal() {
                break;
            }
        }
        out
    }
}

/// What rules look at.
struct RequestInfo {
    method: Method,
    key: String,
    query: String,
    headers: Vec<String>,
}

impl RequestInfo {
    fn of<B>(req: &Request<B>) -> RequestInfo {
        let path = req.uri().path();
        // Path style: /BUCKET/KEY...
        let key = path
            .trim_start_matches('/')
            .split_once('/')
            .map_or("", |(_, k)| k);
        RequestInfo {
            method: req.method().clone(),
            key: percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .into_owned(),
            query: req.uri().query().unwrap_or("").to_owned(),
            headers: req
                .headers()
                .keys()
                .map(|k| k.as_str().to_owned())
                .collect(),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

type Body = BoxBody<Bytes, std::io::Error>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

fn s3_error(status: StatusCode, code: &str, message: &str, key: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><Key>{key}</Key><RequestId>fault-proxy</RequestId></Error>"
    );
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    r
}

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "upgrade",
    "expect",
];

/// A running proxy. Stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://HOST:PORT`) on a free 127.0.0.1 port, with no
    /// rules, on a thread and runtime of its own.
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        Self::start_on(upstream, "127.0.0.1:0".parse()?)
    }

    /// Like [`start`](Self::start), listening on `listen`.
    pub fn start_on(upstream: &str, listen: SocketAddr) -> Result<FaultProxy> {
        let up = upstream
            .trim_end_matches('/')
            .strip_prefix("http://")
            .with_context(|| format!("upstream {upstream:?} is not http://HOST:PORT"))?
            .to_owned();
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("binding the proxy to {listen}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("s3-fault-proxy".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("proxy listener");
                    tokio::select! {
                        _ = serve(listener, st, Arc::from(up)) => {}
                        _ = stop_rx => {}
                    }
                });
                rt.shutdown_background();
            })?;
        Ok(FaultProxy {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint clients use instead of the server's.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the rules and resets the counters.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        lock(&self.state).set_rules(rules);
    }

    /// The counters since the rules were last set.
    pub fn stats(&self) -> Stats {
        lock(&self.state).stats.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<Mutex<State>>, upstream: Arc<str>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let state = state.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let upstream = upstream.clone();
                async move { handle(req, &state, &upstream).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Answers one request; an `Err` makes hyper drop the connection without an answer.
async fn handle(
    req: Request<Incoming>,
    state: &Mutex<State>,
    upstream: &str,
) -> std::result::Result<Response<Body>, std::io::Error> {
    if req.uri().path().starts_with("/_proxy/") {
        return Ok(control(req, state).await);
    }
    let info = RequestInfo::of(&req);
    let faults = lock(state).decide(&info);
    let (mut parts, body) = req.into_parts();
    let mut terminal = None;
    for f in faults {
        match f {
            Fault::Latency { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            Fault::StripConditionals => {
                parts.headers.remove("if-match");
                parts.headers.remove("if-none-match");
            }
            other => terminal = Some(other),
        }
    }
    let key = info.key.as_str();
    match terminal {
        Some(Fault::InternalError) => {
            // Read the body first, as a server answering after the upload would.
            let _ = body.collect().await;
            return Ok(s3_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again. (fault proxy)",
                key,
            ));
        }
        Some(Fault::SlowDown) => {
            let _ = body.collect().await;
            return Ok(s3_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                "Please reduce your request rate. (fault proxy)",
                key,
            ));
        }
        Some(Fault::Reset) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "fault proxy: reset",
            ))
        }
        _ => {}
    }
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let resp = match forward(parts, body, upstream).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(s3_error(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                &format!("fault proxy: upstream: {e:#}"),
                key,
            ))
        }
    };
    match terminal {
        Some(Fault::LandThen500) => Ok(s3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again. (fault proxy, after the request landed)",
            key,
        )),
        Some(Fault::ResetMidBody) => {
            let (parts, body) = resp.into_parts();
            if body.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault proxy: reset after the request landed",
                ));
            }
            let half = body.slice(..body.len() / 2);
            // Half the body, a pause (hyper flushes what it has while the body is pending),
            // then an error: hyper aborts the connection.
            let frames = futures::stream::unfold(Some(half), |half| async move {
                match half {
                    Some(h) => Some((Ok(Frame::data(h)), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "fault proxy: reset mid-body",
                            )),
                            None,
                        ))
                    }
                }
            });
            let mut r = Response::from_parts(parts, StreamBody::new(frames).boxed());
            // The full length stays announced: the client sees a short body.
            r.headers_mut().insert(
                hyper::header::CONTENT_LENGTH,
                HeaderValue::from(body.len() as u64),
            );
            Ok(r)
        }
        _ => {
            let (parts, body) = resp.into_parts();
            Ok(Response::from_parts(parts, full(body)))
        }
    }
}

/// Sends the request to the server on a fresh connection; returns its whole answer.
async fn forward(
    mut parts: hyper::http::request::Parts,
    body: Bytes,
    upstream: &str,
) -> Result<Response<Bytes>> {
    for h in HOP_BY_HOP {
        parts.headers.remove(h);
    }
    // Origin form towards the server; Host stays what the client signed.
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    parts.uri = pq.parse()?;
    parts.headers.insert(
        hyper::header::CONTENT_LENGTH,
        HeaderValue::from(body.len() as u64),
    );
    let head = parts.method == Method::HEAD;
    let stream = tokio::net::TcpStream::connect(upstream)
        .await
        .with_context(|| format!("connecting to {upstream}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (mut parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    for h in HOP_BY_HOP {
        parts.headers.remove(h);
    }
    if !head {
        parts.headers.insert(
            hyper::header::CONTENT_LENGTH,
            HeaderValue::from(body.len() as u64),
        );
    }
    Ok(Response::from_parts(parts, body))
}

async fn control(req: Request<Incoming>, state: &Mutex<State>) -> Response<Body> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(full(body));
        *r.status_mut() = status;
        r.headers_mut().insert(
            HeaderName::from_static("content-type"),
            HeaderValue::from_static("application/json"),
        );
        r
    };
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/_proxy/stats") => {
            let stats = lock(state).stats.clone();
            reply(
                StatusCode::OK,
                serde_json::to_string(&stats).unwrap_or_default(),
            )
        }
        (Method::PUT, "/_proxy/rules") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return reply(StatusCode::BAD_REQUEST, format!("{{\"error\":\"{e}\"}}")),
            };
            match parse_rules(&body) {
                Ok(rules) => {
                    let n = rules.len();
                    lock(state).set_rules(rules);
                    reply(StatusCode::OK, format!("{{\"rules\":{n}}}"))
                }
                Err(e) => reply(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": format!("{e:#}") }).to_string(),
                ),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "{\"error\":\"GET /_proxy/stats or PUT /_proxy/rules\"}".into(),
        ),
    }
}

/// Rules from JSON (an array of [`Rule`]), checked.
pub fn parse_rules(json: &[u8]) -> Result<Vec<Rule>> {
    let rules: Vec<Rule> = serde_json::from_slice(json).context("rules: a JSON array of rules")?;
    for r in &rules {
        if !(0.0..=1.0).contains(&r.probability) {
            bail!(
                "rule {:?}: probability {} is not in 0..=1",
                r.name,
                r.probability
            );
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*repomd.xml", "el9/repodata/repomd.xml"));
        assert!(glob("el9/*/x*", "el9/repodata/xy"));
        assert!(!glob("el9/*/x*", "el8/repodata/xy"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exact2"));
    }

    fn info(method: Method, key: &str, headers: &[&str]) -> RequestInfo {
        RequestInfo {
            method,
            key: key.into(),
            query: String::new(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn rules_match_skip_limit_and_chain() {
        let mut st = State::default();
        st.set_rules(vec![
            Rule::new("slow", Fault::Latency { ms: 1 }).method("PUT"),
            Rule::new("strip", Fault::StripConditionals).header("If-None-Match"),
            Rule::new("second put fails", Fault::InternalError)
                .method("put")
                .key("*.rpm")
                .skip(1)
                .times(1),
            Rule::new("never", Fault::Reset).probability(0.0),
        ]);
        let put = info(Method::PUT, "a/x.rpm", &["if-none-match"]);
        assert_eq!(
            st.decide(&put),
            vec![Fault::Latency { ms: 1 }, Fault::StripConditionals]
        );
        assert_eq!(
            st.decide(&put),
            vec![
                Fault::Latency { ms: 1 },
                Fault::StripConditionals,
                Fault::InternalError
            ]
        );
        assert_eq!(st.decide(&info(Method::GET, "a/x.rpm", &[])), vec![]);
        let s = &st.stats;
        assert_eq!((s.requests, s.faults, s.delayed), (3, 3, 2));
        let fired: Vec<u64> = s.rules.iter().map(|r| r.fired).collect();
        let matched: Vec<u64> = s.rules.iter().map(|r| r.matched).collect();
        assert_eq!(fired, [2, 2, 1, 0]);
        assert_eq!(matched, [2, 2, 2, 2]);
    }

    #[test]
    fn rules_parse_from_json_and_bad_ones_are_refused() {
        let rules = parse_rules(
            br#"[{"name":"x","method":"GET","key":"*repomd.xml","probability":0.5,
                  "fault":{"kind":"latency","ms":20}},
                 {"name":"y","fault":{"kind":"land_then_500"}}]"#,
        )
        .unwrap();
        assert_eq!(rules[0].fault, Fault::Latency { ms: 20 });
        assert_eq!(rules[1].probability, 1.0);
        assert_eq!(rules[1].fault, Fault::LandThen500);
        let e =
            parse_rules(br#"[{"name":"x","probability":2,"fault":{"kind":"reset"}}]"#).unwrap_err();
        assert!(format!("{e:#}").contains("probability"), "{e:#}");
        assert!(parse_rules(br#"[{"name":"x","fault":{"kind":"explode"}}]"#).is_err());
    }
}
