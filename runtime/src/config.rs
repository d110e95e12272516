//! Configuration from the standard OpenTelemetry environment variables.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OTEL_SERVICE_NAME` | the service name on every span | `service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else the executable's name |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` (percent-encoded values); become tags on every span | none |
//! | `OTEL_TRACES_EXPORTER` | `zipkin`, `otlp`, `console`, `file`, `none`; comma-separated | `zipkin` when `OTEL_EXPORTER_ZIPKIN_ENDPOINT` is set, `otlp` when an OTLP endpoint is, both when both are, else `console` |
//! | `OTEL_EXPORTER_ZIPKIN_ENDPOINT` | the collector's URL, or `kafka://host:port[,host:port…][/topic]` for a Kafka topic (feature `kafka`) | `http://localhost:9411/api/v2/spans` |
//! | `OTEL_EXPORTER_ZIPKIN_TIMEOUT` | milliseconds per request to the collector | the reporter's |
//! | `OTEL_EXPORTER_ZIPKIN_HEADERS` | `key=value,…` sent with every request (e.g. `Authorization`) | none |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the OTLP/HTTP collector's base URL; traces go to `{base}/v1/traces` | `http://localhost:4318` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the full traces URL, used as given (wins over the base) | |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `http/protobuf` or `http/json` (`grpc` is not supported) | `http/protobuf` |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | `key=value,…` sent with every request; the traces list wins for a name in both | none |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` | milliseconds per request | `10000` |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` | `gzip` or `none` | `none` |
//! | `OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` | the most tags a span (and fields an event) keeps, for every exporter | `128` |
//! | `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` | the most characters a text value keeps, for every exporter | no limit |
//! | `OTEL_SPAN_EVENT_COUNT_LIMIT` | the most events (annotations) a span keeps | `128` |
//! | `OTEL_SPAN_LINK_COUNT_LIMIT` | the most links a span keeps | `128` |
//! | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `ratelimiting`, `jaeger_remote`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`, `parentbased_ratelimiting`, `parentbased_jaeger_remote` | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | the ratio (`0`–`1`, default `1`) or traces per second (default `100`); for `jaeger_remote`, `endpoint=…,pollingIntervalMs=…,initialSamplingRate=…` (each optional: `http://localhost:5778`, `60000`, `0.001`) | |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | spans queued for the collector before new ones are dropped | the reporter's |
//! | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans per request | the reporter's |
//! | `OTEL_BSP_SCHEDULE_DELAY` | milliseconds between two sends | the reporter's |
//! | `OTEL_BSP_EXPORT_TIMEOUT` | milliseconds one export (with retries) may take | the reporter's |
//! | `OTEL_PROPAGATORS` | `tracecontext`, `b3`, `b3multi`, `jaeger` (with `uberctx-*` baggage), `baggage` (W3C), `none`, … comma-separated | the propagator's default (every format read, `b3` and `baggage` written) |
//! | `TRACED_BAGGAGE_TAGS` | [baggage](crate::baggage) keys copied onto every span that has them, as tags of the same name (secret-named keys `REDACTED`), comma-separated: `user.id,tenant` | none |
//! | `TRACED_FILE` | where the `file` exporter writes Zipkin v2 JSON | `traces.json` |
//! | `TRACED_SPANS` | which spans reach the exporters, in `RUST_LOG`'s syntax (`info`, `my_crate=debug,hyper=off`); when set it decides for every span, `#[traced]` ones included | every `#[traced]` span at any level, other spans at `info` or above |
//! | `RUST_LOG` | the log layers' filter (`builder().fmt()`, `builder().layer(..)`); never the spans | `info` |
//!
//! An empty variable counts as unset, as the OpenTelemetry specification says.
//!
//! ```
//! use traced::config::{Config, ExporterKind, SamplerConfig};
//!
//! let config = Config::from_vars([
//!     ("OTEL_SERVICE_NAME", "checkout"),
//!     ("OTEL_TRACES_EXPORTER", "zipkin,console"),
//!     ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
//!     ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
//! ])
//! .unwrap();
//! assert_eq!(config.service_name, "checkout");
//! assert_eq!(config.exporters(), vec![ExporterKind::Zipkin, ExporterKind::Console]);
//! assert_eq!(config.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::encode::Encoding;
use crate::limits::SpanLimits;
use crate::sample::{
    AlwaysOff, AlwaysOn, JaegerRemote, JaegerRemoteConfig, ParentBased, RateLimiting, Sampler,
    TraceIdRatio,
};

/// The collector URL used when `OTEL_EXPORTER_ZIPKIN_ENDPOINT` is unset.
pub const DEFAULT_ZIPKIN_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";

