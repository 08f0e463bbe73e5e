//! Tokens: `user:secret` credentials with a scope (repository prefixes; read/write/delete),
//! stored as argon2 hashes in configuration.
//!
//! Configuration text is either JSON:
//!
//! ```json
//! [{"user": "ci", "hash": "$argon2id$v=19$...", "permissions": ["write"], "prefixes": ["el9/"]}]
//! ```
//!
//! or one token a line, `USER:HASH PERMISSIONS [PREFIX,PREFIX...]`, `#` starting a comment:
//!
//! ```text
//! ci:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA rw el9/,el8/
//! admin:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA read,write,delete
//! ```
//!
//! Permissions are words (`read,write,delete`) or letters (`rwd`). Prefixes are directories of
//! keys (a missing trailing `/` is added); none, `*` or `/` mean every repository.
//!
//! Clients present the token with HTTP Basic (`curl -u ci:SECRET`) or as a Bearer token
//! (`Authorization: Bearer ci:SECRET`, or just the secret).
//!
//! # Two hash schemes, and why
//!
//! - `$rpmbucket-sha256$HEX` (what `rpmbucket token hash --generate` writes): the SHA-256 of a
//!   256-bit random secret, compared in constant time. A password hash exists to make guessing
//!   a *low-entropy* secret from a stolen hash expensive; a 256-bit random secret cannot be
//!   guessed at any hash speed, so a slow hash buys nothing and costs every request (and lets
//!   unauthenticated clients spend the server's memory). A keyed hash (HMAC with a server key)
//!   would add a key to generate, store and rotate on every instance for no gain with such
//!   secrets. Verification costs microseconds.
//! - `$argon2id$...` (legacy, and secrets typed by a person): still accepted. Each verification
//!   costs ~19 MiB and tens of milliseconds, so it runs under a small semaphore
//!   ([`AuthLimits::slow_concurrency`]) on as many dedicated threads, each reusing one argon2
//!   memory block for every verification (so the memory argon2 can hold is fixed: threads ×
//!   block, never one block per blocking-pool thread left in the allocator's per-thread
//!   arenas); a request that cannot get a permit within [`AuthLimits::slow_queue_timeout`] is
//!   refused with [`AuthError::Busy`] (503 + Retry-After). A presented user name that has no
//!   argon2 token is verified against a dummy with the same parameters, so unknown users cost
//!   (and take) as long as known ones.
//!
//! Failed attempts are counted per client address; past [`AuthLimits::failures_per_minute`] in
//! a minute the address gets [`AuthError::TooMany`] (429 + Retry-After) without any hashing,
//! except for credentials already verified (a CI job keeps working while someone else on its
//! address is guessing). Verified presentations are remembered for the life of the process,
//! keyed by SHA-256 over the scheme, the user and the secret (so `Basic :S` and `Bearer S` are
//! different entries); refusals are not cached (random guesses would only evict good entries).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Environment variable holding the token configuration text.
pub const TOKENS_ENV: &str = "RPMBUCKET_TOKENS";

/// Prefix of the fast hash scheme: `$rpmbucket-sha256$` + 64 hex digits.
pub const FAST_SCHEME: &str = "$rpmbucket-sha256$";

/// Shortest secret accepted for the fast scheme (32 bytes: the generated secrets are 64 hex
/// digits).
pub const FAST_MIN_SECRET: usize = 32;

/// Longest secret looked at; longer presentations are refused without hashing.
const MAX_SECRET: usize = 1024;

/// Limits on what authentication may cost (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// argon2 verifications running at once (each holds ~19 MiB with default parameters).
    pub slow_concurrency: usize,
    /// How long a request waits for an argon2 permit before 503.
    pub slow_queue_timeout: Duration,
    /// Failed attempts per client address per minute before 429.
    pub failures_per_minute: u32,
}

impl Default for AuthLimits {
    fn default() -> AuthLimits {
        AuthLimits {
            slow_concurrency: 2,
            slow_queue_timeout: Duration::from_secs(2),
            failures_per_minute: 30,
        }
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Ask `/status` about a key; read the source of a promotion.
    Read,
    /// Upload (`PUT`, `/presign`); write the target of a promotion.
    Write,
    /// `DELETE` a key.
    Delete,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Delete => "delete",
        })
    }
}

