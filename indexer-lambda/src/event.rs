//! Lambda payloads → validated object changes.
//!
//! One invocation payload is turned into an [`Invocation`]: raw JSON in, validated values out
//! (the way ripgrep turns `LowArgs` into `HiArgs`). Shapes accepted:
//!
//! * S3 event notifications delivered directly (`{"Records":[{"eventSource":"aws:s3",…}]}`),
//!   also as sent by S3-compatible servers (moto omits `userIdentity`, `requestParameters`,
//!   `responseElements`, `sequencer`, and encodes `/` in keys; MinIO prefixes event names
//!   with `s3:`);
//! * the same notifications delivered through SNS (`Records[].Sns.Message`);
//! * SQS batches (`Records[].eventSource == "aws:sqs"`) whose bodies are any of the shapes
//!   here, including the `s3:TestEvent` S3 sends when a notification is configured (ignored);
//! * EventBridge events from S3 (`"Object Created"`, `"Object Deleted"`);
//! * a scheduled reconcile: `{"rpmbucket":"reconcile"}` (what an EventBridge Scheduler schedule
//!   or a rule with a constant input sends; `"roots":[…]` narrows it) or an EventBridge rule's
//!   `"Scheduled Event"`.
//!
//! Keys of S3 notifications are form-urlencoded (`+` is a space, `%2B` a plus); they are
//! decoded exactly once here, and nowhere else. Only `.rpm` keys and extra-metadata sources
//! (`updateinfo.xml`, `comps.xml`, `modules.yaml`) become changes:
//! `ObjectCreated:*` → [`ChangeKind::Created`]; `ObjectRemoved:*` (including
//! `DeleteMarkerCreated`) and `LifecycleExpiration:*` → [`ChangeKind::Removed`]. Other event
//! types (tagging, ACL, restore, replication, …) are counted as ignored.
//!
//! Typed parsing uses `aws_lambda_events` first; when a payload does not fit its types (moto's
//! records lack required fields, moto's EventBridge `time` is a number) a tolerant reading of
//! the same fields takes over, so a real server's shape is never rejected for a missing field
//! this crate does not use.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3EventRecord;
use aws_lambda_events::event::sqs::SqsMessage;
use serde_json::Value;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The object was written (put, post, copy, multipart upload).
    Created,
    /// The object was deleted, a delete marker hides it, or a lifecycle rule expired it.
    Removed,
}

/// One package object that changed, as the event told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    /// Bucket named by the event, when it names one.
    pub bucket: Option<String>,
    /// Object key, decoded.
    pub key: String,
    /// Created or removed.
    pub kind: ChangeKind,
    /// ETag of the written object, without quotes (absent on removals).
    pub etag: Option<String>,
    /// Version id (versioned buckets).
    pub version_id: Option<String>,
    /// Size in bytes of the written object.
    pub size: Option<u64>,
    /// S3's per-key ordering token (hex; compare after left-padding to equal length).
    pub sequencer: Option<String>,
    /// The event's name, for logs (`ObjectCreated:Put`, `Object Deleted`, …).
    pub event_name: String,
}

/// How the payload reached the function; it decides how failures are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// S3 invoked the function directly.
    S3,
    /// S3 → SNS → Lambda.
    Sns,
    /// An EventBridge rule (S3 events or a schedule).
    EventBridge,
    /// A reconcile request (EventBridge Scheduler, a manual invoke, the local runner).
    Request,
}

/// A full reconcile of repositories, as requested by a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconcile {
    /// Repository roots to reconcile; `None` means every repository found.
    pub roots: Option<Vec<String>>,
}

/// The validated content of one delivery unit (a direct invocation or one SQS message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Object changes. `errors` names records that could not be read; the valid ones are
    /// still applied, and the unit is reported as failed so it is retried or dead-lettered.
    Changes {
        /// Changes to `.rpm` keys, in the order of the payload.
        changes: Vec<ObjectChange>,
        /// Records that were valid but concern no package (other key, other event type).
        ignored: usize,
        /// Records that could not be read.
        errors: Vec<EventError>,
    },
    /// `s3:TestEvent`, sent once when a notification is configured.
    TestEvent,
    /// Reconcile repositories.
    Reconcile(Reconcile),
    /// The unit could not be read at all.
    Invalid(EventError),
}

