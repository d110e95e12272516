//! Shutdown in real processes: the guard returned by `traced::init()` flushes when `main` ends —
//! a sync `main`, `#[tokio::main]` in both flavours, a `main` that panics — and with a dead or
//! hung collector the process still exits within the shutdown deadline (default 5 s), saying on
//! stderr how many spans it could not send. `traced::signal::flush_on_signal()` flushes on
//! SIGTERM and SIGINT, and the process still ends by that signal.
//!
//! Each scenario runs in a fresh process (this test binary started again with
//! `TRACED_SHUTDOWN_SCENARIO` set), because a process has a single global subscriber and because
//! exit codes, signals and stderr are what is being checked. The binary has no libtest harness
//! (`harness = false`), so each scenario's `main` is a real `main`: panics unwind out of it and
//! `#[tokio::main]` builds its runtime as in an application.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use traced_tests::{tree, unused_endpoint, Fault, ReceivedSpan, Receiver};
use tracing::Instrument;

const SCENARIO: &str = "TRACED_SHUTDOWN_SCENARIO";
/// The default shutdown deadline, which the scenarios do not change.
const DEADLINE: Duration = traced::setup::DEFAULT_SHUTDOWN_TIMEOUT;
/// Process exit and scheduling slack on a loaded machine; far below the 60 s export timeout a
/// shutdown ignoring its deadline would wait for.
const MARGIN: Duration = Duration::from_secs(5);
/// How long any child may live before the test kills it and fails.
const CHILD_LIMIT: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The child side: one `main` per scenario. Each prints `created <n>` once its spans are closed,
// then `exiting` just before the guard drops (or `ready` and waits for a signal).
// ---------------------------------------------------------------------------------------------

/// A root span with `children` children, each on its own thread with an event; returns the
/// number of spans closed.
fn sync_work(children: u64) -> u64 {
    let root = tracing::info_span!("main", children);
    std::thread::scope(|scope| {
        for child in 0..children {
            let parent = root.clone();
            scope.spawn(move || {
                tracing::info_span!(parent: &parent, "child", child).in_scope(|| {
                    tracing::info!(child, "working");
                });
            });
        }
    });
    drop(root);
    children + 1
}

