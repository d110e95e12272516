//! The instrumented functions of every stack, and how each stack is set up.
//!
//! Every stack gets the same four shapes: `d1` (one instrumented call), `d3` (three nested
//! instrumented calls), `f2` (one call recording two `u64` arguments) and `d1_async` (an
//! instrumented `async fn`, awaited). Functions without arguments have no fields, so `d1` measures
//! the span alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use traced::export::Exporter;
use traced::model::{Sampling, SpanRecord, TraceId};
use traced::report::{ReporterConfig, ZipkinReporter};
use traced::sample::Sampler;

/// Declares the four scenario functions in a module, each carrying `#[$attr]`.
macro_rules! scenario_fns {
    ($(#[$doc:meta])* $module:ident, #[$attr:meta]) => {
        $(#[$doc])*
        pub mod $module {
            use std::hint::black_box;

            /// One instrumented call, no fields.
            #[$attr]
            #[inline(never)]
            pub fn d1() -> u64 {
                black_box(7)
            }

            /// Three nested instrumented calls.
            #[$attr]
            #[inline(never)]
            pub fn d3() -> u64 {
                d3_middle()
            }

            #[$attr]
            #[inline(never)]
            fn d3_middle() -> u64 {
                d3_leaf()
            }

            #[$attr]
            #[inline(never)]
            fn d3_leaf() -> u64 {
                black_box(7)
            }

            /// One instrumented call recording two `u64` arguments.
            #[$attr]
            #[inline(never)]
            pub fn f2(a: u64, b: u64) -> u64 {
                black_box(a) ^ black_box(b)
            }

            /// One instrumented `async fn`.
            #[$attr]
            #[inline(never)]
            pub async fn d1_async() -> u64 {
                black_box(7)
            }
        }
    };
}

/// No instrumentation: the floor.
pub mod bare {
    use std::hint::black_box;

    /// A plain call.
    #[inline(never)]
    pub fn d1() -> u64 {
        black_box(7)
    }

    /// Three nested plain calls.
    #[inline(never)]
    pub fn d3() -> u64 {
        d3_middle()
    }

    #[inline(never)]
    fn d3_middle() -> u64 {
        d3_leaf()
    }

    #[inline(never)]
    fn d3_leaf() -> u64 {
        black_box(7)
    }

    /// A plain call with two arguments.
    #[inline(never)]
    pub fn f2(a: u64, b: u64) -> u64 {
        black_box(a) ^ black_box(b)
    }

    /// A plain `async fn`.
    #[inline(never)]
    pub async fn d1_async() -> u64 {
        black_box(7)
    }
}

scenario_fns!(
    /// `#[tracing::instrument]`, as tracing users write it.
    instrument,
    #[tracing::instrument(level = "info")]
);

scenario_fns!(
    /// `#[fastrace::trace]`; arguments become properties, as fastrace's macro requires.
    fastrace_fns,
    #[fastrace::trace]
);

/// fastrace records arguments only when asked, by formatting them into string properties.
pub mod fastrace_f2 {
    use std::hint::black_box;

    /// One traced call recording two `u64` arguments as properties.
    #[fastrace::trace(properties = { "a": "{a}", "b": "{b}" })]
    #[inline(never)]
    pub fn f2(a: u64, b: u64) -> u64 {
        black_box(a) ^ black_box(b)
    }
}

scenario_fns!(
    /// `#[traced]`, as traced users write it.
    traced_fns,
    #[traced::traced]
);

/// The OpenTelemetry API directly (no `tracing`), with the SDK batch processor and the Zipkin
/// exporter behind it: [`OtelStack::install_api_tracer`] must have run.
pub mod otel_api {
    use std::borrow::Cow;
    use std::future::Future;
    use std::hint::black_box;
    use std::sync::OnceLock;

    use opentelemetry::context::FutureExt as _;
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::trace::SdkTracer;

    pub(crate) static TRACER: OnceLock<SdkTracer> = OnceLock::new();

    fn tracer() -> &'static SdkTracer {
        TRACER
            .get()
            .expect("OtelStack::install_api_tracer runs before the OTel API functions")
    }

    fn span<T>(name: &'static str, body: impl FnOnce(Context) -> T) -> T {
        tracer().in_span(Cow::Borrowed(name), body)
    }

    /// One span, no attributes.
    #[inline(never)]
    pub fn d1() -> u64 {
        span("d1", |_| black_box(7))
    }

    /// Three nested spans.
    #[inline(never)]
    pub fn d3() -> u64 {
        span("d3", |_| d3_middle())
    }

    #[inline(never)]
    fn d3_middle() -> u64 {
        span("d3_middle", |_| d3_leaf())
    }

    #[inline(never)]
    fn d3_leaf() -> u64 {
        span("d3_leaf", |_| black_box(7))
    }

    /// One span with two integer attributes.
    #[inline(never)]
    pub fn f2(a: u64, b: u64) -> u64 {
        span("f2", |cx| {
            cx.span()
                .set_attributes([KeyValue::new("a", a as i64), KeyValue::new("b", b as i64)]);
            black_box(a) ^ black_box(b)
        })
    }

    /// One span around a future.
    #[inline(never)]
    pub fn d1_async() -> impl Future<Output = u64> {
        let span = tracer().start(Cow::Borrowed("d1_async"));
        async { black_box(7) }.with_context(Context::current_with_span(span))
    }

    /// Runs `body` under an entered parent span.
    pub fn with_parent<R>(body: impl FnOnce() -> R) -> R {
        let parent = tracer().start(Cow::Borrowed("parent"));
        let _attached = Context::current_with_span(parent).attach();
        body()
    }
}

/// The parent of the measured `#[traced]` calls: a `#[traced]` call itself, as in a program
/// where a traced handler calls traced functions.
#[traced::traced]
pub fn traced_parent<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// An exporter that counts spans and drops them: the layer's own cost, without a reporter.
#[derive(Clone, Default)]
pub struct CountingExporter(Arc<AtomicU64>);

impl CountingExporter {
    /// Spans exported so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Exporter for CountingExporter {
    fn export(&self, span: SpanRecord) {
        drop(span);
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Samples no trace: ids propagate, nothing is recorded.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOff;

impl Sampler for AlwaysOff {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        Sampling::Deny
    }
}

/// Registry + TracedLayer + a counting exporter.
pub fn traced_counting(sampled: bool) -> (Dispatch, CountingExporter) {
    let exporter = CountingExporter::default();
    // As `traced::init` sets it up when our layer is the only one consuming spans.
    let mut layer = traced::TracedLayer::new(exporter.clone()).fast_path(true);
    if !sampled {
        layer = layer.sampler(AlwaysOff);
    }
    // Wrapped as `traced::init` wraps it: the fast path needs `TracedSubscriber` outermost.
    let dispatch = Dispatch::new(traced::TracedSubscriber::new(
        tracing_subscriber::registry().with(layer),
    ));
    (dispatch, exporter)
}

/// Registry + TracedLayer + traced's own Zipkin reporter (default configuration) posting JSON to
/// `endpoint` (or publishing it, for a `kafka://` endpoint): the sampled stack as users run it.
pub struct TracedHttp {
    /// The subscriber to install.
    pub dispatch: Dispatch,
    /// The reporter, for its stats and its shutdown.
    pub reporter: ZipkinReporter,
}

impl TracedHttp {
    /// Starts the reporter's thread and builds the subscriber.
    ///
    /// `BENCH_MAX_QUEUE_SPANS`, when set, replaces the default queue bound: an experiment knob
    /// for the export mode, never set by the report itself.
    pub fn new(endpoint: &str) -> TracedHttp {
        let mut config = ReporterConfig::default()
            .endpoint(endpoint)
            .service_name("bench");
        if let Some(spans) = std::env::var("BENCH_MAX_QUEUE_SPANS")
            .ok()
            .and_then(|value| value.parse().ok())
        {
            config.max_queue_spans = spans;
        }
        let reporter =
            ZipkinReporter::start(config).expect("the reporter starts with a valid loopback URL");
        let dispatch = Dispatch::new(traced::TracedSubscriber::new(
            tracing_subscriber::registry()
                .with(traced::TracedLayer::new(reporter.clone()).fast_path(true)),
        ));
        TracedHttp { dispatch, reporter }
    }
}

/// A layer that does nothing: what composing any layer onto the Registry costs by itself.
pub struct EmptyLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EmptyLayer {}

/// The Registry with [`EmptyLayer`]: the floor for any layer-based design.
pub fn registry_empty_layer() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(EmptyLayer))
}

