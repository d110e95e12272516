//! Two real services on loopback in one process — `front` calls `back` through the reqwest
//! integration — and the spans they produce: one trace, correctly parented, in both server-span
//! models; HTTP tags; errors; no secrets; and hostile propagation headers that never break a
//! request.

mod http_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use http_support::serve;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use traced::http::{ClientTrace, SendTraced, ServerLayer, SpanModel};
use traced::model::{Kind, SpanId, SpanRecord, TagValue, TraceId};
use traced::propagation::{Format, Propagator};
use traced::semconv;
use traced::testing::Capture;
use traced_tests::fixtures::tag_u64;
use tracing::Instrument;

/// Names of the spans one `GET /orders/{id}` produces, as `(service, name)`.
const FRONT_SERVER: &str = "GET /orders/{id}";
const BACK_SERVER: &str = "GET /stock/{id}";

#[derive(Clone)]
struct Front {
    client: reqwest::Client,
    middleware: reqwest_middleware::ClientWithMiddleware,
    back: SocketAddr,
}

async fn order(State(front): State<Front>, Path(id): Path<String>) -> (StatusCode, String) {
    let url = format!("http://{}/stock/{id}", front.back);
    let trace = ClientTrace::new().peer_service("back");
    match front.client.get(url).send_traced_with(&trace).await {
        Ok(response) if response.status().is_success() => {
            (StatusCode::OK, response.text().await.unwrap_or_default())
        }
        Ok(response) => (StatusCode::BAD_GATEWAY, response.status().to_string()),
        Err(_) => (StatusCode::BAD_GATEWAY, "unreachable".to_owned()),
    }
}

/// The same call through the `reqwest-middleware` integration.
async fn order_via_middleware(
    State(front): State<Front>,
    Path(id): Path<String>,
) -> (StatusCode, String) {
    let url = format!("http://{}/stock/{id}", front.back);
    match front.middleware.get(url).send().await {
        Ok(response) => (response.status(), response.text().await.unwrap_or_default()),
        Err(_) => (StatusCode::BAD_GATEWAY, "unreachable".to_owned()),
    }
}

/// Calls back with W3C headers and answers what back received.
async fn relay_w3c(State(front): State<Front>) -> String {
    let url = format!("http://{}/headers", front.back);
    let trace = ClientTrace::new().propagator(Propagator::trace_context());
    match front.client.get(url).send_traced_with(&trace).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => error.to_string(),
    }
}

/// Calls back with Jaeger headers only and answers what back received.
async fn relay_jaeger(State(front): State<Front>) -> String {
    let url = format!("http://{}/jaeger-headers", front.back);
    let trace = ClientTrace::new().propagator(Propagator::new(Format::ALL, [Format::Jaeger]));
    match front.client.get(url).send_traced_with(&trace).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => error.to_string(),
    }
}

/// The Jaeger and B3 headers a request carried, as `uber-trace-id|b3`.
async fn echo_jaeger(headers: HeaderMap) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    format!("{}|{}", value("uber-trace-id"), value("b3"))
}

/// The W3C headers a request carried, as `traceparent|tracestate`.
async fn echo_w3c(headers: HeaderMap) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    format!("{}|{}", value("traceparent"), value("tracestate"))
}

/// Calls back with credentials in the URL, to prove they are never recorded.
async fn with_secrets(
    State(front): State<Front>,
) -> ([(&'static str, &'static str); 1], StatusCode) {
    let url = format!(
        "http://carol:url-password@{}/stock/7?api_key=url-api-key&page=2",
        front.back
    );
    let status = match front.client.get(url).send_traced().await {
        Ok(response) => response.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    };
    ([("set-cookie", "sid=set-cookie-secret")], status)
}

async fn stock(Path(id): Path<String>) -> Result<String, StatusCode> {
    match id.as_str() {
        "fail" => Err(StatusCode::SERVICE_UNAVAILABLE),
        "panic" => panic!("stock table is corrupt"),
        _ => {
            // A function of the handler's own: it must nest under the server span.
            let count = async { id.len() }
                .instrument(tracing::info_span!("lookup"))
                .await;
            Ok(format!("{count} in stock"))
        }
    }
}

