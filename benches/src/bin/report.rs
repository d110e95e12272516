//! Runs the whole comparison and prints one table; writes `benches/RESULTS.md`.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/targets/bench cargo run -p traced-benches --release --bin report
//! ```
//!
//! Sub-commands: `bench [filter]` (criterion suite only), `export` (throughput only), `threads`
//! (the thread-scaling table only), `service` (the real-service table only), `alloc`
//! (allocations per span only), `instructions` (callgrind counts only); none of these rewrite
//! RESULTS.md. `profile <stack> <iters> [d1|f2|async]` runs one stack's loop alone, for
//! `valgrind --tool=callgrind` or `perf`. `sink [secs]` serves a counting sink and prints its
//! URL, for running `export-child <stack> <flat|rate> <secs> <url>` by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;

use traced_benches::encode;
use traced_benches::export::{ExportStack, GeneratorOutcome};
use traced_benches::sink::Sink;
use traced_benches::stacks::{self, Parent};
use traced_benches::suite::{self, SCENARIOS, STACKS};
use traced_benches::{request_path, service, threads};
use traced_tests::alloc::{allocations_in, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const EXPORT_SECS: u64 = 5;
const PACED_RATE: u64 = 500_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("all");
    match command {
        "all" => {
            // Criterion first: the no-subscriber cases must run before any dispatcher exists.
            let (ns, fastest) = run_criterion(&|_| true);
            let results = Results {
                ns,
                fastest,
                alloc: measure_allocations(),
                growth: measure_growth(),
                export: run_exports(),
                instructions: count_instructions(),
                encoders: measure_encoders(),
                threads: measured(|| threads::measure(threads::CELL)),
                service: measured(|| service::measure(service::RUN)),
                request_path: request_path::measure(),
            };
            let markdown = render(&results);
            println!("\n{markdown}");
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
            match std::fs::write(&path, markdown) {
                Ok(()) => println!("wrote {}", path.display()),
                Err(error) => eprintln!("could not write {}: {error}", path.display()),
            }
        }
        "bench" => {
            let keep = args.get(1).cloned();
            let (ns, fastest) =
                run_criterion(&|id| keep.as_deref().is_none_or(|keep| id.contains(keep)));
            let results = Results {
                ns,
                fastest,
                ..Results::default()
            };
            println!("\n{}", render(&results));
        }
        "export" => {
            let results = Results {
                export: run_exports(),
                ..Results::default()
            };
            println!("\n{}", render(&results));
        }
        "growth" => {
            let results = Results {
                growth: measure_growth(),
                ..Results::default()
            };
            println!("\n{}", render(&results));
        }
        "threads" => {
            // `threads [secs]`: shorter cells for a quick look; the report uses threads::CELL.
            let cell = args
                .get(1)
                .and_then(|secs| secs.parse().ok())
                .map_or(threads::CELL, Duration::from_secs_f64);
            let results = Results {
                threads: measured(|| threads::measure(cell)),
                ..Results::default()
            };
            println!("\n{}", render(&results));
        }
        "threads-child" => threads::child_main(&args[1..]),
        "service" => {
            // `service [secs]`: shorter cells for a quick look; the report uses service::RUN.
            let run = args
                .get(1)
                .and_then(|secs| secs.parse().ok())
                .map_or(service::RUN, Duration::from_secs_f64);
            let results = Results {
                service: measured(|| service::measure(run)),
                request_path: request_path::measure(),
                ..Results::default()
            };
            println!("\n{}", render(&results));
        }
        "service-child" => service::child_main(&args[1..]),
        "request-profile" => {
            // `request-profile <off|traced|otel|fastrace> [trivial|available] [requests]`: one
            // service's requests alone, for callgrind (see src/request_path.rs).
            let tracing = args.get(1).and_then(|id| service::Tracing::parse(id));
            let handler = args.get(2).map_or(Some(service::Handler::Trivial), |id| {
                service::Handler::parse(id)
            });
            let (Some(tracing), Some(handler)) = (tracing, handler) else {
                eprintln!(
                    "usage: request-profile <off|traced|otel|fastrace> [trivial|available] [requests]"
                );
                std::process::exit(2);
            };
            let requests = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(10_000);
            traced_benches::request_path::profile(tracing, handler, requests);
        }
        "encode" => {
            let results = Results {
                encoders: measure_encoders(),
                ..Results::default()
            };
            println!("\n{}", render(&results));
        }
        "encode-profile" => {
            // One encoder's batches alone, for callgrind (`--toggle-collect=*encode_loop*`).
            let encoder = args.get(1).map_or("otlp_protobuf", String::as_str);
            let batches = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
            let spans = encode::sample_batch();
            let resource = encode::sample_resource();
            let local = traced::model::Endpoint::service("catalog");
            let mut out = Vec::new();
            encode::encode(encoder, &spans, &resource, &local, &mut out);
            encode::encode_loop(encoder, batches, &spans, &resource, &local, &mut out);
        }
        "instructions" => {
            for row in count_instructions() {
                println!("{}: {:.0} instructions per call", row.label, row.per_span);
            }
        }
        "alloc" => {
            for row in measure_allocations() {
                println!(
                    "{}: {:.2} allocations, {:.1} bytes per span",
                    row.label, row.allocations, row.bytes
                );
            }
        }
        "export-child" => export_child(&args[1..]),
        "sink" => {
            // A sink to point a generator at by hand (e.g. `export-child` under callgrind).
            let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
            let sink = Sink::start().expect("a loopback port for the sink");
            println!("{}", sink.url());
            for _ in 0..secs {
                std::thread::sleep(Duration::from_secs(1));
                println!("{:?}", sink.counts());
            }
        }
        "profile" => profile(&args[1..]),
        other => {
            eprintln!(
                "unknown command {other:?}; use all, bench, export, threads, service, growth, alloc or profile"
            );
            std::process::exit(2);
        }
    }
}