/// One configured token.
#[derive(Debug, Clone)]
pub struct Grant {
    /// User name (Basic-auth user; non-empty, no `:`).
    pub user: String,
    /// argon2 PHC string.
    pub hash: String,
    /// Grants [`Permission::Read`].
    pub read: bool,
    /// Grants [`Permission::Write`].
    pub write: bool,
    /// Grants [`Permission::Delete`].
    pub delete: bool,
    /// Key prefixes (each ending in `/`); empty means every key.
    pub prefixes: Vec<String>,
}

impl Grant {
    fn allows(&self, perm: Permission) -> bool {
        match perm {
            Permission::Read => self.read,
            Permission::Write => self.write,
            Permission::Delete => self.delete,
        }
    }

    fn covers(&self, key: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }
}

/// Configuration errors (bad token text).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A line of the text form is malformed.
    #[error("token configuration line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The JSON form does not parse or has unknown fields.
    #[error("token configuration JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A token parses but is unusable (bad user name, hash or permission).
    #[error("token {user:?}: {reason}")]
    Grant {
        /// The token's user.
        user: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token file could not be read.
    #[error("reading token file {path}: {source}")]
    Io {
        /// The token file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A token source failed, with its message. Nothing in the workspace constructs it today.
    #[error("token source: {0}")]
    Source(String),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials (→ 401).
    #[error("authentication required: use HTTP Basic (curl -u USER:TOKEN) or a Bearer token")]
    Missing,
    /// Credentials that match no token (→ 401).
    #[error("invalid credentials")]
    Invalid,
    /// A valid token without the permission or prefix (→ 403).
    #[error("token of {user:?} has no {perm} permission for {key}")]
    Forbidden {
        /// The authenticated user.
        user: String,
        /// The permission asked for.
        perm: Permission,
        /// The key it was asked for.
        key: String,
    },
    /// Too many failed attempts from this client address (→ 429 + Retry-After).
    #[error("too many failed authentication attempts from this address; retry in {retry_after} s")]
    TooMany {
        /// Seconds until this address may try again.
        retry_after: u64,
    },
    /// Every slow (argon2) verification slot stayed busy for the queue timeout (→ 503 +
    /// Retry-After).
    #[error("authentication is busy (argon2 tokens verify a few at a time); retry shortly")]
    Busy,
}

impl AuthError {
    /// Seconds a client should wait before retrying, for the refusals that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::TooMany { retry_after } => Some(*retry_after),
            AuthError::Busy => Some(1),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user of the matching token.
    pub user: String,
    grant: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonGrant {
    user: String,
    hash: String,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTokens {
    List(Vec<JsonGrant>),
    Object { tokens: Vec<JsonGrant> },
}

/// Most entries remembered in the verification cache before it is emptied.
const CACHE_LIMIT: usize = 4096;
/// Most client addresses tracked for failed attempts before expired ones are dropped.
const FAILURES_LIMIT: usize = 16384;
/// The window of [`AuthLimits::failures_per_minute`].
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// How one grant's secret is checked.
#[derive(Debug, Clone)]
enum Verifier {
    /// SHA-256 of the secret.
    Fast([u8; 32]),
    /// An argon2 hash, parsed once.
    Slow(SlowHash),
}

/// An argon2 PHC string taken apart: what [`SlowHash::verify`] recomputes.
#[derive(Debug, Clone)]
struct SlowHash {
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: argon2::Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl SlowHash {
    fn parse(phc: &str) -> Result<SlowHash, String> {
        let h = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        let algorithm = argon2::Algorithm::try_from(h.algorithm).map_err(|e| e.to_string())?;
        let version = match h.version {
            Some(v) => argon2::Version::try_from(v).map_err(|e| e.to_string())?,
            None => argon2::Version::default(),
        };
        let params = argon2::Params::try_from(&h).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let salt = h
            .salt
            .ok_or("no salt")?
            .decode_b64(&mut buf)
            .map_err(|e| e.to_string())?
            .to_vec();
        let hash = h.hash.ok_or("no hash output")?.as_bytes().to_vec();
        Ok(SlowHash {
            algorithm,
            version,
            params,
            salt,
            hash,
        })
    }

    /// A hash of nobody's secret with these parameters (what unknown users are checked
    /// against).
    fn dummy(&self) -> SlowHash {
        use argon2::password_hash::rand_core::RngCore;
        let mut salt = vec![0u8; self.salt.len().max(16)];
        OsRng.fill_bytes(&mut salt);
        SlowHash {
            salt,
            ..self.clone()
        }
    }

    /// Recompute the hash of `secret` in `memory` (grown to this hash's block count, kept for
    /// the next call) and compare in constant time.
    fn verify(&self, secret: &[u8], memory: &mut Vec<Block>) -> bool {
        let need = self.params.block_count();
        if memory.len() < need {
            memory.resize(need, Block::default());
        }
        let mut out = vec![0u8; self.hash.len()];
        Argon2::new(self.algorithm, self.version, self.params.clone())
            .hash_password_into_with_memory(secret, &self.salt, &mut out, &mut memory[..need])
            .is_ok()
            && bool::from(out.ct_eq(&self.hash))
    }
}

/// One argon2 verification for the pool: the hashes to try (the first match wins, all are
/// computed), the secret, where to answer, and the semaphore permit it holds until done.
struct SlowJob {
    hashes: Vec<(Option<usize>, SlowHash)>,
    secret: String,
    reply: oneshot::Sender<Option<usize>>,
    _permit: OwnedSemaphorePermit,
}

/// The configured tokens plus the per-process verification cache and limits.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    grants: Arc<Vec<Grant>>,
    verifiers: Arc<Vec<Verifier>>,
    /// SHA-256(scheme, user, secret) → index of the grant (successes only).
    cache: Arc<Mutex<HashMap<[u8; 32], usize>>>,
    limits: AuthLimits,
    slow: Arc<SlowGate>,
    failures: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
}

/// The argon2 semaphore and the threads verifications run on (started at the first one).
#[derive(Debug)]
struct SlowGate {
    permits: Arc<Semaphore>,
    threads: usize,
    jobs: OnceLock<Mutex<std_mpsc::SyncSender<SlowJob>>>,
}

impl SlowGate {
    fn new(threads: usize) -> SlowGate {
        let threads = threads.max(1);
        SlowGate {
            permits: Arc::new(Semaphore::new(threads)),
            threads,
            jobs: OnceLock::new(),
        }
    }

    /// Queue a job (it holds one of the `threads` permits, so the queue never holds more
    /// than `threads` jobs); the threads exit when the gate is dropped.
    fn submit(&self, job: SlowJob) -> Result<(), AuthError> {
        let jobs = self.jobs.get_or_init(|| {
            let (tx, rx) = std_mpsc::sync_channel::<SlowJob>(self.threads);
            let rx = Arc::new(Mutex::new(rx));
            for n in 0..self.threads {
                let rx = Arc::clone(&rx);
                let spawned = std::thread::Builder::new()
                    .name(format!("rpmbucket-argon2-{n}"))
                    .spawn(move || slow_worker(&rx));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "starting an argon2 verification thread");
                }
            }
            Mutex::new(tx)
        });
        jobs.lock()
            .expect("argon2 job queue")
            .try_send(job)
            .map_err(|_| AuthError::Busy)
    }
}

impl Default for SlowGate {
    fn default() -> SlowGate {
        SlowGate::new(AuthLimits::default().slow_concurrency)
    }
}

/// An argon2 thread: one memory block, reused for every job.
fn slow_worker(rx: &Mutex<std_mpsc::Receiver<SlowJob>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let mut found = None;
        for (grant, h) in &job.hashes {
            if h.verify(job.secret.as_bytes(), &mut memory) && found.is_none() {
                found = *grant;
            }
        }
        let _ = job.reply.send(found);
    }
}

