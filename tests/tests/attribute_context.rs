//! Context that holds at any depth: below a `#[traced]` call on the fast path, library code
//! compiled separately (`tests/library`, which knows only `tracing`) asks for
//! `tracing::Span::current()`, records on it, parents spans and events to it explicitly, and
//! carries it into tasks, blocking work and threads — and every time it is that call's span,
//! as with a real tracing span. The call is reported once, with what the library recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use traced::model::SpanRecord;
use traced::sample::AlwaysOff;
use traced::testing::Capture;
use traced::{traced, TracedLayer, TracedSubscriber};
use traced_test_library as library;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

fn the<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    let found: Vec<&SpanRecord> = spans.iter().filter(|span| span.name == name).collect();
    assert_eq!(found.len(), 1, "one {name:?} in {spans:#?}");
    found[0]
}

fn assert_child(spans: &[SpanRecord], child: &str, parent: &str) {
    let (child, parent) = (the(spans, child), the(spans, parent));
    assert_eq!(
        child.trace_id, parent.trace_id,
        "{child:?} in {parent:?}'s trace"
    );
    assert_eq!(
        child.parent_id,
        Some(parent.id),
        "{} under {}",
        child.name,
        parent.name
    );
}

fn helper_in_between() -> Option<&'static str> {
    library::current_name_deep(3)
}

#[traced]
fn outer() -> (Option<&'static str>, Option<&'static str>) {
    (library::current_name(), helper_in_between())
}

#[test]
fn span_current_names_the_traced_call_at_any_depth() {
    let capture = Capture::new();
    let names = capture.in_scope(outer);
    assert_eq!(names, (Some("outer"), Some("outer")));
    // Reported once: the twin that answered `Span::current()` is not a span of its own.
    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name, "outer");
}

#[traced]
fn parent_of_library_spans() {
    library::child_of_current();
    library::event_on_current();
}

#[test]
fn explicit_parents_from_span_current_are_the_call() {
    let capture = Capture::new();
    capture.in_scope(parent_of_library_spans);
    let spans = capture.spans();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_child(&spans, "lib_child", "parent_of_library_spans");
    let call = the(&spans, "parent_of_library_spans");
    let texts: Vec<String> = call
        .annotations
        .iter()
        .map(|a| a.text().into_owned())
        .collect();
    assert_eq!(texts, ["library event lib.rows=3"]);
}

#[traced]
fn inner_call() {
    library::child_of_current();
}

#[traced]
fn outer_call() {
    inner_call();
    // After the inner call, the outer one is current again.
    assert_eq!(library::current_name(), Some("outer_call"));
    library::child_of_current();
}

#[test]
fn nested_calls_each_answer_for_themselves() {
    let capture = Capture::new();
    capture.in_scope(outer_call);
    let spans = capture.spans();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    assert_child(&spans, "inner_call", "outer_call");
    let children: Vec<&SpanRecord> = spans
        .iter()
        .filter(|span| span.name == "lib_child")
        .collect();
    let inner = the(&spans, "inner_call");
    let outer = the(&spans, "outer_call");
    let mut parents: Vec<_> = children.iter().map(|span| span.parent_id).collect();
    parents.sort();
    let mut expected = vec![Some(inner.id), Some(outer.id)];
    expected.sort();
    assert_eq!(parents, expected);
}

#[traced(fields(lib.value))]
fn declares_a_field() {
    library::record_on_current(7);
}

#[test]
fn span_record_from_the_library_lands_on_the_call() {
    let capture = Capture::new();
    capture.in_scope(declares_a_field);
    let span = capture.span("declares_a_field");
    assert_eq!(
        span.tag("lib.value"),
        Some(&traced::model::TagValue::U64(7))
    );
}

#[traced]
async fn carries_into_tasks() {
    library::spawn_in_current_span().await;
    library::spawn_instrumented_with_current().await;
    library::spawn_blocking_in_current_span().await;
    library::thread_in_current_span();
}

#[test]
fn tasks_blocking_work_and_threads_stay_under_the_call() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    capture.in_scope(|| runtime.block_on(carries_into_tasks()));
    drop(runtime);
    let spans = capture.spans();
    assert_eq!(spans.len(), 5, "{spans:#?}");
    for child in ["lib_task", "lib_instrumented", "lib_blocking", "lib_thread"] {
        assert_child(&spans, child, "carries_into_tasks");
    }
}

/// On the fast path (no `fields(..)` to record later, no `Span::current()` in the body): the
/// library asks for the span and hands the handle out.
#[traced]
fn hands_out_its_span(step: u64) -> tracing::Span {
    let _ = step;
    library::keep_current()
}