/// The OTLP/HTTP base URL used when no OTLP endpoint variable is set.
pub const DEFAULT_OTLP_BASE: &str = "http://localhost:4318";

/// The file the `file` exporter writes when `TRACED_FILE` is unset.
pub const DEFAULT_FILE: &str = "traces.json";

/// Traces per second for `ratelimiting` when `OTEL_TRACES_SAMPLER_ARG` is unset.
pub const DEFAULT_RATE_LIMIT: f64 = 100.0;

/// Where finished spans go.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ExporterKind {
    /// To a Zipkin collector over HTTP.
    Zipkin,
    /// To an OTLP/HTTP collector (Jaeger v2, Grafana Tempo, the OpenTelemetry Collector).
    Otlp,
    /// A waterfall per finished trace on stderr.
    Console,
    /// Zipkin v2 JSON in a file (`TRACED_FILE`) that the Zipkin UI can load.
    File,
}

impl ExporterKind {
    /// The name `OTEL_TRACES_EXPORTER` uses.
    pub fn name(self) -> &'static str {
        match self {
            ExporterKind::Zipkin => "zipkin",
            ExporterKind::Otlp => "otlp",
            ExporterKind::Console => "console",
            ExporterKind::File => "file",
        }
    }
}

/// Which sampler decides new traces.
///
/// ```
/// use traced::config::SamplerConfig;
/// use traced::model::{Sampling, TraceId};
/// let sampler = SamplerConfig::ParentBasedAlwaysOff.build();
/// assert_eq!(sampler.sample(TraceId(1), Some(Sampling::Accept)), Sampling::Accept);
/// assert_eq!(sampler.sample(TraceId(1), None), Sampling::Deny);
/// ```
#[derive(Clone, PartialEq, Debug, Default)]
pub enum SamplerConfig {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with its ratio.
    TraceIdRatio(f64),
    /// `ratelimiting` with its traces per second.
    RateLimiting(f64),
    /// `parentbased_always_on`, the default.
    #[default]
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with its ratio.
    ParentBasedTraceIdRatio(f64),
    /// `parentbased_ratelimiting` with its traces per second.
    ParentBasedRateLimiting(f64),
    /// `jaeger_remote`: the strategy a Jaeger sampling endpoint serves
    /// ([`crate::sample::JaegerRemote`]).
    JaegerRemote(JaegerRemoteConfig),
    /// `parentbased_jaeger_remote`: the caller's decision, else a Jaeger sampling endpoint's.
    ParentBasedJaegerRemote(JaegerRemoteConfig),
}

impl SamplerConfig {
    /// The sampler this names; a Jaeger remote sampler asks for the strategy of the
    /// executable's name (see [`SamplerConfig::build_for`]).
    pub fn build(self) -> Box<dyn Sampler> {
        self.build_for(&default_service_name())
    }

    /// The sampler this names, for the service `service_name` (the name a Jaeger remote
    /// sampler asks its strategy for; the other samplers ignore it).
    ///
    /// ```
    /// use traced::config::SamplerConfig;
    /// use traced::model::{Sampling, TraceId};
    /// let sampler = SamplerConfig::TraceIdRatio(1.0).build_for("checkout");
    /// assert_eq!(sampler.sample(TraceId(1), None), Sampling::Accept);
    /// ```
    pub fn build_for(self, service_name: &str) -> Box<dyn Sampler> {
        match self {
            SamplerConfig::AlwaysOn => Box::new(AlwaysOn),
            SamplerConfig::AlwaysOff => Box::new(AlwaysOff),
            SamplerConfig::TraceIdRatio(ratio) => Box::new(TraceIdRatio::new(ratio)),
            SamplerConfig::RateLimiting(rate) => Box::new(RateLimiting::new(rate)),
            SamplerConfig::ParentBasedAlwaysOn => Box::new(ParentBased::new(AlwaysOn)),
            SamplerConfig::ParentBasedAlwaysOff => Box::new(ParentBased::new(AlwaysOff)),
            SamplerConfig::ParentBasedTraceIdRatio(ratio) => {
                Box::new(ParentBased::new(TraceIdRatio::new(ratio)))
            }
            SamplerConfig::ParentBasedRateLimiting(rate) => {
                Box::new(ParentBased::new(RateLimiting::new(rate)))
            }
            SamplerConfig::JaegerRemote(config) => {
                Box::new(JaegerRemote::new(config, service_name))
            }
            SamplerConfig::ParentBasedJaegerRemote(config) => {
                Box::new(ParentBased::new(JaegerRemote::new(config, service_name)))
            }
        }
    }
}

