//! The function: one payload in, one publish per repository touched, failures reported so
//! that nothing is lost.
//!
//! * Changes of a batch are grouped by repository root ([`Layout::repo_root`]) and every
//!   repository gets one `Indexer::apply` with all of its changes (coalescing), in per-key
//!   order (S3 `sequencer`), duplicates dropped.
//! * SQS batches answer `{"batchItemFailures":[{"itemIdentifier": messageId}, …]}` naming
//!   exactly the messages that touched a repository whose publish failed, or that could not
//!   be read; SQS redelivers those and, after `maxReceiveCount`, moves them to the
//!   dead-letter queue. The reason is logged with the message id.
//! * Direct invocations (S3, SNS, EventBridge, schedules) return an error when anything
//!   failed, so Lambda retries and then sends the event to the failure destination; the
//!   error's `errorType` is `Retryable` or `NonRetryable`. Never log-and-return-Ok.
//! * One structured `tracing` line per batch, and one CloudWatch Embedded Metric Format line
//!   (namespace `rpmbucket`) with the same figures.
//!
//! [`Layout::repo_root`]: rpmbucket_engine::Layout::repo_root

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt as _};
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};

use crate::event::{self, Body, EventError, Invocation, ObjectChange, Source};
use crate::repo::{self, EngineError, Indexer, PublishReport};

/// Handler settings (from the environment in `main`).
#[derive(Debug, Clone)]
pub struct Options {
    /// The bucket the indexer serves; records naming another bucket are skipped (and logged).
    pub bucket: Option<String>,
    /// Repositories published at the same time.
    pub concurrency: usize,
    /// Where EMF metric lines go.
    pub metrics: Metrics,
}

/// Destination of the CloudWatch Embedded Metric Format lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// Not written.
    Off,
    /// Standard output (Lambda ships it to CloudWatch Logs, which extracts the metrics).
    Stdout,
    /// Standard error (when stdout carries the function's response).
    Stderr,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bucket: None,
            concurrency: 4,
            metrics: Metrics::Stdout,
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload is none of the accepted shapes. Retrying cannot help.
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    /// Some repositories could not be published or some records could not be read.
    #[error("{}", Failures(.0))]
    Failed(Vec<Failure>),
}

impl Error {
    /// Would invoking again with the same payload help?
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Event(_) => false,
            Error::Failed(failures) => failures.iter().any(|f| f.retryable),
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: if e.is_retryable() {
                "Retryable"
            } else {
                "NonRetryable"
            }
            .to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// One thing that went wrong in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Repository whose publish failed; `None` for an unreadable record or message.
    pub root: Option<String>,
    /// SQS message ids concerned (empty for direct invocations).
    pub messages: Vec<String>,
    /// What happened, with its causes.
    pub reason: String,
    /// Whether a retry may succeed.
    pub retryable: bool,
}

struct Failures<'a>(&'a [Failure]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failure(s): ", self.0.len())?;
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match &failure.root {
                Some(root) => write!(f, "repository {root:?}: {}", failure.reason)?,
                None => f.write_str(&failure.reason)?,
            }
        }
        Ok(())
    }
}

/// Handle one invocation payload with default [`Options`].
pub async fn handle(event: Value, indexer: &Indexer) -> Result<Value, Error> {
    handle_opts(event, indexer, &Options::default()).await
}