impl Tokens {
    /// Tokens from already-built grants (validated like parsed ones).
    pub fn new(grants: Vec<Grant>) -> Result<Tokens, ConfigError> {
        let mut verifiers = Vec::with_capacity(grants.len());
        for g in &grants {
            if g.user.is_empty() || g.user.contains(':') {
                return Err(ConfigError::Grant {
                    user: g.user.clone(),
                    reason: "user name must be non-empty and contain no ':'".into(),
                });
            }
            if let Some(hexed) = g.hash.strip_prefix(FAST_SCHEME) {
                let mut d = [0u8; 32];
                hex::decode_to_slice(hexed, &mut d).map_err(|_| ConfigError::Grant {
                    user: g.user.clone(),
                    reason: format!("{FAST_SCHEME} must be followed by 64 hex digits"),
                })?;
                verifiers.push(Verifier::Fast(d));
                continue;
            }
            let slow = SlowHash::parse(&g.hash).map_err(|e| ConfigError::Grant {
                user: g.user.clone(),
                reason: format!(
                    "hash is neither {FAST_SCHEME}HEX nor an argon2 PHC string ({e}); make one with `rpmbucket token hash`"
                ),
            })?;
            verifiers.push(Verifier::Slow(slow));
        }
        Ok(Tokens {
            grants: Arc::new(grants),
            verifiers: Arc::new(verifiers),
            ..Tokens::default()
        })
    }

