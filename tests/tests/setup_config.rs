//! Configuration from the OpenTelemetry variables: every variable, good values and bad ones.
//! Variables come from a map, never the process environment, so tests cannot race.

use std::path::PathBuf;
use std::time::Duration;

use traced::config::{Config, ConfigError, ExporterKind, SamplerConfig, DEFAULT_ZIPKIN_ENDPOINT};
use traced::model::{Sampling, TraceId};

fn parse(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(vars.iter().copied())
        .unwrap_or_else(|error| panic!("{vars:?} should parse: {error}"))
}

/// The variable, the value and the "expected ..." text of a configuration error.
type Expected<'a> = (&'a str, &'a str, &'a str);

fn fields(error: &ConfigError) -> (&str, &str, &str) {
    (error.variable, &error.value, &error.expected)
}

/// Checks that `vars` give exactly one error, `expected`, both strictly and leniently, and
/// returns the lenient configuration (which falls back to the default for that variable).
fn bad(vars: &[(&str, &str)], expected: Expected<'_>) -> Config {
    let strict =
        Config::from_vars(vars.iter().copied()).expect_err(&format!("{vars:?} should be refused"));
    assert_eq!(fields(&strict), expected, "{vars:?}");
    let (lenient, errors) = Config::parse_vars(vars.iter().copied());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0], strict);
    lenient
}

const KEY_VALUES: &str = "comma-separated key=value pairs with percent-encoded values";
const HEADERS: &str = "comma-separated name=value pairs with valid HTTP header names and values";
const MILLIS: &str = "a whole number of milliseconds greater than 0";
const COUNT: &str = "a whole number greater than 0";
const SAMPLERS: &str = "one of always_on, always_off, traceidratio, ratelimiting, \
                        jaeger_remote, parentbased_always_on, parentbased_always_off, \
                        parentbased_traceidratio, parentbased_ratelimiting, \
                        parentbased_jaeger_remote";

#[test]
fn defaults_with_nothing_set() {
    let config = parse(&[]);
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        config.service_name,
        exe.file_stem().unwrap().to_string_lossy(),
        "the executable's name"
    );
    assert_eq!(
        config.exporters(),
        vec![ExporterKind::Console],
        "nothing configured: the terminal waterfall, no collector to wait for"
    );
    assert_eq!(config.traces_exporter, None);
    assert_eq!(config.zipkin_endpoint, DEFAULT_ZIPKIN_ENDPOINT);
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(config.zipkin_timeout, None);
    assert!(config.zipkin_headers.is_empty());
    assert_eq!(config.max_queue_size, None);
    assert_eq!(config.max_export_batch_size, None);
    assert_eq!(config.schedule_delay, None);
    assert_eq!(config.export_timeout, None);
    assert_eq!(config.propagators, None);
    assert_eq!(config.file_path, PathBuf::from("traces.json"));
    assert!(config.resource_attributes.is_empty());
}

#[test]
fn empty_values_count_as_unset() {
    let config = parse(&[
        ("OTEL_SERVICE_NAME", ""),
        ("OTEL_TRACES_EXPORTER", " "),
        ("OTEL_TRACES_SAMPLER", ""),
        ("OTEL_BSP_MAX_QUEUE_SIZE", ""),
    ]);
    assert_eq!(config, parse(&[]));
}

#[test]
fn service_name_from_the_variable_or_the_resource_attributes() {
    assert_eq!(
        parse(&[("OTEL_SERVICE_NAME", "checkout")]).service_name,
        "checkout"
    );
    let from_resource = parse(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=billing,deployment.environment=prod",
    )]);
    assert_eq!(from_resource.service_name, "billing");
    assert_eq!(
        from_resource.resource_attributes,
        vec![("deployment.environment".to_owned(), "prod".to_owned())]
    );
    let both = parse(&[
        ("OTEL_SERVICE_NAME", "checkout"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing"),
    ]);
    assert_eq!(both.service_name, "checkout", "OTEL_SERVICE_NAME wins");
}

#[test]
fn resource_attributes_are_percent_decoded() {
    let config = parse(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        " team = core%20platform , note=a%2Cb%3Dc,host.name=n%C3%BC ",
    )]);
    assert_eq!(
        config.resource_attributes,
        vec![
            ("team".to_owned(), "core platform".to_owned()),
            ("note".to_owned(), "a,b=c".to_owned()),
            ("host.name".to_owned(), "nü".to_owned()),
        ]
    );
    for value in ["novalue", "k=%zz", "=v", "k=%e2%28%a1"] {
        let variable = "OTEL_RESOURCE_ATTRIBUTES";
        let config = bad(&[(variable, value)], (variable, value, KEY_VALUES));
        assert!(config.resource_attributes.is_empty());
    }
}

