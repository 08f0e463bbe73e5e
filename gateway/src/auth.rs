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
//! (`Authorization: Bearer ci:SECRET`, or just the secret). User names are compared in constant
//! time (`subtle`), secrets with argon2's verification. argon2 is deliberately slow, so each
//! verified (or refused) presentation is remembered for the life of the process, keyed by the
//! SHA-256 of what was presented; the secret itself is never kept.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Environment variable holding the token configuration text.
pub const TOKENS_ENV: &str = "RPMBUCKET_TOKENS";

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
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
    pub user: String,
    /// argon2 PHC string.
    pub hash: String,
    pub read: bool,
    pub write: bool,
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
    #[error("token configuration line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("token configuration JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("token {user:?}: {reason}")]
    Grant { user: String, reason: String },
    #[error("reading token file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
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
        user: String,
        perm: Permission,
        key: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
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

/// The configured tokens plus the per-process verification cache.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    grants: Arc<Vec<Grant>>,
    /// SHA-256(user ":" secret) → index of the grant, or `None` for a refused presentation.
    cache: Arc<Mutex<HashMap<[u8; 32], Option<usize>>>>,
}

impl Tokens {
    /// Tokens from already-built grants (validated like parsed ones).
    pub fn new(grants: Vec<Grant>) -> Result<Tokens, ConfigError> {
        for g in &grants {
            if g.user.is_empty() || g.user.contains(':') {
                return Err(ConfigError::Grant {
                    user: g.user.clone(),
                    reason: "user name must be non-empty and contain no ':'".into(),
                });
            }
            PasswordHash::new(&g.hash).map_err(|e| ConfigError::Grant {
                user: g.user.clone(),
                reason: format!(
                    "hash is not an argon2 PHC string ({e}); make one with `rpmbucket token hash`"
                ),
            })?;
        }
        Ok(Tokens {
            grants: Arc::new(grants),
            cache: Arc::default(),
        })
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

    /// Check the `Authorization` header value (Basic or Bearer). Runs argon2 on a blocking
    /// thread the first time a presentation is seen; later ones come from the cache.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Identity, AuthError> {
        let (user, secret) = credentials(authorization.ok_or(AuthError::Missing)?)?;
        let mut h = Sha256::new();
        h.update(user.as_deref().unwrap_or("").as_bytes());
        h.update([0u8]);
        h.update(secret.as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let cached = self.cache.lock().expect("cache lock").get(&digest).copied();
        let found = match cached {
            Some(found) => found,
            None => {
                let grants = Arc::clone(&self.grants);
                let found =
                    tokio::task::spawn_blocking(move || verify(&grants, user.as_deref(), &secret))
                        .await
                        .map_err(|_| AuthError::Invalid)?;
                let mut cache = self.cache.lock().expect("cache lock");
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(digest, found);
                found
            }
        };
        match found {
            Some(grant) => Ok(Identity {
                user: self.grants[grant].user.clone(),
                grant,
            }),
            None => Err(AuthError::Invalid),
        }
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

/// Verify a presentation against every grant (no early exit on the user name, so the time
/// does not tell which users exist beyond the argon2 work itself).
fn verify(grants: &[Grant], user: Option<&str>, secret: &str) -> Option<usize> {
    let mut found = None;
    for (i, g) in grants.iter().enumerate() {
        let user_ok = match user {
            Some(u) => bool::from(u.as_bytes().ct_eq(g.user.as_bytes())),
            None => true,
        };
        if !user_ok || found.is_some() {
            continue;
        }
        let Ok(hash) = PasswordHash::new(&g.hash) else {
            continue;
        };
        if Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .is_ok()
        {
            found = Some(i);
        }
    }
    found
}

/// (user, secret) from a Basic or Bearer header value.
fn credentials(value: &[u8]) -> Result<(Option<String>, String), AuthError> {
    let value = std::str::from_utf8(value).map_err(|_| AuthError::Invalid)?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Invalid)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| AuthError::Invalid)?;
        let raw = String::from_utf8(raw).map_err(|_| AuthError::Invalid)?;
        let (u, s) = raw.split_once(':').ok_or(AuthError::Invalid)?;
        Ok((Some(u.to_string()), s.to_string()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        match rest.split_once(':') {
            Some((u, s)) => Ok((Some(u.to_string()), s.to_string())),
            None => Ok((None, rest.to_string())),
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
        let id = t.authenticate(Some(&basic("ci", "s3cret"))).await.unwrap();
        assert_eq!(id.user, "ci");
        let id = t.authenticate(Some(b"Bearer ci:s3cret")).await.unwrap();
        assert_eq!(id.user, "ci");
        let id = t.authenticate(Some(b"bearer root")).await.unwrap();
        assert_eq!(id.user, "admin");
        // cached path gives the same answer
        let id = t.authenticate(Some(b"Bearer ci:s3cret")).await.unwrap();
        assert_eq!(id.user, "ci");
    }

    #[tokio::test]
    async fn refusals() {
        let t = tokens();
        assert_eq!(t.authenticate(None).await, Err(AuthError::Missing));
        for bad in [
            basic("ci", "wrong"),
            basic("admin", "s3cret"),
            basic("nobody", "s3cret"),
            b"Bearer wrong".to_vec(),
            b"Basic !!!".to_vec(),
        ] {
            assert_eq!(t.authenticate(Some(&bad)).await, Err(AuthError::Invalid));
            // twice: the cached refusal stays a refusal
            assert_eq!(t.authenticate(Some(&bad)).await, Err(AuthError::Invalid));
        }
    }

    #[tokio::test]
    async fn scopes() {
        let t = tokens();
        let ci = t.authenticate(Some(&basic("ci", "s3cret"))).await.unwrap();
        t.authorize(&ci, Permission::Write, "el9/x86_64/a.rpm")
            .unwrap();
        t.authorize(&ci, Permission::Read, "el8/a.rpm").unwrap();
        assert!(t
            .authorize(&ci, Permission::Write, "el8-testing/a.rpm")
            .is_err());
        assert!(t.authorize(&ci, Permission::Delete, "el9/a.rpm").is_err());
        let admin = t.authenticate(Some(&basic("admin", "root"))).await.unwrap();
        t.authorize(&admin, Permission::Delete, "anything/a.rpm")
            .unwrap();
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
