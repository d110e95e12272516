//! Kafka, Zipkin's scale-out transport, for real: a single-node Apache Kafka broker (KRaft, the
//! official jars from Maven Central) and a real `zipkin-server` consuming its `zipkin` topic
//! (`KAFKA_BOOTSTRAP_SERVERS`), both started by the test support.
//!
//! - the shop's traces, published with `kafka://…` endpoints in JSON and in gzipped proto3,
//!   arrive in Zipkin and read back exactly as the strict receiver got them over HTTP;
//! - faults: a broker that is not running at start, stopped mid-run and started again, a topic
//!   that does not exist, a message larger than the broker takes. In each: exporting never
//!   blocks, the counts stay exact (`sent + dropped + pending == exported`), the reason is
//!   reported, and delivery resumes when the broker is back.

mod live_support;

use std::time::{Duration, Instant};

use live_support::{Reporting, Sink};
use traced::encode::Encoding;
use traced::export::Exporter;
use traced::model::{SpanRecord, TagValue};
use traced::report::{ReporterConfig, ZipkinReporter};
use traced_examples::shop::{self, scenario, Config, DataDir};
use traced_tests::{
    now_millis, KafkaOptions, KafkaServer, ReceivedSpan, Receiver, ZipkinOptions, ZipkinServer,
};

const DEADLINE: Duration = Duration::from_secs(60);

fn zipkin_on(kafka: &KafkaServer) -> ZipkinServer {
    ZipkinServer::start_with(
        ZipkinOptions::default().env("KAFKA_BOOTSTRAP_SERVERS", &kafka.bootstrap()),
    )
}

