//! The Jaeger remote sampler against a real Jaeger v2's sampling endpoint (started by the test
//! support with [`JAEGER_SAMPLING_STRATEGIES`]): the per-operation strategy of `catalog`, the
//! rate limit of `inventory`, the default strategy of any other service, configured through
//! the environment's `OTEL_TRACES_SAMPLER=jaeger_remote` and `OTEL_TRACES_SAMPLER_ARG` as well
//! as the Rust API, and applied to `#[traced]` roots and to axum server spans by their names.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::Request;
use tower::ServiceExt;
use traced::model::{Sampling, TraceId};
use traced::sample::{JaegerRemote, JaegerRemoteConfig, Sampler};
use traced::setup::Builder;
use traced::testing::Capture;
use traced::traced;
use traced_tests::{JaegerServer, JAEGER_SAMPLING_STRATEGIES};
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(20);

/// One Jaeger for the file: its strategies are read-only, and each start picks its own ports
/// (fewer starts, fewer chances of two free ports colliding on a busy machine).
fn jaeger() -> &'static JaegerServer {
    static JAEGER: OnceLock<JaegerServer> = OnceLock::new();
    JAEGER.get_or_init(JaegerServer::start)
}

fn remote(jaeger: &JaegerServer, service: &str) -> JaegerRemote {
    let sampler = JaegerRemote::new(
        JaegerRemoteConfig::new(jaeger.sampling_url())
            .polling_interval(Duration::from_millis(50))
            .initial_sampling_rate(0.0),
        service,
    );
    wait_until_remote(&sampler);
    sampler
}

fn wait_until_remote(sampler: &JaegerRemote) {
    let started = Instant::now();
    while sampler.strategy().starts_with("initial") {
        assert!(started.elapsed() < WAIT, "no strategy from Jaeger");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How many of the traces 0..count (spread over the id space) `operation` samples.
fn sampled(sampler: &impl Sampler, operation: &str, count: u64) -> u64 {
    (0..count)
        .filter(|n| {
            let id = TraceId(u128::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            sampler.sample_operation(id, None, operation).is_sampled()
        })
        .count() as u64
}

#[test]
fn each_service_gets_its_strategy_from_jaeger() {
    let jaeger = jaeger();
    // The strategies file this test relies on.
    assert!(JAEGER_SAMPLING_STRATEGIES.contains("\"GET /available\""));

    let catalog = remote(jaeger, "catalog");
    assert_eq!(
        catalog.strategy(),
        "per-operation (2 operations, default 0.5, lower bound 0/s)"
    );
    assert_eq!(sampled(&catalog, "GET /available", 1000), 1000);
    assert_eq!(sampled(&catalog, "GET /health", 1000), 0);
    let others = sampled(&catalog, "GET /items/{id}", 4000);
    assert!((1800..=2200).contains(&others), "{others} of 4000 at 0.5");

    let inventory = remote(jaeger, "inventory");
    assert_eq!(inventory.strategy(), "ratelimiting 5");
    let burst = sampled(&inventory, "GET /stock", 100);
    assert!((5..=6).contains(&burst), "{burst} of 100 at 5 a second");

    let shop = remote(jaeger, "shop");
    assert!(
        shop.strategy().contains("default 0.25"),
        "{}",
        shop.strategy()
    );
    let quarter = sampled(&shop, "checkout", 4000);
    assert!((850..=1150).contains(&quarter), "{quarter} of 4000 at 0.25");
    assert_eq!(sampled(&shop, "GET /health", 1000), 0);
}

#[traced(name = "GET /available")]
fn available() {}

#[traced(name = "GET /health")]
fn health() {}

#[test]
fn the_environment_s_jaeger_remote_sampler_decides_by_span_name() {
    let jaeger = jaeger();
    let capture = Capture::new();
    let arg = format!(
        "endpoint={},pollingIntervalMs=50,initialSamplingRate=0",
        jaeger.sampling_url()
    );
    let (layer, _guard) = Builder::from_vars([
        ("OTEL_SERVICE_NAME", "catalog"),
        ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
        ("OTEL_TRACES_SAMPLER_ARG", arg.as_str()),
    ])
    .exporters([])
    .custom_exporter(capture.clone())
    .build_layer()
    .expect("a layer from the environment");
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer.fast_path(true)));

    // Until Jaeger answers nothing is sampled (initialSamplingRate=0); then `GET /available`
    // always is, by its name.
    let started = Instant::now();
    loop {
        capture.clear();
        tracing::dispatcher::with_default(&dispatch, available);
        if !capture.spans().is_empty() {
            break;
        }
        assert!(started.elapsed() < WAIT, "the strategy never applied");
        std::thread::sleep(Duration::from_millis(20));
    }
    capture.clear();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..200 {
            available();
            health();
        }
        // A caller's decision still wins (parent-based).
        let caller = traced::SpanContext {
            trace_id: TraceId(7),
            span_id: traced::model::SpanId(9),
            parent_id: None,
            sampling: Sampling::Accept,
        };
        #[traced(name = "GET /health", parent = caller)]
        fn continued(caller: traced::SpanContext) {
            let _ = caller;
        }
        continued(caller);
    });
    let names = capture.names();
    assert_eq!(
        names
            .iter()
            .filter(|name| *name == "GET /available")
            .count(),
        200
    );
    assert_eq!(
        names.iter().filter(|name| *name == "GET /health").count(),
        1,
        "only the continued one: {names:?}"
    );
}

#[test]
fn server_spans_are_sampled_by_their_route_s_operation() {
    let jaeger = jaeger();
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_sampler(remote(jaeger, "catalog"));
    let app = Router::new()
        .route("/available", get(|| async { "yes" }))
        .route("/health", get(|| async { "ok" }))
        .layer(traced::http::ServerLayer::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            for _ in 0..50 {
                for path in ["/available", "/health"] {
                    let request = Request::builder().uri(path).body(Body::empty()).unwrap();
                    app.clone().oneshot(request).await.expect("an answer");
                }
            }
        })
    });
    let names = capture.names();
    assert_eq!(names.len(), 50, "{names:?}");
    assert!(
        names.iter().all(|name| name == "GET /available"),
        "{names:?}"
    );
}
