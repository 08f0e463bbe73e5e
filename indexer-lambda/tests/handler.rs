//! The handler against moto S3: real-shaped events in, published repodata and partial batch
//! responses checked.

mod common;

use common::{aws_record, failed_ids, moto_record, sqs_event, Bucket};
use pretty_assertions::assert_eq;
use rpmbucket_engine::ObjectStore as _;
use rpmbucket_indexer_lambda::{handle_opts, Metrics, Options};
use rpmbucket_tests::fx;
use serde_json::{json, Value};

fn opts(bucket: &Bucket) -> Options {
    Options {
        bucket: Some(bucket.name().to_owned()),
        metrics: Metrics::Off,
        ..Options::default()
    }
}

fn set(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_batch_shaped_like_moto_publishes_every_repository() {
    let b = Bucket::new().await;
    let name = b.name().to_owned();
    let basic = b
        .put_fixture("el9/x86_64/fx-basic-1.0-1.noarch.rpm", fx::BASIC)
        .await;
    let lib = b
        .put_fixture("el9/x86_64/fx-lib-1.2-1.noarch.rpm", fx::LIB_1_2)
        .await;
    // Keys that need decoding: a space and plus signs.
    let space = b
        .put_fixture("el9/x86_64/fx space-1.0-1.noarch.rpm", fx::SPACE)
        .await;
    let cpp = b
        .put_fixture("el8/x86_64/fx-c++-1.0-1.noarch.rpm", fx::CPP)
        .await;

    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-27T12:51:07.902Z", "Bucket": name});
    let event = sqs_event(&[
        ("m-test", test_event),
        (
            "m1",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", "el9/x86_64/fx-basic-1.0-1.noarch.rpm", Some(&basic))]}),
        ),
        (
            "m2",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", "el9/x86_64/fx-lib-1.2-1.noarch.rpm", Some(&lib))]}),
        ),
        (
            "m3",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", "el9/x86_64/fx space-1.0-1.noarch.rpm", Some(&space))]}),
        ),
        (
            "m4",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", "el8/x86_64/fx-c++-1.0-1.noarch.rpm", Some(&cpp))]}),
        ),
    ]);
    let response = handle_opts(event, &b.indexer, &opts(&b)).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));

    let el9 = b.published("el9/x86_64/").await;
    assert_eq!(
        el9.into_iter().collect::<Vec<_>>(),
        vec![
            ("fx-basic".into(), "fx-basic-1.0-1.noarch.rpm".into()),
            ("fx-lib".into(), "fx-lib-1.2-1.noarch.rpm".into()),
            ("fx-space".into(), "fx space-1.0-1.noarch.rpm".into()),
        ]
    );
    assert_eq!(b.names("el8/x86_64/").await, set(&["fx-c++"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_aws_event_adds_then_removes() {
    let b = Bucket::new().await;
    let name = b.name().to_owned();
    let key = "repo/fx-epoch-2.5.1~rc1^git7-4.fc40.noarch.rpm";
    let etag = b.put_fixture(key, fx::EPOCH).await;

    let created = json!({"Records": [aws_record(&name, "ObjectCreated:Put", key, Some(&etag))]});
    let response = handle_opts(created, &b.indexer, &opts(&b)).await.unwrap();
    assert_eq!(response["source"], "s3");
    assert_eq!(response["repositories"][0]["root"], "repo/");
    assert_eq!(response["repositories"][0]["added"], json!([key]));
    assert_eq!(b.names("repo/").await, set(&["fx-epoch"]));

    b.store.delete(key).await.unwrap();
    let removed = json!({"Records": [aws_record(&name, "ObjectRemoved:Delete", key, None)]});
    let response = handle_opts(removed, &b.indexer, &opts(&b)).await.unwrap();
    assert_eq!(response["repositories"][0]["removed"], json!([key]));
    assert_eq!(b.names("repo/").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn eventbridge_object_created() {
    let b = Bucket::new().await;
    let key = "el9/noarch/fx-utf8-1.0-1.noarch.rpm";
    let etag = b.put_fixture(key, fx::UTF8).await;
    let event = json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-27T12:51:08Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{}", b.name())],
        "detail": {
            "version": "0", "bucket": {"name": b.name()},
            "object": {"key": key, "size": 1234, "etag": etag, "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
            "source-ip-address": "127.0.0.1", "reason": "PutObject"
        }
    });
    let response = handle_opts(event, &b.indexer, &opts(&b)).await.unwrap();
    assert_eq!(response["source"], "eventbridge");
    assert_eq!(b.names("el9/noarch/").await, set(&["fx-utf8"]));
}

/// A repository whose published repomd.xml is garbage cannot be updated; only the messages
/// that touch it (and the unreadable one) are reported, everything else is published.
#[tokio::test(flavor = "multi_thread")]
async fn mixed_sqs_batch_reports_only_messages_of_the_failed_repository() {
    let b = Bucket::new().await;
    let name = b.name().to_owned();
    b.put("broken/repodata/repomd.xml", b"<repomd>not really".to_vec())
        .await;
    let k_lib = "good/fx-lib-1.2-1.noarch.rpm";
    let k_epoch = "good/fx-epoch-2.5.1~rc1^git7-4.fc40.noarch.rpm";
    let k_basic = "broken/fx-basic-1.0-1.noarch.rpm";
    let k_meta = "broken/fx-meta-1-0.noarch.rpm";
    let e_lib = b.put_fixture(k_lib, fx::LIB_1_2).await;
    let e_epoch = b.put_fixture(k_epoch, fx::EPOCH).await;
    let e_basic = b.put_fixture(k_basic, fx::BASIC).await;
    let e_meta = b.put_fixture(k_meta, fx::META).await;
    let rec = |key: &str, etag: &str| moto_record(&name, "ObjectCreated:Put", key, Some(etag));

    let event = sqs_event(&[
        ("m-good", json!({"Records": [rec(k_lib, &e_lib)]})),
        ("m-bad", json!({"Records": [rec(k_basic, &e_basic)]})),
        (
            "m-both",
            json!({"Records": [rec(k_epoch, &e_epoch), rec(k_meta, &e_meta)]}),
        ),
        ("m-garbage", Value::String("not an S3 event".into())),
    ]);
    let response = handle_opts(event, &b.indexer, &opts(&b)).await.unwrap();
    assert_eq!(
        failed_ids(&response),
        set(&["m-bad", "m-both", "m-garbage"])
    );
    // The good repository got its changes, including the one from the failed message.
    assert_eq!(b.names("good/").await, set(&["fx-epoch", "fx-lib"]));

    // The same records delivered directly: the invocation fails, not retryable.
    let event = json!({"Records": [rec(k_lib, &e_lib), rec(k_basic, &e_basic)]});
    let err = handle_opts(event, &b.indexer, &opts(&b))
        .await
        .expect_err("a failed repository fails a direct invocation");
    assert!(!err.is_retryable(), "{err}");
    let message = err.to_string();
    assert!(message.contains("\"broken/\""), "{message}");
    assert!(!message.contains("\"good/\""), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_reconcile_indexes_every_repository() {
    let b = Bucket::new().await;
    // Uploaded without any notification.
    b.put_fixture("a/x86_64/fx-x86-1.0-1.x86_64.rpm", fx::X86)
        .await;
    b.put_fixture("b/Packages/f/fx-lib-1.0-1.noarch.rpm", fx::LIB_1_0)
        .await;

    let response = handle_opts(json!({"rpmbucket": "reconcile"}), &b.indexer, &opts(&b))
        .await
        .unwrap();
    assert_eq!(response["source"], "request");
    assert_eq!(b.names("a/x86_64/").await, set(&["fx-x86"]));
    assert_eq!(b.names("b/").await, set(&["fx-lib"]));

    // The EventBridge rule shape reconciles too (and finds nothing to change).
    let scheduled: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/eventbridge-scheduled.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let response = handle_opts(scheduled, &b.indexer, &opts(&b)).await.unwrap();
    let repos = response["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), 2, "{response}");
    assert!(repos.iter().all(|r| r["added"] == json!([])), "{response}");
}

#[tokio::test(flavor = "multi_thread")]
async fn records_of_another_bucket_change_nothing() {
    let b = Bucket::new().await;
    let key = "el9/fx-lib-1.0-1.noarch.rpm";
    let etag = b.put_fixture(key, fx::LIB_1_0).await;
    let event = json!({"Records": [aws_record("someone-elses-bucket", "ObjectCreated:Put", key, Some(&etag))]});
    let response = handle_opts(event, &b.indexer, &opts(&b)).await.unwrap();
    assert_eq!(response["ignored"], 1);
    assert_eq!(b.names("el9/").await, Vec::<String>::new());
}

/// A payload-corrupt package and an over-long key in one batch: the good package publishes,
/// the corrupt one is rejected with its reason, and no message is handed back for redelivery
/// (a poison key is not retried forever).
#[tokio::test(flavor = "multi_thread")]
async fn payload_corrupt_package_is_rejected_and_not_redelivered() {
    let b = Bucket::new().await;
    let name = b.name().to_owned();
    let indexer = rpmbucket_indexer_lambda::lambda_indexer(
        b.store.clone(),
        rpmbucket_engine::Layout::new(vec![]),
        rpmbucket_engine::RepoConfig::default(),
    );
    let good = b
        .put_fixture("el9/x86_64/fx-basic-1.0-1.noarch.rpm", fx::BASIC)
        .await;
    let mut bytes = std::fs::read(rpmbucket_tests::fixture(fx::LIB_1_2)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let bad = b.put("el9/x86_64/fx-lib-1.2-1.noarch.rpm", bytes).await;
    let long = format!("el9/x86_64/{}.rpm", "l".repeat(2000));
    let event = sqs_event(&[
        (
            "m1",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", "el9/x86_64/fx-basic-1.0-1.noarch.rpm", Some(&good))]}),
        ),
        (
            "m2",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", "el9/x86_64/fx-lib-1.2-1.noarch.rpm", Some(&bad))]}),
        ),
        (
            "m3",
            json!({"Records": [moto_record(&name, "ObjectCreated:Put", &long, Some("0123"))]}),
        ),
    ]);
    let response = handle_opts(event, &indexer, &opts(&b)).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert_eq!(b.names("el9/x86_64/").await, set(&["fx-basic"]));
    let (rejected, _) = b
        .store
        .get("el9/x86_64/repodata/rpmbucket-rejected.json")
        .await
        .unwrap();
    let rejected = String::from_utf8_lossy(&rejected);
    assert!(rejected.contains("fx-lib-1.2-1.noarch.rpm"), "{rejected}");
    assert!(rejected.contains("payload digest"), "{rejected}");
    assert!(rejected.contains("longer than 1024 bytes"), "{rejected}");
}

/// Settings stored with `rpmbucket config` (here: the engine call it makes) bind the Lambda's
/// indexer, whatever it is configured with: retention drops the older fx-lib at the Lambda's
/// publish (uploads newest first), and the stored modern profile (zstd, no sqlite) is kept.
#[tokio::test(flavor = "multi_thread")]
async fn stored_retention_and_profile_bind_the_lambda() {
    use rpmbucket_engine::config::Retention;
    use rpmbucket_engine::{Indexer, Layout, Profile, RepoConfig};
    use std::sync::Arc;

    let b = Bucket::new().await;
    let root = "el9/x86_64/";
    let mut stored = RepoConfig::default().with_profile(Profile::Modern);
    stored.retention = Retention {
        keep_versions: Some(1),
        keep_days: None,
    };
    Indexer::new(Arc::new(b.store.clone()), Layout::new(vec![]), stored)
        .overriding_settings()
        .reindex(root)
        .await
        .unwrap();

    let mut messages = Vec::new();
    for (i, f) in [fx::LIB_1_2, fx::BASIC, fx::LIB_1_0].iter().enumerate() {
        let key = format!("{root}{f}");
        let etag = b.put_fixture(&key, f).await;
        messages.push((
            format!("m{i}"),
            json!({"Records": [moto_record(b.name(), "ObjectCreated:Put", &key, Some(&etag))]}),
        ));
    }
    // One message per publish, the older fx-lib last.
    for (id, body) in messages {
        let response = handle_opts(sqs_event(&[(id.as_str(), body)]), &b.indexer, &opts(&b))
            .await
            .unwrap();
        assert_eq!(response, json!({"batchItemFailures": []}));
    }
    assert_eq!(
        b.published(root).await.into_iter().collect::<Vec<_>>(),
        vec![
            ("fx-basic".into(), fx::BASIC.into()),
            ("fx-lib".into(), fx::LIB_1_2.into()),
        ]
    );
    // Dropped from the metadata, kept in the store for the grace period.
    b.store
        .head(&format!("{root}{}", fx::LIB_1_0))
        .await
        .expect("kept until the grace period ends");
    let (repomd, _) = b
        .store
        .get(&format!("{root}repodata/repomd.xml"))
        .await
        .unwrap();
    let repomd = String::from_utf8_lossy(&repomd);
    assert!(repomd.contains("primary.xml.zst"), "{repomd}");
    assert!(!repomd.contains("primary_db"), "{repomd}");
}
