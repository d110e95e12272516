//! The criterion suite: every stack in every scenario, registered in an order that keeps the
//! no-subscriber measurements honest.
//!
//! `tracing` caches callsite interest globally and only recomputes it when a dispatcher is
//! created, so once any subscriber has existed, "no subscriber" calls take a slower path for the
//! rest of the process. The no-subscriber stacks therefore run first, before any dispatcher exists.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Calls measured under one fastrace root. fastrace keeps at most 10 240 spans under a local
/// parent (`DEFAULT_SPAN_QUEUE_SIZE` in fastrace 0.7) and silently drops every span after that,
/// so a single root around a whole measurement (millions of calls) would time spans that are
/// never recorded. A thousand calls (three thousand spans in d3) stay well inside the bound; the
/// root's creation and submission are timed too, as a fastrace user pays them.
const CALLS_PER_FASTRACE_ROOT: u64 = 1000;

/// Spans fastrace may hold before the measurement pauses for its collector. fastrace has no
/// bound of its own: at criterion's pace its collector falls behind by gigabytes (12.5 GiB
/// peak RSS with a no-op reporter, and the OOM killer with the Zipkin one, on a 24 GiB VM).
/// The pauses are not timed, which favours fastrace: its collector then competes less with
/// the measured thread than the other stacks' reporters do.
const FASTRACE_MAX_BACKLOG: u64 = 200_000;

/// Spans this process has made fastrace record (roots and calls).
static FASTRACE_GENERATED: AtomicU64 = AtomicU64::new(0);

/// How a measurement is split into timed runs under `parent`.
struct Runs {
    /// Calls per timed run.
    calls_per_run: u64,
    /// Whether fastrace records the runs (its backlog is then bounded between runs).
    fastrace_sampled: bool,
}

impl Runs {
    fn for_parent(parent: &Parent) -> Runs {
        match parent {
            Parent::Fastrace { sampled } => Runs {
                calls_per_run: CALLS_PER_FASTRACE_ROOT,
                fastrace_sampled: *sampled,
            },
            _ => Runs {
                calls_per_run: u64::MAX,
                fastrace_sampled: false,
            },
        }
    }

    /// Times `run(calls)` over `iters` calls in all, each run making `spans_per_call` spans.
    fn time(&self, iters: u64, spans_per_call: u64, mut run: impl FnMut(u64)) -> Duration {
        let mut measured = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let calls = left.min(self.calls_per_run);
            let start = Instant::now();
            run(calls);
            measured += start.elapsed();
            left -= calls;
            if self.fastrace_sampled {
                let spans = calls * spans_per_call + 1;
                FASTRACE_GENERATED.fetch_add(spans, Ordering::Relaxed);
                wait_for_fastrace_collector();
            }
        }
        measured
    }
}

/// Waits (up to ten seconds) while fastrace's collector is more than `FASTRACE_MAX_BACKLOG`
/// spans behind, until it is a quarter of that.
fn wait_for_fastrace_collector() {
    let backlog = || {
        FASTRACE_GENERATED
            .load(Ordering::Relaxed)
            .saturating_sub(stacks::fastrace_reported())
    };
    if backlog() <= FASTRACE_MAX_BACKLOG {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while backlog() > FASTRACE_MAX_BACKLOG / 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `call` `iters` times under `parent` and returns the time taken.
fn time_under(
    parent: &Parent,
    iters: u64,
    spans_per_call: u64,
    mut call: impl FnMut(),
) -> Duration {
    Runs::for_parent(parent).time(iters, spans_per_call, |calls| {
        parent.run(|| {
            for _ in 0..calls {
                call();
            }
        })
    })
}

/// Awaits `call()` `iters` times on `rt` under `parent` and returns the time taken.
fn time_async_under<F: std::future::Future>(
    parent: &Parent,
    rt: &tokio::runtime::Runtime,
    iters: u64,
    mut call: impl FnMut() -> F,
) -> Duration {
    Runs::for_parent(parent).time(iters, 1, |calls| {
        parent.run(|| {
            rt.block_on(async {
                for _ in 0..calls {
                    black_box(call().await);
                }
            })
        })
    })
}

/// Registers the four scenarios of one stack; `$fns` holds d1/d3/d1_async, `$f2` holds f2.
macro_rules! bench_stack {
    ($c:expr, $rt:expr, $keep:expr, $id:expr, $parent:expr, $fns:ident, $f2:ident) => {{
        let (parent, rt, id): (&Parent, &tokio::runtime::Runtime, &str) = ($parent, $rt, $id);
        if $keep(id) {
            let mut group = $c.benchmark_group("d1");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    time_under(parent, iters, 1, || {
                        black_box(stacks::$fns::d1());
                    })
                })
            });
            group.finish();
            let mut group = $c.benchmark_group("d3");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    time_under(parent, iters, 3, || {
                        black_box(stacks::$fns::d3());
                    })
                })
            });
            group.finish();
            let mut group = $c.benchmark_group("f2");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    time_under(parent, iters, 1, || {
                        black_box(stacks::$f2::f2(black_box(3), black_box(5)));
                    })
                })
            });
            group.finish();
            let mut group = $c.benchmark_group("async");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| time_async_under(parent, rt, iters, stacks::$fns::d1_async))
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

    // Answers without reading the spans: only their cost on the calling thread is measured here.
    let sink = Sink::start_discarding().expect("a loopback port for the sink");

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
