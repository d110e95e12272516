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
//! events to it (`innermost`), and `current_context` propagates it. When code asks
//! `tracing::Span::current()` while a frame is the innermost scope, `TracedSubscriber` gives it
//! the frame's twin: a registry span with the frame's ids, made then (`innermost_for_twin`,
//! `making_twin`, `keep_twin`); when the frame ends it hands its state to the twin, which is
//! reported when it closes (`Twin::adopt`).
//!
//! Frames are strictly nested on a thread: a synchronous call pushes its frame for the duration
//! of the call, and an instrumented future pushes its frame for the duration of each poll. The
//! stack's slots are reused in place: a span's state is a few hundred bytes (tags inline), and
//! moving it through every step of a call would cost more than the rest of the call.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use tracing_core::callsite::{Callsite, DefaultCallsite};
use tracing_core::span::Id;
use tracing_core::{Dispatch, Metadata};

use crate::clock::Timestamp;
use crate::lookup::current_of;
use crate::model::{Remote, Sampling, SpanContext, SpanId, SpanRecord, TraceId};
use crate::open_spans::ThreadCounts;
use crate::pipeline::{child_context, start_time, Core};
use crate::sample::Sampler;
use crate::state::{Inherited, Scalar, SpanState};

/// A `#[traced]` call's span: on the stack while the call runs, in its future between polls.
pub(crate) struct Frame {
    pub(crate) state: SpanState,
    /// Tracing spans entered on this thread when the frame was pushed.
    entered: u32,
    /// The `Core::id` of the layer whose exporter takes the span.
    core: u64,
    /// The registry span standing for this frame, once `tracing::Span::current()` asked for
    /// it (`subscriber.rs`); boxed, as few frames ever have one.
    twin: Option<Box<Twin>>,
}

/// A frame's twin: its id in the dispatcher that made it.
#[derive(Clone)]
pub(crate) struct Twin {
    id: Id,
    dispatch: Option<Dispatch>,
    /// The layer core of that dispatcher, if it has our layer: a frame hands its state only to
    /// a twin of its own layer.
    core: Option<u64>,
}

impl Twin {
    /// Hands the finished frame's `state` to the twin, to be reported when the twin closes (see
    /// `lookup::hand_to_twin`); `false` if the frame must report itself: the twin is gone, or
    /// belongs to another layer than the frame's `core` (then what it recorded is taken in).
    fn adopt(&self, state: &mut SpanState, core: u64) -> bool {
        let hand_over = self.core == Some(core);
        let handed = self.dispatch.as_ref().is_some_and(|dispatch| {
            crate::lookup::hand_to_twin(dispatch, &self.id, state, hand_over)
        });
        if handed {
            // What was swapped back is the twin's old state: it must not keep the service alive.
            state.service = None;
        }
        handed
    }

    /// Lets go of the frame's reference to the twin; the registry closes it when no one else
    /// holds it (a task it was handed to may, for longer).
    fn release(self) {
        if let Some(dispatch) = &self.dispatch {
            dispatch.try_close(self.id);
        }
    }
}

impl Frame {
    pub(crate) fn is_sampled(&self) -> bool {
        self.state.context.sampling.is_sampled()
    }

    /// An empty frame, left where a frame was swapped out.
    fn vacant() -> Frame {
        let context = SpanContext {
            trace_id: TraceId(0),
            span_id: SpanId(0),
            parent_id: None,
            sampling: Sampling::Deny,
        };
        Opening::unsampled(context).into_frame(vacant_meta())
    }
}

/// What a vacant frame names as its callsite; never reported.
fn vacant_meta() -> &'static Metadata<'static> {
    struct Vacant;
    static CALLSITE: Vacant = Vacant;
    static META: Metadata<'static> = Metadata::new(
        "vacant",
        "traced::frame",
        tracing_core::Level::TRACE,
        None,
        None,
        None,
        tracing_core::field::FieldSet::new(&[], tracing_core::identify_callsite!(&CALLSITE)),
        tracing_core::metadata::Kind::SPAN,
    );
    impl Callsite for Vacant {
        fn set_interest(&self, _: tracing_core::subscriber::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            &META
        }
    }
    &META
}

