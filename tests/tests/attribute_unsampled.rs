//! The fast path in unsampled traces: `#[traced]` calls create no tracing span, and synchronous
//! calls nested directly in an unsampled `#[traced]` call skip their own frame too, yet nothing
//! observable about the trace changes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use traced::model::{Sampling, TraceId};
use traced::sample::Sampler;
use traced::testing::Capture;
use traced::{traced, TracedLayer};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Counts the tracing spans created, whatever layer they are for.
#[derive(Clone, Default)]
struct CountSpans(Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for CountSpans {
    fn on_new_span(&self, _attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Samples new traces while `accept` is true.
#[derive(Clone)]
struct Switch(Arc<AtomicBool>);

impl Sampler for Switch {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        if self.0.load(Ordering::Relaxed) {
            Sampling::Accept
        } else {
            Sampling::Deny
        }
    }
}

struct Setup {
    capture: Capture,
    created: CountSpans,
    accept: Arc<AtomicBool>,
    dispatch: tracing::Dispatch,
}

fn setup(fast_path: bool) -> Setup {
    let capture = Capture::new();
    let created = CountSpans::default();
    let accept = Arc::new(AtomicBool::new(false));
    let layer = TracedLayer::new(capture.clone())
        .sampler(Switch(accept.clone()))
        .fast_path(fast_path);
    let dispatch = tracing::Dispatch::new(traced::TracedSubscriber::new(
        tracing_subscriber::registry()
            .with(created.clone())
            .with(layer),
    ));
    Setup {
        capture,
        created,
        accept,
        dispatch,
    }
}

#[traced]
fn root(depth: u32) -> Option<traced::model::SpanContext> {
    middle(depth)
}

#[traced]
fn middle(depth: u32) -> Option<traced::model::SpanContext> {
    leaf(depth)
}

#[traced]
fn leaf(_depth: u32) -> Option<traced::model::SpanContext> {
    traced::current_context()
}

#[test]
fn nested_calls_under_an_unsampled_root_create_no_spans_and_still_carry_the_deny() {
    let setup = setup(true);
    let (seen_inside, root_context) = tracing::dispatcher::with_default(&setup.dispatch, || {
        let root_context = tracing::info_span!("outer");
        let _entered = root_context.enter();
        let outer = traced::current_context().expect("the outer span has a context");
        (root(3), outer)
    });
    // Only `outer` is a tracing span: `root` is a frame, `middle` and `leaf` skip theirs.
    assert_eq!(setup.created.0.load(Ordering::Relaxed), 1);
    assert!(
        setup.capture.spans().is_empty(),
        "an unsampled trace reports nothing"
    );
    let inside = seen_inside.expect("the leaf still sees the unsampled trace's context");
    assert_eq!(inside.trace_id, root_context.trace_id);
    assert_eq!(inside.sampling, Sampling::Deny);
}

#[test]
fn without_the_fast_path_every_call_is_a_span() {
    let setup = setup(false);
    tracing::dispatcher::with_default(&setup.dispatch, || root(3));
    assert_eq!(setup.created.0.load(Ordering::Relaxed), 3);
    assert!(setup.capture.spans().is_empty());
}

#[traced]
fn enters_a_library_span() -> (
    Option<traced::model::SpanContext>,
    Option<traced::model::SpanContext>,
) {
    tracing::info_span!("library").in_scope(|| (traced::current_context(), leaf(0)))
}

#[test]
fn a_span_entered_by_other_code_ends_the_skipping_below_it() {
    let setup = setup(true);
    let (library, leaf) = tracing::dispatcher::with_default(&setup.dispatch, enters_a_library_span);
    let (library, leaf) = (library.unwrap(), leaf.unwrap());
    // The library span is the only tracing span; `leaf` under it has a frame of its own again.
    assert_eq!(setup.created.0.load(Ordering::Relaxed), 1);
    assert_eq!(leaf.parent_id, Some(library.span_id));
    assert_eq!(leaf.trace_id, library.trace_id);
    assert_eq!(leaf.sampling, Sampling::Deny);
}

#[traced]
fn switches_to(span: &tracing::Span) {
    // Inside an unsampled call, run work in another, sampled trace.
    span.in_scope(|| {
        leaf(1);
    });
    leaf(2);
}

#[test]
fn a_sampled_span_entered_inside_an_unsampled_call_records_its_children() {
    let setup = setup(true);
    tracing::dispatcher::with_default(&setup.dispatch, || {
        setup.accept.store(true, Ordering::Relaxed);
        let sampled = tracing::info_span!("sampled");
        setup.accept.store(false, Ordering::Relaxed);
        switches_to(&sampled);
    });
    let spans = setup.capture.spans();
    let sampled = setup.capture.span("sampled");
    let leaf = setup.capture.span("leaf");
    assert_eq!(leaf.parent_id, Some(sampled.id));
    assert_eq!(leaf.trace_id, sampled.trace_id);
    assert_eq!(
        spans.len(),
        2,
        "only the sampled trace is reported: {spans:?}"
    );
}