/// Everything the environment configures. Fields left `None` take the reporter's defaults.
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub struct Config {
    /// `OTEL_SERVICE_NAME`, else `service.name` from the resource attributes, else the
    /// executable's name.
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES` without `service.name`, decoded, in order.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_EXPORTER` as given; `None` when unset (see [`Config::exporters`]).
    pub traces_exporter: Option<Vec<ExporterKind>>,
    /// `OTEL_EXPORTER_ZIPKIN_ENDPOINT`.
    pub zipkin_endpoint: String,
    /// Whether a Zipkin endpoint was configured (`OTEL_EXPORTER_ZIPKIN_ENDPOINT` or the
    /// builder): what [`Config::exporters`] reads when `OTEL_TRACES_EXPORTER` is unset.
    pub(crate) zipkin_endpoint_set: bool,
    /// `OTEL_EXPORTER_ZIPKIN_TIMEOUT`.
    pub zipkin_timeout: Option<Duration>,
    /// `OTEL_EXPORTER_ZIPKIN_HEADERS`, decoded.
    pub zipkin_headers: Vec<(String, String)>,
    /// The OTLP traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    pub otlp_endpoint: String,
    /// Whether an OTLP endpoint was configured (a variable or the builder): what
    /// [`Config::exporters`] reads when `OTEL_TRACES_EXPORTER` is unset.
    pub(crate) otlp_endpoint_set: bool,
    /// `OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`: [`Encoding::OtlpProtobuf`] or
    /// [`Encoding::OtlpJson`].
    pub otlp_encoding: Encoding,
    /// `OTEL_EXPORTER_OTLP[_TRACES]_HEADERS`, decoded and merged.
    pub otlp_headers: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT`.
    pub otlp_timeout: Option<Duration>,
    /// `OTEL_EXPORTER_OTLP[_TRACES]_COMPRESSION`: whether it is `gzip`.
    pub otlp_gzip: Option<bool>,
    /// The span limits (`OTEL_ATTRIBUTE_*`, `OTEL_SPAN_*_LIMIT`).
    pub limits: SpanLimits,
    /// `OTEL_TRACES_SAMPLER` with `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: SamplerConfig,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub max_queue_size: Option<usize>,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    pub max_export_batch_size: Option<usize>,
    /// `OTEL_BSP_SCHEDULE_DELAY`.
    pub schedule_delay: Option<Duration>,
    /// `OTEL_BSP_EXPORT_TIMEOUT`.
    pub export_timeout: Option<Duration>,
    /// `OTEL_PROPAGATORS`, unparsed (the propagation module knows the names).
    pub propagators: Option<String>,
    /// `TRACED_FILE`.
    pub file_path: PathBuf,
    /// `TRACED_SPANS`: the span filter's directives, checked; `None` for the default (every
    /// `#[traced]` span, other spans at `info` or above).
    pub span_filter: Option<String>,
    /// `TRACED_BAGGAGE_TAGS`: the baggage keys copied onto spans as tags, in order.
    pub baggage_tags: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            service_name: default_service_name(),
            resource_attributes: Vec::new(),
            traces_exporter: None,
            zipkin_endpoint: DEFAULT_ZIPKIN_ENDPOINT.to_owned(),
            zipkin_endpoint_set: false,
            zipkin_timeout: None,
            zipkin_headers: Vec::new(),
            otlp_endpoint: otlp_traces_url(DEFAULT_OTLP_BASE),
            otlp_endpoint_set: false,
            otlp_encoding: Encoding::OtlpProtobuf,
            otlp_headers: Vec::new(),
            otlp_timeout: None,
            otlp_gzip: None,
            limits: SpanLimits::default(),
            sampler: SamplerConfig::default(),
            max_queue_size: None,
            max_export_batch_size: None,
            schedule_delay: None,
            export_timeout: None,
            propagators: None,
            file_path: PathBuf::from(DEFAULT_FILE),
            span_filter: None,
            baggage_tags: Vec::new(),
        }
    }
}

/// A variable with a value that cannot be used.
///
/// ```
/// use traced::config::Config;
/// let error = Config::from_vars([("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]).unwrap_err();
/// assert_eq!(error.variable, "OTEL_BSP_MAX_QUEUE_SIZE");
/// assert!(error.to_string().contains("\"lots\""));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// The value it had (lossily decoded when it was not UTF-8).
    pub value: String,
    /// What the variable accepts.
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

const SAMPLERS: &str = "one of always_on, always_off, traceidratio, ratelimiting, \
                        jaeger_remote, parentbased_always_on, parentbased_always_off, \
                        parentbased_traceidratio, parentbased_ratelimiting, \
                        parentbased_jaeger_remote";

impl Config {
    /// Reads the process environment; the first bad value is an error.
    pub fn from_env() -> Result<Config, ConfigError> {
        first_error(Config::parse_env())
    }

