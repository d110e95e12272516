//! One-line setup: [`init`], [`try_init`], [`builder`], [`layer`], [`shutdown`] and [`stats`].
//!
//! `traced::init()` reads the OpenTelemetry variables (see [`crate::config`]), installs the
//! global subscriber — a `tracing-subscriber` registry, an `EnvFilter` from `RUST_LOG`
//! (default `info`) and our [`TracedLayer`] with the configured sampler and exporters — sets
//! the global propagator, and returns a [`TracingGuard`]. Dropping the guard sends what is
//! still queued, waiting at most the shutdown deadline (default 5 s), and says on stderr how
//! many spans could not be delivered.
//!
//! ```no_run
//! let _guard = traced::init();
//! // ... the program; spans go to Zipkin ...
//! // `_guard` flushes when it goes out of scope at the end of `main`
//! ```
//!
//! Nothing here needs or enters an async runtime: the reporter owns its thread and its I/O, so
//! the same setup works in a plain `main`, under `#[tokio::main]` (either flavour) and under any
//! other executor, and dropping the guard inside a runtime neither panics nor `block_on`s.
//!
//! # Flushing on SIGTERM / SIGINT
//!
//! A process killed by a signal skips destructors, so the guard cannot run. Handle the signal,
//! let `main` return (or call [`shutdown`]) and the spans are sent. With tokio:
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() {
//!     let _guard = traced::init();
//!     tokio::select! {
//!         _ = serve() => {}
//!         _ = tokio::signal::ctrl_c() => eprintln!("interrupted, flushing traces"),
//!     }
//! } // `_guard` drops here and flushes within its deadline
//! # async fn serve() {}
//! ```
//!
//! (`tokio::signal::unix::signal(SignalKind::terminate())` covers SIGTERM the same way.)

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, ConfigError, ExporterKind, SamplerConfig};
use crate::console::ConsoleExporter;
use crate::encode::Encoding;
use crate::export::{Exporter, FanOut};
use crate::file_export::FileExporter;
use crate::layer::TracedLayer;
use crate::model::{Endpoint, SpanRecord, TagValue, TraceId};
use crate::propagation::Propagator;
use crate::report::{ReportError, ReporterConfig, Stats, ZipkinReporter};
use crate::sample::Sampler;

/// How long the guard's drop and [`shutdown`] wait for queued spans by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info";

/// Why setup failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// A variable (or a builder value) that cannot be used.
    Config(ConfigError),
    /// A global subscriber was already installed; a process has only one.
    AlreadyInstalled,
    /// The Zipkin reporter could not start.
    Reporter(ReportError),
    /// The `file` exporter could not create its file.
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(error) => write!(f, "traced: {error}"),
            InitError::AlreadyInstalled => f.write_str(
                "traced: a global tracing subscriber is already installed (use traced::layer() \
                 to add traced to your own subscriber)",
            ),
            InitError::Reporter(error) => write!(f, "traced: the Zipkin reporter: {error}"),
            InitError::File { path, source } => {
                write!(f, "traced: cannot create {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Config(error) => Some(error),
            InitError::Reporter(error) => Some(error),
            InitError::File { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(error: ConfigError) -> InitError {
        InitError::Config(error)
    }
}

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

/// What the installed Zipkin reporter did so far; zeros when none is installed.
///
/// ```
/// let stats = traced::stats();
/// assert!(stats.is_balanced());
/// ```
pub fn stats() -> Stats {
    installed()
        .and_then(|installed| installed.reporter.as_ref().map(|reporter| reporter.stats()))
        .unwrap_or_default()
}

/// What a shutdown achieved.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ShutdownReport {
    /// Spans that could not be delivered: dropped by the reporter or still unsent at the
    /// deadline, plus spans the file exporter could not write.
    pub undelivered: u64,
    /// The reporter's final counts (zeros without a Zipkin exporter).
    pub stats: Stats,
}

/// Flushes the exporters when dropped (see [`shutdown`]). Keep it alive until the end of `main`.
#[must_use = "dropping the guard shuts tracing down at once; bind it: `let _guard = traced::init();`"]
pub struct TracingGuard {
    installed: Option<Arc<Installed>>,
}

impl TracingGuard {
    /// Shuts down now and reports what could not be delivered (the drop then does nothing).
    pub fn shutdown(self) -> ShutdownReport {
        match &self.installed {
            Some(installed) => installed.shutdown(),
            None => ShutdownReport::default(),
        }
    }

    /// The reporter's counts so far; zeros without a Zipkin exporter.
    pub fn stats(&self) -> Stats {
        self.installed
            .as_ref()
            .and_then(|installed| installed.reporter.as_ref().map(|reporter| reporter.stats()))
            .unwrap_or_default()
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(installed) = &self.installed {
            installed.shutdown();
        }
    }
}

impl fmt::Debug for TracingGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingGuard")
            .field("installed", &self.installed.is_some())
            .finish()
    }
}

