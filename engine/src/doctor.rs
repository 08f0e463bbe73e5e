//! `rpmbucket doctor`: checks of a bucket's (or a directory's) settings that decide whether
//! rpmbucket can work there safely, each with what to change. The good settings are the ones
//! `infra/terraform` makes: notifications of created and removed `.rpm` keys to the indexer,
//! honoured conditional writes, public ACLs blocked (reads granted by policy to the
//! repository prefixes only), default encryption, no CORS rule that lets any site write,
//! lifecycle rules that abort stale multipart uploads and expire old versions but never
//! current objects under a repository.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event, ExpirationStatus, FilterRuleName, LifecycleRule,
    NotificationConfigurationFilter,
};

use crate::layout::{normalise_root, Layout};
use crate::publish::{conditional_writes, Indexer};
use crate::store::{local::LocalStore, s3::S3Store, ObjectStore};
use crate::RepoConfig;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// As it should be.
    Ok,
    /// Works, but something is missing or risky.
    Warn,
    /// rpmbucket cannot work safely like this.
    Fail,
}

impl Level {
    /// `ok`, `warn`, `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Short name of the check (`notifications`, `conditional-writes`, …).
    pub check: &'static str,
    /// How bad it is.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to change (warn and fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
    Finding {
        check,
        level: Level::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check,
        level: Level::Warn,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check,
        level: Level::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// An S3 error's code, or its text.
fn code<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code().map(str::to_owned))
        .unwrap_or_else(|| {
            let mut text = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
            if let Some((i, _)) = text.char_indices().nth(160) {
                text.truncate(i);
                text.push('…');
            }
            text
        })
}

/// A setting that could not be read: a warning naming the permission.
fn unreadable(check: &'static str, what: &str, permission: &str, code: &str) -> Finding {
    warn(
        check,
        format!("could not read the {what} ({code})"),
        format!("run doctor with credentials allowed {permission}"),
    )
}

/// Every check of `store`'s bucket; `store.prefix()` is where the repositories live.
pub async fn s3(store: &S3Store) -> Vec<Finding> {
    let client = store.client();
    let bucket = store.bucket();
    let prefix = store.prefix().to_owned();
    let mut out = Vec::new();
    if let Err(e) = client.head_bucket().bucket(bucket).send().await {
        out.push(fail(
            "bucket",
            format!("bucket {bucket} cannot be reached ({})", code(&e)),
            "check the bucket name, region, endpoint and credentials",
        ));
        return out;
    }
    out.push(ok("bucket", format!("{bucket} is reachable")));
    out.push(conditional(store).await);
    out.push(notifications(store, &prefix).await);
    out.push(public_access(store).await);
    out.push(encryption(store).await);
    out.push(cors(store).await);
    out.extend(lifecycle(store, &prefix).await);
    out.extend(published(Arc::new(store.clone()), &prefix).await);
    out
}

/// Every check of a local directory.
pub async fn local(store: &LocalStore) -> Vec<Finding> {
    let mut out = Vec::new();
    let root = store.root().to_owned();
    let probe = root.join(format!(".rpmbucket-doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"probe").and_then(|()| std::fs::remove_file(&probe)) {
        Ok(()) => out.push(ok("writable", format!("{} is writable", root.display()))),
        Err(e) => {
            out.push(fail(
                "writable",
                format!("{} is not writable: {e}", root.display()),
                "run as the user that owns the directory, or fix its permissions",
            ));
            return out;
        }
    }
    out.push(conditional(store).await);
    out.push(stray_temp_files(&root, SystemTime::now()));
    out.extend(published(Arc::new(store.clone()), "").await);
    out
}

async fn conditional(store: &dyn ObjectStore) -> Finding {
    const CHECK: &str = "conditional-writes";
    match conditional_writes(store).await {
        Ok(None) => ok(
            CHECK,
            "If-None-Match and If-Match are honoured (concurrent publishers cannot lose updates)",
        ),
        Ok(Some(reason)) => fail(
            CHECK,
            format!("the store ignores conditional writes: {reason}"),
            "use a store that honours If-None-Match: * and If-Match on PUT (AWS S3 does; \
             upgrade MinIO/Ceph RGW); rpmbucket refuses to publish here",
        ),
        Err(e) => fail(
            CHECK,
            format!("the probe could not write: {e}"),
            "allow s3:PutObject and s3:DeleteObject for the indexer's credentials",
        ),
    }
}

/// Keys older than this starting with the local store's temporary prefix are strays of a
/// crashed writer.
const STRAY_AGE: Duration = Duration::from_secs(3600);

fn stray_temp_files(root: &std::path::Path, now: SystemTime) -> Finding {
    const CHECK: &str = "temp-files";
    let mut strays = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !name.starts_with(".rpmbucket-tmp-") {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STRAY_AGE);
        if old {
            strays.push(entry.path().display().to_string());
        }
    }
    if strays.is_empty() {
        return ok(CHECK, "no temporary files left by interrupted writes");
    }
    strays.sort();
    warn(
        CHECK,
        format!(
            "{} temporary file(s) older than an hour from interrupted writes: {}",
            strays.len(),
            strays.join(", ")
        ),
        "delete them (no rpmbucket process writes them any more)",
    )
}

