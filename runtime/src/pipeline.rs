//! The pipeline's core: what every span of one layer shares — its sampler, its exporter — and
//! how a span's ids and sampling are decided (a new root, a child, a remote caller's continuation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::export::Exporter;
use crate::ids::{new_span_id, new_trace_id};
use crate::model::{Remote, Sampling, SpanContext, TraceId};
use crate::sample::Sampler;

/// What `#[traced]` frames need of the layer, shared with them: the layer hands it out through
/// `downcast_raw` only while the fast path is on.
pub(crate) struct Core {
    /// Tells this layer's frames from another subscriber's on the same thread.
    pub(crate) id: u64,
    sampler: Box<dyn Sampler>,
    pub(crate) exporter: Arc<dyn Exporter>,
    /// The baggage keys copied onto every span that has them, as tags.
    pub(crate) baggage_tags: Box<[Box<str>]>,
}

/// The key under which a `TracedLayer` offers its core for the fast path: only
/// `TracedSubscriber` asks for it (and answers for `Arc<Core>` in turn), so frames exist only
/// where `tracing::Span::current()` can see them.
pub(crate) enum OfferedCore {}

/// When a span with `context` starts: now, or never for an unsampled span, which is never
/// reported and so skips the clock read.
pub(crate) fn start_time(context: SpanContext) -> Timestamp {
    if context.sampling.is_sampled() {
        Timestamp::now()
    } else {
        Timestamp::ZERO
    }
}

/// A new child's context under `parent`.
pub(crate) fn child_context(parent: SpanContext) -> SpanContext {
    SpanContext {
        trace_id: parent.trace_id,
        span_id: new_span_id(),
        parent_id: Some(parent.span_id),
        sampling: parent.sampling,
    }
}

impl Core {
    /// A core with a new id, which tells its frames from other layers'.
    pub(crate) fn new(sampler: Box<dyn Sampler>, exporter: Arc<dyn Exporter>) -> Core {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Core {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            sampler,
            exporter,
            baggage_tags: Box::default(),
        }
    }

    /// The same core (same id, same exporter) deciding new traces with `sampler`.
    pub(crate) fn with_sampler(&self, sampler: Box<dyn Sampler>) -> Core {
        Core {
            id: self.id,
            sampler,
            exporter: Arc::clone(&self.exporter),
            baggage_tags: self.baggage_tags.clone(),
        }
    }

    /// The context of a root span named `operation` that continues `remote`, a caller's context
    /// or decision: with `shared`, the caller's own span id (Zipkin's shared RPC span), else a
    /// child of it. `sampler`, when given, decides instead of this core's sampler.
    pub(crate) fn continue_remote(
        &self,
        remote: Remote,
        shared: bool,
        operation: &str,
        sampler: Option<&dyn Sampler>,
    ) -> SpanContext {
        match remote {
            Remote::Context(caller) => {
                let sampling =
                    self.decide(caller.trace_id, Some(caller.sampling), operation, sampler);
                if shared {
                    SpanContext { sampling, ..caller }
                } else {
                    SpanContext {
                        trace_id: caller.trace_id,
                        span_id: new_span_id(),
                        parent_id: Some(caller.span_id),
                        sampling,
                    }
                }
            }
            // A new trace, under the caller's decision when it sent one without ids.
            Remote::DecisionOnly(incoming) => {
                let trace_id = new_trace_id();
                SpanContext {
                    trace_id,
                    span_id: new_span_id(),
                    parent_id: None,
                    sampling: self.decide(trace_id, Some(incoming), operation, sampler),
                }
            }
        }
    }

    /// A new trace's root context, for a span named `operation`, sampled by this layer's
    /// sampler or by `sampler` when given.
    pub(crate) fn root_context(
        &self,
        operation: &str,
        sampler: Option<&dyn Sampler>,
    ) -> SpanContext {
        let trace_id = new_trace_id();
        SpanContext {
            trace_id,
            span_id: new_span_id(),
            parent_id: None,
            sampling: self.decide(trace_id, None, operation, sampler),
        }
    }

    /// The sampling of a trace: a caller's debug flag wins, then this core's sampler, and an
    /// undecided sampler means no. A sampler that replaces the core's (an HTTP rule, a function's
    /// `sampler = …`) only decides what the caller left open: a caller's accept or deny is kept,
    /// as a parent-based sampler keeps it.
    pub(crate) fn decide(
        &self,
        trace_id: TraceId,
        incoming: Option<Sampling>,
        operation: &str,
        sampler: Option<&dyn Sampler>,
    ) -> Sampling {
        if incoming == Some(Sampling::Debug) {
            return Sampling::Debug;
        }
        let decided = match sampler {
            Some(sampler) => match incoming {
                Some(decided @ (Sampling::Accept | Sampling::Deny)) => decided,
                _ => sampler.sample_operation(trace_id, incoming, operation),
            },
            None => self.sampler.sample_operation(trace_id, incoming, operation),
        };
        match decided {
            Sampling::Defer => Sampling::Deny,
            decided => decided,
        }
    }
}
