//! The OTLP exporter as a user configures it: by the `OTEL_EXPORTER_OTLP_*` variables or the
//! builder, to the strict receiver's OTLP path (every request decoded with the official OTLP
//! types): both protocols, headers, gzip, the resource, the span limits, and Zipkin beside it.
//! The sick-collector cases are in `report_faults.rs` (each runs over OTLP too).

use std::time::Duration;

use traced::config::ExporterKind;
use traced::encode::Encoding;
use traced::limits::SpanLimits;
use traced::setup::Builder;
use traced::traced;
use traced_tests::otlp::{self, any_value::Value};
use traced_tests::Receiver;
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(10);

#[traced]
fn order(items: u64) {
    tracing::info!(items, "priced");
    ship("Express");
}

#[traced]
fn ship(method: &str) {
    let _ = method;
}

/// Runs two traced calls (a trace of two spans) through the layer `builder` makes, then shuts
/// its guard down.
fn run(builder: Builder) -> traced::ShutdownReport {
    assert_eq!(builder.config_errors(), [], "the configuration is valid");
    let (layer, guard) = builder.build_layer().expect("the layer builds");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || order(3));
    guard.shutdown()
}

#[test]
fn the_variables_choose_protocol_headers_compression_and_resource() {
    for (protocol, compression, media_type) in [
        ("http/protobuf", "gzip", "application/x-protobuf"),
        ("http/json", "none", "application/json"),
    ] {
        let receiver = Receiver::start();
        let base = format!("http://{}", receiver.addr());
        let report = run(Builder::from_vars([
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", compression),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cr%3Dt"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2000"),
            ("OTEL_SERVICE_NAME", "Order-Service"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=test",
            ),
        ]));
        assert_eq!(
            (report.stats.sent, report.undelivered),
            (2, 0),
            "{protocol}"
        );
        receiver.assert_no_violations();
        let requests = receiver.requests();
        let request = &requests[0];
        assert_eq!(request.path, "/v1/traces");
        assert_eq!(request.content_type.as_deref(), Some(media_type));
        assert_eq!(request.header("x-api-key"), Some("s3cr=t"));
        assert_eq!(
            request.header("content-encoding"),
            (compression == "gzip").then_some("gzip")
        );

        let decoded = receiver.otlp_requests();
        let spans = otlp::spans(&decoded[0]);
        assert_eq!(spans.len(), 2, "{protocol}");
        let resource = &decoded[0].resource_spans[0]
            .resource
            .as_ref()
            .expect("a resource")
            .attributes;
        assert_eq!(
            otlp::string_attribute(resource, "service.name").as_deref(),
            Some("Order-Service"),
            "the service name as written"
        );
        assert_eq!(
            otlp::string_attribute(resource, "deployment.environment.name").as_deref(),
            Some("test")
        );
        for (_, span) in &spans {
            assert_eq!(
                otlp::attribute(&span.attributes, "deployment.environment.name"),
                None,
                "resource attributes stay in the resource"
            );
        }
        let (_, order) = spans
            .iter()
            .find(|(_, span)| span.name == "order")
            .expect("order");
        assert_eq!(
            otlp::attribute(&order.attributes, "items"),
            Some(&Value::IntValue(3))
        );
        assert_eq!(order.events[0].name, "priced");
    }
}

#[test]
fn zipkin_and_otlp_side_by_side_both_get_every_span() {
    let zipkin = Receiver::start();
    let collector = Receiver::start();
    let report = run(Builder::from_vars([
        ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", zipkin.endpoint()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            collector.otlp_endpoint(),
        ),
        ("OTEL_SERVICE_NAME", "Both".to_owned()),
    ]));
    // Two reporters, two spans each: their counts add up.
    assert_eq!(
        (report.stats.exported, report.stats.sent, report.undelivered),
        (4, 4, 0)
    );
    let zipkin_spans = zipkin.wait_for_spans(2, WAIT);
    zipkin.assert_no_violations();
    collector.assert_no_violations();
    let otlp_spans = collector.wait_for_spans(2, WAIT);
    assert_eq!(zipkin_spans.len(), 2);
    assert_eq!(otlp_spans.len(), 2);
    // The same spans: ids agree; the names' case differs as each format wants.
    let ids = |spans: &[traced_tests::ReceivedSpan]| {
        let mut ids: Vec<String> = spans.iter().map(|span| span.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&zipkin_spans), ids(&otlp_spans));
    assert_eq!(zipkin_spans[0].service(), Some("both"));
    assert_eq!(otlp_spans[0].service(), Some("Both"));
}

#[test]
fn the_builder_sets_endpoint_encoding_headers_and_limits() {
    let receiver = Receiver::start();
    let report = run(traced::builder()
        .service_name("built")
        .exporters([ExporterKind::Otlp])
        .otlp_endpoint(receiver.otlp_endpoint())
        .encoding(Encoding::OtlpJson)
        .otlp_header("authorization", "Bearer token")
        .gzip(true)
        .span_limits(SpanLimits {
            attribute_count: 0,
            event_count: 0,
            ..SpanLimits::default()
        }));
    assert_eq!(report.stats.sent, 2);
    receiver.assert_no_violations();
    let request = &receiver.requests()[0];
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer token"));
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    let spans = otlp::spans(&receiver.otlp_requests()[0]);
    let (_, order) = spans
        .iter()
        .find(|(_, span)| span.name == "order")
        .expect("order");
    assert!(order.attributes.is_empty() && order.events.is_empty());
    assert_eq!(
        (order.dropped_attributes_count, order.dropped_events_count),
        (1, 1)
    );
}

#[test]
fn an_otlp_endpoint_alone_chooses_the_otlp_exporter() {
    let receiver = Receiver::start();
    let report = run(Builder::from_vars([(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://{}/", receiver.addr()),
    )]));
    assert_eq!(report.stats.sent, 2);
    assert_eq!(receiver.requests()[0].path, "/v1/traces");
}

#[test]
fn an_otlp_batch_over_the_byte_limit_is_split_and_every_span_arrives() {
    use traced::export::Exporter;
    use traced::model::{SpanId, SpanRecord, TagValue, TraceId};
    use traced::report::{ReporterConfig, ZipkinReporter};

    let receiver = Receiver::start();
    let limit = 4_000;
    let reporter = ZipkinReporter::start(
        ReporterConfig::otlp()
            .endpoint(receiver.otlp_endpoint())
            .service_name("split")
            .max_batch_bytes(limit)
            .schedule_delay(Duration::from_secs(3600)),
    )
    .expect("the reporter starts");
    for id in 1..=60u64 {
        let mut span = SpanRecord {
            trace_id: TraceId(u128::from(id)),
            id: SpanId(id),
            name: "work".into(),
            timestamp_us: 1_700_000_000_000_000,
            duration_us: 5,
            ..SpanRecord::default()
        };
        span.tags
            .push(("payload".into(), TagValue::Str("x".repeat(150).into())));
        reporter.export(span);
    }
    assert_eq!(reporter.flush(WAIT).unsent, 0);
    receiver.assert_no_violations();
    let requests = receiver.requests();
    assert!(requests.len() > 1, "split into several requests");
    for request in &requests {
        assert!(request.body_len <= limit, "{} bytes", request.body_len);
    }
    assert_eq!(receiver.span_count(), 60);
    let stats = reporter.stats();
    assert_eq!((stats.sent, stats.dropped), (60, 0));
}