/// Each repository under `prefix` has readable published metadata.
async fn published(store: Arc<dyn ObjectStore>, prefix: &str) -> Vec<Finding> {
    const CHECK: &str = "metadata";
    let indexer = Indexer::new(store, Layout::from_env(), RepoConfig::default());
    let roots = match indexer.list_roots(&normalise_root(prefix)).await {
        Ok(r) => r,
        Err(e) => {
            return vec![fail(
                CHECK,
                format!("listing failed: {e}"),
                "allow s3:ListBucket for these credentials",
            )]
        }
    };
    if roots.is_empty() {
        return vec![ok(CHECK, "no repository yet")];
    }
    let mut bad = Vec::new();
    let mut unpublished = Vec::new();
    for root in &roots {
        match indexer.snapshot_opts(root, 0).await {
            Ok(s) if !s.exists => unpublished.push(show(root)),
            Ok(_) => {}
            Err(e) => bad.push(format!("{}: {e}", show(root))),
        }
    }
    let mut out = Vec::new();
    if !bad.is_empty() {
        out.push(fail(
            CHECK,
            format!("unreadable published metadata: {}", bad.join("; ")),
            "run `rpmbucket reconcile` on the repository (it rebuilds the metadata)",
        ));
    }
    if !unpublished.is_empty() {
        out.push(warn(
            CHECK,
            format!(
                "packages but no published metadata: {}",
                unpublished.join(", ")
            ),
            "run `rpmbucket reconcile` (or check that notifications reach the indexer)",
        ));
    }
    if out.is_empty() {
        out.push(ok(
            CHECK,
            format!("{} repositories with readable metadata", roots.len()),
        ));
    }
    out
}

fn show(root: &str) -> String {
    if root.is_empty() {
        "/".into()
    } else {
        root.into()
    }
}

/// Does a notification filter let through the `.rpm` keys under `prefix`?
fn covers(filter: Option<&NotificationConfigurationFilter>, prefix: &str) -> bool {
    let rules = filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    rules.iter().all(|r| {
        let value = r.value().unwrap_or_default();
        match r.name() {
            Some(FilterRuleName::Prefix) => prefix.starts_with(value),
            Some(FilterRuleName::Suffix) => ".rpm".ends_with(value),
            _ => true,
        }
    })
}

