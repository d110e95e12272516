//! Continuing a caller's trace: the span that continues it, and the caller's `tracestate` kept
//! on the thread while that span's work runs, so W3C injection sends it on.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tracing::instrument::{Instrument, Instrumented};

use super::format::Format;
use super::w3c::TraceState;
use crate::model::{Remote, TraceId};

/// What an incoming request carried, with the W3C vendor data that goes with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Incoming {
    /// The caller's context or sampling decision.
    pub(crate) remote: Remote,
    /// The format it came in.
    pub(crate) format: Format,
    /// `tracestate`, when the context came as a valid `traceparent` and the state had valid
    /// members.
    pub(crate) trace_state: Option<TraceState>,
}

type ScopedState = Option<(TraceId, Arc<TraceState>)>;

thread_local! {
    /// The `tracestate` of the W3C trace being continued on this thread, keyed by its trace id
    /// so a span of another trace never sends it.
    pub(super) static TRACE_STATE: RefCell<ScopedState> = const { RefCell::new(None) };
}

fn scoped_state(incoming: Option<&Incoming>) -> ScopedState {
    let incoming = incoming?;
    let context = incoming.remote.context()?;
    let state = incoming.trace_state.clone()?;
    Some((context.trace_id, Arc::new(state)))
}

impl Incoming {
    /// The caller's trace and its `tracestate` as header text, for the span continuing it.
    pub(crate) fn trace_state_text(&self) -> (TraceId, Option<Arc<str>>) {
        let trace = self
            .remote
            .context()
            .map_or(TraceId(0), |context| context.trace_id);
        let text = self
            .trace_state
            .as_ref()
            .filter(|_| trace.0 != 0)
            .map(|state| Arc::from(state.header()));
        (trace, text)
    }
}

/// Binds a trace state to the thread and puts the previous one back when dropped, so nesting
/// and early returns restore it.
struct StateGuard {
    previous: ScopedState,
    /// The same state as text, for the spans of the trace to record (`remote_parent.rs`).
    previous_text: Option<crate::remote_parent::BoundTraceState>,
}

impl StateGuard {
    fn bind(state: ScopedState) -> StateGuard {
        let text = state
            .as_ref()
            .map(|(trace, members)| (*trace, Arc::<str>::from(members.header())));
        let previous_text =
            text.map(|(trace, header)| crate::remote_parent::bind_trace_state(trace, Some(header)));
        StateGuard {
            previous: TRACE_STATE.with(|current| current.replace(state)),
            previous_text,
        }
    }
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // During thread teardown the slot may already be gone; nothing is left to restore then.
        let _ = TRACE_STATE.try_with(|current| *current.borrow_mut() = previous);
        if let Some(previous_text) = self.previous_text.take() {
            crate::remote_parent::restore_trace_state(previous_text);
        }
    }
}

#[cfg(feature = "tower")]
impl Incoming {
    /// Runs `body` with this request's `tracestate` kept for W3C injection into calls of the
    /// same trace (for integrations that enter their span themselves).
    pub(crate) fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let _state = StateGuard::bind(scoped_state(Some(self)));
        body()
    }
}

/// A span that continues a caller's trace, with the caller's `tracestate`: what
/// [`Propagator::continue_trace`](super::Propagator::continue_trace) returns. Run the work in
/// it with [`in_scope`](Continuation::in_scope) or [`instrument`](Continuation::instrument).
///
/// ```
/// use traced::propagation::Propagator;
/// use traced::testing::Capture;
///
/// let headers = vec![
///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
///     ("tracestate", "congo=t61rcWkgMzE"),
/// ];
/// let propagator = Propagator::trace_context();
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let sent = Capture::new().in_scope(|| {
///     let continuation = propagator.continue_trace(&headers, || tracing::info_span!("handle"));
///     runtime.block_on(continuation.instrument(async {
///         let mut out = http::HeaderMap::new();
///         propagator.inject(&traced::current_context().unwrap(), &mut out);
///         out
///     }))
/// });
/// assert!(sent["traceparent"].to_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// assert_eq!(sent["tracestate"], "congo=t61rcWkgMzE");
/// ```
#[must_use = "the trace continues only in the work run with `in_scope` or `instrument`"]
pub struct Continuation {
    span: tracing::Span,
    trace_state: ScopedState,
}

impl Continuation {
    pub(super) fn new(span: tracing::Span, incoming: Option<&Incoming>) -> Continuation {
        Continuation {
            span,
            trace_state: scoped_state(incoming),
        }
    }

    /// The span that continues the trace.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Runs `body` inside the span, with the caller's `tracestate` kept for injection.
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let _state = StateGuard::bind(self.trace_state.clone());
        self.span.in_scope(body)
    }

    /// Runs `future` inside the span (entered on every poll), with the caller's `tracestate`
    /// kept for injection while it is polled.
    pub fn instrument<F: Future>(self, future: F) -> Continued<F> {
        Continued {
            inner: future.instrument(self.span),
            trace_state: self.trace_state,
        }
    }
}

impl fmt::Debug for Continuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuation")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// A future running inside a span that continues a caller's trace; see
    /// [`Continuation::instrument`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Continued<F> {
        #[pin]
        inner: Instrumented<F>,
        trace_state: ScopedState,
    }
}

impl<F> Continued<F> {
    /// The span the future runs in.
    pub fn span(&self) -> &tracing::Span {
        self.inner.span()
    }
}

impl<F: Future> Future for Continued<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _state = StateGuard::bind(this.trace_state.clone());
        this.inner.poll(cx)
    }
}

impl<F> fmt::Debug for Continued<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continued")
            .field("span", self.inner.span())
            .finish_non_exhaustive()
    }
}
