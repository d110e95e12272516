//! The guard that flushes the exporters, and what setup installed for it and for the global
//! [`shutdown`](super::shutdown) and [`stats`](super::stats).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::export::Exporter;
use crate::layer::TracedLayer;
use crate::propagation::Propagator;
use crate::report::{Stats, ZipkinReporter};

/// What a shutdown achieved.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Spans that could not be delivered: dropped by the reporter or still unsent at the
    /// deadline, plus spans the file exporter could not write.
    pub undelivered: u64,
    /// The reporter's final counts (zeros without a Zipkin exporter).
    pub stats: Stats,
    /// Spans still open at the shutdown that it reported unfinished (tag `open_at_shutdown`):
    /// those of the thread that shut down (see [`shutdown`](super::shutdown)).
    pub open_spans: u64,
    /// Sampled spans still open at the shutdown that it could not reach to report: open on
    /// other threads, in futures parked in an executor, or kept open by a handle (a call's span
    /// that a task still holds, a span made but never entered). Counted, not exported.
    pub open_unreachable: u64,
}

/// Flushes the exporters when dropped (see [`shutdown`](super::shutdown)). Keep it alive until the end of `main`.
#[must_use = "dropping the guard shuts tracing down at once; bind it: `let _guard = traced::init();`"]
pub struct TracingGuard {
    pub(super) installed: Option<Arc<Installed>>,
}

impl TracingGuard {
    /// Shuts down now and reports what could not be delivered (the drop then does nothing).
    pub fn shutdown(self) -> ShutdownReport {
        match &self.installed {
            Some(installed) => installed.shutdown(),
            None => ShutdownReport::default(),
        }
    }

    /// The reporter's counts so far; zeros without a Zipkin exporter.
    pub fn stats(&self) -> Stats {
        self.installed
            .as_ref()
            .map(|installed| installed.stats())
            .unwrap_or_default()
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(installed) = &self.installed {
            installed.shutdown();
        }
    }
}

impl fmt::Debug for TracingGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingGuard")
            .field("installed", &self.installed.is_some())
            .finish()
    }
}

/// What setup installed, shared by the guard and the global [`shutdown`](super::shutdown) /
/// [`stats`](super::stats).
pub(super) struct Installed {
    /// The layer's core, whose open spans a shutdown reports.
    pub(super) core_id: u64,
    /// The layer's exporter (all of them), which takes the spans still open at shutdown.
    pub(super) exporter: Arc<dyn Exporter>,
    /// Every exporter but the reporter, flushed first (they finish quickly).
    pub(super) others: Vec<Arc<dyn Exporter>>,
    /// The reporters (Zipkin, OTLP), shut down last.
    pub(super) reporters: Vec<Arc<ZipkinReporter>>,
    pub(super) shutdown_timeout: Duration,
    pub(super) done: AtomicBool,
    pub(super) report: Mutex<ShutdownReport>,
}

impl Installed {
    /// The reporters' counts, added up.
    pub(super) fn stats(&self) -> Stats {
        self.reporters
            .iter()
            .map(|reporter| reporter.stats())
            .fold(Stats::default(), Stats::plus)
    }

    pub(super) fn shutdown(&self) -> ShutdownReport {
        if self.done.swap(true, Ordering::AcqRel) {
            return *self
                .report
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        let mut report = ShutdownReport {
            open_spans: super::open::report_open(self.core_id, &*self.exporter),
            ..ShutdownReport::default()
        };
        report.open_unreachable = super::open::count_unreachable(self.core_id);
        if report.open_spans > 0 {
            eprintln!(
                "traced: shutdown: {} span(s) still open were reported unfinished \
                 (tag open_at_shutdown)",
                report.open_spans
            );
        }
        if report.open_unreachable > 0 {
            eprintln!(
                "traced: shutdown: {} span(s) still open on other threads or in waiting futures \
                 are not reported (their data is out of this thread's reach, or a handle keeps \
                 them open); end them before shutting down to have them exported",
                report.open_unreachable
            );
        }
        for exporter in &self.others {
            let left = deadline.saturating_duration_since(Instant::now());
            report.undelivered += exporter.flush(left).unsent;
        }
        let written = report.undelivered;
        for reporter in &self.reporters {
            let left = deadline.saturating_duration_since(Instant::now());
            // The reporter says on stderr what it could not deliver.
            reporter.shutdown(left);
        }
        report.stats = self.stats();
        report.undelivered += report.stats.dropped;
        if written > 0 {
            eprintln!("traced: {written} span(s) could not be written");
        }
        *self
            .report
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = report;
        report
    }
}

static INSTALLED: Mutex<Option<Arc<Installed>>> = Mutex::new(None);

/// Whether `try_init` installed the global subscriber (a process has one).
pub(super) static GLOBAL_INSTALLED: AtomicBool = AtomicBool::new(false);

pub(super) fn installed() -> Option<Arc<Installed>> {
    INSTALLED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .clone()
}

fn register(installed: &Arc<Installed>) {
    *INSTALLED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner()) = Some(installed.clone());
}

/// A layer and its guard, built but not yet made global.
pub(super) struct Parts {
    pub(super) layer: TracedLayer,
    pub(super) guard: TracingGuard,
    pub(super) propagator: Option<Propagator>,
}

impl Parts {
    pub(super) fn activate(&self) {
        activate(&self.guard, self.propagator.clone());
    }
}

/// Makes an install the one [`shutdown`](super::shutdown), [`stats`](super::stats) and the propagation helpers use.
pub(super) fn activate(guard: &TracingGuard, propagator: Option<Propagator>) {
    if let Some(propagator) = propagator {
        crate::propagation::set_global(propagator);
    }
    if let Some(installed) = &guard.installed {
        register(installed);
    }
}