async fn notifications(store: &S3Store, prefix: &str) -> Finding {
    const CHECK: &str = "notifications";
    let conf = match store
        .client()
        .get_bucket_notification_configuration()
        .bucket(store.bucket())
        .send()
        .await
    {
        Ok(c) => c,
        // moto answers "nothing configured" with an empty element of another name.
        Err(e) if empty_notification_answer(&e) => {
            aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
        }
        Err(e) => {
            return unreadable(
                CHECK,
                "notification configuration",
                "s3:GetBucketNotification",
                &code(&e),
            )
        }
    };
    if conf.event_bridge_configuration().is_some() {
        return ok(
            CHECK,
            "events go to EventBridge (check that a rule sends ObjectCreated and ObjectRemoved \
             of .rpm keys to the indexer)",
        );
    }
    let mut events: Vec<&Event> = Vec::new();
    for q in conf.queue_configurations() {
        if covers(q.filter(), prefix) {
            events.extend(q.events());
        }
    }
    for l in conf.lambda_function_configurations() {
        if covers(l.filter(), prefix) {
            events.extend(l.events());
        }
    }
    for t in conf.topic_configurations() {
        if covers(t.filter(), prefix) {
            events.extend(t.events());
        }
    }
    let has = |kind: &str| events.iter().any(|e| e.as_str().starts_with(kind));
    let (created, removed) = (has("s3:ObjectCreated:"), has("s3:ObjectRemoved:"));
    let fix = "send s3:ObjectCreated:* and s3:ObjectRemoved:* of keys ending in .rpm under the \
               repository prefixes to the indexer's queue (infra/terraform does)";
    match (created, removed) {
        (true, true) => ok(
            CHECK,
            "created and removed .rpm keys are notified: uploads and deletes get published",
        ),
        (true, false) => warn(
            CHECK,
            "created .rpm keys are notified, removed ones are not: a delete stays in the \
             metadata until `rpmbucket reconcile`",
            fix,
        ),
        (false, true) => warn(
            CHECK,
            "removed .rpm keys are notified, created ones are not: uploads are published only \
             by `rpmbucket add`, the gateway's local mode or `rpmbucket reconcile`",
            fix,
        ),
        (false, false) => warn(
            CHECK,
            format!(
                "no notification covers .rpm keys under {:?}: uploads are published only by \
                 `rpmbucket add` or `rpmbucket reconcile`",
                show(prefix)
            ),
            fix,
        ),
    }
}

/// A 200 answer without any configuration element that the SDK could not parse.
fn empty_notification_answer<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    let Some(raw) = e.raw_response() else {
        return false;
    };
    let body = raw.body().bytes().unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    raw.status().as_u16() == 200
        && !["Configuration>", "Configuration "].iter().any(|tag| {
            text.contains(&format!("Queue{tag}"))
                || text.contains(&format!("Topic{tag}"))
                || text.contains(&format!("CloudFunction{tag}"))
                || text.contains(&format!("EventBridge{tag}"))
        })
}

async fn public_access(store: &S3Store) -> Finding {
    const CHECK: &str = "public-access";
    let client = store.client();
    let bucket = store.bucket();
    // A policy that lets anyone write or delete is a failure whatever the block says (the
    // block may be lifted later).
    let policy = match client.get_bucket_policy().bucket(bucket).send().await {
        Ok(p) => p.policy().map(str::to_owned),
        Err(e) if code(&e) == "NoSuchBucketPolicy" => None,
        Err(e) => return unreadable(CHECK, "bucket policy", "s3:GetBucketPolicy", &code(&e)),
    };
    if let Some(actions) = policy.as_deref().and_then(public_write_actions) {
        return fail(
            CHECK,
            format!("the bucket policy lets anyone {actions}"),
            "remove the statement: uploads go through the gateway's tokens or presigned URLs, \
             never anonymous writes",
        );
    }
    let block = match client.get_public_access_block().bucket(bucket).send().await {
        Ok(b) => b.public_access_block_configuration().cloned(),
        Err(e) if code(&e) == "NoSuchPublicAccessBlockConfiguration" => None,
        Err(e) => {
            return unreadable(
                CHECK,
                "public access block",
                "s3:GetBucketPublicAccessBlock",
                &code(&e),
            )
        }
    };
    let fix = "put a public access block with BlockPublicAcls and IgnorePublicAcls (and \
               BlockPublicPolicy, RestrictPublicBuckets unless the repositories are served \
               public-read); grant reads with a policy on the repository prefixes only";
    let Some(b) = block else {
        return warn(
            CHECK,
            "no public access block: one public ACL can expose any object",
            fix,
        );
    };
    let acls = b.block_public_acls() == Some(true) && b.ignore_public_acls() == Some(true);
    let policies =
        b.block_public_policy() == Some(true) && b.restrict_public_buckets() == Some(true);
    match (acls, policies) {
        (true, true) => ok(
            CHECK,
            "public ACLs and policies blocked (serve the repositories through CloudFront)",
        ),
        (true, false) => ok(
            CHECK,
            "public ACLs blocked; a policy may grant public reads (repository_access = \
             public-read)",
        ),
        (false, _) => warn(CHECK, "public ACLs are not blocked", fix),
    }
}