/// Every span Zipkin holds from the last ten minutes, parsed as the receiver parses.
fn all_in_zipkin(zipkin: &ZipkinServer, count: usize) -> Vec<ReceivedSpan> {
    let path = format!(
        "/api/v2/traces?endTs={}&lookback=600000&limit=1000",
        now_millis()
    );
    let started = Instant::now();
    loop {
        let traces = zipkin.get(&path).unwrap_or_default();
        let spans: Vec<ReceivedSpan> = traces
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|trace| trace.as_array().cloned().unwrap_or_default())
            .map(|span| ReceivedSpan::from_json(&span).expect("Zipkin v2 JSON"))
            .collect();
        if spans.len() >= count || started.elapsed() > DEADLINE {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sorted(mut spans: Vec<ReceivedSpan>) -> Vec<ReceivedSpan> {
    spans.sort_by(|a, b| (&a.trace_id, &a.id, &a.kind).cmp(&(&b.trace_id, &b.id, &b.kind)));
    spans
}

#[test]
fn the_shop_reaches_zipkin_through_kafka_exactly_as_over_http() {
    let kafka = KafkaServer::start(KafkaOptions::default());
    let zipkin = zipkin_on(&kafka);
    let mut expected = Vec::new();
    for (encoding, gzip) in [(Encoding::Json, false), (Encoding::Proto, true)] {
        let receiver = Receiver::start();
        let reporting = Reporting::start(&[
            Sink {
                endpoint: format!("kafka://{}/zipkin", kafka.bootstrap()),
                encoding,
                gzip,
            },
            Sink::json(receiver.endpoint()),
        ]);
        let data = DataDir::temporary().expect("a temporary directory");
        reporting.block_on(async {
            let shop = shop::start(&Config::loopback(data.path()))
                .await
                .expect("the shop starts");
            scenario::run(&shop, |_| {}, |_, _| {})
                .await
                .expect("every request is answered");
            shop.stop().await;
        });
        let sent = reporting.finish();
        assert_eq!(
            sent[0], sent[1],
            "{encoding:?}: Kafka and HTTP got every span"
        );
        receiver.assert_no_violations();
        expected.extend(receiver.wait_for_spans(sent[1] as usize, DEADLINE));
    }
    let stored = all_in_zipkin(&zipkin, expected.len());
    assert_eq!(
        sorted(stored),
        sorted(expected),
        "what Zipkin consumed from Kafka is what went over HTTP\n{}",
        zipkin.log_tail()
    );
}

/// A span of `bytes` bytes of tags, named `name`, in a trace of its own.
fn span(name: &str, bytes: usize) -> SpanRecord {
    let mut span = SpanRecord {
        trace_id: traced::model::TraceId(fastrand_u128()),
        id: traced::model::SpanId(fastrand_u64()),
        name: name.to_owned().into(),
        timestamp_us: u64::try_from(now_millis()).unwrap_or_default() * 1000,
        duration_us: 10,
        ..SpanRecord::default()
    };
    span.tags
        .push(("payload".into(), TagValue::Str("x".repeat(bytes).into())));
    span
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish() | 1
}

fn fastrand_u128() -> u128 {
    (u128::from(fastrand_u64()) << 64) | u128::from(fastrand_u64())
}

fn reporter(endpoint: String, attempts: u32) -> ZipkinReporter {
    let mut config = ReporterConfig::default()
        .endpoint(endpoint)
        .service_name("kafka-faults")
        .schedule_delay(Duration::from_millis(20))
        .export_timeout(Duration::from_secs(3))
        .initial_backoff(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(400));
    config.max_attempts = attempts;
    ZipkinReporter::start(config).expect("the reporter starts")
}

/// Exports `count` spans and checks that no call took long: the reporter never blocks.
fn export_quickly(reporter: &ZipkinReporter, name: &str, count: usize, bytes: usize) {
    for _ in 0..count {
        let started = Instant::now();
        reporter.export(span(name, bytes));
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "export blocked for {:?}",
            started.elapsed()
        );
    }
}

fn names_in_zipkin(zipkin: &ZipkinServer, count: usize) -> Vec<String> {
    all_in_zipkin(zipkin, count)
        .into_iter()
        .filter_map(|span| span.name)
        .collect()
}

#[test]
fn a_broker_down_at_start_and_restarted_mid_run_loses_only_what_is_counted() {
    let mut kafka = KafkaServer::start(KafkaOptions::default());
    let zipkin = zipkin_on(&kafka);
    let endpoint = format!("kafka://{}/zipkin", kafka.bootstrap());

    // 0. While the broker is down, memory stays bounded: past the queue's bound, spans are
    //    refused at once and counted.
    kafka.stop();
    let mut bounded = ReporterConfig::default()
        .endpoint(endpoint.clone())
        .max_queue_spans(100);
    bounded.max_attempts = 1;
    let bounded = ZipkinReporter::start(bounded).expect("the reporter starts");
    export_quickly(&bounded, "flood", 10_000, 10);
    let stats = bounded.stats();
    assert!(stats.pending <= 100, "{stats:?}");
    assert!(stats.dropped >= 9_900, "{stats:?}");
    assert!(stats.is_balanced(), "{stats:?}");
    bounded.shutdown(Duration::ZERO);

    // 1. The broker is down when the reporter starts: the spans fail after their attempts and
    //    are dropped, counted, with the reason.
    let reporter = reporter(endpoint, 2);
    export_quickly(&reporter, "while down", 50, 10);
    let flushed = reporter.flush(Duration::from_secs(20));
    let stats = reporter.stats();
    assert_eq!(flushed.unsent, 50, "{stats:?}");
    assert_eq!((stats.sent, stats.dropped, stats.pending), (0, 50, 0));
    let reason = reporter.last_error().expect("a reason");
    assert!(reason.starts_with("kafka: "), "{reason}");

    // 2. The broker comes back: delivery resumes.
    kafka.resume();
    export_quickly(&reporter, "after start", 40, 10);
    assert_eq!(
        reporter.flush(Duration::from_secs(30)).unsent,
        0,
        "{:?}",
        reporter.last_error()
    );

    // 3. Stopped mid-run: what is exported meanwhile is retried, then dropped and counted; once
    //    it is back, delivery resumes again.
    kafka.stop();
    export_quickly(&reporter, "during outage", 30, 10);
    let flushed = reporter.flush(Duration::from_secs(20));
    assert_eq!(flushed.unsent, 30, "{:?}", reporter.stats());
    kafka.resume();
    export_quickly(&reporter, "after restart", 20, 10);
    assert_eq!(reporter.shutdown(Duration::from_secs(30)).unsent, 0);

    let stats = reporter.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!((stats.exported, stats.sent, stats.dropped), (140, 60, 80));
    let mut names = names_in_zipkin(&zipkin, 60);
    names.sort();
    names.dedup_by(|a, b| a == b);
    assert_eq!(
        names,
        ["after restart", "after start"],
        "only what was counted as sent arrived"
    );
    assert_eq!(names_in_zipkin(&zipkin, 60).len(), 60);
}

#[test]
fn a_missing_topic_and_an_oversized_message_are_dropped_counted_and_explained() {
    let kafka = KafkaServer::start(KafkaOptions {
        auto_create_topics: false,
        max_message_bytes: 20_000,
    });

    // A topic that does not exist (and will not be created): dropped, counted, explained.
    let missing = reporter(format!("kafka://{}/no-such-topic", kafka.bootstrap()), 2);
    export_quickly(&missing, "lost", 10, 10);
    assert_eq!(missing.flush(Duration::from_secs(30)).unsent, 10);
    let stats = missing.stats();
    assert_eq!((stats.sent, stats.dropped, stats.pending), (0, 10, 0));
    assert_eq!(
        missing.last_error().as_deref(),
        Some("kafka: topic \"no-such-topic\" does not exist"),
        "{}",
        kafka.log_tail()
    );

    // The broker refuses messages over 20,000 bytes: a 50 KB span can never be delivered and is
    // dropped at once (no retry), while the small spans around it are delivered. This broker
    // creates no topic on demand, so the `zipkin` topic is made first (with two partitions,
    // which the sender publishes to in turn).
    kafka.create_topic("zipkin", 2);
    let zipkin = zipkin_on(&kafka);
    let too_large = reporter(format!("kafka://{}/zipkin", kafka.bootstrap()), 3);
    let before = too_large.stats();
    export_quickly(&too_large, "small", 5, 10);
    assert_eq!(too_large.flush(Duration::from_secs(10)).unsent, 0);
    export_quickly(&too_large, "huge", 1, 50_000);
    assert_eq!(too_large.flush(Duration::from_secs(10)).unsent, 1);
    let reason = too_large.last_error().expect("a reason");
    assert!(reason.contains("too large"), "{reason}");
    export_quickly(&too_large, "small again", 5, 10);
    assert_eq!(too_large.shutdown(Duration::from_secs(10)).unsent, 0);
    let stats = too_large.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert_eq!(stats.sent - before.sent, 10, "{stats:?}");
    assert_eq!(stats.dropped - before.dropped, 1, "{stats:?}");
    assert_eq!(
        stats.retries - before.retries,
        0,
        "a refused size is not retried: {stats:?}"
    );
    let names = names_in_zipkin(&zipkin, 10);
    assert!(!names.iter().any(|name| name == "huge"));
    assert_eq!(
        names
            .iter()
            .filter(|name| name.starts_with("small"))
            .count(),
        10
    );
}