    /// Replace the authentication limits (a fresh semaphore; counters start empty).
    pub fn with_limits(mut self, limits: AuthLimits) -> Tokens {
        self.limits = limits;
        self.slow = Arc::new(SlowGate::new(limits.slow_concurrency));
        self.failures = Arc::default();
        self
    }

    /// The limits in use.
    pub fn limits(&self) -> AuthLimits {
        self.limits
    }

    /// Parse configuration text: JSON (starting with `[` or `{`) or the line format.
    pub fn parse(text: &str) -> Result<Tokens, ConfigError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let grants = match serde_json::from_str::<JsonTokens>(trimmed)? {
                JsonTokens::List(l) | JsonTokens::Object { tokens: l } => l,
            };
            let grants = grants
                .into_iter()
                .map(|j| {
                    let mut g = Grant {
                        user: j.user,
                        hash: j.hash,
                        read: false,
                        write: false,
                        delete: false,
                        prefixes: normalize_prefixes(j.prefixes),
                    };
                    for p in &j.permissions {
                        set_permissions(&mut g, p).map_err(|reason| ConfigError::Grant {
                            user: g.user.clone(),
                            reason,
                        })?;
                    }
                    Ok(g)
                })
                .collect::<Result<Vec<_>, ConfigError>>()?;
            return Tokens::new(grants);
        }
        let mut grants = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: &str| ConfigError::Line {
                line: i + 1,
                reason: reason.to_string(),
            };
            let mut words = line.split_whitespace();
            let cred = words.next().ok_or_else(|| bad("empty"))?;
            let (user, hash) = cred
                .split_once(':')
                .ok_or_else(|| bad("expected USER:HASH PERMISSIONS [PREFIXES]"))?;
            let perms = words
                .next()
                .ok_or_else(|| bad("missing permissions (e.g. rw or read,write)"))?;
            let prefixes = words
                .next()
                .map(|p| p.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            if words.next().is_some() {
                return Err(bad("too many fields (prefixes are comma-separated)"));
            }
            let mut g = Grant {
                user: user.to_string(),
                hash: hash.to_string(),
                read: false,
                write: false,
                delete: false,
                prefixes: normalize_prefixes(prefixes),
            };
            set_permissions(&mut g, perms).map_err(|r| bad(&r))?;
            grants.push(g);
        }
        Tokens::new(grants)
    }

    /// Read and parse a token file.
    pub fn load_file(path: &Path) -> Result<Tokens, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Tokens::parse(&text)
    }

    /// Tokens from `RPMBUCKET_TOKENS`, if set and non-empty.
    pub fn from_env() -> Result<Option<Tokens>, ConfigError> {
        match std::env::var(TOKENS_ENV) {
            Ok(t) if !t.trim().is_empty() => Tokens::parse(&t).map(Some),
            _ => Ok(None),
        }
    }

    /// Number of configured tokens.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// No tokens configured.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Check the `Authorization` header value (Basic or Bearer) presented from `client`.
    /// Fast-scheme tokens are checked inline; argon2 ones on a blocking thread under the
    /// semaphore. Verified presentations come from the cache afterwards.
    pub async fn authenticate(
        &self,
        authorization: Option<&[u8]>,
        client: Option<IpAddr>,
    ) -> Result<Identity, AuthError> {
        let (scheme, user, secret) = credentials(authorization.ok_or(AuthError::Missing)?)?;
        let mut h = Sha256::new();
        h.update([scheme as u8, u8::from(user.is_some())]);
        h.update(user.as_deref().unwrap_or("").as_bytes());
        h.update([0u8]);
        h.update(secret.as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let cached = self.cache.lock().expect("cache lock").get(&digest).copied();
        if let Some(grant) = cached {
            return Ok(self.identity(grant));
        }
        self.check_rate(client)?;
        let found = if secret.len() > MAX_SECRET {
            None
        } else {
            match self.verify_fast(user.as_deref(), &secret) {
                Some(g) => Some(g),
                None => self.verify_slow(user, secret).await?,
            }
        };
        match found {
            Some(grant) => {
                let mut cache = self.cache.lock().expect("cache lock");
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(digest, grant);
                Ok(self.identity(grant))
            }
            None => {
                self.record_failure(client);
                Err(AuthError::Invalid)
            }
        }
    }

    fn identity(&self, grant: usize) -> Identity {
        Identity {
            user: self.grants[grant].user.clone(),
            grant,
        }
    }

    /// 429 when `client` used up its failures for the current window.
    fn check_rate(&self, client: Option<IpAddr>) -> Result<(), AuthError> {
        let Some(ip) = client else { return Ok(()) };
        let failures = self.failures.lock().expect("failures lock");
        match failures.get(&ip) {
            Some((start, n))
                if *n >= self.limits.failures_per_minute && start.elapsed() < FAILURE_WINDOW =>
            {
                let left = FAILURE_WINDOW.saturating_sub(start.elapsed());
                Err(AuthError::TooMany {
                    retry_after: left.as_secs().max(1),
                })
            }
            _ => Ok(()),
        }
    }

    fn record_failure(&self, client: Option<IpAddr>) {
        let Some(ip) = client else { return };
        let mut failures = self.failures.lock().expect("failures lock");
        if failures.len() >= FAILURES_LIMIT {
            failures.retain(|_, (start, _)| start.elapsed() < FAILURE_WINDOW);
            if failures.len() >= FAILURES_LIMIT {
                failures.clear();
            }
        }
        let e = failures.entry(ip).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= FAILURE_WINDOW {
            *e = (Instant::now(), 0);
        }
        e.1 = e.1.saturating_add(1);
    }

    /// Fast-scheme grants: one SHA-256, every candidate compared in constant time.
    fn verify_fast(&self, user: Option<&str>, secret: &str) -> Option<usize> {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let mut found = None;
        for (i, (g, v)) in self.grants.iter().zip(self.verifiers.iter()).enumerate() {
            let Verifier::Fast(want) = v else { continue };
            let user_ok = match user {
                Some(u) => bool::from(u.as_bytes().ct_eq(g.user.as_bytes())),
                None => true,
            };
            let secret_ok = bool::from(digest.ct_eq(want));
            if user_ok && secret_ok && found.is_none() {
                found = Some(i);
            }
        }
        found
    }

    /// argon2 grants, under the semaphore, on the argon2 threads. With a user name exactly the
    /// hashes of that user are tried, or one dummy when it has none; without a user name every
    /// argon2 grant.
    async fn verify_slow(
        &self,
        user: Option<String>,
        secret: String,
    ) -> Result<Option<usize>, AuthError> {
        let mut hashes: Vec<(Option<usize>, SlowHash)> = self
            .grants
            .iter()
            .zip(self.verifiers.iter())
            .enumerate()
            .filter_map(|(i, (g, v))| match v {
                Verifier::Slow(h) if user.as_deref().is_none_or(|u| u == g.user) => {
                    Some((Some(i), h.clone()))
                }
                _ => None,
            })
            .collect();
        if hashes.is_empty() {
            let Some(first) = self.verifiers.iter().find_map(|v| match v {
                Verifier::Slow(h) => Some(h),
                Verifier::Fast(_) => None,
            }) else {
                return Ok(None);
            };
            hashes.push((None, first.dummy()));
        }
        let permit = tokio::time::timeout(
            self.limits.slow_queue_timeout,
            Arc::clone(&self.slow.permits).acquire_owned(),
        )
        .await
        .map_err(|_| AuthError::Busy)?
        .map_err(|_| AuthError::Busy)?;
        let (reply, answer) = oneshot::channel();
        self.slow.submit(SlowJob {
            hashes,
            secret,
            reply,
            _permit: permit,
        })?;
        answer.await.map_err(|_| AuthError::Busy)
    }

    /// May `id` do `perm` on `key`?
    pub fn authorize(&self, id: &Identity, perm: Permission, key: &str) -> Result<(), AuthError> {
        let g = &self.grants[id.grant];
        if g.allows(perm) && g.covers(key) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                user: id.user.clone(),
                perm,
                key: key.to_string(),
            })
        }
    }
}

