//! A request's SERVER span, as [`ServerLayer`](super::ServerLayer) opens and ends it: what it
//! records of the request, and how the span ([`RequestSpan`]: a frame on the fast path, a
//! tracing span otherwise) is opened and ended.
//!
//! On the trivial service of the benchmark, the server span as a tracing span cost about 18,000
//! instructions per request on the service's thread, four times fastrace's; as a frame, 9,122,
//! and 6,675 since the `Host` header is read in place, the server's own address is a tag only,
//! and a request without trace headers skips extraction (`report request-profile`,
//! benches/PROFILE.md). A frame records the same tags straight into its state, with the same
//! routing of the conventional names (`FieldRecorder`) but for `server.address`, which a server
//! span's remote endpoint never shows, so both give the same record.

use std::any::Any;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, StatusCode};
use tracing::field::Empty;
use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};

use super::request_span::{self, push_frame, RequestSpan, TARGET};
use crate::baggage::Baggage;
use crate::frame::Begun;
use crate::model::SpanContext;
use crate::propagation::Incoming;
use crate::remote_parent::{Pending, RootSampler};
use crate::semconv;
use crate::state::SpanState;
use crate::value::cap_str;

/// What the server span records of a request, read once for either kind of span.
pub(super) struct RequestFacts<'a> {
    /// `{METHOD} {route}`, or `{METHOD}` without a route template.
    pub(super) name: String,
    pub(super) method: &'a str,
    pub(super) route: Option<&'a str>,
    pub(super) path: &'a str,
    /// The query, sensitive values redacted; `None` when there is none.
    pub(super) query: Option<String>,
    pub(super) scheme: Option<&'a str>,
    pub(super) addressed: Option<Addressed<'a>>,
    pub(super) client: Option<SocketAddr>,
    pub(super) user_agent: Option<Cow<'a, str>>,
}

