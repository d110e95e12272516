//! A `#[traced]` future dropped before it completes — a `tokio::time::timeout` that fires, a
//! `select!` that takes another branch, a future never polled — ends its span marked cancelled
//! (tag `cancelled=true`, annotation `cancelled`), on the fast path and on the tracing-span path;
//! a future that completes, or whose poll panicked, is not marked.

use std::future::Future;
use std::time::Duration;

use traced::model::{SpanRecord, TagValue};
use traced::testing::Capture;
use traced::traced;

#[traced]
async fn slow(id: u64) -> u64 {
    inner_step().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    id
}

#[traced]
async fn inner_step() {}

#[traced]
async fn quick() -> u64 {
    tokio::task::yield_now().await;
    1
}

/// Keeps a tracing span (it asks for the current one): the layer's path.
#[traced]
async fn slow_on_the_tracing_path() {
    let _ = tracing::Span::current();
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[traced]
async fn panics_in_poll() {
    tokio::task::yield_now().await;
    panic!("poll failed");
}

fn run<F: Future>(fast_path: bool, body: impl FnOnce() -> F) -> (F::Output, Capture) {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
    let output = tracing::dispatcher::with_default(&dispatch, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(body())
    });
    (output, capture)
}

fn is_cancelled(span: &SpanRecord) -> bool {
    let tagged = span.tag("cancelled") == Some(&TagValue::Bool(true));
    let annotated = span
        .annotations
        .iter()
        .any(|annotation| annotation.message == "cancelled");
    assert_eq!(
        tagged, annotated,
        "tag and annotation go together: {span:?}"
    );
    tagged
}

#[test]
fn a_timeout_marks_the_dropped_future_s_span_cancelled() {
    for fast_path in [true, false] {
        let (outcome, capture) = run(fast_path, || async {
            tokio::time::timeout(Duration::from_millis(20), slow(7)).await
        });
        assert!(outcome.is_err(), "the timeout fired");
        let span = capture.span("slow");
        assert!(is_cancelled(&span), "fast path {fast_path}: {span:?}");
        assert!(span.tag("error").is_none(), "cancelled is not an error");
        // Its argument is still there, and the step that completed is not cancelled.
        assert_eq!(span.tag("id"), Some(&TagValue::U64(7)));
        assert!(!is_cancelled(&capture.span("inner_step")));
        // The span lasted until the drop, not until the end of the sleep.
        assert!(span.duration_us >= 15_000 && span.duration_us < 10_000_000);
    }
}

#[test]
fn the_branch_select_drops_is_cancelled_and_the_winner_is_not() {
    for fast_path in [true, false] {
        let (winner, capture) = run(fast_path, || async {
            tokio::select! {
                id = slow(1) => id,
                one = quick() => one,
            }
        });
        assert_eq!(winner, 1);
        assert!(is_cancelled(&capture.span("slow")), "fast path {fast_path}");
        assert!(
            !is_cancelled(&capture.span("quick")),
            "fast path {fast_path}"
        );
    }
}

#[test]
fn a_future_dropped_before_its_first_poll_is_cancelled() {
    for fast_path in [true, false] {
        let ((), capture) = run(fast_path, || async {
            drop(slow(3));
        });
        assert!(is_cancelled(&capture.span("slow")), "fast path {fast_path}");
    }
}

#[test]
fn a_span_kept_as_a_tracing_span_is_marked_too() {
    let (outcome, capture) = run(true, || async {
        tokio::time::timeout(Duration::from_millis(10), slow_on_the_tracing_path()).await
    });
    assert!(outcome.is_err());
    assert!(is_cancelled(&capture.span("slow_on_the_tracing_path")));
}

#[test]
fn a_completed_future_and_a_panicked_one_are_not_cancelled() {
    for fast_path in [true, false] {
        let (one, capture) = run(fast_path, quick);
        assert_eq!(one, 1);
        assert!(!is_cancelled(&capture.span("quick")));

        let (joined, capture) = run(fast_path, || async { tokio::spawn(panics_in_poll()).await });
        assert!(joined.is_err(), "the task panicked");
        let span = capture.span("panics_in_poll");
        assert_eq!(
            span.tag("error.type").map(ToString::to_string).as_deref(),
            Some("panic")
        );
        assert!(!is_cancelled(&span), "fast path {fast_path}: {span:?}");
    }
}
