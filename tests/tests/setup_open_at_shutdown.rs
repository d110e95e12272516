//! Spans still open at shutdown, in real processes reporting to the strict receiver: the
//! shutting-down thread's open `#[traced]` calls and tracing spans are delivered, ended at the
//! shutdown, tagged `open_at_shutdown=true` with an annotation `open at shutdown`, and counted
//! (`ShutdownReport::open_spans` and a line on stderr) — also when the process then exits at
//! once with the spans never closed. Spans open on another thread or in a parked future are not
//! reachable and are not delivered, but they are counted exactly
//! (`ShutdownReport::open_unreachable` and a line on stderr). A span reported at shutdown is not
//! exported again when it really ends.
//!
//! Each scenario runs in a fresh process (this test binary started again with
//! `TRACED_OPEN_SCENARIO` set): a process has one global subscriber, and `process::exit` is part
//! of what is checked. No libtest harness (`harness = false`), so each scenario's `main` is real.

use std::process::{Command, Stdio};
use std::time::Duration;

use traced::traced;
use traced_tests::{ReceivedSpan, Receiver};

const SCENARIO: &str = "TRACED_OPEN_SCENARIO";
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The child side. Each prints `open <n>` (the shutdown's count) and `exported <n>` (the
// reporter's count after the shutdown), then ends.
// ---------------------------------------------------------------------------------------------

#[traced]
fn finished_step() {}

/// Never returns: the process exits from inside it.
#[traced]
fn serve(port: u64) {
    finished_step();
    handle_request(port);
}

#[traced]
fn handle_request(port: u64) {
    let _request = tracing::info_span!("request", port).entered();
    let report = traced::shutdown();
    println!("open {}", report.open_spans);
    println!("unreachable {}", report.open_unreachable);
    println!("exported {}", report.stats.exported);
    // Exits with the spans open: no destructor runs, nothing closes them.
    std::process::exit(0);
}

/// Runs on another thread until the process ends. Says it started from inside its own span, so
/// the shutdown cannot come before the span is open.
#[traced(skip(started))]
fn background_job(started: std::sync::mpsc::Sender<()>) {
    started.send(()).expect("the main thread waits");
    loop {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sync_exit_main() {
    let _guard = traced::init();
    let (started_tx, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tracing::info_span!("background_thread").in_scope(|| background_job(started_tx))
    });
    started.recv().expect("the background job started");
    serve(8080);
}

#[traced]
async fn polled_again(id: u64) -> u64 {
    // Parked after this, so the shutdown meets the future's frame in a later poll.
    tokio::task::yield_now().await;
    // Library code asks for the current span: the call's twin, the current span when the
    // shutdown looks; it must not be reported as a span of its own (the call is).
    let _current = traced_test_library::keep_current();
    let report = traced::shutdown();
    println!("open {}", report.open_spans);
    println!("unreachable {}", report.open_unreachable);
    tokio::task::yield_now().await;
    after_shutdown();
    id
}

#[traced]
fn after_shutdown() {}

/// A future given its frame when it is made (a text argument needs one before the first poll),
/// finished before the shutdown: its start and its end must both be counted, or it would hide
/// the parked task from the count of spans out of reach.
#[traced]
async fn finished_with_text(label: &str) -> usize {
    tokio::task::yield_now().await;
    label.len()
}

/// Waits for ever in an executor's task: parked, out of the shutting-down thread's reach.
#[traced]
async fn parked_task() {
    std::future::pending::<()>().await
}

#[tokio::main(flavor = "current_thread")]
async fn async_main() {
    let _guard = traced::init();
    finished_step();
    finished_with_text("label").await;
    let (polled_tx, polled) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let parked = parked_task();
        let _ = polled_tx.send(());
        parked.await
    });
    polled.await.expect("the task ran");
    // One more turn of the scheduler so the parked task's first poll has happened.
    tokio::task::yield_now().await;
    polled_again(5).await;
    // The future completed after the shutdown had reported it: nothing more was exported.
    println!("exported {}", traced::stats().exported);
}

// ---------------------------------------------------------------------------------------------
// The parent side.
// ---------------------------------------------------------------------------------------------

struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    fn count(&self, key: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{key}` line: {}\n{}", self.stdout, self.stderr))
    }
}

fn run(scenario: &str, endpoint: &str) -> Run {
    let output = Command::new(std::env::current_exe().expect("current exe"))
        .env(SCENARIO, scenario)
        .env("OTEL_SERVICE_NAME", scenario)
        .env("OTEL_TRACES_EXPORTER", "zipkin")
        .env("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .env_remove("RUST_LOG")
        .env_remove("TRACED_SPANS")
        .stdin(Stdio::null())
        .output()
        .expect("run the scenario");
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "{scenario}: {:?}\n{}",
        output.status,
        run.stderr
    );
    run
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|span| span.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
}

fn assert_open(span: &ReceivedSpan) {
    assert_eq!(span.tag("open_at_shutdown"), Some("true"), "{span:#?}");
    assert!(
        span.annotation_values().contains(&"open at shutdown"),
        "{span:#?}"
    );
}

fn a_process_that_exits_with_spans_open_delivers_them() {
    let receiver = Receiver::start();
    let run = run("sync-exit", &receiver.endpoint());
    // serve, handle_request (frames) and request (a tracing span) were open on the main thread.
    assert_eq!(run.count("open"), 3, "{}", run.stderr);
    // background_thread (a tracing span) and background_job (a frame) on the other thread.
    assert_eq!(run.count("unreachable"), 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "traced: shutdown: 2 span(s) still open on other threads or in waiting futures \
             are not reported"
        ),
        "{}",
        run.stderr
    );
    // Those three, and the step that finished before.
    assert_eq!(run.count("exported"), 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("traced: shutdown: 3 span(s) still open were reported unfinished"),
        "{}",
        run.stderr
    );
    let spans = receiver.wait_for_spans(4, WAIT);
    // Give a wrongly sent fifth span time to arrive.
    std::thread::sleep(Duration::from_millis(300));
    let spans_now = receiver.spans();
    receiver.assert_no_violations();
    assert_eq!(spans_now.len(), 4, "{spans_now:#?}");
    let (serve, handle, request) = (
        by_name(&spans, "serve"),
        by_name(&spans, "handle_request"),
        by_name(&spans, "request"),
    );
    for span in [serve, handle, request] {
        assert_open(span);
    }
    let step = by_name(&spans, "finished_step");
    assert_eq!(step.tag("open_at_shutdown"), None);
    // One tree, with its arguments, as far as it got.
    assert_eq!(handle.parent_id.as_ref(), Some(&serve.id));
    assert_eq!(request.parent_id.as_ref(), Some(&handle.id));
    assert_eq!(step.parent_id.as_ref(), Some(&serve.id));
    assert_eq!(serve.tag("port"), Some("8080"));
    // The background thread's spans were open too, but out of reach.
    assert!(spans_now.iter().all(|span| {
        !matches!(
            span.name.as_deref(),
            Some("background_job" | "background_thread")
        )
    }));
    eprintln!("  sync-exit: stderr: {}", run.stderr.trim());
}

fn a_future_open_at_shutdown_is_delivered_once() {
    let receiver = Receiver::start();
    let run = run("async", &receiver.endpoint());
    assert_eq!(run.count("open"), 1, "{}", run.stderr);
    // The spawned task's span, parked in the executor.
    assert_eq!(run.count("unreachable"), 1, "{}", run.stderr);
    // finished_step, finished_with_text and the open future; not the future again when it
    // completed, nor the call it made after the shutdown.
    assert_eq!(run.count("exported"), 3, "{}", run.stderr);
    let spans = receiver.wait_for_spans(3, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    receiver.assert_no_violations();
    assert_eq!(receiver.spans().len(), 3, "{spans:#?}");
    assert_eq!(
        by_name(&spans, "finished_with_text").tag("label"),
        Some("label")
    );
    assert_open(by_name(&spans, "polled_again"));
    assert_eq!(
        by_name(&spans, "finished_step").tag("open_at_shutdown"),
        None
    );
}

const TESTS: &[traced_tests::harness::Test] = &[
    (
        "a_process_that_exits_with_spans_open_delivers_them",
        a_process_that_exits_with_spans_open_delivers_them,
    ),
    (
        "a_future_open_at_shutdown_is_delivered_once",
        a_future_open_at_shutdown_is_delivered_once,
    ),
];

fn main() {
    if let Ok(scenario) = std::env::var(SCENARIO) {
        match scenario.as_str() {
            "sync-exit" => sync_exit_main(),
            "async" => async_main(),
            other => panic!("unknown scenario {other:?}"),
        }
        return;
    }
    traced_tests::harness::run(TESTS);
}
