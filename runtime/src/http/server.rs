//! The SERVER span for each request a tower service answers.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};

use super::request_span::RequestSpan;
use super::request_span::TARGET;
use super::server_span::{Caller, Opened, RequestFacts};
use super::SpanModel;
use crate::propagation::{Incoming, Propagator};
use crate::remote_parent::RootSampler;
use crate::sample::{Decision, Rule, Rules};

/// A `tower::Layer` that opens a SERVER span for every request (named so it sits beside
/// tower-http's `TraceLayer` without a clash).
///
/// Per request it extracts the caller's trace context from the headers (a malformed or missing
/// context starts a new trace; the request itself is never refused), opens a span named
/// `{METHOD} {route}` — the route template from axum's `MatchedPath` when the layer is added
/// with `Router::layer`; `{METHOD}` alone without one — and makes it current while the handler
/// runs, so `#[traced]` functions and outgoing client calls nest under it. The caller's
/// [baggage](crate::baggage) (W3C `baggage`, Jaeger `uberctx-*`, as the propagator reads them)
/// is the server span's, so the handler reads it and the calls it makes send it on.
///
/// Tags, by OpenTelemetry's stable HTTP conventions ([`crate::semconv`]):
/// `http.request.method`, `http.route`, `url.path`, `url.query` (sensitive values redacted),
/// `url.scheme` (when the request URI has one), `server.address` and `server.port` (from the
/// URI or `Host`), `user_agent.original`, `http.response.status_code`, and `client.address` /
/// `client.port` — the remote endpoint — when axum's `ConnectInfo<SocketAddr>` is there
/// (`into_make_service_with_connect_info`). No other header is recorded.
///
/// A request whose future is dropped before it answers (the client went away, a timeout layer
/// gave up) is tagged `cancelled=true` with an annotation `cancelled`.
///
/// A 5xx answer sets the `error` and `error.type` tags to the status code. A handler that
/// panics sets `error` to the panic message (and `error.type` to `panic`) and, by default, is
/// answered with an empty `500 Internal Server Error` — the connection and the server keep
/// going, as with tower-http's `CatchPanic`. With
/// [`ServerLayer::catch_panics`]`(false)` the panic is tagged and then resumed instead.
///
/// Off by default, [`ServerLayer::trace_response`] returns the trace in a response header
/// (W3C `traceresponse`, or the trace id under a name of yours), so whoever holds a response can
/// find its trace.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{routing::get, Router};
///
/// let app: Router = Router::new()
///     .route("/items/{id}", get(|| async { "item" }))
///     .layer(traced::http::ServerLayer::new().service_name("catalog"));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct ServerLayer {
    config: Arc<Config>,
}

#[derive(Default)]
struct Config {
    model: SpanModel,
    service_name: Option<Arc<str>>,
    propagator: Option<Propagator>,
    resume_panics: bool,
    trace_response: Option<TraceResponse>,
    sampling_rules: Rules,
}

/// The response header that says which trace answered (see [`ServerLayer::trace_response`]).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum TraceResponse {
    /// W3C Trace Context Level 2 `traceresponse: 00-{trace id}-{server span id}-{flags}`
    /// (32 hex digits of trace id, the sampled flag `01` or `00`).
    TraceContext,
    /// The trace id alone, as Zipkin shows it (16 or 32 hex digits), under this name.
    TraceId(http::HeaderName),
}

impl TraceResponse {
    /// The `traceresponse` header's name.
    pub const TRACERESPONSE: &'static str = "traceresponse";

    fn header(&self, context: &crate::model::SpanContext) -> (http::HeaderName, String) {
        match self {
            TraceResponse::TraceContext => (
                http::HeaderName::from_static(TraceResponse::TRACERESPONSE),
                // `traceresponse` has `traceparent`'s format.
                crate::propagation::traceparent_value(context),
            ),
            TraceResponse::TraceId(name) => (name.clone(), context.trace_id.to_string()),
        }
    }
}

impl fmt::Debug for ServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLayer")
            .field("model", &self.config.model)
            .field("service_name", &self.config.service_name)
            .field("catch_panics", &!self.config.resume_panics)
            .field("sampling_rules", &self.config.sampling_rules)
            .finish_non_exhaustive()
    }
}

impl ServerLayer {
    /// A layer with child server spans, the global propagator, the process's service name, and
    /// panics answered with 500.
    pub fn new() -> ServerLayer {
        ServerLayer::default()
    }

    fn edit(mut self, change: impl FnOnce(&mut Config)) -> ServerLayer {
        // Builders run before the layer is cloned into services, so this never copies.
        match Arc::get_mut(&mut self.config) {
            Some(config) => change(config),
            None => {
                let mut config = Config {
                    model: self.config.model,
                    service_name: self.config.service_name.clone(),
                    propagator: self.config.propagator.clone(),
                    resume_panics: self.config.resume_panics,
                    trace_response: self.config.trace_response.clone(),
                    sampling_rules: self.config.sampling_rules.clone(),
                };
                change(&mut config);
                self.config = Arc::new(config);
            }
        }
        self
    }

