//! The builder without a global subscriber: strict errors from `try_init`, programmatic
//! overrides, `build_layer` for your own subscriber, the `file` exporter and the propagator.

use std::time::Duration;

use traced::config::{ExporterKind, SamplerConfig};
use traced::propagation::{self, Format};
use traced::sample::AlwaysOn;
use traced::testing::Capture;
use traced::{Builder, InitError};
use tracing_subscriber::layer::SubscriberExt;

fn config_error(result: Result<traced::TracingGuard, InitError>) -> traced::config::ConfigError {
    match result {
        Err(InitError::Config(error)) => error,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn try_init_refuses_bad_values_and_installs_nothing() {
    let cases = [
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_EXPORTER", "jaeger"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ("OTEL_PROPAGATORS", "xray"),
        ("RUST_LOG", "info,[unclosed"),
        ("TRACED_SPANS", "info,[unclosed"),
    ];
    for (variable, value) in cases {
        let error = config_error(
            Builder::from_vars([("OTEL_TRACES_EXPORTER", "none"), (variable, value)]).try_init(),
        );
        assert_eq!((error.variable, error.value.as_str()), (variable, value));
        let message = InitError::Config(error).to_string();
        assert!(
            message.contains(variable) && message.contains(value),
            "{message}"
        );
    }
    // Nothing was installed: a good configuration still installs.
    let guard = Builder::from_vars([("OTEL_TRACES_EXPORTER", "none")])
        .try_init()
        .expect("the failed attempts installed nothing");
    drop(guard);
}

#[test]
fn builder_values_replace_bad_variables() {
    let builder = Builder::from_vars([
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_TRACES_EXPORTER", "bogus"),
    ]);
    assert_eq!(builder.config_errors().len(), 2);
    let builder = builder
        .sampler(AlwaysOn)
        .exporters([])
        .service_name("from-builder");
    assert!(
        builder.config_errors().is_empty(),
        "{:?}",
        builder.config_errors()
    );
    assert_eq!(builder.config().service_name, "from-builder");
    assert_eq!(builder.config().exporters(), Vec::<ExporterKind>::new());
}

#[test]
fn build_layer_composes_with_your_own_subscriber_and_its_guard_flushes() {
    let capture = Capture::new();
    let (layer, guard) = Builder::from_vars([("OTEL_TRACES_SAMPLER", "always_off")])
        .exporters([])
        .sampler_config(SamplerConfig::AlwaysOn)
        .custom_exporter(capture.clone())
        .build_layer()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("outer").in_scope(|| tracing::info_span!("inner").in_scope(|| {}));
    });
    assert_eq!(
        capture.span("inner").parent_id,
        Some(capture.span("outer").id)
    );
    let report = guard.shutdown();
    assert_eq!(report.undelivered, 0);
    assert_eq!(
        report.stats,
        traced::report::Stats::default(),
        "no reporter, zeros"
    );
}

