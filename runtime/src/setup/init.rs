//! The one-line entry points: [`init`], [`try_init`], [`builder`], [`layer`], [`shutdown`] and
//! [`stats`].

use crate::config::Config;
use crate::export::FanOut;
use crate::layer::TracedLayer;
use crate::report::Stats;

use super::builder::Builder;
use super::error::InitError;
use super::guard::{installed, ShutdownReport, TracingGuard};

/// Installs tracing from the environment; a bad variable prints one warning and its default is
/// used. Never panics: if even that fails (a subscriber is already installed), the error is
/// printed and the returned guard does nothing.
///
/// ```no_run
/// let _guard = traced::init();
/// ```
pub fn init() -> TracingGuard {
    builder().init()
}

/// Installs tracing from the environment, or says what is wrong.
///
/// ```no_run
/// match traced::try_init() {
///     Ok(guard) => { /* keep `guard` alive until the end of main */ drop(guard) }
///     Err(error) => eprintln!("{error}"),
/// }
/// ```
pub fn try_init() -> Result<TracingGuard, InitError> {
    builder().try_init()
}

/// Setup from the environment, with programmatic overrides.
///
/// ```no_run
/// use std::time::Duration;
/// use traced::config::ExporterKind;
///
/// let _guard = traced::builder()
///     .service_name("checkout")
///     .endpoint("http://zipkin.internal:9411/api/v2/spans")
///     .exporters([ExporterKind::Zipkin, ExporterKind::Console])
///     .shutdown_timeout(Duration::from_secs(2))
///     .init();
/// ```
pub fn builder() -> Builder {
    let (config, errors) = Config::parse_env();
    Builder::from_parts(config, errors, std::env::var("RUST_LOG").ok())
}

/// A [`TracedLayer`] configured from the environment, for your own subscriber, and the guard
/// that flushes its exporters. Bad variables print one warning each and use their defaults.
/// The span filter (`TRACED_SPANS`) is `init()`'s: on your own subscriber, filter the layer
/// yourself (`layer.with_filter(..)`).
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let (layer, _guard) = traced::layer();
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::EnvFilter::new("info"))
///     .with(layer)
///     .init();
/// ```
pub fn layer() -> (TracedLayer, TracingGuard) {
    let builder = builder();
    builder.warn_config_errors();
    match builder.lenient().build_layer() {
        Ok(built) => built,
        Err(error) => {
            eprintln!("{error}; spans are not exported");
            (
                TracedLayer::new(FanOut::new(Vec::new())),
                TracingGuard { installed: None },
            )
        }
    }
}

/// Flushes and stops the installed exporters, waiting at most their shutdown deadline; says
/// on stderr what could not be delivered. Later calls, and the guard's drop, do nothing more.
///
/// Spans still open on the calling thread — its `#[traced]` calls under way, its current span
/// and that span's ancestors — are reported first, ended at the shutdown with the tag
/// `open_at_shutdown=true` and an annotation `open at shutdown`, and counted in
/// [`ShutdownReport::open_spans`] and on stderr. Spans open on other threads, in futures parked
/// in an executor, or kept open by a handle (a call's span a task still holds) cannot be
/// reached: they are counted in [`ShutdownReport::open_unreachable`] and on stderr, not
/// exported.
///
/// ```
/// // With nothing installed there is nothing to deliver.
/// assert_eq!(traced::shutdown().undelivered, 0);
/// ```
pub fn shutdown() -> ShutdownReport {
    match installed() {
        Some(installed) => installed.shutdown(),
        None => ShutdownReport::default(),
    }
}

/// What the installed reporters (Zipkin, OTLP) did so far, added up; zeros when none is
/// installed.
///
/// ```
/// let stats = traced::stats();
/// assert!(stats.is_balanced());
/// ```
pub fn stats() -> Stats {
    installed()
        .map(|installed| installed.stats())
        .unwrap_or_default()
}
