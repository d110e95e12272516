//! Where finished spans go: the [`Exporter`] trait and a fan-out over several exporters.

use std::sync::Arc;
use std::time::Duration;

use crate::model::{SpanRecord, TraceId};

/// Receives finished spans from the layer.
///
/// `export` is called on the thread that closed the span, inside the instrumented code, so an
/// implementation must never block: queue the span, or drop it and count the drop.
///
/// ```
/// use std::sync::Mutex;
/// use traced::export::Exporter;
/// use traced::model::SpanRecord;
///
/// #[derive(Default)]
/// struct Names(Mutex<Vec<String>>);
///
/// impl Exporter for Names {
///     fn export(&self, span: SpanRecord) {
///         self.0.lock().unwrap().push(span.name.into_owned());
///     }
/// }
/// ```
pub trait Exporter: Send + Sync + 'static {
    /// Takes one finished, sampled span.
    fn export(&self, span: SpanRecord);

    /// A sampled span of `trace` has started; exporters that group whole traces count these.
    fn span_started(&self, _trace: TraceId) {}

    /// Sends what is queued, waiting at most `timeout`; says what could not be sent.
    fn flush(&self, _timeout: Duration) -> FlushOutcome {
        FlushOutcome::default()
    }
}

/// What a flush achieved.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct FlushOutcome {
    /// Spans still queued or in flight when the deadline passed, or that failed for good.
    pub unsent: u64,
}

impl<E: Exporter + ?Sized> Exporter for Arc<E> {
    fn export(&self, span: SpanRecord) {
        (**self).export(span)
    }

    fn span_started(&self, trace: TraceId) {
        (**self).span_started(trace)
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        (**self).flush(timeout)
    }
}

/// Sends every span to each of several exporters (`OTEL_TRACES_EXPORTER=zipkin,console`).
///
/// ```
/// use std::sync::Arc;
/// use traced::export::{Exporter, FanOut};
/// use traced::testing::Capture;
///
/// let first = Capture::new();
/// let second = Capture::new();
/// let both = FanOut::new(vec![Arc::new(first.clone()), Arc::new(second.clone())]);
/// both.export(Default::default());
/// assert_eq!(first.spans().len() + second.spans().len(), 2);
/// ```
pub struct FanOut {
    exporters: Vec<Arc<dyn Exporter>>,
}

impl FanOut {
    /// Fans out to `exporters`, in order.
    pub fn new(exporters: Vec<Arc<dyn Exporter>>) -> FanOut {
        FanOut { exporters }
    }
}

impl Exporter for FanOut {
    fn export(&self, span: SpanRecord) {
        if let Some((last, rest)) = self.exporters.split_last() {
            for exporter in rest {
                exporter.export(span.clone());
            }
            last.export(span);
        }
    }

    fn span_started(&self, trace: TraceId) {
        for exporter in &self.exporters {
            exporter.span_started(trace);
        }
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        let deadline = std::time::Instant::now() + timeout;
        let mut outcome = FlushOutcome::default();
        for exporter in &self.exporters {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            outcome.unsent += exporter.flush(left).unsent;
        }
        outcome
    }
}
