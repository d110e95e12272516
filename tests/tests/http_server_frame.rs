//! `ServerLayer`'s span is a frame when traced's layer is the only consumer of spans, and a
//! tracing span otherwise. Both must give the same records: every request here is answered
//! twice, once each way, and the server span and the spans under it are compared field by field
//! (all but the ids and times, which differ by nature; how they link up is compared instead).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;
use traced::http::{ServerLayer, SpanModel};
use traced::model::{SpanId, SpanRecord, TraceId};
use traced::sample::{AlwaysOn, ParentBased};
use traced::testing::Capture;
use traced_tests::records::{seen, Parent, Seen};

#[traced::traced]
async fn lookup(id: u64) -> u64 {
    nested(id)
}

#[traced::traced]
fn nested(id: u64) -> u64 {
    tracing::info!(id, "looked up");
    id + 1
}

fn app(layer: ServerLayer) -> Router {
    Router::new()
        .route(
            "/items/{id}",
            get(|| async {
                lookup(7).await;
                "item"
            }),
        )
        .route(
            "/current",
            get(|| async {
                // Asks for the server span as a tracing span: a frame's twin on the fast path.
                tracing::Span::current().record("item", 3);
                tracing::info_span!("library").in_scope(|| nested(1));
                "ok"
            }),
        )
        .route(
            "/marked",
            get(|| async {
                // A 4xx the handler marks as an error itself, as the shop does.
                tracing::Span::current().record("error", "no such item");
                StatusCode::NOT_FOUND
            }),
        )
        .route(
            "/overridden",
            get(|| async {
                // Recorded by the handler, then overridden by the layer's outcome.
                tracing::Span::current().record("error.type", "handler's own");
                tracing::Span::current().record("http.response.status_code", 299);
                StatusCode::BAD_GATEWAY
            }),
        )
        .route_service(
            "/sync-panic",
            tower::service_fn(
                |_: Request<Body>| -> std::future::Ready<
                    Result<axum::response::Response, std::convert::Infallible>,
                > { panic!("in the service's call") },
            ),
        )
        .route(
            "/baggage",
            get(|| async {
                // What the caller sent is the handler's, sampled or not.
                match traced::baggage::get("tenant").as_deref() {
                    Some("acme") => StatusCode::OK,
                    _ => StatusCode::EXPECTATION_FAILED,
                }
            }),
        )
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("handler gave up");
                }
                "never"
            }),
        )
        .route("/pending", get(std::future::pending::<&'static str>))
        .layer(layer)
}

/// A request as a served router sees it: `headers`, and the client's address.
fn request(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder().uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .extension(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 40123))))
        .body(Body::empty())
        .expect("a valid request")
}

/// A capture with the fast path on or off, its dispatcher, and a runtime to answer on.
fn setup(fast_path: bool) -> (Capture, tracing::Dispatch, tokio::runtime::Runtime) {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    (capture, dispatch, runtime)
}

/// Answers `request` with the fast path on or off, and the spans recorded, in the order they
/// ended. Sampled by `ParentBased(AlwaysOn)`: a caller's decision is kept.
fn answer(
    fast_path: bool,
    layer: ServerLayer,
    request: Request<Body>,
) -> (StatusCode, Vec<SpanRecord>) {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_layer(|layer| {
        layer
            .fast_path(fast_path)
            .sampler(ParentBased::new(AlwaysOn))
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let status = tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let answer = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                app(layer).oneshot(request),
            )
            .await;
            match answer {
                Ok(response) => response.expect("routers are infallible").status(),
                // The future was dropped unanswered: the request was cancelled.
                Err(_) => StatusCode::REQUEST_TIMEOUT,
            }
        })
    });
    (status, capture.spans())
}

/// Answers the same request both ways and requires the same status and the same records.
fn same_both_ways(
    layer: impl Fn() -> ServerLayer,
    uri: &str,
    headers: &[(&str, &str)],
) -> Vec<Seen> {
    let (frame_status, frame_spans) = answer(true, layer(), request(uri, headers));
    let (span_status, span_spans) = answer(false, layer(), request(uri, headers));
    assert_eq!(frame_status, span_status, "{uri}");
    assert!(!frame_spans.is_empty(), "{uri}: nothing recorded");
    let frame = seen(&frame_spans);
    let span = seen(&span_spans);
    assert_eq!(
        frame, span,
        "{uri} {headers:?}: a frame and a tracing span differ"
    );
    frame
}

fn server_of(spans: &[Seen]) -> &Seen {
    spans
        .iter()
        .find(|span| span.kind == Some(traced::model::Kind::Server))
        .expect("a server span")
}

