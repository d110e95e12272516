//! The `tracing-subscriber` layer that turns tracing spans — `#[traced]`'s and every library's —
//! into Zipkin spans.
//!
//! Per-span state lives in the registry's extensions, so library spans and ours share one tree.
//! With the fast path on, `#[traced]` calls skip the registry and keep the same state in frames
//! on a per-thread stack (`crate::frame`); the layer parents library spans and events to the
//! innermost of the two. Sampling is decided at the root and inherited; unsampled spans keep only
//! their ids (so they still propagate) and skip all recording.

use std::any::TypeId;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::clock::Timestamp;
use crate::export::Exporter;
use crate::ids::{new_span_id, new_trace_id};
use crate::model::{
    Annotation, Endpoint, Kind, Remote, Sampling, SpanContext, SpanRecord, TagValue, Tags, TraceId,
};
use crate::sample::{AlwaysOn, Sampler};

/// Turns tracing spans into Zipkin spans and hands them to an [`Exporter`].
///
/// Most programs get one from [`crate::init`]; compose it yourself with [`crate::layer()`] or
/// [`TracedLayer::new`].
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use traced::testing::Capture;
///
/// let capture = Capture::new();
/// let subscriber = tracing_subscriber::registry()
///     .with(traced::layer::TracedLayer::new(capture.clone()));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("work").in_scope(|| {});
/// });
/// assert_eq!(capture.spans()[0].name, "work");
/// ```
pub struct TracedLayer {
    core: Arc<Core>,
    with_context: WithContext,
    fast_path: bool,
}

/// What `#[traced]` frames need of the layer, shared with them: the layer hands it out through
/// `downcast_raw` only while the fast path is on.
pub(crate) struct Core {
    /// Tells this layer's frames from another subscriber's on the same thread.
    pub(crate) id: u64,
    sampler: Box<dyn Sampler>,
    pub(crate) exporter: Arc<dyn Exporter>,
}

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
    /// A new trace's root context, sampled by this layer's sampler.
    pub(crate) fn root_context(&self) -> SpanContext {
        let trace_id = new_trace_id();
        SpanContext {
            trace_id,
            span_id: new_span_id(),
            parent_id: None,
            sampling: self.decide(trace_id, None),
        }
    }

    pub(crate) fn decide(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling {
        if incoming == Some(Sampling::Debug) {
            return Sampling::Debug;
        }
        match self.sampler.sample(trace_id, incoming) {
            Sampling::Defer => Sampling::Deny,
            decided => decided,
        }
    }
}

impl TracedLayer {
    /// A layer that samples every trace and sends finished spans to `exporter`.
    pub fn new(exporter: impl Exporter) -> TracedLayer {
        crate::panic::install_hook();
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        TracedLayer {
            core: Arc::new(Core {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                sampler: Box::new(AlwaysOn),
                exporter: Arc::new(exporter),
            }),
            with_context: WithContext(span_context::<tracing_subscriber::Registry>),
            fast_path: false,
        }
    }

    /// Lets `#[traced]` calls skip the tracing registry: their spans live in frames on a
    /// per-thread stack (tens of nanoseconds instead of a registry span, and no allocation for
    /// spans without text tags), with library spans and events still nested under them.
    ///
    /// Off by default, because other layers (a `fmt` logger, say) would no longer see those
    /// spans; [`crate::init`] turns it on when our layer is the subscriber's only consumer.
    /// What is reported is the same either way. One difference shows inside the function:
    /// `tracing::Span::current()` is the nearest *tracing* span, not the `#[traced]` call (a
    /// function whose body calls `Span::current()` or `in_current_span()` keeps a tracing span;
    /// [`crate::current_context`] always sees the call).
    ///
    /// ```
    /// use traced::testing::Capture;
    ///
    /// let layer = traced::TracedLayer::new(Capture::new()).with_fast_path(true);
    /// # drop(layer);
    /// ```
    pub fn with_fast_path(mut self, enabled: bool) -> TracedLayer {
        self.fast_path = enabled;
        self
    }

