//! `rpmbucket reconcile s3://BUCKET[/PREFIX]` or `rpmbucket reconcile DIR`: compare each
//! repository's listing with its published metadata and publish what drifted (lost
//! notifications, manual deletes and uploads), then delete orphaned metadata files older than
//! the grace period. Prints what changed, per repository.

use std::process::ExitCode;

use rpmbucket_engine::{Compression, CursorPlace, ReconcileAllOptions};

use crate::remote::{Location, Metadata, Outcome, RemoteArgs};

/// Shown after `rpmbucket reconcile --help`.
pub const EXIT_STATUS_HELP: &str = "\
Repositories are reconciled one at a time, in key order, and the listing is read one page at
a time. After each repository a resume cursor is written (in the store at
rpmbucket-state/reconcile/PREFIXcursor.json, or the --cursor-file): a run that was interrupted
is continued by the next one from the repository after the last one finished. A run that
finishes deletes the cursor; --restart ignores and deletes it. Inside one repository, when more
than --checkpoint packages must be read, they are read and published that many at a time (in
key order) before the final publish: a run interrupted there keeps what it published, and the
next run reads only the rest.

Output: per repository a summary line, then `+ KEY` (added or replaced), `- KEY` (removed),
`! KEY: REASON` (rejected) and `x KEY` (orphaned metadata file deleted); with --json one JSON
report per repository instead.

Examples:
  rpmbucket reconcile s3://my-rpms
  rpmbucket reconcile ./repo --json
  rpmbucket reconcile s3://my-rpms/el9 --restart

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

    /// Objects per listing page: the listing is walked one page at a time (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub page_size: u16,

    /// Packages read and published per checkpoint when a repository has more than this many
    /// to read (a run stopped halfway keeps what its checkpoints published; 0 = one publish
    /// at the end).
    #[arg(long, value_name = "N", default_value_t = rpmbucket_engine::RECONCILE_CHECKPOINT)]
    pub checkpoint: usize,

    /// Start at the first repository even if an interrupted run left a cursor (the cursor is
    /// deleted).
    #[arg(long)]
    pub restart: bool,

    /// Keep the resume cursor in this local file instead of the store
    /// (rpmbucket-state/reconcile/PREFIXcursor.json).
    #[arg(long, value_name = "FILE", conflicts_with = "no_cursor")]
    pub cursor_file: Option<std::path::PathBuf>,

    /// Record no resume cursor and read none: every run starts at the first repository.
    #[arg(long)]
    pub no_cursor: bool,

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
    let indexer = indexer
        .clone()
        .with_options(rpmbucket_engine::IndexerOptions {
            list_page_size: usize::from(args.page_size),
            reconcile_checkpoint: args.checkpoint,
            ..indexer.options().clone()
        });
    let cursor = match (&args.cursor_file, args.no_cursor) {
        (_, true) => CursorPlace::Off,
        (Some(path), false) => CursorPlace::File(path.clone()),
        (None, false) => CursorPlace::Store,
    };
    let opts = ReconcileAllOptions {
        prefix: loc.prefix.clone(),
        cursor,
        restart: args.restart,
    };
    let mut walk = indexer
        .reconcile_all(&opts)
        .await
        .map_err(|e| crate::remote::flat(format!("listing {}", loc.show(&loc.prefix)), e))?;
    if let Some(after) = walk.resumed_after() {
        if !args.quiet {
            eprintln!(
                "rpmbucket: resuming an interrupted reconcile after {} ({} repositories done \
                 before; --restart starts over)",
                loc.show(after),
                walk.done_before()
            );
        }
    } else if walk.total() == 0 && !args.quiet && !args.remote.json {
        println!("{}: no repositories", loc.show(&loc.prefix));
    }
    let mut outcome = Outcome::default();
    while let Some((root, result)) = walk.next().await {
        bar.clear();
        outcome
            .record(&loc, &root, result, args.quiet, args.remote.json, true)
            .await;
        if args.strict {
            outcome.check_rejected(&loc, &root).await;
        }
    }
    // Repositories that failed in the interrupted runs this one continued.
    for root in walk.failed().to_vec() {
        if !outcome.has_failed(&root) {
            outcome.fail(
                &loc,
                &root,
                "failed in the interrupted run this one resumed",
            );
        }
    }
    walk.finish()
        .await
        .map_err(|e| crate::remote::flat("clearing the reconcile cursor".to_string(), e))?;
    Ok(outcome.exit_code(args.strict))
}
