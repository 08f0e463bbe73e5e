//! The Lambda path of signed repositories: the signing key comes from a Secrets Manager secret
//! (on moto), and the handler publishes a repository whose package policy refuses unsigned,
//! unknown-key and corrupted packages (made by `rpmsign`) with their reasons.

mod common;

use std::sync::Arc;

use common::{moto_record, sqs_event, Bucket};
use rpmbucket_engine::{Indexer, Layout, ObjectStore as _, PackagePolicy, RepoConfig, TrustedKeys};
use rpmbucket_indexer_lambda::{
    handle_opts, signer_from_env, Metrics, Options, SIGNING_KEY_SECRET_ENV,
};
use rpmbucket_repodata::trust::Keyring;
use rpmbucket_tests::gpg::{policy_packages, Algo, Gpg};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn key_from_secrets_manager_signs_and_policy_refuses() {
    let b = Bucket::new().await;
    let gpg = Gpg::new().unwrap();
    let fpr = gpg.generate("Lambda Repo", Algo::Ed25519).unwrap();
    let secret_text = gpg.export_secret(&[&fpr]).unwrap();

    // The secret, as Terraform's variable names it, in moto's Secrets Manager.
    let sdk = b.moto.sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let created = sm
        .create_secret()
        .name(format!("rpmbucket-signing-{}", b.name()))
        .secret_string(&secret_text)
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    // Process environment: this test binary has one test.
    std::env::set_var(SIGNING_KEY_SECRET_ENV, &arn);
    std::env::remove_var("RPMBUCKET_SIGNING_KEY");
    let signer = signer_from_env(&sdk)
        .await
        .unwrap()
        .expect("key configured");
    assert_eq!(signer.fingerprint(), fpr);
    assert!(!format!("{signer:?}").contains("PRIVATE"));
    // A missing secret is a clear error that names the secret, not the key.
    std::env::set_var(SIGNING_KEY_SECRET_ENV, format!("{arn}-missing"));
    let e = signer_from_env(&sdk).await.unwrap_err().to_string();
    assert!(e.contains("-missing"), "{e}");
    std::env::set_var(SIGNING_KEY_SECRET_ENV, &arn);

    // The operator sets the repository's policy once (`rpmbucket index --package-policy`).
    let work = tempfile::tempdir().unwrap();
    let p = policy_packages(&gpg, work.path()).unwrap();
    let root = "el9/x86_64/";
    let config = RepoConfig::default()
        .with_signer(Some(signer.clone()))
        .with_package_policy(
            PackagePolicy::Keys,
            TrustedKeys::from_armored(&p.trusted).unwrap(),
        );
    Indexer::new(Arc::new(b.store.clone()), Layout::new(vec![]), config)
        .overriding_settings()
        .reindex(root)
        .await
        .unwrap();

    // The Lambda's indexer: default settings plus the key from the secret.
    let indexer = Indexer::new(
        Arc::new(b.store.clone()),
        Layout::new(vec![]),
        RepoConfig::default(),
    )
    .with_signer(Some(signer));
    let mut all = p.good.clone();
    all.extend([p.unsigned.clone(), p.by_other.clone(), p.corrupt.clone()]);
    let mut messages = Vec::new();
    for (i, f) in all.iter().enumerate() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let key = format!("{root}{name}");
        let etag = b.put(&key, std::fs::read(f).unwrap()).await;
        messages.push((
            format!("m{i}"),
            json!({"Records": [moto_record(b.name(), "ObjectCreated:Put", &key, Some(&etag))]}),
        ));
    }
    let event = sqs_event(
        &messages
            .iter()
            .map(|(id, v)| (id.as_str(), v.clone()))
            .collect::<Vec<_>>(),
    );
    let opts = Options {
        bucket: Some(b.name().to_owned()),
        metrics: Metrics::Off,
        ..Options::default()
    };
    let response = handle_opts(event, &indexer, &opts).await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));

    let names = b.names(root).await;
    // good-ed.rpm is fx-basic, good-rsa.rpm is fx-lib.
    assert_eq!(names, vec!["fx-basic".to_string(), "fx-lib".to_string()]);
    let reason = |name: &str| {
        let key = format!("{root}{name}");
        let indexer = &indexer;
        async move { indexer.rejected(root, &key).await.unwrap().unwrap().1 }
    };
    assert_eq!(reason("unsigned.rpm").await, "unsigned");
    assert_eq!(
        reason("other.rpm").await,
        format!("unknown key 0x{}", p.other_key_id)
    );
    assert!(reason("corrupt.rpm").await.starts_with("bad signature"));
    for name in ["unsigned.rpm", "other.rpm", "corrupt.rpm"] {
        b.store.head(&format!("{root}{name}")).await.expect("kept");
    }

    // The published metadata is signed by the key from the secret.
    let (repomd, _) = b
        .store
        .get(&format!("{root}repodata/repomd.xml"))
        .await
        .unwrap();
    let (asc, _) = b
        .store
        .get(&format!("{root}repodata/repomd.xml.asc"))
        .await
        .unwrap();
    let (key, _) = b
        .store
        .get(&format!("{root}repodata/repomd.xml.key"))
        .await
        .unwrap();
    let ring = Keyring::from_armored(std::str::from_utf8(&key).unwrap()).unwrap();
    assert_eq!(
        ring.verify_detached(&repomd, std::str::from_utf8(&asc).unwrap())
            .unwrap(),
        fpr
    );
}
