//! The `tracing-subscriber` layer that turns tracing spans — `#[traced]`'s and every library's —
//! into Zipkin spans.
//!
//! Per-span state lives in the registry's extensions, so library spans and ours share one tree.
//! Sampling is decided at the root and inherited; unsampled spans keep only their ids (so they
//! still propagate) and skip all recording.

use std::any::TypeId;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::clock::Timestamp;
use crate::export::Exporter;
use crate::ids::{new_span_id, new_trace_id};
use crate::model::{
    Annotation, Endpoint, Kind, Remote, Sampling, SpanContext, SpanRecord, TagValue,
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
    sampler: Box<dyn Sampler>,
    exporter: Arc<dyn Exporter>,
    with_context: WithContext,
    unsampled_fast_path: bool,
}

impl TracedLayer {
    /// A layer that samples every trace and sends finished spans to `exporter`.
    pub fn new(exporter: impl Exporter) -> TracedLayer {
        crate::panic::install_hook();
        TracedLayer {
            sampler: Box::new(AlwaysOn),
            exporter: Arc::new(exporter),
            with_context: WithContext(span_context::<tracing_subscriber::Registry>),
            unsampled_fast_path: false,
        }
    }

    /// Lets synchronous `#[traced]` calls nested directly in an unsampled `#[traced]` span skip
    /// creating their own tracing span (a few nanoseconds instead of a Registry span).
    ///
    /// Off by default, because other layers (a `fmt` logger, say) would no longer see those
    /// spans; [`crate::init`] turns it on when our layer is the subscriber's only consumer.
    /// Nothing that is reported changes: an unsampled trace reports nothing either way, and
    /// propagation inside still carries the trace's ids and its deny decision.
    ///
    /// ```
    /// use traced::sample::AlwaysOff;
    /// use traced::testing::Capture;
    ///
    /// let layer = traced::TracedLayer::new(Capture::new())
    ///     .with_sampler(AlwaysOff)
    ///     .with_unsampled_fast_path(true);
    /// # drop(layer);
    /// ```
    pub fn with_unsampled_fast_path(mut self, enabled: bool) -> TracedLayer {
        self.unsampled_fast_path = enabled;
        self
    }

    /// Replaces the sampler that decides new traces.
    pub fn with_sampler(mut self, sampler: impl Sampler) -> TracedLayer {
        self.sampler = Box::new(sampler);
        self
    }

    fn decide(&self, trace_id: crate::model::TraceId, incoming: Option<Sampling>) -> Sampling {
        if incoming == Some(Sampling::Debug) {
            return Sampling::Debug;
        }
        match self.sampler.sample(trace_id, incoming) {
            Sampling::Defer => Sampling::Deny,
            decided => decided,
        }
    }
}

/// What the layer keeps for each open span.
///
/// Kept small on purpose: the state is moved into and out of the registry's extensions once per
/// span, so every byte here is copied on the hot path. Fields and events, which most spans do not
/// have, live in `details`, allocated on first use.
pub(crate) struct SpanState {
    pub(crate) context: SpanContext,
    start: Timestamp,
    name: &'static str,
    kind: Option<Kind>,
    local_root: bool,
    shared: bool,
    service: Option<Arc<str>>,
    details: Option<Box<Details>>,
}

