//! Panic messages for error tags.
//!
//! A span guard's `Drop` runs while a panic unwinds but cannot see the panic's payload. A chained
//! panic hook keeps the last message of each thread, so the guard can tag the span with it. The
//! previous hook still runs, so the panic prints and continues unchanged.

use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook once per process; later calls cost one atomic load.
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = payload_message(info.payload());
            let _ = LAST_PANIC.try_with(|last| *last.borrow_mut() = Some(message));
            previous(info);
        }));
    });
}

/// A panic's message from its payload (a `&str` or a `String`, as `panic!` makes them), capped
/// like any tag value; `"panic"` for any other payload.
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        crate::value::cap_str(text).into_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        crate::value::cap_str(text).into_owned()
    } else {
        "panic".to_owned()
    }
}

/// The message of the panic this thread is unwinding from, if one is.
pub fn current_panic_message() -> Option<String> {
    if !std::thread::panicking() {
        return None;
    }
    let message = LAST_PANIC
        .try_with(|last| last.borrow().clone())
        .ok()
        .flatten();
    Some(message.unwrap_or_else(|| "panic".to_owned()))
}

/// Tags `span` with the panic this thread is unwinding from (`error`, and `error.type` =
/// `panic`), as a span guard's `Drop` does.
pub(crate) fn record_on_span(span: &tracing::Span) {
    if let Some(message) = current_panic_message() {
        span.record("error", message.as_str());
        span.record("error.type", "panic");
    }
}
