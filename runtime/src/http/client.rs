//! The CLIENT span for each request reqwest sends, and the headers that carry it.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::redact_url;
use crate::propagation::Propagator;
use crate::semconv;

const TARGET: &str = "traced::http";

/// How outgoing requests are traced: the peer's service name and the propagator.
///
/// Use it through [`SendTraced::send_traced_with`], or (feature `reqwest-middleware`) as a
/// `reqwest_middleware::Middleware`:
///
/// ```
/// # #[cfg(feature = "reqwest-middleware")] {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(traced::http::ClientTrace::new().peer_service("inventory"))
///     .build();
/// # }
/// ```
#[derive(Clone, Default)]
pub struct ClientTrace {
    peer_service: Option<Arc<str>>,
    propagator: Option<Arc<Propagator>>,
}

impl fmt::Debug for ClientTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTrace")
            .field("peer_service", &self.peer_service)
            .finish_non_exhaustive()
    }
}

impl ClientTrace {
    /// Traces with the global propagator and the remote endpoint named after the URL's host.
    pub fn new() -> ClientTrace {
        ClientTrace::default()
    }

    /// Names the remote endpoint (`peer.service`), for a service whose host name says little.
    ///
    /// ```
    /// let trace = traced::http::ClientTrace::new().peer_service("inventory");
    /// ```
    pub fn peer_service(mut self, name: &str) -> ClientTrace {
        self.peer_service = Some(Arc::from(name));
        self
    }

    /// Injects headers with `propagator` instead of the global one.
    ///
    /// ```
    /// use traced::propagation::Propagator;
    /// let trace = traced::http::ClientTrace::new().propagator(Propagator::default());
    /// ```
    pub fn propagator(mut self, propagator: Propagator) -> ClientTrace {
        self.propagator = Some(Arc::new(propagator));
        self
    }

    /// Sends `request` with `send` inside a CLIENT span, with the span's context injected into
    /// the request's headers.
    async fn run<F, Fut, E>(
        &self,
        mut request: reqwest::Request,
        send: F,
    ) -> Result<reqwest::Response, E>
    where
        F: FnOnce(reqwest::Request) -> Fut,
        Fut: Future<Output = Result<reqwest::Response, E>>,
        E: Describe,
    {
        let span = self.open_span(&request);
        // A disabled span is not entered, so the caller's own context is injected: the trace
        // still continues downstream.
        let context = span.in_scope(crate::current_context);
        if let Some(context) = context {
            let headers = request.headers_mut();
            match &self.propagator {
                Some(propagator) => propagator.inject(&context, headers),
                None => crate::propagation::global().inject(&context, headers),
            }
        }
        let result = send(request).instrument(span.clone()).await;
        if !span.is_disabled() {
            match &result {
                Ok(response) => {
                    let status = response.status();
                    span.record(semconv::HTTP_RESPONSE_STATUS_CODE, status.as_u16());
                    if status.is_server_error() {
                        span.record(semconv::ERROR, status.as_str());
                        span.record(semconv::ERROR_TYPE, status.as_str());
                    }
                }
                Err(error) => {
                    span.record(semconv::ERROR, error.describe());
                    span.record(semconv::ERROR_TYPE, std::any::type_name::<E>());
                }
            }
        }
        result
    }

    fn open_span(&self, request: &reqwest::Request) -> Span {
        if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            return Span::none();
        }
        let url = request.url();
        let method = request.method().as_str();
        let redacted = redact_url(url.as_str());
        // `host_str` keeps IPv6 brackets; the layer parses a bare address.
        let host = url
            .host_str()
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'));
        tracing::info_span!(
            target: TARGET,
            "http.client",
            otel.name = method,
            otel.kind = "client",
            { semconv::HTTP_REQUEST_METHOD } = method,
            { semconv::URL_FULL } = redacted.as_str(),
            { semconv::URL_SCHEME } = url.scheme(),
            { semconv::PEER_SERVICE } = self.peer_service.as_deref(),
            { semconv::SERVER_ADDRESS } = host,
            { semconv::SERVER_PORT } = url.port_or_known_default(),
            { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
            { semconv::ERROR } = Empty,
            { semconv::ERROR_TYPE } = Empty,
        )
    }
}

/// Sends a `reqwest` request inside a CLIENT span, with the trace context and the current
/// span's [baggage](crate::baggage) in its headers.
///
/// The span is named after the method and tagged, by OpenTelemetry's stable HTTP conventions
/// ([`crate::semconv`]), with `http.request.method`, `url.full` (without userinfo, sensitive
/// query values redacted), `url.scheme`, `http.response.status_code`, and `server.address` /
/// `server.port` — the remote endpoint. A connection error or a 5xx answer sets the `error`
/// and `error.type` tags.
///
/// ```no_run
/// use traced::http::SendTraced;
///
/// # async fn call() -> Result<(), reqwest::Error> {
/// let client = reqwest::Client::new();
/// let stock = client.get("http://inventory:8080/stock/7").send_traced().await?;
/// # Ok(()) }
/// ```
pub trait SendTraced {
    /// Like `RequestBuilder::send`, traced with the defaults of [`ClientTrace::new`].
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;

    /// Like `RequestBuilder::send`, traced as `trace` says.
    fn send_traced_with(
        self,
        trace: &ClientTrace,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl SendTraced for reqwest::RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        let trace = ClientTrace::new();
        async move { send(self, &trace).await }
    }

    fn send_traced_with(
        self,
        trace: &ClientTrace,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        let trace = trace.clone();
        async move { send(self, &trace).await }
    }
}

async fn send(
    builder: reqwest::RequestBuilder,
    trace: &ClientTrace,
) -> reqwest::Result<reqwest::Response> {
    let (client, request) = builder.build_split();
    // A request that cannot even be built never reaches the network: no span to report.
    let request = request?;
    trace.run(request, |request| client.execute(request)).await
}

/// An error as the `error` tag shows it.
trait Describe {
    fn describe(&self) -> String;
}

impl Describe for reqwest::Error {
    fn describe(&self) -> String {
        // reqwest's own message repeats the URL, userinfo and query secrets included: describe
        // the kind of failure and its causes instead.
        let kind = if self.is_connect() {
            "connect error"
        } else if self.is_timeout() {
            "timeout"
        } else if self.is_redirect() {
            "redirect error"
        } else if self.is_body() || self.is_decode() {
            "body error"
        } else if self.is_request() {
            "request error"
        } else {
            "error"
        };
        let mut text = String::from(kind);
        let mut cause = self.source();
        while let Some(error) = cause {
            text.push_str(": ");
            text.push_str(&crate::value::capped_display(error));
            if text.len() > crate::max_value_len() {
                break;
            }
            cause = error.source();
        }
        crate::value::cap_str(&text).into_owned()
    }
}

#[cfg(feature = "reqwest-middleware")]
impl Describe for reqwest_middleware::Error {
    fn describe(&self) -> String {
        match self {
            reqwest_middleware::Error::Reqwest(error) => error.describe(),
            reqwest_middleware::Error::Middleware(error) => crate::value::capped_display(error),
        }
    }
}

#[cfg(feature = "reqwest-middleware")]
impl reqwest_middleware::Middleware for ClientTrace {
    // Written out rather than through `#[async_trait]`, which would be one more dependency.
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        request: reqwest::Request,
        extensions: &'life1 mut http::Extensions,
        next: reqwest_middleware::Next<'life2>,
    ) -> std::pin::Pin<
        Box<
            dyn Future<Output = reqwest_middleware::Result<reqwest::Response>>
                + Send
                + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.run(request, move |request| next.run(request, extensions)))
    }
}