#[test]
fn traces_exporter_lists() {
    let cases: &[(&str, &[ExporterKind])] = &[
        ("zipkin", &[ExporterKind::Zipkin]),
        ("console", &[ExporterKind::Console]),
        ("file", &[ExporterKind::File]),
        ("none", &[]),
        (
            "Zipkin, CONSOLE",
            &[ExporterKind::Zipkin, ExporterKind::Console],
        ),
        (
            "console,zipkin,console",
            &[ExporterKind::Console, ExporterKind::Zipkin],
        ),
        ("none,console", &[ExporterKind::Console]),
        ("OTLP,zipkin", &[ExporterKind::Otlp, ExporterKind::Zipkin]),
    ];
    for (value, expected) in cases {
        let config = parse(&[("OTEL_TRACES_EXPORTER", value)]);
        assert_eq!(&config.exporters(), expected, "{value}");
    }
    for value in ["jaeger", "zipkin,jaeger", "console;zipkin"] {
        let variable = "OTEL_TRACES_EXPORTER";
        let expected = "a comma-separated list of zipkin, otlp, console, file, or none";
        let config = bad(&[(variable, value)], (variable, value, expected));
        assert_eq!(
            config.exporters(),
            vec![ExporterKind::Console],
            "the default"
        );
    }
}

#[test]
fn zipkin_endpoint_timeout_and_headers() {
    let config = parse(&[
        (
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            "https://zipkin.example:9411/api/v2/spans",
        ),
        ("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "2500"),
        (
            "OTEL_EXPORTER_ZIPKIN_HEADERS",
            "Authorization=Bearer%20abc,x-tenant=shop",
        ),
    ]);
    assert_eq!(
        config.zipkin_endpoint,
        "https://zipkin.example:9411/api/v2/spans"
    );
    assert_eq!(
        config.exporters(),
        vec![ExporterKind::Zipkin],
        "a configured endpoint is where spans go"
    );
    assert_eq!(config.zipkin_timeout, Some(Duration::from_millis(2500)));
    assert_eq!(
        config.zipkin_headers,
        vec![
            ("Authorization".to_owned(), "Bearer abc".to_owned()),
            ("x-tenant".to_owned(), "shop".to_owned()),
        ]
    );

    for value in [
        "localhost:9411",
        "ftp://host/x",
        "http://",
        "http://host/ a",
        "kafka://",
        "kafka:/broker:9092",
    ] {
        let variable = "OTEL_EXPORTER_ZIPKIN_ENDPOINT";
        let expected = "an http:// or https:// URL such as http://localhost:9411/api/v2/spans, or \
                        kafka://host:port/topic";
        let config = bad(&[(variable, value)], (variable, value, expected));
        assert_eq!(config.zipkin_endpoint, DEFAULT_ZIPKIN_ENDPOINT);
    }
    for value in ["0", "-5", "1.5", "10s", "99999999999999999999999"] {
        let variable = "OTEL_EXPORTER_ZIPKIN_TIMEOUT";
        let config = bad(&[(variable, value)], (variable, value, MILLIS));
        assert_eq!(config.zipkin_timeout, None);
    }
    for (value, expected) in [
        ("Authorization", KEY_VALUES),
        ("bad header=x", HEADERS),
        ("x=line%0Abreak", HEADERS),
    ] {
        let variable = "OTEL_EXPORTER_ZIPKIN_HEADERS";
        let config = bad(&[(variable, value)], (variable, value, expected));
        assert!(config.zipkin_headers.is_empty());
    }
}

#[test]
fn every_sampler_name_and_its_argument() {
    let cases: &[(&str, Option<&str>, SamplerConfig)] = &[
        ("always_on", None, SamplerConfig::AlwaysOn),
        ("always_off", None, SamplerConfig::AlwaysOff),
        (
            "traceidratio",
            Some("0.25"),
            SamplerConfig::TraceIdRatio(0.25),
        ),
        ("traceidratio", None, SamplerConfig::TraceIdRatio(1.0)),
        (
            "parentbased_always_on",
            None,
            SamplerConfig::ParentBasedAlwaysOn,
        ),
        (
            "parentbased_always_off",
            None,
            SamplerConfig::ParentBasedAlwaysOff,
        ),
        (
            "parentbased_traceidratio",
            Some("0"),
            SamplerConfig::ParentBasedTraceIdRatio(0.0),
        ),
        (
            "ratelimiting",
            Some("50"),
            SamplerConfig::RateLimiting(50.0),
        ),
        (
            "ratelimiting",
            Some("0.5"),
            SamplerConfig::RateLimiting(0.5),
        ),
        ("ratelimiting", None, SamplerConfig::RateLimiting(100.0)),
        (
            "parentbased_ratelimiting",
            Some("7"),
            SamplerConfig::ParentBasedRateLimiting(7.0),
        ),
        ("ALWAYS_OFF", None, SamplerConfig::AlwaysOff),
        // An argument for a sampler that takes none is ignored, as the specification says.
        ("always_on", Some("whatever"), SamplerConfig::AlwaysOn),
    ];
    for (name, arg, expected) in cases {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", *name)];
        vars.extend(arg.map(|arg| ("OTEL_TRACES_SAMPLER_ARG", arg)));
        assert_eq!(parse(&vars).sampler, *expected, "{name} {arg:?}");
    }
}

#[test]
fn bad_sampler_names_and_arguments() {
    let config = bad(
        &[("OTEL_TRACES_SAMPLER", "sometimes")],
        ("OTEL_TRACES_SAMPLER", "sometimes", SAMPLERS),
    );
    assert_eq!(config.sampler, SamplerConfig::ParentBasedAlwaysOn);

    for ratio in ["1.5", "-0.1", "half", "NaN"] {
        let config = bad(
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", ratio),
            ],
            (
                "OTEL_TRACES_SAMPLER_ARG",
                ratio,
                "a ratio from 0 to 1 for traceidratio",
            ),
        );
        assert_eq!(config.sampler, SamplerConfig::TraceIdRatio(1.0));
    }
    for rate in ["-1", "fast", "inf"] {
        let config = bad(
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_ratelimiting"),
                ("OTEL_TRACES_SAMPLER_ARG", rate),
            ],
            (
                "OTEL_TRACES_SAMPLER_ARG",
                rate,
                "a number of traces per second, 0 or more, for parentbased_ratelimiting",
            ),
        );
        assert_eq!(
            config.sampler,
            SamplerConfig::ParentBasedRateLimiting(100.0)
        );
    }
}

