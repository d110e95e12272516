//! Logs and traces filtered apart, as a user meets it: a real process set up with
//! `traced::init()` and `RUST_LOG=warn` still exports its `info` spans and every `#[traced]`
//! span; `TRACED_SPANS` decides which spans reach the exporters; a configuration that can
//! export nothing says so once on stderr, and a normal one prints nothing; every bad filter
//! value is a `try_init()` error that names its variable.
//!
//! Each process scenario runs this binary again with `TRACED_FILTERS_SCENARIO` set (a process
//! has one global subscriber), so the binary has its own small harness (`harness = false`).

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use traced::setup::Builder;
use traced::traced;
use traced::InitError;
use traced_tests::Receiver;

const SCENARIO: &str = "TRACED_FILTERS_SCENARIO";

// ---- the child side ----

#[traced]
fn handle(order: u64) -> u64 {
    tracing::info!(order, "handled");
    detail(order)
}

#[traced(level = "debug")]
fn detail(order: u64) -> u64 {
    // A library's debug span: below the default span filter's `info`.
    tracing::debug_span!("library_debug").in_scope(|| order + 1)
}

/// The work every scenario does: an `info` span, a `#[traced]` call, a debug `#[traced]` call
/// and a debug library span under it, and events at `info` and `warn`.
fn child_main() {
    let _guard = traced::init();
    tracing::info_span!("request").in_scope(|| {
        tracing::warn!("slow request");
        handle(7);
    });
}

// ---- the test side ----

fn run_child(vars: &[(&str, &str)], endpoint: &str) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    command
        .env(SCENARIO, "work")
        .env("OTEL_SERVICE_NAME", "filters")
        .env("OTEL_TRACES_EXPORTER", "zipkin")
        .env("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint)
        .env_remove("RUST_LOG")
        .env_remove("TRACED_SPANS")
        .env_remove("OTEL_TRACES_SAMPLER")
        .stdin(Stdio::null());
    for (key, value) in vars {
        command.env(key, value);
    }
    let output = command.output().expect("run the child");
    assert!(output.status.success(), "{vars:?}: {output:?}");
    output
}

fn names(receiver: &Receiver, count: usize) -> BTreeSet<String> {
    receiver
        .wait_for_spans(count, Duration::from_secs(10))
        .into_iter()
        .filter_map(|span| span.name)
        .collect()
}

const DISCARD_LINE: &str = "traced: no span can be exported";

fn rust_log_warn_quiets_logs_and_keeps_every_span() {
    let receiver = Receiver::start();
    let output = run_child(&[("RUST_LOG", "warn")], &receiver.endpoint());
    // The request span, both `#[traced]` calls (the debug one too); not the library's debug
    // span.
    let expected: BTreeSet<String> = ["request", "handle", "detail"].map(String::from).into();
    assert_eq!(names(&receiver, 3), expected);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(receiver.spans().len(), 3, "{:?}", receiver.spans());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "init() printed: {stderr}");
}

fn traced_spans_decides_for_every_span() {
    let receiver = Receiver::start();
    run_child(&[("TRACED_SPANS", "debug")], &receiver.endpoint());
    let expected: BTreeSet<String> = ["request", "handle", "detail", "library_debug"]
        .map(String::from)
        .into();
    assert_eq!(names(&receiver, 4), expected);

    let receiver = Receiver::start();
    run_child(&[("TRACED_SPANS", "info")], &receiver.endpoint());
    let expected: BTreeSet<String> = ["request", "handle"].map(String::from).into();
    assert_eq!(names(&receiver, 2), expected);
}

fn a_configuration_that_exports_nothing_says_so_once() {
    for vars in [
        &[("TRACED_SPANS", "off")][..],
        &[("OTEL_TRACES_SAMPLER", "always_off")][..],
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ][..],
        &[("OTEL_TRACES_EXPORTER", "none")][..],
    ] {
        let receiver = Receiver::start();
        let output = run_child(vars, &receiver.endpoint());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.matches(DISCARD_LINE).count(),
            1,
            "{vars:?}: {stderr}"
        );
        assert!(receiver.spans().is_empty(), "{vars:?}");
    }
    let receiver = Receiver::start();
    let output = run_child(&[("TRACED_SPANS", "warn")], &receiver.endpoint());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(DISCARD_LINE), "{stderr}");
}

fn config_error(result: Result<traced::TracingGuard, InitError>) -> traced::config::ConfigError {
    match result {
        Err(InitError::Config(error)) => error,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

fn every_bad_filter_is_a_try_init_error() {
    for bad in ["my_crate=loud", "[{", "info,=debug["] {
        let error = config_error(Builder::from_vars([("TRACED_SPANS", bad)]).try_init());
        assert_eq!(error.variable, "TRACED_SPANS", "{bad}");
        assert!(error.to_string().contains("filter directives"), "{error}");
        let error = config_error(traced::builder().span_filter(bad).try_init());
        assert_eq!(error.variable, "TRACED_SPANS", "{bad}");
        let error = config_error(Builder::from_vars([("RUST_LOG", bad)]).try_init());
        assert_eq!(error.variable, "RUST_LOG", "{bad}");
    }
}

const TESTS: &[traced_tests::harness::Test] = &[
    (
        "rust_log_warn_quiets_logs_and_keeps_every_span",
        rust_log_warn_quiets_logs_and_keeps_every_span,
    ),
    (
        "traced_spans_decides_for_every_span",
        traced_spans_decides_for_every_span,
    ),
    (
        "a_configuration_that_exports_nothing_says_so_once",
        a_configuration_that_exports_nothing_says_so_once,
    ),
    (
        "every_bad_filter_is_a_try_init_error",
        every_bad_filter_is_a_try_init_error,
    ),
];

fn main() {
    if std::env::var_os(SCENARIO).is_some() {
        child_main();
        return;
    }
    traced_tests::harness::run(TESTS);
}
