//! The server layer under hostile input, driven as a tower service (no sockets, so proptest can
//! run many cases fast): arbitrary bytes in every propagation header and in `Host`, oversized and
//! repeated values, odd methods and targets. Every request is answered by the handler with 200,
//! exactly one SERVER span is recorded, and the span continues a caller exactly when the
//! propagator extracts a context from the same headers.
//!
//! Case counts follow `PROPTEST_CASES` (proptest's default, 256, otherwise).

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use proptest::prelude::*;
use tower::ServiceExt;
use traced::http::{ServerLayer, SpanModel};
use traced::model::{Kind, Remote, SpanId, TagValue};
use traced::propagation::{Format, Propagator};
use traced::semconv;
use traced::testing::Capture;
use traced_tests::strategies::near_valid;

/// The propagation headers, plus two that the server layer reads or passes through.
fn names() -> Vec<&'static str> {
    let others = ["host", "x-other"];
    traced::propagation::HEADER_NAMES
        .iter()
        .copied()
        .chain(others)
        .collect()
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..80),
        // Valid and almost valid values of every format, so some cases carry a real context.
        6 => near_valid().prop_map(String::into_bytes),
        2 => "[0-9a-fA-F]{0,34}".prop_map(String::into_bytes),
        1 => (8 * 1024 - 4..8 * 1024 + 64usize).prop_map(|len| vec![b'a'; len]),
        1 => "\\[?[0-9a-z:.]{0,20}\\]?(:[0-9]{0,7})?".prop_map(String::into_bytes),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((prop::sample::select(names()), value()), 0..24).prop_map(|pairs| {
        let mut headers = HeaderMap::new();
        for (name, bytes) in pairs {
            // Bytes no HTTP parser would let through (control characters) never reach a layer.
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        headers
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::OPTIONS),
        "[A-Z]{1,12}".prop_filter_map("a token", |text| Method::from_bytes(text.as_bytes()).ok()),
    ]
}

fn target() -> impl Strategy<Value = Uri> {
    "/[a-zA-Z0-9/_%.~{}-]{0,60}(\\?[a-zA-Z0-9=&%_.+-]{0,60})?"
        .prop_filter_map("a valid target", |text| text.parse::<Uri>().ok())
}

