//! The span limits for exporters that encode on the instrumented thread (console, file): the
//! reporters apply them on their own thread instead.

use std::sync::Arc;
use std::time::Duration;

use crate::export::{Exporter, FlushOutcome};
use crate::limits::SpanLimits;
use crate::model::{SpanRecord, TraceId};

/// `exporter`, receiving spans cut to `limits`.
pub(super) fn with_limits(exporter: Arc<dyn Exporter>, limits: SpanLimits) -> Arc<dyn Exporter> {
    Arc::new(Limited {
        inner: exporter,
        limits,
    })
}

struct Limited {
    inner: Arc<dyn Exporter>,
    limits: SpanLimits,
}

impl Exporter for Limited {
    fn export(&self, mut span: SpanRecord) {
        self.limits.apply(&mut span);
        self.inner.export(span)
    }

    fn span_started(&self, trace: TraceId) {
        self.inner.span_started(trace)
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        self.inner.flush(timeout)
    }
}
