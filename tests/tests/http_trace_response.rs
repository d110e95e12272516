//! `ServerLayer::trace_response`, through a real axum service on loopback: off by default; W3C
//! `traceresponse` with the server span's trace and span ids and sampled flag; or the bare trace
//! id under a header name of the user's; on errors and panics too.

mod http_support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use http_support::serve;
use traced::http::{ServerLayer, TraceResponse};
use traced::model::{Kind, SpanRecord};
use traced::testing::Capture;

fn app(header: Option<TraceResponse>) -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("boom");
                }
                "never"
            }),
        )
        .layer(ServerLayer::new().trace_response(header))
}

/// The responses' headers named `name` for each path, and the server spans, in request order.
fn call(
    header: Option<TraceResponse>,
    name: &str,
    paths: &[&str],
) -> (Vec<(StatusCode, Option<String>)>, Vec<SpanRecord>) {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    let answers = runtime.block_on(async {
        let address = serve(app(header)).await;
        let client = reqwest::Client::new();
        let mut answers = Vec::new();
        for path in paths {
            let response = client
                .get(format!("http://{address}{path}"))
                .send()
                .await
                .expect("an answer");
            let value = response
                .headers()
                .get(name)
                .map(|value| value.to_str().expect("text").to_owned());
            answers.push((
                StatusCode::from_u16(response.status().as_u16()).unwrap(),
                value,
            ));
        }
        answers
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture.spans().len() < paths.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut spans = capture.spans();
    spans.retain(|span| span.kind == Some(Kind::Server));
    spans.sort_by_key(|span| span.timestamp_us);
    (answers, spans)
}

#[test]
fn no_trace_header_by_default() {
    let (answers, spans) = call(None, "traceresponse", &["/ok"]);
    assert_eq!(answers, [(StatusCode::OK, None)]);
    assert_eq!(spans.len(), 1, "the request was traced");
}

#[test]
fn traceresponse_names_the_server_span_on_every_answer() {
    let paths = ["/ok", "/fail", "/panic"];
    let (answers, spans) = call(Some(TraceResponse::TraceContext), "traceresponse", &paths);
    assert_eq!(spans.len(), 3);
    let statuses = [
        StatusCode::OK,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::INTERNAL_SERVER_ERROR,
    ];
    for (((status, value), span), expected) in answers.iter().zip(&spans).zip(statuses) {
        assert_eq!(*status, expected);
        let expected = format!("00-{:032x}-{}-01", span.trace_id.0, span.id);
        assert_eq!(value.as_deref(), Some(expected.as_str()), "{status}");
    }
}

#[test]
fn a_header_of_your_own_carries_the_trace_id() {
    let name = http::HeaderName::from_static("x-trace-id");
    let (answers, spans) = call(Some(TraceResponse::TraceId(name)), "x-trace-id", &["/ok"]);
    assert_eq!(answers[0].1, Some(spans[0].trace_id.to_string()));
    assert!(spans[0].trace_id.to_string().len() >= 16);
}
