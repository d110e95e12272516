//! Shared by the live-server tests (`live_*.rs`): a tokio runtime whose every thread reports
//! through traced's layer to one or more reporters at once — typically the real Zipkin under
//! test and the strict receiver, so a test can compare what Zipkin shows with what was sent.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use traced::encode::Encoding;
use traced::export::{Exporter, FanOut};
use traced::report::{ReporterConfig, ZipkinReporter};
use traced::TracedLayer;
use traced_examples::shop::{self, scenario, Config, DataDir};
use traced_tests::Receiver;
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
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(
            TracedLayer::new(FanOut::new(exporters)).baggage_tags([scenario::CUSTOMER_TIER]),
        ));
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

/// Serves `app` on a free loopback port from the current tokio runtime (with the client's
/// address, as the server layer reads it); answers the address.
pub(crate) async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    address
}

/// Plays the shop's scenario (`cargo run --example shop`) once, reported to `endpoint` (a real
/// server) and to the strict receiver; checks the answers, that both got every span and that
/// nothing broke the Zipkin spec; returns how many spans the server was sent.
pub(crate) fn play_shop(endpoint: String) -> u64 {
    play_shop_in(Encoding::Json, endpoint)
}

/// [`play_shop`] in any encoding: Zipkin's, or OTLP's to an OTLP endpoint (the strict receiver
/// then takes the same encoding on its OTLP path, decoded with the official OTLP types).
pub(crate) fn play_shop_in(encoding: Encoding, endpoint: String) -> u64 {
    let receiver = Receiver::start();
    let checked = if encoding.is_otlp() {
        receiver.otlp_endpoint()
    } else {
        receiver.endpoint()
    };
    let sink = |endpoint: String| Sink {
        endpoint,
        encoding,
        gzip: false,
    };
    let reporting = Reporting::start(&[sink(endpoint), sink(checked)]);
    let data = DataDir::temporary().expect("a temporary directory");
    let statuses = reporting.block_on(async {
        let shop = shop::start(&Config::loopback(data.path()))
            .await
            .expect("the shop starts");
        let answers = scenario::run(&shop, |_| {}, |_, _| {}).await;
        shop.stop().await;
        answers
            .expect("every request is answered")
            .iter()
            .map(|answer| answer.status)
            .collect::<Vec<u16>>()
    });
    assert_eq!(statuses, [201, 201, 200, 200, 404, 422]);
    let sent = reporting.finish();
    assert_eq!(sent[0], sent[1], "both sinks got every span");
    receiver.assert_no_violations();
    sent[0]
}