    /// Reads the process environment; bad values fall back to their defaults and are returned.
    pub fn parse_env() -> (Config, Vec<ConfigError>) {
        Config::parse(|name| {
            std::env::var_os(name).map(|value| {
                value
                    .into_string()
                    .map_err(|raw| raw.to_string_lossy().into_owned())
            })
        })
    }

    /// Reads the given variables instead of the environment; the first bad value is an error.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Config, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        first_error(Config::parse_vars(vars))
    }

    /// Reads the given variables; bad values fall back to their defaults and are returned.
    ///
    /// ```
    /// use traced::config::{Config, SamplerConfig};
    /// let (config, errors) = Config::parse_vars([("OTEL_TRACES_SAMPLER", "sometimes")]);
    /// assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
    /// assert_eq!(errors[0].variable, "OTEL_TRACES_SAMPLER");
    /// ```
    pub fn parse_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> (Config, Vec<ConfigError>)
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        Config::parse(|name| map.get(name).cloned().map(Ok))
    }

    /// Parses from `lookup`, which gives a variable's value, or `Err` with the lossily decoded
    /// text when the value is not UTF-8.
    pub fn parse(
        lookup: impl Fn(&str) -> Option<Result<String, String>>,
    ) -> (Config, Vec<ConfigError>) {
        let mut parser = Parser {
            lookup: &lookup,
            errors: Vec::new(),
        };
        let mut config = Config::default();

        if let Some(raw) = parser.get("OTEL_RESOURCE_ATTRIBUTES") {
            match parse_pairs(&raw) {
                Ok(pairs) => {
                    for (key, value) in pairs {
                        if key == "service.name" {
                            if !value.is_empty() {
                                config.service_name = value;
                            }
                        } else {
                            config.resource_attributes.push((key, value));
                        }
                    }
                }
                Err(expected) => parser.error("OTEL_RESOURCE_ATTRIBUTES", &raw, expected),
            }
        }
        if let Some(name) = parser.get("OTEL_SERVICE_NAME") {
            config.service_name = name;
        }

        if let Some(raw) = parser.get("OTEL_TRACES_EXPORTER") {
            match parse_exporters(&raw) {
                Some(kinds) => config.traces_exporter = Some(kinds),
                None => parser.error(
                    "OTEL_TRACES_EXPORTER",
                    &raw,
                    "a comma-separated list of zipkin, otlp, console, file, or none",
                ),
            }
        }

        if let Some(raw) = parser.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
            if is_endpoint_url(&raw) {
                config.zipkin_endpoint = raw;
                config.zipkin_endpoint_set = true;
            } else {
                parser.error(
                    "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
                    &raw,
                    "an http:// or https:// URL such as http://localhost:9411/api/v2/spans, or \
                     kafka://host:port/topic",
                );
            }
        }
        config.zipkin_timeout = parser.millis("OTEL_EXPORTER_ZIPKIN_TIMEOUT");
        if let Some(raw) = parser.get("OTEL_EXPORTER_ZIPKIN_HEADERS") {
            match parse_pairs(&raw).and_then(check_headers) {
                Ok(pairs) => config.zipkin_headers = pairs,
                Err(expected) => parser.error("OTEL_EXPORTER_ZIPKIN_HEADERS", &raw, expected),
            }
        }

        parser.otlp(&mut config);
        config.limits = parser.limits();

        config.sampler = parser.sampler();

        config.max_queue_size = parser.count("OTEL_BSP_MAX_QUEUE_SIZE");
        config.max_export_batch_size = parser.count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
        if let (Some(queue), Some(batch)) = (config.max_queue_size, config.max_export_batch_size) {
            if batch > queue {
                parser.error(
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    &batch.to_string(),
                    format!("at most OTEL_BSP_MAX_QUEUE_SIZE ({queue})"),
                );
                config.max_export_batch_size = None;
            }
        }
        config.schedule_delay = parser.millis("OTEL_BSP_SCHEDULE_DELAY");
        config.export_timeout = parser.millis("OTEL_BSP_EXPORT_TIMEOUT");

        config.propagators = parser.get("OTEL_PROPAGATORS");
        if let Some(path) = parser.get("TRACED_FILE") {
            config.file_path = PathBuf::from(path);
        }

        if let Some(directives) = parser.get("TRACED_SPANS") {
            match parse_directives(&directives) {
                Ok(_) => config.span_filter = Some(directives),
                Err(expected) => parser.error("TRACED_SPANS", &directives, expected),
            }
        }

        if let Some(raw) = parser.get("TRACED_BAGGAGE_TAGS") {
            match parse_baggage_keys(&raw) {
                Some(keys) => config.baggage_tags = keys,
                None => parser.error(
                    "TRACED_BAGGAGE_TAGS",
                    &raw,
                    "comma-separated baggage keys (HTTP tokens) such as user.id,tenant",
                ),
            }
        }

        (config, parser.errors)
    }

    /// The exporters to install: `OTEL_TRACES_EXPORTER` as given; when it is unset, `zipkin` if
    /// a Zipkin endpoint was configured (`OTEL_EXPORTER_ZIPKIN_ENDPOINT` or the builder), else
    /// `console`.
    ///
    /// The rule exists for the first minute with the library: a program set up with nothing
    /// configured shows its traces in the terminal and exits at once, instead of retrying a
    /// collector on `localhost:9411` that is not there. Anyone who names an exporter or an
    /// endpoint gets exactly that.
    ///
    /// ```
    /// use traced::config::{Config, ExporterKind};
    ///
    /// let nothing = Config::from_vars([("OTEL_SERVICE_NAME", "shop")]).unwrap();
    /// assert_eq!(nothing.exporters(), vec![ExporterKind::Console]);
    /// let endpoint = Config::from_vars([(
    ///     "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
    ///     "http://zipkin:9411/api/v2/spans",
    /// )])
    /// .unwrap();
    /// assert_eq!(endpoint.exporters(), vec![ExporterKind::Zipkin]);
    /// ```
    pub fn exporters(&self) -> Vec<ExporterKind> {
        if let Some(kinds) = &self.traces_exporter {
            return kinds.clone();
        }
        let mut kinds = Vec::new();
        if self.zipkin_endpoint_set {
            kinds.push(ExporterKind::Zipkin);
        }
        if self.otlp_endpoint_set {
            kinds.push(ExporterKind::Otlp);
        }
        if kinds.is_empty() {
            kinds.push(ExporterKind::Console);
        }
        kinds
    }
}

