//! `#[traced]` calls do not touch the heap for spans without string fields; a span made by hand
//! makes exactly the Registry's one box.
//!
//! A counting global allocator counts the allocations made by the test's own thread while it
//! creates and closes spans (after a warm-up, so the registry's slab and lazy statics are already
//! filled). Spans go through the Registry and `TracedLayer` to an exporter that counts and drops
//! them, so the layer's and the registry's work is what is counted, not a reporter's queue.
//! `#[traced]` calls take the fast path as `traced::init` sets it up and allocate nothing;
//! spans made by hand (`tracing::info_span!`) are registry spans, whose extension map boxes our
//! state: exactly one allocation each, and the tests hold them to that.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use traced::export::Exporter;
use traced::model::{Sampling, SpanRecord, TraceId};
use traced::sample::Sampler;
use traced::TracedLayer;
use traced_tests::alloc::CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations made by this thread while running `body`.
fn allocations_in(body: impl FnOnce()) -> u64 {
    traced_tests::alloc::allocations_in(body).count
}

/// Counts exported spans (so a test cannot pass by exporting nothing) and drops them.
#[derive(Clone, Default)]
struct CountingExporter(Arc<AtomicU64>);

impl Exporter for CountingExporter {
    fn export(&self, span: SpanRecord) {
        drop(span);
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

struct AlwaysOff;

impl Sampler for AlwaysOff {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        Sampling::Deny
    }
}

const WARM_UP: u64 = 1_000;
const SPANS: u64 = 10_000;

/// Runs `make_span` WARM_UP + SPANS times under a parent span in a Registry + TracedLayer
/// subscriber, and returns the allocations of the last SPANS runs and the spans exported (the
/// parent included).
fn measure(sampled: bool, make_span: impl Fn(u64)) -> (u64, u64) {
    measure_with(
        TracedLayer::new,
        sampled,
        |body| {
            let parent = tracing::info_span!("parent");
            let _entered = parent.enter();
            body()
        },
        make_span,
    )
}

/// Like [`measure`], with the layer built by `layer` and the parent entered by `parent`.
fn measure_with(
    layer: impl FnOnce(CountingExporter) -> TracedLayer,
    sampled: bool,
    parent: impl FnOnce(&mut dyn FnMut() -> u64) -> u64,
    make_span: impl Fn(u64),
) -> (u64, u64) {
    let exporter = CountingExporter::default();
    let mut layer = layer(exporter.clone());
    if !sampled {
        layer = layer.sampler(AlwaysOff);
    }
    // Wrapped as `traced::init` wraps it: the fast path needs `TracedSubscriber` outermost.
    let dispatch = Dispatch::new(traced::TracedSubscriber::new(
        tracing_subscriber::registry().with(layer),
    ));
    let allocations = tracing::dispatcher::with_default(&dispatch, || {
        parent(&mut || {
            for i in 0..WARM_UP {
                make_span(i);
            }
            allocations_in(|| {
                for i in 0..SPANS {
                    make_span(i);
                }
            })
        })
    });
    (allocations, exporter.0.load(Ordering::Relaxed))
}

#[traced::traced]
fn traced_parent(body: &mut dyn FnMut() -> u64) -> u64 {
    body()
}

fn per_span(allocations: u64) -> f64 {
    allocations as f64 / SPANS as f64
}

/// The one allocation a hand-written span makes: the Registry boxes every extension, our state
/// included (benches/PROFILE.md); `#[traced]` calls avoid it.
const REGISTRY_BOX: u64 = 1;

#[test]
fn hand_written_sampled_spans_without_fields_allocate_only_the_registrys_box() {
    let (allocations, exported) = measure(true, |_| {
        let _span = tracing::info_span!("work").entered();
        black_box(());
    });
    assert_eq!(
        exported,
        WARM_UP + SPANS + 1,
        "every sampled span, and the parent, is exported"
    );
    assert_eq!(
        allocations,
        REGISTRY_BOX * SPANS,
        "{allocations} allocations for {SPANS} sampled spans ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn hand_written_sampled_spans_with_two_integer_fields_allocate_only_the_registrys_box() {
    let (allocations, exported) = measure(true, |i| {
        let _span = tracing::info_span!("work", a = i, b = i * 2).entered();
        black_box(());
    });
    assert_eq!(
        exported,
        WARM_UP + SPANS + 1,
        "every sampled span, and the parent, is exported"
    );
    assert_eq!(
        allocations,
        REGISTRY_BOX * SPANS,
        "{allocations} allocations for {SPANS} sampled spans with two u64 fields ({:.2} per span)",
        per_span(allocations)
    );
}

#[traced::traced]
fn traced_without_arguments() -> u64 {
    black_box(7)
}

#[traced::traced]
fn traced_with_two_integers(a: u64, b: u64) -> u64 {
    black_box(a) ^ black_box(b)
}

/// Like [`measure`], with the layer as `traced::init` sets it up when it is the only consumer
/// of spans, and a `#[traced]` call as the parent.
fn measure_traced(sampled: bool, make_span: impl Fn(u64)) -> (u64, u64) {
    measure_with(
        |exporter| TracedLayer::new(exporter).fast_path(true),
        sampled,
        |body| traced_parent(body),
        make_span,
    )
}

#[test]
fn traced_functions_without_arguments_do_not_allocate() {
    let (allocations, exported) = measure_traced(true, |_| {
        black_box(traced_without_arguments());
    });
    assert_eq!(
        exported,
        WARM_UP + SPANS + 1,
        "every sampled span, and the parent, is exported"
    );
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {SPANS} #[traced] calls ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn traced_functions_with_two_integer_arguments_do_not_allocate() {
    let (allocations, exported) = measure_traced(true, |i| {
        black_box(traced_with_two_integers(i, i * 2));
    });
    assert_eq!(
        exported,
        WARM_UP + SPANS + 1,
        "every sampled span, and the parent, is exported"
    );
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {SPANS} #[traced] calls with two u64 arguments ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn hand_written_unsampled_spans_allocate_only_the_registrys_box() {
    // In an unsampled trace too, the Registry boxes our state into its extensions.
    let (allocations, exported) = measure(false, |i| {
        let _span = tracing::info_span!("work", a = i).entered();
        black_box(());
    });
    assert_eq!(exported, 0, "nothing unsampled is exported");
    assert_eq!(
        allocations,
        REGISTRY_BOX * SPANS,
        "{allocations} allocations for {SPANS} unsampled spans ({:.2} per span)",
        per_span(allocations)
    );
}

#[traced::traced]
fn traced_with_integer_fields_and_a_kind(id: u64) -> Result<u64, std::convert::Infallible> {
    Ok(black_box(id))
}

#[test]
fn traced_functions_under_a_hand_written_parent_do_not_allocate() {
    // The first frame under a registry span reads the parent's ids from the registry.
    let (allocations, exported) = measure_with(
        |exporter| TracedLayer::new(exporter).fast_path(true),
        true,
        |body| {
            let parent = tracing::info_span!("parent");
            let _entered = parent.enter();
            body()
        },
        |i| {
            black_box(traced_with_integer_fields_and_a_kind(i)).ok();
        },
    );
    assert_eq!(exported, WARM_UP + SPANS + 1);
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {SPANS} #[traced] calls under a registry span ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn traced_functions_in_an_unsampled_trace_do_not_allocate() {
    let (allocations, exported) = measure_traced(false, |i| {
        black_box(traced_with_two_integers(i, i * 2));
    });
    assert_eq!(exported, 0, "nothing unsampled is exported");
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {SPANS} unsampled #[traced] calls ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the other tests: a counter that never counts would make them pass vacuously.
    let counted = traced_tests::alloc::allocations_in(|| {
        black_box(Box::new(7u64));
        black_box(vec![1u8; 64]);
    });
    assert_eq!((counted.count, counted.bytes), (2, 8 + 64));
}

#[traced::traced]
async fn traced_async_without_arguments() -> u64 {
    black_box(7)
}

#[traced::traced]
async fn traced_async_with_two_integers(a: u64, b: u64) -> u64 {
    black_box(a + b)
}

#[traced::traced]
async fn traced_async_that_suspends() -> u64 {
    YieldOnce(false).await;
    black_box(7)
}

/// Pending once, then ready: a future that suspends, without any runtime.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Polls `future` to completion on this thread with a no-op waker.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[test]
fn async_functions_that_complete_in_their_first_poll_do_not_allocate() {
    let (allocations, exported) = measure_traced(true, |_| {
        black_box(block_on(traced_async_without_arguments()));
    });
    assert_eq!(exported, WARM_UP + SPANS + 1);
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {SPANS} async #[traced] calls ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn async_functions_with_two_integer_arguments_do_not_allocate() {
    let (allocations, exported) = measure_traced(true, |i| {
        black_box(block_on(traced_async_with_two_integers(i, 2)));
    });
    assert_eq!(exported, WARM_UP + SPANS + 1);
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {SPANS} async #[traced] calls with two u64 arguments \
         ({:.2} per span)",
        per_span(allocations)
    );
}

#[test]
fn async_functions_that_suspend_allocate_once_and_unsampled_ones_never() {
    // A sampled span that outlives a poll parks its state in a box, so the future stays small.
    let (allocations, exported) = measure_traced(true, |_| {
        black_box(block_on(traced_async_that_suspends()));
    });
    assert_eq!(exported, WARM_UP + SPANS + 1);
    assert_eq!(allocations, SPANS, "one box per suspended sampled span");
    let (allocations, exported) = measure_traced(false, |_| {
        black_box(block_on(traced_async_that_suspends()));
    });
    assert_eq!(exported, 0);
    assert_eq!(allocations, 0, "unsampled futures carry only their ids");
}
