//! The Zipkin reporter: a bounded queue, one background thread, batched HTTP POSTs.
//!
//! [`ZipkinReporter::export`](crate::export::Exporter::export) never blocks the instrumented
//! code: it puts the span in its thread's own small buffer, which joins a bounded queue (bounded
//! in spans and in estimated bytes) every [`THREAD_BUFFER_SPANS`] spans or whenever the
//! reporter looks; a span the queue has no room for is dropped and the drop counted. One thread
//! owned by the reporter takes the queue, encodes batches (by count and by bytes) and POSTs them
//! over a keep-alive HTTP/1.1 connection, retrying connection errors, 429 and 503 (honouring
//! `Retry-After`) and other 5xx with exponential backoff and jitter, a bounded number of times.
//! Other 4xx answers are not retried. Over OTLP only 429, 502, 503 and 504 are, as its
//! specification says. No async runtime is involved, so the reporter works the same in sync
//! programs and inside any runtime, and dropping it inside one never panics.
//!
//! Every POST carries `b3: 0`, so an instrumented collector does not trace it. Drops are
//! reported by [`ZipkinReporter::stats`] and by a warning on stderr, at most one line every ten
//! seconds.
//!
//! ```no_run
//! use std::time::Duration;
//! use tracing_subscriber::layer::SubscriberExt;
//! use traced::report::{ReporterConfig, ZipkinReporter};
//!
//! let reporter = ZipkinReporter::start(
//!     ReporterConfig::default()
//!         .endpoint("http://localhost:9411/api/v2/spans")
//!         .service_name("checkout"),
//! )?;
//! let subscriber = tracing_subscriber::registry()
//!     .with(traced::TracedLayer::new(reporter.clone()));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("work").in_scope(|| {});
//! });
//! let outcome = reporter.shutdown(Duration::from_secs(5));
//! assert_eq!(outcome.unsent, 0);
//! # Ok::<(), traced::report::ReportError>(())
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::encode::{host_ipv4, Encoding};
use crate::export::{Exporter, FlushOutcome};
use crate::limits::SpanLimits;
use crate::model::{Endpoint, Resource, SpanRecord};

mod http;
#[cfg(feature = "kafka")]
mod kafka;
mod partial_success;
mod queue;
mod resolve;
mod retry;
mod stats;
mod thread_buffer;
mod transport;
mod worker;

pub use stats::Stats;
pub use thread_buffer::THREAD_BUFFER_SPANS;

use queue::{Limits, Shared};
use thread_buffer::ThreadBuffers;

/// Longer waits are taken as this long, so deadlines never overflow the clock (a year).
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The default collector endpoint, as `OTEL_EXPORTER_ZIPKIN_ENDPOINT` defines it.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";

