//! `rpmbucket-indexer`: the indexer as an AWS Lambda function, or locally as an SQS poller or
//! a one-shot reader of an event on stdin. Configured by environment variables only (see the
//! crate README).

use std::io::Read as _;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use lambda_runtime::{service_fn, LambdaEvent};
use rpmbucket_indexer_lambda::{handle_opts, Indexer, Metrics, Options};
use serde_json::{json, Value};

const USAGE: &str = "\
usage: rpmbucket-indexer                  run as an AWS Lambda function (Runtime API)
       rpmbucket-indexer --stdin          handle one event read from stdin, print the response
       rpmbucket-indexer --poll-sqs URL [--until-empty] [--wait-seconds N]
                                          long-poll an SQS queue, handle each batch, delete
                                          the messages that succeeded

Configuration comes from the environment: RPMBUCKET_BUCKET (required), RPMBUCKET_PREFIXES,
RPMBUCKET_LAYOUT, RPMBUCKET_GRACE_SECONDS, RPMBUCKET_COMPRESSION, RPMBUCKET_DATABASE,
RPMBUCKET_CONCURRENCY, RUST_LOG, and the AWS SDK's variables (AWS_REGION, AWS_ENDPOINT_URL, ...).";

enum Mode {
    Lambda,
    Stdin,
    PollSqs {
        queue_url: String,
        until_empty: bool,
        wait_seconds: i32,
    },
}

fn parse_args() -> Result<Mode> {
    let mut args = std::env::args().skip(1);
    let Some(first) = args.next() else {
        return Ok(Mode::Lambda);
    };
    match first.as_str() {
        "--stdin" => {
            if let Some(extra) = args.next() {
                bail!("unexpected argument {extra:?}\n\n{USAGE}");
            }
            Ok(Mode::Stdin)
        }
        "--poll-sqs" => {
            let queue_url = args
                .next()
                .with_context(|| format!("--poll-sqs needs a queue URL\n\n{USAGE}"))?;
            let (mut until_empty, mut wait_seconds) = (false, 20);
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--until-empty" => until_empty = true,
                    "--wait-seconds" => {
                        wait_seconds = args
                            .next()
                            .and_then(|v| v.parse().ok())
                            .filter(|v| (0..=20).contains(v))
                            .context("--wait-seconds needs a number from 0 to 20")?;
                    }
                    other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
                }
            }
            Ok(Mode::PollSqs {
                queue_url,
                until_empty,
                wait_seconds,
            })
        }
        "-h" | "--help" => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
    }
}

fn init_tracing() {
    // JSON lines on stderr; Lambda sends stderr to CloudWatch Logs with stdout.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

fn options(metrics: Metrics) -> Result<Options> {
    let bucket = std::env::var("RPMBUCKET_BUCKET")
        .ok()
        .filter(|b| !b.is_empty())
        .context("RPMBUCKET_BUCKET is not set")?;
    let concurrency = match std::env::var("RPMBUCKET_CONCURRENCY") {
        Ok(v) if !v.is_empty() => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("RPMBUCKET_CONCURRENCY={v:?} is not a positive number"))?,
        _ => Options::default().concurrency,
    };
    Ok(Options {
        bucket: Some(bucket),
        concurrency,
        metrics,
    })
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("rpmbucket-indexer: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let mode = parse_args()?;
    init_tracing();
    let metrics = match mode {
        Mode::Stdin => Metrics::Stderr,
        _ => Metrics::Stdout,
    };
    let opts = options(metrics)?;
    let sdk = aws_config::load_from_env().await;
    let indexer = rpmbucket_indexer_lambda::indexer_from_env(&sdk, opts.bucket.as_deref())
        .map_err(|e| anyhow::anyhow!(e))
        .context("configuring the indexer")?;
    let signer = rpmbucket_indexer_lambda::signer_from_env(&sdk).await?;
    let indexer = indexer.with_signer(signer);

    match mode {
        Mode::Lambda => {
            let (indexer, opts) = (&indexer, &opts);
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                handle_opts(event.payload, indexer, opts).await
            }))
            .await
            .map_err(|e| anyhow::anyhow!(e))
        }
        Mode::Stdin => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading stdin")?;
            let event: Value = serde_json::from_str(&text).context("stdin is not JSON")?;
            let response = handle_opts(event, &indexer, &opts).await?;
            println!("{response}");
            let failed = response["batchItemFailures"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
            if failed {
                std::process::exit(2);
            }
            Ok(())
        }
        Mode::PollSqs {
            queue_url,
            until_empty,
            wait_seconds,
        } => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            poll_sqs(&sqs, &queue_url, until_empty, wait_seconds, &indexer, &opts).await
        }
    }
}

/// The local stand-in for Lambda's SQS event source mapping with `ReportBatchItemFailures`:
/// receive up to 10 messages, hand them to the handler as an SQS event, delete the messages
/// not named in `batchItemFailures`; failed ones reappear after the visibility timeout and,
/// with a redrive policy, end in the dead-letter queue.
async fn poll_sqs(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    until_empty: bool,
    wait_seconds: i32,
    indexer: &Indexer,
    opts: &Options,
) -> Result<()> {
    let region = sqs
        .config()
        .region()
        .map(ToString::to_string)
        .unwrap_or_default();
    loop {
        let received = tokio::select! {
            r = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send() => r.with_context(|| format!("receiving from {queue_url}"))?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            if until_empty {
                return Ok(());
            }
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str())))
                    .collect();
                json!({
                    "messageId": m.message_id().unwrap_or_default(),
                    "receiptHandle": m.receipt_handle().unwrap_or_default(),
                    "body": m.body().unwrap_or_default(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body().unwrap_or_default(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "",
                    "awsRegion": region,
                })
            })
            .collect();
        let response = match handle_opts(json!({ "Records": records }), indexer, opts).await {
            Ok(r) => r,
            Err(e) => {
                // Nothing is deleted: every message comes back after its visibility timeout.
                tracing::error!(error = %e, "batch failed as a whole");
                continue;
            }
        };
        let failed: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(&m.message_id().unwrap_or_default()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            // Everything failed: let the messages' visibility timeout run before retrying.
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let deleted = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .with_context(|| format!("deleting handled messages from {queue_url}"))?;
        for f in deleted.failed() {
            tracing::warn!(
                id = f.id(),
                code = f.code(),
                "message not deleted; it will be handled again"
            );
        }
    }
}