/// How the credentials were presented (part of the cache key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Basic = 1,
    Bearer = 2,
}

/// (scheme, user, secret) from a Basic or Bearer header value.
fn credentials(value: &[u8]) -> Result<(Scheme, Option<String>, String), AuthError> {
    let value = std::str::from_utf8(value).map_err(|_| AuthError::Invalid)?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Invalid)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| AuthError::Invalid)?;
        let raw = String::from_utf8(raw).map_err(|_| AuthError::Invalid)?;
        let (u, s) = raw.split_once(':').ok_or(AuthError::Invalid)?;
        Ok((Scheme::Basic, Some(u.to_string()), s.to_string()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        match rest.split_once(':') {
            Some((u, s)) => Ok((Scheme::Bearer, Some(u.to_string()), s.to_string())),
            None => Ok((Scheme::Bearer, None, rest.to_string())),
        }
    } else {
        Err(AuthError::Missing)
    }
}

fn set_permissions(g: &mut Grant, spec: &str) -> Result<(), String> {
    for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word.to_ascii_lowercase().as_str() {
            "read" => g.read = true,
            "write" => g.write = true,
            "delete" => g.delete = true,
            letters if letters.chars().all(|c| "rwd".contains(c)) => {
                g.read |= letters.contains('r');
                g.write |= letters.contains('w');
                g.delete |= letters.contains('d');
            }
            other => {
                return Err(format!(
                    "unknown permission {other:?} (read, write, delete or rwd)"
                ))
            }
        }
    }
    if !(g.read || g.write || g.delete) {
        return Err("no permission given".into());
    }
    Ok(())
}

