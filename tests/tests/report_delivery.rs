//! The reporter against a healthy, strict Zipkin receiver: what arrives, how it is batched, and
//! what every POST carries.

mod report_support;

use std::time::Duration;

use report_support::{config, dispatch, make_traces};
use traced::encode::Encoding;
use traced::export::Exporter;
use traced::report::{ReporterConfig, ZipkinReporter};
use traced_tests::{tree, ReceivedSpan, Receiver};

const WAIT: Duration = Duration::from_secs(20);

/// Sends 5 traces of 4 spans with `config`, and checks that all 20 arrive, conform, and form
/// the right trees.
fn round_trip(receiver: &Receiver, config: ReporterConfig) -> ZipkinReporter {
    let reporter = ZipkinReporter::start(config).expect("reporter starts");
    let created = make_traces(&dispatch(&reporter), 5, 3);
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    let spans = receiver.wait_for_spans(created as usize, WAIT);
    receiver.assert_no_violations();
    assert_eq!(spans.len() as u64, created);
    check_traces(&spans);
    let stats = reporter.stats();
    assert_eq!(
        (stats.exported, stats.sent, stats.dropped, stats.pending),
        (created, created, 0, 0)
    );
    assert!(stats.is_balanced());
    reporter
}

fn check_traces(spans: &[ReceivedSpan]) {
    let traces = tree::by_trace(spans);
    assert_eq!(traces.len(), 5);
    for spans in traces.values() {
        let trace = tree::assert_single_tree(spans);
        let root = trace.root();
        assert_eq!(root.name.as_deref(), Some("handle_request"));
        assert_eq!(root.kind.as_deref(), Some("SERVER"));
        assert_eq!(root.service(), Some("report-test"));
        assert_eq!(root.tag("user"), Some("ünïcode \"quoted\"\n"));
        assert!(root
            .annotation_values()
            .iter()
            .any(|value| value.contains("started")));
        let children = trace.children_of(root);
        assert_eq!(children.len(), 3);
        for child in children {
            assert_eq!(child.name.as_deref(), Some("query"));
            assert_eq!(child.kind.as_deref(), Some("CLIENT"));
            assert_eq!(child.remote_service(), Some("db"));
            assert!(child.duration.unwrap_or(0) >= 1);
        }
        assert_eq!(
            trace
                .find_all("query")
                .iter()
                .filter(|span| span.is_error())
                .count(),
            1
        );
    }
}

#[test]
fn json_spans_arrive_whole_and_conformant_with_b3_0() {
    let receiver = Receiver::start();
    let _reporter = round_trip(&receiver, config(&receiver.endpoint()));
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            request.header("b3"),
            Some("0"),
            "every POST tells the collector not to trace it"
        );
        assert_eq!(request.status, Some(202));
    }
}

#[test]
fn proto3_spans_arrive_whole_and_conformant() {
    let receiver = Receiver::start();
    let _reporter = round_trip(
        &receiver,
        config(&receiver.endpoint()).encoding(Encoding::Proto),
    );
    for request in receiver.requests() {
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/x-protobuf")
        );
        assert_eq!(request.header("b3"), Some("0"));
    }
}

#[test]
fn gzip_bodies_arrive_whole_and_are_smaller() {
    let receiver = Receiver::start();
    let _reporter = round_trip(&receiver, config(&receiver.endpoint()).gzip(true));
    let plain = Receiver::start();
    let _plain_reporter = round_trip(&plain, config(&plain.endpoint()));
    let bytes = |receiver: &Receiver| {
        receiver
            .requests()
            .iter()
            .map(|r| r.body_len)
            .sum::<usize>()
    };
    for request in receiver.requests() {
        assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
    }
    assert!(
        bytes(&receiver) < bytes(&plain),
        "gzip {} vs plain {}",
        bytes(&receiver),
        bytes(&plain)
    );
}

#[test]
fn gzip_proto_arrives_conformant() {
    let receiver = Receiver::start();
    let _reporter = round_trip(
        &receiver,
        config(&receiver.endpoint())
            .gzip(true)
            .encoding(Encoding::Proto),
    );
}