/// Both services, each with its own service name; `back` answers in `model`.
async fn start(model: SpanModel) -> SocketAddr {
    let back = serve(
        Router::new()
            .route("/stock/{id}", get(stock))
            .route("/headers", get(echo_w3c))
            .route("/jaeger-headers", get(echo_jaeger))
            .layer(ServerLayer::new().service_name("back").span_model(model)),
    )
    .await;
    let front = Front {
        client: reqwest::Client::new(),
        middleware: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(ClientTrace::new().peer_service("back"))
            .build(),
        back,
    };
    serve(
        Router::new()
            .route("/orders/{id}", get(order))
            .route("/secrets", get(with_secrets))
            .route("/middleware/{id}", get(order_via_middleware))
            .route("/w3c", get(relay_w3c))
            .route("/jaeger", get(relay_jaeger))
            .with_state(front)
            .layer(ServerLayer::new().service_name("front")),
    )
    .await
}

/// Runs `test` on a runtime whose threads all report into a fresh capture.
fn with_services<F, Fut>(model: SpanModel, test: F) -> Capture
where
    F: FnOnce(SocketAddr, reqwest::Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    runtime.block_on(async {
        let front = start(model).await;
        test(front, reqwest::Client::new()).await;
    });
    capture
}

/// Waits (bounded) until `count` spans have finished: a span closes when its last handle drops,
/// which may be a moment after the answer went out.
fn wait_for(capture: &Capture, count: usize) -> Vec<SpanRecord> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = capture.spans();
        if spans.len() >= count || Instant::now() > deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn named<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    let mut matching = spans.iter().filter(|span| span.name == name);
    match (matching.next(), matching.next()) {
        (Some(span), None) => span,
        _ => panic!(
            "expected one span named {name:?} in {:#?}",
            spans.iter().map(|span| &span.name).collect::<Vec<_>>()
        ),
    }
}

fn text<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    span.tag(key).and_then(TagValue::as_str)
}

fn service(span: &SpanRecord) -> Option<&str> {
    span.service_name.as_deref()
}

/// The spans of one `GET /orders/{id}`: front server, front client, back server, lookup.
struct OneCall {
    front: SpanRecord,
    client: SpanRecord,
    back: SpanRecord,
    lookup: SpanRecord,
    front_port: u16,
}

fn one_call(model: SpanModel) -> OneCall {
    let mut front_port = 0;
    let capture = with_services(model, |front, client| {
        front_port = front.port();
        async move {
            let response = client
                .get(format!("http://{front}/orders/abc?page=2"))
                .send()
                .await
                .expect("front answers");
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), "3 in stock");
        }
    });
    let spans = wait_for(&capture, 4);
    assert_eq!(spans.len(), 4, "{spans:#?}");
    OneCall {
        front: named(&spans, FRONT_SERVER).clone(),
        client: named(&spans, "GET").clone(),
        back: named(&spans, BACK_SERVER).clone(),
        lookup: named(&spans, "lookup").clone(),
        front_port,
    }
}

#[test]
fn child_model_makes_one_trace_server_client_server() {
    let call = one_call(SpanModel::Child);
    let OneCall {
        front,
        client,
        back,
        lookup,
        ..
    } = &call;

    for span in [client, back, lookup] {
        assert_eq!(span.trace_id, front.trace_id, "one trace: {span:#?}");
    }
    assert_eq!(front.parent_id, None);
    assert_eq!(client.parent_id, Some(front.id));
    assert_eq!(back.parent_id, Some(client.id));
    assert_ne!(back.id, client.id);
    assert!(!back.shared);
    assert_eq!(lookup.parent_id, Some(back.id));

    assert_eq!(
        [front, client, back, lookup].map(|span| span.kind),
        [
            Some(Kind::Server),
            Some(Kind::Client),
            Some(Kind::Server),
            None
        ]
    );
    assert_eq!(
        [front, client, back, lookup].map(service),
        [Some("front"), Some("front"), Some("back"), Some("back")]
    );
    assert!(front.local_root && back.local_root && !client.local_root);
}

