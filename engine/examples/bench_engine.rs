//! Drive the engine over a local directory for `scripts/bench-engine.sh`.
//!
//! ```text
//! cargo run --release -p rpmbucket-engine --example bench_engine -- DIR reindex [OPTIONS]
//! cargo run --release -p rpmbucket-engine --example bench_engine -- DIR apply KEY... [OPTIONS]
//! OPTIONS: --no-database  --compression gz|zstd|xz|bz2|none  --root ROOT  --cache DIR
//! ```
//!
//! Prints the publish report as one JSON line on stdout.

use std::sync::Arc;

use rpmbucket_engine::store::local::LocalStore;
use rpmbucket_engine::{
    Change, Compression, Indexer, IndexerOptions, Layout, MetadataCache, RepoConfig,
};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = RepoConfig::default();
    let mut root = String::new();
    let mut options = IndexerOptions::default();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--no-database" => {
                config.database = false;
                args.remove(i);
            }
            "--compression" => {
                config.compression = Compression::from_name(&args[i + 1]).expect("compression");
                args.drain(i..i + 2);
            }
            "--cache" => {
                let cache =
                    MetadataCache::new(&args[i + 1], rpmbucket_engine::cache::CACHE_MAX_BYTES)
                        .expect("cache directory");
                options.cache = Some(cache);
                args.drain(i..i + 2);
            }
            "--root" => {
                root = args[i + 1].clone();
                args.drain(i..i + 2);
            }
            _ => i += 1,
        }
    }
    let (dir, cmd, keys) = match args.as_slice() {
        [dir, cmd, keys @ ..] => (dir.clone(), cmd.clone(), keys.to_vec()),
        _ => {
            eprintln!("usage: bench_engine DIR (reindex | apply KEY...) [--no-database] [--compression C] [--root R] [--cache DIR]");
            std::process::exit(2);
        }
    };
    let store = LocalStore::new(&dir).expect("store");
    let ix = Indexer::new(Arc::new(store), Layout::new(vec![]), config).with_options(options);
    let report = match cmd.as_str() {
        "reindex" => ix.reindex(&root).await,
        "apply" => {
            let changes: Vec<Change> = keys.iter().map(Change::created).collect();
            ix.apply(&root, &changes).await
        }
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
    .unwrap_or_else(|e| {
        eprintln!("bench_engine: {e}");
        std::process::exit(1);
    });
    let mut json = serde_json::to_value(&report).expect("json");
    json["duration_s"] = serde_json::json!(report.duration.as_secs_f64());
    json["added"] = serde_json::json!(report.added.len());
    json["removed"] = serde_json::json!(report.removed.len());
    json["deleted_files"] = serde_json::json!(report.deleted_files.len());
    println!("{json}");
}