/// What setup installed, shared by the guard and the global [`shutdown`] / [`stats`].
struct Installed {
    /// Every exporter but the reporter, flushed first (they finish quickly).
    others: Vec<Arc<dyn Exporter>>,
    reporter: Option<Arc<ZipkinReporter>>,
    shutdown_timeout: Duration,
    done: AtomicBool,
    report: Mutex<ShutdownReport>,
}

impl Installed {
    fn shutdown(&self) -> ShutdownReport {
        if self.done.swap(true, Ordering::AcqRel) {
            return *self
                .report
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        let mut report = ShutdownReport::default();
        for exporter in &self.others {
            let left = deadline.saturating_duration_since(Instant::now());
            report.undelivered += exporter.flush(left).unsent;
        }
        let written = report.undelivered;
        if let Some(reporter) = &self.reporter {
            let left = deadline.saturating_duration_since(Instant::now());
            // The reporter says on stderr what it could not deliver.
            reporter.shutdown(left);
            report.stats = reporter.stats();
            report.undelivered += report.stats.dropped;
        }
        if written > 0 {
            eprintln!("traced: {written} span(s) could not be written");
        }
        *self
            .report
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = report;
        report
    }
}

static INSTALLED: Mutex<Option<Arc<Installed>>> = Mutex::new(None);

/// Whether `try_init` installed the global subscriber (a process has one).
static GLOBAL_INSTALLED: AtomicBool = AtomicBool::new(false);

fn installed() -> Option<Arc<Installed>> {
    INSTALLED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .clone()
}

fn register(installed: &Arc<Installed>) {
    *INSTALLED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner()) = Some(installed.clone());
}

/// A layer and its guard, built but not yet made global.
struct Parts {
    layer: TracedLayer,
    guard: TracingGuard,
    propagator: Option<Propagator>,
}

impl Parts {
    fn activate(&self) {
        activate(&self.guard, self.propagator.clone());
    }
}