#[test]
fn shared_model_reuses_the_client_span_id() {
    let OneCall {
        front,
        client,
        back,
        lookup,
        ..
    } = one_call(SpanModel::Shared);

    assert_eq!(back.trace_id, front.trace_id);
    assert_eq!(back.id, client.id, "the server joins the client's span");
    assert!(back.shared);
    assert!(!client.shared && !front.shared);
    assert_eq!(
        back.parent_id,
        Some(front.id),
        "a shared span keeps the client's parent"
    );
    assert_eq!(lookup.parent_id, Some(back.id));
    assert_eq!(service(&back), Some("back"));
    assert_eq!(back.kind, Some(Kind::Server));
}

#[test]
fn spans_carry_http_tags_and_endpoints() {
    let call = one_call(SpanModel::Child);
    let OneCall {
        front,
        client,
        back,
        front_port,
        ..
    } = &call;

    assert_eq!(text(front, semconv::HTTP_REQUEST_METHOD), Some("GET"));
    assert_eq!(text(front, semconv::HTTP_ROUTE), Some("/orders/{id}"));
    assert_eq!(text(front, semconv::URL_PATH), Some("/orders/abc"));
    assert_eq!(text(front, semconv::URL_QUERY), Some("page=2"));
    assert_eq!(
        tag_u64(front, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(200)
    );
    assert_eq!(text(front, semconv::SERVER_ADDRESS), Some("127.0.0.1"));
    assert_eq!(
        text(front, "http.method"),
        None,
        "the old names are not emitted"
    );
    assert_eq!(front.error(), None);
    // The test's own client connected from loopback.
    let caller = front
        .remote_endpoint
        .as_ref()
        .expect("the caller's address");
    assert_eq!(caller.ipv4, Some(std::net::Ipv4Addr::LOCALHOST));
    assert!(caller.port.is_some_and(|port| port != *front_port));
    assert_eq!(
        tag_u64(front, semconv::SERVER_PORT),
        Some(u64::from(*front_port))
    );

    assert_eq!(text(client, semconv::HTTP_REQUEST_METHOD), Some("GET"));
    let url = text(client, semconv::URL_FULL).expect("url.full");
    let back_port = tag_u64(client, semconv::SERVER_PORT).expect("server.port") as u16;
    assert_eq!(url, format!("http://127.0.0.1:{back_port}/stock/abc"));
    assert_eq!(text(client, semconv::URL_SCHEME), Some("http"));
    assert_eq!(
        tag_u64(client, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(200)
    );
    let server = client
        .remote_endpoint
        .as_ref()
        .expect("the server's endpoint");
    assert_eq!(server.service_name.as_deref(), Some("back"));
    assert_eq!(server.ipv4, Some(std::net::Ipv4Addr::LOCALHOST));
    assert_eq!(server.port, Some(back_port));

    assert_eq!(text(back, semconv::HTTP_ROUTE), Some("/stock/{id}"));
    assert_eq!(text(back, semconv::URL_PATH), Some("/stock/abc"));
    assert_eq!(text(back, semconv::URL_QUERY), None);
    assert_eq!(tag_u64(back, semconv::HTTP_RESPONSE_STATUS_CODE), Some(200));
    let caller = back.remote_endpoint.as_ref().expect("front's address");
    assert_eq!(caller.ipv4, Some(std::net::Ipv4Addr::LOCALHOST));
}

#[test]
fn server_errors_and_panics_are_marked_on_every_side() {
    let capture = with_services(SpanModel::Child, |front, client| async move {
        let failed = client
            .get(format!("http://{front}/orders/fail"))
            .send()
            .await
            .expect("front answers");
        assert_eq!(failed.status(), 502);
        let panicked = client
            .get(format!("http://{front}/orders/panic"))
            .send()
            .await
            .expect("front answers although back panicked");
        assert_eq!(panicked.status(), 502);
        // The panicking service keeps serving.
        let fine = client
            .get(format!("http://{front}/orders/x"))
            .send()
            .await
            .expect("front answers");
        assert_eq!(fine.status(), 200);
    });
    let spans = wait_for(&capture, 3 + 3 + 4);
    let by_target = |target: &str| -> &SpanRecord {
        spans
            .iter()
            .find(|span| text(span, semconv::URL_PATH) == Some(target))
            .unwrap_or_else(|| panic!("no span for {target}: {spans:#?}"))
    };

    let back_failed = by_target("/stock/fail");
    assert_eq!(
        tag_u64(back_failed, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(503)
    );
    assert_eq!(back_failed.error(), Some("503"));
    assert_eq!(text(back_failed, semconv::ERROR_TYPE), Some("503"));
    let client_failed = spans
        .iter()
        .find(|span| span.kind == Some(Kind::Client) && Some(span.id) == back_failed.parent_id)
        .expect("the client span of the failed call");
    assert_eq!(
        tag_u64(client_failed, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(503)
    );
    assert_eq!(client_failed.error(), Some("503"));
    let front_failed = by_target("/orders/fail");
    assert_eq!(front_failed.error(), Some("502"));

    let back_panicked = by_target("/stock/panic");
    assert_eq!(back_panicked.error(), Some("stock table is corrupt"));
    assert_eq!(
        tag_u64(back_panicked, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(500)
    );
    assert_eq!(text(back_panicked, semconv::ERROR_TYPE), Some("panic"));
    let client_panicked = spans
        .iter()
        .find(|span| span.kind == Some(Kind::Client) && Some(span.id) == back_panicked.parent_id)
        .expect("the client span of the panicked call");
    assert_eq!(client_panicked.error(), Some("500"));

    let fine = by_target("/orders/x");
    assert_eq!(fine.error(), None);
}

#[test]
fn connection_errors_are_marked_without_the_url() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a port to close");
    // The listener is dropped: nothing listens there any more.
    let result = capture.in_scope(|| {
        runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("http://u:pw@{closed}/x?token=tok"))
                .send_traced()
                .await
        })
    });
    assert!(result.is_err());
    let span = capture.span("POST");
    let error = span.error().expect("the error tag");
    assert!(error.starts_with("connect error"), "{error}");
    assert!(!error.contains("pw") && !error.contains("tok"), "{error}");
    assert_eq!(
        text(&span, semconv::URL_FULL),
        Some(format!("http://{closed}/x?token=REDACTED").as_str())
    );
    assert_eq!(span.tag(semconv::HTTP_RESPONSE_STATUS_CODE), None);
    assert_eq!(
        text(&span, semconv::ERROR_TYPE),
        Some(std::any::type_name::<reqwest::Error>())
    );
}

#[test]
fn secrets_in_headers_and_urls_are_never_recorded() {
    const SECRETS: [&str; 8] = [
        "set-cookie-secret",
        "bearer-secret",
        "cookie-secret",
        "key-secret",
        "proxy-secret",
        "query-secret",
        "url-password",
        "url-api-key",
    ];
    let capture = with_services(SpanModel::Child, |front, client| async move {
        let response = client
            .get(format!(
                "http://{front}/secrets?access_token=query-secret&page=1"
            ))
            .header("authorization", "Bearer bearer-secret")
            .header("cookie", "session=cookie-secret")
            .header("x-api-key", "key-secret")
            .header("proxy-authorization", "Basic proxy-secret")
            .send()
            .await
            .expect("front answers");
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("set-cookie"));
    });
    let spans = wait_for(&capture, 4);
    assert_eq!(spans.len(), 3 + 1, "{spans:#?}");
    for span in &spans {
        let recorded = format!("{span:?}");
        for secret in SECRETS {
            assert!(!recorded.contains(secret), "{secret} leaked in {recorded}");
        }
    }
    let front = named(&spans, "GET /secrets");
    assert_eq!(text(front, semconv::URL_PATH), Some("/secrets"));
    assert_eq!(
        text(front, semconv::URL_QUERY),
        Some("access_token=REDACTED&page=1")
    );
    let client = named(&spans, "GET");
    let url = text(client, semconv::URL_FULL).expect("url.full");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.ends_with("/stock/7?api_key=REDACTED&page=2"), "{url}");
}