fn normalize_prefixes(prefixes: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in prefixes {
        let p = p.trim().trim_start_matches('/');
        if p.is_empty() || p == "*" {
            return Vec::new();
        }
        out.push(if p.ends_with('/') {
            p.to_string()
        } else {
            format!("{p}/")
        });
    }
    out
}

/// Hash a secret for the configuration (argon2id, default parameters, random salt).
pub fn hash_token(secret: &str) -> String {
    hash_token_with(secret, argon2::Params::default())
}

/// [`hash_token`] with explicit argon2 parameters (cheap ones make tests fast).
pub fn hash_token_with(secret: &str, params: argon2::Params) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters")
        .to_string()
}

/// Hash a high-entropy secret for the fast scheme (`$rpmbucket-sha256$HEX`). Refuses secrets
/// shorter than [`FAST_MIN_SECRET`] bytes: those need [`hash_token`].
pub fn hash_token_fast(secret: &str) -> Result<String, String> {
    if secret.len() < FAST_MIN_SECRET {
        return Err(format!(
            "the fast scheme needs a generated secret of at least {FAST_MIN_SECRET} bytes (use --generate, or the argon2 scheme for a chosen secret)"
        ));
    }
    Ok(format!(
        "{FAST_SCHEME}{}",
        hex::encode(Sha256::digest(secret.as_bytes()))
    ))
}

