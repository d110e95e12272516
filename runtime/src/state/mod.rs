//! What is kept for each open span, in the registry's extensions or in a frame, until it
//! becomes a [`SpanRecord`](crate::model::SpanRecord).

mod baggage;
mod fields;
mod record;

use std::borrow::Cow;
use std::sync::Arc;

use tracing_core::{Level, Metadata};

use crate::baggage::Baggage;
use crate::clock::Timestamp;
use crate::model::{Annotation, Kind, Link, Sampling, SpanContext, TagValue, Tags, TraceId};
use crate::pipeline::{child_context, start_time};
use crate::semconv::PeerFields;

/// A typed argument small enough to pass in registers (16 bytes), unlike a `TagValue`.
#[derive(Clone, Copy)]
pub(crate) enum Scalar {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl From<Scalar> for TagValue {
    #[inline(always)]
    fn from(value: Scalar) -> TagValue {
        match value {
            Scalar::I64(value) => TagValue::I64(value),
            Scalar::U64(value) => TagValue::U64(value),
            Scalar::F64(value) => TagValue::F64(value),
            Scalar::Bool(value) => TagValue::Bool(value),
        }
    }
}

/// What a child inherits from its parent: the ids and sampling, the service it runs in, and the
/// baggage, when there is any.
pub(crate) type Inherited = (SpanContext, Option<Arc<str>>, Option<Baggage>);

/// What the layer keeps for each open span, in the registry's extensions or in a frame.
///
/// Typed tags live inline (`Tags`), so a span with a few integer arguments needs no heap. A
/// renamed span, events and network fields, which most spans do not have, live in `details`,
/// allocated on first use.
pub(crate) struct SpanState {
    pub(crate) context: SpanContext,
    pub(crate) start: Timestamp,
    pub(crate) meta: &'static Metadata<'static>,
    kind: Option<Kind>,
    local_root: bool,
    shared: bool,
    pub(crate) service: Option<Arc<str>>,
    tags: Tags,
    details: Option<Box<Details>>,
}

/// The parts of a span that only some spans have.
#[derive(Default)]
struct Details {
    name: Option<String>,
    annotations: Vec<Annotation>,
    links: Vec<Link>,
    peer: PeerFields,
    /// The caller's W3C `tracestate`, on the root that continues its trace.
    trace_state: Option<Arc<str>>,
    /// A registry span standing for a `#[traced]` frame (`subscriber.rs`) while the frame is
    /// open: not reported as such; when the frame ends, its state replaces this one.
    twin: bool,
    /// The baggage of the span (its parent's, and what was set on it): see `state/baggage.rs`.
    baggage: Baggage,
}

impl SpanState {
    /// A span's state before any field is recorded.
    pub(crate) fn new(
        context: SpanContext,
        meta: &'static Metadata<'static>,
        local_root: bool,
        service: Option<Arc<str>>,
    ) -> SpanState {
        SpanState::started(context, start_time(context), meta, local_root, service)
    }

    /// A span's state, started at `start`, before any field is recorded.
    pub(crate) fn started(
        context: SpanContext,
        start: Timestamp,
        meta: &'static Metadata<'static>,
        local_root: bool,
        service: Option<Arc<str>>,
    ) -> SpanState {
        SpanState {
            context,
            start,
            meta,
            kind: None,
            local_root,
            shared: false,
            service,
            tags: Tags::new(),
            details: None,
        }
    }

    /// Makes this (finished, emptied) state a new span's, in place. Inlined into the fast path's
    /// `frame::push`, its one caller: left to the compiler, a change elsewhere in the crate once
    /// made it a call and cost every sampled span 22 instructions (callgrind, `report
    /// instructions`).
    #[inline(always)]
    pub(crate) fn reset(
        &mut self,
        context: SpanContext,
        start: Timestamp,
        meta: &'static Metadata<'static>,
        local_root: bool,
        service: Option<Arc<str>>,
    ) {
        self.context = context;
        self.start = start;
        self.meta = meta;
        self.kind = None;
        self.local_root = local_root;
        self.shared = false;
        self.service = service;
        self.tags.clear();
        self.details = None;
    }

    /// Makes this state a stand-in for `span` during one poll of its future: same ids, no
    /// tags; what is recorded into it goes back with [`SpanState::give_back`].
    pub(crate) fn stand_in_for(&mut self, span: &SpanState) {
        self.context = span.context;
        self.start = span.start;
        self.meta = span.meta;
        self.kind = None;
        self.local_root = span.local_root;
        self.shared = span.shared;
        self.service.clone_from(&span.service);
        self.tags.clear();
        self.details = None;
        // Read during the poll, and inherited by the calls made in it.
        if let Some(baggage) = span.baggage() {
            self.details().baggage = baggage.clone();
        }
    }

