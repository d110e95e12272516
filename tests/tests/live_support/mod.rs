//! Shared by the live-server tests (`live_*.rs`): a tokio runtime whose every thread reports
//! through traced's layer to one or more reporters at once — typically the real Zipkin under
//! test and the strict receiver, so a test can compare what Zipkin shows with what was sent.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use traced::encode::Encoding;
use traced::export::{Exporter, FanOut};
use traced::report::{ReporterConfig, ZipkinReporter};
use traced::TracedLayer;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// The service name spans get when nothing names theirs.
pub(crate) const PROCESS_SERVICE: &str = "live-test-process";

/// Where and how one reporter sends.
#[derive(Clone, Debug)]
pub(crate) struct Sink {
    pub endpoint: String,
    pub encoding: Encoding,
    pub gzip: bool,
}

impl Sink {
    /// JSON, uncompressed.
    pub(crate) fn json(endpoint: impl Into<String>) -> Sink {
        Sink {
            endpoint: endpoint.into(),
            encoding: Encoding::Json,
            gzip: false,
        }
    }
}

/// Reporters (one per sink), and a runtime whose threads all report to every one of them.
pub(crate) struct Reporting {
    reporters: Vec<ZipkinReporter>,
    pub dispatch: Dispatch,
    runtime: tokio::runtime::Runtime,
}

impl Reporting {
    pub(crate) fn start(sinks: &[Sink]) -> Reporting {
        let reporters: Vec<ZipkinReporter> = sinks
            .iter()
            .map(|sink| {
                ZipkinReporter::start(
                    ReporterConfig::default()
                        .endpoint(sink.endpoint.clone())
                        .encoding(sink.encoding)
                        .gzip(sink.gzip)
                        .service_name(PROCESS_SERVICE)
                        .schedule_delay(Duration::from_millis(50)),
                )
                .expect("a reporter")
            })
            .collect();
        let exporters: Vec<Arc<dyn Exporter>> = reporters
            .iter()
            .map(|reporter| Arc::new(reporter.clone()) as Arc<dyn Exporter>)
            .collect();
        let dispatch = Dispatch::new(
            tracing_subscriber::registry().with(TracedLayer::new(FanOut::new(exporters))),
        );
        let on_workers = dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                // The thread lives as long as the runtime; so does its default.
                std::mem::forget(tracing::dispatcher::set_default(&on_workers));
            })
            .build()
            .expect("a tokio runtime");
        Reporting {
            reporters,
            dispatch,
            runtime,
        }
    }

    /// Runs `future` on the runtime, with the caller's thread reporting too.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        tracing::dispatcher::with_default(&self.dispatch, || self.runtime.block_on(future))
    }

    /// Stops the runtime (every span has closed), delivers everything, checks that every
    /// reporter sent every span and dropped none, and returns how many each sent.
    pub(crate) fn finish(self) -> Vec<u64> {
        let Reporting {
            reporters, runtime, ..
        } = self;
        runtime.shutdown_timeout(Duration::from_secs(10));
        reporters
            .iter()
            .map(|reporter| {
                let unsent = reporter.shutdown(Duration::from_secs(20)).unsent;
                let stats = reporter.stats();
                assert_eq!(
                    unsent,
                    0,
                    "spans left unsent to {}: {stats:?}",
                    reporter.endpoint()
                );
                assert_eq!(
                    stats.dropped,
                    0,
                    "spans dropped for {}: {stats:?}",
                    reporter.endpoint()
                );
                assert!(
                    stats.sent > 0,
                    "no span was sent to {}",
                    reporter.endpoint()
                );
                stats.sent
            })
            .collect()
    }
}