/// Handle one invocation payload.
///
/// Returns the SQS partial-batch response for SQS payloads (failures are in the response,
/// not an `Err`), a summary for direct invocations that fully succeeded, and `Err` for
/// direct invocations where anything failed.
pub async fn handle_opts(event: Value, indexer: &Indexer, opts: &Options) -> Result<Value, Error> {
    let started = Instant::now();
    let invocation = match event::parse(&event) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "rejected an unrecognized event");
            return Err(e.into());
        }
    };
    let (source, units) = match invocation {
        Invocation::Direct { source, body } => (source_name(source), vec![Unit { id: None, body }]),
        Invocation::Sqs(messages) => (
            "sqs",
            messages
                .into_iter()
                .map(|m| Unit {
                    id: Some(m.id),
                    body: m.body,
                })
                .collect(),
        ),
    };
    let is_sqs = source == "sqs";

    let mut plan = plan(&units, opts.bucket.as_deref(), |key| {
        repo::repo_root(indexer, key)
    });
    let mut results = run(indexer, &plan.jobs, opts.concurrency).await;
    // Reconcile every repository after the changes: the engine's walk (the listing by pages,
    // one repository at a time, resumed from the bucket's cursor when an earlier invocation
    // ran out of time). Its results count for the units that asked for it.
    let mut reconciled = BTreeSet::new();
    if !plan.reconcile_all.is_empty() {
        match repo::reconcile_all(indexer).await {
            Ok(all) => {
                for (root, result) in all {
                    reconciled.insert(root.clone());
                    results.push((root, result));
                }
            }
            Err(e) => {
                for &u in &plan.reconcile_all {
                    plan.unit_failures.push((
                        u,
                        format!("reconciling every repository: {}", chain(&e)),
                        repo::is_retryable(&e),
                    ));
                }
            }
        }
    }

    // Which units failed, and why.
    let mut failures = Vec::new();
    let mut failed_units = BTreeSet::new();
    let message_ids = |set: &mut dyn Iterator<Item = usize>| -> Vec<String> {
        set.filter_map(|u| units[u].id.clone()).collect()
    };
    for (u, reason, retryable) in &plan.unit_failures {
        failed_units.insert(*u);
        failures.push(Failure {
            root: None,
            messages: message_ids(&mut std::iter::once(*u)),
            reason: reason.clone(),
            retryable: *retryable,
        });
    }
    let mut summary = Summary {
        source,
        units: units.len(),
        changes: plan.jobs.values().map(|j| j.changes.len()).sum(),
        ignored: plan.ignored,
        repositories: plan
            .jobs
            .keys()
            .chain(&reconciled)
            .collect::<BTreeSet<_>>()
            .len(),
        ..Summary::default()
    };
    let mut published = Vec::new();
    let all_units: BTreeSet<usize> = plan.reconcile_all.iter().copied().collect();
    for (root, result) in results {
        let units = match plan.jobs.get(&root) {
            Some(job) => &job.units,
            None => &all_units,
        };
        match result {
            Ok(report) => {
                summary.add(&report);
                for (key, reason) in &report.rejected {
                    tracing::warn!(root = %root, key = %key, reason = %reason, "package rejected");
                }
                published.push(report);
            }
            Err(e) => {
                summary.failed_repositories += 1;
                failed_units.extend(units.iter().copied());
                failures.push(Failure {
                    root: Some(root.clone()),
                    messages: message_ids(&mut units.iter().copied()),
                    reason: chain(&e),
                    retryable: repo::is_retryable(&e),
                });
            }
        }
    }
    summary.failed_units = failed_units.len();
    summary.duration = started.elapsed();

    for f in &failures {
        tracing::error!(
            repository = f.root.as_deref().unwrap_or(""),
            messages = %f.messages.join(","),
            retryable = f.retryable,
            error = %f.reason,
            "{}",
            if is_sqs {
                "batch items failed; SQS will redeliver them, then dead-letter them"
            } else {
                "invocation failed"
            }
        );
    }
    summary.log();
    let line = || emf(&summary, now_millis());
    // A lost metric line must not fail the batch; the log line above has the same figures.
    match opts.metrics {
        Metrics::Off => {}
        Metrics::Stdout => {
            let _ = writeln!(std::io::stdout().lock(), "{}", line());
        }
        Metrics::Stderr => {
            let _ = writeln!(std::io::stderr().lock(), "{}", line());
        }
    }

    if is_sqs {
        let failed: Vec<&str> = failed_units
            .iter()
            .filter_map(|&u| units[u].id.as_deref())
            .collect();
        return Ok(sqs_response(&failed));
    }
    if !failures.is_empty() {
        return Err(Error::Failed(failures));
    }
    Ok(json!({
        "source": source,
        "ignored": plan.ignored,
        "repositories": published.iter().map(report_json).collect::<Vec<_>>(),
    }))
}

