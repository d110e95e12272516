//! The reqwest integration's CLIENT span is a frame when traced's layer is the only consumer of
//! spans, and a tracing span otherwise. Both must give the same records and send the same
//! headers: every exchange here runs twice against one loopback server, once each way, and the
//! spans are compared field by field, tags in order (all but the ids and times, which differ by
//! nature; how the spans link up is compared instead, and the headers the server received are
//! held to the client span's ids).

mod http_support;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use traced::http::{ClientTrace, SendTraced};
use traced::model::{Kind, SpanRecord};
use traced::sample::AlwaysOff;
use traced::testing::Capture;
use traced_tests::records::{seen, Parent, Seen};
use tracing::instrument::WithSubscriber;

/// What the server received: its `b3` and `baggage` headers, `|`-separated.
async fn echo(headers: HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    format!("{}|{}", header("b3"), header("baggage"))
}

/// The server the exchanges talk to; it records nothing itself.
fn app() -> Router {
    Router::new()
        .route("/echo", get(echo))
        .route(
            "/unavailable",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route("/pending", get(std::future::pending::<&'static str>))
}

/// One exchange's outcome as the caller saw it (the echoed headers, or what went wrong), and
/// the spans recorded, in the order they ended.
struct Exchanged {
    answer: String,
    spans: Vec<SpanRecord>,
}

/// Runs `exchange` against one server twice, with the fast path on and then off (the layer
/// made by `layer` in both), and requires the same answer shape and the same records.
fn same_both_ways<F, Fut>(
    layer: impl Fn(traced::TracedLayer) -> traced::TracedLayer,
    exchange: F,
) -> (Vec<Seen>, [Exchanged; 2])
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = String>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let [frame, span] = runtime.block_on(async {
        let server = http_support::serve(app()).await;
        let mut runs = Vec::new();
        for fast_path in [true, false] {
            let capture = Capture::new();
            let dispatch = capture.dispatch_with_layer(|traced| layer(traced.fast_path(fast_path)));
            // The dispatcher is the default for the exchange's polls only: the server is not
            // traced. The exchange is called in the first poll: a `#[traced]` function decides
            // its span when it is called.
            let answer = async { exchange(server).await }
                .with_subscriber(dispatch)
                .await;
            runs.push(Exchanged {
                answer,
                spans: capture.spans(),
            });
        }
        <[Exchanged; 2]>::try_from(runs).unwrap_or_else(|_| unreachable!("two runs"))
    });
    let seen_frame = seen(&frame.spans);
    assert_eq!(
        seen_frame,
        seen(&span.spans),
        "a frame and a tracing span differ"
    );
    for run in [&frame, &span] {
        assert_headers_name_the_client_span(run);
    }
    (seen_frame, [frame, span])
}

/// When the server echoed the headers of a sampled exchange, its `b3` header carries the client
/// span's ids and a sampled decision.
fn assert_headers_name_the_client_span(run: &Exchanged) {
    let Some((b3, _)) = run.answer.split_once('|') else {
        // Not the echo route: nothing to compare.
        return;
    };
    if run.spans.is_empty() {
        // Not sampled: checked by its own test.
        return;
    }
    let client = run
        .spans
        .iter()
        .find(|span| span.kind == Some(Kind::Client))
        .expect("a client span for the echoed request");
    let mut expected = format!("{}-{}-1", client.trace_id, client.id);
    if let Some(parent) = client.parent_id {
        expected = format!("{expected}-{parent}");
    }
    assert_eq!(b3, expected, "the headers sent name the client span");
}

fn client_of(spans: &[Seen]) -> &Seen {
    spans
        .iter()
        .find(|span| span.kind == Some(Kind::Client))
        .expect("a client span")
}

fn tag_keys(span: &Seen) -> Vec<&str> {
    span.tags.iter().map(|(key, _)| key.as_str()).collect()
}

fn tag<'a>(span: &'a Seen, key: &str) -> Option<&'a str> {
    span.tags
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// Sends `GET {path}` on the server with the `send_traced` integration; the answer's body, or
/// the error's kind.
async fn get_path(server: SocketAddr, path: &str, trace: &ClientTrace) -> String {
    let url = format!("http://{server}{path}");
    match reqwest::Client::new()
        .get(url)
        .send_traced_with(trace)
        .await
    {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("error: connect {}", error.is_connect()),
    }
}

#[traced::traced(skip(server))]
async fn fetch(server: SocketAddr, path: &'static str) -> String {
    get_path(server, path, &ClientTrace::new().peer_service("inventory")).await
}

#[test]
fn under_a_traced_parent_with_every_request_field() {
    let (spans, runs) = same_both_ways(|layer| layer, |server| fetch(server, "/echo"));
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    assert_eq!(names, ["GET", "fetch"]);
    let client = client_of(&spans);
    assert_eq!(client.parent, Parent::Local(1));
    assert!(!client.local_root);
    assert_eq!(
        tag_keys(client),
        [
            "http.request.method",
            "url.full",
            "url.scheme",
            "peer.service",
            "server.address",
            "server.port",
            "http.response.status_code",
        ]
    );
    assert_eq!(tag(client, "http.request.method"), Some(r#"Str("GET")"#));
    assert_eq!(tag(client, "peer.service"), Some(r#"Str("inventory")"#));
    assert_eq!(tag(client, "http.response.status_code"), Some("U64(200)"));
    let remote = client
        .remote_endpoint
        .as_deref()
        .expect("a remote endpoint");
    assert!(
        remote.contains("inventory") && remote.contains("127.0.0.1"),
        "{remote}"
    );
    // No baggage was set: none is sent.
    assert!(runs[0].answer.ends_with('|'), "{}", runs[0].answer);
}

#[test]
fn a_root_client_span() {
    let (spans, _) = same_both_ways(
        |layer| layer,
        |server| async move { get_path(server, "/echo", &ClientTrace::new()).await },
    );
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].parent, Parent::Caller(None));
    assert!(spans[0].local_root);
    assert_eq!(tag(&spans[0], "peer.service"), None);
}

#[test]
fn a_5xx_answer_is_an_error() {
    let (spans, _) = same_both_ways(|layer| layer, |server| fetch(server, "/unavailable"));
    let client = client_of(&spans);
    assert_eq!(tag(client, "http.response.status_code"), Some("U64(503)"));
    assert_eq!(tag(client, "error"), Some(r#"Str("503")"#));
    assert_eq!(tag(client, "error.type"), Some(r#"Str("503")"#));
}

#[test]
fn a_connection_error_is_described() {
    // A port nothing listens on: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let (spans, runs) = same_both_ways(
        |layer| layer,
        move |_| async move { get_path(closed, "/echo", &ClientTrace::new()).await },
    );
    assert_eq!(runs[0].answer, "error: connect true");
    let error = tag(&spans[0], "error").expect("an error tag");
    assert!(error.starts_with(r#"Str("connect error"#), "{error}");
    assert_eq!(
        tag(&spans[0], "error.type"),
        Some(r#"Str("reqwest::error::Error")"#)
    );
    assert_eq!(tag(&spans[0], "http.response.status_code"), None);
}

#[test]
fn userinfo_and_secrets_never_reach_the_url_tag() {
    let (spans, _) = same_both_ways(
        |layer| layer,
        |server| async move {
            let url = format!("http://bob:hunter2@{server}/echo?item=7&access_token=abc");
            let response = reqwest::Client::new().get(url).send_traced().await;
            response.expect("an answer").status().to_string()
        },
    );
    let url = tag(&spans[0], "url.full").expect("a url.full tag");
    assert!(
        url.ends_with(r#"/echo?item=7&access_token=REDACTED")"#),
        "{url}"
    );
    assert!(!url.contains("hunter2") && !url.contains("bob"), "{url}");
}

#[test]
fn through_the_middleware() {
    let (spans, _) = same_both_ways(
        |layer| layer,
        |server| async move {
            let client = middleware_client(ClientTrace::new().peer_service("inventory"), None);
            let response = client.get(format!("http://{server}/echo")).send().await;
            response
                .expect("an answer")
                .text()
                .await
                .unwrap_or_default()
        },
    );
    assert_eq!(tag(&spans[0], "peer.service"), Some(r#"Str("inventory")"#));
    assert_eq!(
        tag(&spans[0], "http.response.status_code"),
        Some("U64(200)")
    );
}

#[traced::traced(skip(server))]
async fn give_up_waiting(server: SocketAddr) -> String {
    let waited = tokio::time::timeout(
        Duration::from_millis(100),
        get_path(server, "/pending", &ClientTrace::new()),
    )
    .await;
    waited.unwrap_or_else(|_| "gave up".to_owned())
}

#[test]
fn a_request_dropped_before_its_answer_is_cancelled() {
    let (spans, runs) = same_both_ways(|layer| layer, give_up_waiting);
    assert_eq!(runs[0].answer, "gave up");
    let client = client_of(&spans);
    assert_eq!(client.parent, Parent::Local(1));
    assert!(
        client.annotations.iter().any(|text| text == "cancelled"),
        "{client:?}"
    );
    assert_eq!(tag(client, "cancelled"), Some("Bool(true)"));
    assert_eq!(tag(client, "http.response.status_code"), None);
}

#[traced::traced(skip(server))]
async fn with_baggage(server: SocketAddr) -> String {
    traced::baggage::set("tenant", "acme");
    get_path(server, "/echo", &ClientTrace::new()).await
}

#[test]
fn under_baggage_the_baggage_is_sent() {
    let (spans, runs) = same_both_ways(|layer| layer, with_baggage);
    assert_eq!(client_of(&spans).parent, Parent::Local(1));
    for run in &runs {
        assert!(run.answer.ends_with("|tenant=acme"), "{}", run.answer);
    }
}

#[test]
fn under_an_unsampled_parent_nothing_is_recorded_and_the_decision_is_sent() {
    let (spans, runs) = same_both_ways(
        |layer| layer.sampler(AlwaysOff),
        |server| fetch(server, "/echo"),
    );
    assert!(spans.is_empty(), "{spans:?}");
    for run in &runs {
        let b3 = run.answer.split('|').next().unwrap_or("");
        // The trace, the span made for the request, the decision, and its parent (`fetch`).
        let parts: Vec<&str> = b3.split('-').collect();
        assert_eq!(parts.len(), 4, "{b3}");
        assert_eq!(
            (parts[0].len(), parts[1].len(), parts[2], parts[3].len()),
            (32, 16, "0", 16),
            "{b3}"
        );
    }
}

/// A `reqwest-middleware` client with `ClientTrace` first, then `below` (if any).
fn middleware_client(
    trace: ClientTrace,
    below: Option<Panicking>,
) -> reqwest_middleware::ClientWithMiddleware {
    let builder = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(trace);
    match below {
        Some(below) => builder.with(below).build(),
        None => builder.build(),
    }
}

/// A middleware below `ClientTrace` that gives up with a panic while its request is polled.
struct Panicking;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Panicking {
    async fn handle(
        &self,
        _request: reqwest::Request,
        _extensions: &mut http::Extensions,
        _next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        panic!("the middleware gave up")
    }
}

#[test]
fn a_panic_below_the_client_span_is_recorded_not_called_a_cancellation() {
    let (spans, runs) = same_both_ways(
        |layer| layer,
        |server| async move {
            let client = middleware_client(ClientTrace::new(), Some(Panicking));
            let request = client.get(format!("http://{server}/echo")).send();
            // A task of its own, so the panic ends the task, not the test's runtime.
            let task =
                tokio::spawn(tracing::instrument::WithSubscriber::with_current_subscriber(request));
            match task.await {
                Err(error) if error.is_panic() => "panicked".to_owned(),
                _ => "answered".to_owned(),
            }
        },
    );
    assert_eq!(runs[0].answer, "panicked");
    assert_eq!(spans.len(), 1);
    assert_eq!(
        tag(&spans[0], "error"),
        Some(r#"Str("the middleware gave up")"#)
    );
    assert_eq!(tag(&spans[0], "error.type"), Some(r#"Str("panic")"#));
    assert_eq!(tag(&spans[0], "cancelled"), None);
}
