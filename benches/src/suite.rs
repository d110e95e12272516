//! The criterion suite: every stack in every scenario, registered in an order that keeps the
//! no-subscriber measurements honest.
//!
//! `tracing` caches callsite interest globally and only recomputes it when a dispatcher is
//! created, so once any subscriber has existed, "no subscriber" calls take a slower path for the
//! rest of the process. The no-subscriber stacks therefore run first, before any dispatcher exists.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;

use crate::sink::Sink;
use crate::stacks::{self, Parent};

/// The scenarios, as criterion group names, in table order.
pub const SCENARIOS: [&str; 4] = ["d1", "d3", "f2", "async"];

/// One measured stack: its criterion id and what the table calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    /// The criterion function id (a directory name under the output directory).
    pub id: &'static str,
    /// The row label.
    pub label: &'static str,
}

/// Every stack, in table order.
pub const STACKS: &[Stack] = &[
    Stack {
        id: "bare",
        label: "bare function",
    },
    Stack {
        id: "instrument_nosub",
        label: "tracing::instrument, no subscriber",
    },
    Stack {
        id: "registry",
        label: "tracing::instrument, Registry only",
    },
    Stack {
        id: "otel_zipkin",
        label: "tracing + tracing-opentelemetry + batch + Zipkin HTTP",
    },
    Stack {
        id: "otel_api_zipkin",
        label: "OpenTelemetry API + SDK batch + Zipkin HTTP (no tracing)",
    },
    Stack {
        id: "fastrace_noop",
        label: "fastrace, no-op reporter",
    },
    Stack {
        id: "fastrace_zipkin",
        label: "fastrace + Zipkin HTTP reporter",
    },
    Stack {
        id: "fastrace_unsampled",
        label: "fastrace, unsampled",
    },
    Stack {
        id: "traced_nosub",
        label: "traced, no subscriber",
    },
    Stack {
        id: "traced_unsampled",
        label: "traced, unsampled (TracedLayer, AlwaysOff)",
    },
    Stack {
        id: "traced_noop",
        label: "traced, sampled, counting no-op exporter",
    },
    Stack {
        id: "traced_http",
        label: "traced, sampled, Zipkin reporter over HTTP",
    },
];

/// Runs `call` `iters` times and returns the time taken.
fn time(iters: u64, mut call: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        call();
    }
    start.elapsed()
}

/// Registers the four scenarios of one stack; `$fns` holds d1/d3/d1_async, `$f2` holds f2.
macro_rules! bench_stack {
    ($c:expr, $rt:expr, $keep:expr, $id:expr, $parent:expr, $fns:ident, $f2:ident) => {{
        let (parent, rt, id): (&Parent, &tokio::runtime::Runtime, &str) = ($parent, $rt, $id);
        if $keep(id) {
            let mut group = $c.benchmark_group("d1");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    parent.run(|| {
                        time(iters, || {
                            black_box(stacks::$fns::d1());
                        })
                    })
                })
            });
            group.finish();
            let mut group = $c.benchmark_group("d3");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    parent.run(|| {
                        time(iters, || {
                            black_box(stacks::$fns::d3());
                        })
                    })
                })
            });
            group.finish();
            let mut group = $c.benchmark_group("f2");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    parent.run(|| {
                        time(iters, || {
                            black_box(stacks::$f2::f2(black_box(3), black_box(5)));
                        })
                    })
                })
            });
            group.finish();
            let mut group = $c.benchmark_group("async");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    parent.run(|| {
                        rt.block_on(async {
                            let start = Instant::now();
                            for _ in 0..iters {
                                black_box(stacks::$fns::d1_async().await);
                            }
                            start.elapsed()
                        })
                    })
                })
            });
            group.finish();
        }
    }};
}

/// Registers and runs every stack whose id `keep` accepts.
pub fn run(c: &mut Criterion, keep: &dyn Fn(&str) -> bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread tokio runtime");
    let rt = &rt;

    // No subscriber exists yet: see the module docs.
    bench_stack!(c, rt, keep, "bare", &Parent::Nothing, bare, bare);
    bench_stack!(
        c,
        rt,
        keep,
        "instrument_nosub",
        &Parent::Nothing,
        instrument,
        instrument
    );
    bench_stack!(
        c,
        rt,
        keep,
        "traced_nosub",
        &Parent::Nothing,
        traced_fns,
        traced_fns
    );

    let sink = Sink::start().expect("a loopback port for the sink");

    let registry = Parent::Tracing(stacks::registry_only());
    bench_stack!(c, rt, keep, "registry", &registry, instrument, instrument);

    if keep("otel_zipkin") {
        let otel = stacks::OtelStack::new(&sink.url());
        let parent = Parent::Tracing(otel.dispatch.clone());
        bench_stack!(c, rt, keep, "otel_zipkin", &parent, instrument, instrument);
        otel.shutdown();
    }
    if keep("otel_api_zipkin") {
        let otel = stacks::OtelStack::new(&sink.url());
        otel.install_api_tracer();
        bench_stack!(
            c,
            rt,
            keep,
            "otel_api_zipkin",
            &Parent::OtelApi,
            otel_api,
            otel_api
        );
        otel.shutdown();
    }

    stacks::fastrace_report_to(None);
    let sampled = Parent::Fastrace { sampled: true };
    bench_stack!(
        c,
        rt,
        keep,
        "fastrace_noop",
        &sampled,
        fastrace_fns,
        fastrace_f2
    );
    stacks::fastrace_report_to(Some(sink.url()));
    bench_stack!(
        c,
        rt,
        keep,
        "fastrace_zipkin",
        &sampled,
        fastrace_fns,
        fastrace_f2
    );
    stacks::fastrace_report_to(None);
    let unsampled = Parent::Fastrace { sampled: false };
    bench_stack!(
        c,
        rt,
        keep,
        "fastrace_unsampled",
        &unsampled,
        fastrace_fns,
        fastrace_f2
    );

    let (dispatch, _) = stacks::traced_counting(false);
    bench_stack!(
        c,
        rt,
        keep,
        "traced_unsampled",
        &Parent::Traced(dispatch),
        traced_fns,
        traced_fns
    );
    let (dispatch, _) = stacks::traced_counting(true);
    bench_stack!(
        c,
        rt,
        keep,
        "traced_noop",
        &Parent::Traced(dispatch),
        traced_fns,
        traced_fns
    );
    if keep("traced_http") {
        let traced = stacks::TracedHttp::new(&sink.url());
        bench_stack!(
            c,
            rt,
            keep,
            "traced_http",
            &Parent::Traced(traced.dispatch.clone()),
            traced_fns,
            traced_fns
        );
        traced.reporter.shutdown(Duration::from_secs(10));
    }
}