/// The parts of a span that only some spans have.
#[derive(Default)]
struct Details {
    name: Option<String>,
    tags: Vec<(Cow<'static, str>, TagValue)>,
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
    fn details(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    fn has_tag(&self, key: &str) -> bool {
        self.details
            .as_ref()
            .is_some_and(|details| details.tags.iter().any(|(name, _)| name == key))
    }
}

thread_local! {
    static PENDING_REMOTE: Cell<Option<(Remote, bool)>> = const { Cell::new(None) };
}

// The unsampled fast path. An unsampled trace records nothing, so a `#[traced]` call nested
// directly in an unsampled `#[traced]` span need not create a tracing span at all: the span that
// is current stays the unsampled one, and everything below it inherits the same decision. These
// per-thread cells let the generated code know that cheaply (two thread-local reads) and exactly:
// every enter and exit bumps `ENTER_GENERATION`, and the mark is only valid while the generation
// is the one at which the unsampled span was entered — any other span entered or exited since,
// from any library, voids it and the call takes the ordinary path.
thread_local! {
    static ENTER_GENERATION: Cell<u64> = const { Cell::new(0) };
    static LAST_CREATED_UNSAMPLED: Cell<u64> = const { Cell::new(0) };
    static UNSAMPLED_MARK: Cell<u64> = const { Cell::new(0) };
}

/// Whether the current span is an unsampled span entered by `#[traced]` code, with nothing
/// entered or exited since.
#[inline]
pub(crate) fn in_unsampled_scope() -> bool {
    let mark = UNSAMPLED_MARK.with(Cell::get);
    mark != 0 && mark == ENTER_GENERATION.with(Cell::get)
}

/// Called right after entering the span `id`: when it is the unsampled span this thread just
/// created, marks the scope and returns the previous mark, to be given back to
/// [`restore_unsampled_mark`] before the span is exited.
#[inline]
pub(crate) fn mark_if_unsampled(id: &Id) -> Option<u64> {
    if LAST_CREATED_UNSAMPLED.with(|last| last.replace(0)) != id.into_u64() {
        return None;
    }
    let generation = ENTER_GENERATION.with(Cell::get);
    Some(UNSAMPLED_MARK.with(|mark| mark.replace(generation)))
}

/// Ends a scope marked by [`mark_if_unsampled`].
#[inline]
pub(crate) fn restore_unsampled_mark(previous: u64) {
    UNSAMPLED_MARK.with(|mark| mark.set(previous));
}

fn bump_enter_generation() {
    ENTER_GENERATION.with(|generation| generation.set(generation.get().wrapping_add(1)));
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
    let with_context = dispatch.downcast_ref::<WithContext>()?;
    (with_context.0)(dispatch, id)
}

/// Reaches a span's state through a `Dispatch` without knowing the subscriber's type (the same
/// trick tracing-opentelemetry uses): the layer hands out this function pointer via `downcast_raw`.
#[derive(Clone, Copy)]
struct WithContext(fn(&Dispatch, &Id) -> Option<SpanContext>);

fn span_context<S>(dispatch: &Dispatch, id: &Id) -> Option<SpanContext>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    let extensions = span.extensions();
    extensions.get::<SpanState>().map(|state| state.context)
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
        let local_parent = span.parent().and_then(|parent| {
            let extensions = parent.extensions();
            extensions
                .get::<SpanState>()
                .map(|state| (state.context, state.service.clone()))
        });
        let mut shared = false;
        let (context, local_root, service) = match local_parent {
            Some((parent, service)) => (
                SpanContext {
                    trace_id: parent.trace_id,
                    span_id: new_span_id(),
                    parent_id: Some(parent.span_id),
                    sampling: parent.sampling,
                },
                false,
                service,
            ),
            None => {
                let remote = PENDING_REMOTE.with(|pending| pending.take());
                let context = match remote {
                    Some((Remote::Context(caller), shared_span)) => {
                        shared = shared_span;
                        let sampling = self.decide(caller.trace_id, Some(caller.sampling));
                        if shared_span {
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
                    decision_only => {
                        let incoming = decision_only.map(|(remote, _)| remote.sampling());
                        let trace_id = new_trace_id();
                        SpanContext {
                            trace_id,
                            span_id: new_span_id(),
                            parent_id: None,
                            sampling: self.decide(trace_id, incoming),
                        }
                    }
                };
                (context, true, None)
            }
        };
        let sampled = context.sampling.is_sampled();
        // Unsampled spans are never reported, so they skip the clock read.
        let start = if sampled {
            Timestamp::now()
        } else {
            Timestamp::ZERO
        };
        let mut state = SpanState {
            context,
            start,
            name: attrs.metadata().name(),
            kind: None,
            local_root,
            shared,
            service,
            details: None,
        };
        if sampled {
            if !attrs.fields().is_empty() {
                attrs.record(&mut FieldRecorder { state: &mut state });
            }
            self.exporter.span_started(context.trace_id);
        }
        span.extensions_mut().insert(state);
        let unsampled_id = if self.unsampled_fast_path && !sampled {
            id.into_u64()
        } else {
            0
        };
        LAST_CREATED_UNSAMPLED.with(|last| last.set(unsampled_id));
    }

    fn on_enter(&self, _id: &Id, _ctx: Context<'_, S>) {
        bump_enter_generation();
    }

    fn on_exit(&self, _id: &Id, _ctx: Context<'_, S>) {
        bump_enter_generation();
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
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions.get_mut::<SpanState>() else {
            return;
        };
        if !state.context.sampling.is_sampled() {
            return;
        }
        let mut annotation = AnnotationWriter::default();
        event.record(&mut annotation);
        let value = annotation.finish();
        if *event.metadata().level() == Level::ERROR && !state.has_tag("error") {
            let message = if value.is_empty() {
                "error".to_owned()
            } else {
                value.clone()
            };
            state
                .details()
                .tags
                .push((Cow::Borrowed("error"), TagValue::Str(Cow::Owned(message))));
        }
        state.details().annotations.push(Annotation {
            timestamp_us: Timestamp::now().epoch_us(),
            value,
        });
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
        self.exporter.export(state.finish(end));
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<WithContext>() {
            Some(&self.with_context as *const WithContext as *const ())
        } else {
            None
        }
    }
}

impl SpanState {
    fn finish(self, end: Timestamp) -> SpanRecord {
        let SpanState {
            context,
            start,
            name,
            kind,
            local_root,
            shared,
            service,
            details,
        } = self;
        let mut record = SpanRecord {
            trace_id: context.trace_id,
            id: context.span_id,
            parent_id: context.parent_id,
            name: Cow::Borrowed(name),
            kind,
            timestamp_us: start.epoch_us(),
            duration_us: start.micros_until(end),
            service_name: service,
            remote_endpoint: None,
            local_port: None,
            tags: Vec::new(),
            annotations: Vec::new(),
            debug: context.sampling == Sampling::Debug,
            shared,
            local_root,
        };
        let Some(details) = details else {
            return record;
        };
        let Details {
            name,
            tags,
            annotations,
            peer,
        } = *details;
        if let Some(name) = name {
            record.name = Cow::Owned(name);
        }
        record.tags = tags;
        record.annotations = annotations;
        // A server's peer is its client and its own port is `server.port`; for every other kind
        // the peer is the server it calls.
        let remote_side = if kind == Some(Kind::Server) {
            record.local_port = peer.server.port.filter(|port| *port != 0);
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
        if !remote.is_empty() {
            record.remote_endpoint = Some(remote);
        }
        record
    }
}

/// Records span fields as tags, routing the conventional names to their Zipkin places.
struct FieldRecorder<'a> {
    state: &'a mut SpanState,
}

impl FieldRecorder<'_> {
    fn tag(&mut self, field: &Field, value: TagValue) {
        let tags = &mut self.state.details().tags;
        let key = field.name();
        // A re-recorded field replaces its value rather than adding a second tag.
        if let Some(slot) = tags.iter_mut().find(|(name, _)| name == key) {
            slot.1 = value;
        } else {
            tags.push((Cow::Borrowed(key), value));
        }
    }

    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        match field.name() {
            "otel.name" => self.state.details().name = Some(text.into_owned()),
            "otel.kind" | "span.kind" => self.state.kind = Kind::parse(&text),
            "service.name" => self.state.service = Some(Arc::from(text.to_lowercase())),
            name => {
                if let Some(target) = peer_field(name) {
                    self.peer(target, &text);
                }
                self.tag(field, TagValue::Str(Cow::Owned(text.into_owned())));
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

    fn integer(&mut self, field: &Field, value: i128) {
        if let Some(PeerField::Port(side)) = peer_field(field.name()) {
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
        self.tag(field, TagValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field, i128::from(value));
        self.tag(field, TagValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field, i128::from(value));
        self.tag(field, TagValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.tag(field, TagValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.tag(field, TagValue::U128(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.tag(field, TagValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Capped like Debug and Display values: a 1 MiB `&str` must not ride along in the span.
        self.text(field, crate::value::cap_str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, Cow::Owned(crate::value::capped_display(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, Cow::Owned(crate::value::capped_debug(value)));
    }
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
