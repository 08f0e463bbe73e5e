//! The `rpmbucket` command.

use std::process::ExitCode;

use clap::Parser;

mod serve;

#[derive(Debug, Parser)]
#[command(
    name = "rpmbucket",
    version,
    about = "Turn a directory or an S3 bucket into a YUM/DNF repository"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Serve a directory as repositories: upload with curl, install with dnf.
    Serve(serve::ServeArgs),
    /// Token helpers.
    #[command(subcommand)]
    Token(serve::TokenCmd),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RPMBUCKET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().cmd {
        Cmd::Serve(args) => serve::run(args),
        Cmd::Token(cmd) => serve::token(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpmbucket: {e:#}");
            ExitCode::FAILURE
        }
    }
}
