//! `#[traced(sampler = …)]`: a function that starts a new trace is sampled by its own choice
//! (`"always"`, `"never"`, a ratio on the trace id) instead of the process's sampler, on the
//! fast path (frames) and on the tracing-span path alike, sync and async; under a parent the
//! call inherits the parent's decision.

use traced::model::SpanRecord;
use traced::sample::{AlwaysOff, AlwaysOn, Sampler};
use traced::testing::Capture;
use traced::traced;

#[traced(sampler = "always")]
fn always_root() {
    plain_child();
}

#[traced]
fn plain_child() {}

#[traced(sampler = "never")]
fn never_root() {
    plain_child();
}

#[traced(sampler = 0.25)]
fn quarter() {}

#[traced(sampler = 0)]
fn ratio_zero() {}

#[traced(sampler = "always")]
async fn always_async() {
    plain_child();
}

/// Asks for the current span, so it keeps a tracing span (the layer's path, not a frame).
#[traced(sampler = "always")]
fn always_on_the_tracing_path() {
    let _ = tracing::Span::current();
    plain_child();
}

#[traced(sampler = "never", parent = None)]
fn never_even_as_an_explicit_root() {}

#[traced]
fn sampled_parent() {
    never_root();
}

/// Runs `body` under a subscriber whose own sampler is `sampler`, with or without the fast path;
/// returns the spans recorded.
fn run(sampler: impl Sampler, fast_path: bool, body: impl FnOnce()) -> Vec<SpanRecord> {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_layer(|layer| layer.sampler(sampler).fast_path(fast_path));
    tracing::dispatcher::with_default(&dispatch, body);
    capture.spans()
}

fn names(spans: &[SpanRecord]) -> Vec<&str> {
    let mut names: Vec<&str> = spans.iter().map(|span| &*span.name).collect();
    names.sort_unstable();
    names
}

#[test]
fn always_records_a_new_trace_the_process_would_drop() {
    for fast_path in [true, false] {
        let spans = run(AlwaysOff, fast_path, || {
            always_root();
            always_on_the_tracing_path();
            ratio_zero();
            plain_child();
        });
        assert_eq!(
            names(&spans),
            [
                "always_on_the_tracing_path",
                "always_root",
                "plain_child",
                "plain_child"
            ],
            "fast path {fast_path}"
        );
        let root = spans
            .iter()
            .find(|span| span.name == "always_root")
            .unwrap();
        let child = spans
            .iter()
            .find(|span| span.name == "plain_child" && span.trace_id == root.trace_id)
            .expect("the child inherits its root's decision");
        assert_eq!(child.parent_id, Some(root.id));
    }
}

#[test]
fn never_drops_a_new_trace_but_not_a_call_inside_a_sampled_one() {
    for fast_path in [true, false] {
        let spans = run(AlwaysOn, fast_path, || {
            never_root();
            never_even_as_an_explicit_root();
            sampled_parent();
        });
        assert_eq!(
            names(&spans),
            ["never_root", "plain_child", "sampled_parent"],
            "fast path {fast_path}"
        );
        assert!(spans.iter().all(|span| span.trace_id == spans[0].trace_id));
    }
}

#[test]
fn an_async_function_s_sampler_decides_its_trace() {
    let spans = run(AlwaysOff, true, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(always_async());
    });
    assert_eq!(names(&spans), ["always_async", "plain_child"]);
}

#[test]
fn a_ratio_samples_that_fraction_of_new_traces() {
    const CALLS: usize = 4000;
    for fast_path in [true, false] {
        let spans = run(AlwaysOn, fast_path, || (0..CALLS).for_each(|_| quarter()));
        // A quarter of random trace ids: 1000 expected, σ ≈ 27.
        assert!(
            (850..=1150).contains(&spans.len()),
            "{} of {CALLS} sampled (fast path {fast_path})",
            spans.len()
        );
    }
}

#[traced(sampler = "always", parent = caller, skip(caller))]
fn always_for_an_undecided_caller(caller: traced::model::Remote) {}

#[test]
fn a_caller_that_left_the_decision_open_is_decided_by_the_function_s_sampler() {
    use traced::model::{Remote, Sampling, SpanContext, SpanId, TraceId};
    let caller = |sampling| {
        Remote::Context(SpanContext {
            trace_id: TraceId(0xabc),
            span_id: SpanId(0xdef),
            parent_id: None,
            sampling,
        })
    };
    // Undecided (B3 without a sampled flag): the function's `always` decides, over the
    // process's `AlwaysOff`.
    let spans = run(AlwaysOff, true, || {
        always_for_an_undecided_caller(caller(Sampling::Defer))
    });
    assert_eq!(names(&spans), ["always_for_an_undecided_caller"]);
    assert_eq!(spans[0].parent_id, Some(SpanId(0xdef)));
    // A caller's own decision still wins.
    let spans = run(AlwaysOn, true, || {
        always_for_an_undecided_caller(caller(Sampling::Deny))
    });
    assert!(spans.is_empty(), "{spans:#?}");
}
