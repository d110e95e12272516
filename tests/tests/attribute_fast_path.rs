//! The fast path: `#[traced]` calls kept as frames on a per-thread stack instead of registry
//! spans. What is reported must be exactly what the tracing-span path reports, and library
//! spans, events and propagation inside a call must see the call as their parent.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use traced::model::{SpanRecord, TagValue};
use traced::testing::Capture;
use traced::{traced, TracedLayer};
use traced_tests::fixtures::text;
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[traced]
fn handle(order: u64) -> Result<u64, String> {
    tracing::info!(order, "looking up");
    let total = tracing::info_span!("library work", rows = 2u64).in_scope(|| price(order) + 1);
    if order == 0 {
        tracing::error!("order zero");
        return Err("no order zero".to_owned());
    }
    Ok(total + price(order))
}

#[traced(kind = "client", fields(peer.service = "pricing-db"))]
fn price(order: u64) -> u64 {
    order * 10
}

/// The spans of one `handle` call, as a comparable picture: each span's name, its parent's
/// name, its tags and its annotations' text, in a stable order.
fn picture(spans: &[SpanRecord]) -> Vec<(String, Option<String>, String, Vec<String>)> {
    let name_of = |id| {
        spans
            .iter()
            .find(|span| span.id == id)
            .map(|span| span.name.to_string())
    };
    let mut picture: Vec<_> = spans
        .iter()
        .map(|span| {
            (
                span.name.to_string(),
                span.parent_id.and_then(name_of),
                format!("{:?} {:?} {:?}", span.tags, span.kind, span.remote_endpoint),
                span.annotations
                    .iter()
                    .map(|annotation| annotation.text().into_owned())
                    .collect(),
            )
        })
        .collect();
    picture.sort();
    picture
}

fn run(fast_path: bool) -> Vec<SpanRecord> {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
    tracing::dispatcher::with_default(&dispatch, || {
        assert_eq!(handle(4), Ok(81));
        assert_eq!(handle(0), Err("no order zero".to_owned()));
    });
    capture.spans()
}

#[test]
fn frames_report_exactly_what_tracing_spans_report() {
    let fast = run(true);
    let slow = run(false);
    // handle(4): itself, the library span, two price calls; handle(0) fails before the second.
    assert_eq!(fast.len(), 7, "{fast:#?}");
    assert_eq!(picture(&fast), picture(&slow));
    let mut trace_sizes: Vec<_> = fast
        .iter()
        .map(|span| {
            assert!(span.duration_us >= 1);
            fast.iter()
                .filter(|other| other.trace_id == span.trace_id)
                .count()
        })
        .collect();
    trace_sizes.sort();
    assert_eq!(trace_sizes, [3, 3, 3, 4, 4, 4, 4], "each call is one trace");
}

#[test]
fn library_spans_and_events_nest_under_the_innermost_scope() {
    let spans = run(true);
    let failed = spans
        .iter()
        .find(|span| span.name == "handle" && span.error().is_some())
        .expect("the failed call");
    assert_eq!(failed.error(), Some("no order zero"));
    assert_eq!(
        failed.tag("error.type"),
        Some(&text("alloc::string::String"))
    );
    let annotations: Vec<_> = failed
        .annotations
        .iter()
        .map(|annotation| annotation.text().into_owned())
        .collect();
    assert_eq!(annotations, ["looking up order=0", "order zero"]);

    let library = spans
        .iter()
        .find(|span| span.name == "library work" && span.trace_id == failed.trace_id)
        .unwrap();
    assert_eq!(
        library.parent_id,
        Some(failed.id),
        "a library span in a call"
    );
    assert_eq!(library.tag("rows"), Some(&TagValue::U64(2)));
    let prices: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "price" && span.trace_id == failed.trace_id)
        .collect();
    assert_eq!(prices.len(), 1);
    assert_eq!(
        prices[0].parent_id,
        Some(library.id),
        "a call inside a library span"
    );
    assert_eq!(
        prices[0]
            .remote_endpoint
            .as_ref()
            .and_then(|remote| remote.service_name.as_deref()),
        Some("pricing-db")
    );
    assert!(library.timestamp_us >= failed.timestamp_us);
    assert!(
        library.timestamp_us + library.duration_us <= failed.timestamp_us + failed.duration_us + 1
    );
}

