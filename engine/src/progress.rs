//! Progress of long work, for front ends that draw it (the CLI's bar on a terminal). The engine
//! only reports; it never prints.

use std::fmt;
use std::sync::Arc;

/// What a long step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A step of `total` units starts (`what`: "reading" package headers, "copying" packages).
    Begin {
        /// The step, a lowercase verb.
        what: &'static str,
        /// Units of the step.
        total: u64,
    },
    /// One unit of the current step is done.
    Step,
}

/// Receives [`Progress`]; called from the indexer's tasks, so it must be cheap.
#[derive(Clone, Default)]
pub struct ProgressFn(Option<Arc<dyn Fn(Progress) + Send + Sync>>);

impl ProgressFn {
    /// Report to `f`.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> ProgressFn {
        ProgressFn(Some(Arc::new(f)))
    }

    /// Report `p` (nothing without a receiver).
    pub fn report(&self, p: Progress) {
        if let Some(f) = &self.0 {
            f(p);
        }
    }
}

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressFn(set)"
        } else {
            "ProgressFn(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reports_reach_the_receiver_and_none_is_silent() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let f = ProgressFn::new(move |p| s.lock().unwrap().push(p));
        f.report(Progress::Begin {
            what: "reading",
            total: 2,
        });
        f.report(Progress::Step);
        ProgressFn::default().report(Progress::Step);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Progress::Begin {
                    what: "reading",
                    total: 2
                },
                Progress::Step
            ]
        );
    }
}
