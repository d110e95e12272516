//! How many sampled spans are open: counted on each thread, added up when tracing shuts down.
//!
//! A shutdown can report in full only the open spans it can reach (see `setup/open.rs`): those
//! of the thread that shuts down. Spans open on other threads and in futures parked in an
//! executor live in memory nobody else may read, so they are counted instead: every sampled span
//! counts once when it starts and once when its record goes to the exporter, and the difference,
//! added up over all threads, is what is still open.
//!
//! The per-span path writes no shared cache line and takes no lock: each thread counts into its
//! own [`Counts`], which only that thread writes (a load and a store, no read-modify-write), and
//! a shutdown reads every thread's counts under the registry's lock. A span that starts on one
//! thread and ends on another (a future that moved) counts on both; the sum is still exact.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// One thread's counts for one layer core (the core it last counted for).
struct Counts {
    /// The layer core counted for; `0` until the first count.
    core: AtomicU64,
    started: AtomicU64,
    ended: AtomicU64,
}

/// Started and ended counts of one core.
#[derive(Clone, Copy, Default)]
struct Totals {
    started: u64,
    ended: u64,
}

/// Every live thread's counts, and the totals of threads that ended or moved on to another core.
struct Registry {
    threads: Vec<Arc<Counts>>,
    retired: BTreeMap<u64, Totals>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: Vec::new(),
    retired: BTreeMap::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A thread's counts, registered on first use and folded into the totals when the thread ends.
/// The fast path keeps one in its own thread-local (`frame.rs`), so counting costs it no
/// second thread-local access; everything else counts through [`started`] and [`ended`].
pub(crate) struct ThreadCounts(OnceCell<Arc<Counts>>);

impl ThreadCounts {
    pub(crate) const fn new() -> ThreadCounts {
        ThreadCounts(OnceCell::new())
    }

    /// A sampled span of layer `core` started.
    #[inline(always)]
    pub(crate) fn started(&self, core: u64) {
        bump(self.counts(core), |counts| &counts.started);
    }

    /// A sampled span of layer `core` ended: its record went to the exporter.
    #[inline(always)]
    pub(crate) fn ended(&self, core: u64) {
        bump(self.counts(core), |counts| &counts.ended);
    }

    #[inline(always)]
    fn counts(&self, core: u64) -> &Counts {
        let counts = self.0.get_or_init(register);
        if counts.core.load(Relaxed) != core {
            switch(counts, core);
        }
        counts
    }
}

/// Adds one to a counter only this thread writes.
#[inline(always)]
fn bump(counts: &Counts, counter: fn(&Counts) -> &AtomicU64) {
    let counter = counter(counts);
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

impl Drop for ThreadCounts {
    fn drop(&mut self) {
        if let Some(counts) = self.0.get() {
            let mut registry = registry();
            registry.retire(counts);
            registry.threads.retain(|other| !Arc::ptr_eq(other, counts));
        }
    }
}

thread_local! {
    static THREAD: ThreadCounts = const { ThreadCounts::new() };
}

impl Registry {
    /// Moves what `counts` holds into the retired totals and zeroes it. Called by the thread that
    /// owns `counts` (its only writer), under the lock (so a shutdown reads it either before or
    /// after).
    fn retire(&mut self, counts: &Counts) {
        let core = counts.core.load(Relaxed);
        let started = counts.started.swap(0, Relaxed);
        let ended = counts.ended.swap(0, Relaxed);
        if core != 0 {
            let totals = self.retired.entry(core).or_default();
            totals.started += started;
            totals.ended += ended;
        }
    }
}

/// A sampled span of layer `core` started.
pub(crate) fn started(core: u64) {
    let counted = THREAD.try_with(|thread| thread.started(core));
    // This thread's locals are being torn down: count straight into the totals.
    if counted.is_err() {
        registry().retired.entry(core).or_default().started += 1;
    }
}

/// A sampled span of layer `core` ended: its record went to the exporter.
pub(crate) fn ended(core: u64) {
    let counted = THREAD.try_with(|thread| thread.ended(core));
    if counted.is_err() {
        registry().retired.entry(core).or_default().ended += 1;
    }
}

#[cold]
fn register() -> Arc<Counts> {
    let counts = Arc::new(Counts {
        core: AtomicU64::new(0),
        started: AtomicU64::new(0),
        ended: AtomicU64::new(0),
    });
    registry().threads.push(Arc::clone(&counts));
    counts
}

/// This thread now counts for `core`: what it counted for the previous one is kept in the totals.
#[cold]
#[inline(never)]
fn switch(counts: &Counts, core: u64) {
    let mut registry = registry();
    registry.retire(counts);
    counts.core.store(core, Relaxed);
}

/// Sampled spans of layer `core` started and not yet ended, on every thread. Spans under way on
/// other threads while this runs are counted as they stand.
pub(crate) fn open(core: u64) -> u64 {
    let registry = registry();
    let mut totals = registry.retired.get(&core).copied().unwrap_or_default();
    for counts in &registry.threads {
        if counts.core.load(Relaxed) == core {
            totals.started += counts.started.load(Relaxed);
            totals.ended += counts.ended.load(Relaxed);
        }
    }
    totals.started.saturating_sub(totals.ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Core ids of their own, far from the pipeline's (which count up from 1).
    const CORE: u64 = u64::MAX - 1;
    const OTHER: u64 = u64::MAX - 2;

    #[test]
    fn spans_ended_on_another_thread_or_never_add_up() {
        started(CORE);
        started(CORE);
        started(CORE);
        ended(CORE);
        assert_eq!(open(CORE), 2);
        // One ends on another thread (a future that moved), which then exits.
        std::thread::spawn(|| ended(CORE)).join().unwrap();
        assert_eq!(open(CORE), 1);
        // This thread counts for another core meanwhile: the first core's counts are kept.
        started(OTHER);
        assert_eq!(open(CORE), 1);
        assert_eq!(open(OTHER), 1);
        ended(CORE);
        ended(OTHER);
        assert_eq!(open(CORE), 0);
        assert_eq!(open(OTHER), 0);
    }

    #[test]
    fn a_thread_that_ends_keeps_its_open_spans_counted() {
        const GONE: u64 = u64::MAX - 3;
        std::thread::spawn(|| {
            started(GONE);
            started(GONE);
        })
        .join()
        .unwrap();
        assert_eq!(open(GONE), 2);
    }
}
