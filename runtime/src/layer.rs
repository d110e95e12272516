//! The `tracing-subscriber` layer that turns tracing spans — `#[traced]`'s and every library's —
//! into Zipkin spans.
//!
//! Per-span state lives in the registry's extensions, so library spans and ours share one tree.
//! With the fast path on, `#[traced]` calls skip the registry and keep the same state in frames
//! on a per-thread stack (`crate::frame`); the layer parents library spans and events to the
//! innermost of the two. Sampling is decided at the root and inherited; unsampled spans keep only
//! their ids (so they still propagate) and skip all recording.

use std::any::TypeId;
use std::sync::Arc;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::annotation::annotation_of;
use crate::clock::Timestamp;
use crate::export::Exporter;
use crate::lookup::WithContext;
use crate::model::{Link, SpanContext};
use crate::pipeline::{Core, OfferedCore};
use crate::sample::{AlwaysOn, Sampler};
use crate::state::SpanState;

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

impl TracedLayer {
    /// A layer that samples every trace and sends finished spans to `exporter`.
    pub fn new(exporter: impl Exporter) -> TracedLayer {
        crate::panic::install_hook();
        TracedLayer {
            core: Arc::new(Core::new(Box::new(AlwaysOn), Arc::new(exporter))),
            with_context: WithContext::of::<tracing_subscriber::Registry>(),
            fast_path: false,
        }
    }

    /// Lets `#[traced]` calls skip the tracing registry: their spans live in frames on a
    /// per-thread stack (tens of nanoseconds instead of a registry span, and no allocation for
    /// spans without text tags), with library spans and events still nested under them.
    ///
    /// The same goes for the SERVER span of `traced::http::ServerLayer` (features `tower`,
    /// `axum`).
    ///
    /// Off by default, because other layers (a `fmt` logger, say) would no longer see those
    /// spans; [`crate::init`] turns it on when our layer is the subscriber's only consumer.
    /// What is reported is the same either way, and `tracing::Span::current()` names the
    /// `#[traced]` call at any depth below it. The fast path is taken only when the subscriber
    /// is wrapped in [`crate::TracedSubscriber`] (which `init` does), since that is what
    /// answers `Span::current()` for it; unwrapped, the calls are ordinary tracing spans.
    ///
    /// ```
    /// use traced::testing::Capture;
    ///
    /// let layer = traced::TracedLayer::new(Capture::new()).fast_path(true);
    /// # drop(layer);
    /// ```
    pub fn fast_path(mut self, enabled: bool) -> TracedLayer {
        self.fast_path = enabled;
        self
    }

    /// The id of this layer's core, which tells its frames from other layers'.
    pub(crate) fn core_id(&self) -> u64 {
        self.core.id
    }

    /// Replaces the sampler that decides new traces.
    pub fn sampler(mut self, sampler: impl Sampler) -> TracedLayer {
        self.core = Arc::new(self.core.with_sampler(Box::new(sampler)));
        self
    }

    /// Copies these [baggage](crate::baggage) entries onto every span that has them, as tags
    /// named after their keys (`TRACED_BAGGAGE_TAGS` with [`crate::init`]): a tag the span
    /// already has wins, and the value of a key that names a secret (`session`, `token`, …; the
    /// rule of [`crate::http::is_sensitive_key`]) is recorded as `REDACTED`.
    ///
    /// ```
    /// use traced::testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let layer = traced::TracedLayer::new(capture.clone()).baggage_tags(["tenant", "session"]);
    /// let subscriber = tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info_span!("handle").in_scope(|| {
    ///         traced::baggage::set("tenant", "acme");
    ///         traced::baggage::set("session", "s3cr3t");
    ///         tracing::info_span!("query").in_scope(|| {});
    ///     });
    /// });
    /// let query = capture.span("query");
    /// assert_eq!(query.tag("tenant").and_then(|tag| tag.as_str()), Some("acme"));
    /// assert_eq!(query.tag("session").and_then(|tag| tag.as_str()), Some("REDACTED"));
    /// ```
    pub fn baggage_tags<K: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> TracedLayer {
        let keys: Box<[Box<str>]> = keys
            .into_iter()
            .map(|key| key.into().into_boxed_str())
            .collect();
        // The core is shared only once the layer is in a subscriber, after the builder calls.
        if let Some(core) = Arc::get_mut(&mut self.core) {
            core.baggage_tags = keys;
        }
        self
    }
}

