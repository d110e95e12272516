//! Load: 8 OS threads and 1,000 concurrent tokio tasks (multi-thread runtime) create nested spans
//! with fields and events for a bounded time, through the real layer and reporter, into a strict
//! receiver. Nothing deadlocks (the test finishes: a watchdog aborts the process otherwise), and
//! every span is accounted for exactly: `delivered + dropped == created`, where `created` is
//! counted here, `delivered` is what the receiver accepted and `dropped` is the reporter's count.
//!
//! The load lasts `TRACED_LOAD_SECS` seconds (default 10, the figure of the reliability issue).
//! One global subscriber per process, so this file holds a single test.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use traced::report::{ReporterConfig, ZipkinReporter};
use traced_tests::{Fault, Receiver};
use tracing_subscriber::layer::SubscriberExt;

const THREADS: usize = 8;
const TASKS: usize = 1000;
/// Spans per unit of work: a root, a child and a grandchild.
const SPANS_PER_UNIT: u64 = 3;

fn load_duration() -> Duration {
    let secs = std::env::var("TRACED_LOAD_SECS")
        .ok()
        .and_then(|raw| raw.parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

/// One unit of work: three nested spans with typed fields, a recorded field and two events.
fn unit(worker: u64, round: u64) {
    let root = tracing::info_span!(
        "request",
        worker,
        round,
        route = "/load",
        status = tracing::field::Empty
    );
    let _root = root.enter();
    tracing::info_span!("query", table = "items", rows = round % 17).in_scope(|| {
        tracing::info_span!("decode", bytes = round * 3).in_scope(|| {
            tracing::info!(round, "decoded");
        });
    });
    if round.is_multiple_of(5) {
        tracing::warn!(worker, "slow path");
    }
    root.record("status", 200u64);
}

/// A line of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), for the printed figures (Linux).
fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn threads_and_tasks_under_load_lose_no_span_uncounted() {
    let duration = load_duration();
    // A hang is the failure this test exists to catch; without a watchdog it would stall CI
    // instead of failing. The bound is generous: it measures "finished", not "fast".
    let finished = Arc::new(AtomicBool::new(false));
    {
        let finished = Arc::clone(&finished);
        let limit = duration + Duration::from_secs(120);
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < limit {
                if finished.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("reliability_load: no progress after {limit:?}: deadlock; aborting");
            std::process::abort();
        });
    }

    // Keeps no span bodies (memory stays flat), but checks and counts every one.
    let receiver = Receiver::start_keeping(Fault::Healthy, 0);
    let reporter = ZipkinReporter::start(
        ReporterConfig::default()
            .endpoint(receiver.endpoint())
            .service_name("load")
            .schedule_delay(Duration::from_millis(200)),
    )
    .expect("reporter starts");
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(traced::TracedLayer::new(reporter.clone())),
    )
    .expect("the only subscriber of this process");

    let rss_before = proc_status_kib("VmRSS:");
    let created = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let threads: Vec<_> = (0..THREADS as u64)
        .map(|worker| {
            let created = Arc::clone(&created);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    unit(worker, round);
                    created.fetch_add(SPANS_PER_UNIT, Ordering::Relaxed);
                    round += 1;
                }
            })
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let live_tasks = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS as u64)
            .map(|task| {
                let created = Arc::clone(&created);
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut round = 0;
                    while !stop.load(Ordering::Relaxed) {
                        // A span held across an await, as a handler would, then nested sync work.
                        let outer = tracing::info_span!("task", task, round);
                        tracing::Instrument::instrument(tokio::task::yield_now(), outer.clone())
                            .await;
                        outer.in_scope(|| unit(THREADS as u64 + task, round));
                        drop(outer);
                        created.fetch_add(SPANS_PER_UNIT + 1, Ordering::Relaxed);
                        round += 1;
                    }
                })
            })
            .collect();
        tokio::time::sleep(duration).await;
        stop.store(true, Ordering::Relaxed);
        let mut live = 0;
        for task in tasks {
            task.await.expect("no task panicked");
            live += 1;
        }
        live
    });
    for thread in threads {
        thread.join().expect("no thread panicked");
    }
    let load_time = started.elapsed();
    assert_eq!(live_tasks, TASKS);

    let shutdown_started = Instant::now();
    let outcome = reporter.shutdown(Duration::from_secs(30));
    let shutdown_time = shutdown_started.elapsed();
    drop(runtime);

    let created = created.load(Ordering::Relaxed);
    let stats = reporter.stats();
    // The receiver has answered every POST the reporter counted as sent before shutdown returned.
    let delivered = receiver.span_count() as u64;
    finished.store(true, Ordering::Release);
    eprintln!(
        "reliability_load: {THREADS} threads + {TASKS} tasks for {load_time:.1?}: created {created} \
         spans ({:.0}/s), delivered {delivered}, dropped {} ({:.1}%), {} POSTs, shutdown took \
         {shutdown_time:.2?} (unsent at shutdown {}); RSS before {:?} KiB, peak {:?} KiB; \
         {stats:?}",
        created as f64 / load_time.as_secs_f64(),
        stats.dropped,
        100.0 * stats.dropped as f64 / created.max(1) as f64,
        receiver.requests().len(),
        outcome.unsent,
        rss_before,
        proc_status_kib("VmHWM:"),
    );

    receiver.assert_no_violations();
    assert!(created > 0);
    assert_eq!(
        stats.exported, created,
        "every closed span reached the reporter"
    );
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert_eq!(stats.sent, delivered, "{stats:?}");
    assert_eq!(delivered + stats.dropped, created, "{stats:?}");
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(delivered > 0, "a healthy receiver got spans: {stats:?}");
}