/// The default OTLP/HTTP traces endpoint, as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` defines it.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// How a [`ZipkinReporter`] sends spans. Start from `Default` and change what you need.
///
/// ```
/// use std::time::Duration;
/// use traced::encode::Encoding;
/// use traced::report::ReporterConfig;
///
/// let config = ReporterConfig::default()
///     .endpoint("http://zipkin:9411/api/v2/spans")
///     .service_name("Checkout")
///     .encoding(Encoding::Proto)
///     .header("Authorization", "Bearer secret")
///     .schedule_delay(Duration::from_millis(500));
/// assert_eq!(config.local.service_name.as_deref(), Some("checkout"));
/// assert_eq!(config.max_batch_spans, 512);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReporterConfig {
    /// The collector's URL (default [`DEFAULT_ENDPOINT`]); with the `kafka` feature also a
    /// Kafka topic, `kafka://host:port[,host:port…][/topic]` (topic `zipkin` when not named),
    /// which zipkin-server's Kafka collector consumes. `headers` and the TLS settings apply to
    /// HTTP only; with Kafka, `gzip` compresses the record batches and a batch is at most
    /// 1,000,000 bytes (below the broker's default `message.max.bytes`).
    pub endpoint: String,
    /// This process's endpoint: lower-case service name and host IPv4 (default: no name, the
    /// address of the interface of the default route). Zipkin encodings only.
    pub local: Endpoint,
    /// This process as OTLP describes it: service name as written and resource attributes.
    /// OTLP encodings only.
    pub resource: Resource,
    /// Zipkin JSON (default) or proto3, or OTLP protobuf or JSON.
    pub encoding: Encoding,
    /// The span limits applied on the reporter's thread before encoding (OpenTelemetry's
    /// defaults).
    pub limits: SpanLimits,
    /// Whether bodies are gzip-compressed (default false; needs the `gzip` feature).
    pub gzip: bool,
    /// The most spans queued or in flight (default 32768; `OTEL_BSP_MAX_QUEUE_SIZE` sets it).
    /// Each thread that ends spans also holds up to [`THREAD_BUFFER_SPANS`] of them (and about
    /// 64 KiB) in its own buffer before they join the queue.
    /// OpenTelemetry's 2048 drops spans at a sustained 500k spans/s while a batch is in flight
    /// (measured in `benches/`); memory stays bounded by `max_queue_bytes` either way.
    pub max_queue_spans: usize,
    /// The most estimated memory held by queued or in-flight spans (default 32 MiB).
    pub max_queue_bytes: usize,
    /// The most spans per POST (default 512, as `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub max_batch_spans: usize,
    /// The largest uncompressed body per POST (default 5 MB); a single larger span goes alone.
    pub max_batch_bytes: usize,
    /// How long spans may wait for a batch to fill (default 5 s, as `OTEL_BSP_SCHEDULE_DELAY`;
    /// at least 1 ms); a full batch is sent at once.
    pub schedule_delay: Duration,
    /// The longest one POST may take, connect to answer (default 10 s, as
    /// `OTEL_EXPORTER_ZIPKIN_TIMEOUT`).
    pub export_timeout: Duration,
    /// The longest a connection may take to open (default 5 s, and never more than
    /// `export_timeout`).
    pub connect_timeout: Duration,
    /// POST attempts per batch, the first included (default 5).
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each retry (default 200 ms).
    pub initial_backoff: Duration,
    /// The longest wait between retries (default 5 s).
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured (default 30 s).
    pub max_retry_after: Duration,
    /// Extra request headers, such as `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The deadline used when the reporter is dropped without an explicit shutdown (default 5 s).
    pub shutdown_timeout: Duration,
    /// PEM certificates to trust for an `https://` collector instead of the bundled Mozilla
    /// roots (a private CA, say). Needs the `rustls` feature.
    pub tls_root_certs_pem: Option<Vec<u8>>,
}

impl Default for ReporterConfig {
    fn default() -> ReporterConfig {
        ReporterConfig {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            local: Endpoint {
                ipv4: host_ipv4(),
                ..Endpoint::default()
            },
            resource: Resource::default(),
            encoding: Encoding::Json,
            limits: SpanLimits::default(),
            gzip: false,
            max_queue_spans: 32_768,
            max_queue_bytes: 32 << 20,
            max_batch_spans: 512,
            max_batch_bytes: 5_000_000,
            schedule_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            headers: Vec::new(),
            shutdown_timeout: Duration::from_secs(5),
            tls_root_certs_pem: None,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $type:ty),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $name: $type) -> ReporterConfig {
                self.$name = $name;
                self
            }
        )*
    };
}

