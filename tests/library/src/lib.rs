//! What a dependency of a traced service does with `tracing`'s own API: it asks for the current
//! span, records on it, parents its own spans and events to it, and carries it into tasks and
//! threads. It knows nothing of `traced`, and is compiled as a crate of its own, so
//! `#[traced]` can neither see nor rewrite it: the tests in `tests/tests/attribute_context.rs`
//! check that all of it refers to the `#[traced]` call it runs under, at any depth.

use tracing::instrument::Instrument;
use tracing::Span;

/// The name of the current span, as library code sees it.
pub fn current_name() -> Option<&'static str> {
    Span::current().metadata().map(|meta| meta.name())
}

/// [`current_name`] from a few calls further down.
pub fn current_name_deep(depth: u32) -> Option<&'static str> {
    if depth == 0 {
        current_name()
    } else {
        std::hint::black_box(current_name_deep(depth - 1))
    }
}

/// Records `lib.value` on the current span (which must declare the field).
pub fn record_on_current(value: u64) {
    Span::current().record("lib.value", value);
}

/// A span of its own whose parent is explicitly the current span.
pub fn child_of_current() {
    tracing::info_span!(parent: Span::current(), "lib_child").in_scope(|| {});
}

/// An event whose parent is explicitly the current span.
pub fn event_on_current() {
    tracing::info!(parent: Span::current(), lib.rows = 3_u64, "library event");
}

/// A task that carries the current span (`in_current_span`), with a span of its own inside.
pub async fn spawn_in_current_span() {
    let task = async {
        tracing::info_span!("lib_task").in_scope(|| {});
    };
    tokio::spawn(task.in_current_span())
        .await
        .expect("the task runs");
}

/// A task instrumented with `Span::current()` explicitly, as `.instrument(Span::current())`.
pub async fn spawn_instrumented_with_current() {
    let task = async {
        tracing::info_span!("lib_instrumented").in_scope(|| {});
    };
    tokio::spawn(task.instrument(Span::current()))
        .await
        .expect("the task runs");
}

/// Blocking work on tokio's blocking pool, inside the current span.
pub async fn spawn_blocking_in_current_span() {
    let span = Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| tracing::info_span!("lib_blocking").in_scope(|| {}));
    })
    .await
    .expect("the blocking task runs");
}

/// A plain thread inside the current span, with the current dispatcher (a new thread has
/// none of its own unless one is global).
pub fn thread_in_current_span() {
    let span = Span::current();
    let dispatch = tracing::dispatcher::get_default(|dispatch| dispatch.clone());
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            span.in_scope(|| tracing::info_span!("lib_thread").in_scope(|| {}));
        });
    })
    .join()
    .expect("the thread runs");
}

/// Keeps the current span for later: a handle that outlives the call it was taken in.
pub fn keep_current() -> Span {
    Span::current()
}