/// One SQS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `messageId`, the item identifier of a partial batch failure.
    pub id: String,
    /// What the message says.
    pub body: Body,
}

/// One invocation payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Delivered directly (S3, SNS, EventBridge, a request): one unit, which fails as a whole.
    Direct {
        /// Who delivered it.
        source: Source,
        /// What it says.
        body: Body,
    },
    /// An SQS batch: every message succeeds or fails on its own.
    Sqs(Vec<Message>),
}

/// Why (part of) a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The payload is JSON but none of the shapes this function accepts.
    #[error("unrecognized event shape (top-level fields: {fields})")]
    Unrecognized {
        /// The top-level fields seen, or the JSON type.
        fields: String,
    },
    /// A message body or SNS message is not JSON.
    #[error("{what} is not JSON: {message}")]
    NotJson {
        /// Which part.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A required field is absent or has the wrong type.
    #[error("record {index}: missing or invalid field {field}")]
    Field {
        /// Index of the record in its event.
        index: usize,
        /// JSON path of the field.
        field: &'static str,
    },
    /// A key does not decode to a valid object key.
    #[error("record {index}: invalid key {key:?}: {reason}")]
    Key {
        /// Index of the record in its event.
        index: usize,
        /// The key as sent.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An SQS record without `messageId`.
    #[error("SQS record {index} has no messageId")]
    NoMessageId {
        /// Index of the record.
        index: usize,
    },
}

/// Read one invocation payload.
///
/// Fails only when the payload as a whole is unrecognizable; problems inside an SQS message
/// or a record are reported in the [`Body`] of that unit so the rest of the batch proceeds.
pub fn parse(payload: &Value) -> Result<Invocation, EventError> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let is_sqs = records.first().is_some_and(|r| {
            r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
                || (r.get("messageId").is_some() && r.get("body").is_some())
        });
        if is_sqs {
            return sqs_batch(records).map(Invocation::Sqs);
        }
        let is_sns = records
            .first()
            .is_some_and(|r| r.get("Sns").is_some() || r.get("EventSource").is_some());
        if is_sns {
            return Ok(Invocation::Direct {
                source: Source::Sns,
                body: sns_records(records),
            });
        }
    }
    match body(payload) {
        Some((source, body)) => Ok(Invocation::Direct { source, body }),
        None => Err(unrecognized(payload)),
    }
}

/// Decode a form-urlencoded key from an S3 notification: `+` is a space, `%XX` a byte; the
/// bytes must be UTF-8. Malformed `%` escapes are kept literally, as form decoding does.
pub fn decode_key(encoded: &str) -> Result<String, &'static str> {
    let spaced = encoded.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| "not UTF-8 after decoding")?;
    if decoded.is_empty() {
        return Err("empty");
    }
    Ok(decoded.into_owned())
}

/// The shape of any delivery unit but an SQS batch: S3 notification records, a test event,
/// an EventBridge event, a reconcile request. `None` if it is none of these.
fn body(v: &Value) -> Option<(Source, Body)> {
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        return Some((Source::S3, s3_records(records)));
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Some((Source::S3, Body::TestEvent));
    }
    if v.get("detail-type").is_some() && v.get("source").is_some() {
        return Some((Source::EventBridge, eventbridge(v)));
    }
    if let Some(action) = v.get("rpmbucket") {
        return Some((Source::Request, request(v, action)));
    }
    None
}

fn unrecognized(v: &Value) -> EventError {
    let fields = match v {
        Value::Object(map) => {
            let mut names: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
            names.sort_unstable();
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        }
        Value::Array(_) => "an array".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Null => "null".to_owned(),
    };
    EventError::Unrecognized { fields }
}

fn sqs_batch(records: &[Value]) -> Result<Vec<Message>, EventError> {
    let mut messages = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        // Typed first; the fields we need are all optional in the typed struct, so the
        // fallback only matters for a record whose optional fields have unusual types.
        let (id, text) = match serde_json::from_value::<SqsMessage>(record.clone()) {
            Ok(m) => (m.message_id, m.body),
            Err(_) => (
                record
                    .get("messageId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                record
                    .get("body")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
        };
        let id = id.ok_or(EventError::NoMessageId { index })?;
        let body = match text {
            None => Body::Invalid(EventError::Field {
                index,
                field: "Records[].body",
            }),
            Some(text) => message_body(&text, "SQS message body"),
        };
        messages.push(Message { id, body });
    }
    Ok(messages)
}

/// A JSON text carried inside another event (SQS body, SNS message).
fn message_body(text: &str, what: &'static str) -> Body {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Body::Invalid(EventError::NotJson {
                what,
                message: e.to_string(),
            })
        }
    };
    // S3 → SNS → SQS without raw message delivery: the body is an SNS envelope.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        if let Some(inner) = value.get("Message").and_then(Value::as_str) {
            return message_body(inner, "SNS message");
        }
    }
    match body(&value) {
        Some((_, body)) => body,
        None => Body::Invalid(unrecognized(&value)),
    }
}

