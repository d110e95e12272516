//! Shared helpers of the reporter tests (`tests/tests/report_*.rs`).
#![allow(dead_code)]

use std::time::Duration;

use traced::report::{ReporterConfig, ZipkinReporter};
use traced::TracedLayer;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// A config for tests: a fast schedule so nothing waits 5 s for a timer, short backoffs.
pub(crate) fn config(endpoint: &str) -> ReporterConfig {
    ReporterConfig::default()
        .endpoint(endpoint)
        .service_name("Report-Test")
        .schedule_delay(Duration::from_millis(50))
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(200))
}

/// Registry + our layer reporting to `reporter`, sampling every trace.
pub(crate) fn dispatch(reporter: &ZipkinReporter) -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(TracedLayer::new(reporter.clone())))
}

/// Creates `traces` traces of a root and `children` children each, with tags, events, an error
/// and kinds, as instrumented code would. Returns how many spans were created.
pub(crate) fn make_traces(dispatch: &Dispatch, traces: usize, children: usize) -> u64 {
    tracing::dispatcher::with_default(dispatch, || {
        for trace in 0..traces {
            let root = tracing::info_span!(
                "handle_request",
                otel.kind = "server",
                trace,
                user = "ünïcode \"quoted\"\n"
            );
            root.in_scope(|| {
                tracing::info!(attempt = 1, "started");
                for child in 0..children {
                    let span = tracing::info_span!(
                        "query",
                        child,
                        peer.service = "DB",
                        otel.kind = "client"
                    );
                    span.in_scope(|| {
                        if child == 0 {
                            tracing::error!("boom \u{1}");
                        }
                    });
                }
            });
        }
    });
    (traces * (children + 1)) as u64
}

/// Waits until `check` holds or `timeout` passes; returns whether it held.
pub(crate) fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