/// A new frame's identity, decided when the call starts; the state is made from it in place.
pub(crate) struct Opening {
    context: SpanContext,
    start: Timestamp,
    local_root: bool,
    service: Option<Arc<str>>,
    core: u64,
}

impl Opening {
    /// A frame that only carries an unsampled parent's context, for a future that may be polled
    /// where that parent is not on the stack: what runs inside still sees the trace's ids and
    /// its deny decision, and nothing is recorded.
    pub(crate) fn unsampled(context: SpanContext) -> Opening {
        Opening {
            context,
            start: Timestamp::ZERO,
            local_root: false,
            service: None,
            core: 0,
        }
    }

    pub(crate) fn is_sampled(&self) -> bool {
        self.context.sampling.is_sampled()
    }

    /// The ids and sampling decided for the frame.
    // Only the server span (`http/server_span.rs`) uses it.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn context(&self) -> SpanContext {
        self.context
    }

    /// The frame's state, not on the stack yet (to record its fields into).
    pub(crate) fn into_state(self, meta: &'static Metadata<'static>) -> SpanState {
        SpanState::started(
            self.context,
            self.start,
            meta,
            self.local_root,
            self.service,
        )
    }

    /// The frame, made from a borrowed opening (whose service moves into it), for a future
    /// that keeps it rather than a stack slot: a sampled one is counted as started here, as
    /// [`push`] counts a frame that lands on a stack (its end is counted when it is exported).
    pub(crate) fn take_frame(&mut self, meta: &'static Metadata<'static>) -> Frame {
        if self.is_sampled() {
            crate::open_spans::started(self.core);
        }
        Opening {
            service: self.service.take(),
            ..*self
        }
        .into_frame(meta)
    }

    pub(crate) fn into_frame(self, meta: &'static Metadata<'static>) -> Frame {
        let core = self.core;
        Frame {
            state: self.into_state(meta),
            entered: 0,
            core,
            twin: None,
        }
    }
}

/// The frames of one thread: `slots[..live]` are open, innermost last; the slots above are
/// kept for reuse.
struct Stack {
    slots: Vec<Frame>,
    live: usize,
}

impl Stack {
    /// The slot for a new frame: a reused one, or a new one made by `make`.
    fn claim(&mut self, make: impl FnOnce() -> Frame) -> (&mut Frame, usize) {
        let index = self.live;
        if index == self.slots.len() {
            self.slots.push(make());
        }
        self.live = index + 1;
        (&mut self.slots[index], index)
    }

    /// Closes the frame at `index`, the innermost one. Frames nest, so it always is; were it not,
    /// the frames above it would keep their order.
    #[inline]
    fn release(&mut self, index: usize) -> Option<&mut Frame> {
        if index >= self.live {
            return None;
        }
        self.slots[index..self.live].rotate_left(1);
        self.live -= 1;
        Some(&mut self.slots[self.live])
    }
}

struct Local {
    stack: RefCell<Stack>,
    /// Tracing spans currently entered on this thread, as our layer saw them.
    entered: Cell<u32>,
    /// The layer core the last frame on this thread came from, so that finishing a frame finds
    /// its exporter without touching a reference count.
    core: RefCell<Option<Arc<Core>>>,
    /// This thread's count of sampled frames started and ended (`open_spans.rs`).
    counts: ThreadCounts,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            stack: RefCell::new(Stack {
                slots: Vec::new(),
                live: 0,
            }),
            entered: Cell::new(0),
            core: RefCell::new(None),
            counts: ThreadCounts::new(),
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
            let mut stack = local.stack.try_borrow_mut().ok()?;
            let live = stack.live;
            let top = stack.slots[..live].last_mut()?;
            (local.entered.get() <= top.entered).then(|| f(top))
        })
        .ok()
        .flatten()
}