/// Headers a hostile or broken caller may send. None may fail the request or continue a trace.
fn hostile_headers() -> Vec<(&'static str, HeaderMap)> {
    let one = |name: &'static str, value: HeaderValue| {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static(name), value);
        headers
    };
    let valid_span = "e457b5a2e4d86bd1";
    let huge = format!("{}-{valid_span}-1", "a".repeat(9 * 1024));
    let mut repeated = HeaderMap::new();
    // hyper itself answers 431 past 100 headers, before any layer runs: stay under that.
    for _ in 0..40 {
        repeated.append("b3", HeaderValue::from_static("not-a-context"));
        repeated.append("traceparent", HeaderValue::from_static("00-zz-zz-01"));
    }
    let mut multi_bad = HeaderMap::new();
    multi_bad.insert(
        "x-b3-traceid",
        HeaderValue::from_static("00000000000000000000000000000000"),
    );
    multi_bad.insert("x-b3-spanid", HeaderValue::from_static(valid_span));
    multi_bad.insert("x-b3-sampled", HeaderValue::from_static("1"));
    vec![
        ("garbage b3", one("b3", HeaderValue::from_static("garbage"))),
        ("empty b3", one("b3", HeaderValue::from_static(""))),
        (
            "short trace id",
            one("b3", HeaderValue::from_static("abc-e457b5a2e4d86bd1-1")),
        ),
        (
            "extra fields",
            one(
                "b3",
                HeaderValue::from_static(
                    "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-9",
                ),
            ),
        ),
        (
            "oversized b3",
            one("b3", HeaderValue::from_str(&huge).expect("ascii")),
        ),
        (
            "non-utf-8 b3",
            one(
                "b3",
                HeaderValue::from_bytes(b"80f198ee56343ba8\xff\xfe-e457b5a2e4d86bd1-1")
                    .expect("obs-text"),
            ),
        ),
        (
            "non-utf-8 traceparent",
            one(
                "traceparent",
                HeaderValue::from_bytes(
                    b"00-\xff4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .expect("obs-text"),
            ),
        ),
        ("repeated garbage", repeated),
        ("all-zero multi trace id", multi_bad),
        (
            "w3c version ff",
            one(
                "traceparent",
                HeaderValue::from_static("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ),
        ),
    ]
}

#[test]
fn hostile_propagation_headers_get_a_200_and_a_fresh_trace() {
    let cases = hostile_headers();
    let names: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
    let capture = with_services(SpanModel::Child, |front, client| async move {
        for (name, headers) in cases {
            let response = client
                .get(format!("http://{front}/orders/{}", name.replace(' ', "-")))
                .headers(headers)
                .send()
                .await
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(response.status(), 200, "{name}");
        }
    });
    let spans = wait_for(&capture, names.len() * 4);
    let mut traces = Vec::new();
    for name in names {
        let target = format!("/orders/{}", name.replace(' ', "-"));
        let front = spans
            .iter()
            .find(|span| text(span, semconv::URL_PATH) == Some(target.as_str()))
            .unwrap_or_else(|| panic!("{name}: no server span"));
        assert_eq!(front.parent_id, None, "{name}: continued a bogus context");
        assert!(!front.shared, "{name}");
        assert_ne!(
            front.trace_id,
            TraceId(0x80f1_98ee_5634_3ba8_64fe_8b2a_57d3_eff7),
            "{name}"
        );
        assert_ne!(
            front.trace_id,
            TraceId(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            "{name}"
        );
        // The fresh trace still spans both services.
        let in_trace = spans
            .iter()
            .filter(|span| span.trace_id == front.trace_id)
            .count();
        assert_eq!(in_trace, 4, "{name}");
        traces.push(front.trace_id);
    }
    traces.sort_by_key(|trace| trace.0);
    traces.dedup();
    assert_eq!(
        traces.len(),
        hostile_headers().len(),
        "each request is its own trace"
    );
}

#[test]
fn a_valid_incoming_context_is_continued() {
    let capture = with_services(SpanModel::Child, |front, client| async move {
        let response = client
            .get(format!("http://{front}/orders/1"))
            .header("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
            .send()
            .await
            .expect("front answers");
        assert_eq!(response.status(), 200);
    });
    let spans = wait_for(&capture, 4);
    let front = named(&spans, FRONT_SERVER);
    assert_eq!(
        front.trace_id,
        TraceId(0x80f1_98ee_5634_3ba8_64fe_8b2a_57d3_eff7)
    );
    assert_eq!(front.parent_id, Some(SpanId(0xe457_b5a2_e4d8_6bd1)));
    assert!(spans.iter().all(|span| span.trace_id == front.trace_id));
}

#[test]
fn without_a_subscriber_requests_pass_through_untouched() {
    // No dispatcher at all: the layer must not get in the way.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let front = start(SpanModel::Child).await;
        let response = reqwest::Client::new()
            .get(format!("http://{front}/orders/abc"))
            .send()
            .await
            .expect("front answers");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "3 in stock");
        let response = reqwest::Client::new()
            .get(format!("http://{front}/orders/panic"))
            .send()
            .await
            .expect("front answers");
        assert_eq!(response.status(), 502);
        let body = response.text().await.unwrap();
        assert_eq!(
            body, "500 Internal Server Error",
            "the panic was answered with 500"
        );
    });
}

#[test]
fn the_reqwest_middleware_traces_like_send_traced() {
    let capture = with_services(SpanModel::Child, |front, client| async move {
        let response = client
            .get(format!("http://{front}/middleware/abc"))
            .send()
            .await
            .expect("front answers");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "3 in stock");
    });
    let spans = wait_for(&capture, 4);
    let front = named(&spans, "GET /middleware/{id}");
    let client = named(&spans, "GET");
    let back = named(&spans, BACK_SERVER);
    assert_eq!(client.parent_id, Some(front.id));
    assert_eq!(back.parent_id, Some(client.id));
    assert_eq!(back.trace_id, front.trace_id);
    assert_eq!(client.kind, Some(Kind::Client));
    assert_eq!(
        tag_u64(client, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(200)
    );
    let server = client.remote_endpoint.as_ref().expect("remote endpoint");
    assert_eq!(server.service_name.as_deref(), Some("back"));
}

#[test]
fn w3c_context_and_tracestate_flow_through_both_services() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    let mut received = String::new();
    let capture = with_services(SpanModel::Child, |front, client| {
        let received = &mut received;
        async move {
            let response = client
                .get(format!("http://{front}/w3c"))
                .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"))
                .header("tracestate", STATE)
                .send()
                .await
                .expect("front answers");
            assert_eq!(response.status(), 200);
            *received = response.text().await.unwrap();
        }
    });
    let spans = wait_for(&capture, 3);
    let front = named(&spans, "GET /w3c");
    assert_eq!(
        front.trace_id,
        TraceId(u128::from_str_radix(TRACE, 16).unwrap())
    );
    assert_eq!(front.parent_id, Some(SpanId(0x00f0_67aa_0ba9_02b7)));
    let client = named(&spans, "GET");

    let (traceparent, tracestate) = received.split_once('|').expect("traceparent|tracestate");
    assert_eq!(traceparent, format!("00-{TRACE}-{:016x}-01", client.id.0));
    assert_eq!(
        tracestate, STATE,
        "the caller's vendor data goes on to the next hop"
    );
}