/// Makes an install the one [`shutdown`], [`stats`] and the propagation helpers use.
fn activate(guard: &TracingGuard, propagator: Option<Propagator>) {
    if let Some(propagator) = propagator {
        crate::propagation::set_global(propagator);
    }
    if let Some(installed) = &guard.installed {
        register(installed);
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// Programmatic setup; starts from the environment's configuration (see [`builder`]).
pub struct Builder {
    config: Config,
    errors: Vec<ConfigError>,
    rust_log: Option<String>,
    default_filter: String,
    sampler: Option<Box<dyn Sampler>>,
    custom_exporters: Vec<Arc<dyn Exporter>>,
    layers: Vec<BoxedLayer>,
    propagator: Option<Propagator>,
    shutdown_timeout: Duration,
    encoding: Encoding,
    gzip: bool,
    /// `init()` and `layer()` use defaults for bad values instead of failing.
    lenient: bool,
    tls_root_certs_pem: Option<Vec<u8>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("errors", &self.errors)
            .field("custom_exporters", &self.custom_exporters.len())
            .field("layers", &self.layers.len())
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder reading `vars` instead of the process environment (`RUST_LOG` included), so
    /// tests and embedders do not depend on, or race on, the real environment.
    ///
    /// ```
    /// let builder = traced::setup::Builder::from_vars([("OTEL_SERVICE_NAME", "billing")]);
    /// assert_eq!(builder.config().service_name, "billing");
    /// ```
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Builder
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        let rust_log = vars
            .iter()
            .find(|(key, _)| key == "RUST_LOG")
            .map(|(_, value)| value.clone());
        let (config, errors) = Config::parse_vars(vars);
        Builder::from_parts(config, errors, rust_log)
    }

    fn from_parts(config: Config, errors: Vec<ConfigError>, rust_log: Option<String>) -> Builder {
        Builder {
            config,
            errors,
            rust_log: rust_log.filter(|text| !text.trim().is_empty()),
            default_filter: DEFAULT_FILTER.to_owned(),
            sampler: None,
            custom_exporters: Vec::new(),
            layers: Vec::new(),
            propagator: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            encoding: Encoding::Json,
            gzip: false,
            lenient: false,
            tls_root_certs_pem: None,
        }
    }

    /// The configuration so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The problems found in the variables so far (`try_init` fails on the first).
    pub fn config_errors(&self) -> &[ConfigError] {
        &self.errors
    }

    fn overrides(&mut self, variables: &[&str]) {
        self.errors
            .retain(|error| !variables.contains(&error.variable));
    }

    /// The service name on every span (instead of `OTEL_SERVICE_NAME`).
    pub fn service_name(mut self, name: impl Into<String>) -> Builder {
        self.config.service_name = name.into();
        self.overrides(&["OTEL_SERVICE_NAME"]);
        self
    }

    /// The collector URL (instead of `OTEL_EXPORTER_ZIPKIN_ENDPOINT`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Builder {
        self.config.zipkin_endpoint = url.into();
        self.config.zipkin_endpoint_set = true;
        self.overrides(&["OTEL_EXPORTER_ZIPKIN_ENDPOINT"]);
        self
    }

    /// The exporters to install (instead of `OTEL_TRACES_EXPORTER`); empty installs none.
    pub fn exporters(mut self, kinds: impl IntoIterator<Item = ExporterKind>) -> Builder {
        let mut list = Vec::new();
        for kind in kinds {
            if !list.contains(&kind) {
                list.push(kind);
            }
        }
        self.config.traces_exporter = Some(list);
        self.overrides(&["OTEL_TRACES_EXPORTER"]);
        self
    }

    /// Adds one exporter to those configured (e.g. the console next to Zipkin).
    pub fn with_exporter(mut self, kind: ExporterKind) -> Builder {
        let mut list = self.config.exporters();
        if !list.contains(&kind) {
            list.push(kind);
        }
        self.config.traces_exporter = Some(list);
        self
    }

    /// Adds the `file` exporter, writing Zipkin v2 JSON to `path`.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.config.file_path = path.into();
        self.with_exporter(ExporterKind::File)
    }

    /// Adds an exporter of your own (an in-memory capture, another backend).
    pub fn with_custom_exporter(mut self, exporter: impl Exporter) -> Builder {
        self.custom_exporters.push(Arc::new(exporter));
        self
    }

    /// The sampler for new traces (instead of `OTEL_TRACES_SAMPLER`).
    pub fn sampler(mut self, sampler: impl Sampler) -> Builder {
        self.sampler = Some(Box::new(sampler));
        self.overrides(&["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"]);
        self
    }

    /// Like [`Builder::sampler`], by configuration name.
    pub fn sampler_config(mut self, sampler: SamplerConfig) -> Builder {
        self.config.sampler = sampler;
        self.sampler = None;
        self.overrides(&["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"]);
        self
    }

    /// Spans queued for the collector before new ones are dropped.
    pub fn max_queue_size(mut self, spans: usize) -> Builder {
        self.config.max_queue_size = Some(spans.max(1));
        self.overrides(&["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]);
        self
    }

    /// Spans per request to the collector.
    pub fn max_batch_size(mut self, spans: usize) -> Builder {
        self.config.max_export_batch_size = Some(spans.max(1));
        self.overrides(&["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]);
        self
    }

    /// The longest wait between two sends.
    pub fn schedule_delay(mut self, delay: Duration) -> Builder {
        self.config.schedule_delay = Some(delay);
        self.overrides(&["OTEL_BSP_SCHEDULE_DELAY"]);
        self
    }

    /// How long one export, with its retries, may take.
    pub fn export_timeout(mut self, timeout: Duration) -> Builder {
        self.config.export_timeout = Some(timeout);
        self.overrides(&["OTEL_BSP_EXPORT_TIMEOUT"]);
        self
    }

    /// How long one request to the collector may take.
    pub fn request_timeout(mut self, timeout: Duration) -> Builder {
        self.config.zipkin_timeout = Some(timeout);
        self.overrides(&["OTEL_EXPORTER_ZIPKIN_TIMEOUT"]);
        self
    }

    /// The collector's wire format: JSON (default) or proto3.
    pub fn encoding(mut self, encoding: Encoding) -> Builder {
        self.encoding = encoding;
        self
    }

    /// Gzip-compresses the bodies sent to the collector (needs the `gzip` feature, on by
    /// default).
    pub fn gzip(mut self, gzip: bool) -> Builder {
        self.gzip = gzip;
        self
    }

    /// A header sent with every request to the collector (e.g. `Authorization`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Builder {
        self.config.zipkin_headers.push((name.into(), value.into()));
        self
    }

    /// PEM certificates to trust for an `https://` collector instead of the bundled roots (a
    /// private CA); needs the `rustls` feature. See [`ReporterConfig::tls_root_certs_pem`].
    ///
    /// ```no_run
    /// let _guard = traced::builder()
    ///     .endpoint("https://zipkin.internal:9411/api/v2/spans")
    ///     .tls_root_certs_pem(std::fs::read("/etc/zipkin/ca.pem").unwrap())
    ///     .init();
    /// ```
    pub fn tls_root_certs_pem(mut self, pem: impl Into<Vec<u8>>) -> Builder {
        self.tls_root_certs_pem = Some(pem.into());
        self
    }

    /// Another layer on the same subscriber, e.g. `tracing_subscriber::fmt::layer()`.
    /// `RUST_LOG` filters it too.
    pub fn with_layer(mut self, layer: impl Layer<Registry> + Send + Sync + 'static) -> Builder {
        self.layers.push(Box::new(layer));
        self
    }

    /// The propagator for incoming and outgoing requests (instead of `OTEL_PROPAGATORS`).
    pub fn propagator(mut self, propagator: Propagator) -> Builder {
        self.propagator = Some(propagator);
        self.overrides(&["OTEL_PROPAGATORS"]);
        self
    }

    /// The filter used when `RUST_LOG` is unset (default `info`).
    pub fn default_filter(mut self, directives: impl Into<String>) -> Builder {
        self.default_filter = directives.into();
        self
    }

    /// How long the guard's drop and [`shutdown`] wait for queued spans (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Installs the global subscriber; bad values print one warning each and use their
    /// defaults. Never panics (see [`init`]).
    pub fn init(self) -> TracingGuard {
        self.warn_config_errors();
        match self.lenient().try_init() {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{error}; tracing is not installed");
                TracingGuard { installed: None }
            }
        }
    }

    /// Installs the global subscriber, or says what is wrong.
    pub fn try_init(mut self) -> Result<TracingGuard, InitError> {
        if !self.lenient {
            if let Some(error) = self.errors.first() {
                return Err(InitError::Config(error.clone()));
            }
        }
        // `tracing` cannot say whether a global subscriber exists without trying to set one,
        // so this catches a second `traced` install early; another library's is caught below.
        if GLOBAL_INSTALLED.load(Ordering::Acquire) {
            return Err(InitError::AlreadyInstalled);
        }
        let filter = self.filter()?;
        // An empty `Vec` of layers is never interested in anything and would disable every
        // span; `None` is neutral.
        let layers = Some(std::mem::take(&mut self.layers)).filter(|layers| !layers.is_empty());
        let only_consumer = layers.is_none();
        let Parts {
            layer,
            guard,
            propagator,
        } = self.build_parts()?;
        // With no other layer, nobody but us would see `#[traced]` calls as tracing spans.
        let layer = layer.with_fast_path(only_consumer);
        let subscriber = tracing_subscriber::registry()
            .with(layers)
            .with(filter)
            .with(layer);
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            // Lost a race with another installer: stop what was started, quietly.
            if let Some(installed) = &guard.installed {
                installed.done.store(true, Ordering::Release);
                if let Some(reporter) = &installed.reporter {
                    reporter.shutdown(Duration::ZERO);
                }
            }
            return Err(InitError::AlreadyInstalled);
        }
        GLOBAL_INSTALLED.store(true, Ordering::Release);
        activate(&guard, propagator);
        Ok(guard)
    }

    /// The layer and its guard, for your own subscriber (see [`layer`]); also sets the global
    /// propagator and makes [`shutdown`] and [`stats`] refer to this layer's exporters.
    pub fn build_layer(self) -> Result<(TracedLayer, TracingGuard), InitError> {
        let parts = self.build_parts()?;
        parts.activate();
        Ok((parts.layer, parts.guard))
    }

    /// Everything set up but nothing made global yet, so a failed install changes nothing.
    fn build_parts(mut self) -> Result<Parts, InitError> {
        if !self.lenient {
            if let Some(error) = self.errors.first() {
                return Err(InitError::Config(error.clone()));
            }
        }
        let propagator = match self.propagator.take() {
            Some(propagator) => Some(propagator),
            None => match self.config.propagators.as_deref() {
                Some(text) => match Propagator::from_otel_propagators(text) {
                    Ok(propagator) => Some(propagator),
                    Err(error) => {
                        let error = ConfigError {
                            variable: "OTEL_PROPAGATORS",
                            value: text.to_owned(),
                            expected: error.to_string(),
                        };
                        if !self.lenient {
                            return Err(InitError::Config(error));
                        }
                        eprintln!("traced: {error}; using the default");
                        None
                    }
                },
                None => None,
            },
        };

        let sampler = self
            .sampler
            .take()
            .unwrap_or_else(|| self.config.sampler.build());
        let (exporter, others, reporter) = self.build_exporters()?;
        let installed = Arc::new(Installed {
            others,
            reporter,
            shutdown_timeout: self.shutdown_timeout,
            done: AtomicBool::new(false),
            report: Mutex::new(ShutdownReport::default()),
        });
        Ok(Parts {
            layer: TracedLayer::new(exporter).with_sampler(sampler),
            guard: TracingGuard {
                installed: Some(installed),
            },
            propagator,
        })
    }

    fn lenient(mut self) -> Builder {
        self.lenient = true;
        self
    }

    fn warn_config_errors(&self) {
        for error in &self.errors {
            eprintln!("traced: {error}; using the default");
        }
    }

    fn filter(&self) -> Result<EnvFilter, InitError> {
        if let Some(directives) = &self.rust_log {
            match EnvFilter::try_new(directives) {
                Ok(filter) => return Ok(filter),
                Err(error) => {
                    let error = ConfigError {
                        variable: "RUST_LOG",
                        value: directives.clone(),
                        expected: format!("tracing-subscriber filter directives ({error})"),
                    };
                    if !self.lenient {
                        return Err(InitError::Config(error));
                    }
                    eprintln!("traced: {error}; using {:?}", self.default_filter);
                }
            }
        }
        EnvFilter::try_new(&self.default_filter)
            .or_else(|_| EnvFilter::try_new(DEFAULT_FILTER))
            .map_err(|error| {
                InitError::Config(ConfigError {
                    variable: "RUST_LOG",
                    value: self.default_filter.clone(),
                    expected: error.to_string(),
                })
            })
    }

    /// The layer's exporter, the exporters other than the reporter, and the reporter.
    #[allow(clippy::type_complexity)]
    fn build_exporters(
        &mut self,
    ) -> Result<
        (
            Arc<dyn Exporter>,
            Vec<Arc<dyn Exporter>>,
            Option<Arc<ZipkinReporter>>,
        ),
        InitError,
    > {
        let config = &self.config;
        let local = Endpoint {
            ipv4: crate::encode::host_ipv4(),
            ..Endpoint::service(&config.service_name)
        };
        let resource = resource_tags(&config.resource_attributes);
        let mut exporters: Vec<Arc<dyn Exporter>> = Vec::new();
        let mut others: Vec<Arc<dyn Exporter>> = Vec::new();
        let mut reporter = None;
        for kind in config.exporters() {
            match kind {
                ExporterKind::Zipkin => match ZipkinReporter::start(self.reporter_config(&local)) {
                    Ok(started) => {
                        let started = Arc::new(started);
                        reporter = Some(started.clone());
                        exporters.push(with_resource(started, &resource));
                    }
                    Err(error) if self.lenient => {
                        eprintln!("traced: the Zipkin reporter cannot start: {error}; spans are not sent to Zipkin");
                    }
                    Err(error) => return Err(InitError::Reporter(error)),
                },
                ExporterKind::Console => {
                    let console: Arc<dyn Exporter> =
                        Arc::new(ConsoleExporter::stderr(&config.service_name));
                    others.push(console.clone());
                    exporters.push(console);
                }
                ExporterKind::File => {
                    match FileExporter::create(&config.file_path, local.clone()) {
                        Ok(file) => {
                            let file: Arc<dyn Exporter> = Arc::new(file);
                            others.push(file.clone());
                            exporters.push(with_resource(file, &resource));
                        }
                        Err(source) => {
                            let error = InitError::File {
                                path: config.file_path.clone(),
                                source,
                            };
                            if !self.lenient {
                                return Err(error);
                            }
                            eprintln!("{error}; spans are not written to a file");
                        }
                    }
                }
            }
        }
        others.extend(self.custom_exporters.iter().cloned());
        exporters.append(&mut self.custom_exporters);
        let exporter: Arc<dyn Exporter> = if exporters.len() == 1 {
            exporters.remove(0)
        } else {
            Arc::new(FanOut::new(exporters))
        };
        Ok((exporter, others, reporter))
    }

    fn reporter_config(&self, local: &Endpoint) -> ReporterConfig {
        let config = &self.config;
        let mut reporter = ReporterConfig::default()
            .endpoint(config.zipkin_endpoint.clone())
            .local(local.clone())
            .encoding(self.encoding)
            .gzip(self.gzip)
            .shutdown_timeout(self.shutdown_timeout);
        reporter.headers = config.zipkin_headers.clone();
        reporter.tls_root_certs_pem = self.tls_root_certs_pem.clone();
        if let Some(size) = config.max_queue_size {
            reporter = reporter.max_queue_spans(size);
        }
        if let Some(size) = config.max_export_batch_size {
            reporter = reporter.max_batch_spans(size);
        }
        if let Some(delay) = config.schedule_delay {
            reporter = reporter.schedule_delay(delay);
        }
        // Both bound one export; the Zipkin-specific variable is the more precise one.
        if let Some(timeout) = config.zipkin_timeout.or(config.export_timeout) {
            reporter = reporter.export_timeout(timeout);
        }
        reporter
    }
}