#[derive(Default)]
struct Results {
    /// Median ns per call, by (scenario, stack id).
    ns: BTreeMap<(String, String), f64>,
    /// The fastest sample's ns per call: the least disturbed by other work on the machine.
    fastest: BTreeMap<(String, String), f64>,
    export: Vec<ExportRow>,
    alloc: Vec<AllocRow>,
    growth: Vec<traced_benches::growth::Cell>,
    instructions: Vec<InstructionRow>,
    encoders: Vec<EncoderRow>,
    /// The thread-scaling table, and the steal time (%) while it ran.
    threads: (Vec<threads::Row>, Option<f64>),
    /// The real-service table, and the steal time (%) while it ran.
    service: (Vec<service::Row>, Option<f64>),
    /// Instructions per request on the service's side (`src/request_path.rs`).
    request_path: Vec<request_path::Row>,
}

/// Runs one table's measurement and says how much CPU the hypervisor stole meanwhile.
fn measured<T>(measure: impl FnOnce() -> Vec<T>) -> (Vec<T>, Option<f64>) {
    let before = traced_benches::steal::now();
    let rows = measure();
    (
        rows,
        traced_benches::steal::percent(before, traced_benches::steal::now()),
    )
}

/// The line beside a table that says what the machine was doing while it ran.
fn machine_during(steal: Option<f64>) -> String {
    format!(
        "{} Steal time while this table ran: {}.",
        machine(),
        steal.map_or("unknown".to_owned(), |steal| format!("{steal:.1}%"))
    )
}

impl Results {
    fn ns(&self, scenario: &str, stack: &str) -> Option<f64> {
        self.ns
            .get(&(scenario.to_owned(), stack.to_owned()))
            .copied()
    }

    fn fastest(&self, scenario: &str, stack: &str) -> Option<f64> {
        self.fastest
            .get(&(scenario.to_owned(), stack.to_owned()))
            .copied()
    }

    fn export(&self, stack: &str, rate: Option<u64>) -> Option<&ExportRow> {
        self.export
            .iter()
            .find(|row| row.stack == stack && row.rate == rate)
    }
}

fn criterion_dir() -> PathBuf {
    std::env::temp_dir().join(format!("traced-benches-criterion-{}", std::process::id()))
}

type Timings = BTreeMap<(String, String), f64>;