impl ReporterConfig {
    /// Sets the collector's URL.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> ReporterConfig {
        self.endpoint = endpoint.into();
        self
    }

    /// A configuration for an OTLP/HTTP collector (Jaeger v2, Grafana Tempo, the OpenTelemetry
    /// Collector): endpoint [`DEFAULT_OTLP_ENDPOINT`], protobuf encoding.
    ///
    /// ```
    /// use traced::encode::Encoding;
    /// use traced::report::ReporterConfig;
    ///
    /// let config = ReporterConfig::otlp().service_name("Checkout");
    /// assert_eq!(config.endpoint, "http://localhost:4318/v1/traces");
    /// assert_eq!(config.encoding, Encoding::OtlpProtobuf);
    /// assert_eq!(config.resource.service_name, "Checkout");
    /// ```
    pub fn otlp() -> ReporterConfig {
        ReporterConfig {
            endpoint: DEFAULT_OTLP_ENDPOINT.to_owned(),
            encoding: Encoding::OtlpProtobuf,
            ..ReporterConfig::default()
        }
    }

    /// Sets the service name: lower-cased on the local endpoint, as Zipkin expects, and as
    /// written in the OTLP resource.
    pub fn service_name(mut self, name: &str) -> ReporterConfig {
        self.local.service_name = Some(Arc::from(name.to_lowercase()));
        self.resource.service_name = name.to_owned();
        self
    }

    /// Adds a request header, such as `Authorization`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ReporterConfig {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Trusts these PEM certificates for an `https://` collector instead of the bundled roots.
    pub fn tls_root_certs_pem(mut self, pem: impl Into<Vec<u8>>) -> ReporterConfig {
        self.tls_root_certs_pem = Some(pem.into());
        self
    }

    setters! {
        /// Sets this process's endpoint (service name, addresses, port).
        local: Endpoint,
        /// Sets the OTLP resource (service name and attributes).
        resource: Resource,
        /// Sets the span limits.
        limits: SpanLimits,
        /// Sets the wire format.
        encoding: Encoding,
        /// Turns gzip compression of bodies on or off.
        gzip: bool,
        /// Sets the most spans queued or in flight.
        max_queue_spans: usize,
        /// Sets the most estimated bytes queued or in flight.
        max_queue_bytes: usize,
        /// Sets the most spans per POST.
        max_batch_spans: usize,
        /// Sets the largest uncompressed body per POST.
        max_batch_bytes: usize,
        /// Sets how long spans may wait for a batch to fill.
        schedule_delay: Duration,
        /// Sets the longest one POST may take.
        export_timeout: Duration,
        /// Sets the longest a connection may take to open.
        connect_timeout: Duration,
        /// Sets the POST attempts per batch, the first included.
        max_attempts: u32,
        /// Sets the wait before the first retry.
        initial_backoff: Duration,
        /// Sets the longest wait between retries.
        max_backoff: Duration,
        /// Sets the longest `Retry-After` honoured.
        max_retry_after: Duration,
        /// Sets the deadline used when the reporter is dropped.
        shutdown_timeout: Duration,
    }
}

/// Why a reporter could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReportError {
    /// The endpoint is not an `http://` (or, with the `rustls` feature, `https://`) URL.
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configured header name or value is not valid HTTP; holds the header's name.
    InvalidHeader(String),
    /// `gzip` was asked for, but traced was built without its `gzip` feature.
    GzipUnavailable,
    /// The TLS settings cannot be used: no `rustls` feature, or certificates that do not parse.
    Tls(String),
    /// A limit is zero or otherwise unusable; says which.
    InvalidLimit(&'static str),
    /// The reporter's thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid collector endpoint {endpoint:?}: {reason}")
            }
            ReportError::InvalidHeader(name) => {
                write!(f, "invalid HTTP header {name:?} for the reporter")
            }
            ReportError::GzipUnavailable => {
                f.write_str("gzip compression needs traced's `gzip` feature")
            }
            ReportError::Tls(why) => {
                write!(f, "invalid TLS settings for the reporter: {why}")
            }
            ReportError::InvalidLimit(what) => write!(f, "invalid reporter limit: {what}"),
            ReportError::Spawn(error) => write!(f, "cannot start the reporter thread: {error}"),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Spawn(error) => Some(error),
            _ => None,
        }
    }
}

/// Sends finished spans to a Zipkin collector from its own thread. Clones share one reporter;
/// when the last clone is dropped it shuts down with [`ReporterConfig::shutdown_timeout`].
///
/// See the [module documentation](self) for an example.
#[derive(Clone)]
pub struct ZipkinReporter {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The threads' buffers in front of `shared`.
    buffers: Arc<ThreadBuffers>,
    thread: Mutex<Option<JoinHandle<()>>>,
    endpoint: String,
    shutdown_timeout: Duration,
}

