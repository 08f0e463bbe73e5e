//! `rpmbucket serve`: the local repository server (upload with curl, install with dnf).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// Base URL clients reach this server at, written into `.repo` files (default:
    /// http://LISTEN unless listening on an unspecified address). Never taken from requests.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Largest upload accepted, in bytes (larger: 413, nothing kept).
    #[arg(long, value_name = "BYTES", default_value_t = rpmbucket_gateway::app::DEFAULT_MAX_UPLOAD)]
    pub max_upload: u64,
    /// Seconds to receive a request's header, counted from the connection's start or the end
    /// of the previous response.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Idle keep-alive timeout: seconds without traffic after which a connection is closed
    /// once no request is in progress.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub idle_timeout: u64,
    /// Seconds to receive one upload's body, in total (a slow trickle is cut too: 408, nothing
    /// kept).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub body_timeout: u64,
    /// Open connections at most (more: 503 and closed).
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_connections: usize,
    /// Open connections per client address at most (more: 503 and closed).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections_per_client: usize,
    /// Requests waiting in `/status?wait=` at once (more: 503 with Retry-After). Waiters cost
    /// no polling: every publish of the served directory is this server's own and wakes the
    /// waiters of that repository.
    #[arg(long, alias = "max-waiters", value_name = "N", default_value_t = rpmbucket_gateway::app::DEFAULT_MAX_WAITERS)]
    pub max_status_waiters: usize,
    /// argon2 (legacy token) verifications at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub auth_concurrency: usize,
    /// Milliseconds a request waits for an argon2 slot before 503.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub auth_queue_timeout_ms: u64,
    /// Failed authentications per client address per minute before 429.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
}

/// Run the server until Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::remote::init_logging("info");
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
    opts.public_url = args.public_url.clone();
    opts.limits = rpmbucket_gateway::app::Limits::new(args.max_upload, args.max_status_waiters);
    opts.conn = rpmbucket_gateway::local::ConnLimits {
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout.max(1)),
        max_connections: args.max_connections.max(1),
        max_connections_per_client: args.max_connections_per_client.max(1),
    };
    opts.auth = rpmbucket_gateway::auth::AuthLimits {
        slow_concurrency: args.auth_concurrency.max(1),
        slow_queue_timeout: Duration::from_millis(args.auth_queue_timeout_ms),
        failures_per_minute: args.auth_failures_per_minute,
    };
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

/// Shown after `rpmbucket serve --help`.
pub const SERVE_HELP: &str = "\
Examples:
  rpmbucket serve --root ./repos
  rpmbucket serve --root /srv/rpms --listen 0.0.0.0:8080 --tokens tokens.conf \\
      --public-url https://rpms.example.org

Then upload with `curl -T hello-1.0-1.x86_64.rpm http://127.0.0.1:8080/el9/x86_64/` and point
dnf at http://127.0.0.1:8080/el9/x86_64/ (the page there lists the packages and the .repo
snippet).

It runs until stopped. Exit status: 1 error (bad address, cannot listen, unreadable token file)";

/// Shown after `rpmbucket token --help` and `rpmbucket token hash --help`.
pub const TOKEN_HELP: &str = "\
Examples:
  rpmbucket token hash --generate --user ci --permissions rw --prefixes el9/ >> tokens.conf
  echo 'chosen secret' | rpmbucket token hash --user alice --permissions r

Exit status: 0 line printed, 1 error (empty secret, bad permissions or prefixes)";

/// `rpmbucket token ...`: make token configuration lines.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCmd {
    /// Print the hashed configuration line of a token (secret read from stdin, or generated).
    #[command(after_help = TOKEN_HELP)]
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
        /// Hash scheme: `sha256` (fast; for generated, high-entropy secrets), `argon2`
        /// (slow password hash; for secrets a person chose), `auto`: sha256 with --generate,
        /// argon2 otherwise. See SECURITY.md.
        #[arg(long, default_value = "auto", value_parser = ["auto", "sha256", "argon2"])]
        scheme: String,
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
            scheme,
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
            let hash = match (scheme.as_str(), generate) {
                ("sha256", _) | ("auto", true) => {
                    rpmbucket_gateway::auth::hash_token_fast(&secret).map_err(anyhow::Error::msg)?
                }
                _ => rpmbucket_gateway::auth::hash_token(&secret),
            };
            let line = format!("{user}:{hash} {permissions} {prefixes}");
            // Check that the line parses before printing it.
            Tokens::parse(&line)?;
            println!("{}", line.trim_end());
            Ok(ExitCode::SUCCESS)
        }
    }
}
