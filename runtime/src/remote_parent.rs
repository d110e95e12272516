//! What the next root span takes when it is created: a caller's context to continue, and the
//! sampler that decides a new trace instead of the layer's (an HTTP sampling rule, a function's
//! `sampler = …`). Set around the code that makes the span, taken by the layer (or the frame
//! path) when the span is created.

use std::cell::Cell;
use std::sync::Arc;

use crate::model::Remote;
use crate::sample::Sampler;

/// What waits for the next root span on this thread.
pub(crate) struct Pending {
    /// A caller's context, and whether the span shares the caller's span id.
    pub(crate) remote: Option<(Remote, bool)>,
    /// Decides a new trace (or a caller's deferred decision) instead of the layer's sampler.
    pub(crate) sampler: Option<RootSampler>,
}

/// A sampler that replaces the layer's for one root span.
pub(crate) enum RootSampler {
    /// A rule's sampler, shared by every request the rule matches (it may keep a rate budget).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    Shared(Arc<dyn Sampler>),
    /// A `#[traced(sampler = …)]` choice, which keeps no state.
    Function(crate::sample::RootSampler),
}

impl RootSampler {
    pub(crate) fn as_sampler(&self) -> &dyn Sampler {
        match self {
            RootSampler::Shared(sampler) => &**sampler,
            RootSampler::Function(sampler) => sampler,
        }
    }
}

thread_local! {
    static PENDING: Cell<Option<Pending>> = const { Cell::new(None) };
}

/// Runs `make_span` so that the first root span it creates continues `remote` — the context a
/// caller sent — instead of starting a new trace.
///
/// With `shared`, the span reuses the caller's span id and is reported with `shared: true`
/// (Zipkin's classic RPC model); otherwise it is a new child of the caller's span.
pub(crate) fn with_remote_parent<R>(
    remote: Remote,
    shared: bool,
    make_span: impl FnOnce() -> R,
) -> R {
    with_pending(
        Pending {
            remote: Some((remote, shared)),
            sampler: None,
        },
        make_span,
    )
}

/// Runs `make_span` so that the first root span it creates takes `pending`.
pub(crate) fn with_pending<R>(pending: Pending, make_span: impl FnOnce() -> R) -> R {
    struct ClearOnExit;
    impl Drop for ClearOnExit {
        fn drop(&mut self) {
            let _ = PENDING.try_with(|cell| cell.set(None));
        }
    }
    let _ = PENDING.try_with(|cell| cell.set(Some(pending)));
    let _clear = ClearOnExit;
    make_span()
}

/// What waits for the root span being created, if anything: taken, so only the first root span
/// takes it.
pub(crate) fn take_pending() -> Option<Pending> {
    PENDING.try_with(Cell::take).ok().flatten()
}
