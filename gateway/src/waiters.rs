//! `/status?wait=` waiters: at most [`Waiters::max`] at once, woken when their repository
//! publishes.
//!
//! - **Publishes of this process** (the local server's index loop, `POST /promote`) call
//!   [`Waiters::published`], which wakes that repository's waiters at once.
//! - **Publishes of other processes** (in S3 mode the indexer Lambda publishes what the
//!   gateway presigned; `rpmbucket add` or `reconcile` may run anywhere) cannot notify this
//!   one. For those, while a repository has waiters, one task per repository (not one per
//!   waiter) reads its `repomd.xml` every poll interval with a conditional GET
//!   (`If-None-Match` with the ETag it last saw: an unchanged repository costs one request
//!   and no body) and wakes the waiters when it changed. The task ends with its last waiter.
//!   The local server needs no such task: every publish of its directory is its own.
//!
//! N waiters on one repository therefore cost one request per interval, and at most
//! [`Waiters::max`] waiters (so at most that many poll tasks, one per repository) exist at
//! once; more are refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::engine::Repository;

/// The repositories that have waiters: a wake-up channel each, and which poll task (if any)
/// serves it.
type Roots = Arc<Mutex<HashMap<String, Entry>>>;

struct Entry {
    /// Bumped on every publish (or observed change) of the repository.
    tx: watch::Sender<u64>,
    /// Identifies this entry: a poll task whose entry was replaced stops.
    id: u64,
}

/// The waiter registry (cheap to clone: shared).
#[derive(Clone)]
pub struct Waiters {
    max: usize,
    slots: Arc<Semaphore>,
    roots: Roots,
}

impl std::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiters")
            .field("max", &self.max)
            .field("waiting", &(self.max - self.slots.available_permits()))
            .finish()
    }
}

/// Every waiter place is taken.
#[derive(Debug, thiserror::Error)]
#[error("too many /status waiters (limit {max}); retry or poll without wait=")]
pub struct TooManyWaiters {
    /// The limit.
    pub max: usize,
}

/// How a waiter learns of publishes made by other processes.
#[derive(Clone)]
pub enum Watch {
    /// Every publish is made by this process and announced with [`Waiters::published`].
    Notified,
    /// Publishes may come from elsewhere: poll the repository's `repomd.xml` (conditional
    /// GET) every `every`, one task per repository, besides the notifications.
    Poll {
        /// The repository to read.
        repo: Arc<Repository>,
        /// Time between two reads.
        every: Duration,
    },
}

static ENTRY_IDS: AtomicU64 = AtomicU64::new(0);

impl Waiters {
    /// A registry allowing `max` waiters at once.
    pub fn new(max: usize) -> Waiters {
        Waiters {
            max,
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            roots: Arc::default(),
        }
    }

    /// The limit on waiters at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Waiters now.
    pub fn waiting(&self) -> usize {
        self.max.min(Semaphore::MAX_PERMITS) - self.slots.available_permits()
    }

    /// Repositories with a wake-up channel now (each has at most one poll task).
    pub fn watched(&self) -> usize {
        self.roots.lock().expect("waiters").len()
    }

    /// Wake the waiters of `root`: it was just published (or a publish was attempted) by
    /// this process.
    pub fn published(&self, root: &str) {
        if let Some(e) = self.roots.lock().expect("waiters").get(root) {
            e.tx.send_modify(|n| *n += 1);
        }
    }

    /// Become a waiter of `root`: subscribe before checking the state, then check it after
    /// each [`Waiter::changed`]. Refused when [`Waiters::max`] waiters exist.
    pub fn wait(&self, root: &str, watch: Watch) -> Result<Waiter, TooManyWaiters> {
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| TooManyWaiters { max: self.max })?;
        let mut roots = self.roots.lock().expect("waiters");
        let rx = match roots.get(root) {
            Some(e) => e.tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(0u64);
                let id = ENTRY_IDS.fetch_add(1, Ordering::Relaxed);
                roots.insert(root.to_string(), Entry { tx, id });
                if let Watch::Poll { repo, every } = watch {
                    tokio::spawn(poll(
                        Arc::clone(&self.roots),
                        root.to_string(),
                        id,
                        repo,
                        every,
                    ));
                }
                rx
            }
        };
        Ok(Waiter {
            rx: Some(rx),
            root: root.to_string(),
            roots: Arc::clone(&self.roots),
            _slot: slot,
        })
    }
}

/// One `/status?wait=` request's place and wake-up channel; leaving (drop) gives both back.
pub struct Waiter {
    rx: Option<watch::Receiver<u64>>,
    root: String,
    roots: Roots,
    _slot: OwnedSemaphorePermit,
}

impl Waiter {
    /// Note the present as seen; call right before each check of the repository's state.
    pub fn seen(&mut self) {
        if let Some(rx) = self.rx.as_mut() {
            rx.borrow_and_update();
        }
    }

    /// Wait until the repository may have changed since the last [`Waiter::seen`], or until
    /// `deadline`; `false` at the deadline.
    pub async fn changed(&mut self, deadline: tokio::time::Instant) -> bool {
        let Some(rx) = self.rx.as_mut() else {
            tokio::time::sleep_until(deadline).await;
            return false;
        };
        matches!(
            tokio::time::timeout_at(deadline, rx.changed()).await,
            Ok(Ok(()))
        )
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut roots = self.roots.lock().expect("waiters");
        drop(self.rx.take());
        // The last waiter of a repository removes its channel (a poll task sees that and
        // stops).
        if roots
            .get(&self.root)
            .is_some_and(|e| e.tx.receiver_count() == 0)
        {
            roots.remove(&self.root);
        }
    }
}

/// The poll task of `root` (entry `id`): read `repomd.xml` conditionally every `every` and
/// wake the waiters when its ETag changed, until the entry is gone.
async fn poll(roots: Roots, root: String, id: u64, repo: Arc<Repository>, every: Duration) {
    // The first read wakes the waiters too: a publish between a waiter's own check and this
    // first read would otherwise go unnoticed (it would be this task's starting point).
    let mut known: Option<Option<String>> = None;
    loop {
        let last = known.clone().flatten();
        match repo.metadata_version(&root, last.as_deref()).await {
            Ok(now) => {
                if known.as_ref() != Some(&now) {
                    let roots = roots.lock().expect("waiters");
                    match roots.get(&root) {
                        Some(e) if e.id == id => e.tx.send_modify(|n| *n += 1),
                        _ => return,
                    }
                }
                known = Some(now);
            }
            Err(e) => tracing::warn!(%root, error = %e, "reading repomd.xml for /status waiters"),
        }
        tokio::time::sleep(every).await;
        let mine = roots
            .lock()
            .expect("waiters")
            .get(&root)
            .is_some_and(|e| e.id == id);
        if !mine {
            return;
        }
    }
}
