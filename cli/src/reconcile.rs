//! `rpmbucket reconcile s3://BUCKET[/PREFIX]` or `rpmbucket reconcile DIR`: compare each
//! repository's listing with its published metadata and publish what drifted (lost
//! notifications, manual deletes and uploads), then delete orphaned metadata files older than
//! the grace period. Prints what changed, per repository.

use std::process::ExitCode;

use rpmbucket_engine::Compression;

use crate::remote::{Location, Metadata, Outcome, RemoteArgs};

/// Shown after `rpmbucket reconcile --help`.
pub const EXIT_STATUS_HELP: &str = "\
Output: per repository a summary line, then `+ KEY` (added or replaced), `- KEY` (removed),
`! KEY: REASON` (rejected) and `x KEY` (orphaned metadata file deleted); with --json one JSON
report per repository instead.

Examples:
  rpmbucket reconcile s3://my-rpms
  rpmbucket reconcile ./repo --json

Exit status:
  0  every repository is consistent with its listing (packages that could not be read were
     reported and left out)
  1  error (invalid arguments, store failure); repositories reported before it were repaired
  2  --strict and at least one package is rejected; the other packages were published";

/// Options of `rpmbucket reconcile`.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// s3://BUCKET[/PREFIX] (AWS configuration from the environment: AWS_ENDPOINT_URL,
    /// AWS_S3_FORCE_PATH_STYLE, credentials, region) or a directory: every repository under it.
    #[arg(value_name = "s3://BUCKET[/PREFIX]|DIR")]
    pub location: String,

    /// Do not write the sqlite databases (repositories without stored settings only: a
    /// repository keeps the settings `index` gave it).
    #[arg(long)]
    pub no_database: bool,

    /// Compression of the XML metadata (repositories without stored settings only).
    #[arg(long, value_name = "TYPE", default_value = "gz", value_parser = crate::index::parse_compression)]
    pub compress_type: Compression,

    /// Changelog entries kept per package read (-1 = all).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    pub changelog_limit: i32,

    /// Package headers read in parallel.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Exit with status 2 if any package is rejected.
    #[arg(long)]
    pub strict: bool,

    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub signing: crate::trust::SigningArgs,
}

/// Runs `rpmbucket reconcile` and returns the exit code.
pub fn run(args: &ReconcileArgs) -> anyhow::Result<ExitCode> {
    crate::remote::runtime()?.block_on(reconcile(args))
}

async fn reconcile(args: &ReconcileArgs) -> anyhow::Result<ExitCode> {
    let meta = Metadata {
        compression: args.compress_type,
        database: !args.no_database,
        changelog_limit: args.changelog_limit,
        trust: rpmbucket_engine::RepoConfig::default().with_signer(args.signing.signer()?),
    };
    let loc = Location::open(&args.location).await?;
    let bar = crate::bar::EngineBar::new(args.quiet);
    let indexer = loc
        .indexer(&args.remote, &meta, args.workers, true)
        .with_progress(bar.hook());
    let roots = indexer
        .list_roots(&loc.prefix)
        .await
        .map_err(|e| crate::remote::flat(format!("listing {}", loc.show(&loc.prefix)), e))?;
    if roots.is_empty() && !args.quiet && !args.remote.json {
        println!("{}: no repositories", loc.show(&loc.prefix));
    }
    let mut outcome = Outcome::default();
    for root in &roots {
        let result = indexer.reconcile(root).await;
        bar.clear();
        outcome
            .record(&loc, root, result, args.quiet, args.remote.json, true)
            .await;
        if args.strict {
            outcome.check_rejected(&loc, root).await;
        }
    }
    Ok(outcome.exit_code(args.strict))
}
