//! The one bounded worker pool of the workspace's CPU-bound steps (compressing the databases and
//! bzip2 blocks, rendering chunks and the metadata files): at most `threads` scoped threads take
//! the items in order from a shared counter, and the results come back in item order. With one
//! thread (or one item) the work runs on the caller's thread. A panic in a worker is raised again
//! in the caller.
//!
//! Scoped threads rather than a global pool (`rayon`): the callers are few, coarse (whole files,
//! megabyte blocks) and already bounded by their own `threads` setting, and a scoped pool borrows
//! the caller's data without `'static` bounds.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` on every item with at most `threads` threads; results in item order.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    run(items, threads, |item| (work(item), false))
}

/// Fallible `work` on every item with at most `threads` threads; the results in item order, or
/// the first error in item order. No item is handed out after an error.
pub fn try_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    run(items, threads, |item| {
        let r = work(item);
        let failed = r.is_err();
        (r, failed)
    })
    .into_iter()
    .collect()
}

/// The pool: `work` answers the result and whether to stop handing out items.
fn run<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> (R, bool) + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            let (result, stop) = work(item);
            if stop {
                next.store(items.len(), Ordering::Relaxed);
            }
            done.push((i, result));
        }
    };
    let threads = threads.clamp(1, items.len().max(1));
    let mut results: Vec<(usize, R)> = if threads == 1 {
        worker()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[test]
    fn results_in_item_order_on_at_most_n_threads() {
        let items: Vec<u32> = (0..200).collect();
        let seen = Mutex::new(HashSet::new());
        let out = map(&items, 3, |&i| {
            seen.lock().unwrap().insert(std::thread::current().id());
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let n = seen.lock().unwrap().len();
        assert!((1..=3).contains(&n), "{n} threads");
    }

    #[test]
    fn one_thread_runs_on_the_caller() {
        let me = std::thread::current().id();
        let out = map(&[1, 2, 3], 1, |&i| (i, std::thread::current().id() == me));
        assert_eq!(out, [(1, true), (2, true), (3, true)]);
        assert!(map(&[] as &[u8], 4, |&b| b).is_empty());
    }

    #[test]
    fn the_first_error_in_item_order_and_nothing_after_it() {
        let items: Vec<u32> = (0..50).collect();
        let ran = AtomicUsize::new(0);
        let r = try_map(&items, 1, |&i| {
            ran.fetch_add(1, Ordering::Relaxed);
            if i >= 10 {
                Err(i)
            } else {
                Ok(i)
            }
        });
        assert_eq!(r, Err(10));
        assert_eq!(ran.load(Ordering::Relaxed), 11);
        let r = try_map(&items, 4, |&i| if i % 7 == 6 { Err(i) } else { Ok(i) });
        assert_eq!(r, Err(6));
        assert_eq!(try_map(&items, 4, |&i| Ok::<_, ()>(i)), Ok(items.clone()));
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_worker_panic_reaches_the_caller() {
        map(
            &[1, 2, 3, 4],
            2,
            |&i| if i == 3 { panic!("boom") } else { i },
        );
    }
}
