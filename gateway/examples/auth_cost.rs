//! Verification cost per request: `cargo run --release -p rpmbucket-gateway --example auth_cost`.
//!
//! Times `Tokens::authenticate` on presentations never seen before (so no cache hit) for a
//! fast-scheme token and for an argon2id token with default parameters, each in a token set of
//! its own, and prints the median microseconds per request of each.

use std::time::Instant;

use rpmbucket_gateway::auth::{hash_token, hash_token_fast, AuthLimits, Tokens};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Each scheme in a token file of its own: with an argon2 token present, a refused
    // presentation for any user also costs an argon2 run (a dummy one, so that unknown users
    // cost the same), which is what the fast scheme avoids once every token is generated.
    let limits = AuthLimits {
        failures_per_minute: u32::MAX,
        ..AuthLimits::default()
    };
    let fast = Tokens::parse(&format!("fast:{} rw\n", hash_token_fast(SECRET).unwrap()))
        .unwrap()
        .with_limits(limits);
    let slow = Tokens::parse(&format!("slow:{} rw\n", hash_token("legacy-secret")))
        .unwrap()
        .with_limits(limits);
    for (user, tokens, n) in [("fast", &fast, 20_000u32), ("slow", &slow, 5)] {
        let mut times = Vec::with_capacity(n as usize);
        for i in 0..n {
            let header = format!(
                "Basic {}",
                base64_encode(&format!("{user}:wrong-{i}-{SECRET}"))
            );
            let t = Instant::now();
            let r = tokens.authenticate(Some(header.as_bytes()), None).await;
            times.push(t.elapsed().as_secs_f64() * 1e6);
            assert!(r.is_err());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{user:>4}: median {:.1} µs per refused request ({n} requests)",
            times[times.len() / 2]
        );
    }
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
