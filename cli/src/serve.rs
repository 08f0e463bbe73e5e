//! `rpmbucket serve`: the local repository server (upload with curl, install with dnf).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use rpmbucket_gateway::auth::Tokens;
use rpmbucket_gateway::LocalOptions;

/// Serve DIR as YUM/DNF repositories: `curl -T pkg.rpm http://ADDR/el9/x86_64/` stores and
/// indexes the package, `baseurl=http://ADDR/el9/x86_64/` installs it.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory to serve and store uploads in (created if missing).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Address to listen on. Without tokens, uploads are accepted only on a loopback address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Token file (see `rpmbucket token hash`); default: the RPMBUCKET_TOKENS variable, if set.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,

    #[command(flatten)]
    pub signing: crate::trust::SigningArgs,

    /// Package policy of repositories the server creates (a repository keeps the policy it
    /// was created with; `rpmbucket index` changes it).
    #[command(flatten)]
    pub policy: crate::trust::PolicyArgs,
}

/// Run the server until Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RPMBUCKET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let tokens = match &args.tokens {
        Some(path) => Some(Tokens::load_file(path)?),
        None => Tokens::from_env()?,
    };
    let config = args
        .policy
        .apply(rpmbucket_engine::RepoConfig::from_env().with_signer(args.signing.signer()?))?;
    let mut opts = LocalOptions::new(&args.root)
        .with_listen(args.listen)
        .with_config(config);
    if let Some(t) = tokens {
        opts = opts.with_tokens(t);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(rpmbucket_gateway::serve_local(opts))?;
    Ok(ExitCode::SUCCESS)
}

/// `rpmbucket token ...`: make token configuration lines.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCmd {
    /// Print the hashed configuration line of a token (secret read from stdin, or generated).
    Hash {
        /// User name of the token.
        #[arg(long, default_value = "ci")]
        user: String,
        /// Permissions: any of r, w, d (read, write, delete).
        #[arg(long, default_value = "rw")]
        permissions: String,
        /// Repository prefixes (comma-separated); default: all.
        #[arg(long, default_value = "")]
        prefixes: String,
        /// Generate a new random secret (printed to stderr) instead of reading stdin.
        #[arg(long)]
        generate: bool,
    },
}

/// Run a token subcommand.
pub fn token(cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCmd::Hash {
            user,
            permissions,
            prefixes,
            generate,
        } => {
            let secret = if generate {
                let s = rpmbucket_gateway::auth::generate_secret();
                eprintln!("secret (give it to the client as {user}:SECRET): {s}");
                s
            } else {
                let mut s = String::new();
                std::io::stdin().read_line(&mut s)?;
                s.trim_end_matches(['\r', '\n']).to_string()
            };
            anyhow::ensure!(!secret.is_empty(), "empty secret");
            let line = format!(
                "{user}:{} {permissions} {prefixes}",
                rpmbucket_gateway::auth::hash_token(&secret)
            );
            // Check that the line parses before printing it.
            Tokens::parse(&line)?;
            println!("{}", line.trim_end());
            Ok(ExitCode::SUCCESS)
        }
    }
}