    /// Whether the server span is a child of the caller's span ([`SpanModel::Child`], the
    /// default) or joins it ([`SpanModel::Shared`]).
    ///
    /// ```
    /// use traced::http::{SpanModel, ServerLayer};
    /// let layer = ServerLayer::new().span_model(SpanModel::Shared);
    /// ```
    pub fn span_model(self, model: SpanModel) -> ServerLayer {
        self.edit(|config| config.model = model)
    }

    /// The service these spans (and every span under them) are reported as, for a process that
    /// serves as several services.
    ///
    /// ```
    /// let layer = traced::http::ServerLayer::new().service_name("inventory");
    /// ```
    pub fn service_name(self, name: &str) -> ServerLayer {
        let name = Arc::from(name);
        self.edit(|config| config.service_name = Some(name))
    }

    /// Extracts incoming contexts with `propagator` instead of the global one.
    ///
    /// ```
    /// use traced::propagation::Propagator;
    /// let layer = traced::http::ServerLayer::new().propagator(Propagator::default());
    /// ```
    pub fn propagator(self, propagator: Propagator) -> ServerLayer {
        self.edit(|config| config.propagator = Some(propagator))
    }

    /// Whether a panicking handler is answered with `500` (`true`, the default) or the panic
    /// continues to unwind once the span is tagged (`false`).
    ///
    /// ```
    /// let layer = traced::http::ServerLayer::new().catch_panics(false);
    /// ```
    pub fn catch_panics(self, catch: bool) -> ServerLayer {
        self.edit(|config| config.resume_panics = !catch)
    }

    /// Returns the trace in a header of every response whose request was traced: `None` (the
    /// default) adds nothing; [`TraceResponse::TraceContext`] adds W3C `traceresponse`;
    /// [`TraceResponse::TraceId`] the bare trace id under the name you choose. A header of that
    /// name the handler set is replaced.
    ///
    /// ```
    /// use traced::http::{ServerLayer, TraceResponse};
    ///
    /// let w3c = ServerLayer::new().trace_response(Some(TraceResponse::TraceContext));
    /// let own = ServerLayer::new().trace_response(Some(TraceResponse::TraceId(
    ///     http::HeaderName::from_static("x-trace-id"),
    /// )));
    /// ```
    pub fn trace_response(self, header: Option<TraceResponse>) -> ServerLayer {
        self.edit(|config| config.trace_response = header)
    }
}

impl ServerLayer {
    /// Adds a sampling rule: a request that starts a new trace and matches `rule` is sampled
    /// as `decision` says, instead of by the process's sampler. Rules are tried in the order
    /// they were added and the first match decides, as in Brave's `HttpRuleSampler`; a request
    /// that matches none is left to the process's sampler (`OTEL_TRACES_SAMPLER`).
    ///
    /// A caller's decision in the headers still wins, as with a parent-based sampler: a rule
    /// decides when the request carries no trace context, or one that defers the decision (a
    /// B3 context without a sampled flag); a caller that sampled (or debug-flagged) the trace is
    /// recorded, one that denied it is not. A request handled inside another span of this
    /// process (a service called in-process) inherits that span's decision.
    ///
    /// ```
    /// use traced::http::ServerLayer;
    /// use traced::sample::{Decision, Rule};
    ///
    /// let layer = ServerLayer::new()
    ///     // Probes: never.
    ///     .sampling_rule(Rule::new().method("GET").path_prefix("/health"), Decision::Never)
    ///     // Checkout: always.
    ///     .sampling_rule(Rule::new().method("POST").path("/checkout"), Decision::Always)
    ///     // Item pages (axum's route template): at most 10 new traces a second.
    ///     .sampling_rule(Rule::new().route("/items/{id}"), Decision::RateLimited(10.0))
    ///     // Everything else under /api: a tenth.
    ///     .sampling_rule(Rule::new().path_prefix("/api/"), Decision::Ratio(0.1));
    /// ```
    pub fn sampling_rule(self, rule: Rule, decision: Decision) -> ServerLayer {
        self.edit(|config| config.sampling_rules.push(rule, decision))
    }
}

impl<S> tower_layer::Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> ServerService<S> {
        ServerService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`ServerLayer`] wraps around yours.
#[derive(Clone)]
pub struct ServerService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for ServerService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for ServerService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ServerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> ServerFuture<S::Future> {
        // When nothing would be recorded, skip the parsing and formatting entirely; panics are
        // still handled the same way, so behaviour never depends on the log filter.
        let (opened, trace_state) = if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            self.open(&request)
        } else {
            (Opened::Off, None)
        };
        let resume_panics = self.config.resume_panics;
        let inner = &mut self.inner;
        let call = || {
            in_trace_state(trace_state.as_ref(), || {
                catch_unwind(AssertUnwindSafe(|| inner.call(request)))
            })
        };
        // A frame is on the stack already, the innermost scope while the service's synchronous
        // part runs.
        let called = match &opened {
            Opened::Span(span) => span.in_scope(call),
            _ => call(),
        };
        let span = opened.into_span();
        let trace_header = match &self.config.trace_response {
            Some(header) => trace_header(header, &span),
            None => None,
        };
        match called {
            Ok(future) => ServerFuture {
                inner: Some(future),
                span: Some(span),
                trace_state,
                resume_panics,
                trace_header,
            },
            Err(payload) => {
                span.panicked(payload.as_ref());
                if resume_panics {
                    resume_unwind(payload);
                }
                // The service panicked before it even returned a future: the 500 is all that
                // is left to give.
                ServerFuture {
                    inner: None,
                    span: None,
                    trace_state: None,
                    resume_panics,
                    trace_header,
                }
            }
        }
    }
}