    /// Replaces the sampler that decides new traces.
    pub fn with_sampler(mut self, sampler: impl Sampler) -> TracedLayer {
        self.core = Arc::new(Core {
            id: self.core.id,
            sampler: Box::new(sampler),
            exporter: Arc::clone(&self.core.exporter),
        });
        self
    }
}

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
    peer: PeerFields,
}

/// Network fields, kept per side: which side is the remote one depends on the span's kind,
/// which may be recorded after them.
#[derive(Default)]
struct PeerFields {
    service: Option<String>,
    server: HostPort,
    client: HostPort,
    network: HostPort,
}

#[derive(Default, Clone)]
struct HostPort {
    address: Option<IpAddr>,
    host: Option<String>,
    port: Option<u16>,
}

impl HostPort {
    /// `self`, with what it lacks taken from `fallback`.
    fn or(self, fallback: HostPort) -> HostPort {
        HostPort {
            address: self.address.or(fallback.address),
            host: self.host.or(fallback.host),
            port: self.port.or(fallback.port),
        }
    }
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

    /// Makes this (finished, emptied) state a new span's, in place.
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
    }

    /// Moves what was recorded into this stand-in (events, an error) to the span it stood in
    /// for. An error the span already has is kept, as for an ERROR event on the span itself.
    pub(crate) fn give_back(&mut self, span: &mut SpanState) {
        for (key, value) in self.tags.drain(..) {
            if key != "error" || !span.has_tag("error") {
                span.set_tag(key, value);
            }
        }
        if let Some(mut details) = self.details.take() {
            span.details().annotations.append(&mut details.annotations);
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

    /// The root of a new trace, decided by `core`'s sampler.
    pub(crate) fn root(core: &Core, meta: &'static Metadata<'static>) -> SpanState {
        SpanState::new(core.root_context(), meta, true, None)
    }

    /// Tags the span with the panic this thread is unwinding from.
    pub(crate) fn record_panic(&mut self) {
        if let Some(message) = crate::panic::current_panic_message() {
            self.record_text("error", Cow::Owned(message));
            self.record_text("error.type", Cow::Borrowed("panic"));
        }
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
        for (key, value) in from.tags.drain(..) {
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

    /// Records one value under the field `key` of the span's metadata, if it has that field.
    pub(crate) fn record_value(&mut self, key: &str, value: &dyn tracing_core::field::Value) {
        if let Some(field) = self.meta.fields().field(key) {
            value.record(&field, &mut FieldRecorder { state: self });
        }
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
        let len = self.tags.len();
        if len == self.tags.capacity() {
            self.push_tag(key, value.into());
            return;
        }
        // SAFETY: `len < capacity`, so the slot at `len` is allocated and unused; it is fully
        // written (both fields) before the length covers it, and nothing reads it before.
        unsafe {
            let slot = self.tags.as_mut_ptr().add(len);
            std::ptr::addr_of_mut!((*slot).0).write(Cow::Borrowed(key));
            std::ptr::addr_of_mut!((*slot).1).write(value.into());
            self.tags.set_len(len + 1);
        }
    }

    /// Records a typed (not text) tag; integers under a port's conventional name set the port.
    pub(crate) fn record_typed(&mut self, key: &'static str, value: TagValue) {
        let mut recorder = FieldRecorder { state: self };
        match value {
            TagValue::I64(number) => recorder.integer(key, i128::from(number)),
            TagValue::U64(number) => recorder.integer(key, i128::from(number)),
            _ => {}
        }
        recorder.tag(key, value);
    }

    /// Records a text tag, with the routing of the conventional names (`error`, `otel.kind`, ...).
    pub(crate) fn record_text(&mut self, key: &'static str, text: Cow<'_, str>) {
        FieldRecorder { state: self }.text(key, text);
    }

    /// Adds an event as an annotation; an ERROR event also tags the span as failed.
    pub(crate) fn annotate(&mut self, level: Level, value: String) {
        if level == Level::ERROR && !self.has_tag("error") {
            let message = if value.is_empty() {
                "error".to_owned()
            } else {
                value.clone()
            };
            self.tags
                .push((Cow::Borrowed("error"), TagValue::Str(Cow::Owned(message))));
        }
        self.details().annotations.push(Annotation {
            timestamp_us: Timestamp::now().epoch_us(),
            value,
        });
    }
}

thread_local! {
    static PENDING_REMOTE: Cell<Option<(Remote, bool)>> = const { Cell::new(None) };
}

/// Runs `make_span` so that the first root span it creates continues `remote` — the context a
/// caller sent — instead of starting a new trace.
///
/// With `shared`, the span reuses the caller's span id and is reported with `shared: true`
/// (Zipkin's classic RPC model); otherwise it is a new child of the caller's span.
///
/// ```
/// use traced::model::{Remote, Sampling, SpanContext, SpanId, TraceId};
/// use traced::testing::Capture;
///
/// let capture = Capture::new();
/// let caller = SpanContext { trace_id: TraceId(9), span_id: SpanId(5), parent_id: None, sampling: Sampling::Accept };
/// capture.in_scope(|| {
///     let span = traced::with_remote_parent(Remote::Context(caller), false, || tracing::info_span!("handle"));
///     span.in_scope(|| {});
/// });
/// let span = &capture.spans()[0];
/// assert_eq!((span.trace_id, span.parent_id), (TraceId(9), Some(SpanId(5))));
/// ```
pub fn with_remote_parent<R>(remote: Remote, shared: bool, make_span: impl FnOnce() -> R) -> R {
    struct ClearOnExit;
    impl Drop for ClearOnExit {
        fn drop(&mut self) {
            PENDING_REMOTE.with(|pending| pending.set(None));
        }
    }
    PENDING_REMOTE.with(|pending| pending.set(Some((remote, shared))));
    let _clear = ClearOnExit;
    make_span()
}

/// The context of the current span (the one `#[traced]` or a library entered), if our layer is
/// installed and a span is current: what propagation injects into outgoing requests.
///
/// ```
/// use traced::testing::Capture;
///
/// let capture = Capture::new();
/// capture.in_scope(|| {
///     assert!(traced::current_context().is_none());
///     tracing::info_span!("work").in_scope(|| {
///         assert!(traced::current_context().unwrap().sampling.is_sampled());
///     });
/// });
/// ```
pub fn current_context() -> Option<SpanContext> {
    if let Some((context, _)) = crate::frame::innermost() {
        return Some(context);
    }
    let mut found = None;
    tracing::dispatcher::get_default(|dispatch| {
        let Some(current) = dispatch.current_span().id().cloned() else {
            return;
        };
        found = context_of(dispatch, &current);
    });
    found
}

/// The context of the span `id` in `dispatch`, if our layer records it.
pub fn context_of(dispatch: &Dispatch, id: &Id) -> Option<SpanContext> {
    parent_of(dispatch, id).map(|(context, _)| context)
}

/// The context and service of the span `id` in `dispatch`: what a child inherits.
pub(crate) fn parent_of(dispatch: &Dispatch, id: &Id) -> Option<Inherited> {
    let with_context = dispatch.downcast_ref::<WithContext>()?;
    (with_context.0)(dispatch, id)
}

/// What a child inherits from its parent: the ids and sampling, and the service it runs in.
pub(crate) type Inherited = (SpanContext, Option<Arc<str>>);

/// Reaches a span's state through a `Dispatch` without knowing the subscriber's type (the same
/// trick tracing-opentelemetry uses): the layer hands out this function pointer via `downcast_raw`.
#[derive(Clone, Copy)]
struct WithContext(fn(&Dispatch, &Id) -> Option<Inherited>);

fn span_context<S>(dispatch: &Dispatch, id: &Id) -> Option<Inherited>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    let extensions = span.extensions();
    extensions
        .get::<SpanState>()
        .map(|state| (state.context, state.service.clone()))
}

impl<S> Layer<S> for TracedLayer
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        // Now the subscriber's type is known, so spans can be looked up in it, whatever it is.
        self.with_context = WithContext(span_context::<S>);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        // A `#[traced]` frame entered after the current tracing span is the closer parent.
        let frame_parent = if attrs.is_contextual() {
            crate::frame::innermost()
        } else {
            None
        };
        let local_parent = frame_parent.or_else(|| {
            span.parent().and_then(|parent| {
                let extensions = parent.extensions();
                extensions
                    .get::<SpanState>()
                    .map(|state| (state.context, state.service.clone()))
            })
        });
        let meta = attrs.metadata();
        let mut state = match local_parent {
            Some((parent, service)) => SpanState::child(parent, meta, service),
            None => match PENDING_REMOTE.with(|pending| pending.take()) {
                Some((Remote::Context(caller), shared)) => {
                    let sampling = self.core.decide(caller.trace_id, Some(caller.sampling));
                    let context = if shared {
                        SpanContext { sampling, ..caller }
                    } else {
                        SpanContext {
                            trace_id: caller.trace_id,
                            span_id: new_span_id(),
                            parent_id: Some(caller.span_id),
                            sampling,
                        }
                    };
                    let mut state = SpanState::new(context, meta, true, None);
                    state.shared = shared;
                    state
                }
                // A new trace, under the caller's decision when it sent one without ids.
                Some((Remote::DecisionOnly(incoming), _)) => {
                    let trace_id = new_trace_id();
                    let context = SpanContext {
                        trace_id,
                        span_id: new_span_id(),
                        parent_id: None,
                        sampling: self.core.decide(trace_id, Some(incoming)),
                    };
                    SpanState::new(context, meta, true, None)
                }
                None => SpanState::root(&self.core, meta),
            },
        };
        if state.context.sampling.is_sampled() {
            if !attrs.fields().is_empty() {
                attrs.record(&mut FieldRecorder { state: &mut state });
            }
            self.core.exporter.span_started(state.context.trace_id);
        }
        span.extensions_mut().insert(state);
    }

    fn on_enter(&self, _id: &Id, _ctx: Context<'_, S>) {
        crate::frame::tracing_span_entered();
    }

    fn on_exit(&self, _id: &Id, _ctx: Context<'_, S>) {
        crate::frame::tracing_span_exited();
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            if state.context.sampling.is_sampled() {
                values.record(&mut FieldRecorder { state });
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if event.is_contextual() {
            match crate::frame::innermost_sampled() {
                Some(true) => {
                    // The event's fields are user code: format them before the frame is borrowed.
                    let value = annotation_text(event);
                    crate::frame::with_innermost(|state| state.annotate(level, value));
                    return;
                }
                Some(false) => return,
                None => {}
            }
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let sampled = span
            .extensions()
            .get::<SpanState>()
            .is_some_and(|state| state.context.sampling.is_sampled());
        if !sampled {
            return;
        }
        let value = annotation_text(event);
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            state.annotate(level, value);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        if !state.context.sampling.is_sampled() {
            return;
        }
        let end = Timestamp::now();
        self.core.exporter.export(state.finish(end));
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<Arc<Core>>() && self.fast_path {
            Some(&self.core as *const Arc<Core> as *const ())
        } else if id == TypeId::of::<WithContext>() {
            Some(&self.with_context as *const WithContext as *const ())
        } else {
            None
        }
    }
}

impl SpanState {
    pub(crate) fn finish(mut self, end: Timestamp) -> SpanRecord {
        self.take_record(end)
    }

    /// The finished span, taking what it owns out of the state, which is left empty for reuse
    /// (a frame's slot on the stack).
    #[inline]
    pub(crate) fn take_record(&mut self, end: Timestamp) -> SpanRecord {
        let SpanState {
            context,
            start,
            meta,
            kind,
            local_root,
            shared,
            ..
        } = *self;
        let (timestamp_us, duration_us) = start.epoch_us_until(end);
        let (name, annotations, local_port, remote_endpoint) = match self.details.take() {
            None => (Cow::Borrowed(meta.name()), Vec::new(), None, None),
            Some(details) => details.finish(meta.name(), kind),
        };
        // The record is one literal, built where the caller wants it: a span record is a few
        // hundred bytes, and every move of it is a copy.
        SpanRecord {
            trace_id: context.trace_id,
            id: context.span_id,
            parent_id: context.parent_id,
            name,
            kind,
            timestamp_us,
            duration_us,
            service_name: self.service.take(),
            remote_endpoint,
            local_port,
            // Most spans have no tags: then an empty list is made rather than moved.
            tags: if self.tags.is_empty() {
                Tags::new()
            } else {
                std::mem::take(&mut self.tags)
            },
            annotations,
            debug: context.sampling == Sampling::Debug,
            shared,
            local_root,
        }
    }
}

impl Details {
    /// The record's name, annotations, local port and remote endpoint.
    fn finish(
        self,
        name: &'static str,
        kind: Option<Kind>,
    ) -> (
        Cow<'static, str>,
        Vec<Annotation>,
        Option<u16>,
        Option<Endpoint>,
    ) {
        let Details {
            name: renamed,
            annotations,
            peer,
        } = self;
        let name = renamed.map_or(Cow::Borrowed(name), Cow::Owned);
        // A server's peer is its client and its own port is `server.port`; for every other kind
        // the peer is the server it calls.
        let mut local_port = None;
        let remote_side = if kind == Some(Kind::Server) {
            local_port = peer.server.port.filter(|port| *port != 0);
            peer.client.or(peer.network)
        } else {
            peer.server.or(peer.network)
        };
        let mut remote = Endpoint {
            service_name: peer.service.map(|name| Arc::from(name.to_lowercase())),
            port: remote_side.port.filter(|port| *port != 0),
            ..Endpoint::default()
        };
        match remote_side.address {
            Some(IpAddr::V4(ip)) => remote.ipv4 = Some(ip),
            Some(IpAddr::V6(ip)) => remote.ipv6 = Some(ip),
            None => {}
        }
        if remote.service_name.is_none() {
            // A host name is the best service label Zipkin's endpoint can hold.
            remote.service_name = remote_side.host.map(|host| Arc::from(host.to_lowercase()));
        }
        let remote = (!remote.is_empty()).then_some(remote);
        (name, annotations, local_port, remote)
    }
}

/// Records span fields as tags, routing the conventional names to their Zipkin places.
struct FieldRecorder<'a> {
    state: &'a mut SpanState,
}

impl FieldRecorder<'_> {
    fn tag(&mut self, key: &'static str, value: TagValue) {
        self.state.set_tag(Cow::Borrowed(key), value);
    }

    fn text(&mut self, key: &'static str, text: Cow<'_, str>) {
        match key {
            "otel.name" => self.state.details().name = Some(text.into_owned()),
            "otel.kind" | "span.kind" => self.state.kind = Kind::parse(&text),
            "service.name" => self.state.service = Some(Arc::from(text.to_lowercase())),
            name => {
                if let Some(target) = peer_field(name) {
                    self.peer(target, &text);
                }
                self.tag(key, TagValue::Str(Cow::Owned(text.into_owned())));
            }
        }
    }

    fn peer(&mut self, target: PeerField, text: &str) {
        let peer = &mut self.state.details().peer;
        let (side, part) = match target {
            PeerField::Service => {
                peer.service = Some(text.to_owned());
                return;
            }
            PeerField::Address(side) => (side, Part::Address),
            PeerField::Port(side) => (side, Part::Port),
        };
        let host_port = match side {
            Side::Server => &mut peer.server,
            Side::Client => &mut peer.client,
            Side::Network => &mut peer.network,
        };
        match part {
            Part::Address => match text.parse::<IpAddr>() {
                Ok(ip) => host_port.address = Some(ip),
                Err(_) => host_port.host = Some(text.to_owned()),
            },
            Part::Port => host_port.port = text.parse().ok(),
        }
    }

    fn integer(&mut self, key: &'static str, value: i128) {
        if let Some(PeerField::Port(side)) = peer_field(key) {
            let peer = &mut self.state.details().peer;
            let host_port = match side {
                Side::Server => &mut peer.server,
                Side::Client => &mut peer.client,
                Side::Network => &mut peer.network,
            };
            host_port.port = u16::try_from(value).ok();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
    /// The old `net.peer.*` and `network.peer.*` names: the other end, whatever the kind.
    Network,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Address,
    Port,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PeerField {
    Service,
    Address(Side),
    Port(Side),
}

fn peer_field(name: &str) -> Option<PeerField> {
    match name {
        "peer.service" => Some(PeerField::Service),
        "server.address" => Some(PeerField::Address(Side::Server)),
        "server.port" => Some(PeerField::Port(Side::Server)),
        "client.address" => Some(PeerField::Address(Side::Client)),
        "client.port" => Some(PeerField::Port(Side::Client)),
        "net.peer.name" | "net.peer.ip" | "network.peer.address" => {
            Some(PeerField::Address(Side::Network))
        }
        "net.peer.port" | "network.peer.port" => Some(PeerField::Port(Side::Network)),
        _ => None,
    }
}

impl Visit for FieldRecorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.tag(field.name(), TagValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field.name(), i128::from(value));
        self.tag(field.name(), TagValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field.name(), i128::from(value));
        self.tag(field.name(), TagValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.tag(field.name(), TagValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.tag(field.name(), TagValue::U128(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.tag(field.name(), TagValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Capped like Debug and Display values: a 1 MiB `&str` must not ride along in the span.
        self.text(field.name(), crate::value::cap_str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(
            field.name(),
            Cow::Owned(crate::value::capped_display(value)),
        );
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field.name(), Cow::Owned(crate::value::capped_debug(value)));
    }
}

/// An event's text: the message, then the other fields as `key=value`.
fn annotation_text(event: &Event<'_>) -> String {
    let mut annotation = AnnotationWriter::default();
    event.record(&mut annotation);
    annotation.finish()
}

/// Builds an annotation's text: the message, then the other fields as `key=value`.
#[derive(Default)]
struct AnnotationWriter {
    message: String,
    fields: String,
}

impl AnnotationWriter {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={}", field.name(), value);
        }
    }

    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl Visit for AnnotationWriter {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = crate::value::cap_str(value);
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = crate::value::capped_debug(value);
        self.field(field, format_args!("{text}"));
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use crate::model::{Endpoint, Kind};
    use crate::testing::Capture;

    #[test]
    fn a_server_span_keeps_its_own_port_and_reports_its_client_as_the_peer() {
        let capture = Capture::new();
        capture.in_scope(|| {
            let span = tracing::info_span!(
                "GET /",
                otel.kind = "server",
                server.port = 8080u64,
                client.address = "10.0.0.7",
                client.port = 51234u64,
            );
            span.in_scope(|| {});
        });
        let span = capture.span("GET /");
        assert_eq!(span.kind, Some(Kind::Server));
        assert_eq!(span.local_port, Some(8080));
        let remote = span
            .remote_endpoint
            .expect("the client is the remote endpoint");
        assert_eq!(remote.ipv4, Some(Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(remote.port, Some(51234));
    }

    #[test]
    fn a_client_span_reports_the_server_it_calls_and_names_a_host_as_service() {
        let capture = Capture::new();
        capture.in_scope(|| {
            let span = tracing::info_span!(
                "GET",
                server.address = "inventory.internal",
                server.port = 8001u64,
                otel.kind = "client",
            );
            span.in_scope(|| {});
        });
        let span = capture.span("GET");
        assert_eq!(span.local_port, None);
        assert_eq!(
            span.remote_endpoint,
            Some(Endpoint {
                service_name: Some("inventory.internal".into()),
                port: Some(8001),
                ..Endpoint::default()
            })
        );
    }

    #[test]
    fn peer_service_names_the_remote_and_old_net_peer_fields_still_count() {
        let capture = Capture::new();
        capture.in_scope(|| {
            let span = tracing::info_span!(
                "query",
                peer.service = "Orders-DB",
                net.peer.ip = "192.168.1.9",
                net.peer.port = 5432u64,
            );
            span.in_scope(|| {});
        });
        let remote = capture.span("query").remote_endpoint.unwrap();
        assert_eq!(remote.service_name.as_deref(), Some("orders-db"));
        assert_eq!(remote.ipv4, Some(Ipv4Addr::new(192, 168, 1, 9)));
        assert_eq!(remote.port, Some(5432));
    }
}