#[test]
fn a_full_batch_goes_out_without_waiting_for_the_timer() {
    let receiver = Receiver::start();
    let reporter = ZipkinReporter::start(
        config(&receiver.endpoint())
            .max_batch_spans(7)
            .schedule_delay(Duration::from_secs(3600)),
    )
    .unwrap();
    let created = make_traces(&dispatch(&reporter), 1, 20);
    // The timer is an hour away and nobody flushed: only a full batch explains an arrival.
    let early = receiver.wait_for_spans(7, WAIT);
    assert!(early.len() >= 7, "no full batch was sent early");
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    let spans = receiver.wait_for_spans(created as usize, WAIT);
    assert_eq!(spans.len() as u64, created);
    receiver.assert_no_violations();
    let requests = receiver.requests();
    assert!(
        requests.len() >= 3,
        "{} requests for {created} spans in batches of 7",
        requests.len()
    );
    for request in &requests {
        assert!(request.spans <= 7, "a POST carried {} spans", request.spans);
    }
    tree::assert_single_tree(&spans);
}

#[test]
fn batches_are_cut_by_bytes() {
    let receiver = Receiver::start();
    let limit = 2_000;
    let reporter = ZipkinReporter::start(
        config(&receiver.endpoint())
            .max_batch_bytes(limit)
            .schedule_delay(Duration::from_secs(3600)),
    )
    .unwrap();
    let created = make_traces(&dispatch(&reporter), 4, 9);
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    let spans = receiver.wait_for_spans(created as usize, WAIT);
    assert_eq!(spans.len() as u64, created);
    receiver.assert_no_violations();
    let requests = receiver.requests();
    let total: usize = requests.iter().map(|request| request.body_len).sum();
    assert!(
        requests.len() >= total / limit,
        "{} requests for {total} bytes",
        requests.len()
    );
    for request in &requests {
        assert!(
            request.body_len <= limit,
            "a POST of {} bytes",
            request.body_len
        );
        assert!(request.spans >= 1);
    }
}

#[test]
fn a_span_larger_than_a_batch_still_goes_alone() {
    let receiver = Receiver::start();
    let reporter =
        ZipkinReporter::start(config(&receiver.endpoint()).max_batch_bytes(100)).unwrap();
    for id in 1..=3 {
        reporter.export(traced::model::SpanRecord {
            trace_id: traced::model::TraceId(7),
            id: traced::model::SpanId(id),
            name: "x".repeat(500).into(),
            timestamp_us: 1_700_000_000_000_000,
            duration_us: 3,
            ..Default::default()
        });
    }
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    assert_eq!(receiver.wait_for_spans(3, WAIT).len(), 3);
    receiver.assert_no_violations();
    assert!(receiver.requests().iter().all(|request| request.spans == 1));
}

#[test]
fn successive_posts_reuse_one_keep_alive_connection() {
    let receiver = Receiver::start();
    let reporter = ZipkinReporter::start(config(&receiver.endpoint())).unwrap();
    let dispatch = dispatch(&reporter);
    for round in 1..=3 {
        make_traces(&dispatch, 1, 1);
        assert_eq!(reporter.flush(WAIT).unsent, 0);
        assert_eq!(receiver.wait_for_spans(2 * round, WAIT).len(), 2 * round);
    }
    let requests = receiver.requests();
    assert!(requests.len() >= 3);
    assert!(
        requests
            .iter()
            .all(|request| request.connection == requests[0].connection),
        "connections used: {:?}",
        requests
            .iter()
            .map(|request| request.connection)
            .collect::<Vec<_>>()
    );
}

#[test]
fn configured_headers_are_sent() {
    let receiver = Receiver::start();
    let reporter = ZipkinReporter::start(
        config(&receiver.endpoint())
            .header("Authorization", "Bearer test-token")
            .header("X-Scope-OrgID", "tenant-1"),
    )
    .unwrap();
    make_traces(&dispatch(&reporter), 1, 0);
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    let requests = receiver.wait_for_requests(1, WAIT);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer test-token")
    );
    assert_eq!(requests[0].header("x-scope-orgid"), Some("tenant-1"));
    assert_eq!(requests[0].header("b3"), Some("0"));
}