    /// Moves what was recorded into this stand-in (events, an error) to the span it stood in
    /// for. An error the span already has is kept, as for an ERROR event on the span itself.
    pub(crate) fn give_back(&mut self, span: &mut SpanState) {
        // A shutdown reported the span through this stand-in and left it unsampled: so is the
        // span, which must not be reported a second time.
        if !self.context.sampling.is_sampled() {
            span.context.sampling = self.context.sampling;
        }
        for (key, value) in self.tags.drain() {
            if key != "error" || !span.has_tag("error") {
                span.set_tag(key, value);
            }
        }
        if let Some(kind) = self.kind.take() {
            span.kind = Some(kind);
        }
        if let Some(mut details) = self.details.take() {
            let target = span.details();
            target.annotations.append(&mut details.annotations);
            target.links.append(&mut details.links);
            if let Some(name) = details.name.take() {
                target.name = Some(name);
            }
            // The stand-in began with the span's baggage: what it holds now is the span's.
            target.baggage = std::mem::take(&mut details.baggage);
        }
    }

    /// A child of a span of this process.
    pub(crate) fn child(
        parent: SpanContext,
        meta: &'static Metadata<'static>,
        service: Option<Arc<str>>,
    ) -> SpanState {
        SpanState::new(child_context(parent), meta, false, service)
    }

    /// What a child of this span inherits.
    pub(crate) fn inherited(&self) -> Inherited {
        (self.context, self.service.clone(), self.baggage().cloned())
    }

    /// The state of a frame's twin: the frame's own ids, not reported while it is a twin (see
    /// `subscriber.rs`).
    pub(crate) fn twin(
        (context, service, baggage): Inherited,
        meta: &'static Metadata<'static>,
    ) -> SpanState {
        let mut state = SpanState::started(context, Timestamp::ZERO, meta, false, service);
        state.inherit_baggage(baggage);
        state.details().twin = true;
        state
    }

    /// Whether this is a frame's twin whose frame is still open, which is not reported.
    pub(crate) fn is_twin(&self) -> bool {
        self.details.as_ref().is_some_and(|details| details.twin)
    }

    /// Moves what was recorded on a frame's twin (tags, events, a new name) into the frame,
    /// leaving the twin's ids and baggage as they are for the spans still under it.
    ///
    /// The frame keeps its own baggage: the twin's is the copy it started with (baggage is set
    /// on the innermost frame, not on its twin), and would undo what was set on the frame since.
    pub(crate) fn absorb_twin(&mut self, twin: &mut SpanState) {
        let twin_baggage = twin.baggage().cloned();
        let own_baggage = self.baggage().cloned();
        twin.give_back(self);
        if let Some(details) = self.details.as_mut() {
            details.baggage = own_baggage.unwrap_or_default();
        }
        twin.inherit_baggage(twin_baggage);
        twin.details().twin = true;
    }

    /// The service the span is reported as (what a `service.name` field sets), shared rather
    /// than copied.
    // Only the server span (`http/server_span.rs`) uses it.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn set_service(&mut self, service: Arc<str>) {
        self.service = Some(service);
    }

    /// Marks a root that continues a caller's trace: it keeps the caller's W3C `tracestate`, and
    /// with `shared` it is reported under the caller's span id (Zipkin's shared RPC span), which
    /// only a caller that sent its span id has (a bare decision starts a trace).
    pub(crate) fn continue_caller(
        &mut self,
        remote: crate::model::Remote,
        shared: bool,
        trace_state: Option<Arc<str>>,
    ) {
        self.set_trace_state(trace_state);
        if shared && matches!(remote, crate::model::Remote::Context(_)) {
            self.set_shared();
        }
    }

    /// Marks the span as reported under its caller's span id (Zipkin's shared RPC span).
    pub(crate) fn set_shared(&mut self) {
        self.shared = true;
    }

    /// Tags the span with the panic this thread is unwinding from.
    pub(crate) fn record_panic(&mut self) {
        if let Some(message) = crate::panic::current_panic_message() {
            self.record_text("error", Cow::Owned(message));
            self.record_text("error.type", Cow::Borrowed("panic"));
        }
    }

