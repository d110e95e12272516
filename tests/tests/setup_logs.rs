//! Going from a log line to its trace, as a user meets it: a real process set up with
//! `traced::builder().fmt()` logs each event inside a span with that span's
//! `trace_id=… span_id=…` — the ids of the span exported to the collector — even when
//! `RUST_LOG=warn` keeps the span itself out of the logs, and a span only the logs see gives way
//! to the nearest exported one; a line outside any span has none; and
//! `traced::current_context()`, the accessor for loggers of one's own, gives the same ids.
//!
//! Each scenario runs this binary again with `TRACED_LOGS_SCENARIO` set (a process has one
//! global subscriber), so the binary has its own small harness (`harness = false`).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use traced::traced;
use traced_tests::{ReceivedSpan, Receiver};

const SCENARIO: &str = "TRACED_LOGS_SCENARIO";

// ---- the child side ----

#[traced]
fn handle(order: u64) {
    // What a logger of one's own would print.
    let context = traced::current_context().expect("a current span");
    println!("handle {} {}", context.trace_id, context.span_id);
    tracing::warn!(order, "slow order");
    tracing::info!(order, "handled");
    // A span only the logs see (`RUST_LOG` enables it, the span filter does not): its events
    // belong to the nearest exported span.
    tracing::debug_span!(target: "lib", "library_debug").in_scope(|| {
        assert_eq!(traced::current_context(), Some(context));
        tracing::warn!("deep warning");
    });
}

fn child_main() {
    let _guard = traced::builder().fmt().init();
    tracing::warn!("starting");
    tracing::info_span!("request").in_scope(|| {
        tracing::error!("request failed once");
        handle(7);
    });
    assert!(traced::current_context().is_none());
}

// ---- the test side ----

/// `(trace_id, span_id)` at the end of a log line, if it has them.
fn ids(line: &str) -> Option<(String, String)> {
    let (_, tail) = line.split_once(" trace_id=")?;
    let (trace, span) = tail.split_once(" span_id=")?;
    Some((trace.to_owned(), span.trim().to_owned()))
}

fn log_lines_carry_the_ids_of_the_exported_spans() {
    let receiver = Receiver::start();
    let output = Command::new(std::env::current_exe().expect("current exe"))
        .env(SCENARIO, "logs")
        .env("OTEL_SERVICE_NAME", "logs")
        .env("OTEL_EXPORTER_ZIPKIN_ENDPOINT", receiver.endpoint())
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("TRACED_SPANS")
        .env("RUST_LOG", "warn,lib=debug")
        .stdin(Stdio::null())
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");

    let spans: HashMap<String, ReceivedSpan> = receiver
        .wait_for_spans(2, Duration::from_secs(10))
        .into_iter()
        .map(|span| (span.name.clone().unwrap_or_default(), span))
        .collect();
    let exported = |name: &str| {
        let span = &spans[name];
        (span.trace_id.clone(), span.id.clone())
    };

    let line = |needle: &str| {
        stderr
            .lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} line in:\n{stderr}"))
    };
    assert_eq!(ids(line("starting")), None, "outside any span");
    assert!(line("request failed once").contains("ERROR"));
    assert_eq!(ids(line("request failed once")), Some(exported("request")));
    assert_eq!(ids(line("slow order")), Some(exported("handle")));
    assert!(
        line("deep warning").contains("library_debug"),
        "the logs see its span"
    );
    assert_eq!(ids(line("deep warning")), Some(exported("handle")));
    assert!(!spans.contains_key("library_debug"), "not exported");
    assert!(
        !stderr.contains("handled"),
        "RUST_LOG=warn quiets info:\n{stderr}"
    );

    let (trace, span) = exported("handle");
    assert!(
        stdout.contains(&format!("handle {trace} {span}")),
        "current_context() gives the exported ids: {stdout}"
    );
}

const TESTS: &[traced_tests::harness::Test] = &[(
    "log_lines_carry_the_ids_of_the_exported_spans",
    log_lines_carry_the_ids_of_the_exported_spans,
)];

fn main() {
    if std::env::var_os(SCENARIO).is_some() {
        child_main();
        return;
    }
    traced_tests::harness::run(TESTS);
}
