//! Writes N distinct synthetic RPMs for benchmarks.
//!
//! `cargo run -p rpmbucket-tests --release --bin gen-rpms -- --count N --out DIR [--seed S]`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;

/// Generate synthetic RPMs with realistic headers and tiny payloads.
#[derive(Parser)]
struct Args {
    /// Number of packages to write.
    #[arg(long)]
    count: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed gives the same packages.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let start = Instant::now();
    let paths = rpmbucket_tests::gen::generate(args.count, &args.out, args.seed, threads)?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "gen-rpms: wrote {} packages to {} in {secs:.1} s ({:.0}/min)",
        paths.len(),
        args.out.display(),
        paths.len() as f64 / secs.max(1e-9) * 60.0
    );
    Ok(())
}