/// What a child of the innermost frame inherits, when a frame is the innermost scope.
pub(crate) fn innermost() -> Option<Inherited> {
    with_top(|top| top.state.inherited())
}

/// Whether the innermost scope is a frame, and then whether it is sampled.
#[inline]
pub(crate) fn innermost_sampled() -> Option<bool> {
    with_top(|top| top.is_sampled())
}

/// Runs `record` on the innermost frame's state, when a frame is the innermost scope.
pub(crate) fn with_innermost<R>(record: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    with_top(|top| record(&mut top.state))
}

/// The innermost frame's context when it is unsampled: a `#[traced]` call under it records
/// nothing, so it can skip its own span. Not when the frame has baggage: the call's own span
/// must carry it (see `begin`).
#[inline]
pub(crate) fn innermost_unsampled() -> Option<SpanContext> {
    with_top(|top| (!top.is_sampled() && !top.state.has_baggage()).then_some(top.state.context))
        .flatten()
}

/// Whether the innermost frame is unsampled (`innermost_unsampled`), for a synchronous call
/// deciding to skip its span.
///
/// Not inlined, and a `bool` in a register: with the thread-local lookup inlined into every
/// traced function, each kept one more register, saved and restored on its disabled path too
/// (18 instructions with no subscriber against `tracing::instrument`'s 16; callgrind, `report
/// instructions`).
#[inline(never)]
pub(crate) fn under_unsampled_frame() -> bool {
    innermost_unsampled().is_some()
}

/// The innermost frame, as [`TracedSubscriber`](crate::TracedSubscriber) needs it to answer
/// `current_span`.
pub(crate) struct InnermostFrame {
    pub(crate) index: usize,
    pub(crate) meta: &'static Metadata<'static>,
    /// Its twin, if it has one already.
    pub(crate) twin: Option<Id>,
    /// What its twin inherits when it is made: the frame's own ids.
    pub(crate) inherited: Inherited,
}

/// The innermost frame, when a frame is the innermost scope of this thread.
pub(crate) fn innermost_for_twin() -> Option<InnermostFrame> {
    LOCAL
        .try_with(|local| {
            let stack = local.stack.try_borrow().ok()?;
            let index = stack.live.checked_sub(1)?;
            let top = &stack.slots[index];
            if local.entered.get() > top.entered {
                return None;
            }
            Some(InnermostFrame {
                index,
                meta: top.state.meta,
                twin: top.twin.as_ref().map(|twin| twin.id.clone()),
                inherited: top.state.inherited(),
            })
        })
        .ok()
        .flatten()
}

thread_local! {
    /// What the twin being made inherits: set around the `new_span` that makes it, taken by
    /// the layer's `on_new_span`.
    static MAKING_TWIN: RefCell<Option<Inherited>> = const { RefCell::new(None) };
}

/// Runs `make` (which creates the twin's registry span) with the frame's ids waiting for it.
pub(crate) fn making_twin(inherited: Inherited, make: impl FnOnce() -> Id) -> Id {
    let _ = MAKING_TWIN.try_with(|making| *making.borrow_mut() = Some(inherited));
    let id = make();
    let _ = MAKING_TWIN.try_with(|making| making.borrow_mut().take());
    id
}

/// The ids of the twin being made, for the layer: taken, so only that span gets them.
pub(crate) fn take_making_twin() -> Option<Inherited> {
    MAKING_TWIN
        .try_with(|making| making.try_borrow_mut().ok()?.take())
        .ok()
        .flatten()
}

