//! The fast path for `#[traced]` calls: frames on a per-thread stack instead of registry spans.
//!
//! A tracing span costs a registry slot, a boxed extension and a dispatch through every layer on
//! new, enter, exit and close: about a thousand instructions before our layer records anything
//! (benches/PROFILE.md). A `#[traced]` call needs none of it when our layer is the only consumer
//! of spans: its state (`SpanState`, typed tags inline) sits on this thread's frame stack while
//! the call runs, and the finished record goes straight to the exporter.
//!
//! Library spans and events still nest correctly. The layer counts the tracing spans entered on
//! each thread; a frame remembers the count when it was pushed, so the top frame is the innermost
//! scope exactly when no tracing span was entered after it. The layer then parents new spans and
//! events to it (`innermost`), and `current_context` propagates it.
//!
//! Frames are strictly nested on a thread: a synchronous call pushes its frame for the duration
//! of the call, and an instrumented future pushes its frame for the duration of each poll.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use tracing_core::callsite::{Callsite, DefaultCallsite};
use tracing_core::{Dispatch, Metadata};

use crate::clock::Timestamp;
use crate::layer::{Core, Inherited, SpanState};
use crate::model::{SpanContext, SpanRecord};

/// A `#[traced]` call's span while it runs.
pub(crate) struct Frame {
    pub(crate) state: SpanState,
    /// Tracing spans entered on this thread when the frame was pushed.
    entered: u32,
    /// The `Core::id` of the layer whose exporter takes the span.
    core: u64,
}

impl Frame {
    /// A frame that only carries an unsampled parent's context, for a future that may be polled
    /// where that parent is not on the stack: what runs inside still sees the trace's ids and
    /// its deny decision, and nothing is recorded.
    pub(crate) fn unsampled(context: SpanContext, meta: &'static Metadata<'static>) -> Frame {
        Frame {
            state: SpanState::new(context, meta, false, None),
            entered: 0,
            core: 0,
        }
    }

    pub(crate) fn is_sampled(&self) -> bool {
        self.state.context.sampling.is_sampled()
    }
}

struct Local {
    frames: RefCell<Vec<Frame>>,
    /// Tracing spans currently entered on this thread, as our layer saw them.
    entered: Cell<u32>,
    /// The layer core the last frame on this thread came from, so that finishing a frame finds
    /// its exporter without touching a reference count.
    core: RefCell<Option<Arc<Core>>>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            frames: RefCell::new(Vec::new()),
            entered: Cell::new(0),
            core: RefCell::new(None),
        }
    };
}

/// The layer saw a tracing span entered on this thread.
#[inline]
pub(crate) fn tracing_span_entered() {
    let _ = LOCAL.try_with(|local| local.entered.set(local.entered.get().wrapping_add(1)));
}

/// The layer saw a tracing span exited on this thread.
#[inline]
pub(crate) fn tracing_span_exited() {
    let _ = LOCAL.try_with(|local| local.entered.set(local.entered.get().saturating_sub(1)));
}

/// Runs `f` on the top frame when it is the innermost scope of this thread. Never runs user
/// code while the stack is borrowed: `f` is always ours.
#[inline]
fn with_top<R>(f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| {
            let mut frames = local.frames.try_borrow_mut().ok()?;
            let top = frames.last_mut()?;
            (local.entered.get() <= top.entered).then(|| f(top))
        })
        .ok()
        .flatten()
}

/// The innermost frame's context and service, when a frame is the innermost scope.
pub(crate) fn innermost() -> Option<Inherited> {
    with_top(|top| (top.state.context, top.state.service.clone()))
}

/// Whether the innermost scope is a frame, and then whether it is sampled.
#[inline]
pub(crate) fn innermost_sampled() -> Option<bool> {
    with_top(|top| top.is_sampled())
}

/// Runs `record` on the innermost frame's state.
pub(crate) fn with_innermost(record: impl FnOnce(&mut SpanState)) {
    with_top(|top| record(&mut top.state));
}

/// The innermost frame's context when it is unsampled: a `#[traced]` call under it records
/// nothing, so it can skip its own span.
#[inline]
pub(crate) fn innermost_unsampled() -> Option<SpanContext> {
    with_top(|top| (!top.is_sampled()).then_some(top.state.context)).flatten()
}

/// What a `#[traced]` call gets after its callsite and the dispatcher were asked.
// The frame is moved, not boxed: a box would be the one allocation the fast path avoids.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Begun {
    /// Disabled by the level or a filter: no span.
    Off,
    /// Frames are not allowed or not offered by the subscriber: make a tracing span.
    Span,
    /// A started frame, not pushed yet.
    Frame(Frame),
}

