//! Progress bars: drawn on stderr when it is a terminal, nothing at all otherwise (scripts,
//! pipes, `--quiet`). One style for every command.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rpmbucket_engine::{Progress, ProgressFn};

/// Whether bars are drawn: stderr is a terminal and the command was not asked to be quiet.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar of `len` units labelled `what`; hidden unless [`wanted`] and there are at least
/// `min` units.
pub fn new(len: u64, what: &'static str, quiet: bool, min: u64) -> ProgressBar {
    if !wanted(quiet) || len < min {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_message(what);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Draws the engine's [`Progress`] reports: each step gets a bar of its own; [`EngineBar::clear`]
/// removes the current one before the command prints its results.
#[derive(Clone)]
pub struct EngineBar {
    current: Arc<Mutex<Option<ProgressBar>>>,
    on: bool,
}

impl EngineBar {
    /// Bars when [`wanted`]`(quiet)`.
    pub fn new(quiet: bool) -> EngineBar {
        EngineBar {
            current: Arc::default(),
            on: wanted(quiet),
        }
    }

    /// The receiver to hand to the engine (`Indexer::with_progress`); reports nothing when
    /// bars are off.
    pub fn hook(&self) -> ProgressFn {
        if !self.on {
            return ProgressFn::default();
        }
        let me = self.clone();
        ProgressFn::new(move |p| me.report(p))
    }

    fn report(&self, p: Progress) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            Progress::Begin { what, total } => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                *current = Some(new(total, what, false, 1));
            }
            Progress::Step => {
                if let Some(bar) = current.as_ref() {
                    bar.inc(1);
                }
            }
        }
    }

    /// Remove the bar being drawn, if any.
    pub fn clear(&self) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = current.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for EngineBar {
    fn drop(&mut self) {
        // The last clone (the one the command holds, after the indexer is gone) clears.
        if Arc::strong_count(&self.current) == 1 {
            self.clear();
        }
    }
}
