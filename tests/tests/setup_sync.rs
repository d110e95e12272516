//! `traced` installed globally in a plain synchronous program: spans from several threads reach
//! a strict Zipkin receiver as one tree, with the service name, and the guard's drop flushes
//! them (the schedule delay is a minute, so only the drop can send them). One global subscriber
//! per process, so this file holds a single test.

use std::time::Duration;

use traced_tests::{tree, Receiver};

#[test]
fn init_in_a_sync_program_reports_every_span_when_the_guard_drops() {
    let receiver = Receiver::start();
    let guard = traced::Builder::from_vars([
        ("OTEL_SERVICE_NAME", "Setup-Sync"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        (
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            receiver.endpoint().as_str(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
    ])
    .try_init()
    .expect("the first install succeeds");

    {
        let root = tracing::info_span!("request", user_id = 7u64);
        let _entered = root.enter();
        tracing::info_span!("load").in_scope(|| {
            tracing::info!(rows = 3u64, "loaded");
        });
        // A child on another thread, parented explicitly.
        std::thread::scope(|scope| {
            let parent = root.clone();
            scope.spawn(move || {
                tracing::info_span!(parent: &parent, "worker").in_scope(|| {
                    tracing::error!("worker failed");
                });
            });
        });
        // Below the default `info` filter: not a span at all.
        tracing::debug_span!("noise").in_scope(|| {});
    }

    assert!(
        receiver.spans().is_empty(),
        "nothing sent before the drop (schedule delay 60 s)"
    );
    assert_eq!(traced::stats().pending, 3, "{:?}", traced::stats());

    // A second install is refused, whichever way it is asked for, and never panics.
    assert!(matches!(
        traced::Builder::from_vars([("OTEL_TRACES_EXPORTER", "none")]).try_init(),
        Err(traced::InitError::AlreadyInstalled)
    ));
    drop(traced::Builder::from_vars([("OTEL_TRACES_EXPORTER", "none")]).init());

    drop(guard);
    let spans = receiver.wait_for_spans(3, Duration::from_secs(5));
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 3, "{}", tree::render_spans(&spans));
    let trace = tree::assert_single_tree(&spans);
    let root = trace.root();
    assert_eq!(root.name.as_deref(), Some("request"));
    assert_eq!(root.tag("user_id"), Some("7"));
    assert_eq!(root.tag("deployment.environment"), Some("test"));
    let mut children: Vec<&str> = trace
        .children_of(root)
        .iter()
        .filter_map(|span| span.name.as_deref())
        .collect();
    children.sort();
    assert_eq!(children, ["load", "worker"]);
    assert_eq!(trace.expect("worker").tag("error"), Some("worker failed"));
    assert_eq!(trace.expect("load").annotations[0].value, "loaded rows=3");
    for span in &spans {
        assert_eq!(span.service(), Some("setup-sync"));
        assert!(span.duration.unwrap() >= 1);
    }

    let stats = traced::stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.pending),
        (3, 0, 0),
        "{stats:?}"
    );
    // Shutting down again reports the same outcome and does not send twice.
    assert_eq!(traced::shutdown().undelivered, 0);
    assert_eq!(receiver.spans().len(), 3);
}