/// Asks the callsite and the current dispatcher how a `#[traced]` call is recorded, and starts
/// its frame when the fast path applies.
pub(crate) fn begin(callsite: &'static DefaultCallsite, frames_allowed: bool) -> Begun {
    let interest = callsite.interest();
    if interest.is_never() {
        return Begun::Off;
    }
    let meta = callsite.metadata();
    // Nothing in here may call into tracing: `get_default` does not nest.
    tracing_core::dispatcher::get_default(|dispatch| {
        if !interest.is_always() && !dispatch.enabled(meta) {
            return Begun::Off;
        }
        if !frames_allowed {
            return Begun::Span;
        }
        match dispatch.downcast_ref::<Arc<Core>>() {
            Some(core) => Begun::Frame(start(core, dispatch, meta)),
            None => Begun::Span,
        }
    })
}

fn start(core: &Arc<Core>, dispatch: &Dispatch, meta: &'static Metadata<'static>) -> Frame {
    let parent = innermost().or_else(|| {
        let current = dispatch.current_span();
        current
            .id()
            .and_then(|id| crate::layer::parent_of(dispatch, id))
    });
    let state = match parent {
        Some((context, service)) => SpanState::child(context, meta, service),
        None => SpanState::root(core, meta),
    };
    if state.context.sampling.is_sampled() {
        core.exporter.span_started(state.context.trace_id);
    }
    remember(core);
    Frame {
        state,
        entered: 0,
        core: core.id,
    }
}

/// Keeps `core` as this thread's exporter for finished frames.
#[inline]
fn remember(core: &Arc<Core>) {
    let _ = LOCAL.try_with(|local| {
        let known = local
            .core
            .try_borrow()
            .is_ok_and(|cached| cached.as_ref().is_some_and(|cached| cached.id == core.id));
        if !known {
            if let Ok(mut cached) = local.core.try_borrow_mut() {
                *cached = Some(Arc::clone(core));
            }
        }
    });
}

/// Pushes `frame` on this thread's stack; returns its index, the key to [`pop`] it. A frame
/// that cannot be pushed (the thread is being torn down) is finished at once.
pub(crate) fn push(frame: Frame) -> Option<usize> {
    let mut frame = Some(frame);
    let index = LOCAL
        .try_with(|local| {
            let mut frames = local.frames.try_borrow_mut().ok()?;
            let mut pushed = frame.take()?;
            pushed.entered = local.entered.get();
            frames.push(pushed);
            Some(frames.len() - 1)
        })
        .ok()
        .flatten();
    if let Some(frame) = frame {
        finish(frame);
    }
    index
}

/// Takes the frame pushed at `index` off the stack.
pub(crate) fn pop(index: usize) -> Option<Frame> {
    LOCAL
        .try_with(|local| {
            let mut frames = local.frames.try_borrow_mut().ok()?;
            if index + 1 == frames.len() {
                frames.pop()
            } else if index < frames.len() {
                // Frames nest, so this does not happen; if it did, the others stay in place.
                Some(frames.remove(index))
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

/// Runs `record` on the state of the frame pushed at `index`.
pub(crate) fn with_frame(index: usize, record: impl FnOnce(&mut SpanState)) {
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut frames) = local.frames.try_borrow_mut() {
            if let Some(frame) = frames.get_mut(index) {
                record(&mut frame.state);
            }
        }
    });
}

/// Ends a frame: a sampled one is timed and handed to its layer's exporter.
pub(crate) fn finish(frame: Frame) {
    if !frame.is_sampled() {
        return;
    }
    let end = Timestamp::now();
    let core = frame.core;
    export(core, frame.state.finish(end));
}

fn export(core_id: u64, record: SpanRecord) {
    let mut record = Some(record);
    let _ = LOCAL.try_with(|local| {
        if let Ok(cached) = local.core.try_borrow() {
            if let Some(core) = cached.as_ref().filter(|core| core.id == core_id) {
                if let Some(record) = record.take() {
                    core.exporter.export(record);
                }
            }
        }
    });
    let Some(record) = record else {
        return;
    };
    // The frame ended on another thread than the last frame of its layer (a future moved
    // between threads, or another subscriber was used here since): find the layer again.
    let core = tracing_core::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<Arc<Core>>()
            .filter(|core| core.id == core_id)
            .cloned()
    });
    if let Some(core) = core {
        core.exporter.export(record);
        remember(&core);
    }
}
