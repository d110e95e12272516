//! Programmatic setup: the [`Builder`] and what it builds.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_core::Dispatch;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{parse_directives, Config, ConfigError, ExporterKind, SamplerConfig};
use crate::console::ConsoleExporter;
use crate::encode::Encoding;
use crate::export::{Exporter, FanOut};
use crate::file_export::FileExporter;
use crate::layer::TracedLayer;
use crate::limits::SpanLimits;
use crate::model::{Endpoint, Resource};
use crate::propagation::Propagator;
use crate::report::{ReporterConfig, ZipkinReporter};
use crate::sample::Sampler;
use crate::subscriber::TracedSubscriber;

use super::error::InitError;
use super::filter::SpanFilter;
use super::fmt::{Correlated, DispatchCell};
use super::guard::{activate, Installed, Parts, ShutdownReport, TracingGuard, GLOBAL_INSTALLED};
use super::limited::with_limits;
use super::resource::{resource_tags, with_resource};
use super::{DEFAULT_FILTER, DEFAULT_SHUTDOWN_TIMEOUT};

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// What [`Builder::build_dispatch`] makes: everything `try_init` installs, not yet global.
pub(super) struct Installable {
    pub(super) dispatch: Dispatch,
    pub(super) guard: TracingGuard,
    pub(super) propagator: Option<Propagator>,
    /// Why no span can be exported, if so; said once on stderr at install.
    pub(super) discards_all: Option<&'static str>,
}

/// Programmatic setup; starts from the environment's configuration (see [`builder`](super::builder())).
pub struct Builder {
    config: Config,
    errors: Vec<ConfigError>,
    rust_log: Option<String>,
    default_filter: String,
    sampler: Option<Box<dyn Sampler>>,
    custom_exporters: Vec<Arc<dyn Exporter>>,
    layers: Vec<BoxedLayer>,
    /// Where the correlated `fmt` layers find the installed subscriber.
    dispatch_cells: Vec<DispatchCell>,
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