fn app(model: SpanModel) -> Router {
    Router::new()
        .route("/", axum::routing::any(|| async { "ok" }))
        .route("/{*rest}", axum::routing::any(|| async { "ok" }))
        .layer(ServerLayer::new().span_model(model).service_name("fuzzed"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

proptest! {
    #[test]
    fn any_request_is_answered_and_traced_consistently(
        method in method(),
        target in target(),
        headers in headers(),
        shared in any::<bool>(),
    ) {
        let model = if shared { SpanModel::Shared } else { SpanModel::Child };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(target.clone())
            .body(Body::empty())
            .expect("a request");
        *request.headers_mut() = headers.clone();

        let capture = Capture::new();
        let status = capture.in_scope(|| {
            runtime().block_on(async { app(model).oneshot(request).await.map(|r| r.status()) })
        });
        prop_assert_eq!(status, Ok(StatusCode::OK));

        let spans = capture.spans();
        prop_assert_eq!(spans.len(), 1, "{:?}", spans);
        let span = &spans[0];
        prop_assert_eq!(span.kind, Some(Kind::Server));
        prop_assert!(span.name.starts_with(method.as_str()));
        prop_assert_eq!(span.service_name.as_deref(), Some("fuzzed"));
        prop_assert_eq!(span.tag(semconv::HTTP_RESPONSE_STATUS_CODE), Some(&TagValue::U64(200)));

        // The layer continues a caller exactly when the propagator finds one.
        match Propagator::default().extract(&headers) {
            Some(Remote::Context(caller)) => {
                prop_assert_eq!(span.trace_id, caller.trace_id);
                if shared {
                    prop_assert_eq!(span.id, caller.span_id);
                    prop_assert!(span.shared);
                } else {
                    prop_assert_eq!(span.parent_id, Some(caller.span_id));
                    prop_assert!(!span.shared);
                }
            }
            _ => {
                prop_assert_eq!(span.parent_id, None);
                prop_assert!(!span.shared);
            }
        }
    }
}

#[test]
fn a_custom_propagator_decides_what_is_read() {
    let w3c_only = Propagator::new([Format::TraceContext], [Format::TraceContext]);
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ServerLayer::new().propagator(w3c_only));
    let request = Request::get("/")
        .header("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::empty())
        .expect("a request");
    let capture = Capture::new();
    capture.in_scope(|| runtime().block_on(app.oneshot(request)).expect("answered"));
    let span = capture.span("GET /");
    assert_eq!(span.parent_id, Some(SpanId(0x00f0_67aa_0ba9_02b7)));
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[test]
fn a_panic_is_tagged_and_resumed_when_asked() {
    let app = Router::new()
        .route("/", get(boom))
        .layer(ServerLayer::new().catch_panics(false));
    let request = Request::get("/").body(Body::empty()).expect("a request");
    let capture = Capture::new();
    let outcome = capture.in_scope(|| {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime().block_on(app.oneshot(request))
        }))
    });
    assert!(outcome.is_err(), "the panic went on unwinding");
    let span = capture.span("GET /");
    assert_eq!(span.error(), Some("boom"));
    assert_eq!(
        span.tag(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(&TagValue::U64(500))
    );
}

#[test]
fn a_panic_is_answered_with_500_by_default() {
    let app = Router::new()
        .route("/", get(boom))
        .layer(ServerLayer::new());
    let request = Request::get("/").body(Body::empty()).expect("a request");
    let capture = Capture::new();
    let response = capture.in_scope(|| runtime().block_on(app.oneshot(request)));
    assert_eq!(
        response.map(|r| r.status()),
        Ok(StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(capture.span("GET /").error(), Some("boom"));
}

#[test]
fn unmatched_paths_are_named_after_the_method_alone() {
    let app = Router::new()
        .route("/known", get(|| async { "ok" }))
        .layer(ServerLayer::new());
    let request = Request::get("/unknown?token=t0p")
        .body(Body::empty())
        .expect("a request");
    let capture = Capture::new();
    let response = capture.in_scope(|| runtime().block_on(app.oneshot(request)));
    assert_eq!(response.map(|r| r.status()), Ok(StatusCode::NOT_FOUND));
    // No route template: a raw path would make one span name per URL.
    let span = capture.span("GET");
    assert_eq!(span.tag(semconv::HTTP_ROUTE), None);
    assert_eq!(
        span.tag(semconv::URL_PATH).and_then(TagValue::as_str),
        Some("/unknown")
    );
    assert_eq!(
        span.tag(semconv::URL_QUERY).and_then(TagValue::as_str),
        Some("token=REDACTED")
    );
    assert_eq!(
        span.error(),
        None,
        "a 4xx is the client's error, not the server's"
    );
}

#[test]
fn without_connect_info_the_host_port_is_the_local_port() {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ServerLayer::new());
    let request = Request::get("/")
        .header("host", "shop.example:8080")
        .body(Body::empty())
        .expect("a request");
    let capture = Capture::new();
    capture.in_scope(|| runtime().block_on(app.oneshot(request)).expect("answered"));
    let span = capture.span("GET /");
    assert_eq!(span.local_port, Some(8080));
    assert_eq!(
        span.tag(semconv::SERVER_ADDRESS).and_then(TagValue::as_str),
        Some("shop.example")
    );
    assert_eq!(span.remote_endpoint, None, "no client address is known");
}

#[test]
fn a_callers_context_wins_over_a_current_local_span() {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ServerLayer::new());
    let with_context = Request::get("/")
        .header("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
        .body(Body::empty())
        .expect("a request");
    let without = Request::get("/").body(Body::empty()).expect("a request");
    let capture = Capture::new();
    capture.in_scope(|| {
        // The service called in-process, while a span of the calling code is current.
        tracing::info_span!("caller").in_scope(|| {
            let runtime = runtime();
            runtime
                .block_on(app.clone().oneshot(with_context))
                .expect("answered");
            runtime.block_on(app.oneshot(without)).expect("answered");
        })
    });
    let caller = capture.span("caller");
    let servers: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|span| span.name == "GET /")
        .collect();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0].parent_id, Some(SpanId(0xe457_b5a2_e4d8_6bd1)));
    assert_eq!(
        servers[1].parent_id,
        Some(caller.id),
        "no caller: the local span is the parent"
    );
}

#[test]
fn any_tower_service_over_http_types_is_traced() {
    use tower::Layer as _;
    // No axum: a bare tower service with its own body type, as hyper or tonic would drive it.
    let echo = tower::service_fn(|request: Request<String>| async move {
        Ok::<_, std::convert::Infallible>(http::Response::new(request.into_body()))
    });
    let service = ServerLayer::new().service_name("plain").layer(echo);
    let request = Request::put("/notes/1?password=hunter2&v=2")
        .body("note".to_owned())
        .expect("a request");
    let capture = Capture::new();
    let response = capture.in_scope(|| runtime().block_on(service.oneshot(request)));
    assert_eq!(response.map(|r| r.into_body()), Ok("note".to_owned()));
    let span = capture.span("PUT");
    assert_eq!(span.service_name.as_deref(), Some("plain"));
    assert_eq!(
        span.tag(semconv::HTTP_REQUEST_METHOD)
            .and_then(TagValue::as_str),
        Some("PUT")
    );
    assert_eq!(
        span.tag(semconv::URL_PATH).and_then(TagValue::as_str),
        Some("/notes/1")
    );
    assert_eq!(
        span.tag(semconv::URL_QUERY).and_then(TagValue::as_str),
        Some("password=REDACTED&v=2")
    );
    assert_eq!(
        span.tag(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(&TagValue::U64(200))
    );
}
