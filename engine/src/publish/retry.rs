//! Retrying store requests.

use std::time::Duration;

use super::IndexerOptions;
use crate::error::store_error_is_retryable;
use crate::store;

/// Pause before retry number `attempt` (1-based): exponential from `options.backoff`, capped
/// at `options.max_backoff`, jittered.
pub(crate) fn backoff(options: &IndexerOptions, attempt: u32) -> Duration {
    let exp = options
        .backoff
        .saturating_mul(1u32 << attempt.min(16).saturating_sub(1))
        .min(options.max_backoff);
    // Full jitter: uniform in [exp/2, exp].
    let ms = exp.as_millis() as u64;
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
}

/// Run a store request, retrying retryable errors with jittered exponential backoff.
pub(crate) async fn retry<T, F, Fut>(
    options: &IndexerOptions,
    what: &str,
    mut f: F,
) -> store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = store::Result<T>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if store_error_is_retryable(&e) && attempt < options.store_attempts => {
                let pause = backoff(options, attempt);
                tracing::warn!(op = what, attempt, error = %e, ?pause, "store request failed, retrying");
                tokio::time::sleep(pause).await;
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let o = IndexerOptions::default();
        for a in 1..50 {
            let d = backoff(&o, a);
            assert!(d <= o.max_backoff, "{d:?}");
        }
        assert!(backoff(&o, 1) <= o.backoff);
    }
}
