//! Configuration of the Lambda gateway (feature `lambda`), read once at cold start.
//!
//! | variable | meaning |
//! |---|---|
//! | `RPMBUCKET_BUCKET` | bucket the packages go to (required) |
//! | `RPMBUCKET_BASEURL` | public URL of the bucket, for `.repo` files |
//! | `RPMBUCKET_PRESIGN_SECONDS` | lifetime of presigned URLs (default 300) |
//! | `RPMBUCKET_TOKENS` | token configuration text, or |
//! | `RPMBUCKET_TOKENS_SECRET_ARN` | a Secrets Manager secret whose string is that text, or |
//! | `RPMBUCKET_TOKENS_SSM_PARAMETER` | an SSM parameter (SecureString) holding it |
//! | `RPMBUCKET_MAX_STATUS_WAITERS` | `/status?wait=` requests waiting at once in one process (default 256; more: 503) |
//! | `RPMBUCKET_STATUS_POLL_MS` | how often one task per repository with waiters reads its `repomd.xml` with a conditional GET, to notice the indexer's publishes (default 1000) |
//!
//! Only one token source may be set; none is a configuration error (the gateway would refuse
//! every write).

use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::app::{Access, AppState, Writes, BASEURL_ENV};
use crate::auth::Tokens;
use crate::presign::expiry_from_env;

/// Environment variable: Secrets Manager secret holding the tokens.
pub const TOKENS_SECRET_ENV: &str = "RPMBUCKET_TOKENS_SECRET_ARN";
/// Environment variable: SSM parameter holding the tokens.
pub const TOKENS_SSM_ENV: &str = "RPMBUCKET_TOKENS_SSM_PARAMETER";
/// Environment variable: the bucket.
pub const BUCKET_ENV: &str = "RPMBUCKET_BUCKET";
/// Environment variable: `/status?wait=` waiters at once.
pub const MAX_STATUS_WAITERS_ENV: &str = "RPMBUCKET_MAX_STATUS_WAITERS";
/// Environment variable: milliseconds between two reads of a watched `repomd.xml`.
pub const STATUS_POLL_ENV: &str = "RPMBUCKET_STATUS_POLL_MS";

/// The request limits from the environment (defaults for what is unset).
pub fn limits_from_env() -> anyhow::Result<crate::app::Limits> {
    let number = |name: &str, default: u64| -> anyhow::Result<u64> {
        match env(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{name}={v} is not a positive whole number")),
        }
    };
    let waiters = number(
        MAX_STATUS_WAITERS_ENV,
        crate::app::DEFAULT_MAX_WAITERS as u64,
    )?;
    let poll = number(
        STATUS_POLL_ENV,
        crate::app::DEFAULT_STATUS_POLL.as_millis() as u64,
    )?;
    Ok(
        crate::app::Limits::new(crate::app::DEFAULT_MAX_UPLOAD, waiters as usize)
            .with_status_poll(Duration::from_millis(poll)),
    )
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Load the tokens from whichever source is configured.
pub async fn load_tokens(config: &aws_config::SdkConfig) -> anyhow::Result<Tokens> {
    let sources = [crate::auth::TOKENS_ENV, TOKENS_SECRET_ENV, TOKENS_SSM_ENV]
        .iter()
        .filter(|v| env(v).is_some())
        .count();
    if sources > 1 {
        bail!(
            "set only one of {}, {TOKENS_SECRET_ENV}, {TOKENS_SSM_ENV}",
            crate::auth::TOKENS_ENV
        );
    }
    if let Some(t) = Tokens::from_env()? {
        return Ok(t);
    }
    if let Some(arn) = env(TOKENS_SECRET_ENV) {
        let client = aws_sdk_secretsmanager::Client::new(config);
        let out = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .with_context(|| format!("reading secret {arn}"))?;
        let text = out
            .secret_string()
            .with_context(|| format!("secret {arn} has no string value"))?;
        return Ok(Tokens::parse(text)?);
    }
    if let Some(name) = env(TOKENS_SSM_ENV) {
        let client = aws_sdk_ssm::Client::new(config);
        let out = client
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .with_context(|| format!("reading SSM parameter {name}"))?;
        let text = out
            .parameter()
            .and_then(|p| p.value())
            .with_context(|| format!("SSM parameter {name} has no value"))?;
        return Ok(Tokens::parse(text)?);
    }
    bail!(
        "no tokens configured: set {}, {TOKENS_SECRET_ENV} or {TOKENS_SSM_ENV}",
        crate::auth::TOKENS_ENV
    )
}

/// Build the gateway state from the environment (cold start).
pub async fn state_from_env() -> anyhow::Result<AppState> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let bucket = env(BUCKET_ENV).with_context(|| format!("{BUCKET_ENV} is not set"))?;
    let tokens = load_tokens(&config).await?;
    let expires = expiry_from_env().map_err(anyhow::Error::msg)?;
    let limits = limits_from_env()?;
    let client = aws_sdk_s3::Client::new(&config);
    Ok(AppState {
        access: Access::Tokens(tokens),
        writes: Writes::Presign {
            presigner: crate::presign::Bucket::new(rpmbucket_engine::S3Store::new(
                client.clone(),
                bucket.clone(),
                "",
            )),
            expires,
        },
        repo: crate::engine::s3_repository(client, bucket),
        baseurl: env(BASEURL_ENV),
        // Function URLs time out with the function; keep waits well inside a typical timeout.
        max_wait: Duration::from_secs(25),
        limits,
    })
}

/// The router for the Lambda runtime: [`crate::app()`] plus, from the function URL's event,
/// the client address of its request context (for the per-address limit on failed
/// authentications) and the path exactly as the client sent it.
pub fn router(state: AppState) -> axum::Router {
    crate::app(state).layer(axum::middleware::map_request(from_event))
}

async fn from_event(
    mut req: axum::extract::Request,
) -> Result<axum::extract::Request, axum::response::Response> {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt as _;
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = ip.and_then(|ip| ip.parse().ok()) {
        req.extensions_mut().insert(crate::app::ClientAddr(ip));
    }
    // lambda_http rebuilds the URI through a URL parser, which resolves `%2e%2e` segments
    // (and turns `\` into `/`) before any rule of ours sees them: the key rules judge the
    // event's raw path instead, as the local server judges its request line.
    let raw = req.raw_http_path().to_string();
    if !raw.is_empty() && raw != req.uri().path() {
        let with_query = match req.uri().query() {
            Some(q) => format!("{raw}?{q}"),
            None => raw,
        };
        let uri = with_query
            .parse::<axum::http::Uri>()
            .ok()
            .filter(|u| u.scheme().is_none() && u.authority().is_none());
        match uri {
            Some(uri) => *req.uri_mut() = uri,
            None => {
                return Err(crate::app::refuse(
                    axum::http::StatusCode::BAD_REQUEST,
                    "the request path is not a valid URI path",
                ))
            }
        }
    }
    Ok(req)
}