/// Spans wait in the buffer of the thread that ended them until 64 are there; a thread that
/// ends a few and then idles must not keep them from the collector.
#[test]
fn spans_of_a_thread_that_goes_idle_are_sent_by_a_flush_from_another_thread() {
    let receiver = Receiver::start();
    let reporter = ZipkinReporter::start(
        config(&receiver.endpoint()).schedule_delay(Duration::from_secs(3600)),
    )
    .unwrap();
    let (ended, wait_for_spans) = std::sync::mpsc::channel();
    let (release, idle) = std::sync::mpsc::channel::<()>();
    let dispatch = dispatch(&reporter);
    let worker = std::thread::spawn(move || {
        let created = make_traces(&dispatch, 2, 2);
        ended.send(created).unwrap();
        // Alive and idle: nothing on this thread will hand its buffer in.
        let _ = idle.recv();
    });
    let created = wait_for_spans.recv().unwrap();
    assert!(created < 64, "fewer spans than a thread buffer holds");
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    assert_eq!(receiver.spans().len() as u64, created);
    let stats = reporter.stats();
    assert_eq!(
        (stats.exported, stats.sent, stats.pending),
        (created, created, 0)
    );
    release.send(()).unwrap();
    worker.join().unwrap();
    receiver.assert_no_violations();
}

#[test]
fn the_schedule_delay_sends_a_partial_batch_without_a_flush() {
    let receiver = Receiver::start();
    let reporter = ZipkinReporter::start(config(&receiver.endpoint())).unwrap();
    make_traces(&dispatch(&reporter), 1, 1);
    // 50 ms schedule, 512-span batches: only the timer can send these two spans.
    assert_eq!(receiver.wait_for_spans(2, WAIT).len(), 2);
    receiver.assert_no_violations();
}

#[test]
fn the_local_endpoint_carries_the_service_ip_and_server_port() {
    let receiver = Receiver::start();
    let local = traced::model::Endpoint {
        service_name: Some("Checkout".into()),
        ipv4: Some(std::net::Ipv4Addr::new(10, 0, 0, 7)),
        ..Default::default()
    };
    let reporter = ZipkinReporter::start(config(&receiver.endpoint()).local(local)).unwrap();
    tracing::dispatcher::with_default(&dispatch(&reporter), || {
        tracing::info_span!("serve", otel.kind = "server", server.port = 8080u64).in_scope(|| {});
    });
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    let spans = receiver.wait_for_spans(1, WAIT);
    receiver.assert_no_violations();
    let local = spans[0].local_endpoint.clone().expect("a local endpoint");
    assert_eq!(local.service_name.as_deref(), Some("checkout"));
    assert_eq!(local.ipv4.as_deref(), Some("10.0.0.7"));
    assert_eq!(local.port, Some(8080));
}

#[test]
fn bad_configurations_are_errors_not_panics() {
    let bad = [
        ReporterConfig::default().endpoint("localhost:9411"),
        ReporterConfig::default().endpoint("ftp://collector/api"),
        ReporterConfig::default().endpoint("http://"),
        ReporterConfig::default().header("bad header", "x"),
        ReporterConfig::default().max_batch_spans(0),
        ReporterConfig::default().max_queue_bytes(0),
        ReporterConfig::default().max_attempts(0),
        ReporterConfig::default().export_timeout(Duration::ZERO),
    ];
    for config in bad {
        let described = format!("{config:?}");
        let error = ZipkinReporter::start(config).expect_err(&described);
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn a_zero_schedule_delay_still_delivers() {
    let receiver = Receiver::start();
    let reporter =
        ZipkinReporter::start(config(&receiver.endpoint()).schedule_delay(Duration::ZERO)).unwrap();
    let created = make_traces(&dispatch(&reporter), 2, 2);
    assert_eq!(
        receiver.wait_for_spans(created as usize, WAIT).len() as u64,
        created
    );
    receiver.assert_no_violations();
}