impl<'a> RequestFacts<'a> {
    /// Reads `request`.
    pub(super) fn of<B>(request: &'a Request<B>) -> RequestFacts<'a> {
        let method = request.method().as_str();
        let route = matched_path(request);
        // `{method} {route}`; without a route template, `{method}` alone: a raw path would make
        // one span name per URL.
        let name = match route {
            // Joined by hand: `format!` runs the formatting machinery for two copies.
            Some(route) => {
                let mut name = String::with_capacity(method.len() + 1 + route.len());
                name.push_str(method);
                name.push(' ');
                name.push_str(route);
                name
            }
            None => method.to_owned(),
        };
        // Redacted only when there is a query: redacting allocates the whole target.
        let query = request
            .uri()
            .query()
            .filter(|query| !query.is_empty())
            .and_then(|_| {
                let path_and_query = request.uri().path_and_query()?.as_str();
                let target = super::redact_target(path_and_query);
                let query = target.split_once('?')?.1;
                (!query.is_empty()).then(|| query.to_owned())
            });
        RequestFacts {
            name,
            method,
            route,
            path: request.uri().path(),
            query,
            scheme: request.uri().scheme_str(),
            addressed: addressed(request),
            client: client_address(request),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(cap_str),
        }
    }

    fn server_address(&self) -> Option<&str> {
        self.addressed.as_ref().map(Addressed::host)
    }

    fn server_port(&self) -> Option<u16> {
        self.addressed.as_ref().and_then(Addressed::port)
    }

    /// Records the request into a frame's state, as the tracing span's fields would be: in
    /// their order, each through the same routing (`FieldRecorder`), capped alike.
    fn record_into(self, state: &mut SpanState, service: Option<&Arc<str>>) {
        if let Some(service) = service {
            // Capped as a `service.name` field is; shared when it fits, which it always does
            // but for a cap set below a service name's length.
            match cap_str(service) {
                Cow::Borrowed(_) => state.set_service(Arc::clone(service)),
                Cow::Owned(capped) => state.set_service(Arc::from(capped)),
            }
        }
        let server_port = self.server_port();
        let RequestFacts {
            name,
            method,
            route,
            path,
            query,
            scheme,
            addressed,
            client,
            user_agent,
        } = self;
        let name = match cap_str(&name) {
            Cow::Borrowed(_) => name,
            Cow::Owned(capped) => capped,
        };
        let mut record = state.new_fields(FIELDS.len());
        record.text(semconv::OTEL_NAME, Cow::Owned(name));
        record.static_text(semconv::OTEL_KIND, "server");
        match request_span::static_method(method) {
            Some(method) => record.static_text(semconv::HTTP_REQUEST_METHOD, method),
            None => record.text(semconv::HTTP_REQUEST_METHOD, cap_str(method)),
        }
        if let Some(route) = route {
            record.text(semconv::HTTP_ROUTE, cap_str(route));
        }
        record.text(semconv::URL_PATH, cap_str(path));
        if let Some(query) = &query {
            record.text(semconv::URL_QUERY, cap_str(query));
        }
        if let Some(scheme) = scheme {
            match scheme {
                "http" => record.static_text(semconv::URL_SCHEME, "http"),
                "https" => record.static_text(semconv::URL_SCHEME, "https"),
                other => record.text(semconv::URL_SCHEME, cap_str(other)),
            }
        }
        if let Some(addressed) = &addressed {
            // This span is a server's: its own address is a tag, never its remote endpoint.
            record.tag_text(semconv::SERVER_ADDRESS, cap_str(addressed.host()));
        }
        if let Some(port) = server_port {
            record.unsigned(semconv::SERVER_PORT, port.into());
        }
        if let Some(client) = client {
            record.ip(semconv::CLIENT_ADDRESS, client.ip());
            record.unsigned(semconv::CLIENT_PORT, client.port().into());
        }
        if let Some(user_agent) = user_agent {
            record.text(semconv::USER_AGENT_ORIGINAL, user_agent);
        }
    }

    /// The tracing span with these fields (`Empty` ones are recorded on completion).
    fn span(&self, service: Option<&str>, parent_none: bool) -> Span {
        let route = self.route;
        let query = self.query.as_deref();
        let server_address = self.server_address();
        let server_port = self.server_port();
        let client_address = self
            .client
            .map(|address| tracing::field::display(address.ip()));
        let client_port = self.client.map(|address| address.port());
        let user_agent = self.user_agent.as_deref();
        // One field list for both parents.
        macro_rules! server_span {
            ($($parent:tt)*) => {
                tracing::info_span!(
                    target: TARGET,
                    $($parent)*
                    "http.server",
                    otel.name = self.name.as_str(),
                    otel.kind = "server",
                    service.name = service,
                    { semconv::HTTP_REQUEST_METHOD } = self.method,
                    { semconv::HTTP_ROUTE } = route,
                    { semconv::URL_PATH } = self.path,
                    { semconv::URL_QUERY } = query,
                    { semconv::URL_SCHEME } = self.scheme,
                    { semconv::SERVER_ADDRESS } = server_address,
                    { semconv::SERVER_PORT } = server_port,
                    { semconv::CLIENT_ADDRESS } = client_address,
                    { semconv::CLIENT_PORT } = client_port,
                    { semconv::USER_AGENT_ORIGINAL } = user_agent,
                    { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
                    { semconv::ERROR } = Empty,
                    { semconv::ERROR_TYPE } = Empty,
                )
            };
        }
        if parent_none {
            server_span!(parent: None,)
        } else {
            server_span!()
        }
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
fn client_address<B>(request: &Request<B>) -> Option<SocketAddr> {
    use axum::extract::ConnectInfo;
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| *address)
}

#[cfg(not(feature = "axum"))]
fn client_address<B>(_request: &Request<B>) -> Option<SocketAddr> {
    None
}

/// The host and port a request addressed.
pub(super) enum Addressed<'a> {
    /// The URI's authority, or a plain `Host: name[:port]`, read in place.
    Read { host: &'a str, port: Option<u16> },
    /// Any other `Host` value, as `http` parses an authority.
    Parsed(http::uri::Authority),
}

impl Addressed<'_> {
    fn host(&self) -> &str {
        match self {
            Addressed::Read { host, .. } => host,
            Addressed::Parsed(authority) => authority.host(),
        }
    }

    fn port(&self) -> Option<u16> {
        match self {
            Addressed::Read { port, .. } => *port,
            Addressed::Parsed(authority) => authority.port_u16(),
        }
    }
}

/// The host and port the client addressed: the URI's authority (HTTP/2, absolute form), else
/// `Host`.
fn addressed<B>(request: &Request<B>) -> Option<Addressed<'_>> {
    if let Some(authority) = request.uri().authority() {
        return Some(Addressed::Read {
            host: authority.host(),
            port: authority.port_u16(),
        });
    }
    addressed_by_host(request.headers().get(http::header::HOST)?.as_bytes())
}

/// What a `Host` value addresses, as `http::uri::Authority` parses it. A plain `name[:port]` (a
/// DNS name or IPv4 address, the port five digits at most) is read in place: parsing copies the
/// value into a new allocation, which was 300 instructions of each traced request
/// (`report request-profile traced`). Anything else is parsed, not sliced: a hostile `Host` must
/// come out as "no authority", never a panic.
fn addressed_by_host(value: &[u8]) -> Option<Addressed<'_>> {
    let plain_name = |name: &[u8]| {
        !name.is_empty()
            && name
                .iter()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
    };
    let (name, port) = match value.iter().rposition(|byte| *byte == b':') {
        Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
        None => (value, None),
    };
    let port = match port {
        None => Some(None),
        Some(digits)
            if (1..=5).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) =>
        {
            // Five digits may still be past 65535: that one is parsed.
            std::str::from_utf8(digits)
                .ok()
                .and_then(|digits| digits.parse().ok())
                .map(Some)
        }
        Some(_) => None,
    };
    if let (Some(port), true) = (port, plain_name(name)) {
        // Checked just above: ASCII letters, digits, `.`, `-` and `_`.
        let host = std::str::from_utf8(name).ok()?;
        return Some(Addressed::Read { host, port });
    }
    http::uri::Authority::try_from(value)
        .ok()
        .map(Addressed::Parsed)
}