/// A delivery unit: one SQS message, or the whole direct invocation.
struct Unit {
    id: Option<String>,
    body: Body,
}

/// The work of one repository.
#[derive(Debug, Default, PartialEq, Eq)]
struct Job {
    /// Changes in publish order.
    changes: Vec<ObjectChange>,
    /// Reconcile after applying the changes.
    reconcile: bool,
    /// Units (indexes) whose fate depends on this job.
    units: BTreeSet<usize>,
}

#[derive(Debug, Default)]
struct Plan {
    jobs: BTreeMap<String, Job>,
    /// Units that failed before any publish: (unit, reason, retryable).
    unit_failures: Vec<(usize, String, bool)>,
    /// Units asking to reconcile every repository.
    reconcile_all: Vec<usize>,
    /// Records that concern no repository of this indexer.
    ignored: usize,
}

/// Group the units' changes by repository. Pure: `root_of` is the layout.
fn plan(units: &[Unit], bucket: Option<&str>, root_of: impl Fn(&str) -> Option<String>) -> Plan {
    let mut plan = Plan::default();
    for (u, unit) in units.iter().enumerate() {
        match &unit.body {
            Body::Changes {
                changes,
                ignored,
                errors,
            } => {
                plan.ignored += ignored;
                for change in changes {
                    if let (Some(want), Some(got)) = (bucket, change.bucket.as_deref()) {
                        if want != got {
                            tracing::warn!(bucket = got, key = %change.key, "record for another bucket skipped");
                            plan.ignored += 1;
                            continue;
                        }
                    }
                    let Some(root) = root_of(&change.key) else {
                        plan.ignored += 1;
                        continue;
                    };
                    let job = plan.jobs.entry(root).or_default();
                    job.changes.push(change.clone());
                    job.units.insert(u);
                }
                if !errors.is_empty() {
                    let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    plan.unit_failures.push((
                        u,
                        format!("unreadable records: {}", reasons.join("; ")),
                        false,
                    ));
                }
            }
            Body::TestEvent => {}
            Body::Reconcile(r) => match &r.roots {
                None => plan.reconcile_all.push(u),
                Some(roots) => {
                    for root in roots {
                        let job = plan.jobs.entry(root.clone()).or_default();
                        job.reconcile = true;
                        job.units.insert(u);
                    }
                }
            },
            Body::Invalid(e) => plan.unit_failures.push((u, e.to_string(), false)),
        }
    }
    for job in plan.jobs.values_mut() {
        job.changes = order(std::mem::take(&mut job.changes));
    }
    plan
}

