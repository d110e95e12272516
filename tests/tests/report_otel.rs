//! OpenTelemetry SDK users get a conformant Zipkin exporter: spans made with the SDK's tracer
//! provider reach the strict receiver with the right tree, kinds, typed tags, annotations, error
//! tags and service name.

mod report_support;

use std::time::Duration;

use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use opentelemetry_sdk::Resource;
use traced::encode::Encoding;
use traced::otel_export::ZipkinExporter;
use traced_tests::{tree, Fault, Receiver};

const WAIT: Duration = Duration::from_secs(20);

fn provider(exporter: ZipkinExporter, batch: bool) -> SdkTracerProvider {
    let builder = SdkTracerProvider::builder().with_resource(
        Resource::builder_empty()
            .with_service_name("OTel-Shop")
            .build(),
    );
    if batch {
        builder.with_batch_exporter(exporter).build()
    } else {
        builder.with_simple_exporter(exporter).build()
    }
}

/// A server span with a client child that fails and an internal grandchild with an event.
fn make_trace(provider: &SdkTracerProvider) {
    let tracer = provider.tracer("report-otel-test");
    let mut server = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.status_code", 200i64),
            KeyValue::new("cached", false),
        ])
        .start(&tracer);
    server.set_status(Status::Ok);
    let cx = Context::current_with_span(server);
    let mut client = tracer
        .span_builder("SELECT orders")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("peer.service", "Postgres"),
            KeyValue::new("server.port", 5432i64),
            KeyValue::new("db.statement", "select * from \"orders\"\n\twhere id = 1"),
        ])
        .start_with_context(&tracer, &cx);
    client.add_event("retrying", vec![KeyValue::new("attempt", 2i64)]);
    client.set_status(Status::error("connection refused"));
    let client_cx = cx.with_span(client);
    tracer.start_with_context("parse", &client_cx).end();
    client_cx.span().end();
    cx.span().end();
}

fn check_trace(receiver: &Receiver) {
    let spans = receiver.wait_for_spans(3, WAIT);
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 3);
    let trace = tree::assert_single_tree(&spans);
    let root = trace.root();
    assert_eq!(root.name.as_deref(), Some("get /orders"));
    assert_eq!(root.kind.as_deref(), Some("SERVER"));
    assert_eq!(root.service(), Some("otel-shop"));
    assert_eq!(root.tag("http.status_code"), Some("200"));
    assert_eq!(root.tag("cached"), Some("false"));
    assert_eq!(root.tag("otel.status_code"), Some("OK"));
    assert!(!root.is_error());
    let client = trace.expect("select orders");
    assert_eq!(client.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(client.kind.as_deref(), Some("CLIENT"));
    assert_eq!(client.tag("error"), Some("connection refused"));
    assert_eq!(client.remote_service(), Some("postgres"));
    assert_eq!(
        client
            .remote_endpoint
            .as_ref()
            .and_then(|remote| remote.port),
        Some(5432)
    );
    assert_eq!(client.annotation_values(), ["retrying attempt=2"]);
    let parse = trace.expect("parse");
    assert_eq!(parse.parent_id.as_deref(), Some(client.id.as_str()));
    assert_eq!(parse.kind, None);
    assert_eq!(parse.service(), Some("otel-shop"));
    for span in trace.spans() {
        assert!(span.duration.unwrap_or(0) >= 1);
        assert_eq!(span.tag("otel.scope.name"), Some("report-otel-test"));
    }
}

#[test]
fn sdk_spans_arrive_conformant_with_the_simple_processor() {
    let receiver = Receiver::start();
    let exporter = ZipkinExporter::start(report_support::config(&receiver.endpoint())).unwrap();
    let provider = provider(exporter, false);
    make_trace(&provider);
    // The simple processor exported each span as it ended, and export waits for delivery.
    check_trace(&receiver);
    provider.shutdown().unwrap();
    for request in receiver.requests() {
        assert_eq!(request.header("b3"), Some("0"));
    }
}

#[test]
fn sdk_spans_arrive_conformant_in_proto3_with_the_batch_processor() {
    let receiver = Receiver::start();
    let exporter = ZipkinExporter::start(
        report_support::config(&receiver.endpoint())
            .encoding(Encoding::Proto)
            .gzip(true),
    )
    .unwrap();
    let provider = provider(exporter, true);
    make_trace(&provider);
    provider.shutdown().unwrap();
    check_trace(&receiver);
}

#[test]
fn a_rejected_export_is_an_error_not_a_silent_success() {
    let receiver = Receiver::start_with(Fault::AlwaysStatus(400));
    let exporter = ZipkinExporter::start(report_support::config(&receiver.endpoint())).unwrap();
    let reporter = exporter.reporter().clone();
    let provider = provider(exporter, true);
    make_trace(&provider);
    assert!(
        provider.force_flush().is_err(),
        "a 400 must not look like success"
    );
    provider.shutdown().ok();
    let stats = reporter.stats();
    assert_eq!(
        (stats.exported, stats.sent, stats.dropped, stats.pending),
        (3, 0, 3, 0)
    );
}

#[test]
fn export_after_shutdown_is_refused() {
    let receiver = Receiver::start();
    let exporter = ZipkinExporter::start(report_support::config(&receiver.endpoint())).unwrap();
    assert!(exporter
        .shutdown_with_timeout(Duration::from_secs(1))
        .is_ok());
    let result = futures_lite_block_on(exporter.export(Vec::new()));
    assert!(result.is_err());
}

/// Our exporter's future is always ready; polling it once needs no executor.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the exporter's future must be ready at once"),
    }
}