/// Keeps `id` as the twin of the frame at `index`.
pub(crate) fn keep_twin(index: usize, id: Id, dispatch: Option<Dispatch>) {
    let core = dispatch
        .as_ref()
        .and_then(|dispatch| dispatch.downcast_ref::<Arc<Core>>())
        .map(|core| core.id);
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut stack) = local.stack.try_borrow_mut() {
            let live = stack.live;
            if let Some(frame) = stack.slots[..live].get_mut(index) {
                frame.twin = Some(Box::new(Twin { id, dispatch, core }));
            }
        }
    });
}

/// What a `#[traced]` call gets after its callsite and the dispatcher were asked.
pub(crate) enum Begun {
    /// Disabled by the level or a filter: no span.
    Off,
    /// Frames are not allowed or not offered by the subscriber: make a tracing span.
    Span,
    /// The fast path: a frame to open.
    Frame(Opening),
}

/// Asks the callsite and the current dispatcher how a `#[traced]` call is recorded, and decides
/// its frame's ids when the fast path applies.
///
/// A call whose parent has baggage gets a tracing span instead of a frame: a frame is made from
/// an `Opening` that would have to carry the baggage through every step of the fast path (and
/// every future's handle), for every call, to serve the few that have some. The registry span
/// takes its parent's baggage when it is created (the layer's `on_new_span`), and goes wherever
/// its future goes. So the fast path stays as it was, and calls under baggage pay what a tracing
/// span costs.
///
/// `root_sampler`, when given, decides a new trace instead of the layer's sampler.
pub(crate) fn begin(
    callsite: &'static DefaultCallsite,
    frames_allowed: bool,
    root_sampler: Option<&dyn Sampler>,
) -> Begun {
    let interest = callsite.interest();
    if interest.is_never() {
        return Begun::Off;
    }
    // A call nested in a frame reports where its parent does: no need to ask the dispatcher
    // unless the callsite's filter depends on more than its metadata.
    if frames_allowed && interest.is_always() {
        if let Some(opening) = open_under_innermost() {
            return Begun::Frame(opening);
        }
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
        match dispatch
            .downcast_ref::<Arc<Core>>()
            .and_then(|core| open(core, dispatch, meta.name(), root_sampler))
        {
            Some(opening) => Begun::Frame(opening),
            None => Begun::Span,
        }
    })
}

/// As [`begin`], for an HTTP exchange's span (`http/request_span.rs`), which may continue a
/// caller's context: a request's server span, or a client span (no `remote`). With `remote`,
/// the frame is a local root under the caller's context (its own span id, or the caller's when
/// `shared`); without, it is a child of the current scope, or the root of a new trace.
/// `operation` is what the sampler sees (the span's name, not the callsite's). [`Begun::Span`]
/// when the subscriber has no fast path, or a local parent has baggage.
#[cfg_attr(not(any(feature = "tower", feature = "reqwest")), allow(dead_code))]
// Inlined into both its callers (server and client spans): called, it cost the trivial
// request 45 instructions more (`report request-profile traced trivial`).
#[inline(always)]
pub(crate) fn begin_request(
    callsite: &'static DefaultCallsite,
    operation: &str,
    remote: Option<(Remote, bool)>,
    root_sampler: Option<&dyn Sampler>,
) -> Begun {
    let interest = callsite.interest();
    if interest.is_never() {
        return Begun::Off;
    }
    let meta = callsite.metadata();
    tracing_core::dispatcher::get_default(|dispatch| {
        if !interest.is_always() && !dispatch.enabled(meta) {
            return Begun::Off;
        }
        let Some(core) = dispatch.downcast_ref::<Arc<Core>>() else {
            return Begun::Span;
        };
        let Some((remote, shared)) = remote else {
            return open(core, dispatch, operation, root_sampler).map_or(Begun::Span, Begun::Frame);
        };
        let context = core.continue_remote(remote, shared, operation, root_sampler);
        if context.sampling.is_sampled() {
            core.exporter.span_started(context.trace_id);
        }
        remember(core);
        Begun::Frame(Opening {
            context,
            start: start_time(context),
            local_root: true,
            service: None,
            core: core.id,
        })
    })
}