type ResourceTags = Arc<[(Cow<'static, str>, TagValue)]>;

fn resource_tags(attributes: &[(String, String)]) -> ResourceTags {
    attributes
        .iter()
        .map(|(key, value)| {
            (
                Cow::Owned(key.clone()),
                TagValue::Str(Cow::Owned(value.clone())),
            )
        })
        .collect()
}

fn with_resource(exporter: Arc<dyn Exporter>, tags: &ResourceTags) -> Arc<dyn Exporter> {
    if tags.is_empty() {
        exporter
    } else {
        Arc::new(WithResource {
            inner: exporter,
            tags: tags.clone(),
        })
    }
}

/// Adds `OTEL_RESOURCE_ATTRIBUTES` as tags (Zipkin has no resource), unless the span has the
/// key already.
struct WithResource {
    inner: Arc<dyn Exporter>,
    tags: ResourceTags,
}

impl Exporter for WithResource {
    fn export(&self, mut span: SpanRecord) {
        for (key, value) in self.tags.iter() {
            if span.tag(key).is_none() {
                span.tags.push((key.clone(), value.clone()));
            }
        }
        self.inner.export(span)
    }

    fn span_started(&self, trace: TraceId) {
        self.inner.span_started(trace)
    }

    fn flush(&self, timeout: Duration) -> crate::export::FlushOutcome {
        self.inner.flush(timeout)
    }
}
