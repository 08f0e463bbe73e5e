//! Helpers shared by the handler and end-to-end tests: a moto bucket, fixture RPM uploads,
//! events shaped like the ones moto and AWS send, and reading the published primary.xml back.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufReader, Cursor};
use std::sync::Arc;

use bytes::Bytes;
use rpmbucket_engine::testkit::MotoServer;
use rpmbucket_engine::{Indexer, Layout, ObjectStore, PutOptions, RepoConfig, S3Store};
use rpmbucket_repodata::compress::Compression;
use rpmbucket_repodata::read::PrimaryReader;
use rpmbucket_repodata::repomd::Repomd;
use serde_json::{json, Value};

/// A fresh moto bucket with an indexer over it (whole bucket, default layout).
pub struct Bucket {
    pub moto: MotoServer,
    pub store: S3Store,
    pub indexer: Indexer,
}

impl Bucket {
    pub async fn new() -> Bucket {
        let moto = rpmbucket_engine::testkit::moto().await;
        let store = moto.new_bucket().await;
        let indexer = Indexer::new(
            Arc::new(store.clone()),
            Layout::new(vec![]),
            RepoConfig::default(),
        );
        Bucket {
            moto,
            store,
            indexer,
        }
    }

    pub fn name(&self) -> &str {
        self.store.bucket()
    }

    /// Upload a fixture RPM under `key`; returns its ETag without quotes.
    pub async fn put_fixture(&self, key: &str, fixture: &str) -> String {
        let bytes = std::fs::read(rpmbucket_tests::fixture(fixture)).expect("fixture");
        self.put(key, bytes).await
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> String {
        let meta = self
            .store
            .put(key, Bytes::from(bytes), PutOptions::default())
            .await
            .expect("put");
        meta.etag.trim_matches('"').to_owned()
    }

    /// `(name, location_href)` of every package in the published primary.xml of `root`
    /// (empty when nothing is published).
    pub async fn published(&self, root: &str) -> BTreeSet<(String, String)> {
        let repomd = match self.store.get(&format!("{root}repodata/repomd.xml")).await {
            Ok((bytes, _)) => bytes,
            Err(rpmbucket_engine::store::Error::NotFound { .. }) => return BTreeSet::new(),
            Err(e) => panic!("reading repomd.xml of {root:?}: {e}"),
        };
        let repomd = Repomd::parse(&repomd).expect("repomd.xml parses");
        let primary = repomd.record("primary").expect("primary record");
        let (bytes, _) = self
            .store
            .get(&format!("{root}{}", primary.location_href))
            .await
            .expect("primary file");
        let compression = Compression::from_file_name(primary.file_name());
        let decoder = compression
            .decoder(Cursor::new(bytes.to_vec()))
            .expect("decoder");
        let mut reader = PrimaryReader::new(BufReader::new(decoder));
        let mut out = BTreeSet::new();
        while let Some(p) = reader.next_package().expect("primary.xml reads") {
            out.insert((p.name, p.location_href));
        }
        out
    }

    /// Names of the published packages of `root`.
    pub async fn names(&self, root: &str) -> Vec<String> {
        self.published(root)
            .await
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }
}

/// Form-encode a key the way moto does (`quote_plus`: `/` too).
pub fn moto_encode(key: &str) -> String {
    form_encode(key, true)
}

/// Form-encode a key the way AWS does (`/` kept).
pub fn aws_encode(key: &str) -> String {
    form_encode(key, false)
}

fn form_encode(key: &str, slash: bool) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An S3 notification record as moto 5.2.5 sends it.
pub fn moto_record(bucket: &str, event_name: &str, key: &str, etag: Option<&str>) -> Value {
    let mut object = json!({"key": moto_encode(key), "size": 1234});
    if let Some(etag) = etag {
        object["eTag"] = etag.into();
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-27T12:51:08.114Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "rpmbucket",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": object,
        }
    })
}

/// An S3 notification record as AWS sends it (all fields).
pub fn aws_record(bucket: &str, event_name: &str, key: &str, etag: Option<&str>) -> Value {
    let mut object = json!({"key": aws_encode(key), "sequencer": "0065A1B2C3D4E5F607"});
    if let Some(etag) = etag {
        object["eTag"] = etag.into();
        object["size"] = 1234.into();
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-27T12:51:08.114Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AROAEXAMPLEROLEID:uploader"},
        "requestParameters": {"sourceIPAddress": "203.0.113.17"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "rpmbucket",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": format!("arn:aws:s3:::{bucket}")
            },
            "object": object,
        }
    })
}

/// An SQS batch whose messages carry `bodies` (JSON values, serialized as the body text).
pub fn sqs_event(messages: &[(&str, Value)]) -> Value {
    json!({
        "Records": messages.iter().map(|(id, body)| json!({
            "messageId": id,
            "receiptHandle": format!("handle-{id}"),
            "body": body.to_string(),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795784468114"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rpmbucket-events",
            "awsRegion": "us-east-1",
        })).collect::<Vec<_>>()
    })
}

/// The ids named in a partial batch response, sorted.
pub fn failed_ids(response: &Value) -> Vec<String> {
    let mut ids: Vec<String> = response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures array")
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .expect("itemIdentifier")
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}
