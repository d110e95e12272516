//! The CLIENT span for each request reqwest sends, and the headers that carry it.
//!
//! The span is a frame when traced's layer is the only consumer of spans, as the server span is
//! (`request_span.rs` says why). In the shop's `GET /available`, which makes one such call, the
//! instructions spent in tracing's and traced's own code per request went from 10,163 to 6,900
//! when the client span became a frame (`report request-profile traced available` under
//! callgrind, benches/PROFILE.md).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tracing::field::Empty;
use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};

use super::redact_url;
use super::request_span::{self, push_frame, RequestSpan, TARGET};
use crate::frame::Begun;
use crate::propagation::Propagator;
use crate::semconv;
use crate::state::SpanState;
use crate::value::cap_str;

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
        let mut span = self.open(&request);
        // A span that records nothing is not entered, so the caller's own context is injected:
        // the trace still continues downstream.
        let context = match &span {
            RequestSpan::Frame(frame) => Some(frame.state.context),
            _ => span.in_scope(crate::current_context),
        };
        if let Some(context) = context {
            let headers = request.headers_mut();
            match &self.propagator {
                Some(propagator) => propagator.inject(&context, headers),
                None => crate::propagation::global().inject(&context, headers),
            }
        }
        Exchange {
            inner: Some(send(request)),
            span: Some(span),
        }
        .await
    }

    /// Opens the CLIENT span of `request`: a frame on the fast path, a tracing span otherwise.
    fn open(&self, request: &reqwest::Request) -> RequestSpan {
        let callsite = frame_callsite();
        match crate::frame::begin_request(callsite, request.method().as_str(), None, None) {
            Begun::Off => RequestSpan::Off,
            Begun::Span => RequestSpan::Span(self.open_span(request)),
            Begun::Frame(opening) => {
                let pushed = push_frame(opening, callsite.metadata(), |state| {
                    if state.context.sampling.is_sampled() {
                        self.record_into(request, state);
                    }
                });
                pushed.map_or(RequestSpan::Off, RequestSpan::taken_out)
            }
        }
    }

    /// Records `request` into a frame's state, as the tracing span's fields would be: in their
    /// order, each through the same routing (`FieldRecorder`), capped alike.
    fn record_into(&self, request: &reqwest::Request, state: &mut SpanState) {
        let url = request.url();
        let method = request.method().as_str();
        let mut record = state.new_fields(FIELDS.len());
        record.text(semconv::OTEL_NAME, cap_str(method));
        record.static_text(semconv::OTEL_KIND, "client");
        match request_span::static_method(method) {
            Some(method) => record.static_text(semconv::HTTP_REQUEST_METHOD, method),
            None => record.text(semconv::HTTP_REQUEST_METHOD, cap_str(method)),
        }
        let redacted = redact_url(url.as_str());
        let redacted = match cap_str(&redacted) {
            Cow::Borrowed(_) => redacted,
            Cow::Owned(capped) => capped,
        };
        record.text(semconv::URL_FULL, Cow::Owned(redacted));
        match url.scheme() {
            "http" => record.static_text(semconv::URL_SCHEME, "http"),
            "https" => record.static_text(semconv::URL_SCHEME, "https"),
            other => record.text(semconv::URL_SCHEME, cap_str(other)),
        }
        if let Some(peer) = &self.peer_service {
            record.text(semconv::PEER_SERVICE, cap_str(peer));
        }
        if let Some(host) = host(url) {
            record.text(semconv::SERVER_ADDRESS, cap_str(host));
        }
        if let Some(port) = url.port_or_known_default() {
            record.unsigned(semconv::SERVER_PORT, port.into());
        }
    }

    /// The CLIENT span as a tracing span (the subscriber has no fast path).
    fn open_span(&self, request: &reqwest::Request) -> Span {
        let url = request.url();
        let method = request.method().as_str();
        let redacted = redact_url(url.as_str());
        tracing::info_span!(
            target: TARGET,
            "http.client",
            otel.name = method,
            otel.kind = "client",
            { semconv::HTTP_REQUEST_METHOD } = method,
            { semconv::URL_FULL } = redacted.as_str(),
            { semconv::URL_SCHEME } = url.scheme(),
            { semconv::PEER_SERVICE } = self.peer_service.as_deref(),
            { semconv::SERVER_ADDRESS } = host(url),
            { semconv::SERVER_PORT } = url.port_or_known_default(),
            { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
            { semconv::ERROR } = Empty,
            { semconv::ERROR_TYPE } = Empty,
        )
    }
}

