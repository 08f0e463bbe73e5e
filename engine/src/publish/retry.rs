//! Retrying store requests.

use std::time::Duration;

use super::IndexerOptions;
use crate::error::store_error_is_retryable;
use crate::store;

/// Pause before retry number `attempt` (1-based): exponential from `options.backoff`, capped
/// at `options.max_backoff`, with full jitter.
pub(crate) fn backoff(options: &IndexerOptions, attempt: u32) -> Duration {
    let exp = options
        .backoff
        .saturating_mul(1u32 << attempt.min(16).saturating_sub(1))
        .min(options.max_backoff);
    // Full jitter: uniform in [0, exp], so that publishers that lost the same race do not
    // come back together.
    Duration::from_millis(fastrand::u64(0..=exp.as_millis() as u64))
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
        // Full jitter: some pauses fall in the lower half.
        assert!((0..200).any(|_| backoff(&o, 10) < o.max_backoff / 2));
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let o = IndexerOptions {
            backoff: Duration::from_millis(1),
            ..IndexerOptions::default()
        };
        let calls = std::sync::atomic::AtomicU32::new(0);
        let r: store::Result<()> = retry(&o, "head", || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(store::Error::Permanent {
                key: "k".into(),
                source: "AccessDenied".into(),
            })
        })
        .await;
        assert!(matches!(r, Err(store::Error::Permanent { .. })));
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);

        let calls = std::sync::atomic::AtomicU32::new(0);
        let r: store::Result<()> = retry(&o, "head", || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(store::Error::other("k", "503 SlowDown"))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            o.store_attempts
        );
    }
}
