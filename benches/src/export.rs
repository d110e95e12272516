//! The export-throughput mode: one thread generating spans (flat out, or paced at a rate) for a
//! fixed time against a sink, then a flush; the process that generates is measured alone.
//!
//! The report binary starts the [`crate::sink::Sink`] itself and runs each generator in a child
//! process, so the child's peak RSS is the instrumented program's and nothing else's.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::stacks;

/// Spans per batch: one parent and its children; pacing and the clock are checked per batch.
pub const BATCH: u64 = 100;

/// The stacks the export mode can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportStack {
    /// traced: Registry + TracedLayer + traced's Zipkin reporter, default configuration.
    Traced,
    /// tracing + tracing-opentelemetry + SDK batch processor + opentelemetry-zipkin.
    Otel,
    /// fastrace + our Zipkin JSON reporter (fastrace has no queue bound and no drop count).
    Fastrace,
    /// traced as [`ExportStack::Traced`], its reporter publishing to a Kafka topic instead.
    TracedKafka,
}

impl ExportStack {
    /// Every stack, in table order.
    pub const ALL: [ExportStack; 4] = [
        ExportStack::Traced,
        ExportStack::Otel,
        ExportStack::Fastrace,
        ExportStack::TracedKafka,
    ];

    /// The name used on the command line and as a criterion id.
    pub fn id(self) -> &'static str {
        match self {
            ExportStack::Traced => "traced_http",
            ExportStack::Otel => "otel_zipkin",
            ExportStack::Fastrace => "fastrace_zipkin",
            ExportStack::TracedKafka => "traced_kafka",
        }
    }

    /// Parses [`ExportStack::id`].
    pub fn parse(id: &str) -> Option<ExportStack> {
        ExportStack::ALL.into_iter().find(|stack| stack.id() == id)
    }
}

/// What a generator process measured about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GeneratorOutcome {
    /// Spans created and closed.
    pub generated: u64,
    /// Seconds spent generating.
    pub generate_secs: f64,
    /// Seconds the final flush took.
    pub flush_secs: f64,
    /// Spans the pipeline says it dropped, when it counts them.
    pub dropped: Option<u64>,
    /// Spans the pipeline says the collector accepted, when it counts them.
    pub sent: Option<u64>,
    /// Peak resident set size of the process, KiB (`VmHWM`).
    pub peak_rss_kib: u64,
    /// Seconds after which generation stopped because RSS passed [`RSS_CAP_KIB`].
    pub rss_capped_at: Option<f64>,
}

impl GeneratorOutcome {
    /// One line of JSON, what the child prints for its parent.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "generated": self.generated,
            "generate_secs": self.generate_secs,
            "flush_secs": self.flush_secs,
            "dropped": self.dropped,
            "sent": self.sent,
            "peak_rss_kib": self.peak_rss_kib,
            "rss_capped_at": self.rss_capped_at,
        })
        .to_string()
    }

    /// Parses [`GeneratorOutcome::to_json`].
    pub fn from_json(line: &str) -> Option<GeneratorOutcome> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(GeneratorOutcome {
            generated: value["generated"].as_u64()?,
            generate_secs: value["generate_secs"].as_f64()?,
            flush_secs: value["flush_secs"].as_f64()?,
            dropped: value["dropped"].as_u64(),
            sent: value["sent"].as_u64(),
            peak_rss_kib: value["peak_rss_kib"].as_u64()?,
            rss_capped_at: value["rss_capped_at"].as_f64(),
        })
    }
}

/// Peak resident set size of this process in KiB, from `/proc/self/status`.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The resident set size at which a generator stops early. A pipeline without back-pressure
/// (fastrace) grows by gigabytes in seconds; the machine running the benchmark is shared.
pub const RSS_CAP_KIB: u64 = 2 << 20;

/// Batches between two reads of the resident set size (one read costs tens of microseconds).
const RSS_CHECK_EVERY: u64 = 256;

/// Current resident set size of this process in KiB, from `/proc/self/status`.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Keeps a generator at `rate` spans per second (`None`: flat out) and stops it after `run`,
/// or early once the process's RSS passes [`RSS_CAP_KIB`].
pub struct Pacer {
    start: Instant,
    run: Duration,
    rate: Option<u64>,
    batches: std::cell::Cell<u64>,
    capped_at: std::cell::Cell<Option<f64>>,
}

impl Pacer {
    /// Starts the clock.
    pub fn new(run: Duration, rate: Option<u64>) -> Pacer {
        Pacer {
            start: Instant::now(),
            run,
            rate,
            batches: std::cell::Cell::new(0),
            capped_at: std::cell::Cell::new(None),
        }
    }

    /// Seconds after which the RSS cap stopped the generator, if it did.
    pub fn capped_at(&self) -> Option<f64> {
        self.capped_at.get()
    }

