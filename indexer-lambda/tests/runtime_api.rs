//! The built binary under a Lambda Runtime API emulator (`bench/runtime_api.py`): it asks for
//! events, answers them, and reports failures through the runtime's error endpoint with the
//! `Retryable`/`NonRetryable` error types.

mod common;

use std::process::Command;

use common::Bucket;
use rpmbucket_tests::fx;
use serde_json::{json, Value};

fn emulate(b: &Bucket, events: &[(&str, Value)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, event) in events {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, event.to_string()).unwrap();
        paths.push(path);
    }
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/runtime_api.py"))
        .arg(env!("CARGO_BIN_EXE_rpmbucket-indexer"))
        .args(&paths)
        .envs(b.moto.env_vars())
        .env("RPMBUCKET_BUCKET", b.name())
        .output()
        .expect("python3 runs the emulator");
    assert!(
        out.status.success(),
        "emulator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("emulator prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn function_answers_through_the_runtime_api() {
    let b = Bucket::new().await;
    let key = "el9/fx-lib-1.2-1.noarch.rpm";
    let etag = b.put_fixture(key, fx::LIB_1_2).await;
    let created =
        json!({"Records": [common::aws_record(b.name(), "ObjectCreated:Put", key, Some(&etag))]});
    let report = tokio::task::block_in_place(|| {
        emulate(
            &b,
            &[
                (
                    "test-event",
                    json!({"Service": "Amazon S3", "Event": "s3:TestEvent"}),
                ),
                ("created", created),
                ("unrecognized", json!({"hello": "world"})),
            ],
        )
    });
    let invocations = report["last_run"]["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 3, "{report:#}");

    assert_eq!(invocations[0]["status"], "response");
    assert_eq!(invocations[0]["body"]["repositories"], json!([]));

    assert_eq!(invocations[1]["status"], "response", "{report:#}");
    assert_eq!(
        invocations[1]["body"]["repositories"][0]["added"],
        json!([key])
    );
    assert_eq!(b.names("el9/").await, vec!["fx-lib"]);

    assert_eq!(invocations[2]["status"], "error");
    assert_eq!(invocations[2]["body"]["errorType"], "NonRetryable");
    let message = invocations[2]["body"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("unrecognized event shape"), "{message}");
}
