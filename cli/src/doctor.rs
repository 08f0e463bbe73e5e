//! `rpmbucket doctor s3://BUCKET[/PREFIX]` and `rpmbucket doctor DIR`: the engine's checks of
//! the store's settings ([`rpmbucket_engine::doctor`]), one line each with what to fix.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use rpmbucket_engine::doctor::{self, Finding, Level};
use rpmbucket_engine::store::s3::S3Options;
use rpmbucket_engine::{LocalStore, S3Store};

use crate::remote::{flat, runtime};

/// Example lines of `doctor`.
pub const DOCTOR_HELP: &str = "\
Checks (S3): the bucket is reachable; conditional writes are honoured (a probe object is
written and deleted); notifications of created and removed .rpm keys; public access block and
bucket policy; default encryption; CORS; lifecycle rules (abort stale multipart uploads, expire
old versions, never expire current objects under a repository); readable published metadata.
Checks (directory): writable, conditional writes, stray temporary files, readable metadata.

Examples:
  rpmbucket doctor s3://my-rpms
  rpmbucket doctor s3://my-rpms/el9/ --json
  rpmbucket doctor ./repo

Exit status: 0 nothing failed (warnings allowed), 1 error (cannot run the checks),
  2 at least one check failed";

/// Options of `rpmbucket doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The store: s3://BUCKET[/PREFIX] or a directory.
    pub location: String,
    /// Print a JSON array of findings.
    #[arg(long)]
    pub json: bool,
}

/// `rpmbucket doctor`.
pub fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let findings = if args.location.starts_with("s3://") {
            let store = S3Store::from_url_opts(&args.location, &S3Options::default())
                .await
                .map_err(|e| flat(format!("opening {}", args.location), e))?;
            doctor::s3(&store).await
        } else {
            let path = args
                .location
                .strip_prefix("file://")
                .unwrap_or(&args.location);
            if !Path::new(path).is_dir() {
                bail!("{path} is not a directory (doctor checks a directory or s3://BUCKET)");
            }
            let store = LocalStore::new(path).map_err(|e| flat(format!("opening {path}"), e))?;
            doctor::local(&store).await
        };
        print(&findings, args.json);
        Ok(if findings.iter().any(|f| f.level == Level::Fail) {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn print(findings: &[Finding], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_value(findings).unwrap_or(serde_json::Value::Null)
        );
        return;
    }
    let width = findings.iter().map(|f| f.check.len()).max().unwrap_or(0);
    for f in findings {
        println!("{:4}  {:width$}  {}", f.level.name(), f.check, f.detail);
        if let Some(fix) = &f.fix {
            println!("{:4}  {:width$}  fix: {fix}", "", "");
        }
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    println!(
        "{} ok, {} warnings, {} failed",
        count(Level::Ok),
        count(Level::Warn),
        count(Level::Fail)
    );
}
