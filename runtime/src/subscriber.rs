//! [`TracedSubscriber`]: the outermost subscriber that makes `#[traced]`'s fast path a real
//! `tracing` citizen, so `tracing::Span::current()` sees a `#[traced]` call at any depth.
//!
//! The fast path keeps a `#[traced]` call's span on our own per-thread stack (a frame), not in
//! the registry. Library code that asks `tracing::Span::current()` — to record a field, to
//! parent a span explicitly, to carry the context into a task with `.in_current_span()` — would
//! get the registry's answer, which knows nothing of frames. A `tracing_subscriber::Layer`
//! cannot change that answer (`current_span` is the subscriber's own method), so this wrapper
//! does: when a frame is the innermost scope, `current_span` gives a registry span that is that
//! frame's twin — made on the first ask, with the frame's ids — and the fast path costs nothing
//! more until someone asks. While the call runs, the twin is not a span of its own; when the call
//! ends, the frame hands its state (with what was recorded on the twin) to the twin, and our
//! layer reports the call when the twin closes — at once, or when the last handle someone kept
//! is dropped, as with a tracing span.
//!
//! The fast path is offered only through this wrapper: a `TracedLayer` with
//! [`fast_path(true)`](crate::TracedLayer::fast_path) in a subscriber that is not wrapped makes
//! ordinary tracing spans, which are always correct. `traced::init()` and `traced::builder()`
//! wrap for you; wrap your own composition to keep the fast path:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use traced::testing::Capture;
//! use traced::{traced, TracedLayer, TracedSubscriber};
//!
//! #[traced]
//! fn handle() -> Option<&'static str> {
//!     // What library code sees, however deep below the call.
//!     tracing::Span::current().metadata().map(|meta| meta.name())
//! }
//!
//! let capture = Capture::new();
//! let subscriber = TracedSubscriber::new(
//!     tracing_subscriber::registry().with(TracedLayer::new(capture.clone()).fast_path(true)),
//! );
//! let name = tracing::subscriber::with_default(subscriber, handle);
//! assert_eq!(name, Some("handle"));
//! assert_eq!(capture.spans().len(), 1);
//! ```

use std::any::TypeId;
use std::sync::{Arc, OnceLock};

use tracing_core::dispatcher::WeakDispatch;
use tracing_core::span::{Attributes, Current, Id, Record};
use tracing_core::subscriber::{Interest, Subscriber};
use tracing_core::{Dispatch, Event, LevelFilter, Metadata};

use crate::pipeline::{Core, OfferedCore};

/// Wraps a subscriber that contains a [`TracedLayer`](crate::TracedLayer), so `#[traced]` calls
/// take the fast path and `tracing::Span::current()` still names them (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct TracedSubscriber<S> {
    inner: S,
    /// The dispatcher this subscriber is in, for the twins to be closed through later
    /// (`current_span` runs inside the dispatcher, where asking for the default gives none).
    dispatch: OnceLock<WeakDispatch>,
}

impl<S: Subscriber> TracedSubscriber<S> {
    /// Wraps `inner`, typically `tracing_subscriber::registry().with(traced_layer)...`.
    pub fn new(inner: S) -> TracedSubscriber<S> {
        TracedSubscriber {
            inner,
            dispatch: OnceLock::new(),
        }
    }

    /// The wrapped subscriber.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The twin of the innermost frame, made now if it has none: a span of `inner` with the
    /// frame's ids, or `None` when no frame is the innermost scope (or `inner` filters it out).
    fn frame_twin(&self) -> Option<Current> {
        let innermost = crate::frame::innermost_for_twin()?;
        let meta = innermost.meta;
        if let Some(id) = innermost.twin {
            return Some(Current::new(id, meta));
        }
        if !self.inner.enabled(meta) {
            return None;
        }
        let values = meta.fields().value_set::<[_; 0]>(&[]);
        let attributes = Attributes::new(meta, &values);
        let id =
            crate::frame::making_twin(innermost.inherited, || self.inner.new_span(&attributes));
        let dispatch = self.dispatch.get().and_then(WeakDispatch::upgrade);
        crate::frame::keep_twin(innermost.index, id.clone(), dispatch);
        Some(Current::new(id, meta))
    }
}

impl<S: Subscriber> Subscriber for TracedSubscriber<S> {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values)
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows)
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.inner.event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        self.inner.event(event)
    }

    fn enter(&self, span: &Id) {
        self.inner.enter(span)
    }

    fn exit(&self, span: &Id) {
        self.inner.exit(span)
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }

    fn current_span(&self) -> Current {
        match self.frame_twin() {
            Some(twin) => twin,
            None => self.inner.current_span(),
        }
    }

    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
        self.inner.on_register_dispatch(subscriber)
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        if id == TypeId::of::<Arc<Core>>() {
            // The fast path, offered by the layer inside only to us (see the module docs).
            // SAFETY: forwarded to the wrapped subscriber, whose contract is the same; the
            // pointer it returns for `OfferedCore` points to an `Arc<Core>`, as asked.
            return unsafe { self.inner.downcast_raw(TypeId::of::<OfferedCore>()) };
        }
        // SAFETY: forwarded as is: the wrapped subscriber answers for its own types.
        unsafe { self.inner.downcast_raw(id) }
    }
}
