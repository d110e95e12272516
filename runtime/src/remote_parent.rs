//! A caller's context waiting for the root span it continues: set around the code that makes
//! the span, taken by the layer when the span is created.

use std::cell::Cell;

use crate::model::Remote;

thread_local! {
    static PENDING_REMOTE: Cell<Option<(Remote, bool)>> = const { Cell::new(None) };
}

/// Runs `make_span` so that the first root span it creates continues `remote` — the context a
/// caller sent — instead of starting a new trace.
///
/// With `shared`, the span reuses the caller's span id and is reported with `shared: true`
/// (Zipkin's classic RPC model); otherwise it is a new child of the caller's span.
///
pub(crate) fn with_remote_parent<R>(
    remote: Remote,
    shared: bool,
    make_span: impl FnOnce() -> R,
) -> R {
    struct ClearOnExit;
    impl Drop for ClearOnExit {
        fn drop(&mut self) {
            PENDING_REMOTE.with(|pending| pending.set(None));
        }
    }
    PENDING_REMOTE.with(|pending| pending.set(Some((remote, shared))));
    let _clear = ClearOnExit;
    make_span()
}

/// The caller's context and model waiting for the root span being created, if any: taken, so
/// only the first root span continues it.
pub(crate) fn take_pending() -> Option<(Remote, bool)> {
    PENDING_REMOTE.with(|pending| pending.take())
}