/// Parses `RUST_LOG`-style filter directives, or says what they should be.
pub(crate) fn parse_directives(directives: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(directives)
        .map_err(|error| format!("tracing-subscriber filter directives ({error})"))
}

fn first_error((config, errors): (Config, Vec<ConfigError>)) -> Result<Config, ConfigError> {
    match errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(config),
    }
}

struct Parser<'a> {
    lookup: &'a dyn Fn(&str) -> Option<Result<String, String>>,
    errors: Vec<ConfigError>,
}

impl Parser<'_> {
    /// The trimmed value; empty counts as unset, non-UTF-8 is an error.
    fn get(&mut self, variable: &'static str) -> Option<String> {
        match (self.lookup)(variable)? {
            Ok(value) => {
                let value = value.trim();
                (!value.is_empty()).then(|| value.to_owned())
            }
            Err(lossy) => {
                self.error(variable, &lossy, "valid UTF-8");
                None
            }
        }
    }

    fn error(&mut self, variable: &'static str, value: &str, expected: impl Into<String>) {
        self.errors.push(ConfigError {
            variable,
            value: value.to_owned(),
            expected: expected.into(),
        });
    }

    fn count(&mut self, variable: &'static str) -> Option<usize> {
        let raw = self.get(variable)?;
        match raw.parse::<usize>() {
            Ok(count) if count > 0 => Some(count),
            _ => {
                self.error(variable, &raw, "a whole number greater than 0");
                None
            }
        }
    }

    fn millis(&mut self, variable: &'static str) -> Option<Duration> {
        let raw = self.get(variable)?;
        match raw.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
            _ => {
                self.error(
                    variable,
                    &raw,
                    "a whole number of milliseconds greater than 0",
                );
                None
            }
        }
    }

    /// The OTLP variables: each `OTEL_EXPORTER_OTLP_TRACES_*` wins over its
    /// `OTEL_EXPORTER_OTLP_*`, as the specification says.
    fn otlp(&mut self, config: &mut Config) {
        const URL: &str = "an http:// or https:// URL such as http://localhost:4318";
        if let Some(raw) = self.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            if is_http_url(&raw) {
                config.otlp_endpoint = raw;
                config.otlp_endpoint_set = true;
            } else {
                self.error("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &raw, URL);
            }
        } else if let Some(raw) = self.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            if is_http_url(&raw) {
                config.otlp_endpoint = otlp_traces_url(&raw);
                config.otlp_endpoint_set = true;
            } else {
                self.error("OTEL_EXPORTER_OTLP_ENDPOINT", &raw, URL);
            }
        }
        let (variable, raw) = self.either((
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ));
        if let Some(raw) = raw {
            match raw.to_ascii_lowercase().as_str() {
                "http/protobuf" => config.otlp_encoding = Encoding::OtlpProtobuf,
                "http/json" => config.otlp_encoding = Encoding::OtlpJson,
                "grpc" => self.error(
                    variable,
                    &raw,
                    "http/protobuf or http/json (traced speaks OTLP over HTTP; every OTLP \
                     collector also listens for it, on port 4318)",
                ),
                _ => self.error(variable, &raw, "http/protobuf or http/json"),
            }
        }
        for variable in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(raw) = self.get(variable) {
                match parse_pairs(&raw).and_then(check_headers) {
                    Ok(pairs) => {
                        for (name, value) in pairs {
                            config
                                .otlp_headers
                                .retain(|(known, _)| !known.eq_ignore_ascii_case(&name));
                            config.otlp_headers.push((name, value));
                        }
                    }
                    Err(expected) => self.error(variable, &raw, expected),
                }
            }
        }
        config.otlp_timeout = self
            .millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| self.millis("OTEL_EXPORTER_OTLP_TIMEOUT"));
        let (variable, raw) = self.either((
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ));
        if let Some(raw) = raw {
            match raw.to_ascii_lowercase().as_str() {
                "gzip" => config.otlp_gzip = Some(true),
                "none" => config.otlp_gzip = Some(false),
                _ => self.error(variable, &raw, "gzip or none"),
            }
        }
    }

    /// The first of a signal-specific variable and its generic one that is set.
    fn either(
        &mut self,
        (specific, generic): (&'static str, &'static str),
    ) -> (&'static str, Option<String>) {
        match self.get(specific) {
            Some(value) => (specific, Some(value)),
            None => (generic, self.get(generic)),
        }
    }

    /// The span limits; each span-specific variable wins over its general one.
    fn limits(&mut self) -> SpanLimits {
        let mut limits = SpanLimits::default();
        let count = &[
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
        ];
        if let Some(count) = self.limit(count) {
            limits.attribute_count = count;
        }
        let length = &[
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ];
        if let Some(length) = self.limit(length) {
            limits.attribute_value_length = Some(length);
        }
        if let Some(count) = self.limit(&["OTEL_SPAN_EVENT_COUNT_LIMIT"]) {
            limits.event_count = count;
        }
        if let Some(count) = self.limit(&["OTEL_SPAN_LINK_COUNT_LIMIT"]) {
            limits.link_count = count;
        }
        limits
    }

    /// A limit from the first of `variables` that is set: a whole number, zero allowed (keep
    /// nothing).
    fn limit(&mut self, variables: &[&'static str]) -> Option<usize> {
        let (variable, raw) = variables
            .iter()
            .find_map(|variable| Some((*variable, self.get(variable)?)))?;
        match raw.parse::<usize>() {
            Ok(limit) => Some(limit),
            Err(_) => {
                self.error(variable, &raw, "a whole number, 0 or more");
                None
            }
        }
    }

    fn sampler(&mut self) -> SamplerConfig {
        let name = self.get("OTEL_TRACES_SAMPLER");
        let arg = self.get("OTEL_TRACES_SAMPLER_ARG");
        let Some(name) = name else {
            return SamplerConfig::default();
        };
        let ratio = |parser: &mut Parser<'_>| match &arg {
            None => 1.0,
            Some(raw) => match raw.parse::<f64>() {
                Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
                _ => {
                    parser.error(
                        "OTEL_TRACES_SAMPLER_ARG",
                        raw,
                        format!("a ratio from 0 to 1 for {name}"),
                    );
                    1.0
                }
            },
        };
        let rate = |parser: &mut Parser<'_>| match &arg {
            None => DEFAULT_RATE_LIMIT,
            Some(raw) => match raw.parse::<f64>() {
                Ok(rate) if rate.is_finite() && rate >= 0.0 => rate,
                _ => {
                    parser.error(
                        "OTEL_TRACES_SAMPLER_ARG",
                        raw,
                        format!("a number of traces per second, 0 or more, for {name}"),
                    );
                    DEFAULT_RATE_LIMIT
                }
            },
        };
        match name.to_ascii_lowercase().as_str() {
            "always_on" => SamplerConfig::AlwaysOn,
            "always_off" => SamplerConfig::AlwaysOff,
            "traceidratio" => SamplerConfig::TraceIdRatio(ratio(self)),
            "ratelimiting" => SamplerConfig::RateLimiting(rate(self)),
            "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio(self)),
            "parentbased_ratelimiting" => SamplerConfig::ParentBasedRateLimiting(rate(self)),
            "jaeger_remote" => SamplerConfig::JaegerRemote(self.jaeger_remote(arg.as_deref())),
            "parentbased_jaeger_remote" => {
                SamplerConfig::ParentBasedJaegerRemote(self.jaeger_remote(arg.as_deref()))
            }
            _ => {
                self.error("OTEL_TRACES_SAMPLER", &name, SAMPLERS);
                SamplerConfig::default()
            }
        }
    }
}

