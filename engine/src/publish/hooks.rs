//! Test hooks (public with the `testkit` feature only): stop a publish at a point, or pause
//! it there so a test can interleave other work deterministically.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::Error;
use crate::store;

/// Where a fault-injection hook stops a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// After writing the data files, before the `repomd.xml` swap.
    BeforeSwap,
}

/// Where a pause hook is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePoint {
    /// The changed keys were HEADed and read, before the new generation is rendered.
    AfterLearn,
    /// The data files are written, the `repomd.xml` swap is next.
    BeforeSwap,
    /// The swap landed; the changed keys are HEADed again next.
    BeforeVerify,
    /// A sweep listed `repodata/` and is about to delete what it found orphaned.
    BeforeSweepDelete,
    /// A reconcile checkpoint is published (and verified); the next batch is read next.
    AfterCheckpoint,
}

/// A pause hook: awaited at each [`PausePoint`] with the repository root.
pub type PauseFn = Arc<dyn Fn(PausePoint, &str) -> BoxFuture<'static, ()> + Send + Sync>;

/// The error a fault stops a publish with: the source of a retryable store error, like a
/// crash of the store connection.
#[derive(Debug, thiserror::Error)]
#[error("publish stopped by fault injection at {0:?}")]
pub struct Injected(pub FaultPoint);

/// Was `err` caused by fault injection?
pub fn is_injected(err: &Error) -> bool {
    matches!(err, Error::Store(store::Error::Other { source, .. }) if source.is::<Injected>())
}

/// The hooks of one indexer (none outside tests).
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) fault: Option<FaultPoint>,
    pub(crate) pause: Option<PauseFn>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("fault", &self.fault)
            .field("pause", &self.pause.is_some())
            .finish()
    }
}

impl Hooks {
    /// Await the pause hook, if any.
    pub(crate) async fn pause(&self, point: PausePoint, root: &str) {
        if let Some(p) = &self.pause {
            p(point, root).await;
        }
    }

    /// The error to stop with at `point`, if a fault is set there.
    pub(crate) fn fault(&self, point: FaultPoint, key: &str) -> Option<Error> {
        (self.fault == Some(point)).then(|| {
            Error::Store(store::Error::Other {
                key: key.to_string(),
                source: Box::new(Injected(point)),
            })
        })
    }
}