/// The actions a policy statement allows to everyone that write or delete, if any.
fn public_write_actions(policy: &str) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_str(policy).ok()?;
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut found = Vec::new();
    for s in &statements {
        let everyone = match &s["Principal"] {
            serde_json::Value::String(p) => p == "*",
            p @ serde_json::Value::Object(_) => list(&p["AWS"]).iter().any(|a| a == "*"),
            _ => false,
        };
        if s["Effect"] != "Allow" || !everyone || !s["Condition"].is_null() {
            continue;
        }
        for a in list(&s["Action"]) {
            let l = a.to_ascii_lowercase();
            if l == "*"
                || l == "s3:*"
                || l.starts_with("s3:put")
                || l.starts_with("s3:delete")
                || l == "s3:restoreobject"
            {
                found.push(a);
            }
        }
    }
    (!found.is_empty()).then(|| found.join(", "))
}

async fn encryption(store: &S3Store) -> Finding {
    const CHECK: &str = "encryption";
    let out = match store
        .client()
        .get_bucket_encryption()
        .bucket(store.bucket())
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if code(&e) == "ServerSideEncryptionConfigurationNotFoundError" => {
            return warn(
                CHECK,
                "no default encryption configured",
                "set default encryption: SSE-S3 (AES256), or SSE-KMS with kms:Decrypt and \
                 kms:GenerateDataKey for the indexer and gateway roles",
            )
        }
        Err(e) => {
            return unreadable(
                CHECK,
                "encryption settings",
                "s3:GetEncryptionConfiguration",
                &code(&e),
            )
        }
    };
    let algos: Vec<String> = out
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned())
        .collect();
    match algos.first().map(String::as_str) {
        Some("aws:kms") | Some("aws:kms:dsse") => ok(
            CHECK,
            "default encryption SSE-KMS (the indexer and gateway roles need kms:Decrypt and \
             kms:GenerateDataKey; anonymous public-read cannot read KMS objects)",
        ),
        Some(a) => ok(CHECK, format!("default encryption {a}")),
        None => warn(
            CHECK,
            "encryption configuration has no default rule",
            "set default encryption: SSE-S3 (AES256) or SSE-KMS",
        ),
    }
}

