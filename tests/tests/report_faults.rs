//! The reporter against sick collectors: retries where they help, none where they cannot, and in
//! every case an instrumented program that never blocks, bounded memory, a shutdown within its
//! deadline and every span accounted for. Each fault is met by both wires the reporter speaks,
//! Zipkin and OTLP (`<scenario>::zipkin`, `<scenario>::otlp`); OTLP's partial success is its own
//! case.

mod report_support;

use std::time::{Duration, Instant};

use report_support::{config, dispatch, make_traces};
use traced::encode::Encoding;
use traced::export::Exporter;
use traced::model::{SpanId, SpanRecord, TraceId};
use traced::report::{ReporterConfig, Stats, ZipkinReporter};
use traced_tests::{unused_endpoint, Fault, Receiver};

const WAIT: Duration = Duration::from_secs(20);

fn span(id: u64) -> SpanRecord {
    SpanRecord {
        trace_id: TraceId(u128::from(id) << 64 | 1),
        id: SpanId(id),
        name: "load".into(),
        timestamp_us: 1_700_000_000_000_000,
        duration_us: 10,
        ..SpanRecord::default()
    }
}

/// Only a flush sends: no timer can split the spans of a test into several batches.
fn quiet_config(config: ReporterConfig) -> ReporterConfig {
    config.schedule_delay(Duration::from_secs(3600))
}

/// The wire the reporter speaks in a fault test: each collector fault is met by both.
#[derive(Clone, Copy, Debug)]
enum Protocol {
    /// Zipkin v2 JSON to `/api/v2/spans`.
    Zipkin,
    /// OTLP/HTTP protobuf to `/v1/traces`.
    Otlp,
}

impl Protocol {
    fn endpoint(self, receiver: &Receiver) -> String {
        match self {
            Protocol::Zipkin => receiver.endpoint(),
            Protocol::Otlp => receiver.otlp_endpoint(),
        }
    }

    fn encoding(self) -> Encoding {
        match self {
            Protocol::Zipkin => Encoding::Json,
            Protocol::Otlp => Encoding::OtlpProtobuf,
        }
    }

    fn config(self, receiver: &Receiver) -> ReporterConfig {
        config(&self.endpoint(receiver)).encoding(self.encoding())
    }

    /// The status a healthy collector answers.
    fn accepted(self) -> u16 {
        match self {
            Protocol::Zipkin => 202,
            Protocol::Otlp => 200,
        }
    }
}

/// One `#[test]` per protocol for a fault scenario: `scenario::zipkin` and `scenario::otlp`.
macro_rules! both_protocols {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn zipkin() {
                super::$scenario(super::Protocol::Zipkin)
            }

            #[test]
            fn otlp() {
                super::$scenario(super::Protocol::Otlp)
            }
        }
    };
}

fn assert_all_accounted(stats: Stats, created: u64) {
    assert_eq!(stats.exported, created, "{stats:?}");
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert_eq!(stats.sent + stats.dropped, created, "{stats:?}");
    assert!(stats.is_balanced(), "{stats:?}");
}

both_protocols!(a_collector_failing_with_503_then_recovering_gets_everything);
fn a_collector_failing_with_503_then_recovering_gets_everything(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::FailFirst {
        requests: 3,
        status: 503,
    });
    let reporter = ZipkinReporter::start(protocol.config(&receiver)).unwrap();
    let created = make_traces(&dispatch(&reporter), 5, 3);
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    assert_eq!(
        receiver.wait_for_spans(created as usize, WAIT).len() as u64,
        created
    );
    receiver.assert_no_violations();
    let stats = reporter.stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed_batches),
        (created, 0, 0)
    );
    assert!(stats.retries >= 3, "{stats:?}");
    let statuses: Vec<_> = receiver
        .requests()
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(
        statuses[..4],
        [Some(503), Some(503), Some(503), Some(protocol.accepted())]
    );
}

both_protocols!(retry_after_is_honoured_on_429);
fn retry_after_is_honoured_on_429(protocol: Protocol) {
    let (stats, created) = retry_after_is_honoured(
        protocol,
        Fault::TooManyRequests {
            retry_after_secs: Some(2),
        },
    );
    assert_eq!(
        (stats.retries, stats.failed_batches, stats.dropped),
        (1, 1, created)
    );
}

