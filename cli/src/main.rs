//! `rpmbucket`: turn a directory (or, through other subcommands, a bucket) into a YUM/DNF
//! repository.
//!
//! Each subcommand lives in its own module with an `Args` struct (clap derive) and a `run`
//! function returning the process exit code; `main` only dispatches and prints errors.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bar;
mod doctor;
mod index;
mod ops;
mod reconcile;
mod remote;
mod serve;
mod trust;

/// Shown after `rpmbucket --help`.
const TOP_HELP: &str = "\
Examples:
  rpmbucket index ./repo
  rpmbucket add s3://my-rpms/el9/x86_64/ build/RPMS/x86_64/*.rpm
  rpmbucket config s3://my-rpms/el9/x86_64/ keep-versions=5
  rpmbucket promote s3://my-rpms/el9/testing/ s3://my-rpms/el9/stable/ hello
  rpmbucket doctor s3://my-rpms

`rpmbucket COMMAND --help` shows each command's options, examples and exit status.";

#[derive(Debug, Parser)]
#[command(name = "rpmbucket", version, about, long_about = None, after_help = TOP_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write createrepo_c-compatible repodata/ for the .rpm files under a directory, or for
    /// every repository under s3://BUCKET[/PREFIX].
    #[command(after_help = index::EXIT_STATUS_HELP)]
    Index(index::IndexArgs),
    /// Repair drift between a bucket's (or directory's) packages and their published metadata.
    #[command(after_help = reconcile::EXIT_STATUS_HELP)]
    Reconcile(reconcile::ReconcileArgs),
    /// Show or change a repository's stored settings (compression, sqlite, retention, page).
    #[command(after_help = ops::CONFIG_HELP)]
    Config(ops::ConfigArgs),
    /// Upload packages into a repository and publish (credentials instead of a token).
    #[command(after_help = ops::ADD_HELP)]
    Add(ops::AddArgs),
    /// List a repository's published packages: NEVRA, size, build time, key.
    #[command(after_help = ops::LS_HELP)]
    Ls(ops::LsArgs),
    /// Remove packages (by NEVRA or key) from a repository and publish.
    #[command(after_help = ops::RM_HELP)]
    Rm(ops::RmArgs),
    /// Last publish, generation, package count, rejected keys and drift of a repository.
    #[command(after_help = ops::STATUS_HELP)]
    Status(ops::StatusArgs),
    /// Copy packages from one repository to another (server-side on S3) and publish it.
    #[command(after_help = ops::PROMOTE_HELP)]
    Promote(ops::PromoteArgs),
    /// Check a bucket's (or directory's) settings and say what to fix.
    #[command(after_help = doctor::DOCTOR_HELP)]
    Doctor(doctor::DoctorArgs),
    /// Serve a directory as repositories: upload with curl, install with dnf.
    #[command(after_help = serve::SERVE_HELP)]
    Serve(serve::ServeArgs),
    /// Make token configuration lines for `serve --tokens` and the gateway.
    #[command(subcommand, after_help = serve::TOKEN_HELP)]
    Token(serve::TokenCmd),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors are status 1 (2 is
            // reserved for "bad packages with --strict").
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Index(args) => index::command(&args),
        Command::Reconcile(args) => reconcile::run(&args),
        Command::Serve(args) => serve::run(args),
        Command::Config(args) => ops::config(&args),
        Command::Add(args) => ops::add(&args),
        Command::Ls(args) => ops::ls(&args),
        Command::Rm(args) => ops::rm(&args),
        Command::Status(args) => ops::status(&args),
        Command::Promote(args) => ops::promote(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Token(cmd) => serve::token(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rpmbucket: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