    pub(super) fn from_parts(
        config: Config,
        errors: Vec<ConfigError>,
        rust_log: Option<String>,
    ) -> Builder {
        Builder {
            config,
            errors,
            rust_log: rust_log.filter(|text| !text.trim().is_empty()),
            default_filter: DEFAULT_FILTER.to_owned(),
            sampler: None,
            custom_exporters: Vec::new(),
            layers: Vec::new(),
            dispatch_cells: Vec::new(),
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

    /// The OTLP/HTTP traces URL, used as given (instead of `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// and `OTEL_EXPORTER_OTLP_ENDPOINT`), such as `http://localhost:4318/v1/traces`.
    ///
    /// ```no_run
    /// let _guard = traced::builder()
    ///     .service_name("checkout")
    ///     .otlp_endpoint("http://jaeger:4318/v1/traces")
    ///     .init();
    /// ```
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Builder {
        self.config.otlp_endpoint = url.into();
        self.config.otlp_endpoint_set = true;
        self.overrides(&[
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]);
        self
    }

    /// A header sent with every request to the OTLP collector (e.g. an API key).
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Builder {
        let name = name.into();
        // Replaces a header of the same name from `OTEL_EXPORTER_OTLP_HEADERS`.
        self.config
            .otlp_headers
            .retain(|(known, _)| !known.eq_ignore_ascii_case(&name));
        self.config.otlp_headers.push((name, value.into()));
        self
    }

    /// The span limits for every exporter (instead of `OTEL_ATTRIBUTE_COUNT_LIMIT`, ...).
    pub fn span_limits(mut self, limits: SpanLimits) -> Builder {
        self.config.limits = limits;
        self.overrides(&[
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT",
        ]);
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
    pub fn exporter(mut self, kind: ExporterKind) -> Builder {
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
        self.exporter(ExporterKind::File)
    }

    /// Adds an exporter of your own (an in-memory capture, another backend).
    pub fn custom_exporter(mut self, exporter: impl Exporter) -> Builder {
        self.custom_exporters.push(Arc::new(exporter));
        self
    }

    /// The sampler for new traces (instead of `OTEL_TRACES_SAMPLER`).
    pub fn sampler(mut self, sampler: impl Sampler) -> Builder {
        self.sampler = Some(Box::new(sampler));
        self.overrides(&["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"]);
        self
    }

    /// Like [`Builder::sampler`], by configuration name. A Jaeger remote sampler asks for the
    /// strategy of the service name configured when the layer is built.
    ///
    /// ```
    /// use traced::config::SamplerConfig;
    /// use traced::sample::JaegerRemoteConfig;
    ///
    /// let builder = traced::builder()
    ///     .service_name("checkout")
    ///     .sampler_config(SamplerConfig::ParentBasedJaegerRemote(
    ///         JaegerRemoteConfig::new("http://jaeger:5778").initial_sampling_rate(0.01),
    ///     ));
    /// # drop(builder);
    /// ```
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

    /// How long one request to a collector (Zipkin or OTLP) may take.
    pub fn request_timeout(mut self, timeout: Duration) -> Builder {
        self.config.zipkin_timeout = Some(timeout);
        self.config.otlp_timeout = Some(timeout);
        self.overrides(&[
            "OTEL_EXPORTER_ZIPKIN_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ]);
        self
    }

    /// A collector's wire format: a Zipkin encoding (JSON, the default, or proto3) sets the
    /// Zipkin reporter's, an OTLP one (protobuf, the default, or JSON) the OTLP reporter's
    /// (instead of `OTEL_EXPORTER_OTLP_PROTOCOL`).
    ///
    /// ```
    /// use traced::encode::Encoding;
    /// let builder = traced::builder().encoding(Encoding::Proto).encoding(Encoding::OtlpJson);
    /// assert_eq!(builder.config().otlp_encoding, Encoding::OtlpJson);
    /// ```
    pub fn encoding(mut self, encoding: Encoding) -> Builder {
        if encoding.is_otlp() {
            self.config.otlp_encoding = encoding;
            self.overrides(&[
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            ]);
        } else {
            self.encoding = encoding;
        }
        self
    }

    /// Gzip-compresses the bodies sent to the collectors (needs the `gzip` feature, on by
    /// default); for OTLP instead of `OTEL_EXPORTER_OTLP_COMPRESSION`.
    pub fn gzip(mut self, gzip: bool) -> Builder {
        self.gzip = gzip;
        self.config.otlp_gzip = Some(gzip);
        self.overrides(&[
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        ]);
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
    /// `RUST_LOG` filters it (and only it: spans have their own filter, `TRACED_SPANS`).
    pub fn layer(mut self, layer: impl Layer<Registry> + Send + Sync + 'static) -> Builder {
        self.layers.push(Box::new(layer));
        self
    }

    /// Logs to stderr with tracing-subscriber's `fmt` format, filtered by `RUST_LOG` (default
    /// `info`); an event inside a span ends with that span's `trace_id=… span_id=…`, as Zipkin
    /// shows them, so a log line leads to its trace. Never colored: the lines are for tools too.
    ///
    /// ```text
    /// 2026-12-07T02:41:07.412Z  WARN request:handle{order=7}: shop: slow order=7 trace_id=6f1c0e3a9b2d4c58 span_id=b0a4c2d9e1f37a65
    /// ```
    ///
    /// ```no_run
    /// let _guard = traced::builder().fmt().init();
    /// ```
    ///
    /// For a logger of your own, [`current_context`](crate::current_context) gives the same ids.
    pub fn fmt(mut self) -> Builder {
        let cell = DispatchCell::default();
        self.dispatch_cells.push(cell.clone());
        self.layer(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::stderr)
                .event_format(Correlated::new(cell)),
        )
    }

    /// The propagator for incoming and outgoing requests (instead of `OTEL_PROPAGATORS`).
    pub fn propagator(mut self, propagator: Propagator) -> Builder {
        self.propagator = Some(propagator);
        self.overrides(&["OTEL_PROPAGATORS"]);
        self
    }

    /// Which spans reach the exporters, in `RUST_LOG`'s syntax (instead of `TRACED_SPANS`):
    /// these directives then decide for every span, `#[traced]` ones included. By default every
    /// `#[traced]` span passes, whatever its level, and other spans at `info` or above.
    /// `RUST_LOG` never applies to spans.
    ///
    /// ```
    /// let builder = traced::builder().span_filter("info,my_crate=debug");
    /// assert_eq!(builder.config().span_filter.as_deref(), Some("info,my_crate=debug"));
    /// ```
    pub fn span_filter(mut self, directives: impl Into<String>) -> Builder {
        self.config.span_filter = Some(directives.into());
        self.overrides(&["TRACED_SPANS"]);
        self
    }

    /// The [baggage](crate::baggage) keys copied onto every span that has them, as tags of the
    /// same name (instead of `TRACED_BAGGAGE_TAGS`); a key that names a secret is recorded as
    /// `REDACTED`. See [`TracedLayer::baggage_tags`].
    ///
    /// ```
    /// let builder = traced::builder().baggage_tags(["user.id", "tenant"]);
    /// assert_eq!(builder.config().baggage_tags, ["user.id", "tenant"]);
    /// ```
    pub fn baggage_tags<K: Into<String>>(mut self, keys: impl IntoIterator<Item = K>) -> Builder {
        self.config.baggage_tags = keys.into_iter().map(Into::into).collect();
        self.overrides(&["TRACED_BAGGAGE_TAGS"]);
        self
    }

    /// The log layers' filter when `RUST_LOG` is unset (default `info`); it never applies to
    /// spans (see [`Builder::span_filter`]).
    pub fn default_filter(mut self, directives: impl Into<String>) -> Builder {
        self.default_filter = directives.into();
        self
    }

    /// How long the guard's drop and [`shutdown`](super::shutdown) wait for queued spans (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Installs the global subscriber; bad values print one warning each and use their
    /// defaults. Never panics (see [`init`](super::init)).
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
    pub fn try_init(self) -> Result<TracingGuard, InitError> {
        // `tracing` cannot say whether a global subscriber exists without trying to set one,
        // so this catches a second `traced` install early; another library's is caught below.
        if !self.lenient {
            if let Some(error) = self.errors.first() {
                return Err(InitError::Config(error.clone()));
            }
        }
        if GLOBAL_INSTALLED.load(Ordering::Acquire) {
            return Err(InitError::AlreadyInstalled);
        }
        let Installable {
            dispatch,
            guard,
            propagator,
            discards_all,
        } = self.build_dispatch()?;
        if GLOBAL_INSTALLED.load(Ordering::Acquire)
            || tracing::dispatcher::set_global_default(dispatch).is_err()
        {
            // Lost a race with another installer: stop what was started, quietly.
            if let Some(installed) = &guard.installed {
                installed.done.store(true, Ordering::Release);
                for reporter in &installed.reporters {
                    reporter.shutdown(Duration::ZERO);
                }
            }
            return Err(InitError::AlreadyInstalled);
        }
        GLOBAL_INSTALLED.store(true, Ordering::Release);
        if let Some(reason) = discards_all {
            eprintln!("traced: no span can be exported: {reason}");
        }
        activate(&guard, propagator);
        Ok(guard)
    }

    /// The subscriber `try_init` installs, not yet global: the log layers under `RUST_LOG`, our
    /// layer under the span filter, each filtered on its own.
    pub(super) fn build_dispatch(mut self) -> Result<Installable, InitError> {
        if !self.lenient {
            if let Some(error) = self.errors.first() {
                return Err(InitError::Config(error.clone()));
            }
        }
        let span_filter = self.build_span_filter()?;
        // Checked even with no log layer to apply it to: a bad value is a mistake either way.
        let log_filter = self.log_filter()?;
        let layers = std::mem::take(&mut self.layers);
        // With no other layer, nobody but us would see `#[traced]` calls as tracing spans.
        let only_consumer = layers.is_empty();
        let discards_all = self.discards_all(&span_filter);
        let dispatch_cells = std::mem::take(&mut self.dispatch_cells);
        let Parts {
            layer,
            guard,
            propagator,
        } = self.build_parts()?;
        // A frame is only made for a callsite the filter always wants: span and field directives
        // (`[span{field}]`, the only ones written with `[`) decide per span, which the registry
        // cannot tell a frame, so they keep tracing spans.
        let per_span = span_filter.decides_per_span();
        let traced = layer.fast_path(only_consumer && !per_span);
        // Two shapes, not an `Option` layer: a `None` layer says `always` to every callsite,
        // which would turn the span filter's `never` into `sometimes`.
        // Outermost, `TracedSubscriber` lets the fast path answer `Span::current()`.
        let dispatch = if only_consumer {
            Dispatch::new(TracedSubscriber::new(
                tracing_subscriber::registry().with(traced.with_filter(span_filter)),
            ))
        } else {
            Dispatch::new(TracedSubscriber::new(
                tracing_subscriber::registry()
                    .with(layers.with_filter(log_filter))
                    .with(traced.with_filter(span_filter)),
            ))
        };
        for cell in &dispatch_cells {
            let _ = cell.set(dispatch.downgrade());
        }
        Ok(Installable {
            dispatch,
            guard,
            propagator,
            discards_all,
        })
    }

    /// Why nothing this configuration records can reach an exporter, if so.
    fn discards_all(&self, span_filter: &SpanFilter) -> Option<&'static str> {
        if span_filter.discards_all() {
            Some("the span filter (TRACED_SPANS) is `off`")
        } else if self.sampler.is_none() && self.config.sampler == SamplerConfig::AlwaysOff {
            Some("the sampler (OTEL_TRACES_SAMPLER) is `always_off`")
        } else if self.sampler.is_none()
            && matches!(self.config.sampler, SamplerConfig::TraceIdRatio(ratio) if ratio <= 0.0)
        {
            Some("the sampler (OTEL_TRACES_SAMPLER) is `traceidratio` with a ratio of 0")
        } else if self.config.exporters().is_empty() && self.custom_exporters.is_empty() {
            Some("there is no exporter (OTEL_TRACES_EXPORTER is `none`)")
        } else {
            None
        }
    }

    /// The layer and its guard, for your own subscriber (see [`layer`](super::layer())); also sets the global
    /// propagator and makes [`shutdown`](super::shutdown) and [`stats`](super::stats) refer to this layer's exporters.
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

        let sampler = self.sampler.take().unwrap_or_else(|| {
            self.config
                .sampler
                .clone()
                .build_for(&self.config.service_name)
        });
        let (exporter, others, reporters) = self.build_exporters()?;
        let layer = TracedLayer::new(exporter.clone())
            .sampler(sampler)
            .baggage_tags(self.config.baggage_tags.iter().cloned());
        let installed = Arc::new(Installed {
            core_id: layer.core_id(),
            exporter,
            others,
            reporters,
            shutdown_timeout: self.shutdown_timeout,
            done: AtomicBool::new(false),
            report: Mutex::new(ShutdownReport::default()),
        });
        Ok(Parts {
            layer,
            guard: TracingGuard {
                installed: Some(installed),
            },
            propagator,
        })
    }

    pub(super) fn lenient(mut self) -> Builder {
        self.lenient = true;
        self
    }

    pub(super) fn warn_config_errors(&self) {
        for error in &self.errors {
            eprintln!("traced: {error}; using the default");
        }
    }

    fn build_span_filter(&self) -> Result<SpanFilter, InitError> {
        let Some(directives) = &self.config.span_filter else {
            return Ok(SpanFilter::Default);
        };
        match parse_directives(directives) {
            Ok(filter) => Ok(SpanFilter::Directives(Box::new(filter))),
            Err(expected) => {
                let error = ConfigError {
                    variable: "TRACED_SPANS",
                    value: directives.clone(),
                    expected,
                };
                if !self.lenient {
                    return Err(InitError::Config(error));
                }
                eprintln!("traced: {error}; using the default");
                Ok(SpanFilter::Default)
            }
        }
    }

    /// The log layers' filter: `RUST_LOG`, else the default filter.
    fn log_filter(&self) -> Result<EnvFilter, InitError> {
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

    /// The layer's exporter, the exporters other than the reporters, and the reporters.
    #[allow(clippy::type_complexity)]
    fn build_exporters(
        &mut self,
    ) -> Result<
        (
            Arc<dyn Exporter>,
            Vec<Arc<dyn Exporter>>,
            Vec<Arc<ZipkinReporter>>,
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
        let mut reporters = Vec::new();
        let limits = config.limits;
        for kind in config.exporters() {
            let reporter_config = match kind {
                ExporterKind::Zipkin => Some(self.reporter_config(&local)),
                ExporterKind::Otlp => Some(self.otlp_config()),
                _ => None,
            };
            if let Some(reporter_config) = reporter_config {
                match ZipkinReporter::start(reporter_config) {
                    Ok(started) => {
                        let started = Arc::new(started);
                        reporters.push(started.clone());
                        // OTLP carries the resource attributes in its resource, not as tags.
                        exporters.push(match kind {
                            ExporterKind::Otlp => started,
                            _ => with_resource(started, &resource),
                        });
                    }
                    Err(error) if self.lenient => {
                        eprintln!(
                            "traced: the {} reporter cannot start: {error}; spans are not sent to it",
                            kind.name()
                        );
                    }
                    Err(error) => return Err(InitError::Reporter(error)),
                }
                continue;
            }
            match kind {
                ExporterKind::Zipkin | ExporterKind::Otlp => {}
                ExporterKind::Console => {
                    let console: Arc<dyn Exporter> = with_limits(
                        Arc::new(ConsoleExporter::stderr(&config.service_name)),
                        limits,
                    );
                    others.push(console.clone());
                    exporters.push(console);
                }
                ExporterKind::File => {
                    match FileExporter::create(&config.file_path, local.clone()) {
                        Ok(file) => {
                            let file: Arc<dyn Exporter> = with_limits(Arc::new(file), limits);
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
        Ok((exporter, others, reporters))
    }

    /// The OTLP reporter's configuration: the `OTEL_EXPORTER_OTLP_*` variables (or the
    /// builder), the batch variables shared with Zipkin, the resource.
    fn otlp_config(&self) -> ReporterConfig {
        let config = &self.config;
        let mut resource = Resource::new(config.service_name.clone());
        for (key, value) in &config.resource_attributes {
            resource = resource.attribute(key.clone(), value.clone());
        }
        let mut reporter = self
            .batch_config(ReporterConfig::otlp())
            .endpoint(config.otlp_endpoint.clone())
            .resource(resource)
            .encoding(config.otlp_encoding)
            .gzip(config.otlp_gzip.unwrap_or(self.gzip));
        reporter.headers = config.otlp_headers.clone();
        if let Some(timeout) = config.otlp_timeout.or(config.export_timeout) {
            reporter = reporter.export_timeout(timeout);
        }
        reporter
    }

    /// What every reporter shares: limits, queue and batch sizes, delay, TLS, shutdown.
    fn batch_config(&self, mut reporter: ReporterConfig) -> ReporterConfig {
        let config = &self.config;
        reporter = reporter
            .limits(config.limits)
            .shutdown_timeout(self.shutdown_timeout);
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
        reporter
    }

    fn reporter_config(&self, local: &Endpoint) -> ReporterConfig {
        let config = &self.config;
        let mut reporter = self
            .batch_config(ReporterConfig::default())
            .endpoint(config.zipkin_endpoint.clone())
            .local(local.clone())
            .encoding(self.encoding)
            .gzip(self.gzip);
        reporter.headers = config.zipkin_headers.clone();
        // Both bound one export; the Zipkin-specific variable is the more precise one.
        if let Some(timeout) = config.zipkin_timeout.or(config.export_timeout) {
            reporter = reporter.export_timeout(timeout);
        }
        reporter
    }
}
