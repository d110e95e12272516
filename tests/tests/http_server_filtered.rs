//! A filter that turns the `traced::http` target off turns the server span off, on the fast
//! path too, while the `#[traced]` calls under it are still recorded.
//!
//! The only test of this binary, on purpose: a callsite's interest is cached for the whole
//! process and combines every live dispatcher, and tests that make theirs on other threads at
//! the same moment can leave the server span's callsite "always" enabled for a moment (a
//! unit test of this in `runtime/src/http/server_span.rs` failed once in twenty runs that way).
//! A process with one dispatcher, as a service has, never sees that.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;
use traced::http::ServerLayer;
use traced::testing::Capture;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

#[traced::traced]
fn lookup(id: u64) -> u64 {
    id + 1
}

#[test]
fn a_filtered_out_http_target_records_no_server_span_and_keeps_the_rest() {
    let capture = Capture::new();
    let filter = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("traced::http", LevelFilter::OFF);
    let dispatch = tracing::Dispatch::new(traced::TracedSubscriber::new(
        tracing_subscriber::registry().with(
            traced::TracedLayer::new(capture.clone())
                .fast_path(true)
                .with_filter(filter),
        ),
    ));
    let app = Router::new()
        .route("/items", get(|| async { lookup(1).to_string() }))
        .layer(ServerLayer::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let status = tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let request = Request::builder()
                .uri("/items")
                .body(Body::empty())
                .expect("a valid request");
            app.oneshot(request)
                .await
                .expect("routers are infallible")
                .status()
        })
    });
    assert_eq!(status, StatusCode::OK);
    let names = capture.names();
    assert_eq!(
        names,
        ["lookup"],
        "the server span is filtered out, its child is not"
    );
}