/// A child of the innermost frame, in one visit to this thread's locals.
fn open_under_innermost() -> Option<Opening> {
    LOCAL
        .try_with(|local| {
            let stack = local.stack.try_borrow().ok()?;
            let top = stack.slots[..stack.live].last()?;
            if local.entered.get() > top.entered || top.state.has_baggage() {
                return None;
            }
            let cached = local.core.try_borrow().ok()?;
            let core = cached.as_ref().filter(|core| core.id == top.core)?;
            let context = child_context(top.state.context);
            if context.sampling.is_sampled() {
                core.exporter.span_started(context.trace_id);
            }
            Some(Opening {
                context,
                start: start_time(context),
                local_root: false,
                service: top.state.service.clone(),
                core: core.id,
            })
        })
        .ok()
        .flatten()
}

/// A frame's opening under the current scope, or `None` when its parent has baggage (see
/// `begin`). Inlined into both its callers: called from `begin_request` too, it stopped being
/// inlined into `begin`, whose every call then saved more registers (sampled `d1` +5
/// instructions, `report instructions`).
#[inline(always)]
fn open(
    core: &Arc<Core>,
    dispatch: &Dispatch,
    name: &str,
    root_sampler: Option<&dyn Sampler>,
) -> Option<Opening> {
    // The innermost frame is the parent, if there is one; otherwise the registry's current
    // span, asked of the registry directly (the outermost subscriber would look for a frame
    // again).
    let parent = innermost().or_else(|| current_of(dispatch));
    let (context, local_root, service) = match parent {
        Some((_, _, Some(_))) => return None,
        Some((parent, service, None)) => (child_context(parent), false, service),
        None => (core.root_context(name, root_sampler), true, None),
    };
    if context.sampling.is_sampled() {
        core.exporter.span_started(context.trace_id);
    }
    remember(core);
    Some(Opening {
        context,
        start: start_time(context),
        local_root,
        service,
        core: core.id,
    })
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

/// Opens a call's frame on this thread's stack, its state made in place from `opening` (whose
/// service moves into it); returns its index, the key to [`close`] it. `None` when the thread
/// is being torn down.
///
/// The opening is borrowed, not moved: it is a hundred bytes, often written just before, and a
/// by-value move reads it back with wider loads than it was written with, which stalls.
pub(crate) fn push(
    opening: &mut Opening,
    meta: &'static Metadata<'static>,
    scalars: &[(&'static str, Scalar)],
) -> Option<usize> {
    LOCAL
        .try_with(|local| {
            let mut stack = local.stack.try_borrow_mut().ok()?;
            let entered = local.entered.get();
            let (slot, index) = stack.claim(Frame::vacant);
            slot.state.reset(
                opening.context,
                opening.start,
                meta,
                opening.local_root,
                opening.service.take(),
            );
            for &(key, value) in scalars {
                slot.state.push_scalar(key, value);
            }
            slot.entered = entered;
            slot.core = opening.core;
            // Counted where it lands on a stack: an opening that never does (the stack is
            // borrowed by an exporter, the thread is being torn down) is never reported either.
            if opening.context.sampling.is_sampled() {
                local.counts.started(opening.core);
            }
            Some(index)
        })
        .ok()
        .flatten()
}

/// Makes a future's frame the innermost scope for one poll: a stand-in with its ids goes on
/// the stack (the frame itself stays in the future, unmoved); [`leave`] ends the poll.
pub(crate) fn enter(frame: &Frame) -> Option<usize> {
    LOCAL
        .try_with(|local| {
            let mut stack = local.stack.try_borrow_mut().ok()?;
            let entered = local.entered.get();
            let (slot, index) = stack.claim(Frame::vacant);
            slot.state.stand_in_for(&frame.state);
            slot.entered = entered;
            slot.core = frame.core;
            slot.twin.clone_from(&frame.twin);
            Some(index)
        })
        .ok()
        .flatten()
}

/// Ends a poll begun by [`enter`]: what was recorded into the stand-in goes to `frame`.
pub(crate) fn leave(index: usize, frame: &mut Frame) {
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut stack) = local.stack.try_borrow_mut() {
            if let Some(slot) = stack.release(index) {
                slot.state.give_back(&mut frame.state);
                slot.state.service = None;
                // A twin made during the poll stays with the frame for the next ones.
                if let Some(twin) = slot.twin.take() {
                    frame.twin = Some(twin);
                }
            }
        }
    });
}

