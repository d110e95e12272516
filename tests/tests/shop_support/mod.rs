//! Shared by the example tests (`shop_*.rs`, `chain_*.rs`): a tokio runtime whose threads all
//! report to the test receiver, and the spans it got once everything has finished.
#![allow(dead_code)]

use std::time::Duration;

use traced::report::{ReporterConfig, ZipkinReporter};
use traced::TracedLayer;
use traced_tests::{ReceivedSpan, Receiver};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// The spans' names, in order.
pub(crate) fn names<'a>(spans: impl IntoIterator<Item = &'a ReceivedSpan>) -> Vec<&'a str> {
    spans.into_iter().map(ReceivedSpan::name_or_empty).collect()
}

/// The service name spans get when nothing names theirs: no span of the examples may carry it.
pub(crate) const PROCESS_SERVICE: &str = "example-test-process";

/// A receiver, a reporter sending to it, and a runtime whose every thread (workers and the
/// blocking pool) reports through that reporter.
pub(crate) struct Reported {
    pub receiver: Receiver,
    reporter: ZipkinReporter,
    runtime: tokio::runtime::Runtime,
}

impl Reported {
    pub(crate) fn start() -> Reported {
        let receiver = Receiver::start();
        let reporter = ZipkinReporter::start(
            ReporterConfig::default()
                .endpoint(receiver.endpoint())
                .service_name(PROCESS_SERVICE)
                .schedule_delay(Duration::from_millis(50)),
        )
        .expect("a reporter for the receiver");
        let dispatch =
            Dispatch::new(tracing_subscriber::registry().with(TracedLayer::new(reporter.clone())));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                // The thread lives as long as the runtime; so does its default.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .build()
            .expect("a tokio runtime");
        Reported {
            receiver,
            reporter,
            runtime,
        }
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Stops the runtime (so every span has closed), delivers everything and returns what the
    /// receiver got, after checking that nothing was lost and nothing broke the Zipkin spec.
    pub(crate) fn finish(self) -> (Receiver, Vec<ReceivedSpan>) {
        let Reported {
            receiver,
            reporter,
            runtime,
        } = self;
        runtime.shutdown_timeout(Duration::from_secs(10));
        let unsent = reporter.shutdown(Duration::from_secs(10)).unsent;
        let stats = reporter.stats();
        assert_eq!(unsent, 0, "spans left unsent: {stats:?}");
        assert_eq!(stats.dropped, 0, "spans dropped: {stats:?}");
        assert!(stats.sent > 0, "no span was sent: {stats:?}");
        let spans = receiver.wait_for_spans(stats.sent as usize, Duration::from_secs(10));
        assert_eq!(spans.len() as u64, stats.sent, "sent and received differ");
        receiver.assert_no_violations();
        (receiver, spans)
    }
}

/// Where `span` sits in the tree, for failure messages.
pub(crate) fn describe(span: &ReceivedSpan) -> String {
    format!(
        "{} {:?} ({:?} of {:?})",
        span.name_or_empty(),
        span.kind,
        span.service(),
        span.remote_service()
    )
}