async fn cors(store: &S3Store) -> Finding {
    const CHECK: &str = "cors";
    let out =
        match store
            .client()
            .get_bucket_cors()
            .bucket(store.bucket())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if code(&e) == "NoSuchCORSConfiguration" => return ok(
                CHECK,
                "no CORS rules (none needed: dnf does not use CORS and the page is same-origin)",
            ),
            Err(e) => return unreadable(CHECK, "CORS rules", "s3:GetBucketCORS", &code(&e)),
        };
    let mut risky = Vec::new();
    for r in out.cors_rules() {
        let any_origin = r.allowed_origins().iter().any(|o| o == "*");
        let writes: Vec<&String> = r
            .allowed_methods()
            .iter()
            .filter(|m| matches!(m.to_ascii_uppercase().as_str(), "PUT" | "POST" | "DELETE"))
            .collect();
        if any_origin && !writes.is_empty() {
            risky.push(
                writes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    if risky.is_empty() {
        ok(
            CHECK,
            format!(
                "{} CORS rule(s), none lets any origin write",
                out.cors_rules().len()
            ),
        )
    } else {
        warn(
            CHECK,
            format!(
                "a CORS rule allows {} from any origin: any web page can drive a browser's \
                 uploads to this bucket",
                risky.join(", ")
            ),
            "list your own sites in AllowedOrigins, or allow only GET and HEAD",
        )
    }
}

/// The versioning status from a 200 answer the SDK could not parse. Some S3-compatible servers
/// (moto among them) name the root element `GetBucketVersioningResponse` instead of AWS's
/// `VersioningConfiguration`, and the SDK refuses the whole answer; its `<Status>` is still there.
fn versioning_from_raw<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<bool> {
    let raw = e.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    let text = String::from_utf8_lossy(raw.body().bytes()?);
    if !text.contains("Versioning") {
        return None;
    }
    Some(text.contains("<Status>Enabled</Status>"))
}

/// Does a lifecycle rule's filter reach keys under `prefix`?
fn rule_reaches(rule: &LifecycleRule, prefix: &str) -> bool {
    #[allow(deprecated)]
    let legacy = rule.prefix();
    let filter = rule.filter();
    let p = filter
        .and_then(|f| {
            f.prefix()
                .or_else(|| f.and().and_then(|a| a.prefix()))
                .map(str::to_owned)
        })
        .or_else(|| legacy.map(str::to_owned))
        .unwrap_or_default();
    // Tag and size filters narrow the rule, but a package can carry any tag or size.
    prefix.starts_with(&p) || p.starts_with(prefix)
}

async fn lifecycle(store: &S3Store, prefix: &str) -> Vec<Finding> {
    const CHECK: &str = "lifecycle";
    let client = store.client();
    let bucket = store.bucket();
    let mut out = Vec::new();
    let versioned = match client.get_bucket_versioning().bucket(bucket).send().await {
        Ok(v) => v.status() == Some(&BucketVersioningStatus::Enabled),
        Err(e) => match versioning_from_raw(&e) {
            Some(on) => on,
            None => {
                out.push(unreadable(
                    CHECK,
                    "versioning setting",
                    "s3:GetBucketVersioning",
                    &code(&e),
                ));
                false
            }
        },
    };
    let rules: Vec<LifecycleRule> = match client
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(o) => o.rules().to_vec(),
        Err(e) if code(&e) == "NoSuchLifecycleConfiguration" => Vec::new(),
        Err(e) => {
            out.push(unreadable(
                CHECK,
                "lifecycle rules",
                "s3:GetLifecycleConfiguration",
                &code(&e),
            ));
            return out;
        }
    };
    let enabled: Vec<&LifecycleRule> = rules
        .iter()
        .filter(|r| r.status() == &ExpirationStatus::Enabled)
        .collect();
    let expiring: Vec<String> = enabled
        .iter()
        .filter(|r| {
            r.expiration()
                .is_some_and(|e| e.days().is_some() || e.date().is_some())
                && rule_reaches(r, prefix)
        })
        .map(|r| r.id().unwrap_or("(no id)").to_owned())
        .collect();
    if !expiring.is_empty() {
        out.push(fail(
            CHECK,
            format!(
                "rule(s) {} expire current objects under {:?}: packages and metadata would \
                 vanish behind the published index",
                expiring.join(", "),
                show(prefix)
            ),
            "remove the Expiration of current objects there (use `rpmbucket config REPO \
             keep-versions=N` for retention) or narrow the rule's prefix",
        ));
    }
    let aborts = enabled
        .iter()
        .any(|r| r.abort_incomplete_multipart_upload().is_some());
    if aborts {
        out.push(ok(CHECK, "incomplete multipart uploads are aborted"));
    } else {
        out.push(warn(
            CHECK,
            "no rule aborts incomplete multipart uploads: abandoned large uploads are billed \
             forever",
            "add a rule with AbortIncompleteMultipartUpload (e.g. 7 days)",
        ));
    }
    if versioned {
        let noncurrent = enabled
            .iter()
            .any(|r| r.noncurrent_version_expiration().is_some());
        if noncurrent {
            out.push(ok(CHECK, "old versions expire (versioning is on)"));
        } else {
            out.push(warn(
                CHECK,
                "versioning is on but old versions never expire: every publish keeps the \
                 replaced repomd.xml and metadata files forever",
                "add a rule with NoncurrentVersionExpiration (e.g. 30 days)",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_write_statements_are_found() {
        let read = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(public_write_actions(read), None);
        let write = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}}"#;
        assert_eq!(public_write_actions(write).as_deref(), Some("s3:PutObject"));
        let conditional = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        assert_eq!(public_write_actions(conditional), None);
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*"}]}"#;
        assert_eq!(public_write_actions(deny), None);
    }

    #[test]
    fn stray_temp_files_are_old_ones_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("el9")).unwrap();
        let stray = dir.path().join("el9/.rpmbucket-tmp-1-2-3");
        std::fs::write(&stray, b"x").unwrap();
        let now = SystemTime::now();
        assert_eq!(stray_temp_files(dir.path(), now).level, Level::Ok);
        let later = now + Duration::from_secs(7200);
        let f = stray_temp_files(dir.path(), later);
        assert_eq!(f.level, Level::Warn);
        assert!(f.detail.contains("el9/.rpmbucket-tmp-1-2-3"), "{f:?}");
    }
}
