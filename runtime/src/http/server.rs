//! The SERVER span for each request a tower service answers.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tracing::field::Empty;
use tracing::Span;

use super::{redact_target, SpanModel};
use crate::propagation::{Incoming, Propagator};
use crate::remote_parent::{Pending, RootSampler};
use crate::sample::{Decision, Rule, Rules};
use crate::semconv;

/// The tracing target of the spans this layer opens: filter on it to turn them off.
const TARGET: &str = "traced::http";

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
    service_name: Option<Box<str>>,
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
        let name = Box::from(name);
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
        let (span, trace_state) = if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            let (span, trace_state) = self.open_span(&request);
            (Some(span), trace_state)
        } else {
            (None, None)
        };
        let resume_panics = self.config.resume_panics;
        let inner = &mut self.inner;
        let call = || {
            in_trace_state(trace_state.as_ref(), || {
                catch_unwind(AssertUnwindSafe(|| inner.call(request)))
            })
        };
        let called = match &span {
            Some(span) => span.in_scope(call),
            None => call(),
        };
        let trace_header = match (&self.config.trace_response, &span) {
            (Some(header), Some(span)) => trace_header(header, span),
            _ => None,
        };
        match called {
            Ok(future) => ServerFuture {
                inner: Some(future),
                span,
                trace_state,
                resume_panics,
                trace_header,
            },
            Err(payload) => {
                if let Some(span) = &span {
                    record_panic(span, payload.as_ref());
                }
                if resume_panics {
                    drop(span);
                    resume_unwind(payload);
                }
                // The service panicked before it even returned a future: the 500 is all that
                // is left to give.
                ServerFuture {
                    inner: None,
                    span,
                    trace_state: None,
                    resume_panics,
                    trace_header,
                }
            }
        }
    }
}

impl<S> ServerService<S> {
    /// The server span, and the caller's W3C `tracestate` to keep for calls made while handling
    /// the request.
    fn open_span<B>(&self, request: &Request<B>) -> (Span, Option<Incoming>) {
        let config = &*self.config;
        let method = request.method().as_str();
        let route = matched_path(request);
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |target| target.as_str());
        let path = request.uri().path();
        // `{method} {route}`; without a route template, `{method}` alone: a raw path would make
        // one span name per URL.
        let name = match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let target = redact_target(path_and_query);
        let query = target
            .split_once('?')
            .map(|(_, query)| query)
            .filter(|query| !query.is_empty());
        let user_agent = request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(crate::value::cap_str);
        let global;
        let propagator = match &config.propagator {
            Some(propagator) => propagator,
            None => {
                global = crate::propagation::global();
                &*global
            }
        };
        let incoming = propagator.extract_incoming(request.headers());
        // Known before the span is made, so given to it rather than recorded after: each
        // `record` is a lookup of the span in the registry.
        let service_name = config.service_name.as_deref();
        let authority = authority(request);
        let server_address = authority.as_ref().map(|authority| authority.host());
        let server_port = authority
            .as_ref()
            .and_then(|authority| authority.port_u16());
        let client = client_address(request);
        let client_address = client.map(|address| tracing::field::display(address.ip()));
        let client_port = client.map(|address| address.port());
        // One field list for both parents; `Empty` fields are recorded on completion.
        macro_rules! server_span {
            ($($parent:tt)*) => {
                tracing::info_span!(
                    target: TARGET,
                    $($parent)*
                    "http.server",
                    otel.name = name.as_str(),
                    otel.kind = "server",
                    service.name = service_name,
                    { semconv::HTTP_REQUEST_METHOD } = method,
                    { semconv::HTTP_ROUTE } = route,
                    { semconv::URL_PATH } = path,
                    { semconv::URL_QUERY } = query,
                    { semconv::URL_SCHEME } = request.uri().scheme_str(),
                    { semconv::SERVER_ADDRESS } = server_address,
                    { semconv::SERVER_PORT } = server_port,
                    { semconv::CLIENT_ADDRESS } = client_address,
                    { semconv::CLIENT_PORT } = client_port,
                    { semconv::USER_AGENT_ORIGINAL } = user_agent.as_deref(),
                    { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
                    { semconv::ERROR } = Empty,
                    { semconv::ERROR_TYPE } = Empty,
                )
            };
        }
        // The first matching rule's sampler decides, if the span starts a trace or continues
        // a caller that left the decision open (the pipeline keeps a caller's decision).
        let sampler = if config.sampling_rules.is_empty() {
            None
        } else {
            config
                .sampling_rules
                .find(method, path, route)
                .map(|sampler| RootSampler::Shared(sampler.clone()))
        };
        let span = match incoming.as_ref() {
            Some(incoming) => {
                let shared = config.model == SpanModel::Shared;
                let (trace, state) = incoming.trace_state_text();
                // A root, so the caller's context wins over whatever span is current here (a
                // local parent would otherwise take precedence).
                crate::remote_parent::with_trace_state(trace, state, || {
                    crate::remote_parent::with_pending(
                        Pending {
                            remote: Some((incoming.remote, shared)),
                            sampler,
                        },
                        || server_span!(parent: None,),
                    )
                })
            }
            // No caller: nest under the current span, if any (a service called in-process);
            // the rule's sampler is only taken if the span is a root.
            None => match sampler {
                Some(sampler) => crate::remote_parent::with_pending(
                    Pending {
                        remote: None,
                        sampler: Some(sampler),
                    },
                    || server_span!(),
                ),
                None => server_span!(),
            },
        };
        crate::baggage::attach(&span, &propagator.extract_baggage(request.headers()));
        let trace_state = incoming.filter(|incoming| incoming.trace_state.is_some());
        (span, trace_state)
    }
}