fn tag<'a>(span: &'a Seen, key: &str) -> Option<&'a str> {
    span.tags
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

#[test]
fn a_new_trace_with_children_and_every_request_field() {
    let spans = same_both_ways(
        || ServerLayer::new().service_name("catalog"),
        "http://shop.example:8080/items/7?item=7&access_token=abc",
        &[("user-agent", "curl/8.5"), ("host", "ignored.example")],
    );
    let server = server_of(&spans);
    assert_eq!(server.name, "GET /items/{id}");
    assert_eq!(server.service.as_deref(), Some("catalog"));
    assert_eq!(server.parent, Parent::Caller(None));
    assert!(server.local_root);
    assert_eq!(
        tag(server, "url.query"),
        Some(r#"Str("item=7&access_token=REDACTED")"#)
    );
    assert_eq!(
        tag(server, "server.address"),
        Some(r#"Str("shop.example")"#)
    );
    assert_eq!(tag(server, "http.response.status_code"), Some("U64(200)"));
    assert_eq!(
        server.local_port,
        Some(8080),
        "the port the client addressed"
    );
    assert!(server
        .remote_endpoint
        .as_deref()
        .unwrap()
        .contains("10.1.2.3"));
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    assert_eq!(names, ["nested", "lookup", "GET /items/{id}"]);
    assert_eq!(spans[0].parent, Parent::Local(1));
    assert_eq!(spans[1].parent, Parent::Local(2));
    assert_eq!(
        spans[1].service.as_deref(),
        Some("catalog"),
        "children inherit it"
    );
}

#[test]
fn a_caller_context_in_each_format_and_model() {
    let b3 = [
        ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
        ("x-b3-spanid", "a2fb4a1d1a96d312"),
        ("x-b3-sampled", "1"),
    ];
    let w3c = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "vendor=value,other=1"),
    ];
    let debug = [("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")];
    // A decision without ids: a new trace, recorded because the caller said so.
    let decision_only = [("b3", "1")];
    let spans = same_both_ways(ServerLayer::new, "/items/1", &decision_only);
    assert_eq!(server_of(&spans).parent, Parent::Caller(None));
    assert!(!server_of(&spans).shared);
    for headers in [&b3[..], &w3c[..], &debug[..]] {
        for model in [SpanModel::Child, SpanModel::Shared] {
            let spans =
                same_both_ways(|| ServerLayer::new().span_model(model), "/items/1", headers);
            let server = server_of(&spans);
            assert!(server.local_root);
            assert_eq!(server.shared, model == SpanModel::Shared, "{headers:?}");
            // A child names the caller's span as its parent; a shared span is the caller's
            // span, under the caller's parent (none in these headers).
            let caller = match model {
                SpanModel::Child => matches!(server.parent, Parent::Caller(Some(_))),
                _ => matches!(server.parent, Parent::Caller(None)),
            };
            assert!(caller, "{headers:?} {model:?}: {:?}", server.parent);
        }
    }
    let spans = same_both_ways(ServerLayer::new, "/items/1", &w3c);
    assert_eq!(
        server_of(&spans).trace_state.as_deref(),
        Some("vendor=value,other=1")
    );
    let spans = same_both_ways(ServerLayer::new, "/items/1", &debug);
    assert!(server_of(&spans).debug);
}

#[test]
fn a_caller_that_denied_the_trace_records_nothing_either_way() {
    let headers = [
        ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
        ("x-b3-spanid", "a2fb4a1d1a96d312"),
        ("x-b3-sampled", "0"),
    ];
    for fast_path in [true, false] {
        let (status, spans) = answer(fast_path, ServerLayer::new(), request("/items/1", &headers));
        assert_eq!(status, StatusCode::OK);
        assert!(spans.is_empty(), "fast path {fast_path}: {spans:#?}");
    }
}

#[test]
fn baggage_reaches_the_spans_under_the_server_span() {
    let spans = same_both_ways(
        ServerLayer::new,
        "/items/2",
        &[("baggage", "tenant=acme,region=eu")],
    );
    assert_eq!(spans.len(), 3);
}

#[test]
fn the_caller_baggage_reaches_the_handler_sampled_or_not() {
    for sampled in ["1", "0"] {
        let b3 = format!("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-{sampled}");
        let headers = [("b3", b3.as_str()), ("baggage", "tenant=acme")];
        for fast_path in [true, false] {
            let (status, spans) =
                answer(fast_path, ServerLayer::new(), request("/baggage", &headers));
            assert_eq!(
                status,
                StatusCode::OK,
                "sampled {sampled}, fast path {fast_path}"
            );
            assert_eq!(spans.len(), usize::from(sampled == "1"));
        }
    }
}