#[test]
fn the_file_exporter_writes_zipkin_json_a_strict_checker_accepts() {
    let dir = std::env::temp_dir().join(format!("traced-setup-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spans.json");
    let (layer, guard) = Builder::from_vars([
        ("OTEL_SERVICE_NAME", "File-Demo"),
        ("OTEL_TRACES_EXPORTER", "file"),
        ("TRACED_FILE", path.to_str().unwrap()),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=core"),
    ])
    .build_layer()
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for order in 0..3u64 {
            tracing::info_span!("order", order).in_scope(|| {
                tracing::info_span!("charge", amount = 12.5).in_scope(|| {
                    tracing::error!("card declined");
                });
            });
        }
    });
    assert_eq!(guard.shutdown().undelivered, 0);

    let body = std::fs::read(&path).unwrap();
    let (spans, violations) = traced_tests::check_json(&body).unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(spans.len(), 6);
    let traces = traced_tests::tree::by_trace(&spans);
    assert_eq!(traces.len(), 3);
    for spans in traces.values() {
        let trace = traced_tests::tree::assert_single_tree(spans);
        assert_eq!(trace.root().name.as_deref(), Some("order"));
        let charge = trace.expect("charge");
        assert_eq!(charge.tag("error"), Some("card declined"));
        assert_eq!(charge.tag("amount"), Some("12.5"));
        assert_eq!(
            charge.tag("team"),
            Some("core"),
            "resource attributes become tags"
        );
        assert_eq!(charge.service(), Some("file-demo"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_file_stays_valid_json_after_each_flush_and_keeps_growing() {
    use traced::export::Exporter;
    use traced::file_export::FileExporter;
    use traced::model::{Endpoint, SpanId, SpanRecord, TraceId};

    let path = std::env::temp_dir().join(format!("traced-file-grow-{}.json", std::process::id()));
    let file = FileExporter::create(&path, Endpoint::service("grow")).unwrap();
    let read = || {
        let body = std::fs::read(&path).unwrap();
        let (spans, violations) = traced_tests::check_json(&body).unwrap();
        assert!(violations.is_empty(), "{violations:#?}");
        spans.len()
    };
    file.flush(Duration::from_secs(1));
    assert_eq!(read(), 0, "an empty array before any span");
    for round in 1..=3u64 {
        for id in 0..round {
            file.export(SpanRecord {
                trace_id: TraceId(u128::from(round) << 64 | 1),
                id: SpanId(round * 10 + id + 1),
                name: "work".into(),
                timestamp_us: 1_700_000_000_000_000,
                duration_us: 3,
                ..SpanRecord::default()
            });
        }
        file.flush(Duration::from_secs(1));
        assert_eq!(read() as u64, round * (round + 1) / 2);
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_file_that_cannot_be_created_is_an_error_naming_it() {
    let result = Builder::from_vars([
        ("OTEL_TRACES_EXPORTER", "file"),
        ("TRACED_FILE", "/nonexistent-dir/for/traced/spans.json"),
    ])
    .build_layer();
    match result {
        Err(error @ InitError::File { .. }) => {
            assert!(error
                .to_string()
                .contains("/nonexistent-dir/for/traced/spans.json"));
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("the file cannot exist"),
    }
}

#[test]
fn otel_propagators_sets_the_global_propagator() {
    let (_layer, guard) = Builder::from_vars([
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_PROPAGATORS", "b3multi"),
    ])
    .build_layer()
    .unwrap();
    assert_eq!(propagation::global().inject_formats(), &[Format::B3Multi]);
    drop(guard);
}

#[test]
fn zipkin_settings_from_the_variables_reach_the_reporter() {
    let receiver = traced_tests::Receiver::start();
    let (layer, guard) = Builder::from_vars([
        ("OTEL_SERVICE_NAME", "Configured"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        (
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            receiver.endpoint().as_str(),
        ),
        (
            "OTEL_EXPORTER_ZIPKIN_HEADERS",
            "Authorization=Bearer%20s3cret,X-Tenant=shop",
        ),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2"),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging"),
    ])
    .build_layer()
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for index in 0..5u64 {
            tracing::info_span!("unit", index).in_scope(|| {});
        }
    });
    let report = guard.shutdown();
    assert_eq!(
        (report.undelivered, report.stats.sent),
        (0, 5),
        "{report:?}"
    );

    let spans = receiver.wait_for_spans(5, Duration::from_secs(5));
    receiver.assert_no_violations();
    for span in &spans {
        assert_eq!(span.service(), Some("configured"));
        assert_eq!(span.tag("deployment.environment"), Some("staging"));
    }
    let requests = receiver.requests();
    assert!(
        requests.len() >= 3,
        "batches of at most 2: {}",
        requests.len()
    );
    for request in &requests {
        assert!(request.spans <= 2, "{request:?}");
        assert_eq!(request.header("authorization"), Some("Bearer s3cret"));
        assert_eq!(request.header("x-tenant"), Some("shop"));
    }
}

#[test]
fn the_configured_sampler_decides_through_the_installed_layer() {
    use traced::model::{Sampling, SpanContext, SpanId, TraceId};

    let capture = Capture::new();
    let (layer, guard) = Builder::from_vars([
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ])
    .custom_exporter(capture.clone())
    .build_layer()
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..20 {
            tracing::info_span!("new_trace").in_scope(|| {
                let context = traced::current_context().unwrap();
                assert_eq!(context.sampling, Sampling::Deny, "ids still propagate");
            });
        }
        let caller = SpanContext {
            trace_id: TraceId(0xfeed),
            span_id: SpanId(1),
            parent_id: None,
            sampling: Sampling::Accept,
        };
        let propagator = traced::propagation::Propagator::default();
        let mut headers = http::HeaderMap::new();
        propagator.inject(&caller, &mut headers);
        propagator
            .continue_trace(&headers, || tracing::info_span!("continued"))
            .in_scope(|| {});
    });
    let names: Vec<String> = capture.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        ["continued"],
        "ratio 0 for new traces, the caller's decision kept"
    );
    drop(guard);
}