async fn async_work(children: u64) -> u64 {
    async {
        let tasks: Vec<_> = (0..children)
            .map(|child| {
                tokio::spawn(
                    async move {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        tracing::info!(child, "working");
                    }
                    .instrument(tracing::info_span!("child", child)),
                )
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    }
    .instrument(tracing::info_span!("main", children))
    .await;
    children + 1
}

fn announce(created: u64, last: &str) {
    println!("created {created}");
    println!("{last}");
}

fn sync_main() {
    let _guard = traced::init();
    let created = sync_work(4);
    announce(created, "exiting");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_multi_main() {
    let _guard = traced::init();
    let created = async_work(4).await;
    announce(created, "exiting");
}

#[tokio::main(flavor = "current_thread")]
async fn tokio_current_main() {
    let _guard = traced::init();
    let created = async_work(4).await;
    announce(created, "exiting");
}

fn panicking_main() {
    let _guard = traced::init();
    let created = sync_work(2);
    let _root = tracing::info_span!("doomed_main").entered();
    // `doomed_main` and `doomed` close while the panic unwinds, before the guard drops.
    announce(created + 2, "exiting");
    tracing::info_span!("doomed").in_scope(|| {
        tracing::error!("about to fail");
        panic!("boom in main");
    });
}

fn signalled_main() {
    let _guard = traced::init();
    traced::signal::flush_on_signal().expect("signal handlers");
    let created = sync_work(3);
    // Open when the signal comes: never finished, so never sent.
    let _serving = tracing::info_span!("serving").entered();
    announce(created, "ready");
    loop {
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// The parent side.
// ---------------------------------------------------------------------------------------------

struct Run {
    status: ExitStatus,
    stderr: String,
    created: u64,
    /// From the child's last line (`exiting`, or the signal sent after `ready`) to its exit.
    to_exit: Duration,
}

/// Runs `scenario` in a child process reporting to `endpoint`; `on_ready` is called with the
/// child's pid once it printed its last line.
fn run(
    scenario: &str,
    endpoint: &str,
    extra_env: &[(&str, &str)],
    on_ready: impl FnOnce(u32),
) -> Run {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    command
        .env(SCENARIO, scenario)
        .env("OTEL_SERVICE_NAME", scenario)
        .env("OTEL_TRACES_EXPORTER", "zipkin")
        .env("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint)
        // Only the shutdown can send: the batch timer never fires in these short lives.
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env_remove("OTEL_EXPORTER_ZIPKIN_TIMEOUT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn the scenario");
    let pid = child.id();

    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send((line, Instant::now())).is_err() {
                return;
            }
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });

    let started = Instant::now();
    let mut created = None;
    let mut last_line_at = None;
    let mut on_ready = Some(on_ready);
    let status = loop {
        while let Ok((line, at)) = lines.try_recv() {
            if let Some(count) = line.strip_prefix("created ") {
                created = count.parse().ok();
            } else if line == "exiting" || line == "ready" {
                last_line_at = Some(at);
                if let Some(on_ready) = on_ready.take() {
                    on_ready(pid);
                    if line == "ready" {
                        // Measured from the signal, not from the line.
                        last_line_at = Some(Instant::now());
                    }
                }
            }
        }
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if started.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{scenario}: still running after {CHILD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let exited_at = Instant::now();
    let stderr = stderr_reader.join().expect("stderr reader");
    // Lines sent just before the exit.
    while let Ok((line, at)) = lines.recv_timeout(Duration::from_secs(1)) {
        if let Some(count) = line.strip_prefix("created ") {
            created = count.parse().ok();
        } else if line == "exiting" {
            last_line_at.get_or_insert(at);
        }
    }
    let created =
        created.unwrap_or_else(|| panic!("{scenario}: no `created` line; stderr:\n{stderr}"));
    let last_line_at =
        last_line_at.unwrap_or_else(|| panic!("{scenario}: no last line; stderr:\n{stderr}"));
    Run {
        status,
        stderr,
        created,
        to_exit: exited_at.saturating_duration_since(last_line_at),
    }
}

fn no_signal(_pid: u32) {}

fn send_signal(signal: &str) -> impl FnOnce(u32) + '_ {
    move |pid| {
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }
}

/// The spans of one scenario's process arrived as one tree rooted at `main`.
fn assert_one_tree(receiver: &Receiver, run: &Run, scenario: &str) -> Vec<ReceivedSpan> {
    let spans = receiver.wait_for_spans(run.created as usize, WAIT);
    receiver.assert_no_violations();
    assert_eq!(
        spans.len() as u64,
        run.created,
        "{scenario}: {}\nstderr:\n{}",
        tree::render_spans(&spans),
        run.stderr
    );
    for span in &spans {
        assert_eq!(span.service(), Some(scenario));
    }
    spans
}

fn guard_flushes_at_the_end_of_main(scenario: &str) {
    let receiver = Receiver::start();
    let run = run(scenario, &receiver.endpoint(), &[], no_signal);
    assert!(
        run.status.success(),
        "{scenario}: {:?}\n{}",
        run.status,
        run.stderr
    );
    let spans = assert_one_tree(&receiver, &run, scenario);
    let trace = tree::assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("main"));
    assert_eq!(
        trace.children_of(trace.root()).len() as u64,
        run.created - 1
    );
    assert!(
        !run.stderr.contains("could not be sent"),
        "{scenario}: {}",
        run.stderr
    );
    eprintln!(
        "  {scenario}: {} spans flushed; exit {:.0?} after main's end",
        run.created, run.to_exit
    );
}

fn sync_main_flushes() {
    guard_flushes_at_the_end_of_main("sync");
}

fn tokio_multi_thread_main_flushes() {
    guard_flushes_at_the_end_of_main("tokio-multi");
}

fn tokio_current_thread_main_flushes() {
    guard_flushes_at_the_end_of_main("tokio-current");
}

fn a_panic_in_main_still_flushes() {
    let receiver = Receiver::start();
    let run = run("panic", &receiver.endpoint(), &[], no_signal);
    assert_eq!(run.status.code(), Some(101), "{}", run.stderr);
    assert!(run.stderr.contains("boom in main"), "{}", run.stderr);
    let spans = assert_one_tree(&receiver, &run, "panic");
    let doomed = spans
        .iter()
        .find(|span| span.name.as_deref() == Some("doomed"))
        .expect("the panicking span was sent");
    assert_eq!(doomed.tag("error"), Some("about to fail"));
    assert!(spans
        .iter()
        .any(|span| span.name.as_deref() == Some("doomed_main")));
    eprintln!(
        "  panic: {} spans flushed while unwinding; exit {:.0?} after the panic",
        run.created, run.to_exit
    );
}

/// The child exits within the deadline although nothing can be delivered, and says how many
/// spans it lost.
fn dead_collector(what: &str, scenario: &str, endpoint: &str) {
    // A collector that never answers would hold each POST for a minute.
    let run = run(
        scenario,
        endpoint,
        &[("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "60000")],
        no_signal,
    );
    let expected_code = if scenario == "panic" { 101 } else { 0 };
    assert_eq!(
        run.status.code(),
        Some(expected_code),
        "{what}: {}",
        run.stderr
    );
    assert!(
        run.to_exit <= DEADLINE + MARGIN,
        "{what}: exit {:?} after main's end, deadline {DEADLINE:?}\n{}",
        run.to_exit,
        run.stderr
    );
    let expected = format!(
        "traced: shutdown: {} queued span(s) could not be sent",
        run.created
    );
    assert!(run.stderr.contains(&expected), "{what}: {}", run.stderr);
    eprintln!(
        "  {what}: exit {:.1?} after main's end (deadline {DEADLINE:?}); stderr: {}",
        run.to_exit,
        run.stderr
            .lines()
            .filter(|line| line.starts_with("traced:"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
}

fn a_collector_not_listening_costs_at_most_the_deadline() {
    dead_collector("not listening", "sync", &unused_endpoint());
}

fn a_hung_collector_costs_at_most_the_deadline() {
    let receiver = Receiver::start_with(Fault::Hang);
    dead_collector("hung", "sync", &receiver.endpoint());
}

fn a_hung_collector_under_tokio_main_costs_at_most_the_deadline() {
    let receiver = Receiver::start_with(Fault::Hang);
    dead_collector(
        "hung, tokio multi-thread",
        "tokio-multi",
        &receiver.endpoint(),
    );
}

fn a_panic_with_a_dead_collector_costs_at_most_the_deadline() {
    dead_collector("not listening, panic", "panic", &unused_endpoint());
}

fn a_signal_flushes_then_ends_the_process(signal: &str, number: i32) {
    let receiver = Receiver::start();
    let run = run("signal", &receiver.endpoint(), &[], send_signal(signal));
    assert_eq!(
        run.status.signal(),
        Some(number),
        "{signal}: {:?}\n{}",
        run.status,
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("{signal} received")),
        "{}",
        run.stderr
    );
    let spans = assert_one_tree(&receiver, &run, "signal");
    let trace = tree::assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("main"));
    assert!(
        spans
            .iter()
            .all(|span| span.name.as_deref() != Some("serving")),
        "a span still open is not sent"
    );
    eprintln!(
        "  {signal}: {} spans flushed; exit {:.0?} after the signal",
        run.created, run.to_exit
    );
}

fn sigterm_flushes() {
    a_signal_flushes_then_ends_the_process("TERM", 15);
}

fn sigint_flushes() {
    a_signal_flushes_then_ends_the_process("INT", 2);
}

const TESTS: &[traced_tests::harness::Test] = &[
    ("sync_main_flushes", sync_main_flushes),
    (
        "tokio_multi_thread_main_flushes",
        tokio_multi_thread_main_flushes,
    ),
    (
        "tokio_current_thread_main_flushes",
        tokio_current_thread_main_flushes,
    ),
    (
        "a_panic_in_main_still_flushes",
        a_panic_in_main_still_flushes,
    ),
    (
        "a_collector_not_listening_costs_at_most_the_deadline",
        a_collector_not_listening_costs_at_most_the_deadline,
    ),
    (
        "a_hung_collector_costs_at_most_the_deadline",
        a_hung_collector_costs_at_most_the_deadline,
    ),
    (
        "a_hung_collector_under_tokio_main_costs_at_most_the_deadline",
        a_hung_collector_under_tokio_main_costs_at_most_the_deadline,
    ),
    (
        "a_panic_with_a_dead_collector_costs_at_most_the_deadline",
        a_panic_with_a_dead_collector_costs_at_most_the_deadline,
    ),
    ("sigterm_flushes", sigterm_flushes),
    ("sigint_flushes", sigint_flushes),
];

fn main() {
    if let Ok(scenario) = std::env::var(SCENARIO) {
        match scenario.as_str() {
            "sync" => sync_main(),
            "tokio-multi" => tokio_multi_main(),
            "tokio-current" => tokio_current_main(),
            "panic" => panicking_main(),
            "signal" => signalled_main(),
            other => panic!("unknown scenario {other:?}"),
        }
        return;
    }

    traced_tests::harness::run(TESTS);
}
