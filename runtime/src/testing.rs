//! An in-memory capture of finished spans, for your own tests.
//!
//! ```
//! use traced::testing::Capture;
//!
//! let capture = Capture::new();
//! capture.in_scope(|| {
//!     let outer = tracing::info_span!("outer", user_id = 7u64);
//!     outer.in_scope(|| tracing::info_span!("inner").in_scope(|| {}));
//! });
//! let outer = capture.span("outer");
//! assert_eq!(capture.span("inner").parent_id, Some(outer.id));
//! assert_eq!(outer.tag("user_id"), Some(&traced::model::TagValue::U64(7)));
//! ```

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing_core::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::export::{Exporter, FlushOutcome};
use crate::layer::TracedLayer;
use crate::model::{SpanRecord, TraceId};
use crate::sample::Sampler;
use crate::subscriber::TracedSubscriber;

/// Collects finished spans in memory. Clones share one store and one subscriber.
#[derive(Clone, Default)]
pub struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    // One subscriber for every use of this capture: a span created under one registry must be
    // closed by the same registry, even when a test mixes `in_scope` with a runtime's threads.
    dispatch: Arc<OnceLock<Dispatch>>,
}

impl Capture {
    /// An empty capture.
    pub fn new() -> Capture {
        Capture::default()
    }

    /// A dispatcher (Registry + our layer with its fast path) reporting into this capture,
    /// sampling every trace.
    /// Install it per thread with `tracing::dispatcher::set_default`, or on a runtime's threads.
    pub fn dispatch(&self) -> Dispatch {
        self.dispatch
            .get_or_init(|| {
                // The layer holds a capture without the dispatch slot, so no reference cycle.
                let store = Capture {
                    spans: Arc::clone(&self.spans),
                    dispatch: Arc::default(),
                };
                Dispatch::new(TracedSubscriber::new(
                    tracing_subscriber::registry().with(TracedLayer::new(store).fast_path(true)),
                ))
            })
            .clone()
    }

    /// A new subscriber reporting into this capture, with `sampler` deciding new traces.
    pub fn dispatch_with_sampler(&self, sampler: impl Sampler) -> Dispatch {
        self.dispatch_with_layer(|layer| layer.sampler(sampler))
    }

    /// A new subscriber reporting into this capture through a layer that `configure` adjusts
    /// (sampler, fast path). The layer starts with the fast path on, as [`crate::init`] sets
    /// it up when nothing else consumes spans.
    ///
    /// ```
    /// use traced::sample::AlwaysOff;
    /// use traced::testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let dispatch = capture.dispatch_with_layer(|layer| layer.sampler(AlwaysOff));
    /// tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("dropped").in_scope(|| {}));
    /// assert!(capture.spans().is_empty());
    /// ```
    pub fn dispatch_with_layer(
        &self,
        configure: impl FnOnce(TracedLayer) -> TracedLayer,
    ) -> Dispatch {
        let layer = TracedLayer::new(Capture {
            spans: Arc::clone(&self.spans),
            dispatch: Arc::default(),
        })
        .fast_path(true);
        Dispatch::new(TracedSubscriber::new(
            tracing_subscriber::registry().with(configure(layer)),
        ))
    }

    /// Runs `body` with this capture as the current thread's subscriber.
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch(), body)
    }

    /// A multi-thread tokio runtime whose worker threads all report into this capture.
    #[cfg(feature = "tokio")]
    pub fn multi_thread_runtime(&self, workers: usize) -> tokio::runtime::Runtime {
        let dispatch = self.dispatch();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .on_thread_start(move || {
                // The worker thread lives as long as the runtime; so does its default.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .build()
            .expect("a tokio runtime for the test")
    }

    /// The finished spans so far, in the order they closed.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.lock().clone()
    }

    /// The names of the finished spans so far, in the order they closed: what a test compares
    /// to say which spans a piece of code made.
    ///
    /// ```
    /// let capture = traced::testing::Capture::new();
    /// capture.in_scope(|| tracing::info_span!("checkout").in_scope(|| {}));
    /// assert_eq!(capture.names(), ["checkout"]);
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|span| span.name.to_string())
            .collect()
    }

    /// The one finished span named `name`; panics with the names seen if there is not exactly one.
    pub fn span(&self, name: &str) -> SpanRecord {
        let spans = self.lock();
        let mut matching = spans.iter().filter(|span| span.name == name);
        match (matching.next(), matching.next()) {
            (Some(span), None) => span.clone(),
            (found, _) => {
                let names: Vec<&str> = spans.iter().map(|span| &*span.name).collect();
                panic!(
                    "expected exactly one span named {name:?}, found {}; spans: {names:?}",
                    if found.is_some() { "several" } else { "none" }
                )
            }
        }
    }

    /// The finished spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> Vec<SpanRecord> {
        self.lock()
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Forgets every span captured so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SpanRecord>> {
        // A test that panicked while holding the lock must not hide the spans from the next one.
        self.spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Exporter for Capture {
    fn export(&self, span: SpanRecord) {
        self.lock().push(span);
    }

    fn flush(&self, _timeout: Duration) -> FlushOutcome {
        FlushOutcome::default()
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    #[test]
    fn spans_may_cross_from_a_test_thread_into_a_runtime_of_the_same_capture() {
        let capture = Capture::new();
        let runtime = capture.multi_thread_runtime(2);
        let span = capture.in_scope(|| tracing::info_span!("made on the test thread"));
        runtime.block_on(async move {
            tokio::spawn(async move { span.in_scope(|| {}) })
                .await
                .unwrap();
        });
        assert_eq!(capture.spans().len(), 1);
    }
}
