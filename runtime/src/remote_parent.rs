//! What the next root span takes when it is created: a caller's context to continue, and the
//! sampler that decides a new trace instead of the layer's (an HTTP sampling rule, a function's
//! `sampler = …`). Set around the code that makes the span, taken by the layer (or the frame
//! path) when the span is created. And the caller's W3C `tracestate`, bound to the thread while
//! the continued work runs (so spans of that trace record it, for OTLP's `trace_state`).

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::model::{Remote, TraceId};
use crate::sample::Sampler;

/// What waits for the next root span on this thread.
pub(crate) struct Pending {
    /// A caller's context, and whether the span shares the caller's span id.
    pub(crate) remote: Option<(Remote, bool)>,
    /// Decides a new trace (or a caller's deferred decision) instead of the layer's sampler.
    pub(crate) sampler: Option<RootSampler>,
}

/// A sampler that replaces the layer's for one root span.
pub(crate) enum RootSampler {
    /// A rule's sampler, shared by every request the rule matches (it may keep a rate budget).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    Shared(Arc<dyn Sampler>),
    /// A `#[traced(sampler = …)]` choice, which keeps no state.
    Function(crate::sample::RootSampler),
}

impl RootSampler {
    pub(crate) fn as_sampler(&self) -> &dyn Sampler {
        match self {
            RootSampler::Shared(sampler) => &**sampler,
            RootSampler::Function(sampler) => sampler,
        }
    }
}

thread_local! {
    static PENDING: Cell<Option<Pending>> = const { Cell::new(None) };
}

thread_local! {
    /// The trace whose `tracestate` is bound, 0 for none. Separate from the text so the check
    /// every finished span makes is one read of a constant-initialised cell, no lazy init.
    static TRACE_STATE_TRACE: Cell<u128> = const { Cell::new(0) };
    static TRACE_STATE_TEXT: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// A bound `tracestate`: the trace it belongs to and its header text.
pub(crate) type BoundTraceState = (u128, Option<Arc<str>>);

/// Binds `trace`'s `tracestate` header text to this thread; returns what was bound before, for
/// [`restore_trace_state`].
pub(crate) fn bind_trace_state(trace: TraceId, header: Option<Arc<str>>) -> BoundTraceState {
    let trace = if header.is_some() { trace.0 } else { 0 };
    let previous_trace = TRACE_STATE_TRACE.with(|bound| bound.replace(trace));
    let previous_text = TRACE_STATE_TEXT.with(|text| text.replace(header));
    (previous_trace, previous_text)
}

/// Runs `body` (which makes the span continuing `trace`) with `header` bound, so that span
/// keeps it.
pub(crate) fn with_trace_state<R>(
    trace: TraceId,
    header: Option<Arc<str>>,
    body: impl FnOnce() -> R,
) -> R {
    if header.is_none() {
        return body();
    }
    struct Restore(Option<BoundTraceState>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                restore_trace_state(previous);
            }
        }
    }
    let _restore = Restore(Some(bind_trace_state(trace, header)));
    body()
}

/// Puts back what [`bind_trace_state`] replaced (nothing during thread teardown).
pub(crate) fn restore_trace_state((trace, text): BoundTraceState) {
    let _ = TRACE_STATE_TRACE.try_with(|bound| bound.set(trace));
    let _ = TRACE_STATE_TEXT.try_with(|bound| *bound.borrow_mut() = text);
}

/// The `tracestate` header text bound for `trace` on this thread, if any.
#[inline]
pub(crate) fn trace_state_of(trace: TraceId) -> Option<Arc<str>> {
    if trace.0 == 0 || TRACE_STATE_TRACE.with(Cell::get) != trace.0 {
        return None;
    }
    TRACE_STATE_TEXT.with(|text| text.borrow().clone())
}

/// Runs `make_span` so that the first root span it creates continues `remote` — the context a
/// caller sent — instead of starting a new trace.
///
/// With `shared`, the span reuses the caller's span id and is reported with `shared: true`
/// (Zipkin's classic RPC model); otherwise it is a new child of the caller's span.
pub(crate) fn with_remote_parent<R>(
    remote: Remote,
    shared: bool,
    make_span: impl FnOnce() -> R,
) -> R {
    // A sampler already waiting (a function's own `sampler = ..`) still decides a trace the
    // caller left undecided.
    let sampler = PENDING
        .try_with(Cell::take)
        .ok()
        .flatten()
        .and_then(|pending| pending.sampler);
    with_pending(
        Pending {
            remote: Some((remote, shared)),
            sampler,
        },
        make_span,
    )
}

/// Runs `make_span` so that the first root span it creates takes `pending`.
pub(crate) fn with_pending<R>(pending: Pending, make_span: impl FnOnce() -> R) -> R {
    struct ClearOnExit;
    impl Drop for ClearOnExit {
        fn drop(&mut self) {
            let _ = PENDING.try_with(|cell| cell.set(None));
        }
    }
    let _ = PENDING.try_with(|cell| cell.set(Some(pending)));
    let _clear = ClearOnExit;
    make_span()
}

/// What waits for the root span being created, if anything: taken, so only the first root span
/// takes it.
pub(crate) fn take_pending() -> Option<Pending> {
    PENDING.try_with(Cell::take).ok().flatten()
}