/// Takes the frame at `index` off the stack, to keep it elsewhere (in its future).
pub(crate) fn take_out(index: usize) -> Option<Frame> {
    LOCAL
        .try_with(|local| {
            let mut stack = local.stack.try_borrow_mut().ok()?;
            let slot = stack.release(index)?;
            let mut frame = Frame::vacant();
            std::mem::swap(slot, &mut frame);
            Some(frame)
        })
        .ok()
        .flatten()
}

/// Runs `record` on the state of the frame at `index`.
#[inline]
pub(crate) fn with_frame(index: usize, record: impl FnOnce(&mut SpanState)) {
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut stack) = local.stack.try_borrow_mut() {
            let live = stack.live;
            if let Some(frame) = stack.slots[..live].get_mut(index) {
                record(&mut frame.state);
            }
        }
    });
}

/// Adds a typed argument to the frame at `index`. Not generic, and every parameter is passed in
/// registers: see `SpanState::push_scalar`.
#[inline(never)]
pub(crate) fn push_scalar(index: usize, key: &'static str, value: Scalar) {
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut stack) = local.stack.try_borrow_mut() {
            let live = stack.live;
            if let Some(frame) = stack.slots[..live].get_mut(index) {
                frame.state.push_scalar(key, value);
            }
        }
    });
}

/// Ends the synchronous call's frame at `index`: a sampled one is timed (and tagged with the
/// panic, when `panicked`) and handed to its layer's exporter, or to its twin (which our layer
/// reports when it closes).
pub(crate) fn close(index: usize, panicked: bool) {
    let twin = LOCAL
        .try_with(|local| {
            let Ok(mut stack) = local.stack.try_borrow_mut() else {
                return None;
            };
            let frame = stack.release(index)?;
            let twin = frame.twin.take();
            if !frame.is_sampled() {
                // Nothing to report; the slot must not keep the service alive.
                frame.state.service = None;
                return twin;
            }
            if panicked {
                frame.state.record_panic();
            }
            // A frame with a twin is reported as the twin when the twin closes, which a kept
            // handle may delay (see `Twin::adopt`).
            if twin
                .as_ref()
                .is_some_and(|twin| twin.adopt(&mut frame.state, frame.core))
            {
                return twin;
            }
            let end = Timestamp::now();
            // The record is built straight into the exporter's hands. While it runs, this
            // thread's stack is borrowed, so what an exporter itself does is never traced (no
            // feedback). (A frame with a twin is exported from the twin's close instead, outside
            // the borrow; our exporters trace nothing of their own.)
            export(Some(local), frame.core, |core| {
                frame.state.tag_baggage(&core.baggage_tags);
                frame.state.take_record(end)
            });
            twin
        })
        .ok()
        .flatten();
    // Outside the borrow: closing the twin runs every layer's `on_close`.
    if let Some(twin) = twin {
        twin.release();
    }
}

/// Takes into `frame` what was recorded on its twin so far (through `tracing::Span::current()`),
/// leaving the twin in place: what the caller records next then comes after it and wins, as it
/// would on a tracing span. The HTTP spans record their outcome so (`http/request_span.rs`).
#[cfg_attr(not(any(feature = "tower", feature = "reqwest")), allow(dead_code))]
pub(crate) fn take_in_twin(frame: &mut Frame) {
    if let Some(Twin {
        id,
        dispatch: Some(dispatch),
        ..
    }) = frame.twin.as_deref()
    {
        crate::lookup::hand_to_twin(dispatch, id, &mut frame.state, false);
    }
}