impl Parser<'_> {
    /// `OTEL_TRACES_SAMPLER_ARG` for `jaeger_remote`, in the OpenTelemetry SDK specification's
    /// spelling: `endpoint=…,pollingIntervalMs=…,initialSamplingRate=…`, each optional. A bad
    /// item is reported and its default used; the other items still apply.
    fn jaeger_remote(&mut self, arg: Option<&str>) -> JaegerRemoteConfig {
        const VARIABLE: &str = "OTEL_TRACES_SAMPLER_ARG";
        let mut config = JaegerRemoteConfig::default();
        let Some(arg) = arg else {
            return config;
        };
        for item in arg
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let (key, value) = (key.trim(), value.trim());
            match key {
                "endpoint" if is_endpoint_url(value) && !value.starts_with("kafka:") => {
                    config.endpoint = value.to_owned();
                }
                "endpoint" => self.error(
                    VARIABLE,
                    item,
                    "endpoint=<the Jaeger sampling endpoint's http:// or https:// URL>, such as \
                     endpoint=http://localhost:5778",
                ),
                "pollingIntervalMs" => match value.parse::<u64>() {
                    Ok(ms) if ms > 0 => {
                        config.polling_interval = Duration::from_millis(ms);
                    }
                    _ => self.error(
                        VARIABLE,
                        item,
                        "pollingIntervalMs=<a whole number of milliseconds greater than 0>",
                    ),
                },
                "initialSamplingRate" => match value.parse::<f64>() {
                    Ok(rate) if (0.0..=1.0).contains(&rate) => {
                        config.initial_sampling_rate = rate;
                    }
                    _ => self.error(VARIABLE, item, "initialSamplingRate=<a ratio from 0 to 1>"),
                },
                _ => self.error(
                    VARIABLE,
                    item,
                    "comma-separated endpoint=…, pollingIntervalMs=… and initialSamplingRate=… \
                     for jaeger_remote",
                ),
            }
        }
        config
    }
}