#[test]
fn configured_samplers_behave_as_named() {
    let deny_all = parse(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ])
    .sampler
    .build();
    assert_eq!(deny_all.sample(TraceId(5), None), Sampling::Deny);
    assert_eq!(
        deny_all.sample(TraceId(5), Some(Sampling::Accept)),
        Sampling::Accept
    );
    let off = parse(&[("OTEL_TRACES_SAMPLER", "always_off")])
        .sampler
        .build();
    assert_eq!(
        off.sample(TraceId(5), Some(Sampling::Accept)),
        Sampling::Deny
    );
}

#[test]
fn batch_processor_sizes_and_delays() {
    let config = parse(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "8192"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1024"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "10000"),
    ]);
    assert_eq!(config.max_queue_size, Some(8192));
    assert_eq!(config.max_export_batch_size, Some(1024));
    assert_eq!(config.schedule_delay, Some(Duration::from_millis(200)));
    assert_eq!(config.export_timeout, Some(Duration::from_secs(10)));

    for variable in ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] {
        for value in ["0", "-1", "many", "1e3"] {
            let config = bad(&[(variable, value)], (variable, value, COUNT));
            assert_eq!(
                (config.max_queue_size, config.max_export_batch_size),
                (None, None)
            );
        }
    }
    for variable in ["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT"] {
        let config = bad(&[(variable, "soon")], (variable, "soon", MILLIS));
        assert_eq!((config.schedule_delay, config.export_timeout), (None, None));
    }
    let config = bad(
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ],
        (
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "500",
            "at most OTEL_BSP_MAX_QUEUE_SIZE (100)",
        ),
    );
    assert_eq!(
        (config.max_queue_size, config.max_export_batch_size),
        (Some(100), None)
    );
}

#[test]
fn propagators_and_file_path_are_kept_for_setup() {
    let config = parse(&[
        ("OTEL_PROPAGATORS", "b3multi,tracecontext"),
        ("TRACED_FILE", "/tmp/out/spans.json"),
    ]);
    assert_eq!(config.propagators.as_deref(), Some("b3multi,tracecontext"));
    assert_eq!(config.file_path, PathBuf::from("/tmp/out/spans.json"));
}

#[test]
fn several_bad_values_are_all_reported_and_the_rest_still_applies() {
    let (config, errors) = Config::parse_vars([
        ("OTEL_TRACES_SAMPLER", "nope"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "x"),
        ("OTEL_SERVICE_NAME", "still-here"),
        ("OTEL_TRACES_EXPORTER", "console"),
    ]);
    let errors: Vec<(&str, &str, &str)> = errors.iter().map(fields).collect();
    assert_eq!(
        errors,
        [
            ("OTEL_TRACES_SAMPLER", "nope", SAMPLERS),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "x", COUNT)
        ]
    );
    assert_eq!(config.service_name, "still-here");
    assert_eq!(config.exporters(), vec![ExporterKind::Console]);
}

#[test]
fn non_utf8_values_are_errors_not_panics() {
    let (config, errors) = Config::parse(|name| match name {
        "OTEL_SERVICE_NAME" => Some(Err("caf\u{FFFD}".to_owned())),
        _ => None,
    });
    let errors: Vec<(&str, &str, &str)> = errors.iter().map(fields).collect();
    assert_eq!(
        errors,
        [("OTEL_SERVICE_NAME", "caf\u{FFFD}", "valid UTF-8")]
    );
    assert_ne!(config.service_name, "caf\u{FFFD}");
}

#[test]
fn the_error_message_names_the_variable_the_value_and_what_is_allowed() {
    let error = Config::from_vars([("OTEL_BSP_SCHEDULE_DELAY", "later")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid OTEL_BSP_SCHEDULE_DELAY=\"later\": expected a whole number of milliseconds greater than 0"
    );
}