#[test]
fn a_span_handle_that_outlives_the_call_keeps_the_span_open() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let kept = hands_out_its_span(1);
        // As with a tracing span, a kept handle keeps the call's span open: not reported yet.
        assert_eq!(capture.spans().len(), 0);
        tracing::info_span!(parent: &kept, "later").in_scope(|| {});
        // Recorded through the handle after the call returned: reported with the call.
        kept.record("step", 9u64);
        tracing::info!(parent: &kept, "late event");
        assert_eq!(capture.spans().len(), 1, "only `later` so far");
        drop(kept);
    });
    let spans = capture.spans();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_child(&spans, "later", "hands_out_its_span");
    let call = the(&spans, "hands_out_its_span");
    let later = the(&spans, "later");
    assert_eq!(call.tag("step"), Some(&traced::model::TagValue::U64(9)));
    assert!(
        call.annotations.iter().any(|a| a.message == "late event"),
        "{call:#?}"
    );
    // It ended when the last handle was dropped, after its child.
    assert!(
        call.timestamp_us + call.duration_us >= later.timestamp_us + later.duration_us,
        "{call:#?} {later:#?}"
    );
}

/// The task a call left behind.
struct LeftBehind(tokio::task::JoinHandle<()>);

/// A future on the fast path whose span a task keeps (through the library) after it completed.
#[traced]
async fn leaves_a_task_behind(step: &'static str) -> LeftBehind {
    let _ = step;
    let span = library::keep_current();
    LeftBehind(tokio::spawn(async move {
        tokio::task::yield_now().await;
        span.record("step", "recorded by the task");
        tracing::info!(parent: &span, "the task is done");
    }))
}

#[test]
fn a_task_holding_the_span_records_after_the_call_returned() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    capture.in_scope(|| {
        runtime.block_on(async {
            let task = leaves_a_task_behind("called").await;
            task.0.await.expect("the task ran");
        })
    });
    drop(runtime);
    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    // The future had completed; the task's handle kept its span open until it was done.
    assert_eq!(
        spans[0].tag("step"),
        Some(&traced::model::TagValue::Str("recorded by the task".into()))
    );
    assert!(
        spans[0]
            .annotations
            .iter()
            .any(|a| a.message == "the task is done"),
        "{spans:#?}"
    );
}

/// Library code that asks for the current span under another traced subscriber than the one
/// the call is reported to.
#[traced]
fn asks_under_another_subscriber(other: &Capture) {
    tracing::dispatcher::with_default(&other.dispatch(), library::event_on_current);
}

#[test]
fn a_twin_made_by_another_subscriber_does_not_take_the_call_away() {
    let capture = Capture::new();
    let other = Capture::new();
    capture.in_scope(|| asks_under_another_subscriber(&other));
    // The call is reported where it was made, with what was recorded on the twin; the other
    // subscriber reports nothing of it.
    let call = capture.span("asks_under_another_subscriber");
    assert!(
        call.annotations
            .iter()
            .any(|annotation| annotation.message == "library event"),
        "{call:#?}"
    );
    assert!(other.spans().is_empty(), "{:#?}", other.spans());
}

#[test]
fn an_unsampled_call_keeps_its_trace_and_records_nothing() {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_sampler(AlwaysOff);
    let names = tracing::dispatcher::with_default(&dispatch, || {
        parent_of_library_spans();
        outer()
    });
    assert_eq!(names, (Some("outer"), Some("outer")));
    assert!(capture.spans().is_empty(), "{:#?}", capture.spans());
}

/// Counts the registry spans made, to see that the fast path is still taken, and those closed,
/// to see that no twin is left open.
#[derive(Clone, Default)]
struct CountSpans(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountSpans {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn on_close(&self, _: Id, _: Context<'_, S>) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

#[traced]
fn quiet_call() -> u64 {
    3
}

#[test]
fn the_fast_path_makes_a_registry_span_only_when_asked() {
    let capture = Capture::new();
    let created = CountSpans::default();
    let dispatch = tracing::Dispatch::new(TracedSubscriber::new(
        tracing_subscriber::registry()
            .with(created.clone())
            .with(TracedLayer::new(capture.clone()).fast_path(true)),
    ));
    tracing::dispatcher::with_default(&dispatch, || {
        quiet_call();
        assert_eq!(
            created.0.load(Ordering::Relaxed),
            0,
            "no span for a quiet call"
        );
        outer();
        assert_eq!(
            created.0.load(Ordering::Relaxed),
            1,
            "one twin, for the call that asked"
        );
        assert_eq!(created.1.load(Ordering::Relaxed), 1, "closed with its call");
    });
    // Unwrapped, the layer does not offer the fast path: every call is a tracing span, and
    // `Span::current()` is right as well.
    let unwrapped = CountSpans::default();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(unwrapped.clone())
            .with(TracedLayer::new(capture.clone()).fast_path(true)),
    );
    let names = tracing::dispatcher::with_default(&dispatch, outer);
    assert_eq!(names, (Some("outer"), Some("outer")));
    assert_eq!(unwrapped.0.load(Ordering::Relaxed), 1);
}

#[traced]
fn sets_baggage_after_asking() {
    let _ = library::current_name();
    assert!(traced::baggage::set("tenant", "acme"));
}

#[test]
fn baggage_set_after_the_twin_was_made_is_kept() {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_layer(|layer| layer.baggage_tags(["tenant"]));
    tracing::dispatcher::with_default(&dispatch, sets_baggage_after_asking);
    let span = capture.span("sets_baggage_after_asking");
    assert_eq!(
        span.tag("tenant").and_then(|tag| tag.as_str()),
        Some("acme"),
        "{span:#?}"
    );
}