    /// Called after `generated` spans: sleeps if ahead of the rate; false once time is up.
    pub fn keep_going(&self, generated: u64) -> bool {
        let elapsed = self.start.elapsed();
        if elapsed >= self.run {
            return false;
        }
        let batches = self.batches.get() + 1;
        self.batches.set(batches);
        if batches % RSS_CHECK_EVERY == 0 && rss_kib() > RSS_CAP_KIB {
            self.capped_at.set(Some(elapsed.as_secs_f64()));
            return false;
        }
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(generated as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(elapsed) {
                std::thread::sleep(ahead);
            }
        }
        true
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Generates `tracing` spans in batches of one parent and `BATCH - 1` children (made by `child`)
/// under `dispatch`.
pub fn generate_tracing(dispatch: &tracing::Dispatch, pacer: &Pacer, child: fn() -> u64) -> u64 {
    generate_tracing_in(dispatch, pacer, child, BATCH)
}

/// [`generate_tracing`] with `batch` spans per parent (the parent included).
pub fn generate_tracing_in(
    dispatch: &tracing::Dispatch,
    pacer: &Pacer,
    child: fn() -> u64,
    batch: u64,
) -> u64 {
    tracing::dispatcher::with_default(dispatch, || {
        let mut generated = 0;
        while pacer.keep_going(generated) {
            let parent = tracing::info_span!("parent");
            let entered = parent.enter();
            for _ in 1..batch {
                black_box(child());
            }
            drop(entered);
            drop(parent);
            generated += batch;
        }
        generated
    })
}

/// Generates fastrace spans in batches of one root and `BATCH - 1` children.
pub fn generate_fastrace(pacer: &Pacer) -> u64 {
    generate_fastrace_in(pacer, BATCH)
}

/// [`generate_fastrace`] with `batch` spans per root (the root included).
pub fn generate_fastrace_in(pacer: &Pacer, batch: u64) -> u64 {
    let mut generated = 0;
    while pacer.keep_going(generated) {
        let root = fastrace::Span::root("parent", fastrace::collector::SpanContext::random());
        let local = root.set_local_parent();
        for _ in 1..batch {
            black_box(stacks::fastrace_fns::d1());
        }
        drop(local);
        drop(root);
        generated += batch;
    }
    generated
}

/// Runs one generator against `endpoint` for `run`, flushes, and measures the process.
pub fn run_generator(
    stack: ExportStack,
    endpoint: &str,
    run: Duration,
    rate: Option<u64>,
) -> GeneratorOutcome {
    match stack {
        // The same reporter either way: the endpoint's scheme picks HTTP or Kafka.
        ExportStack::Traced | ExportStack::TracedKafka => {
            let traced = stacks::TracedHttp::new(endpoint);
            let pacer = Pacer::new(run, rate);
            let generated = generate_tracing(&traced.dispatch, &pacer, stacks::traced_fns::d1);
            let generate_secs = pacer.elapsed_secs();
            let flush_start = Instant::now();
            traced.reporter.shutdown(Duration::from_secs(30));
            let stats = traced.reporter.stats();
            GeneratorOutcome {
                generated,
                generate_secs,
                flush_secs: flush_start.elapsed().as_secs_f64(),
                dropped: Some(stats.dropped),
                sent: Some(stats.sent),
                peak_rss_kib: peak_rss_kib(),
                rss_capped_at: pacer.capped_at(),
            }
        }
        ExportStack::Otel => {
            let otel = stacks::OtelStack::new(endpoint);
            let pacer = Pacer::new(run, rate);
            let generated = generate_tracing(&otel.dispatch, &pacer, stacks::instrument::d1);
            let generate_secs = pacer.elapsed_secs();
            let flush_start = Instant::now();
            otel.shutdown();
            GeneratorOutcome {
                generated,
                generate_secs,
                flush_secs: flush_start.elapsed().as_secs_f64(),
                // The batch processor drops silently (it logs through its own diagnostics only).
                dropped: None,
                sent: None,
                peak_rss_kib: peak_rss_kib(),
                rss_capped_at: pacer.capped_at(),
            }
        }
        ExportStack::Fastrace => {
            stacks::fastrace_report_to(Some(endpoint.to_owned()));
            let pacer = Pacer::new(run, rate);
            let generated = generate_fastrace(&pacer);
            let generate_secs = pacer.elapsed_secs();
            let flush_start = Instant::now();
            fastrace::flush();
            GeneratorOutcome {
                generated,
                generate_secs,
                flush_secs: flush_start.elapsed().as_secs_f64(),
                dropped: None,
                sent: None,
                peak_rss_kib: peak_rss_kib(),
                rss_capped_at: pacer.capped_at(),
            }
        }
    }
}