impl<S> ServerService<S> {
    /// Opens the server span, and returns the caller's W3C `tracestate` to keep for calls made
    /// while handling the request.
    fn open<B>(&self, request: &Request<B>) -> (Opened, Option<Incoming>) {
        let config = &*self.config;
        let facts = RequestFacts::of(request);
        let headers = request.headers();
        // Most requests reaching an edge service carry no trace headers at all: for those,
        // neither the propagator nor its dozen lookups are needed.
        let propagated = headers
            .keys()
            .any(|name| crate::propagation::is_read_by_extraction(name.as_str()));
        let global;
        let propagator = match (&config.propagator, propagated) {
            (_, false) => None,
            (Some(propagator), true) => Some(propagator),
            (None, true) => {
                global = crate::propagation::global();
                Some(&*global)
            }
        };
        let incoming = propagator.and_then(|propagator| propagator.extract_incoming(headers));
        // The first matching rule's sampler decides, if the span starts a trace or continues
        // a caller that left the decision open (the pipeline keeps a caller's decision).
        let sampler = if config.sampling_rules.is_empty() {
            None
        } else {
            config
                .sampling_rules
                .find(facts.method, facts.path, facts.route)
                .map(|sampler| RootSampler::Shared(sampler.clone()))
        };
        let caller = Caller {
            incoming: incoming.as_ref(),
            shared: config.model == SpanModel::Shared,
            baggage: propagator
                .map(|propagator| propagator.extract_baggage(headers))
                .unwrap_or_default(),
            sampler,
        };
        let opened = Opened::open(facts, config.service_name.as_ref(), caller);
        let trace_state = incoming.filter(|incoming| incoming.trace_state.is_some());
        (opened, trace_state)
    }
}

/// The response header naming the server span's trace, when our layer records the span.
fn trace_header(
    header: &TraceResponse,
    span: &RequestSpan,
) -> Option<(http::HeaderName, http::HeaderValue)> {
    let (name, value) = header.header(&span.context()?);
    // Hex digits and dashes: always a valid header value.
    Some((name, http::HeaderValue::from_str(&value).ok()?))
}

/// Runs `body` with the caller's `tracestate` (if any) kept for W3C injection.
fn in_trace_state<R>(incoming: Option<&Incoming>, body: impl FnOnce() -> R) -> R {
    match incoming {
        Some(incoming) => incoming.in_scope(body),
        None => body(),
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ServerService`]: runs the handler inside the server span and
    /// records the outcome.
    pub struct ServerFuture<F> {
        #[pin]
        inner: Option<F>,
        // Taken when the response is ready, so the span is reported before the answer is sent.
        span: Option<RequestSpan>,
        // Only kept when the caller sent a `tracestate`.
        trace_state: Option<Incoming>,
        resume_panics: bool,
        // The trace header to add to the response (`ServerLayer::trace_response`).
        trace_header: Option<(http::HeaderName, http::HeaderValue)>,
    }

    impl<F> PinnedDrop for ServerFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // The span is only still here if no answer was made: the connection closed (or a
            // timeout layer gave up) while the handler ran.
            if let Some(span) = this.project().span.take() {
                span.cancelled();
            }
        }
    }
}

impl<F, ResBody, E> Future for ServerFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Ok(with_header(internal_error(), this.trace_header.take())));
        };
        let trace_state = this.trace_state.as_ref();
        let poll = || {
            in_trace_state(trace_state, || {
                catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
            })
        };
        let polled = match this.span.as_mut() {
            Some(span) => span.in_scope(poll),
            None => poll(),
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                if let Some(span) = this.span.take() {
                    match &result {
                        Ok(response) => span.answered(response.status()),
                        // The service gave up without an answer; hyper closes the connection.
                        Err(_) => span.failed::<E>(),
                    }
                }
                let header = this.trace_header.take();
                Poll::Ready(result.map(|response| with_header(response, header)))
            }
            Err(payload) => {
                if let Some(span) = this.span.take() {
                    span.panicked(payload.as_ref());
                }
                if *this.resume_panics {
                    resume_unwind(payload);
                }
                Poll::Ready(Ok(with_header(internal_error(), this.trace_header.take())))
            }
        }
    }
}

fn with_header<B>(
    mut response: Response<B>,
    header: Option<(http::HeaderName, http::HeaderValue)>,
) -> Response<B> {
    if let Some((name, value)) = header {
        response.headers_mut().insert(name, value);
    }
    response
}

fn internal_error<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