fn sns_records(records: &[Value]) -> Body {
    let mut merged = Changes::default();
    for (index, record) in records.iter().enumerate() {
        let Some(text) = record.pointer("/Sns/Message").and_then(Value::as_str) else {
            merged.errors.push(EventError::Field {
                index,
                field: "Records[].Sns.Message",
            });
            continue;
        };
        match message_body(text, "SNS message") {
            Body::Changes {
                changes,
                ignored,
                errors,
            } => {
                merged.changes.extend(changes);
                merged.ignored += ignored;
                merged.errors.extend(errors);
            }
            Body::TestEvent => merged.ignored += 1,
            Body::Invalid(e) => merged.errors.push(e),
            // A reconcile request through SNS: keep it simple, it is its own unit.
            reconcile @ Body::Reconcile(_) if records.len() == 1 => return reconcile,
            Body::Reconcile(_) => merged.errors.push(EventError::Field {
                index,
                field: "Records[].Sns.Message (reconcile mixed with other records)",
            }),
        }
    }
    merged.into_body()
}

#[derive(Default)]
struct Changes {
    changes: Vec<ObjectChange>,
    ignored: usize,
    errors: Vec<EventError>,
}

impl Changes {
    fn into_body(self) -> Body {
        Body::Changes {
            changes: self.changes,
            ignored: self.ignored,
            errors: self.errors,
        }
    }

    /// Record an event about `encoded_key`, keeping it only if it is a package change.
    fn push(&mut self, index: usize, fields: RecordFields, encoded: bool) {
        let Some(kind) = fields.kind else {
            self.ignored += 1;
            return;
        };
        let key = if encoded {
            match decode_key(&fields.key) {
                Ok(k) => k,
                Err(reason) => {
                    self.errors.push(EventError::Key {
                        index,
                        key: fields.key,
                        reason,
                    });
                    return;
                }
            }
        } else {
            fields.key
        };
        if !key.ends_with(".rpm") && !rpmbucket_engine::layout::is_extra_key(&key) {
            self.ignored += 1;
            return;
        }
        self.changes.push(ObjectChange {
            bucket: fields.bucket.filter(|b| !b.is_empty()),
            key,
            kind,
            etag: fields
                .etag
                .map(|e| e.trim_matches('"').to_owned())
                .filter(|e| !e.is_empty()),
            version_id: fields.version_id.filter(|v| !v.is_empty() && v != "null"),
            size: fields.size,
            sequencer: fields.sequencer.filter(|s| !s.is_empty()),
            event_name: fields.event_name,
        });
    }
}

/// The fields of one record this crate uses, whatever shape they came in.
struct RecordFields {
    event_name: String,
    kind: Option<ChangeKind>,
    bucket: Option<String>,
    key: String,
    etag: Option<String>,
    version_id: Option<String>,
    size: Option<u64>,
    sequencer: Option<String>,
}

/// Kind of an S3 notification `eventName` (`ObjectCreated:Put`, `s3:ObjectRemoved:Delete`).
fn notification_kind(event_name: &str) -> Option<ChangeKind> {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    let family = name.split(':').next().unwrap_or_default();
    match family {
        "ObjectCreated" => Some(ChangeKind::Created),
        "ObjectRemoved" | "LifecycleExpiration" => Some(ChangeKind::Removed),
        _ => None,
    }
}

fn s3_records(records: &[Value]) -> Body {
    let mut out = Changes::default();
    for (index, record) in records.iter().enumerate() {
        match s3_record(index, record) {
            Ok(fields) => out.push(index, fields, true),
            Err(e) => out.errors.push(e),
        }
    }
    out.into_body()
}