/// The host the URL names, as the remote endpoint's address: `host_str` keeps IPv6 brackets,
/// and the layer parses a bare address.
fn host(url: &reqwest::Url) -> Option<&str> {
    url.host_str()
        .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
}

/// The tracing span's fields, in its order; the frame's callsite declares them too.
const FIELDS: [&str; 11] = [
    semconv::OTEL_NAME,
    semconv::OTEL_KIND,
    semconv::HTTP_REQUEST_METHOD,
    semconv::URL_FULL,
    semconv::URL_SCHEME,
    semconv::PEER_SERVICE,
    semconv::SERVER_ADDRESS,
    semconv::SERVER_PORT,
    semconv::HTTP_RESPONSE_STATUS_CODE,
    semconv::ERROR,
    semconv::ERROR_TYPE,
];

/// What the frame of a client span is named after, for filters: the tracing span's callsite
/// has the same name, target, level and fields.
fn frame_callsite() -> &'static DefaultCallsite {
    request_span::frame_callsite!("http.client", TARGET, &FIELDS)
}

pin_project_lite::pin_project! {
    /// A request being sent, polled inside its CLIENT span, which ends with the answer.
    struct Exchange<F> {
        // Emptied only by the drop, inside the span.
        #[pin]
        inner: Option<F>,
        // Taken when the answer is in; still here if the request was dropped before it.
        span: Option<RequestSpan>,
    }

    impl<F> PinnedDrop for Exchange<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Dropped before the answer came: a timeout, a `select!` that took another branch,
            // an aborted task, or a poll that panicked (which the span already says). What the
            // request's own drop does (closing its connection, say) happens inside the span, as
            // its polls did.
            if let Some(mut span) = this.span.take() {
                span.in_scope(|| this.inner.set(None));
                span.cancelled();
            }
        }
    }
}

impl<F, E> Future for Exchange<F>
where
    F: Future<Output = Result<reqwest::Response, E>>,
    E: Describe,
{
    type Output = Result<reqwest::Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            // Only the drop empties it: never polled again after that.
            return Poll::Pending;
        };
        let polled = match this.span.as_mut() {
            Some(span) => span.in_scope(|| inner.poll(cx)),
            None => inner.poll(cx),
        };
        if let Poll::Ready(result) = &polled {
            if let Some(span) = this.span.take() {
                span.end(|record| match result {
                    Ok(response) => {
                        let status = response.status();
                        record.typed(semconv::HTTP_RESPONSE_STATUS_CODE, status.as_u16().into());
                        if status.is_server_error() {
                            record.text(semconv::ERROR, status.as_str());
                            record.text(semconv::ERROR_TYPE, status.as_str());
                        }
                    }
                    Err(error) => {
                        record.text(semconv::ERROR, &error.describe());
                        record.static_text(semconv::ERROR_TYPE, std::any::type_name::<E>());
                    }
                });
            }
        }
        polled
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Capture;

    fn request() -> reqwest::Request {
        let url = reqwest::Url::parse("http://inventory.example:8080/stocks").unwrap();
        reqwest::Request::new(reqwest::Method::GET, url)
    }

    /// What `open` makes with the fast path on or off.
    fn opened(fast_path: bool) -> &'static str {
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
        tracing::dispatcher::with_default(&dispatch, || {
            let span = ClientTrace::new().open(&request());
            let kind = match &span {
                RequestSpan::Off => "off",
                RequestSpan::Span(_) => "span",
                RequestSpan::Frame(_) => "frame",
            };
            span.end(|record| record.typed(semconv::HTTP_RESPONSE_STATUS_CODE, 200));
            assert_eq!(capture.spans().len(), 1, "{kind}");
            kind
        })
    }

    #[test]
    fn a_frame_on_the_fast_path_and_a_tracing_span_without_it() {
        assert_eq!(opened(true), "frame");
        assert_eq!(opened(false), "span");
    }

    #[test]
    fn the_tracing_span_declares_the_frame_fields_in_order() {
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(false));
        let names: Vec<&str> = tracing::dispatcher::with_default(&dispatch, || {
            let span = ClientTrace::new().open_span(&request());
            let meta = span.metadata().expect("an enabled span");
            meta.fields().iter().map(|field| field.name()).collect()
        });
        assert_eq!(names, FIELDS);
        assert_eq!(frame_callsite().metadata().name(), "http.client");
    }
}