/// Runs the suite; returns the median and the fastest sample's ns per call of each benchmark.
fn run_criterion(keep: &dyn Fn(&str) -> bool) -> (Timings, Timings) {
    let dir = criterion_dir();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .nresamples(20_000)
        .output_directory(&dir);
    suite::run(&mut criterion, keep);
    let read = |path: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let mut medians = BTreeMap::new();
    let mut fastest = BTreeMap::new();
    for scenario in SCENARIOS {
        for stack in STACKS {
            let key = (scenario.to_owned(), stack.id.to_owned());
            let new = dir.join(scenario).join(stack.id).join("new");
            if let Some(ns) = read(new.join("estimates.json"))
                .and_then(|json| json["median"]["point_estimate"].as_f64())
            {
                medians.insert(key.clone(), ns);
            }
            if let Some(sample) = read(new.join("sample.json")) {
                let (iters, times) = (&sample["iters"], &sample["times"]);
                let per_call = iters
                    .as_array()
                    .into_iter()
                    .flatten()
                    .zip(times.as_array().into_iter().flatten())
                    .filter_map(|(n, t)| Some(t.as_f64()? / n.as_f64()?))
                    .fold(f64::INFINITY, f64::min);
                if per_call.is_finite() {
                    fastest.insert(key, per_call);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    (medians, fastest)
}

struct ExportRow {
    stack: &'static str,
    rate: Option<u64>,
    outcome: GeneratorOutcome,
    delivered: u64,
    bad_requests: u64,
    wire_bytes: u64,
}

impl ExportRow {
    /// Spans delivered per second, over generation plus the final flush.
    fn delivered_per_sec(&self) -> f64 {
        self.delivered as f64 / (self.outcome.generate_secs + self.outcome.flush_secs)
    }

    /// Dropped spans: counted by the pipeline, or the ones that silently never arrived.
    fn lost(&self) -> u64 {
        self.outcome.generated.saturating_sub(self.delivered)
    }

    fn accounted(&self) -> bool {
        self.outcome
            .dropped
            .is_some_and(|dropped| dropped + self.delivered == self.outcome.generated)
    }
}

fn run_exports() -> Vec<ExportRow> {
    let mut rows = Vec::new();
    // One broker for the Kafka rows, started only if they run (the test support's KafkaServer:
    // the official jars from Maven Central, KRaft, loopback).
    let mut kafka: Option<traced_tests::KafkaServer> = None;
    for stack in ExportStack::ALL {
        for rate in [None, Some(PACED_RATE)] {
            let topic = (stack == ExportStack::TracedKafka).then(|| {
                let broker = kafka.get_or_insert_with(|| {
                    eprintln!("export: starting a Kafka broker ...");
                    traced_tests::KafkaServer::start(traced_tests::KafkaOptions::default())
                });
                format!("kafka://{}/zipkin", broker.bootstrap())
            });
            match run_export(stack, rate, topic) {
                Ok(row) => rows.push(row),
                Err(error) => eprintln!("export {} failed: {error}", stack.id()),
            }
        }
        // Issue 19: paced at half of the flat-out rate just measured, no span may be dropped.
        if stack.id() == TRACED_SAMPLED {
            let half = rows
                .iter()
                .find(|row| row.stack == TRACED_SAMPLED && row.rate.is_none())
                .map(|row| (row.delivered_per_sec() / 2.0 / 1000.0).round() as u64 * 1000)
                .filter(|&half| half > 0 && half != PACED_RATE);
            if let Some(half) = half {
                match run_export(stack, Some(half), None) {
                    Ok(row) => rows.push(row),
                    Err(error) => eprintln!("export {} at {half}/s failed: {error}", stack.id()),
                }
            }
        }
    }
    rows
}

/// Runs one generator child against a fresh counting sink, or against `kafka_topic` (a
/// `kafka://` endpoint) where the broker's acknowledgements are what counts as delivered.
fn run_export(
    stack: ExportStack,
    rate: Option<u64>,
    kafka_topic: Option<String>,
) -> Result<ExportRow, String> {
    let sink = Sink::start().map_err(|e| e.to_string())?;
    let endpoint = kafka_topic.clone().unwrap_or_else(|| sink.url());
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let rate_arg = rate.map_or("flat".to_owned(), |rate| rate.to_string());
    eprintln!(
        "export: {} {} for {EXPORT_SECS} s ...",
        stack.id(),
        rate_arg
    );
    let mut command = Command::new(exe);
    command.args([
        "export-child",
        stack.id(),
        &rate_arg,
        &EXPORT_SECS.to_string(),
        &endpoint,
    ]);
    let outcome = traced_benches::child::outcome(&mut command, GeneratorOutcome::from_json)?;
    if kafka_topic.is_some() {
        // Delivered = what the broker acknowledged (the reporter's `sent`).
        return Ok(ExportRow {
            stack: stack.id(),
            rate,
            delivered: outcome.sent.unwrap_or(0),
            outcome,
            bad_requests: 0,
            wire_bytes: 0,
        });
    }
    // The child has exited; a request still being read is all that can arrive now.
    let counts = sink.settle(Duration::from_millis(300), Duration::from_secs(5));
    Ok(ExportRow {
        stack: stack.id(),
        rate,
        outcome,
        delivered: counts.spans,
        bad_requests: counts.bad_requests,
        wire_bytes: counts.wire_bytes,
    })
}

fn export_child(args: &[String]) {
    let [stack, rate, secs, url] = args else {
        eprintln!("usage: export-child <stack> <flat|rate> <secs> <url>");
        std::process::exit(2);
    };
    let Some(stack) = ExportStack::parse(stack) else {
        eprintln!("unknown stack {stack}");
        std::process::exit(2);
    };
    let rate = rate.parse().ok();
    let secs = secs.parse().unwrap_or(EXPORT_SECS);
    let outcome =
        traced_benches::export::run_generator(stack, url, Duration::from_secs(secs), rate);
    println!("{}", outcome.to_json());
}

/// The cost-as-work-grows table (`src/growth.rs`), on a traced stack of its own.
fn measure_growth() -> Vec<traced_benches::growth::Cell> {
    eprintln!("growth: spans per trace × tags per span ...");
    let (dispatch, _exporter) = traced_benches::stacks::traced_counting(true);
    traced_benches::growth::measure(&dispatch)
}

struct AllocRow {
    label: &'static str,
    allocations: f64,
    bytes: f64,
}

/// Allocations per sampled span through Registry + TracedLayer + the counting exporter, on this
/// thread only, after a warm-up that fills the registry's slab and any lazy statics.
fn measure_allocations() -> Vec<AllocRow> {
    const SPANS: u64 = 10_000;
    let (dispatch, _) = stacks::traced_counting(true);
    let parent = Parent::Traced(dispatch);
    let mut rows = Vec::new();
    let cases: [(&'static str, fn()); 2] = [
        ("traced sampled d1 (no fields)", || {
            black_box(stacks::traced_fns::d1());
        }),
        ("traced sampled f2 (two u64 fields)", || {
            black_box(stacks::traced_fns::f2(black_box(3), black_box(5)));
        }),
    ];
    for (label, call) in cases {
        let (allocations, bytes) = parent.run(|| {
            for _ in 0..1_000 {
                call();
            }
            let counted = allocations_in(|| {
                for _ in 0..SPANS {
                    call();
                }
            });
            (counted.count, counted.bytes)
        });
        rows.push(AllocRow {
            label,
            allocations: allocations as f64 / SPANS as f64,
            bytes: bytes as f64 / SPANS as f64,
        });
    }
    rows
}

/// The stacks `profile` can run, with what the table calls them.
const PROFILED: [(&str, &str); 8] = [
    ("bare", "bare function"),
    ("instrument_nosub", "tracing::instrument d1, no subscriber"),
    ("traced_nosub", "traced d1, no subscriber"),
    ("registry", "tracing::instrument d1, Registry only"),
    (
        "registry_empty_layer",
        "tracing::instrument d1, Registry + a layer that does nothing",
    ),
    ("traced_unsampled", "traced d1, unsampled"),
    ("traced_noop", "traced d1, sampled, counting no-op exporter"),
    (
        "fastrace",
        "fastrace d1, sampled, on the calling thread (its collector thread finishes the span later)",
    ),
];

/// The d1 loop of one stack alone, for callgrind or perf.
fn profile(args: &[String]) {
    let stack = args.first().map(String::as_str).unwrap_or("traced_noop");
    let iters: u64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    if stack == "fastrace" {
        // Roots of 1000 calls, as fastrace is used: past 10 240 spans under one root it stops
        // recording them, which would make its count too low.
        stacks::fastrace_report_to(None);
        let started = Instant::now();
        profile_loop_fastrace(iters);
        report_loop_time(started, iters);
        return;
    }
    // Kept alive for the loop: `traced_http` reports to it.
    let sink = (stack == "traced_http")
        .then(|| traced_benches::sink::Sink::start_discarding().expect("a loopback port"));
    let http = sink
        .as_ref()
        .map(|sink| stacks::TracedHttp::new(&sink.url()));
    let parent = match stack {
        "bare" | "instrument_nosub" | "traced_nosub" => Parent::Nothing,
        "traced_noop" => Parent::Traced(stacks::traced_counting(true).0),
        "traced_http" => Parent::Traced(http.as_ref().map(|http| http.dispatch.clone()).unwrap()),
        "traced_unsampled" => Parent::Traced(stacks::traced_counting(false).0),
        "registry" => Parent::Tracing(stacks::registry_only()),
        "registry_empty_layer" => Parent::Tracing(stacks::registry_empty_layer()),
        other => {
            let known: Vec<&str> = PROFILED.iter().map(|(id, _)| *id).collect();
            eprintln!("unknown stack {other}; use one of {known:?}");
            std::process::exit(2);
        }
    };
    if args.get(2).is_some_and(|scenario| scenario == "async") {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread tokio runtime");
        let started = Instant::now();
        parent.run(|| runtime.block_on(profile_async_loop(iters, stack)));
        report_loop_time(started, iters);
        return;
    }
    let f2 = args.get(2).is_some_and(|scenario| scenario == "f2");
    let call: fn() -> u64 = match (stack, f2) {
        ("bare", false) => stacks::bare::d1,
        ("bare", true) => || stacks::bare::f2(black_box(3), black_box(5)),
        ("registry" | "registry_empty_layer" | "instrument_nosub", false) => stacks::instrument::d1,
        ("registry" | "registry_empty_layer" | "instrument_nosub", true) => {
            || stacks::instrument::f2(black_box(3), black_box(5))
        }
        (_, false) => stacks::traced_fns::d1,
        (_, true) => || stacks::traced_fns::f2(black_box(3), black_box(5)),
    };
    let started = Instant::now();
    parent.run(|| profile_loop(iters, call));
    report_loop_time(started, iters);
}

/// The loop's time per call on stderr, for A/B runs outside criterion: the process's own
/// startup (clock calibration) is left out, unlike a timing of the whole command.
fn report_loop_time(started: Instant, iters: u64) {
    let per_call = started.elapsed().as_nanos() as f64 / iters.max(1) as f64;
    eprintln!("{per_call:.1} ns per call");
}

/// The measured loop, a function of its own so callgrind can count inside it alone
/// (`--toggle-collect=*profile_loop*`).
#[inline(never)]
fn profile_loop(iters: u64, call: fn() -> u64) {
    for _ in 0..iters {
        black_box(call());
    }
}

/// [`profile_loop`] for fastrace: `iters` d1 calls in roots of 1000.
#[inline(never)]
fn profile_loop_fastrace(iters: u64) {
    const PER_ROOT: u64 = 1000;
    let mut done = 0;
    while done < iters {
        let parent = Parent::Fastrace { sampled: true };
        let calls = PER_ROOT.min(iters - done);
        parent.run(|| {
            for _ in 0..calls {
                black_box(stacks::fastrace_fns::d1());
            }
        });
        done += calls;
    }
}

struct InstructionRow {
    label: &'static str,
    per_span: f64,
}

/// The `async` scenario's loop, for callgrind like [`profile_loop`].
#[inline(never)]
async fn profile_async_loop(iters: u64, stack: &str) {
    for _ in 0..iters {
        match stack {
            "bare" => black_box(stacks::bare::d1_async().await),
            "registry" | "registry_empty_layer" | "instrument_nosub" => {
                black_box(stacks::instrument::d1_async().await)
            }
            _ => black_box(stacks::traced_fns::d1_async().await),
        };
    }
}

/// One wire format's cost per span on the reporter's thread.
struct EncoderRow {
    id: &'static str,
    label: &'static str,
    ns: f64,
    instructions: Option<f64>,
    batch_bytes: usize,
}

/// Each encoder's time per span, and its instructions per span under callgrind when valgrind
/// is installed (`src/encode.rs`).
fn measure_encoders() -> Vec<EncoderRow> {
    const BATCHES: u64 = 40;
    let exe = std::env::current_exe().ok();
    encode::ENCODERS
        .iter()
        .map(|&(id, label)| {
            eprintln!("encoding: {id} ...");
            let instructions = exe.as_ref().and_then(|exe| {
                let output = Command::new("valgrind")
                    .args([
                        "--tool=callgrind",
                        "--callgrind-out-file=/dev/null",
                        "--toggle-collect=*encode_loop*",
                    ])
                    .arg(exe)
                    .args(["encode-profile", id, &BATCHES.to_string()])
                    .output()
                    .ok()?;
                let stderr = String::from_utf8_lossy(&output.stderr);
                let line = stderr.lines().find(|line| line.contains("Collected :"))?;
                let total: u64 = line.rsplit(':').next()?.trim().parse().ok()?;
                Some(total as f64 / (BATCHES * encode::BATCH as u64) as f64)
            });
            EncoderRow {
                id,
                label,
                ns: encode::measure_ns(id),
                instructions,
                batch_bytes: encode::batch_bytes(id),
            }
        })
        .collect()
}

/// Instructions per call under callgrind, counted inside the loop only. Unlike times, these
/// do not depend on what else the machine is doing.
fn count_instructions() -> Vec<InstructionRow> {
    const CALLS: u64 = 20_000;
    let Ok(exe) = std::env::current_exe() else {
        return Vec::new();
    };
    let collected = |stack: &str, scenario: &str, calls: u64| -> Option<u64> {
        let output = Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                "--toggle-collect=*profile_loop*",
            ])
            .arg(&exe)
            .args(["profile", stack, &calls.to_string(), scenario])
            .output()
            .ok()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().find(|line| line.contains("Collected :"))?;
        line.rsplit(':').next()?.trim().parse().ok()
    };
    let mut rows = Vec::new();
    // Every stack's d1, then f2 where recording arguments is the question.
    let runs = PROFILED
        .iter()
        .map(|&(stack, label)| (stack, "d1", label))
        .chain([
            ("registry", "f2", "tracing::instrument f2, Registry only"),
            (
                "traced_noop",
                "f2",
                "traced f2, sampled, counting no-op exporter",
            ),
        ]);
    for (stack, scenario, label) in runs {
        eprintln!("callgrind: {stack} {scenario} ...");
        let Some(total) = collected(stack, scenario, CALLS) else {
            eprintln!("callgrind unavailable; skipping instruction counts");
            return Vec::new();
        };
        rows.push(InstructionRow {
            label,
            per_span: total as f64 / CALLS as f64,
        });
    }
    rows
}

// ---- rendering -------------------------------------------------------------------------------

fn fmt_ns(ns: Option<f64>) -> String {
    match ns {
        Some(ns) if ns < 10.0 => format!("{ns:.2}"),
        Some(ns) if ns < 100.0 => format!("{ns:.1}"),
        Some(ns) => format!("{ns:.0}"),
        None => "–".to_owned(),
    }
}

fn cell(results: &Results, scenario: &str, stack: &str) -> String {
    match results.fastest(scenario, stack) {
        Some(fastest) => format!(
            "{} ({})",
            fmt_ns(results.ns(scenario, stack)),
            fmt_ns(Some(fastest))
        ),
        None => fmt_ns(results.ns(scenario, stack)),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_owned(),
    }
}

fn per_sec(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M/s", value / 1e6)
    } else {
        format!("{:.0}k/s", value / 1e3)
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn export_cell(row: Option<&ExportRow>, with_rss: bool) -> String {
    let Some(row) = row else {
        return "–".to_owned();
    };
    let lost = row.lost();
    let lost_pct = 100.0 * lost as f64 / row.outcome.generated.max(1) as f64;
    let drops = match row.outcome.dropped {
        Some(counted) => format!("{counted} dropped (counted)"),
        None => format!("{lost} lost ({lost_pct:.0}%, uncounted)"),
    };
    let mut cell = format!(
        "{} of {} generated delivered ({}), {drops}",
        row.delivered,
        row.outcome.generated,
        per_sec(row.delivered_per_sec())
    );
    if with_rss {
        let _ = write!(cell, ", RSS {}", mib(row.outcome.peak_rss_kib));
    }
    if let Some(secs) = row.outcome.rss_capped_at {
        let _ = write!(
            cell,
            ", generation stopped at {secs:.1} s when RSS passed the {} cap",
            mib(traced_benches::export::RSS_CAP_KIB)
        );
    }
    if let Some(sent) = row.outcome.sent.filter(|sent| *sent != row.delivered) {
        // The sink and the reporter disagree: one of them miscounts.
        let _ = write!(cell, ", but the reporter counted {sent} sent");
    }
    if row.bad_requests > 0 {
        let _ = write!(cell, ", {} bad requests", row.bad_requests);
    }
    cell
}

/// The stack whose numbers stand for "traced, sampled" in the targets.
const TRACED_SAMPLED: &str = "traced_http";

fn render(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# traced benchmark results\n");
    let _ = writeln!(
        out,
        "Produced by `CARGO_TARGET_DIR=/work/targets/bench cargo run -p traced-benches --release --bin report` \
         (do not edit by hand; rerun it).\n"
    );
    let _ = writeln!(out, "{}\n", machine());
    if !results.ns.is_empty() {
        let _ = writeln!(
            out,
            "ns per call as \"median (fastest sample)\" (criterion, warm-up 1 s, 2 s × 30 samples; the \
             fastest sample is the one least disturbed by other work on the machine). d1 = one \
             instrumented call under a sampled parent span; d3 = three nested; f2 = two `u64` \
             arguments recorded; async = d1 as an `async fn` awaited on a current-thread tokio \
             runtime. Ratios are d1 over the anchor's d1, medians.\n"
        );
        let _ = writeln!(
            out,
            "| stack | d1 | d3 | f2 | async | d1 ÷ tracing-otel | d1 ÷ Registry | d1 ÷ fastrace+Zipkin | flat-out export, 1 thread, {EXPORT_SECS} s | paced {}k/s |",
            PACED_RATE / 1000
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for stack in STACKS {
            let d1 = results.ns("d1", stack.id);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                stack.label,
                cell(results, "d1", stack.id),
                cell(results, "d3", stack.id),
                cell(results, "f2", stack.id),
                cell(results, "async", stack.id),
                ratio(d1, results.ns("d1", "otel_zipkin")),
                ratio(d1, results.ns("d1", "registry")),
                ratio(d1, results.ns("d1", "fastrace_zipkin")),
                export_cell(results.export(stack.id, None), true),
                export_cell(results.export(stack.id, Some(PACED_RATE)), false),
            );
        }
        let _ = writeln!(out);
        if results.export("traced_kafka", None).is_some() {
            let _ = writeln!(
                out,
                "Export over Kafka: the same traced stack, its reporter publishing JSON batches to a \
                 one-node KRaft broker on loopback (`kafka://`); delivered = acknowledged by the \
                 broker.\n\n| stack | flat-out export, 1 thread, {EXPORT_SECS} s | paced {}k/s |\n|---|---|---|\n\
                 | traced → Kafka | {} | {} |\n",
                PACED_RATE / 1000,
                export_cell(results.export("traced_kafka", None), true),
                export_cell(results.export("traced_kafka", Some(PACED_RATE)), false),
            );
        }
    } else if !results.export.is_empty() {
        let _ = writeln!(out, "| stack | flat-out export | paced |\n|---|---|---|");
        for stack in ExportStack::ALL {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                stack.id(),
                export_cell(results.export(stack.id(), None), true),
                export_cell(results.export(stack.id(), Some(PACED_RATE)), false)
            );
        }
        let _ = writeln!(out);
    }
    for row in &results.export {
        let _ = writeln!(
            out,
            "- export {} {}: {} bytes on the wire in {:.1} s + {:.2} s flush",
            row.stack,
            row.rate
                .map_or("flat out".to_owned(), |r| format!("at {r}/s")),
            row.wire_bytes,
            row.outcome.generate_secs,
            row.outcome.flush_secs
        );
    }
    if !results.alloc.is_empty() {
        let _ = writeln!(
            out,
            "\nAllocations per sampled span (Registry + TracedLayer with its fast path + counting exporter, after warm-up, \
             10 000 spans, allocating thread only):\n"
        );
        for row in &results.alloc {
            let _ = writeln!(
                out,
                "- {}: {:.2} allocations, {:.1} bytes",
                row.label, row.allocations, row.bytes
            );
        }
    }
    if !results.growth.is_empty() {
        let _ = writeln!(
            out,
            "\nCost as work grows (`src/growth.rs`): ns per span on the instrumented thread, \
             \"median round (fastest round)\", traced with its fast path and a counting exporter; \
             a trace is a root and its children, every span with that many `u64` tags:\n"
        );
        let tags = traced_benches::growth::TAGS;
        let _ = write!(out, "| spans per trace |");
        for count in tags {
            let _ = write!(out, " {count} tags |");
        }
        let _ = writeln!(out, "\n|---|{}", "---|".repeat(tags.len()));
        for spans in traced_benches::growth::SPANS_PER_TRACE {
            let _ = write!(out, "| {spans} |");
            for count in tags {
                let cell = results
                    .growth
                    .iter()
                    .find(|cell| cell.spans == spans && cell.tags == count);
                let _ = match cell {
                    Some(cell) => write!(
                        out,
                        " {} ({}) |",
                        fmt_ns(Some(cell.median_ns)),
                        fmt_ns(Some(cell.fastest_ns))
                    ),
                    None => write!(out, " – |"),
                };
            }
            let _ = writeln!(out);
        }
    }
    if !results.instructions.is_empty() {
        let _ = writeln!(
            out,
            "\nInstructions per call (valgrind --tool=callgrind, counted inside a loop of 20 000 \
             calls; independent of machine load; PROFILE.md says where they go):\n"
        );
        for row in &results.instructions {
            let _ = writeln!(out, "- {}: {:.0}", row.label, row.per_span);
        }
    }
    if !results.encoders.is_empty() {
        let _ = writeln!(
            out,
            "\nEncoding cost per span on the reporter's thread (`src/encode.rs`: batches of {} spans \
             as a service makes them, a third of them HTTP server spans with eleven tags; time is \
             the fastest of ten rounds, instructions by callgrind):\n",
            encode::BATCH
        );
        let _ = writeln!(
            out,
            "| encoder | ns per span | instructions per span | bytes per span |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for row in &results.encoders {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} |",
                row.label,
                fmt_ns(Some(row.ns)),
                row.instructions
                    .map_or("–".to_owned(), |n| format!("{n:.0}")),
                row.batch_bytes as f64 / encode::BATCH as f64
            );
        }
        let ours = results
            .encoders
            .iter()
            .find(|row| row.id == "otlp_protobuf");
        let generated = results
            .encoders
            .iter()
            .find(|row| row.id == "otlp_protobuf_generated");
        if let (Some(ours), Some(generated)) = (ours, generated) {
            let _ = writeln!(
                out,
                "\nOTLP protobuf from the generated types costs {:.1}× the time of ours{}.",
                generated.ns / ours.ns,
                match (generated.instructions, ours.instructions) {
                    (Some(theirs), Some(mine)) =>
                        format!(" and {:.1}× the instructions", theirs / mine),
                    _ => String::new(),
                }
            );
        }
    }
    if !results.ns.is_empty() || !results.encoders.is_empty() {
        let _ = writeln!(
            out,
            "\n## Targets (issue 6), computed from the numbers above\n"
        );
        for target in targets(results) {
            let _ = writeln!(out, "{target}");
        }
    }
    if !results.ns.is_empty() || !results.export.is_empty() {
        let _ = writeln!(
            out,
            "\n## Targets (issue 19, items 1, 4 and 5), computed from the numbers above\n"
        );
        for (text, met) in issue19_targets(results) {
            let _ = writeln!(out, "- {}: {text}", verdict(met));
        }
        let _ = write!(out, "{}", issue19_why(results));
    }
    let (thread_rows, thread_steal) = &results.threads;
    if !thread_rows.is_empty() {
        let _ = writeln!(out, "\n## Thread scaling\n");
        let _ = writeln!(out, "{}\n", machine_during(*thread_steal));
        let _ = write!(out, "{}", threads::render(thread_rows));
        let _ = writeln!(out, "\nTargets (issue 19, item 2):\n");
        for (text, met) in threads::targets(thread_rows) {
            let _ = writeln!(out, "- {}: {text}", verdict(met));
        }
        let _ = write!(out, "{}", threads::why(thread_rows));
    }
    let (service_rows, service_steal) = &results.service;
    if !service_rows.is_empty() {
        let _ = writeln!(out, "\n## A real service\n");
        let _ = writeln!(out, "{}\n", machine_during(*service_steal));
        let _ = write!(out, "{}", service::render(service_rows));
        let _ = writeln!(out, "\nTargets (issue 19, item 3):\n");
        for (text, met) in service::targets(service_rows) {
            let _ = writeln!(out, "- {}: {text}", verdict(met));
        }
        let _ = write!(out, "{}", request_path::render(&results.request_path));
        let _ = write!(out, "{}", service::budget(service_rows));
    }
    out
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// ns per call of (scenario, stack), from one estimator.
type Lookup<'a> = &'a dyn Fn(&str, &str) -> Option<f64>;

/// A timing target: `measured ≤ limit`, both computed from one estimator's numbers.
struct TimingTarget {
    label: &'static str,
    limit_text: &'static str,
    /// (measured, limit) in ns, from a lookup of (scenario, stack) → ns.
    compute: fn(Lookup<'_>) -> Option<(f64, f64)>,
}

const TIMING_TARGETS: [TimingTarget; 7] = [
    TimingTarget {
        label: "sampled d1 ≤ 1/8 of tracing-otel",
        limit_text: "tracing-otel d1 / 8",
        compute: |ns| Some((ns("d1", TRACED_SAMPLED)?, ns("d1", "otel_zipkin")? / 8.0)),
    },
    TimingTarget {
        label: "sampled d1 ≤ 1.3× Registry-only",
        limit_text: "1.3 × Registry d1",
        compute: |ns| Some((ns("d1", TRACED_SAMPLED)?, ns("d1", "registry")? * 1.3)),
    },
    TimingTarget {
        label: "stretch: sampled d1 ≤ fastrace + Zipkin",
        limit_text: "fastrace + Zipkin d1",
        compute: |ns| Some((ns("d1", TRACED_SAMPLED)?, ns("d1", "fastrace_zipkin")?)),
    },
    TimingTarget {
        label: "unsampled d1 ≤ 20 ns",
        limit_text: "20 ns",
        compute: |ns| Some((ns("d1", "traced_unsampled")?, 20.0)),
    },
    TimingTarget {
        label: "no subscriber ≤ 1 ns over the bare function",
        limit_text: "bare d1 + 1 ns",
        compute: |ns| Some((ns("d1", "traced_nosub")?, ns("d1", "bare")? + 1.0)),
    },
    TimingTarget {
        label: "async d1 ≤ 1.3× sync d1 (sampled)",
        limit_text: "1.3 × sync d1",
        compute: |ns| {
            Some((
                ns("async", TRACED_SAMPLED)?,
                ns("d1", TRACED_SAMPLED)? * 1.3,
            ))
        },
    },
    TimingTarget {
        label: "f2 ≤ 1.3× d1 (sampled)",
        limit_text: "1.3 × d1",
        compute: |ns| Some((ns("f2", TRACED_SAMPLED)?, ns("d1", TRACED_SAMPLED)? * 1.3)),
    },
];

fn targets(results: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    let median = |scenario: &str, stack: &str| results.ns(scenario, stack);
    let fastest = |scenario: &str, stack: &str| results.fastest(scenario, stack);
    for target in &TIMING_TARGETS {
        let judge = |lookup: Lookup<'_>| match (target.compute)(lookup) {
            Some((measured, limit)) => format!(
                "{} ({} ns vs {} = {} ns)",
                verdict(Some(measured <= limit)),
                fmt_ns(Some(measured)),
                target.limit_text,
                fmt_ns(Some(limit))
            ),
            None => verdict(None).to_owned(),
        };
        lines.push(format!(
            "- {}: median {}; fastest sample {}",
            target.label,
            judge(&median),
            judge(&fastest)
        ));
    }
    let mut line = |text: String, met: Option<bool>| {
        lines.push(format!("- {}: {text}", verdict(met)));
    };
    for (text, met) in encoding_targets(results, "encoding") {
        line(text, met);
    }
    let traced_flat = results.export(TRACED_SAMPLED, None);
    let traced_paced = results.export(TRACED_SAMPLED, Some(PACED_RATE));
    line(
        format!(
            "export ≥ 500k spans/s delivered by one generator thread: {}",
            traced_flat.map_or("–".to_owned(), |row| per_sec(row.delivered_per_sec()))
        ),
        traced_flat.map(|row| row.delivered_per_sec() >= 500_000.0),
    );
    line(
        format!(
            "0 drops when paced at 500k spans/s: {}",
            traced_paced.map_or("–".to_owned(), |row| format!(
                "{} generated, {} delivered, {} counted as dropped",
                row.outcome.generated,
                row.delivered,
                row.outcome.dropped.unwrap_or(0)
            ))
        ),
        traced_paced.map(|row| row.outcome.dropped == Some(0) && row.lost() == 0),
    );
    line(
        format!(
            "flat-out peak RSS ≤ 64 MiB: {}",
            traced_flat.map_or("–".to_owned(), |row| mib(row.outcome.peak_rss_kib))
        ),
        traced_flat.map(|row| row.outcome.peak_rss_kib <= 64 * 1024),
    );
    line(
        format!(
            "flat out, delivered + dropped-and-counted == generated: {}",
            traced_flat.map_or("–".to_owned(), |row| format!(
                "{} + {} vs {}",
                row.delivered,
                row.outcome.dropped.unwrap_or(0),
                row.outcome.generated
            ))
        ),
        traced_flat.map(ExportRow::accounted),
    );
    for row in &results.alloc {
        line(
            format!(
                "no allocation per span, {}: {:.2} allocations per span",
                row.label, row.allocations
            ),
            Some(row.allocations == 0.0),
        );
    }
    lines
}

/// The targets of issue 19, items 1 (one thread), 4 (export) and 5 (cost as work grows).
fn issue19_targets(results: &Results) -> Vec<(String, Option<bool>)> {
    let mut lines = Vec::new();
    let median = |scenario: &str, stack: &str| results.ns(scenario, stack);
    for (scenario, at_most) in [("d1", true), ("d3", true), ("f2", false), ("async", false)] {
        let ours = median(scenario, TRACED_SAMPLED);
        let theirs = median(scenario, "fastrace_zipkin");
        let relation = if at_most { "≤" } else { "<" };
        lines.push((
            format!(
                "single thread, sampled, over HTTP: {scenario} {relation} fastrace + Zipkin \
                 (medians): {} vs {} ns ({})",
                fmt_ns(ours),
                fmt_ns(theirs),
                ours.zip(theirs)
                    .map_or("–".to_owned(), |(a, b)| format!("{:.2}×", a / b))
            ),
            ours.zip(theirs)
                .map(|(a, b)| if at_most { a <= b } else { a < b }),
        ));
    }
    for row in &results.alloc {
        lines.push((
            format!(
                "no allocation per span without string fields, {}: {:.2}",
                row.label, row.allocations
            ),
            Some(row.allocations == 0.0),
        ));
    }
    let unsampled = median("d1", "traced_unsampled");
    lines.push((
        format!("unsampled ≤ 20 ns: {} ns", fmt_ns(unsampled)),
        unsampled.map(|ns| ns <= 20.0),
    ));
    let instructions = |label: &str| {
        results
            .instructions
            .iter()
            .find(|row| row.label == label)
            .map(|row| row.per_span)
    };
    let (ours, theirs) = (
        instructions("traced d1, no subscriber"),
        instructions("tracing::instrument d1, no subscriber"),
    );
    lines.push((
        format!(
            "no subscriber: exactly tracing::instrument's instruction count: {} vs {}",
            ours.map_or("–".to_owned(), |n| format!("{n:.0}")),
            theirs.map_or("–".to_owned(), |n| format!("{n:.0}"))
        ),
        ours.zip(theirs).map(|(a, b)| a.round() <= b.round()),
    ));
    lines.extend(encoding_targets(results, "reporter's encoding"));
    let flat = results.export(TRACED_SAMPLED, None);
    let fastrace_flat = results.export("fastrace_zipkin", None);
    lines.push((
        format!(
            "export flat out ≥ 2× fastrace + Zipkin's delivered spans/s: {} vs {} ({})",
            flat.map_or("–".to_owned(), |row| per_sec(row.delivered_per_sec())),
            fastrace_flat.map_or("–".to_owned(), |row| per_sec(row.delivered_per_sec())),
            flat.zip(fastrace_flat)
                .map_or("–".to_owned(), |(a, b)| format!(
                    "{:.2}×",
                    a.delivered_per_sec() / b.delivered_per_sec().max(1.0)
                ))
        ),
        flat.zip(fastrace_flat)
            .map(|(a, b)| a.delivered_per_sec() >= 2.0 * b.delivered_per_sec()),
    ));
    let half = results
        .export
        .iter()
        .find(|row| row.stack == TRACED_SAMPLED && row.rate.is_some_and(|rate| rate != PACED_RATE));
    lines.push((
        format!(
            "paced at half the flat-out rate, 0 drops: {}",
            half.map_or("–".to_owned(), |row| format!(
                "{}/s: {} generated, {} delivered, {} counted as dropped",
                row.rate.unwrap_or(0),
                row.outcome.generated,
                row.delivered,
                row.outcome.dropped.unwrap_or(0)
            ))
        ),
        half.map(|row| row.outcome.dropped == Some(0) && row.lost() == 0),
    ));
    lines.push((
        format!(
            "flat out, peak RSS ≤ 64 MiB and delivered + dropped-and-counted == generated: {}",
            flat.map_or("–".to_owned(), |row| format!(
                "{}; {} + {} vs {}",
                mib(row.outcome.peak_rss_kib),
                row.delivered,
                row.outcome.dropped.unwrap_or(0),
                row.outcome.generated
            ))
        ),
        flat.map(|row| row.outcome.peak_rss_kib <= 64 * 1024 && row.accounted()),
    ));
    let cells = results.growth.len();
    lines.push((
        format!(
            "cost as work grows: per-span cost at 1, 10, 100 and 1000 spans per trace × 0, 2, 8 \
             and 30 tags: {cells} of 16 cells measured (30, not 32: a `#[traced]` span keeps two \
             of a tracing callsite's 32 fields)"
        ),
        (cells > 0).then_some(cells == 16),
    ));
    lines
}

/// Why the item-1 and item-4 targets not met are not, from the run's own numbers.
fn issue19_why(results: &Results) -> String {
    let mut out = String::from("\nWhat the numbers say about the targets not met:\n\n");
    let instructions = |label: &str| {
        results
            .instructions
            .iter()
            .find(|row| row.label == label)
            .map(|row| row.per_span)
    };
    if let (Some(ours), Some(theirs)) = (
        instructions("traced d1, sampled, counting no-op exporter"),
        results
            .instructions
            .iter()
            .find(|row| row.label.starts_with("fastrace d1"))
            .map(|row| row.per_span),
    ) {
        let _ = writeln!(
            out,
            "- d1 and d3 against fastrace: on the calling thread a sampled traced d1 executes \
             {ours:.0} instructions, fastrace's {theirs:.0} ({:.1}×): fastrace records a raw \
             span (ids, times, name) into a thread-local buffer and builds the span on its \
             collector thread, while traced builds the finished record (ids, times, endpoint, \
             typed tags, sampling and limits context) on the calling thread and copies it into \
             its thread's buffer, which joins the bounded queue {} spans at a time and is \
             counted there. PROFILE.md breaks the {ours:.0} down. The design that would close \
             the gap: a raw span (ids, times, callsite, inline tags) in that per-thread buffer \
             instead of the record, the accounting kept, records built on the reporter's \
             thread.",
            ours / theirs.max(1.0),
            traced::report::THREAD_BUFFER_SPANS
        );
    }
    if let (Some(ours), Some(theirs)) = (
        instructions("traced d1, no subscriber"),
        instructions("tracing::instrument d1, no subscriber"),
    ) {
        if ours.round() > theirs.round() {
            let _ = writeln!(
                out,
                "- No subscriber: {ours:.0} instructions against {theirs:.0}. Both test the \
                 global level filter first and return; the difference is the function's frame: \
                 the instrumented body of a `#[traced]` d1 keeps one more value in a callee-saved \
                 register, so the compiler saves and restores it (a `push` and a `pop`, the same \
                 two instructions, objdump of `stacks::traced_fns::d1`) on the disabled path too. \
                 Closing it means an expansion whose enabled path is a separate, non-inlined \
                 function, which costs the sampled path a call."
            );
        }
    }
    if let Some(row) = results.encoders.iter().find(|row| row.id == "zipkin_json") {
        let otlp_protobuf = results
            .encoders
            .iter()
            .find(|row| row.id == "otlp_protobuf")
            .and_then(|row| row.instructions)
            .map_or("not measured".to_owned(), |n| {
                let verdict = if n <= 1000.0 {
                    "within the target"
                } else {
                    "above it too"
                };
                format!("{n:.0} instructions per span, {verdict}")
            });
        // Said only while the target is missed: it explains a miss.
        if let Some(instructions) = row.instructions.filter(|n| *n > 1000.0) {
            let _ = writeln!(
                out,
                "- Encoding: Zipkin JSON writes {} bytes per span of the sample batch in {:.0} \
                 instructions ({:.1} per byte); 1,000 would be {:.1} per byte. Its text is the \
                 cost: a dozen strings per span (keys, values, the name), each checked for \
                 escapes and copied eight bytes at a time, and three ids and two sixteen-digit \
                 numbers turned into text (PROFILE.md has the split by callgrind). The design \
                 that would reach it: keys escaped once per call site and copied whole (tag \
                 keys are `&'static str`, a table by address), values checked sixteen bytes at a \
                 time (SSE2), and a batch's shared leading timestamp digits written once. OTLP \
                 protobuf, what Jaeger, Tempo and the OpenTelemetry Collector take, writes no \
                 text to escape: {}.",
                row.batch_bytes / traced_benches::encode::BATCH,
                instructions,
                instructions / (row.batch_bytes / traced_benches::encode::BATCH).max(1) as f64,
                1000.0 / (row.batch_bytes / traced_benches::encode::BATCH).max(1) as f64,
                otlp_protobuf
            );
        }
    }
    out
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, model)| {
            model.trim().to_owned()
        });
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "rustc unknown".to_owned());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    // Field 19 of /proc/self/stat, counted after the parenthesised command name.
    let nice = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().nth(16).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!(
        "Date: {date}. Machine: {cpus} CPUs ({model}), {rustc}. Load average at the end \
         (other work on the machine skews the numbers): {load}; the report ran at niceness {nice}."
    )
}

/// The encoding target (≤ 1,000 instructions per span) for Zipkin JSON and OTLP protobuf, as
/// (what, met), each line starting with `what`.
fn encoding_targets(results: &Results, what: &str) -> Vec<(String, Option<bool>)> {
    ["zipkin_json", "otlp_protobuf"]
        .into_iter()
        .filter_map(|id| results.encoders.iter().find(|row| row.id == id))
        .map(|row| {
            (
                format!(
                    "{what} ≤ 1,000 instructions per span, {}: {}",
                    row.label,
                    row.instructions
                        .map_or("–".to_owned(), |n| format!("{n:.0}"))
                ),
                row.instructions.map(|n| n <= 1000.0),
            )
        })
        .collect()
}