fn s3_record(index: usize, record: &Value) -> Result<RecordFields, EventError> {
    if let Ok(r) = serde_json::from_value::<S3EventRecord>(record.clone()) {
        if let (Some(event_name), Some(key)) = (r.event_name, r.s3.object.key) {
            return Ok(RecordFields {
                kind: notification_kind(&event_name),
                event_name,
                bucket: r.s3.bucket.name,
                key,
                etag: r.s3.object.e_tag,
                version_id: r.s3.object.version_id,
                size: r.s3.object.size.and_then(|s| u64::try_from(s).ok()),
                sequencer: r.s3.object.sequencer,
            });
        }
    }
    // Tolerant reading: only `eventName` and `s3.object.key` are required.
    let str_at = |path: &str| record.pointer(path).and_then(Value::as_str);
    let event_name = str_at("/eventName").ok_or(EventError::Field {
        index,
        field: "Records[].eventName",
    })?;
    let key = str_at("/s3/object/key").ok_or(EventError::Field {
        index,
        field: "Records[].s3.object.key",
    })?;
    Ok(RecordFields {
        kind: notification_kind(event_name),
        event_name: event_name.to_owned(),
        bucket: str_at("/s3/bucket/name").map(str::to_owned),
        key: key.to_owned(),
        etag: str_at("/s3/object/eTag").map(str::to_owned),
        version_id: str_at("/s3/object/versionId").map(str::to_owned),
        size: record.pointer("/s3/object/size").and_then(Value::as_u64),
        sequencer: str_at("/s3/object/sequencer").map(str::to_owned),
    })
}