impl fmt::Debug for ZipkinReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZipkinReporter")
            .field("endpoint", &self.inner.endpoint)
            // Not `stats()`: formatting should not collect the threads' buffers.
            .field("stats", &self.inner.shared.lock().counters.snapshot())
            .finish()
    }
}

impl ZipkinReporter {
    /// Checks `config` and starts the reporter's thread. Nothing is sent until spans arrive.
    ///
    /// ```
    /// use traced::report::{ReporterConfig, ZipkinReporter};
    ///
    /// let error = ZipkinReporter::start(ReporterConfig::default().endpoint("localhost:9411")).unwrap_err();
    /// assert!(error.to_string().contains("localhost:9411"));
    /// ```
    pub fn start(config: ReporterConfig) -> Result<ZipkinReporter, ReportError> {
        if config.gzip && !cfg!(feature = "gzip") {
            return Err(ReportError::GzipUnavailable);
        }
        let positive = [
            (config.max_queue_spans, "max_queue_spans must be at least 1"),
            (config.max_queue_bytes, "max_queue_bytes must be at least 1"),
            (config.max_batch_spans, "max_batch_spans must be at least 1"),
            (config.max_batch_bytes, "max_batch_bytes must be at least 1"),
            (
                config.max_attempts as usize,
                "max_attempts must be at least 1",
            ),
        ];
        if let Some((_, what)) = positive.iter().find(|(value, _)| *value == 0) {
            return Err(ReportError::InvalidLimit(what));
        }
        if config.export_timeout.is_zero() {
            return Err(ReportError::InvalidLimit("export_timeout must be positive"));
        }
        let transport = transport::Transport::new(&config)?;
        // A batch can never be larger than the queue that feeds it (as OTel's processor says).
        let batch_spans = config.max_batch_spans.min(config.max_queue_spans);
        let batch_bytes = match transport.max_batch_bytes() {
            Some(largest) => config.max_batch_bytes.min(largest),
            None => config.max_batch_bytes,
        };
        let shared = Arc::new(Shared::new(Limits {
            max_spans: config.max_queue_spans,
            max_bytes: config.max_queue_bytes,
            batch_spans,
            batch_bytes,
        }));
        let buffers = Arc::new(ThreadBuffers::new(Arc::clone(&shared)));
        let worker = worker::Worker {
            shared: Arc::clone(&shared),
            buffers: Arc::clone(&buffers),
            gzip_body: config.gzip && transport.gzips_body(),
            transport,
            encoding: config.encoding,
            gzip: config.gzip,
            local: crate::encode::LocalEndpoint::new(config.local),
            resource: config.resource,
            limits: config.limits,
            endpoint: config.endpoint.clone(),
            // A zero delay would make an idle worker spin; a millisecond is as good as none.
            schedule_delay: config.schedule_delay.max(Duration::from_millis(1)),
            export_timeout: config.export_timeout,
            max_attempts: config.max_attempts,
            backoff: retry::Backoff {
                initial: config.initial_backoff,
                max: config.max_backoff.max(config.initial_backoff),
            },
            batch_spans,
            batch_bytes,
        };
        let thread = std::thread::Builder::new()
            .name("traced-reporter".into())
            .spawn(move || worker.run())
            .map_err(ReportError::Spawn)?;
        Ok(ZipkinReporter {
            inner: Arc::new(Inner {
                shared,
                buffers,
                thread: Mutex::new(Some(thread)),
                endpoint: config.endpoint,
                shutdown_timeout: config.shutdown_timeout,
            }),
        })
    }

