//! Authenticated collectors: headers from `OTEL_EXPORTER_ZIPKIN_HEADERS` (percent-decoded) and
//! from the builder ride on every POST the one-line setup sends — retries included — and never
//! end up in the spans themselves.
//!
//! The setup registers its exporters process-wide, so this file holds a single test.

use std::time::Duration;

use traced_tests::{Fault, Receiver};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn configured_headers_reach_the_collector_on_every_post_and_never_the_spans() {
    // The first POST fails, so the retry is checked too.
    let receiver = Receiver::start_with(Fault::FailFirst {
        requests: 1,
        status: 503,
    });
    let (layer, guard) = traced::Builder::from_vars([
        ("OTEL_SERVICE_NAME", "auth"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        (
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            receiver.endpoint().as_str(),
        ),
        (
            "OTEL_EXPORTER_ZIPKIN_HEADERS",
            "Authorization=Bearer%20s3cr3t%3D%3D,x-tenant=shop",
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2"),
    ])
    .header("X-Api-Key", "k-123")
    .build_layer()
    .expect("valid configuration");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for request in 0..4u64 {
            tracing::info_span!("request", request).in_scope(|| {
                tracing::info!("handled");
            });
        }
    });
    let report = guard.shutdown();
    assert_eq!(report.undelivered, 0, "{report:?}");

    let spans = receiver.wait_for_spans(4, Duration::from_secs(20));
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 4);
    let requests = receiver.requests();
    // Batches of at most two spans, and the refused first attempt (how the four spans were cut
    // into batches depends on when the reporter's thread woke up).
    assert!(requests.len() >= 3, "{requests:#?}");
    assert_eq!(requests[0].status, Some(503));
    assert_eq!(
        requests.iter().map(|request| request.spans).sum::<usize>(),
        4
    );
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer s3cr3t=="));
        assert_eq!(request.header("x-tenant"), Some("shop"));
        assert_eq!(request.header("x-api-key"), Some("k-123"));
        assert_eq!(request.header("b3"), Some("0"));
    }
    for span in &spans {
        let text = span.to_json().to_string();
        for secret in ["s3cr3t", "k-123", "Bearer"] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
    }
    assert_eq!(report.stats.retries, 1, "{:?}", report.stats);
}
