//! `s3-fault-proxy UPSTREAM [--listen ADDR] [--rules FILE]`: the fault-injecting S3 proxy of
//! the tests ([`rpmbucket_tests::s3proxy`]) as a process. Prints its endpoint on the first
//! line of stdout, then serves until killed. Rules change at run time with
//! `curl -X PUT --data @rules.json ENDPOINT/_proxy/rules`; `curl ENDPOINT/_proxy/stats` shows
//! the counters.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use rpmbucket_tests::s3proxy::{parse_rules, FaultProxy};

#[derive(Debug, Parser)]
#[command(about = "Fault-injecting HTTP proxy in front of an S3 server (path style)")]
struct Args {
    /// The S3 server: http://HOST:PORT.
    upstream: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// JSON array of rules to start with.
    #[arg(long)]
    rules: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let proxy = FaultProxy::start_on(&args.upstream, args.listen)?;
    if let Some(path) = &args.rules {
        let json = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        proxy.set_rules(parse_rules(&json).with_context(|| path.display().to_string())?);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", proxy.endpoint())?;
    out.flush()?;
    drop(out);
    loop {
        std::thread::park();
    }
}