/// The tracing span's fields, in its order: a server frame's metadata declares them too, so
/// what is recorded through `tracing::Span::current()` in a handler (the frame's twin) lands
/// as it does on the tracing span (an `error` for a 4xx answer, say).
const FIELDS: [&str; 16] = [
    semconv::OTEL_NAME,
    semconv::OTEL_KIND,
    semconv::SERVICE_NAME,
    semconv::HTTP_REQUEST_METHOD,
    semconv::HTTP_ROUTE,
    semconv::URL_PATH,
    semconv::URL_QUERY,
    semconv::URL_SCHEME,
    semconv::SERVER_ADDRESS,
    semconv::SERVER_PORT,
    semconv::CLIENT_ADDRESS,
    semconv::CLIENT_PORT,
    semconv::USER_AGENT_ORIGINAL,
    semconv::HTTP_RESPONSE_STATUS_CODE,
    semconv::ERROR,
    semconv::ERROR_TYPE,
];

/// What the frame of a server span is named after, for filters: the tracing span's callsite
/// has the same name, target, level and fields.
fn frame_callsite() -> &'static DefaultCallsite {
    request_span::frame_callsite!("http.server", TARGET, &FIELDS)
}

/// How the caller's context reached the request, as the server span continues it.
pub(super) struct Caller<'a> {
    /// The caller's context and its `tracestate`, when the headers carried one.
    pub(super) incoming: Option<&'a Incoming>,
    /// Whether the span shares the caller's span id (`SpanModel::Shared`).
    pub(super) shared: bool,
    /// The caller's baggage.
    pub(super) baggage: Baggage,
    /// A sampling rule's sampler for a new trace, instead of the process's.
    pub(super) sampler: Option<RootSampler>,
}