fn parse_exporters(raw: &str) -> Option<Vec<ExporterKind>> {
    let mut kinds = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let kind = match name.to_ascii_lowercase().as_str() {
            "zipkin" => ExporterKind::Zipkin,
            "otlp" => ExporterKind::Otlp,
            "console" => ExporterKind::Console,
            "file" => ExporterKind::File,
            "none" => continue,
            _ => return None,
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Some(kinds)
}

/// The traces URL under an OTLP base URL, as the specification builds it.
fn otlp_traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

fn is_http_url(raw: &str) -> bool {
    is_endpoint_url(raw) && !raw.to_ascii_lowercase().starts_with("kafka://")
}

/// `user.id, tenant` as keys, each once, or `None` when one is not a baggage key.
fn parse_baggage_keys(raw: &str) -> Option<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    for key in raw.split(',').map(str::trim).filter(|key| !key.is_empty()) {
        if !crate::baggage::entries::is_token(key) {
            return None;
        }
        if !keys.iter().any(|known| known == key) {
            keys.push(key.to_owned());
        }
    }
    Some(keys)
}

fn is_endpoint_url(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .or_else(|| lower.strip_prefix("kafka://"));
    match rest {
        Some(rest) => {
            let authority = rest.split('/').next().unwrap_or("");
            !authority.is_empty() && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// Parses the W3C-baggage-like `key=value,key=value` list both variables use, percent-decoding
/// keys and values.
fn parse_pairs(raw: &str) -> Result<Vec<(String, String)>, &'static str> {
    const EXPECTED: &str = "comma-separated key=value pairs with percent-encoded values";
    let mut pairs = Vec::new();
    for item in raw.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item.split_once('=').ok_or(EXPECTED)?;
        let key = crate::percent::decode(key.trim()).ok_or(EXPECTED)?;
        let value = crate::percent::decode(value.trim()).ok_or(EXPECTED)?;
        if key.is_empty() {
            return Err(EXPECTED);
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn check_headers(pairs: Vec<(String, String)>) -> Result<Vec<(String, String)>, &'static str> {
    let valid = pairs.iter().all(|(name, value)| {
        http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(value).is_ok()
    });
    if valid {
        Ok(pairs)
    } else {
        Err("comma-separated name=value pairs with valid HTTP header names and values")
    }
}

/// The executable's file name without extension, as OpenTelemetry's default service name uses.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown_service".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_variables_follow_the_specification() {
        let config = Config::from_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=one,x-tenant=a%20b"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "API-KEY=two"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ])
        .unwrap();
        assert_eq!(config.otlp_endpoint, "http://collector:4318/v1/traces");
        assert_eq!(config.otlp_encoding, Encoding::OtlpJson);
        assert_eq!(
            config.otlp_headers,
            [
                ("x-tenant".to_owned(), "a b".to_owned()),
                ("API-KEY".to_owned(), "two".to_owned())
            ]
        );
        assert_eq!(config.otlp_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(config.otlp_gzip, Some(true));
        assert_eq!(config.exporters(), vec![ExporterKind::Otlp]);

        let given = Config::from_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/custom/path",
            ),
            (
                "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
                "http://zipkin:9411/api/v2/spans",
            ),
        ])
        .unwrap();
        assert_eq!(given.otlp_endpoint, "http://tempo:4318/custom/path");
        assert_eq!(
            given.exporters(),
            vec![ExporterKind::Zipkin, ExporterKind::Otlp]
        );
        assert_eq!(
            Config::default().otlp_endpoint,
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn jaeger_remote_takes_the_specification_s_arguments() {
        let config = Config::from_vars([
            ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
            (
                "OTEL_TRACES_SAMPLER_ARG",
                "endpoint=http://jaeger:5778/api/sampling, pollingIntervalMs=5000,initialSamplingRate=0.25",
            ),
        ])
        .unwrap();
        assert_eq!(
            config.sampler,
            SamplerConfig::ParentBasedJaegerRemote(
                JaegerRemoteConfig::new("http://jaeger:5778/api/sampling")
                    .polling_interval(Duration::from_millis(5000))
                    .initial_sampling_rate(0.25)
            )
        );
        let defaults = Config::from_vars([("OTEL_TRACES_SAMPLER", "jaeger_remote")]).unwrap();
        assert_eq!(
            defaults.sampler,
            SamplerConfig::JaegerRemote(JaegerRemoteConfig::default())
        );
    }

    #[test]
    fn a_bad_jaeger_remote_argument_is_named_and_the_rest_still_applies() {
        let (config, errors) = Config::parse_vars([
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            (
                "OTEL_TRACES_SAMPLER_ARG",
                "endpoint=jaeger:5778,pollingIntervalMs=0,initialSamplingRate=2,colour=blue,\
                 initialSamplingRate=0.5",
            ),
        ]);
        let items: Vec<&str> = errors.iter().map(|error| error.value.as_str()).collect();
        assert_eq!(
            items,
            [
                "endpoint=jaeger:5778",
                "pollingIntervalMs=0",
                "initialSamplingRate=2",
                "colour=blue"
            ]
        );
        assert!(errors
            .iter()
            .all(|error| error.variable == "OTEL_TRACES_SAMPLER_ARG"));
        assert_eq!(
            config.sampler,
            SamplerConfig::JaegerRemote(JaegerRemoteConfig::default().initial_sampling_rate(0.5))
        );
    }

    #[test]
    fn bad_otlp_values_are_named() {
        for (variable, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "kafka://k:9092"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "-1"),
        ] {
            let error = Config::from_vars([(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }

    #[test]
    fn limits_take_the_span_specific_variable_first() {
        let config = Config::from_vars([
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "3"),
        ])
        .unwrap();
        assert_eq!(config.limits.attribute_count, 5);
        assert_eq!(config.limits.attribute_value_length, Some(100));
        assert_eq!(config.limits.event_count, 0);
        assert_eq!(config.limits.link_count, 3);
    }

    #[test]
    fn baggage_tags_are_checked_keys() {
        let config =
            Config::from_vars([("TRACED_BAGGAGE_TAGS", " user.id, tenant,,user.id ")]).unwrap();
        assert_eq!(config.baggage_tags, ["user.id", "tenant"]);
        let error = Config::from_vars([("TRACED_BAGGAGE_TAGS", "user id")]).unwrap_err();
        assert_eq!(error.variable, "TRACED_BAGGAGE_TAGS");
        assert!(Config::from_vars([("OTEL_SERVICE_NAME", "x")])
            .unwrap()
            .baggage_tags
            .is_empty());
    }

    #[test]
    fn a_kafka_topic_is_a_zipkin_endpoint() {
        let endpoint = "kafka://k1:9092,k2:9092/zipkin";
        let config = Config::from_vars([("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint)]).unwrap();
        assert_eq!(config.zipkin_endpoint, endpoint);
        assert_eq!(config.exporters(), vec![ExporterKind::Zipkin]);
        let error =
            Config::from_vars([("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "kafka:/k1:9092")]).unwrap_err();
        assert!(
            error.expected.contains("kafka://host:port/topic"),
            "{error}"
        );
    }
}