/// Ends a future's frame, in place: a sampled one is timed and handed to its layer's exporter,
/// or to its twin (which our layer reports when it closes).
pub(crate) fn finish(frame: &mut Frame) {
    let twin = frame.twin.take();
    if !frame.is_sampled() {
        if let Some(twin) = twin {
            twin.release();
        }
        return;
    }
    if let Some(twin) = twin {
        if !twin.adopt(&mut frame.state, frame.core) {
            // The twin is gone: what it recorded cannot be taken either.
            report_frame(frame);
        }
        twin.release();
        return;
    }
    report_frame(frame);
}

/// Reports a finished, sampled future's frame itself.
fn report_frame(frame: &mut Frame) {
    let end = Timestamp::now();
    let core = frame.core;
    let mut state = Some(&mut frame.state);
    let _ = LOCAL.try_with(|local| {
        if let Some(state) = state.take() {
            export(Some(local), core, |core| {
                state.tag_baggage(&core.baggage_tags);
                state.take_record(end)
            });
        }
    });
    // This thread's locals are being destroyed.
    if let Some(state) = state {
        export(None, core, |core| {
            state.tag_baggage(&core.baggage_tags);
            state.take_record(end)
        });
    }
}

/// Hands the record that `build` makes (with the layer's settings) to the exporter of the layer
/// `core_id`.
#[inline(always)]
fn export(local: Option<&Local>, core_id: u64, build: impl FnOnce(&Core) -> SpanRecord) {
    if let Some(cached) = local.and_then(|local| local.core.try_borrow().ok()) {
        if let Some(core) = cached.as_ref().filter(|core| core.id == core_id) {
            core.exporter.export(build(core));
            if let Some(local) = local {
                local.counts.ended(core_id);
            }
            return;
        }
    }
    // The frame ended on another thread than the last frame of its layer (a future moved
    // between threads, or another subscriber was used here since): find the layer again.
    let core = tracing_core::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<Arc<Core>>()
            .filter(|core| core.id == core_id)
            .cloned()
    });
    if let Some(core) = core {
        core.exporter.export(build(&core));
        remember(&core);
    }
    // Ended either way: without its layer here (the future finished under another dispatcher)
    // the record has nowhere to go, and the span is no longer open.
    match local {
        Some(local) => local.counts.ended(core_id),
        None => crate::open_spans::ended(core_id),
    }
}

/// Reports the sampled frames of layer `core_id` open on this thread, innermost last, through
/// `export`, each marked by `mark` and ended at `end`; returns how many. A reported frame is left
/// unsampled, so it is not reported again when it closes (nor are children started after).
///
/// Only this thread's stack can be reached: the stacks are thread-locals that the per-span path
/// reads and writes without synchronisation (that is what makes it cheap), so another thread's
/// open frames are not readable from here.
pub(crate) fn take_open(
    core_id: u64,
    end: Timestamp,
    mark: fn(&mut SpanState),
    export: &mut dyn FnMut(SpanRecord),
) -> u64 {
    LOCAL
        .try_with(|local| {
            // Borrowed: we are inside an exporter called from a frame's close; nothing to reach.
            let Ok(mut stack) = local.stack.try_borrow_mut() else {
                return 0;
            };
            let live = stack.live;
            let mut count = 0;
            for frame in &mut stack.slots[..live] {
                if frame.core != core_id || !frame.is_sampled() {
                    continue;
                }
                mark(&mut frame.state);
                export(frame.state.take_record(end));
                frame.state.context.sampling = Sampling::Deny;
                count += 1;
            }
            count
        })
        .unwrap_or(0)
}