/// A collector that answers `fault` with `Retry-After: 2` to every request: the one retry
/// waits the two seconds. Returns the final counts, all spans accounted for, and how many
/// there were.
fn retry_after_is_honoured(protocol: Protocol, fault: Fault) -> (Stats, u64) {
    let receiver = Receiver::start_with(fault);
    // Without Retry-After the backoff here would be 10–20 ms.
    let reporter =
        ZipkinReporter::start(quiet_config(protocol.config(&receiver)).max_attempts(2)).unwrap();
    let created = make_traces(&dispatch(&reporter), 1, 1);
    reporter.flush(Duration::ZERO);
    receiver.wait_for_requests(1, WAIT);
    let first = Instant::now();
    let requests = receiver.wait_for_requests(2, WAIT);
    let gap = first.elapsed();
    assert_eq!(requests.len(), 2);
    assert!(
        gap >= Duration::from_millis(1500),
        "the retry came after {gap:?}"
    );
    reporter.shutdown(WAIT);
    let stats = reporter.stats();
    assert_all_accounted(stats, created);
    (stats, created)
}

both_protocols!(a_429_without_retry_after_backs_off_and_gives_up_after_max_attempts);
fn a_429_without_retry_after_backs_off_and_gives_up_after_max_attempts(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::TooManyRequests {
        retry_after_secs: None,
    });
    let reporter =
        ZipkinReporter::start(quiet_config(protocol.config(&receiver)).max_attempts(3)).unwrap();
    let created = make_traces(&dispatch(&reporter), 1, 2);
    let outcome = reporter.flush(WAIT);
    assert_eq!(outcome.unsent, created);
    assert_eq!(receiver.requests().len(), 3);
    let stats = reporter.stats();
    assert_eq!((stats.retries, stats.failed_batches), (2, 1));
    assert_all_accounted(stats, created);
}

both_protocols!(a_400_is_not_retried);
fn a_400_is_not_retried(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::AlwaysStatus(400));
    let reporter = ZipkinReporter::start(quiet_config(protocol.config(&receiver))).unwrap();
    let created = make_traces(&dispatch(&reporter), 1, 2);
    assert_eq!(reporter.flush(WAIT).unsent, created);
    // Give a wrongly scheduled retry the time to show up.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.requests().len(), 1);
    let stats = reporter.stats();
    assert_eq!(
        (stats.retries, stats.failed_batches, stats.dropped),
        (0, 1, created)
    );
    assert_all_accounted(stats, created);
}

both_protocols!(a_500_on_every_request_is_retried_a_bounded_number_of_times);
/// Zipkin's clients retry any 5xx but 501 and 505; OTLP allows only 429, 502, 503 and 504, so
/// over OTLP a 500 fails the batch at once.
fn a_500_on_every_request_is_retried_a_bounded_number_of_times(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::AlwaysStatus(500));
    let reporter = ZipkinReporter::start(protocol.config(&receiver).max_attempts(4)).unwrap();
    let created = make_traces(&dispatch(&reporter), 2, 2);
    assert_eq!(reporter.flush(WAIT).unsent, created);
    std::thread::sleep(Duration::from_millis(300));
    let stats = reporter.stats();
    let attempts = match protocol {
        Protocol::Zipkin => 4,
        Protocol::Otlp => 1,
    };
    assert_eq!(
        receiver.requests().len() as u64,
        attempts * stats.failed_batches
    );
    assert_eq!(stats.retries, (attempts - 1) * stats.failed_batches);
    assert_all_accounted(stats, created);
}

both_protocols!(a_502_or_504_then_recovering_gets_everything);
fn a_502_or_504_then_recovering_gets_everything(protocol: Protocol) {
    for status in [502, 504] {
        let receiver = Receiver::start_with(Fault::FailFirst {
            requests: 2,
            status,
        });
        let reporter = ZipkinReporter::start(protocol.config(&receiver)).unwrap();
        let created = make_traces(&dispatch(&reporter), 2, 2);
        assert_eq!(reporter.flush(WAIT).unsent, 0, "{status}");
        let stats = reporter.stats();
        assert_eq!((stats.sent, stats.retries), (created, 2), "{status}");
        assert_all_accounted(stats, created);
    }
}

both_protocols!(retry_after_is_honoured_on_503);
fn retry_after_is_honoured_on_503(protocol: Protocol) {
    let (stats, created) = retry_after_is_honoured(
        protocol,
        Fault::Unavailable {
            retry_after_secs: Some(2),
        },
    );
    assert_eq!((stats.retries, stats.dropped), (1, created));
}

#[test]
fn an_otlp_partial_success_counts_the_rejected_spans_and_is_not_retried() {
    for encoding in [Encoding::OtlpProtobuf, Encoding::OtlpJson] {
        let receiver = Receiver::start_with(Fault::PartialSuccess { rejected: 2 });
        let reporter = ZipkinReporter::start(quiet_config(
            config(&receiver.otlp_endpoint()).encoding(encoding),
        ))
        .unwrap();
        let created = make_traces(&dispatch(&reporter), 1, 4);
        assert_eq!(reporter.flush(WAIT).unsent, 2, "{encoding:?}");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(receiver.requests().len(), 1, "no retry: {encoding:?}");
        let stats = reporter.stats();
        assert_eq!(
            (stats.sent, stats.dropped, stats.rejected, stats.retries),
            (created - 2, 2, 2, 0),
            "{encoding:?}"
        );
        assert_all_accounted(stats, created);
        let error = reporter
            .last_error()
            .expect("the rejection is the last error");
        assert!(
            error.contains("rejected 2 span(s)") && error.contains("over quota"),
            "{error}"
        );
        receiver.assert_no_violations();
    }
}