    /// Marks a span whose work never completed: its future was dropped before it finished (a
    /// timeout, a `select!` that took another branch, a task aborted). Tag `cancelled=true` and
    /// an annotation `cancelled` at the moment of the drop, so it does not look like a success.
    pub(crate) fn mark_cancelled(&mut self) {
        self.set_tag(
            Cow::Borrowed(crate::semconv::CANCELLED),
            TagValue::Bool(true),
        );
        self.annotate(
            Level::INFO,
            Annotation::new(Timestamp::now().epoch_us(), crate::semconv::CANCELLED),
        );
    }

    /// Marks a span reported at shutdown while it was still open: tag `open_at_shutdown=true`
    /// and an annotation `open at shutdown`; its duration runs until the shutdown.
    pub(crate) fn mark_open_at_shutdown(&mut self) {
        self.set_tag(
            Cow::Borrowed(crate::semconv::OPEN_AT_SHUTDOWN),
            TagValue::Bool(true),
        );
        self.annotate(
            Level::INFO,
            Annotation::new(Timestamp::now().epoch_us(), "open at shutdown"),
        );
    }

    /// Whether a panic was recorded on the span (it ended by unwinding, not by cancellation).
    pub(crate) fn panicked(&self) -> bool {
        self.tags.iter().any(|(name, value)| {
            name == crate::semconv::ERROR_TYPE
                && matches!(value, TagValue::Str(text) if text == "panic")
        })
    }

    /// A state that is never reported, to record values into before they are moved elsewhere.
    pub(crate) fn scratch(meta: &'static Metadata<'static>) -> SpanState {
        let context = SpanContext {
            trace_id: TraceId(0),
            span_id: crate::model::SpanId(0),
            parent_id: None,
            sampling: Sampling::Deny,
        };
        SpanState::new(context, meta, false, None)
    }

    /// Moves `from`'s tags into this state's.
    pub(crate) fn take_tags(&mut self, from: &mut SpanState) {
        for (key, value) in from.tags.drain() {
            self.set_tag(key, value);
        }
    }

    /// Sets a tag; a key recorded again keeps its place and takes the new value.
    fn set_tag(&mut self, key: Cow<'static, str>, value: TagValue) {
        if let Some(slot) = self.tags.iter_mut().find(|(name, _)| *name == key) {
            slot.1 = value;
        } else {
            self.tags.push((key, value));
        }
    }

    fn details(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    fn has_tag(&self, key: &str) -> bool {
        self.tags.iter().any(|(name, _)| name == key)
    }

    /// Adds a tag whose key is new to the span (a call's argument, recorded first).
    #[inline]
    pub(crate) fn push_tag(&mut self, key: &'static str, value: TagValue) {
        self.tags.push((Cow::Borrowed(key), value));
    }

    /// Adds a typed argument whose key is new to the span, written straight into its place.
    ///
    /// Why not `push_tag`: a tag is 64 bytes; built on the stack with 8-byte stores and copied
    /// into the list with 16-byte loads right after, every copy misses store forwarding (perf
    /// shows ~10 ns per argument on that load alone). Written field by field in place, from
    /// values held in registers, there is nothing to copy.
    #[inline]
    pub(crate) fn push_scalar(&mut self, key: &'static str, value: Scalar) {
        let tags = self.tags.storage();
        let len = tags.len();
        if len == tags.capacity() {
            tags.push((Cow::Borrowed(key), value.into()));
            return;
        }
        // SAFETY: `len < capacity`, so the slot at `len` is allocated and unused; it is fully
        // written (both fields) before the length covers it, and nothing reads it before.
        unsafe {
            let slot = tags.as_mut_ptr().add(len);
            std::ptr::addr_of_mut!((*slot).0).write(Cow::Borrowed(key));
            std::ptr::addr_of_mut!((*slot).1).write(value.into());
            tags.set_len(len + 1);
        }
    }

    /// Adds an event as an annotation; an ERROR event also tags the span as failed.
    pub(crate) fn annotate(&mut self, level: Level, annotation: Annotation) {
        if level == Level::ERROR && !self.has_tag("error") {
            let text = annotation.text();
            let message = if text.is_empty() {
                "error".to_owned()
            } else {
                text.into_owned()
            };
            self.tags
                .push((Cow::Borrowed("error"), TagValue::Str(Cow::Owned(message))));
        }
        self.details().annotations.push(annotation);
    }

    /// Keeps the caller's W3C `tracestate` header text (the root continuing its trace).
    pub(crate) fn set_trace_state(&mut self, trace_state: Option<Arc<str>>) {
        if trace_state.is_some() {
            self.details().trace_state = trace_state;
        }
    }

    /// Records that this span follows from another (a span link in OTLP).
    pub(crate) fn follows_from(&mut self, link: Link) {
        if !self.details().links.contains(&link) {
            self.details().links.push(link);
        }
    }
}
