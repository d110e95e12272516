//! `ServerLayer::sampling_rule`: per-request rules on an axum service (method, path, path
//! prefix, axum's route template → never, always, ratio, rate-limited), the first match wins,
//! unmatched requests fall back to the process's sampler, a caller's decision in the headers
//! still wins, a deferred one is left to the rule, and a request handled inside a span of this
//! process inherits that span's decision.

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use http::Request;
use tower::ServiceExt;
use traced::http::ServerLayer;
use traced::model::{Kind, SpanRecord};
use traced::propagation::Propagator;
use traced::sample::{AlwaysOff, AlwaysOn, Decision, Rule, Sampler};
use traced::testing::Capture;

fn app() -> Router {
    let layer = ServerLayer::new()
        .propagator(Propagator::default())
        .sampling_rule(
            Rule::new().method("GET").path_prefix("/health"),
            Decision::Never,
        )
        // Shadowed by the rule above for GET: the first match wins.
        .sampling_rule(Rule::new().path_prefix("/health"), Decision::Always)
        .sampling_rule(
            Rule::new().method("POST").path("/checkout"),
            Decision::Always,
        )
        .sampling_rule(Rule::new().route("/items/{id}"), Decision::Always)
        .sampling_rule(Rule::new().path("/limited"), Decision::RateLimited(1.0))
        .sampling_rule(Rule::new().path_prefix("/ratio/"), Decision::Ratio(0.0));
    Router::new()
        .route("/health", get(|| async { "ok" }).post(|| async { "ok" }))
        .route(
            "/checkout",
            post(|| async { "paid" }).get(|| async { "form" }),
        )
        .route("/items/{id}", get(|| async { "item" }))
        .route("/limited", get(|| async { "limited" }))
        .route("/ratio/{x}", get(|| async { "ratio" }))
        .route("/other", get(|| async { "other" }))
        .layer(layer)
}

/// Sends each request to the app under `sampler` as the process's sampler; returns the server
/// spans recorded, in order.
fn serve(sampler: impl Sampler, requests: Vec<Request<Body>>) -> Vec<SpanRecord> {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_sampler(sampler);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            // One app, as a server has: a rate-limited rule's budget is shared by its requests.
            let app = app();
            for request in requests {
                let response = app.clone().oneshot(request).await.expect("an answer");
                assert!(response.status().is_success(), "{}", response.status());
            }
        })
    });
    capture
        .spans()
        .into_iter()
        .filter(|span| span.kind == Some(Kind::Server))
        .collect()
}

fn request(method: &str, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

fn with_b3(method: &str, path: &str, b3: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("b3", b3)
        .body(Body::empty())
        .unwrap()
}

fn names(spans: &[SpanRecord]) -> Vec<&str> {
    spans.iter().map(|span| &*span.name).collect()
}

#[test]
fn the_first_matching_rule_decides_and_the_rest_fall_back_to_the_sampler() {
    let requests = vec![
        request("GET", "/health"),
        request("POST", "/health"),
        request("POST", "/checkout"),
        request("GET", "/checkout"),
        request("GET", "/items/7"),
        request("GET", "/ratio/1"),
        request("GET", "/other"),
    ];
    // The process samples nothing: only what a rule says is recorded.
    let spans = serve(AlwaysOff, requests);
    assert_eq!(
        names(&spans),
        ["POST /health", "POST /checkout", "GET /items/{id}"]
    );

    // The process samples everything: the rules still drop what they say.
    let requests = vec![
        request("GET", "/health"),
        request("GET", "/checkout"),
        request("GET", "/ratio/2"),
        request("GET", "/other"),
    ];
    let spans = serve(AlwaysOn, requests);
    assert_eq!(names(&spans), ["GET /checkout", "GET /other"]);
}

#[test]
fn a_rate_limited_rule_records_at_most_its_rate() {
    let requests = (0..5).map(|_| request("GET", "/limited")).collect();
    let spans = serve(AlwaysOn, requests);
    // One trace a second: the five requests arrive within far less than a second.
    assert_eq!(names(&spans), ["GET /limited"]);
}

#[test]
fn a_caller_s_decision_wins_and_a_deferred_one_is_left_to_the_rule() {
    let trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let requests = vec![
        // The caller sampled: recorded although the rule says never.
        with_b3("GET", "/health", &format!("{trace}-e457b5a2e4d86bd1-1")),
        // The caller denied: not recorded although the rule says always.
        with_b3("POST", "/checkout", &format!("{trace}-e457b5a2e4d86bd2-0")),
        // The caller deferred: the rules decide.
        with_b3("GET", "/health", &format!("{trace}-e457b5a2e4d86bd3")),
        with_b3("GET", "/items/9", &format!("{trace}-e457b5a2e4d86bd4")),
    ];
    let spans = serve(AlwaysOff, requests);
    assert_eq!(names(&spans), ["GET /health", "GET /items/{id}"]);
    assert_eq!(
        spans[0].parent_id.map(|id| id.to_string()).as_deref(),
        Some("e457b5a2e4d86bd1")
    );
    assert_eq!(
        spans[1].parent_id.map(|id| id.to_string()).as_deref(),
        Some("e457b5a2e4d86bd4")
    );
    assert!(spans.iter().all(|span| span.trace_id.to_string() == trace));
}

#[test]
fn a_request_handled_inside_a_span_inherits_its_decision() {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_sampler(AlwaysOn);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    tracing::dispatcher::with_default(&dispatch, || {
        let outer = tracing::info_span!("in_process_call");
        let _entered = outer.enter();
        runtime.block_on(async {
            app()
                .oneshot(request("GET", "/health"))
                .await
                .expect("an answer");
        });
    });
    drop(runtime);
    let server = capture.span("GET /health");
    let outer = capture.span("in_process_call");
    assert_eq!(server.parent_id, Some(outer.id));
    // Sampled although the rule for GET /health says never: the rule only decides new traces.
    assert_eq!(capture.trace(outer.trace_id).len(), 2);
}