/// Changes in publish order: grouped by key (first appearance), each key's events ordered by
/// `sequencer` when all of them carry one (else as delivered), exact duplicates dropped.
fn order(changes: Vec<ObjectChange>) -> Vec<ObjectChange> {
    let mut by_key: Vec<(String, Vec<ObjectChange>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for c in changes {
        match index.get(&c.key) {
            Some(&i) => by_key[i].1.push(c),
            None => {
                index.insert(c.key.clone(), by_key.len());
                by_key.push((c.key.clone(), vec![c]));
            }
        }
    }
    let mut out = Vec::new();
    for (_, mut group) in by_key {
        if group.iter().all(|c| c.sequencer.is_some()) {
            let width = group
                .iter()
                .filter_map(|c| c.sequencer.as_ref().map(String::len))
                .max()
                .unwrap_or(0);
            group.sort_by_cached_key(|c| {
                let s = c.sequencer.as_deref().unwrap_or_default();
                format!("{:0>width$}", s.to_ascii_uppercase())
            });
        }
        group.dedup_by(|b, a| {
            a.kind == b.kind
                && a.etag == b.etag
                && a.version_id == b.version_id
                && a.sequencer == b.sequencer
        });
        out.extend(group);
    }
    out
}

async fn run(
    indexer: &Indexer,
    jobs: &BTreeMap<String, Job>,
    concurrency: usize,
) -> Vec<(String, Result<PublishReport, EngineError>)> {
    stream::iter(jobs.iter())
        .map(|(root, job)| async move {
            let mut result = if job.changes.is_empty() {
                None
            } else {
                Some(repo::apply(indexer, root, &job.changes).await)
            };
            if job.reconcile && !matches!(result, Some(Err(_))) {
                let reconciled = repo::reconcile(indexer, root).await;
                result = Some(match (result, reconciled) {
                    (Some(Ok(mut applied)), Ok(r)) => {
                        merge(&mut applied, r);
                        Ok(applied)
                    }
                    (_, r) => r,
                });
            }
            let result = result.expect("a job has changes or a reconcile");
            (root.clone(), result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Fold a later report of the same repository into an earlier one.
fn merge(into: &mut PublishReport, later: PublishReport) {
    into.revision = later.revision;
    into.added.extend(later.added);
    into.removed.extend(later.removed);
    into.rejected.extend(later.rejected);
    into.bytes_read += later.bytes_read;
    into.conflicts_retried += later.conflicts_retried;
    into.hashed_by_stream += later.hashed_by_stream;
    into.hashed_by_checksum += later.hashed_by_checksum;
    into.duration += later.duration;
    into.unchanged &= later.unchanged;
}

fn report_json(r: &PublishReport) -> Value {
    json!({
        "root": r.root,
        "revision": r.revision,
        "added": r.added,
        "removed": r.removed,
        "rejected": r.rejected.iter().map(|(k, why)| json!({"key": k, "reason": why})).collect::<Vec<_>>(),
        "unchanged": r.unchanged,
    })
}

/// The SQS partial batch response.
fn sqs_response(failed: &[&str]) -> Value {
    json!({
        "batchItemFailures": failed
            .iter()
            .map(|id| json!({"itemIdentifier": id}))
            .collect::<Vec<_>>()
    })
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::S3 => "s3",
        Source::Sns => "sns",
        Source::EventBridge => "eventbridge",
        Source::Request => "request",
    }
}

/// An error and its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The figures of one batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Summary {
    source: &'static str,
    units: usize,
    changes: usize,
    ignored: usize,
    repositories: usize,
    failed_repositories: usize,
    failed_units: usize,
    added: usize,
    removed: usize,
    rejected: usize,
    bytes_read: u64,
    conflicts_retried: u64,
    duration: Duration,
}

impl Summary {
    fn add(&mut self, r: &PublishReport) {
        self.added += r.added.len();
        self.removed += r.removed.len();
        self.rejected += r.rejected.len();
        self.bytes_read += r.bytes_read;
        self.conflicts_retried += u64::from(r.conflicts_retried);
    }

    fn log(&self) {
        tracing::info!(
            source = self.source,
            messages = self.units,
            changes = self.changes,
            ignored = self.ignored,
            repositories = self.repositories,
            failed_repositories = self.failed_repositories,
            failed_messages = self.failed_units,
            packages_added = self.added,
            packages_removed = self.removed,
            packages_rejected = self.rejected,
            bytes_read = self.bytes_read,
            conflicts_retried = self.conflicts_retried,
            duration_ms = self.duration.as_millis() as u64,
            "batch"
        );
    }
}

/// A CloudWatch Embedded Metric Format record for one batch (namespace `rpmbucket`, one
/// dimension set: `Source`).
fn emf(s: &Summary, timestamp_ms: u64) -> Value {
    let metrics = [
        ("Repositories", "Count", s.repositories as u64),
        ("FailedRepositories", "Count", s.failed_repositories as u64),
        ("FailedMessages", "Count", s.failed_units as u64),
        ("Changes", "Count", s.changes as u64),
        ("PackagesAdded", "Count", s.added as u64),
        ("PackagesRemoved", "Count", s.removed as u64),
        ("PackagesRejected", "Count", s.rejected as u64),
        ("BytesRead", "Bytes", s.bytes_read),
        ("ConflictsRetried", "Count", s.conflicts_retried),
        ("Duration", "Milliseconds", s.duration.as_millis() as u64),
    ];
    let mut record = serde_json::Map::new();
    record.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "rpmbucket",
                "Dimensions": [["Source"]],
                "Metrics": metrics
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    record.insert("Source".into(), s.source.into());
    for (name, _, value) in metrics {
        record.insert(name.into(), value.into());
    }
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChangeKind, Reconcile};
    use pretty_assertions::assert_eq;

    fn change(key: &str, kind: ChangeKind, seq: Option<&str>) -> ObjectChange {
        ObjectChange {
            bucket: Some("b".into()),
            key: key.into(),
            kind,
            etag: None,
            version_id: None,
            size: None,
            sequencer: seq.map(Into::into),
            event_name: String::new(),
        }
    }

    fn unit(id: &str, changes: Vec<ObjectChange>) -> Unit {
        Unit {
            id: Some(id.into()),
            body: Body::Changes {
                changes,
                ignored: 0,
                errors: vec![],
            },
        }
    }

    /// The layout of these tests: the directory of the key, only under `el*/`.
    fn dir_root(key: &str) -> Option<String> {
        key.starts_with("el")
            .then(|| key.rfind('/').map(|i| key[..=i].to_owned()))
            .flatten()
    }

    fn kinds(job: &Job) -> Vec<(&str, ChangeKind)> {
        job.changes
            .iter()
            .map(|c| (c.key.as_str(), c.kind))
            .collect()
    }

    #[test]
    fn groups_by_repository_and_links_messages() {
        use ChangeKind::*;
        let units = vec![
            unit("m0", vec![change("el9/a.rpm", Created, None)]),
            unit(
                "m1",
                vec![
                    change("el8/b.rpm", Created, None),
                    change("el9/c.rpm", Created, None),
                ],
            ),
            unit("m2", vec![change("other/x.rpm", Created, None)]),
            Unit {
                id: Some("m3".into()),
                body: Body::TestEvent,
            },
        ];
        let plan = plan(&units, Some("b"), dir_root);
        assert_eq!(plan.jobs.keys().collect::<Vec<_>>(), vec!["el8/", "el9/"]);
        assert_eq!(
            kinds(&plan.jobs["el9/"]),
            vec![("el9/a.rpm", Created), ("el9/c.rpm", Created)]
        );
        assert_eq!(plan.jobs["el9/"].units, BTreeSet::from([0, 1]));
        assert_eq!(plan.jobs["el8/"].units, BTreeSet::from([1]));
        assert_eq!(plan.ignored, 1);
        assert!(plan.unit_failures.is_empty());
    }

    #[test]
    fn other_bucket_is_skipped() {
        let mut c = change("el9/a.rpm", ChangeKind::Created, None);
        c.bucket = Some("someone-else".into());
        let plan = plan(&[unit("m0", vec![c])], Some("b"), dir_root);
        assert!(plan.jobs.is_empty());
        assert_eq!(plan.ignored, 1);
    }

    #[test]
    fn unreadable_units_fail_but_their_good_records_are_applied() {
        let units = vec![
            Unit {
                id: Some("m0".into()),
                body: Body::Changes {
                    changes: vec![change("el9/a.rpm", ChangeKind::Created, None)],
                    ignored: 0,
                    errors: vec![EventError::Field {
                        index: 1,
                        field: "Records[].eventName",
                    }],
                },
            },
            Unit {
                id: Some("m1".into()),
                body: Body::Invalid(EventError::Unrecognized { fields: "x".into() }),
            },
        ];
        let plan = plan(&units, None, dir_root);
        assert_eq!(plan.jobs["el9/"].changes.len(), 1);
        assert_eq!(
            plan.unit_failures,
            vec![
                (
                    0,
                    "unreadable records: record 1: missing or invalid field Records[].eventName"
                        .to_owned(),
                    false
                ),
                (
                    1,
                    "unrecognized event shape (top-level fields: x)".to_owned(),
                    false
                ),
            ]
        );
    }

    #[test]
    fn reconcile_requests() {
        let units = vec![
            Unit {
                id: None,
                body: Body::Reconcile(Reconcile {
                    roots: Some(vec!["el9/".into()]),
                }),
            },
            Unit {
                id: None,
                body: Body::Reconcile(Reconcile { roots: None }),
            },
        ];
        let plan = plan(&units, None, dir_root);
        assert!(plan.jobs["el9/"].reconcile);
        assert_eq!(plan.reconcile_all, vec![1]);
    }

    #[test]
    fn order_follows_sequencer_per_key() {
        use ChangeKind::*;
        let changes = vec![
            change("a.rpm", Removed, Some("0065A1B3D04F2A9C11")),
            change("b.rpm", Created, None),
            change("a.rpm", Created, Some("0065A1B2C3D4E5F607")),
            // shorter sequencer: compared after left-padding
            change("a.rpm", Created, Some("65A1B2C3D4E5F600")),
            change("b.rpm", Removed, None),
            change("b.rpm", Removed, None),
        ];
        let ordered: Vec<(String, ChangeKind, Option<String>)> = order(changes)
            .into_iter()
            .map(|c| (c.key, c.kind, c.sequencer))
            .collect();
        assert_eq!(
            ordered,
            vec![
                ("a.rpm".into(), Created, Some("65A1B2C3D4E5F600".into())),
                ("a.rpm".into(), Created, Some("0065A1B2C3D4E5F607".into())),
                ("a.rpm".into(), Removed, Some("0065A1B3D04F2A9C11".into())),
                ("b.rpm".into(), Created, None),
                ("b.rpm".into(), Removed, None),
            ]
        );
    }

    #[test]
    fn order_keeps_delivery_order_when_a_sequencer_is_missing() {
        use ChangeKind::*;
        let changes = vec![
            change("a.rpm", Removed, Some("02")),
            change("a.rpm", Created, None),
            change("a.rpm", Created, Some("01")),
        ];
        let kinds: Vec<ChangeKind> = order(changes).into_iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec![Removed, Created, Created]);
    }

    #[test]
    fn sqs_response_shape() {
        assert_eq!(sqs_response(&[]), json!({"batchItemFailures": []}));
        assert_eq!(
            sqs_response(&["m1", "m3"]),
            json!({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]})
        );
    }

    #[test]
    fn emf_record() {
        let s = Summary {
            source: "sqs",
            units: 3,
            changes: 4,
            repositories: 2,
            failed_repositories: 1,
            failed_units: 1,
            added: 3,
            removed: 1,
            bytes_read: 65_536,
            conflicts_retried: 2,
            duration: Duration::from_millis(1234),
            ..Summary::default()
        };
        let v = emf(&s, 1_795_000_000_000);
        let aws = &v["_aws"];
        assert_eq!(aws["Timestamp"], 1_795_000_000_000u64);
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "rpmbucket");
        assert_eq!(directive["Dimensions"], json!([["Source"]]));
        assert_eq!(v["Source"], "sqs");
        // Every declared metric has a numeric member of the same name (EMF's rule).
        let declared = directive["Metrics"].as_array().unwrap();
        assert_eq!(declared.len(), 10);
        for m in declared {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_u64(), "{name} missing");
        }
        assert_eq!(v["Repositories"], 2);
        assert_eq!(v["PackagesAdded"], 3);
        assert_eq!(v["PackagesRemoved"], 1);
        assert_eq!(v["BytesRead"], 65_536);
        assert_eq!(v["ConflictsRetried"], 2);
        assert_eq!(v["Duration"], 1234);
        assert_eq!(v["FailedMessages"], 1);
    }

    #[test]
    fn diagnostics_tell_retryable_apart() {
        let f = |retryable| Failure {
            root: Some("el9/".into()),
            messages: vec![],
            reason: "boom".into(),
            retryable,
        };
        let d: Diagnostic = Error::Failed(vec![f(false), f(true)]).into();
        assert_eq!(d.error_type, "Retryable");
        assert_eq!(
            d.error_message,
            "2 failure(s): repository \"el9/\": boom; repository \"el9/\": boom"
        );
        let d: Diagnostic = Error::Failed(vec![f(false)]).into();
        assert_eq!(d.error_type, "NonRetryable");
        let d: Diagnostic = Error::Event(EventError::Unrecognized {
            fields: "none".into(),
        })
        .into();
        assert_eq!(d.error_type, "NonRetryable");
    }
}