/// A server span just opened: a frame is on this thread's stack until the service's
/// synchronous part has run in it ([`Opened::into_span`]).
pub(super) enum Opened {
    Off,
    Span(Span),
    Pushed(usize),
}

impl Opened {
    /// Opens the server span of a request described by `facts`, continuing `caller`.
    pub(super) fn open(
        facts: RequestFacts<'_>,
        service: Option<&Arc<str>>,
        caller: Caller<'_>,
    ) -> Opened {
        let remote = caller
            .incoming
            .map(|incoming| (incoming.remote, caller.shared));
        let sampler = caller.sampler.as_ref().map(RootSampler::as_sampler);
        let begun = crate::frame::begin_request(frame_callsite(), &facts.name, remote, sampler);
        match begun {
            Begun::Off => Opened::Off,
            Begun::Span => Opened::Span(open_span(facts, service, caller)),
            Begun::Frame(opening) => {
                let context = opening.context();
                let meta = frame_callsite().metadata();
                let pushed = push_frame(opening, meta, |state| {
                    if context.sampling.is_sampled() {
                        continue_caller(state, context, &caller);
                        facts.record_into(state, service);
                    }
                    if !caller.baggage.is_empty() {
                        state.baggage_mut().extend_from(&caller.baggage);
                    }
                });
                pushed.map_or(Opened::Off, Opened::Pushed)
            }
        }
    }

    /// The span to keep for the response future: a frame is taken off the stack.
    pub(super) fn into_span(self) -> RequestSpan {
        match self {
            Opened::Off => RequestSpan::Off,
            Opened::Span(span) => RequestSpan::Span(span),
            Opened::Pushed(index) => RequestSpan::taken_out(index),
        }
    }
}

/// What a server frame that continues a caller keeps of it, as the layer keeps it for a
/// tracing span (`on_new_span`): the caller's `tracestate` (when the frame continues the
/// caller's trace), and the shared span id.
fn continue_caller(state: &mut SpanState, context: SpanContext, caller: &Caller<'_>) {
    let Some(incoming) = caller.incoming else {
        return;
    };
    let (trace, text) = incoming.trace_state_text();
    let text = text.filter(|_| trace == context.trace_id);
    state.continue_caller(incoming.remote, caller.shared, text);
}

/// The server span as a tracing span (the subscriber has no fast path).
fn open_span(facts: RequestFacts<'_>, service: Option<&Arc<str>>, caller: Caller<'_>) -> Span {
    let service = service.map(|service| &**service);
    let span = match caller.incoming {
        Some(incoming) => {
            let (trace, state) = incoming.trace_state_text();
            // A root, so the caller's context wins over whatever span is current here (a
            // local parent would otherwise take precedence).
            crate::remote_parent::with_trace_state(trace, state, || {
                crate::remote_parent::with_pending(
                    Pending {
                        remote: Some((incoming.remote, caller.shared)),
                        sampler: caller.sampler,
                    },
                    || facts.span(service, true),
                )
            })
        }
        // No caller: nest under the current span, if any (a service called in-process); the
        // rule's sampler is only taken if the span is a root.
        None => match caller.sampler {
            Some(sampler) => crate::remote_parent::with_pending(
                Pending {
                    remote: None,
                    sampler: Some(sampler),
                },
                || facts.span(service, false),
            ),
            None => facts.span(service, false),
        },
    };
    crate::baggage::attach(&span, &caller.baggage);
    span
}

impl RequestSpan {
    /// Ends a server span with the answer's status: a 5xx is an error.
    pub(super) fn answered(self, status: StatusCode) {
        self.end(|record| {
            record.typed(semconv::HTTP_RESPONSE_STATUS_CODE, status.as_u16().into());
            if status.is_server_error() {
                record.text(semconv::ERROR, status.as_str());
                record.text(semconv::ERROR_TYPE, status.as_str());
            }
        });
    }

    /// Ends the server span of a service that gave up without an answer (`E` is its error type).
    pub(super) fn failed<E>(self) {
        self.end(|record| {
            record.static_text(semconv::ERROR, "service error");
            record.static_text(semconv::ERROR_TYPE, std::any::type_name::<E>());
        });
    }