    /// What happened to the spans so far; see [`Stats`].
    ///
    /// ```
    /// use traced::export::Exporter;
    /// use traced::report::{ReporterConfig, ZipkinReporter};
    ///
    /// let reporter = ZipkinReporter::start(ReporterConfig::default().endpoint("http://127.0.0.1:9/")).unwrap();
    /// reporter.shutdown(std::time::Duration::ZERO);
    /// reporter.export(Default::default());
    /// let stats = reporter.stats();
    /// assert_eq!((stats.exported, stats.dropped), (1, 1));
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.buffers.collect();
        self.inner.shared.lock().counters.snapshot()
    }

    /// The collector URL this reporter sends to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// Why the latest failed attempt to deliver failed (an HTTP status with the start of the
    /// answer, a connection error, a Kafka error), or `None` if none has failed yet: for health
    /// checks and for saying why spans were dropped.
    ///
    /// ```
    /// use traced::report::{ReporterConfig, ZipkinReporter};
    ///
    /// let reporter = ZipkinReporter::start(ReporterConfig::default()).unwrap();
    /// assert_eq!(reporter.last_error(), None);
    /// ```
    pub fn last_error(&self) -> Option<String> {
        self.inner.shared.lock().last_error.clone()
    }

    /// Sends what is queued, stops the thread and refuses further spans, within `timeout`.
    /// Says on stderr how many spans were not delivered, and returns how many of those queued
    /// when it was called could not be sent. Calling it again does nothing.
    pub fn shutdown(&self, timeout: Duration) -> FlushOutcome {
        self.inner.shutdown(timeout)
    }
}

impl Inner {
    fn shutdown(&self, timeout: Duration) -> FlushOutcome {
        let Some(thread) = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return FlushOutcome::default();
        };
        let deadline = Instant::now() + timeout.min(LONGEST_WAIT);
        let shared = &self.shared;
        // What the threads buffered is queued, then the queue closes.
        self.buffers.close();
        let mut state = shared.lock();
        let lost_before = state.counters.lost;
        let pending_before = state.counters.snapshot().pending;
        state.deadline = Some(deadline);
        shared.work.notify_all();
        state = shared.wait_for_progress(state, deadline, |state| !state.worker_done);
        let mut abandoned = queue::Taken::default();
        if !state.worker_done {
            // The worker is stuck in a request past the deadline: what it holds is lost. It will
            // see `abandoned`, count nothing more and exit on its own; we do not wait for it.
            state.abandoned = true;
            state.counters.lost += state.held_spans as u64;
            state.held_spans = 0;
            state.held_bytes = 0;
            state.take_waiting(&mut abandoned, &mut Vec::new());
        }
        let worker_done = state.worker_done;
        let unsent = (state.counters.lost - lost_before).min(pending_before);
        let stats = state.counters.snapshot();
        let last_error = state.last_error.clone();
        drop(state);
        shared.work.notify_all();
        drop(abandoned);
        if worker_done {
            // The worker has finished; joining only reaps it.
            let _ = thread.join();
        }
        if unsent > 0 || stats.dropped > 0 {
            let mut line = format!(
                "traced: shutdown: {unsent} queued span(s) could not be sent to {}; {} of {} \
                 span(s) dropped in total",
                self.endpoint, stats.dropped, stats.exported
            );
            if let Some(error) = last_error {
                line.push_str("; last error: ");
                line.push_str(&error);
            }
            eprintln!("{line}");
        }
        FlushOutcome { unsent }
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        let deadline = Instant::now() + timeout.min(LONGEST_WAIT);
        let shared = &self.shared;
        self.buffers.collect();
        let mut state = shared.lock();
        let target = state.counters.queued;
        let finished_before = state.counters.finished();
        let lost_before = state.counters.lost;
        let pending_before = target - finished_before;
        if pending_before == 0 {
            return FlushOutcome::default();
        }
        state.flush_wanted = true;
        state.worker_waiting = false;
        shared.work.notify_all();
        state = shared.wait_for_progress(state, deadline, |state| {
            state.counters.finished() < target && !state.worker_done && !state.abandoned
        });
        let waiting = target.saturating_sub(state.counters.finished());
        let failed = state.counters.lost - lost_before;
        FlushOutcome {
            unsent: (waiting + failed).min(pending_before),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Only joins our own thread (never a runtime's), and only up to the deadline: safe in a
        // sync main, inside any async runtime, and during a panic.
        self.shutdown(self.shutdown_timeout);
    }
}

impl Exporter for ZipkinReporter {
    fn export(&self, span: SpanRecord) {
        // Into this thread's buffer; the queue counts it when the buffer is handed in.
        self.inner.buffers.push(span);
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        self.inner.flush(timeout)
    }
}