/// The scenario every sick collector must pass: 10,000 spans exported while it misbehaves,
/// without blocking; memory (the queue) within its bound; shutdown within its deadline; every
/// span counted.
fn sick_collector(endpoint: &str, config: ReporterConfig) -> Stats {
    let max_queue = config.max_queue_spans as u64;
    let export_timeout = config.export_timeout;
    let reporter = ZipkinReporter::start(config.endpoint(endpoint)).unwrap();
    // Let the first batch reach the collector, so the worker is inside the sick exchange.
    for id in 1..=10 {
        reporter.export(span(id));
    }
    reporter.flush(Duration::from_millis(200));

    let started = Instant::now();
    let mut most_pending = 0;
    for id in 11..=10_000 {
        reporter.export(span(id));
        if id % 100 == 0 {
            most_pending = most_pending.max(reporter.stats().pending);
        }
    }
    let exporting = started.elapsed();
    // Blocking on the collector would cost at least one export timeout per batch.
    assert!(
        exporting < export_timeout,
        "10,000 exports took {exporting:?} while the collector is sick"
    );
    assert!(
        most_pending <= max_queue,
        "{most_pending} spans held, bound {max_queue}"
    );

    let started = Instant::now();
    reporter.shutdown(Duration::from_secs(1));
    let shutting_down = started.elapsed();
    assert!(
        shutting_down < Duration::from_secs(4),
        "shutdown(1 s) took {shutting_down:?}"
    );
    let stats = reporter.stats();
    assert_all_accounted(stats, 10_000);
    // After shutdown nothing is accepted, and that is counted too.
    reporter.export(span(10_001));
    assert_all_accounted(reporter.stats(), 10_001);
    stats
}

fn sick_config(protocol: Protocol) -> ReporterConfig {
    config("http://unused")
        .encoding(protocol.encoding())
        .max_queue_spans(1_000)
        .export_timeout(Duration::from_secs(8))
        .connect_timeout(Duration::from_secs(2))
}

both_protocols!(a_collector_not_listening);
fn a_collector_not_listening(protocol: Protocol) {
    let stats = sick_collector(&unused_endpoint(), sick_config(protocol));
    assert_eq!(stats.sent, 0);
    assert!(stats.dropped >= 9_000, "{stats:?}");
}

both_protocols!(a_collector_that_never_answers);
fn a_collector_that_never_answers(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::Hang);
    let stats = sick_collector(&protocol.endpoint(&receiver), sick_config(protocol));
    assert_eq!(stats.sent, 0);
    assert!(
        receiver.requests().len() <= 2,
        "{} requests while hanging",
        receiver.requests().len()
    );
}

both_protocols!(a_collector_that_resets_connections);
fn a_collector_that_resets_connections(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::Reset);
    let stats = sick_collector(&protocol.endpoint(&receiver), sick_config(protocol));
    assert_eq!(stats.sent, 0);
    assert!(stats.retries >= 1, "{stats:?}");
}

both_protocols!(a_collector_that_answers_garbage);
fn a_collector_that_answers_garbage(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::Garbage);
    let stats = sick_collector(&protocol.endpoint(&receiver), sick_config(protocol));
    assert_eq!(stats.sent, 0);
    assert!(stats.retries >= 1, "{stats:?}");
}

both_protocols!(a_collector_that_reads_very_slowly);
fn a_collector_that_reads_very_slowly(protocol: Protocol) {
    let receiver = Receiver::start_with(Fault::SlowRead {
        bytes_per_sec: 4_096,
    });
    let stats = sick_collector(
        &protocol.endpoint(&receiver),
        sick_config(protocol).export_timeout(Duration::from_secs(2)),
    );
    assert!(stats.dropped > 0, "{stats:?}");
}

#[test]
fn huge_spans_are_bounded_by_bytes_not_only_by_count() {
    let receiver = Receiver::start_with(Fault::Hang);
    let bound = 4 << 20;
    let reporter = ZipkinReporter::start(
        config(&receiver.endpoint())
            .max_queue_bytes(bound)
            .export_timeout(Duration::from_secs(8)),
    )
    .unwrap();
    let mega = "m".repeat(1 << 20);
    for id in 1..=100 {
        reporter.export(SpanRecord {
            name: mega.clone().into(),
            ..span(id)
        });
        let pending = reporter.stats().pending;
        assert!(
            pending * (1 << 20) <= bound as u64,
            "{pending} spans of 1 MiB held, bound 4 MiB"
        );
    }
    let started = Instant::now();
    reporter.shutdown(Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(4));
    let stats = reporter.stats();
    assert!(stats.dropped >= 96, "{stats:?}");
    assert_all_accounted(stats, 100);
}