/// The Registry alone: what every tracing-subscriber stack pays before any layer works.
pub fn registry_only() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry())
}

/// `tracing` + `tracing-opentelemetry` + the SDK's batch span processor + the Zipkin exporter
/// (opentelemetry-zipkin, posting JSON through ureq) to `endpoint`.
pub struct OtelStack {
    /// The subscriber to install.
    pub dispatch: Dispatch,
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl OtelStack {
    /// Builds the stack; the batch processor's thread starts now.
    pub fn new(endpoint: &str) -> OtelStack {
        OtelStack::with_filter(endpoint, tracing::level_filters::LevelFilter::TRACE)
    }

    /// The stack with `filter` in front of tracing-opentelemetry, as services usually run it
    /// (`LevelFilter::INFO`).
    // opentelemetry-zipkin is deprecated upstream; it is here as the anchor users still run.
    #[allow(deprecated)]
    pub fn with_filter(endpoint: &str, filter: tracing::level_filters::LevelFilter) -> OtelStack {
        use opentelemetry::trace::TracerProvider as _;

        let exporter = opentelemetry_zipkin::ZipkinExporter::builder()
            .with_collector_endpoint(endpoint)
            .with_http_client(crate::http::UreqClient::new())
            .build()
            .expect("the zipkin exporter builds with a client and a valid URL");
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("bench")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("bench");
        // No filter at all when it would let everything through: the suite's anchor rows
        // measure tracing-opentelemetry alone.
        let dispatch = if filter == tracing::level_filters::LevelFilter::TRACE {
            Dispatch::new(
                tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(tracer)),
            )
        } else {
            Dispatch::new(
                tracing_subscriber::registry()
                    .with(filter)
                    .with(tracing_opentelemetry::layer().with_tracer(tracer)),
            )
        };
        OtelStack { dispatch, provider }
    }

