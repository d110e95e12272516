//! The guard flushes while a panic unwinds through `main`: the spans closed by the unwinding,
//! the panicking one included with its error, still reach the collector.

use std::time::Duration;

use traced_tests::{tree, Receiver};

#[test]
fn the_guard_flushes_during_a_panic() {
    let receiver = Receiver::start();
    let endpoint = receiver.endpoint();
    let outcome = std::panic::catch_unwind(move || {
        // What a `main` that panics looks like: the guard is its first local.
        let _guard = traced::Builder::from_vars([
            ("OTEL_SERVICE_NAME", "panicky"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ])
        .try_init()
        .unwrap();
        // A statement, not the tail expression: a tail's temporaries outlive the guard.
        tracing::info_span!("main").in_scope(|| {
            tracing::info_span!("step").in_scope(|| {});
            tracing::info_span!("doomed").in_scope(|| {
                tracing::error!("about to fail");
                panic!("boom");
            })
        });
    });
    assert!(outcome.is_err(), "the closure panicked");

    let spans = receiver.wait_for_spans(3, Duration::from_secs(5));
    receiver.assert_no_violations();
    let trace = tree::assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("main"));
    assert_eq!(trace.expect("doomed").tag("error"), Some("about to fail"));
    assert!(trace.find("step").is_some());
    assert_eq!(traced::stats().sent, 3);
}