#[test]
fn many_threads_exporting_at_once_lose_nothing_uncounted() {
    let receiver = Receiver::start();
    let reporter = ZipkinReporter::start(
        config(&receiver.endpoint())
            .max_queue_spans(256)
            .max_batch_spans(64),
    )
    .unwrap();
    let dispatch = dispatch(&reporter);
    let deadline = Instant::now() + Duration::from_secs(2);
    let created: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let dispatch = dispatch.clone();
                scope.spawn(move || {
                    let mut created = 0;
                    while Instant::now() < deadline {
                        created += make_traces(&dispatch, 1, 3);
                    }
                    created
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .sum()
    });
    drop(dispatch);
    let outcome = reporter.shutdown(WAIT);
    let stats = reporter.stats();
    assert_all_accounted(stats, created);
    assert_eq!(outcome.unsent, 0);
    let received = receiver.wait_for_spans(stats.sent as usize, WAIT);
    assert_eq!(received.len() as u64, stats.sent, "{stats:?}");
    receiver.assert_no_violations();
}

#[test]
fn flush_with_a_short_deadline_reports_what_is_still_unsent() {
    let receiver = Receiver::start_with(Fault::Hang);
    let reporter =
        ZipkinReporter::start(config(&receiver.endpoint()).export_timeout(Duration::from_secs(8)))
            .unwrap();
    for id in 1..=20 {
        reporter.export(span(id));
    }
    let started = Instant::now();
    let outcome = reporter.flush(Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(outcome.unsent, 20);
    let outcome = reporter.shutdown(Duration::from_millis(300));
    assert_eq!(outcome.unsent, 20);
    assert_all_accounted(reporter.stats(), 20);
}

#[test]
fn dropping_the_reporter_inside_tokio_runtimes_flushes_and_never_panics() {
    for multi_thread in [false, true] {
        let receiver = Receiver::start();
        let mut builder = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = builder.enable_all().build().unwrap();
        let endpoint = receiver.endpoint();
        let created = runtime.block_on(async move {
            let reporter =
                ZipkinReporter::start(config(&endpoint).schedule_delay(Duration::from_secs(3600)))
                    .unwrap();
            let dispatch = dispatch(&reporter);
            let created = make_traces(&dispatch, 2, 2);
            tokio::task::yield_now().await;
            // The last handles go here, inside the runtime: the drop flushes.
            drop(dispatch);
            drop(reporter);
            created
        });
        assert_eq!(
            receiver.wait_for_spans(created as usize, WAIT).len() as u64,
            created
        );
        receiver.assert_no_violations();
    }
}

#[test]
fn dropping_the_reporter_inside_tokio_with_a_hung_collector_returns_by_the_deadline() {
    let receiver = Receiver::start_with(Fault::Hang);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = receiver.endpoint();
    let elapsed = runtime.block_on(async move {
        let reporter = ZipkinReporter::start(
            config(&endpoint)
                .export_timeout(Duration::from_secs(8))
                .shutdown_timeout(Duration::from_secs(1)),
        )
        .unwrap();
        make_traces(&dispatch(&reporter), 2, 2);
        reporter.flush(Duration::from_millis(100));
        let started = Instant::now();
        drop(reporter);
        started.elapsed()
    });
    assert!(elapsed < Duration::from_secs(4), "drop took {elapsed:?}");
}

/// Runs in a child process (see below): drops spans for about a second, then shuts down.
#[test]
#[ignore = "run by drops_are_warned_on_stderr_at_most_once_per_interval in a child process"]
fn child_drops_spans_for_a_second() {
    let reporter = ZipkinReporter::start(
        config(&unused_endpoint())
            .max_queue_spans(10)
            .max_attempts(1),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut id = 0;
    while Instant::now() < deadline {
        id += 1;
        reporter.export(span(id));
        if id % 1_000 == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    reporter.shutdown(Duration::from_secs(1));
    assert_all_accounted(reporter.stats(), id);
}

#[test]
fn drops_are_warned_on_stderr_at_most_once_per_interval() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_drops_spans_for_a_second",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stderr}");
    let warnings = stderr
        .lines()
        .filter(|line| line.contains("dropped since the last warning"))
        .count();
    let summaries = stderr
        .lines()
        .filter(|line| line.starts_with("traced: shutdown:"))
        .count();
    // Thousands of drops within one 10 s interval: one warning line, then shutdown's summary.
    assert_eq!((warnings, summaries), (1, 1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("Connection refused") || stderr.contains("connection"),
        "stderr:\n{stderr}"
    );
}