#[test]
fn span_current_library_spans_and_events_in_the_handler() {
    let spans = same_both_ways(ServerLayer::new, "/current", &[]);
    let server = server_of(&spans);
    assert_eq!(tag(server, "item"), None, "not a field of the server span");
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    assert_eq!(names, ["nested", "library", "GET /current"]);
    assert_eq!(spans[1].parent, Parent::Local(2));
}

#[test]
fn errors_panics_and_cancellations() {
    let spans = same_both_ways(ServerLayer::new, "/fail", &[]);
    let server = server_of(&spans);
    assert_eq!(tag(server, "error"), Some(r#"Str("503")"#));
    assert_eq!(tag(server, "error.type"), Some(r#"Str("503")"#));
    let spans = same_both_ways(ServerLayer::new, "/marked", &[]);
    let server = server_of(&spans);
    assert_eq!(tag(server, "error"), Some(r#"Str("no such item")"#));
    assert_eq!(tag(server, "http.response.status_code"), Some("U64(404)"));
    let spans = same_both_ways(ServerLayer::new, "/overridden", &[]);
    let server = server_of(&spans);
    assert_eq!(tag(server, "error.type"), Some(r#"Str("502")"#));
    assert_eq!(tag(server, "http.response.status_code"), Some("U64(502)"));
    let spans = same_both_ways(ServerLayer::new, "/sync-panic", &[]);
    let server = server_of(&spans);
    assert_eq!(
        tag(server, "error"),
        Some(r#"Str("in the service's call")"#)
    );
    assert_eq!(tag(server, "http.response.status_code"), Some("U64(500)"));
    let spans = same_both_ways(ServerLayer::new, "/panic", &[]);
    let server = server_of(&spans);
    assert_eq!(tag(server, "error"), Some(r#"Str("handler gave up")"#));
    assert_eq!(tag(server, "error.type"), Some(r#"Str("panic")"#));
    assert_eq!(tag(server, "http.response.status_code"), Some("U64(500)"));
    let spans = same_both_ways(ServerLayer::new, "/pending", &[]);
    let server = server_of(&spans);
    assert_eq!(tag(server, "cancelled"), Some("Bool(true)"));
    assert_eq!(server.annotations, ["cancelled"]);
}

#[test]
fn an_unrouted_request_and_odd_methods() {
    let spans = same_both_ways(ServerLayer::new, "/nowhere?x=1", &[]);
    let server = server_of(&spans);
    assert_eq!(server.name, "GET");
    assert_eq!(tag(server, "http.response.status_code"), Some("U64(404)"));
    let unknown = Request::builder()
        .method("PURGE")
        .uri("/items/3")
        .body(Body::empty())
        .unwrap();
    let again = Request::builder()
        .method("PURGE")
        .uri("/items/3")
        .body(Body::empty())
        .unwrap();
    let (_, frame) = answer(true, ServerLayer::new(), unknown);
    let (_, span) = answer(false, ServerLayer::new(), again);
    assert_eq!(seen(&frame), seen(&span));
    assert_eq!(
        tag(server_of(&seen(&frame)), "http.request.method"),
        Some(r#"Str("PURGE")"#)
    );
}

#[test]
fn ids_are_new_per_request_and_keep_the_caller_trace() {
    let headers = [(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )];
    let (_, spans) = answer(true, ServerLayer::new(), request("/items/1", &headers));
    let trace = TraceId(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
    let caller = SpanId(0x00f0_67aa_0ba9_02b7);
    assert_eq!(spans.len(), 3);
    assert!(spans.iter().all(|span| span.trace_id == trace));
    let server = spans.iter().find(|span| span.kind.is_some()).unwrap();
    assert_eq!(server.parent_id, Some(caller));
    assert_ne!(server.id, caller);
}

#[test]
fn sampling_rules_decide_alike() {
    use traced::sample::{Decision, Rule};
    let layer = || {
        ServerLayer::new()
            .sampling_rule(Rule::new().path_prefix("/items/"), Decision::Never)
            .sampling_rule(Rule::new().path("/current"), Decision::Always)
    };
    for fast_path in [true, false] {
        let (_, spans) = answer(fast_path, layer(), request("/items/4", &[]));
        assert!(
            spans.is_empty(),
            "fast path {fast_path}: the rule says never"
        );
    }
    same_both_ways(layer, "/current", &[]);
}

#[test]
fn a_service_error_is_recorded_alike() {
    let spans: Vec<Vec<Seen>> = [true, false]
        .into_iter()
        .map(|fast_path| {
            let capture = Capture::new();
            let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
            let service = tower::ServiceBuilder::new()
                .layer(ServerLayer::new())
                .service(tower::service_fn(|_: Request<Body>| async {
                    Err::<axum::response::Response, std::io::Error>(std::io::Error::other("gone"))
                }));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime");
            let answer = tracing::dispatcher::with_default(&dispatch, || {
                runtime.block_on(service.oneshot(request("/items/1", &[])))
            });
            assert!(answer.is_err());
            seen(&capture.spans())
        })
        .collect();
    assert_eq!(spans[0], spans[1]);
    let server = server_of(&spans[0]);
    assert_eq!(tag(server, "error"), Some(r#"Str("service error")"#));
    assert_eq!(
        tag(server, "error.type"),
        Some(r#"Str("std::io::error::Error")"#)
    );
}

/// The request answered inside a local parent span (a service called in-process), with
/// baggage on the parent or without.
fn in_process(fast_path: bool, baggage: bool) -> Vec<Seen> {
    let (capture, dispatch, runtime) = setup(fast_path);
    tracing::dispatcher::with_default(&dispatch, || {
        let parent = tracing::info_span!("caller");
        let _entered = parent.enter();
        if baggage {
            traced::baggage::set("tenant", "acme");
        }
        runtime
            .block_on(app(ServerLayer::new()).oneshot(request("/items/5", &[])))
            .expect("routers are infallible");
    });
    seen(&capture.spans())
}

#[test]
fn a_request_answered_inside_a_local_span_nests_under_it_alike() {
    for baggage in [false, true] {
        let frame = in_process(true, baggage);
        assert_eq!(frame, in_process(false, baggage), "baggage {baggage}");
        let server = frame.iter().position(|span| span.kind.is_some()).unwrap();
        let caller = frame.iter().position(|span| span.name == "caller").unwrap();
        assert_eq!(frame[server].parent, Parent::Local(caller));
        assert!(!frame[server].local_root);
    }
}

#[test]
fn the_trace_response_header_names_the_server_span_alike() {
    use traced::http::TraceResponse;
    for fast_path in [true, false] {
        let (capture, dispatch, runtime) = setup(fast_path);
        let layer = ServerLayer::new().trace_response(Some(TraceResponse::TraceContext));
        let response = tracing::dispatcher::with_default(&dispatch, || {
            runtime
                .block_on(app(layer).oneshot(request("/items/6", &[])))
                .expect("routers are infallible")
        });
        let spans = capture.spans();
        let server = spans.iter().find(|span| span.kind.is_some()).unwrap();
        let mut expected = String::from("00-");
        server.trace_id.write_hex(&mut expected);
        expected.push('-');
        server.id.write_hex(&mut expected);
        expected.push_str("-01");
        assert_eq!(
            response.headers()["traceresponse"].to_str().unwrap(),
            expected,
            "fast path {fast_path}"
        );
    }
}

#[test]
fn the_span_callsite_declares_what_a_frame_declares() {
    // Recorded through `Span::current()`, a field lands only if the server span declares it:
    // both kinds must declare the same ones. Each known field is recorded, and each must land.
    let fields = [
        ("http.response.status_code", "U64(7)"),
        ("error", r#"Str("x")"#),
        ("error.type", r#"Str("x")"#),
        ("url.query", r#"Str("x")"#),
        ("user_agent.original", r#"Str("x")"#),
    ];
    for (field, value) in fields {
        let record = move || async move {
            if field == "http.response.status_code" {
                tracing::Span::current().record(field, 7);
            } else {
                tracing::Span::current().record(field, "x");
            }
            // Not an error status, and not recorded after: what the handler set stays.
            StatusCode::OK
        };
        for fast_path in [true, false] {
            let (capture, dispatch, runtime) = setup(fast_path);
            let router = Router::new()
                .route("/field", get(record))
                .layer(ServerLayer::new());
            tracing::dispatcher::with_default(&dispatch, || {
                runtime
                    .block_on(router.oneshot(request("/field", &[])))
                    .expect("routers are infallible")
            });
            let spans = seen(&capture.spans());
            let got = tag(server_of(&spans), field).map(str::to_owned);
            let expected = match field {
                // The layer records the answer's status after the handler.
                "http.response.status_code" => Some("U64(200)".to_owned()),
                _ => Some(value.to_owned()),
            };
            assert_eq!(got, expected, "{field}, fast path {fast_path}");
        }
    }
}