/// A new random secret (32 bytes, hex) for a token.
pub fn generate_secret() -> String {
    use argon2::password_hash::rand_core::RngCore;
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(secret: &str) -> String {
        hash_token_with(secret, argon2::Params::new(256, 1, 1, None).unwrap())
    }

    fn basic(user: &str, secret: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
        )
        .into_bytes()
    }

    /// The user `header` authenticates as, or the refusal.
    async fn auth(t: &Tokens, header: &[u8]) -> Result<String, AuthError> {
        t.authenticate(Some(header), None).await.map(|id| id.user)
    }

    /// The user `header` authenticates as; panics when it is refused.
    async fn user(t: &Tokens, header: &[u8]) -> String {
        auth(t, header)
            .await
            .unwrap_or_else(|e| panic!("{:?} refused: {e:?}", String::from_utf8_lossy(header)))
    }

    fn tokens() -> Tokens {
        Tokens::parse(&format!(
            "# comment\nci:{} rw el9/,el8\nadmin:{} read,write,delete\n",
            cheap("s3cret"),
            cheap("root")
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn basic_and_bearer() {
        let t = tokens();
        assert_eq!(user(&t, &basic("ci", "s3cret")).await, "ci");
        assert_eq!(user(&t, b"Bearer ci:s3cret").await, "ci");
        assert_eq!(user(&t, b"bearer root").await, "admin");
        // cached path gives the same answer
        assert_eq!(user(&t, b"Bearer ci:s3cret").await, "ci");
    }

    #[tokio::test]
    async fn refusals() {
        let t = tokens();
        assert_eq!(t.authenticate(None, None).await, Err(AuthError::Missing));
        for bad in [
            basic("ci", "wrong"),
            basic("admin", "s3cret"),
            basic("nobody", "s3cret"),
            b"Bearer wrong".to_vec(),
            b"Basic !!!".to_vec(),
        ] {
            assert_eq!(auth(&t, &bad).await, Err(AuthError::Invalid));
            // twice: the cached refusal stays a refusal
            assert_eq!(auth(&t, &bad).await, Err(AuthError::Invalid));
        }
    }

    #[tokio::test]
    async fn scopes() {
        let t = tokens();
        let ci = t
            .authenticate(Some(&basic("ci", "s3cret")), None)
            .await
            .unwrap();
        t.authorize(&ci, Permission::Write, "el9/x86_64/a.rpm")
            .unwrap();
        t.authorize(&ci, Permission::Read, "el8/a.rpm").unwrap();
        assert!(t
            .authorize(&ci, Permission::Write, "el8-testing/a.rpm")
            .is_err());
        assert!(t.authorize(&ci, Permission::Delete, "el9/a.rpm").is_err());
        let admin = t
            .authenticate(Some(&basic("admin", "root")), None)
            .await
            .unwrap();
        t.authorize(&admin, Permission::Delete, "anything/a.rpm")
            .unwrap();
    }

    const GOOD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn fast_tokens() -> Tokens {
        Tokens::parse(&format!(
            "ci:{} rw el9/\nold:{} rw\n",
            hash_token_fast(GOOD).unwrap(),
            cheap("legacy")
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn fast_scheme_and_legacy_side_by_side() {
        let t = fast_tokens();
        assert_eq!(user(&t, &basic("ci", GOOD)).await, "ci");
        let bearer = format!("Bearer {GOOD}");
        assert_eq!(user(&t, bearer.as_bytes()).await, "ci");
        assert_eq!(user(&t, &basic("old", "legacy")).await, "old");
        // A fast secret under another user, or a legacy secret under the fast user: refused.
        assert_eq!(auth(&t, &basic("old", GOOD)).await, Err(AuthError::Invalid));
        assert_eq!(
            auth(&t, &basic("ci", "legacy")).await,
            Err(AuthError::Invalid)
        );
        assert!(hash_token_fast("short").is_err());
        assert!(Tokens::parse(&format!("ci:{FAST_SCHEME}abcd rw")).is_err());
    }

    #[tokio::test]
    async fn cache_entries_do_not_shadow_each_other() {
        // `Basic :S` (empty user) is refused and must not make `Bearer S` fail, nor the other
        // way round.
        let t = fast_tokens();
        let empty_user = basic("", GOOD);
        assert_eq!(auth(&t, &empty_user).await, Err(AuthError::Invalid));
        let bearer = format!("Bearer {GOOD}");
        assert_eq!(user(&t, bearer.as_bytes()).await, "ci");
        assert_eq!(auth(&t, &empty_user).await, Err(AuthError::Invalid));
    }

    #[tokio::test]
    async fn failures_are_rate_limited_per_address_but_verified_tokens_pass() {
        let t = fast_tokens().with_limits(AuthLimits {
            failures_per_minute: 3,
            ..AuthLimits::default()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        // Verified before the storm: stays usable from the same address.
        t.authenticate(Some(&basic("ci", GOOD)), Some(a))
            .await
            .unwrap();
        for i in 0..3 {
            let bad = basic("ci", &format!("guess{i}"));
            assert_eq!(
                t.authenticate(Some(&bad), Some(a)).await,
                Err(AuthError::Invalid)
            );
        }
        let bad = basic("ci", "guess4");
        match t.authenticate(Some(&bad), Some(a)).await {
            Err(AuthError::TooMany { retry_after }) => assert!((1..=60).contains(&retry_after)),
            other => panic!("{other:?}"),
        }
        t.authenticate(Some(&basic("ci", GOOD)), Some(a))
            .await
            .unwrap();
        // Another address is not affected.
        assert_eq!(
            t.authenticate(Some(&bad), Some(b)).await,
            Err(AuthError::Invalid)
        );
    }

    #[tokio::test]
    async fn slow_verification_queue_times_out_with_busy() {
        let t = tokens().with_limits(AuthLimits {
            slow_concurrency: 1,
            slow_queue_timeout: Duration::from_millis(1),
            failures_per_minute: 1000,
        });
        // Hold the only permit: the next argon2 verification cannot start.
        let permit = t.slow.permits.acquire().await.unwrap();
        assert_eq!(auth(&t, &basic("ci", "x")).await, Err(AuthError::Busy));
        drop(permit);
        assert_eq!(auth(&t, &basic("ci", "x")).await, Err(AuthError::Invalid));
    }

    #[tokio::test]
    async fn unknown_users_take_the_argon2_path_like_known_ones() {
        // No timing assertion: with the only argon2 permit held, a presentation that needs an
        // argon2 run waits for it and gets Busy. An unknown user's does (it is checked against
        // a dummy with the same parameters), exactly like a known user's; a fast-scheme
        // presentation never queues.
        let t = fast_tokens().with_limits(AuthLimits {
            slow_concurrency: 1,
            slow_queue_timeout: Duration::from_millis(1),
            failures_per_minute: 1000,
        });
        let permit = t.slow.permits.acquire().await.unwrap();
        for who in ["old", "nobody", "ci"] {
            assert_eq!(
                t.authenticate(Some(&basic(who, "guess")), None).await,
                Err(AuthError::Busy),
                "{who}"
            );
        }
        assert_eq!(
            t.authenticate(Some(&basic("ci", GOOD)), None)
                .await
                .unwrap()
                .user,
            "ci"
        );
        drop(permit);
        for who in ["old", "nobody"] {
            assert_eq!(
                t.authenticate(Some(&basic(who, "guess")), None).await,
                Err(AuthError::Invalid),
                "{who}"
            );
        }
        // The dummy has the parameters of the real hash (so the same cost), and a salt of its
        // own.
        let Verifier::Slow(real) = &t.verifiers[1] else {
            panic!("old is argon2")
        };
        let dummy = real.dummy();
        assert_eq!(dummy.params.block_count(), real.params.block_count());
        assert_eq!(dummy.params.t_cost(), real.params.t_cost());
        assert_eq!(dummy.params.p_cost(), real.params.p_cost());
        assert_ne!(dummy.salt, real.salt);
    }

    #[test]
    fn slow_hash_agrees_with_argon2_for_every_variant() {
        let params = argon2::Params::new(64, 2, 2, Some(24)).unwrap();
        let mut memory = Vec::new();
        for alg in [
            argon2::Algorithm::Argon2id,
            argon2::Algorithm::Argon2i,
            argon2::Algorithm::Argon2d,
        ] {
            for ver in [argon2::Version::V0x13, argon2::Version::V0x10] {
                let salt = SaltString::generate(&mut OsRng);
                let phc = Argon2::new(alg, ver, params.clone())
                    .hash_password(b"pw", &salt)
                    .unwrap()
                    .to_string();
                let h = SlowHash::parse(&phc).unwrap();
                assert!(h.verify(b"pw", &mut memory), "{phc}");
                assert!(!h.verify(b"pW", &mut memory), "{phc}");
                assert!(!h.dummy().verify(b"pw", &mut memory), "{phc}");
            }
        }
        // One block reused, grown to the largest parameters seen.
        assert_eq!(memory.len(), params.block_count());
    }

    #[test]
    fn json_config() {
        let text = format!(
            r#"{{"tokens": [{{"user": "ci", "hash": "{}", "permissions": ["write", "read"], "prefixes": ["/el9"]}}]}}"#,
            cheap("x")
        );
        let t = Tokens::parse(&text).unwrap();
        assert_eq!(t.grants[0].prefixes, vec!["el9/".to_string()]);
        assert!(t.grants[0].write && t.grants[0].read && !t.grants[0].delete);
    }

    #[test]
    fn config_errors() {
        assert!(Tokens::parse("ci:notahash rw").is_err());
        assert!(Tokens::parse(&format!("ci:{} rx", cheap("x"))).is_err());
        assert!(Tokens::parse(&format!("ci:{}", cheap("x"))).is_err());
        assert!(Tokens::parse(r#"[{"user":"ci","hash":"x","extra":1}]"#).is_err());
        assert!(Tokens::parse("").unwrap().is_empty());
    }
}