/// The context of the current span (the one `#[traced]` or a library entered), if our layer is
/// installed and a span is current: what propagation injects into outgoing requests.
///
/// It is also the way to put the ids in logs of your own: `trace_id` and `span_id` print as
/// Zipkin shows them (lower hex). A current span that our layer does not record (one only a log
/// layer's filter enabled) gives the context of its nearest recorded ancestor.
/// [`Builder::fmt`](crate::Builder::fmt) does this for tracing-subscriber's `fmt` lines.
///
/// ```
/// if let Some(context) = traced::current_context() {
///     println!("trace_id={} span_id={} payment declined", context.trace_id, context.span_id);
/// }
/// ```
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
    if let Some((context, ..)) = crate::frame::innermost() {
        return Some(context);
    }
    let mut found = None;
    tracing::dispatcher::get_default(|dispatch| {
        let Some(current) = dispatch.current_span().id().cloned() else {
            return;
        };
        found = crate::lookup::parent_of(dispatch, &current).map(|(context, ..)| context);
    });
    found
}

impl<S> Layer<S> for TracedLayer
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        // Now the subscriber's type is known, so spans can be looked up in it, whatever it is.
        self.with_context = WithContext::of::<S>();
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        // The twin of a frame (`subscriber.rs`): the frame's own ids; reported only once the
        // frame has handed it its state.
        if let Some(inherited) = crate::frame::take_making_twin() {
            span.extensions_mut()
                .insert(SpanState::twin(inherited, attrs.metadata()));
            return;
        }
        // A `#[traced]` frame entered after the current tracing span is the closer parent.
        let frame_parent = if attrs.is_contextual() {
            crate::frame::innermost()
        } else {
            None
        };
        let local_parent = frame_parent.or_else(|| {
            span.parent().and_then(|parent| {
                let extensions = parent.extensions();
                extensions.get::<SpanState>().map(SpanState::inherited)
            })
        });
        let meta = attrs.metadata();
        let mut state = match local_parent {
            Some((parent, service, baggage)) => {
                let mut state = SpanState::child(parent, meta, service);
                state.inherit_baggage(baggage);
                state
            }
            None => {
                let pending = crate::remote_parent::take_pending();
                let operation = crate::semconv::operation_name(attrs);
                let sampler = pending
                    .as_ref()
                    .and_then(|pending| pending.sampler.as_ref())
                    .map(|sampler| sampler.as_sampler());
                match pending.as_ref().and_then(|pending| pending.remote) {
                    Some((remote, shared)) => {
                        let context = self
                            .core
                            .continue_remote(remote, shared, &operation, sampler);
                        let mut state = SpanState::new(context, meta, true, None);
                        state.continue_caller(
                            remote,
                            shared,
                            crate::remote_parent::trace_state_of(context.trace_id),
                        );
                        state
                    }
                    None => {
                        let context = self.core.root_context(&operation, sampler);
                        SpanState::new(context, meta, true, None)
                    }
                }
            }
        };
        if state.context.sampling.is_sampled() {
            if !attrs.fields().is_empty() {
                attrs.record(&mut state.recorder());
            }
            self.core.exporter.span_started(state.context.trace_id);
            crate::open_spans::started(self.core.id);
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
                values.record(&mut state.recorder());
            }
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(from) = ctx.span(follows).and_then(|span| {
            span.extensions()
                .get::<SpanState>()
                .map(|state| state.context)
        }) else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            if state.context.sampling.is_sampled() {
                state.follows_from(Link {
                    trace_id: from.trace_id,
                    span_id: from.span_id,
                });
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if event.is_contextual() {
            match crate::frame::innermost_sampled() {
                Some(true) => {
                    // The event's fields are user code: format them before the frame is borrowed.
                    let annotation = annotation_of(event);
                    crate::frame::with_innermost(|state| state.annotate(level, annotation));
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
        let annotation = annotation_of(event);
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            state.annotate(level, annotation);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(mut state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        // A frame's twin is reported as the frame itself.
        if !state.context.sampling.is_sampled() || state.is_twin() {
            return;
        }
        let end = Timestamp::now();
        state.tag_baggage(&self.core.baggage_tags);
        self.core.exporter.export(state.finish(end));
        crate::open_spans::ended(self.core.id);
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<OfferedCore>() && self.fast_path {
            // Offered to `TracedSubscriber` only, which answers for `Arc<Core>` (the fast path
            // needs it as the outermost subscriber: see `subscriber.rs`).
            Some(&self.core as *const Arc<Core> as *const ())
        } else if id == TypeId::of::<WithContext>() {
            Some(&self.with_context as *const WithContext as *const ())
        } else {
            None
        }
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