/// The response header naming the server span's trace, when our layer records the span.
fn trace_header(
    header: &TraceResponse,
    span: &Span,
) -> Option<(http::HeaderName, http::HeaderValue)> {
    let context = span
        .with_subscriber(|(id, dispatch)| crate::lookup::parent_of(dispatch, id))
        .flatten()?
        .0;
    let (name, value) = header.header(&context);
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

#[cfg(feature = "axum")]
fn matched_path<B>(request: &Request<B>) -> Option<&str> {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str())
}

#[cfg(not(feature = "axum"))]
fn matched_path<B>(_request: &Request<B>) -> Option<&str> {
    None
}

/// The peer's address, when axum's `ConnectInfo` says it.
#[cfg(feature = "axum")]
fn client_address<B>(request: &Request<B>) -> Option<std::net::SocketAddr> {
    use axum::extract::ConnectInfo;
    request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(address)| *address)
}

#[cfg(not(feature = "axum"))]
fn client_address<B>(_request: &Request<B>) -> Option<std::net::SocketAddr> {
    None
}

/// The host and port the client addressed: the URI's authority (HTTP/2, absolute form), else
/// `Host`.
fn authority<B>(request: &Request<B>) -> Option<http::uri::Authority> {
    if let Some(authority) = request.uri().authority() {
        return Some(authority.clone());
    }
    let host = request.headers().get(http::header::HOST)?;
    // Parsed, not sliced: a hostile Host header must come out as "no authority", never a panic.
    http::uri::Authority::try_from(host.as_bytes()).ok()
}

fn record_status(span: &Span, status: StatusCode) {
    span.record(semconv::HTTP_RESPONSE_STATUS_CODE, status.as_u16());
    if status.is_server_error() {
        span.record(semconv::ERROR, status.as_str());
        span.record(semconv::ERROR_TYPE, status.as_str());
    }
}

fn record_panic(span: &Span, payload: &(dyn Any + Send)) {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        crate::value::cap_str(text).into_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        crate::value::cap_str(text).into_owned()
    } else {
        "panic".to_owned()
    };
    span.record(semconv::ERROR, message);
    span.record(semconv::ERROR_TYPE, "panic");
    span.record(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
    );
}

pin_project_lite::pin_project! {
    /// The response future of [`ServerService`]: runs the handler inside the server span and
    /// records the outcome.
    pub struct ServerFuture<F> {
        #[pin]
        inner: Option<F>,
        // Taken when the response is ready, so the span is reported before the answer is sent.
        span: Option<Span>,
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
                crate::lookup::mark_cancelled(&span);
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
            this.span.take();
            return Poll::Ready(Ok(with_header(internal_error(), this.trace_header.take())));
        };
        let polled = {
            let _entered = this.span.as_ref().map(Span::enter);
            in_trace_state(this.trace_state.as_ref(), || {
                catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
            })
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                if let Some(span) = this.span.take() {
                    match &result {
                        Ok(response) => record_status(&span, response.status()),
                        // The service gave up without an answer; hyper closes the connection.
                        Err(_) => {
                            span.record(semconv::ERROR, "service error");
                            span.record(semconv::ERROR_TYPE, std::any::type_name::<E>());
                        }
                    }
                }
                let header = this.trace_header.take();
                Poll::Ready(result.map(|response| with_header(response, header)))
            }
            Err(payload) => {
                if let Some(span) = this.span.take() {
                    record_panic(&span, payload.as_ref());
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
