//! End to end with moto: the bucket notifies an SQS queue, the local runner
//! (`rpmbucket-indexer --poll-sqs`) handles the messages, dnf installs from the bucket; a
//! message that keeps failing ends in the dead-letter queue.

mod common;

use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use common::Bucket;
use rpmbucket_engine::ObjectStore as _;
use rpmbucket_tests::fx;

struct Queues {
    sqs: aws_sdk_sqs::Client,
    url: String,
    dlq_url: String,
}

/// A queue with a redrive policy (two receives, then the dead-letter queue) that the bucket
/// notifies of every created and removed object.
async fn notify_queue(b: &Bucket, visibility_seconds: u32) -> Queues {
    let sqs = aws_sdk_sqs::Client::new(&b.moto.sdk_config().await);
    let name = format!("{}-events", b.name());
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap();
    let dlq_url = dlq.queue_url().unwrap().to_owned();
    let dlq_arn = queue_arn(&sqs, &dlq_url).await;
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_seconds.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
        )
        .send()
        .await
        .unwrap();
    let url = queue.queue_url().unwrap().to_owned();
    let arn = queue_arn(&sqs, &url).await;
    b.store
        .client()
        .put_bucket_notification_configuration()
        .bucket(b.name())
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("rpmbucket")
                        .queue_arn(arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .events(Event::from("s3:ObjectRemoved:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    Queues { sqs, url, dlq_url }
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue ARN")
}

/// Bodies of the messages visible in a queue now.
async fn bodies(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect()
}

/// Run the local runner until the queue has nothing visible.
fn drain(b: &Bucket, queue_url: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpmbucket-indexer"))
        .args([
            "--poll-sqs",
            queue_url,
            "--until-empty",
            "--wait-seconds",
            "1",
        ])
        .envs(b.moto.env_vars())
        .env("RPMBUCKET_BUCKET", b.name())
        .env("RUST_LOG", "info")
        .output()
        .expect("run rpmbucket-indexer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "runner failed: {stderr}");
    // Every batch logs its figures; the EMF records go to stdout.
    assert!(stderr.contains(r#""message":"batch""#), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(r#""Namespace":"rpmbucket""#),
        "no EMF line"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_notify_poll_publish_dnf_install() {
    let b = Bucket::new().await;
    b.moto.make_public(&b.store).await;
    let q = notify_queue(&b, 30).await;

    b.put_fixture("el9/x86_64/fx-lib-1.2-1.noarch.rpm", fx::LIB_1_2)
        .await;
    b.put_fixture("el9/x86_64/fx-basic-1.0-1.noarch.rpm", fx::BASIC)
        .await;
    b.put_fixture("el9/x86_64/fx space-1.0-1.noarch.rpm", fx::SPACE)
        .await;
    b.put("el9/x86_64/README.txt", b"not a package".to_vec())
        .await;

    drain(&b, &q.url);
    assert_eq!(
        b.names("el9/x86_64/").await,
        vec!["fx-basic", "fx-lib", "fx-space"]
    );
    // Handled messages were deleted.
    assert_eq!(bodies(&q.sqs, &q.url).await, Vec::<String>::new());

    let url = format!("{}el9/x86_64/", b.moto.base_url(&b.store));
    let root = tempfile::tempdir().unwrap();
    let url_for_dnf = url.clone();
    let installroot = root.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        rpmbucket_tests::dnf_install(&url_for_dnf, "fx-basic", &installroot)
    })
    .await
    .unwrap()
    .expect("dnf install fx-basic");
    assert!(out.contains("fx-basic"), "{out}");

    // Delete one package: the removal flows through the queue as well.
    b.store
        .delete("el9/x86_64/fx space-1.0-1.noarch.rpm")
        .await
        .unwrap();
    drain(&b, &q.url);
    assert_eq!(b.names("el9/x86_64/").await, vec!["fx-basic", "fx-lib"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_message_ends_in_the_dead_letter_queue() {
    let b = Bucket::new().await;
    b.put("broken/repodata/repomd.xml", b"garbage".to_vec())
        .await;
    let q = notify_queue(&b, 1).await;
    b.put_fixture("broken/fx-lib-1.0-1.noarch.rpm", fx::LIB_1_0)
        .await;
    b.put_fixture("fine/fx-lib-1.0-1.noarch.rpm", fx::LIB_1_0)
        .await;

    // Each pass receives the failing message once more; after two receives SQS moves it.
    let mut dead = Vec::new();
    for _ in 0..6 {
        drain(&b, &q.url);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        dead = bodies(&q.sqs, &q.dlq_url).await;
        if !dead.is_empty() {
            break;
        }
    }
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains("broken%2Ffx-lib"), "{}", dead[0]);
    assert_eq!(b.names("fine/").await, vec!["fx-lib"]);
}