    /// Makes this stack's tracer the one [`otel_api`] uses (once per process).
    pub fn install_api_tracer(&self) {
        use opentelemetry::trace::TracerProvider as _;
        let _ = otel_api::TRACER.set(self.provider.tracer("bench-api"));
    }

    /// Flushes what the batch processor still holds.
    pub fn shutdown(&self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(10));
    }
}

/// Where fastrace's single global reporter sends spans: nowhere (no-op) or a Zipkin URL.
static FASTRACE_TARGET: Mutex<Option<String>> = Mutex::new(None);
static FASTRACE_REPORTED: AtomicU64 = AtomicU64::new(0);

/// Points fastrace's global reporter at `endpoint` (`None`: a no-op reporter); installs it once.
pub fn fastrace_report_to(endpoint: Option<String>) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    *FASTRACE_TARGET.lock().unwrap_or_else(|e| e.into_inner()) = endpoint;
    INSTALLED.get_or_init(|| {
        fastrace::set_reporter(
            crate::http::FastraceZipkin::new(&FASTRACE_TARGET, &FASTRACE_REPORTED),
            fastrace::collector::Config::default(),
        );
    });
}

/// Spans fastrace's reporter has been handed so far (delivered or not).
pub fn fastrace_reported() -> u64 {
    FASTRACE_REPORTED.load(Ordering::Relaxed)
}

/// The parent context a measured call runs under.
pub enum Parent {
    /// No subscriber, no parent.
    Nothing,
    /// `dispatch` installed on this thread, and an entered `tracing` span as the parent.
    Tracing(Dispatch),
    /// `dispatch` installed on this thread, and a `#[traced]` call as the parent.
    Traced(Dispatch),
    /// An entered OpenTelemetry API span as the parent (see [`otel_api`]).
    OtelApi,
    /// A fastrace root span (sampled or not) as the local parent.
    Fastrace {
        /// Whether the root is sampled.
        sampled: bool,
    },
}

impl Parent {
    /// Runs `body` under this parent.
    pub fn run<R>(&self, body: impl FnOnce() -> R) -> R {
        match self {
            Parent::Nothing => body(),
            Parent::Tracing(dispatch) => tracing::dispatcher::with_default(dispatch, || {
                let parent = tracing::info_span!("parent");
                let _entered = parent.enter();
                body()
            }),
            Parent::Traced(dispatch) => {
                tracing::dispatcher::with_default(dispatch, || traced_parent(body))
            }
            Parent::OtelApi => otel_api::with_parent(body),
            Parent::Fastrace { sampled } => {
                let context = fastrace::collector::SpanContext::random().sampled(*sampled);
                let root = fastrace::Span::root("parent", context);
                let _parent = root.set_local_parent();
                body()
            }
        }
    }
}