    /// Ends the server span of a handler that panicked with `payload`; answered with a 500.
    pub(super) fn panicked(self, payload: &(dyn Any + Send)) {
        let message = crate::panic::payload_message(payload);
        self.end(|record| {
            record.text(semconv::ERROR, &message);
            record.static_text(semconv::ERROR_TYPE, "panic");
            record.typed(
                semconv::HTTP_RESPONSE_STATUS_CODE,
                StatusCode::INTERNAL_SERVER_ERROR.as_u16().into(),
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Capture;

    #[test]
    fn a_host_header_addresses_what_http_parses_it_as() {
        let long = format!("{}:80", "a".repeat(300));
        let values = [
            "bench",
            "bench:8080",
            "BENCH.Example.com:80",
            "x_y-z.:443",
            "127.0.0.1:3000",
            "bench:080",
            "bench:0",
            "bench:65535",
            "bench:65536",
            "bench:99999",
            "bench:123456",
            "bench:",
            ":80",
            "",
            "bench:8a",
            "a:b:c",
            "[::1]:8080",
            "[::1]",
            "user@bench:80",
            "ho st",
            "bench%20x",
            "héllo",
            long.as_str(),
        ];
        for value in values {
            let ours = addressed_by_host(value.as_bytes())
                .map(|addressed| (addressed.host().to_owned(), addressed.port()));
            let http = http::uri::Authority::try_from(value.as_bytes())
                .ok()
                .map(|authority| (authority.host().to_owned(), authority.port_u16()));
            assert_eq!(ours, http, "Host: {value:?}");
        }
        // The plain forms are read in place, not parsed.
        for plain in ["bench", "bench:8080", "10.0.0.1:80"] {
            assert!(
                matches!(
                    addressed_by_host(plain.as_bytes()),
                    Some(Addressed::Read { .. })
                ),
                "{plain}"
            );
        }
    }

    /// The server span of `request` from no caller, with no rules.
    fn open_uncalled(request: &Request<()>) -> Opened {
        let caller = Caller {
            incoming: None,
            shared: false,
            baggage: Baggage::new(),
            sampler: None,
        };
        Opened::open(RequestFacts::of(request), None, caller)
    }

    fn opened(fast_path: bool) -> (&'static str, usize) {
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
        let request = Request::builder().uri("/hello").body(()).unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            let opened = open_uncalled(&request);
            let kind = match &opened {
                Opened::Off => "off",
                Opened::Span(_) => "span",
                Opened::Pushed(_) => "frame",
            };
            let span = opened.into_span();
            assert!(matches!(
                (&span, kind),
                (RequestSpan::Frame(_), "frame") | (RequestSpan::Span(_), "span")
            ));
            span.answered(StatusCode::OK);
            (kind, capture.spans().len())
        })
    }

    #[test]
    fn the_tracing_span_declares_the_frame_fields_in_order() {
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(false));
        let request = Request::builder().uri("/hello").body(()).unwrap();
        let names: Vec<&str> = tracing::dispatcher::with_default(&dispatch, || {
            let span = RequestFacts::of(&request).span(None, false);
            let meta = span.metadata().expect("an enabled span");
            meta.fields().iter().map(|field| field.name()).collect()
        });
        assert_eq!(names, FIELDS);
        assert_eq!(frame_callsite().metadata().name(), "http.server");
    }

    /// One test, so its parts run in order: the callsite's interest is cached globally, and a
    /// dispatcher made on another thread while one part registers it could be missed. (That a
    /// filtered-out target opens nothing is tested alone in its own process, where no other
    /// test's dispatcher can race with its filter: tests/tests/http_server_filtered.rs.)
    #[test]
    fn a_frame_on_the_fast_path_and_a_tracing_span_without_it() {
        assert_eq!(opened(true), ("frame", 1));
        assert_eq!(opened(false), ("span", 1));
    }
}
