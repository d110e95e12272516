//! Baggage across two real services on loopback — a caller sends baggage to `front`, `front`
//! adds to it and calls `back` through the reqwest integration — in W3C `baggage` and in
//! Jaeger's `uberctx-*` headers: what `back` reads, what went over the wire, malformed entries
//! dropped without harm to the request, and the configured keys on every span, secrets
//! redacted.

mod http_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use http_support::serve;
use traced::http::{ClientTrace, SendTraced, ServerLayer};
use traced::model::SpanRecord;
use traced::propagation::{Format, Propagator};
use traced::testing::Capture;

/// What `back` saw: its current baggage, and the baggage headers of the request.
async fn back_handler(headers: HeaderMap) -> String {
    let mut sent: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.as_str() == "baggage" || name.as_str().starts_with("uberctx-"))
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
        .collect();
    sent.sort();
    format!("{}\n{}", read_baggage().await, sent.join("\n"))
}

/// The current baggage as `key=value` lines, from a `#[traced]` call under the server span.
#[traced::traced]
async fn read_baggage() -> String {
    tokio::task::yield_now().await;
    traced::baggage::current()
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `front`: adds an entry, then calls `back` with the propagator the route names.
async fn front_handler(State(back): State<SocketAddr>, headers: HeaderMap) -> String {
    let propagator = match headers.get("x-relay").and_then(|value| value.to_str().ok()) {
        Some("jaeger") => Propagator::new(Format::ALL, [Format::Jaeger]).baggage(false),
        _ => Propagator::default(),
    };
    add_hop();
    let response = reqwest::Client::new()
        .get(format!("http://{back}/back"))
        .send_traced_with(&ClientTrace::new().propagator(propagator))
        .await
        .expect("back answers");
    response.text().await.expect("a body")
}

#[traced::traced]
fn add_hop() {
    // Set on a `#[traced]` call: its own, not the server span's, so it does not reach `back`.
    traced::baggage::set("inner", "only here");
}

fn capture_with_runtime() -> (Capture, tokio::runtime::Runtime) {
    let capture = Capture::new();
    let dispatch =
        capture.dispatch_with_layer(|layer| layer.baggage_tags(["tenant", "session", "hop"]));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        })
        .build()
        .expect("a runtime");
    (capture, runtime)
}

/// Starts both services and sends `headers` to `front`; returns `front`'s answer (what `back`
/// saw) and the spans of both.
fn call(headers: &[(&str, &str)]) -> (String, Vec<SpanRecord>) {
    let (capture, runtime) = capture_with_runtime();
    let answer = runtime.block_on(async {
        let back = serve(
            Router::new()
                .route("/back", get(back_handler))
                .layer(ServerLayer::new().service_name("back")),
        )
        .await;
        let front = serve(
            Router::new()
                .route("/front", get(front_handler))
                .with_state(back)
                .layer(ServerLayer::new().service_name("front")),
        )
        .await;
        let mut request = reqwest::Client::new().get(format!("http://{front}/front"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("front answers");
        assert_eq!(response.status(), 200, "baggage never fails a request");
        response.text().await.expect("a body")
    });
    // Front server, add_hop, client, back server, read_baggage.
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture.spans().len() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    (answer, capture.spans())
}

fn tag<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    span.tag(key).and_then(|value| value.as_str())
}

const CALLER: [(&str, &str); 3] = [
    ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
    (
        "baggage",
        "tenant=acme%20corp,bad key=1,broken=%zz, user.id = 42;private, session=s3cr3t",
    ),
    ("uberctx-region", "eu%20west"),
];

#[test]
fn w3c_baggage_goes_from_the_caller_through_front_to_back() {
    let mut headers = CALLER.to_vec();
    headers.push(("x-relay", "w3c"));
    let (answer, spans) = call(&headers);
    let (seen, sent) = answer.split_once('\n').expect("two parts");
    assert_eq!(
        seen, "tenant=acme corp,user.id=42,session=s3cr3t,region=eu west",
        "back reads what the caller sent (malformed entries dropped, the rest kept)"
    );
    assert_eq!(
        sent, "baggage: tenant=acme%20corp,user.id=42;private,session=s3cr3t,region=eu%20west",
        "one W3C header, properties kept, no Jaeger header"
    );
    assert_eq!(spans.len(), 5, "{spans:#?}");
    assert_baggage_tags(&spans);
}

#[test]
fn jaeger_baggage_goes_from_front_to_back_in_uberctx_headers() {
    let mut headers = CALLER.to_vec();
    headers.push(("x-relay", "jaeger"));
    let (answer, spans) = call(&headers);
    let (seen, sent) = answer.split_once('\n').expect("two parts");
    // `back` reads with the global (default) propagator, which reads Jaeger too.
    assert_eq!(
        seen,
        "tenant=acme corp,user.id=42,session=s3cr3t,region=eu west"
    );
    assert_eq!(
        sent,
        "uberctx-region: eu%20west\nuberctx-session: s3cr3t\nuberctx-tenant: acme%20corp\nuberctx-user.id: 42"
    );
    assert_baggage_tags(&spans);
}

#[test]
fn jaeger_baggage_alone_is_read_by_a_server_that_starts_the_trace() {
    // No context header at all: the server span starts a trace, and still reads the baggage
    // (the server skips extraction only for a request without any header a format reads).
    let (answer, spans) = call(&[("uberctx-tenant", "acme"), ("x-relay", "w3c")]);
    let (seen, sent) = answer.split_once('\n').expect("two parts");
    assert_eq!(seen, "tenant=acme");
    assert_eq!(sent, "baggage: tenant=acme");
    assert_eq!(spans.len(), 5, "{spans:#?}");
    for span in &spans {
        assert_eq!(tag(span, "tenant"), Some("acme"), "{}", span.name);
    }
    let front = spans
        .iter()
        .find(|span| span.name == "GET /front")
        .expect("front's server span");
    assert_eq!(front.parent_id, None, "a new trace: {front:?}");
}

#[test]
fn hostile_baggage_never_fails_a_request() {
    let long = format!("k={}", "x".repeat(20_000));
    let many = (0..1000)
        .map(|index| format!("k{index}=v"))
        .collect::<Vec<_>>()
        .join(",");
    for baggage in [
        "garbage",
        ",,,;;;===",
        "k=%",
        long.as_str(),
        many.as_str(),
        "k=v;=;=",
    ] {
        let (answer, _) = call(&[("baggage", baggage), ("uberctx-x", "%zz%")]);
        let (seen, _) = answer.split_once('\n').expect("two parts");
        assert!(
            seen.split(',').count() <= traced::baggage::MAX_ENTRIES,
            "{seen}"
        );
        assert!(
            !seen.contains("x="),
            "the broken Jaeger entry is dropped: {seen}"
        );
    }
}

/// Every span of both services has the configured keys of its baggage as tags: the caller's
/// `tenant`, `session` redacted; none has `hop`, which nobody set.
fn assert_baggage_tags(spans: &[SpanRecord]) {
    for span in spans {
        assert_eq!(tag(span, "tenant"), Some("acme corp"), "{}", span.name);
        assert_eq!(tag(span, "session"), Some("REDACTED"), "{}", span.name);
        assert_eq!(span.tag("hop"), None);
        assert_eq!(span.tag("user.id"), None, "not configured");
    }
    assert!(!format!("{spans:?}").contains("s3cr3t"));
    let add_hop = spans
        .iter()
        .find(|span| span.name == "add_hop")
        .expect("the add_hop span");
    assert!(
        spans.iter().all(|span| span.trace_id == add_hop.trace_id),
        "one trace"
    );
}