fn eventbridge(v: &Value) -> Body {
    let source = v.get("source").and_then(Value::as_str).unwrap_or_default();
    // Typed first (checks the envelope); moto's numeric `time` falls back to the raw value.
    let (detail_type, detail) = match serde_json::from_value::<EventBridgeEvent>(v.clone()) {
        Ok(e) => (e.detail_type, e.detail),
        Err(_) => (
            v.get("detail-type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            v.get("detail").cloned().unwrap_or(Value::Null),
        ),
    };
    if source == "aws.events" && detail_type == "Scheduled Event" {
        return Body::Reconcile(Reconcile::default());
    }
    let kind = match (source, detail_type.as_str()) {
        ("aws.s3", "Object Created") => Some(ChangeKind::Created),
        ("aws.s3", "Object Deleted") => Some(ChangeKind::Removed),
        ("aws.s3", _) => None,
        _ => {
            return Body::Invalid(EventError::Unrecognized {
                fields: format!("EventBridge source {source:?}, detail-type {detail_type:?}"),
            })
        }
    };
    let mut out = Changes::default();
    let str_at = |path: &str| detail.pointer(path).and_then(Value::as_str);
    let Some(key) = str_at("/object/key") else {
        out.errors.push(EventError::Field {
            index: 0,
            field: "detail.object.key",
        });
        return out.into_body();
    };
    let fields = RecordFields {
        event_name: detail_type.clone(),
        kind,
        bucket: str_at("/bucket/name").map(str::to_owned),
        key: key.to_owned(),
        // AWS spells it `etag`, moto `eTag`.
        etag: str_at("/object/etag")
            .or_else(|| str_at("/object/eTag"))
            .map(str::to_owned),
        version_id: str_at("/object/version-id").map(str::to_owned),
        size: detail.pointer("/object/size").and_then(Value::as_u64),
        sequencer: str_at("/object/sequencer").map(str::to_owned),
    };
    // EventBridge keys are URL-encoded like notification keys (AWS, LocalStack); decode once.
    out.push(0, fields, true);
    out.into_body()
}

fn request(v: &Value, action: &Value) -> Body {
    if action.as_str() != Some("reconcile") {
        return Body::Invalid(EventError::Unrecognized {
            fields: format!("rpmbucket request {action}"),
        });
    }
    let roots = match v.get("roots") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut roots = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(root) => roots.push(root.to_owned()),
                    None => {
                        return Body::Invalid(EventError::Field {
                            index: 0,
                            field: "roots[]",
                        })
                    }
                }
            }
            Some(roots)
        }
        Some(_) => {
            return Body::Invalid(EventError::Field {
                index: 0,
                field: "roots",
            })
        }
    };
    Body::Reconcile(Reconcile { roots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The changes of a direct invocation, asserting it has no errors.
    fn direct_changes(v: &Value) -> (Source, Vec<ObjectChange>, usize) {
        match parse(v).unwrap() {
            Invocation::Direct {
                source,
                body:
                    Body::Changes {
                        changes,
                        ignored,
                        errors,
                    },
            } => {
                assert_eq!(errors, vec![]);
                (source, changes, ignored)
            }
            other => panic!("not direct changes: {other:?}"),
        }
    }

    fn keys(changes: &[ObjectChange]) -> Vec<(&str, ChangeKind)> {
        changes.iter().map(|c| (c.key.as_str(), c.kind)).collect()
    }

    macro_rules! decodes {
        ($($name:ident: $encoded:expr => $decoded:expr,)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(decode_key($encoded), $decoded);
            }
        )*};
    }

    decodes! {
        decode_plain: "a/b.rpm" => Ok("a/b.rpm".to_owned()),
        decode_plus_is_space: "my+pkg.rpm" => Ok("my pkg.rpm".to_owned()),
        decode_2b_is_plus: "g%2B%2B-1.0.rpm" => Ok("g++-1.0.rpm".to_owned()),
        decode_slash: "el9%2Fx86_64%2Fa.rpm" => Ok("el9/x86_64/a.rpm".to_owned()),
        decode_once_only: "a%2520b.rpm" => Ok("a%20b.rpm".to_owned()),
        decode_utf8: "caf%C3%A9.rpm" => Ok("café.rpm".to_owned()),
        decode_colon_equals: "x%3Dy%3A1.rpm" => Ok("x=y:1.rpm".to_owned()),
        decode_bad_escape_literal: "100%zz.rpm" => Ok("100%zz.rpm".to_owned()),
        decode_not_utf8: "a%FF.rpm" => Err("not UTF-8 after decoding"),
        decode_empty: "" => Err("empty"),
    }

    #[test]
    fn kinds_of_notification_names() {
        for (name, kind) in [
            ("ObjectCreated:Put", Some(ChangeKind::Created)),
            ("ObjectCreated:Post", Some(ChangeKind::Created)),
            ("ObjectCreated:Copy", Some(ChangeKind::Created)),
            (
                "ObjectCreated:CompleteMultipartUpload",
                Some(ChangeKind::Created),
            ),
            ("s3:ObjectCreated:Put", Some(ChangeKind::Created)),
            ("ObjectRemoved:Delete", Some(ChangeKind::Removed)),
            (
                "ObjectRemoved:DeleteMarkerCreated",
                Some(ChangeKind::Removed),
            ),
            ("LifecycleExpiration:Delete", Some(ChangeKind::Removed)),
            (
                "LifecycleExpiration:DeleteMarkerCreated",
                Some(ChangeKind::Removed),
            ),
            ("ObjectRestore:Completed", None),
            ("ObjectTagging:Put", None),
            ("ObjectAcl:Put", None),
            ("LifecycleTransition", None),
            ("", None),
        ] {
            assert_eq!(notification_kind(name), kind, "{name}");
        }
    }

    #[test]
    fn aws_direct_s3() {
        let (source, changes, ignored) = direct_changes(&fixture("aws-s3-put.json"));
        assert_eq!(source, Source::S3);
        assert_eq!(ignored, 0);
        assert_eq!(
            changes,
            vec![ObjectChange {
                bucket: Some("example-repo-bucket".into()),
                key: "el9/x86_64/hello-2.10-1.el9.x86_64.rpm".into(),
                kind: ChangeKind::Created,
                etag: Some("2b2b1d1c3d0e1f2a3b4c5d6e7f809112".into()),
                version_id: None,
                size: Some(28_716),
                sequencer: Some("0065A1B2C3D4E5F607".into()),
                event_name: "ObjectCreated:Put".into(),
            }]
        );
    }

    #[test]
    fn aws_direct_s3_remove_versioned() {
        let (_, changes, _) = direct_changes(&fixture("aws-s3-delete-marker.json"));
        assert_eq!(
            keys(&changes),
            vec![(
                "el9/x86_64/hello-2.10-1.el9.x86_64.rpm",
                ChangeKind::Removed
            )]
        );
        assert_eq!(
            changes[0].version_id.as_deref(),
            Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
        );
        assert_eq!(changes[0].etag, None);
        assert_eq!(changes[0].event_name, "ObjectRemoved:DeleteMarkerCreated");
    }

    #[test]
    fn keys_needing_decoding() {
        let (_, changes, ignored) = direct_changes(&fixture("aws-s3-encoded-keys.json"));
        assert_eq!(
            keys(&changes),
            vec![
                ("el9/x86_64/my pkg-1.0-1.noarch.rpm", ChangeKind::Created),
                ("el9/x86_64/libstdc++-11-1.x86_64.rpm", ChangeKind::Created),
                ("el9/x86_64/a%20b-1-1.noarch.rpm", ChangeKind::Created),
                ("el9/x86_64/café-1-1.noarch.rpm", ChangeKind::Removed),
            ]
        );
        assert_eq!(ignored, 1, "the README.md record");
    }

    #[test]
    fn moto_shape() {
        // moto: no userIdentity/requestParameters/responseElements/sequencer, `/` encoded.
        let v = fixture("moto-s3-put.json");
        assert!(
            serde_json::from_value::<aws_lambda_events::event::s3::S3Event>(v.clone()).is_err(),
            "fixture must exercise the tolerant path"
        );
        let (source, changes, _) = direct_changes(&v);
        assert_eq!(source, Source::S3);
        assert_eq!(
            changes,
            vec![ObjectChange {
                bucket: Some("repo".into()),
                key: "pkgs/my pkg+1.0-1.noarch.rpm".into(),
                kind: ChangeKind::Created,
                etag: Some("9a0364b9e99bb480dd25e1f0284c8555".into()),
                version_id: None,
                size: Some(6_157),
                sequencer: None,
                event_name: "ObjectCreated:Put".into(),
            }]
        );
    }

    #[test]
    fn moto_old_event_time_without_timezone() {
        let v = fixture("moto-5.2.1-s3-put.json");
        let (_, changes, _) = direct_changes(&v);
        assert_eq!(keys(&changes), vec![("a/b c.rpm", ChangeKind::Created)]);
    }

    #[test]
    fn non_rpm_and_repodata_keys_are_ignored() {
        let (_, changes, ignored) = direct_changes(&fixture("aws-s3-non-rpm.json"));
        assert_eq!(changes, vec![]);
        assert_eq!(ignored, 3);
    }

    #[test]
    fn extra_metadata_sources_are_changes() {
        let text = fixture("aws-s3-non-rpm.json")
            .to_string()
            .replace("el9/x86_64/hello.rpm.sig", "el9/x86_64/updateinfo.xml");
        let (_, changes, ignored) = direct_changes(&serde_json::from_str(&text).unwrap());
        assert_eq!(
            keys(&changes),
            vec![("el9/x86_64/updateinfo.xml", ChangeKind::Created)]
        );
        assert_eq!(ignored, 2);
    }

    #[test]
    fn sqs_wrapped() {
        let Invocation::Sqs(messages) = parse(&fixture("aws-sqs-s3.json")).unwrap() else {
            panic!("not SQS");
        };
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "059f36b4-87a3-44ab-83d2-661975830a7d",
                "2e1424d4-f796-459a-8184-9c92662be6da",
                "a7d2e0b4-13f5-4c7a-9e3d-0b6f2a1c9e88",
            ]
        );
        assert_eq!(messages[0].body, Body::TestEvent);
        let Body::Changes { changes, .. } = &messages[1].body else {
            panic!("{:?}", messages[1].body)
        };
        assert_eq!(
            keys(changes),
            vec![(
                "el9/x86_64/hello-2.10-1.el9.x86_64.rpm",
                ChangeKind::Created
            )]
        );
        let Body::Changes { changes, .. } = &messages[2].body else {
            panic!("{:?}", messages[2].body)
        };
        assert_eq!(
            keys(changes),
            vec![("el8/x86_64/zsh 5.rpm", ChangeKind::Removed)]
        );
    }

    #[test]
    fn sqs_from_moto() {
        let Invocation::Sqs(messages) = parse(&fixture("moto-sqs-s3.json")).unwrap() else {
            panic!("not SQS");
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].body, Body::TestEvent);
        let Body::Changes {
            changes, errors, ..
        } = &messages[1].body
        else {
            panic!("{:?}", messages[1].body)
        };
        assert_eq!(errors, &vec![]);
        assert_eq!(
            keys(changes),
            vec![("el9/x86_64/hello-1.0-1.noarch.rpm", ChangeKind::Created)]
        );
    }

    #[test]
    fn sqs_bad_bodies_fail_their_message_only() {
        let Invocation::Sqs(messages) = parse(&fixture("sqs-bad-bodies.json")).unwrap() else {
            panic!("not SQS");
        };
        assert_eq!(messages.len(), 4);
        assert!(
            matches!(&messages[0].body, Body::Invalid(EventError::NotJson { .. })),
            "{:?}",
            messages[0].body
        );
        assert!(
            matches!(
                &messages[1].body,
                Body::Invalid(EventError::Unrecognized { .. })
            ),
            "{:?}",
            messages[1].body
        );
        // One good record and one whose key is not UTF-8: the good one is kept.
        let Body::Changes {
            changes, errors, ..
        } = &messages[2].body
        else {
            panic!("{:?}", messages[2].body)
        };
        assert_eq!(keys(changes), vec![("el9/good.rpm", ChangeKind::Created)]);
        assert_eq!(
            errors,
            &vec![EventError::Key {
                index: 1,
                key: "el9/bad%FF.rpm".into(),
                reason: "not UTF-8 after decoding"
            }]
        );
        let Body::Changes { changes, .. } = &messages[3].body else {
            panic!("{:?}", messages[3].body)
        };
        assert_eq!(keys(changes), vec![("el9/fine.rpm", ChangeKind::Created)]);
    }

    #[test]
    fn sqs_record_without_message_id_is_an_error() {
        let v = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
        assert_eq!(parse(&v), Err(EventError::NoMessageId { index: 0 }));
    }

    #[test]
    fn sqs_with_sns_envelope() {
        let Invocation::Sqs(messages) = parse(&fixture("aws-sqs-sns-s3.json")).unwrap() else {
            panic!("not SQS");
        };
        let Body::Changes { changes, .. } = &messages[0].body else {
            panic!("{:?}", messages[0].body)
        };
        assert_eq!(
            keys(changes),
            vec![(
                "el9/x86_64/hello-2.10-1.el9.x86_64.rpm",
                ChangeKind::Created
            )]
        );
    }

    #[test]
    fn sns_direct() {
        let (source, changes, _) = direct_changes(&fixture("aws-sns-s3.json"));
        assert_eq!(source, Source::Sns);
        assert_eq!(
            keys(&changes),
            vec![(
                "el9/x86_64/hello-2.10-1.el9.x86_64.rpm",
                ChangeKind::Created
            )]
        );
    }

    #[test]
    fn test_event_direct() {
        assert_eq!(
            parse(&fixture("s3-test-event.json")).unwrap(),
            Invocation::Direct {
                source: Source::S3,
                body: Body::TestEvent
            }
        );
    }

    #[test]
    fn eventbridge_created() {
        let (source, changes, _) = direct_changes(&fixture("eventbridge-object-created.json"));
        assert_eq!(source, Source::EventBridge);
        assert_eq!(
            changes,
            vec![ObjectChange {
                bucket: Some("example-repo-bucket".into()),
                key: "el9/x86_64/my pkg-1.0-1.noarch.rpm".into(),
                kind: ChangeKind::Created,
                etag: Some("b1946ac92492d2347c6235b4d2611184".into()),
                version_id: Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e".into()),
                size: Some(5_321),
                sequencer: Some("00617F08299329D189".into()),
                event_name: "Object Created".into(),
            }]
        );
    }

    #[test]
    fn eventbridge_deleted() {
        let (_, changes, _) = direct_changes(&fixture("eventbridge-object-deleted.json"));
        assert_eq!(
            keys(&changes),
            vec![(
                "el9/x86_64/hello-2.10-1.el9.x86_64.rpm",
                ChangeKind::Removed
            )]
        );
        assert_eq!(changes[0].etag, None);
    }

    #[test]
    fn eventbridge_moto_shape() {
        // moto: numeric `time`, `eTag` spelled like the notification field.
        let v = fixture("moto-eventbridge-object-created.json");
        let (_, changes, _) = direct_changes(&v);
        assert_eq!(keys(&changes), vec![("el9/a.rpm", ChangeKind::Created)]);
        assert_eq!(
            changes[0].etag.as_deref(),
            Some("0cc175b9c0f1b6a831c399e269772661")
        );
    }

    #[test]
    fn eventbridge_other_s3_detail_types_are_ignored() {
        let mut v = fixture("eventbridge-object-created.json");
        v["detail-type"] = "Object Tags Added".into();
        let (_, changes, ignored) = direct_changes(&v);
        assert_eq!((changes, ignored), (vec![], 1));
    }

    #[test]
    fn eventbridge_foreign_source_is_invalid() {
        let mut v = fixture("eventbridge-object-created.json");
        v["source"] = "aws.ec2".into();
        let Invocation::Direct {
            body: Body::Invalid(EventError::Unrecognized { .. }),
            ..
        } = parse(&v).unwrap()
        else {
            panic!("accepted a foreign EventBridge source");
        };
    }

    #[test]
    fn scheduled_reconcile() {
        assert_eq!(
            parse(&fixture("eventbridge-scheduled.json")).unwrap(),
            Invocation::Direct {
                source: Source::EventBridge,
                body: Body::Reconcile(Reconcile { roots: None })
            }
        );
        assert_eq!(
            parse(&serde_json::json!({"rpmbucket": "reconcile"})).unwrap(),
            Invocation::Direct {
                source: Source::Request,
                body: Body::Reconcile(Reconcile { roots: None })
            }
        );
        assert_eq!(
            parse(&serde_json::json!({"rpmbucket": "reconcile", "roots": ["el9/x86_64/"]}))
                .unwrap(),
            Invocation::Direct {
                source: Source::Request,
                body: Body::Reconcile(Reconcile {
                    roots: Some(vec!["el9/x86_64/".into()])
                })
            }
        );
    }

    #[test]
    fn bad_requests() {
        for v in [
            serde_json::json!({"rpmbucket": "explode"}),
            serde_json::json!({"rpmbucket": "reconcile", "roots": "el9/"}),
            serde_json::json!({"rpmbucket": "reconcile", "roots": [1]}),
        ] {
            let Invocation::Direct {
                body: Body::Invalid(_),
                ..
            } = parse(&v).unwrap()
            else {
                panic!("accepted {v}");
            };
        }
    }

    #[test]
    fn unrecognized_payloads() {
        for (v, fields) in [
            (serde_json::json!({}), "none"),
            (serde_json::json!({"b": 1, "a": 2}), "a, b"),
            (serde_json::json!([1, 2]), "an array"),
            (serde_json::json!("Records"), "a string"),
            (Value::Null, "null"),
        ] {
            assert_eq!(
                parse(&v),
                Err(EventError::Unrecognized {
                    fields: fields.into()
                }),
                "{v}"
            );
        }
    }

    #[test]
    fn record_errors_name_the_field() {
        let v = serde_json::json!({"Records": [
            {"eventSource": "aws:s3", "s3": {"object": {"key": "a.rpm"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}},
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"object": {"key": "ok.rpm"}}},
        ]});
        let Invocation::Direct {
            body: Body::Changes {
                changes, errors, ..
            },
            ..
        } = parse(&v).unwrap()
        else {
            panic!()
        };
        assert_eq!(keys(&changes), vec![("ok.rpm", ChangeKind::Created)]);
        assert_eq!(
            errors,
            vec![
                EventError::Field {
                    index: 0,
                    field: "Records[].eventName"
                },
                EventError::Field {
                    index: 1,
                    field: "Records[].s3.object.key"
                },
            ]
        );
    }

    #[test]
    fn hostile_payloads_do_not_panic() {
        for text in [
            r#"{"Records": null}"#,
            r#"{"Records": [null, 1, "x", []]}"#,
            r#"{"Records": [{"eventSource": "aws:sqs", "messageId": 5, "body": 7}]}"#,
            r#"{"Records": [{"Sns": 1}]}"#,
            r#"{"Records": [{"Sns": {"Message": "not json"}}]}"#,
            r#"{"Records": [{"Sns": {"Message": "{\"Type\":\"Notification\",\"Message\":\"{}\"}"}}]}"#,
            r#"{"detail-type": 1, "source": 2, "detail": "x"}"#,
            r#"{"detail-type": "Object Created", "source": "aws.s3", "detail": {"object": {"key": 1}}}"#,
            r#"{"Event": "s3:TestEvent"}"#,
            r#"{"rpmbucket": null}"#,
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            let _ = parse(&v);
        }
    }
}
