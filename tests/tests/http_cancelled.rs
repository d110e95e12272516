//! A request the server never answered is marked cancelled: the `ServerLayer` future dropped
//! before the handler finished — by a timeout around the service, or by hyper when the client
//! hangs up — ends the SERVER span with `cancelled=true` and an annotation `cancelled`; an
//! answered request is not marked.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::Request;
use tower::ServiceExt;
use traced::http::ServerLayer;
use traced::model::{Kind, SpanRecord, TagValue};
use traced::testing::Capture;

fn app() -> Router {
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/fast", get(|| async { "fast" }))
        .layer(ServerLayer::new())
}

fn is_cancelled(span: &SpanRecord) -> bool {
    let annotated = span
        .annotations
        .iter()
        .any(|annotation| annotation.message == "cancelled");
    let tagged = span.tag("cancelled") == Some(&TagValue::Bool(true));
    assert_eq!(tagged, annotated, "{span:?}");
    tagged
}

fn server_span(capture: &Capture, name: &str) -> SpanRecord {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(span) = capture
            .spans()
            .into_iter()
            .find(|span| span.kind == Some(Kind::Server) && span.name == name)
        {
            return span;
        }
        assert!(
            Instant::now() < deadline,
            "no span {name}: {:?}",
            capture.spans()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_timeout_around_the_service_marks_the_request_cancelled() {
    let capture = Capture::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    capture.in_scope(|| {
        runtime.block_on(async {
            let slow = Request::builder().uri("/slow").body(Body::empty()).unwrap();
            let answer = tokio::time::timeout(Duration::from_millis(20), app().oneshot(slow)).await;
            assert!(answer.is_err(), "the handler is still sleeping");
            let fast = Request::builder().uri("/fast").body(Body::empty()).unwrap();
            app().oneshot(fast).await.expect("an answer");
        })
    });
    let slow = server_span(&capture, "GET /slow");
    assert!(is_cancelled(&slow));
    assert_eq!(
        slow.tag("http.response.status_code"),
        None,
        "never answered"
    );
    assert!(!is_cancelled(&server_span(&capture, "GET /fast")));
}

#[test]
fn a_client_that_hangs_up_leaves_a_cancelled_server_span() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address: SocketAddr = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app()).await });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .expect("a client");
        let gave_up = client.get(format!("http://{address}/slow")).send().await;
        assert!(gave_up.is_err(), "the client timed out");
    });
    // hyper notices the closed connection and drops the request's future.
    let slow = server_span(&capture, "GET /slow");
    assert!(is_cancelled(&slow), "{slow:?}");
}