#[test]
fn a_jaeger_context_flows_through_both_services() {
    // A jaeger-client caller: unpadded 64-bit trace id, its own parent, sampled.
    const TRACE: &str = "3ac35c9f6413ad";
    const CALLER: &str = "a2fb4a1d1a96d312";
    let mut received = String::new();
    let capture = with_services(SpanModel::Child, |front, client| {
        let received = &mut received;
        async move {
            let response = client
                .get(format!("http://{front}/jaeger"))
                .header("uber-trace-id", format!("{TRACE}:{CALLER}:1f:1"))
                .header("uberctx-user", "alice")
                .send()
                .await
                .expect("front answers");
            assert_eq!(response.status(), 200);
            *received = response.text().await.unwrap();
        }
    });
    let spans = wait_for(&capture, 3);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let front = named(&spans, "GET /jaeger");
    let client = named(&spans, "GET");
    let back = named(&spans, "GET /jaeger-headers");
    let trace_id = TraceId(u128::from_str_radix(TRACE, 16).unwrap());
    for span in [front, client, back] {
        assert_eq!(span.trace_id, trace_id, "one trace: {span:#?}");
    }
    assert_eq!(front.parent_id, Some(SpanId(0xa2fb_4a1d_1a96_d312)));
    assert_eq!(client.parent_id, Some(front.id));
    assert_eq!(
        back.parent_id,
        Some(client.id),
        "back continues front's call"
    );
    assert_eq!(service(back), Some("back"));

    let (uber_trace_id, b3) = received.split_once('|').expect("uber-trace-id|b3");
    assert_eq!(uber_trace_id, format!("00{TRACE}:{:016x}:0:1", client.id.0));
    assert_eq!(b3, "", "only the configured format is sent");
}