/// Counts tracing spans created, whatever layer they are for.
#[derive(Clone, Default)]
struct CountSpans(Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for CountSpans {
    fn on_new_span(&self, _attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn calls_on_the_fast_path_create_no_tracing_span() {
    let capture = Capture::new();
    let created = CountSpans::default();
    let dispatch = tracing::Dispatch::new(traced::TracedSubscriber::new(
        tracing_subscriber::registry()
            .with(created.clone())
            .with(TracedLayer::new(capture.clone()).fast_path(true)),
    ));
    tracing::dispatcher::with_default(&dispatch, || handle(4)).unwrap();
    assert_eq!(
        created.0.load(Ordering::Relaxed),
        1,
        "only the library span"
    );
    assert_eq!(capture.spans().len(), 4);
}

#[traced]
fn context_inside() -> (traced::model::SpanContext, traced::model::SpanContext) {
    let own = traced::current_context().expect("a call has a context");
    let nested = context_of_nested();
    (own, nested)
}

#[traced]
fn context_of_nested() -> traced::model::SpanContext {
    traced::current_context().expect("a call has a context")
}

#[test]
fn propagation_sees_the_call_itself() {
    let capture = Capture::new();
    let (own, nested) = capture.in_scope(context_inside);
    let outer = capture.span("context_inside");
    let inner = capture.span("context_of_nested");
    assert_eq!((own.trace_id, own.span_id), (outer.trace_id, outer.id));
    assert_eq!(
        (nested.span_id, nested.parent_id),
        (inner.id, Some(outer.id))
    );
    assert!(capture.in_scope(traced::current_context).is_none());
}

#[traced]
fn records_on_the_current_span() {
    tracing::Span::current().record("late", 9u64);
}

#[traced(fields(late = tracing::field::Empty))]
fn records_a_declared_field() {
    tracing::Span::current().record("late", 9u64);
}

#[test]
fn a_body_that_uses_the_current_span_gets_a_tracing_span() {
    let capture = Capture::new();
    capture.in_scope(|| {
        records_on_the_current_span();
        records_a_declared_field();
    });
    assert_eq!(
        capture.span("records_a_declared_field").tag("late"),
        Some(&TagValue::U64(9))
    );
    // Not declared, so not recorded, but the call is still its own span (not its parent's).
    assert_eq!(
        capture.span("records_on_the_current_span").tag("late"),
        None
    );
}

#[traced]
fn panics(depth: u32) {
    if depth == 0 {
        panic!("deep failure");
    }
    panics(depth - 1);
}

#[test]
fn a_panic_tags_every_frame_it_unwinds_and_the_stack_recovers() {
    let capture = Capture::new();
    let caught = capture.in_scope(|| std::panic::catch_unwind(|| panics(2)));
    assert!(caught.is_err());
    let spans = capture.spans();
    assert_eq!(spans.len(), 3);
    for span in &spans {
        assert_eq!(span.error(), Some("deep failure"));
        assert_eq!(span.tag("error.type"), Some(&text("panic")));
    }
    // The frames were popped: a call afterwards is a new root, not a child of a dead frame.
    capture.clear();
    capture.in_scope(|| price(1));
    assert_eq!(capture.span("price").parent_id, None);
}

#[traced]
async fn remote_step(step: u64) -> u64 {
    tokio::task::yield_now().await;
    price(step)
}

#[traced]
async fn fan_out() -> u64 {
    let spawned = tokio::spawn(remote_step(2));
    let local = remote_step(1).await;
    local + spawned.await.expect("the task finishes")
}

#[test]
fn async_frames_move_between_threads_with_their_future() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    let total = runtime
        .block_on(runtime.spawn(async { fan_out().await }))
        .unwrap();
    drop(runtime);
    assert_eq!(total, 30);
    let root = capture.span("fan_out");
    let spans = capture.spans();
    let steps: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "remote_step")
        .collect();
    assert_eq!(steps.len(), 2);
    for step in &steps {
        assert_eq!(step.parent_id, Some(root.id));
        let prices: Vec<_> = spans
            .iter()
            .filter(|span| span.name == "price" && span.parent_id == Some(step.id))
            .collect();
        assert_eq!(prices.len(), 1, "each step's price call is its child");
    }
}

#[test]
fn a_future_dropped_before_completion_still_reports_its_span() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    runtime
        .block_on(runtime.spawn(async {
            let mut future = Box::pin(remote_step(5));
            // Poll once (it yields), then drop it unfinished.
            let waker = std::task::Waker::noop();
            let mut context = std::task::Context::from_waker(waker);
            assert!(future.as_mut().poll(&mut context).is_pending());
            drop(future);
        }))
        .unwrap();
    drop(runtime);
    let step = capture.span("remote_step");
    assert_eq!(step.tag("step"), Some(&TagValue::U64(5)));
    assert!(step.error().is_none());
}
