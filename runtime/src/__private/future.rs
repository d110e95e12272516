//! A future's span, carried by the future and entered on every poll.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};
use tracing_core::Metadata;

use super::fields::{Fields, FrameTags, FutureTags, ScalarArgs, Tags, TagsInto, Values};
use super::outcome::{Target, TargetKind};
use super::start::{open, Opened, Start};
use crate::frame::{Frame, Opening};
use crate::poll_scope::{FrameScope, SpanScope};
use crate::state::SpanState;

/// A future's span, made when the traced function is called and carried by the future, with
/// room for `N` typed arguments.
pub struct Handle<const N: usize = 0>(HandleKind<N>);

// The frame lives in the future itself: boxing it would allocate per call.
#[allow(clippy::large_enum_variant)]
enum HandleKind<const N: usize> {
    Off,
    /// A frame decided at the call, with its typed arguments, and made in a stack slot at the
    /// first poll: a future completing in its first poll needs no more, and an unsampled one
    /// never does.
    Opening(Opening, &'static Metadata<'static>, ScalarArgs<N>),
    /// A sampled frame that outlives a poll, or whose fields needed more than `ScalarArgs`. A
    /// span state is a few hundred bytes (its tags inline); boxed, the future stays small,
    /// which matters more: a future is moved several times before it is first polled.
    Frame(Box<Frame>),
    Span(Span),
}

impl<const N: usize> Handle<N> {
    /// No span.
    #[inline(always)]
    pub fn off() -> Handle<N> {
        Handle(HandleKind::Off)
    }

    /// Opens the span a future will run in when `enabled` (its level is), else none.
    ///
    /// Not inlined, and the only call that makes the handle: the caller's `instrument` then
    /// gets it written in place, in the future. Made in a local instead (as branches merging
    /// in the caller would), it is moved there right after it was written, reading it back
    /// wider than it was written, which stalls.
    #[inline(never)]
    pub fn start_if(
        enabled: bool,
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Handle<N> {
        if !enabled {
            return Handle::off();
        }
        if start.frames() {
            // The future may be polled where the unsampled parent is not current: it carries
            // the parent's context instead of a span of its own.
            if let Some(context) = crate::frame::innermost_unsampled() {
                return Handle(HandleKind::Opening(
                    Opening::unsampled(context),
                    callsite.metadata(),
                    ScalarArgs::new(),
                ));
            }
        }
        Handle::open(callsite, start, fields)
    }

    /// Part of `start_if`, which is the call.
    #[inline(always)]
    fn open(
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Handle<N> {
        let has_values = fields.any;
        Handle(match open(callsite, start, fields) {
            Opened::Off => HandleKind::Off,
            Opened::Frame(mut opening, tags) => {
                let meta = callsite.metadata();
                let mut scalars = ScalarArgs::new();
                if has_values && opening.is_sampled() {
                    let mut frame = None;
                    tags(&mut FrameTags(TagsInto::Future(FutureTags {
                        opening: &mut opening,
                        meta,
                        scalars: scalars.slots(),
                        frame: &mut frame,
                    })));
                    if let Some(frame) = frame {
                        return Handle(HandleKind::Frame(frame));
                    }
                }
                HandleKind::Opening(opening, meta, scalars)
            }
            Opened::Span(span) => HandleKind::Span(span),
        })
    }

    /// Makes the span current for the synchronous part of a function that returns a future.
    pub fn enter(&self) -> Option<tracing::span::Entered<'_>> {
        match &self.0 {
            HandleKind::Span(span) => Some(span.enter()),
            _ => None,
        }
    }

    /// The same span, for the future such a function returns. Only tracing spans are shared
    /// (`#[traced]` gives these functions no frame).
    pub fn share(&self) -> Handle<0> {
        match &self.0 {
            HandleKind::Span(span) => Handle(HandleKind::Span(span.clone())),
            _ => Handle::off(),
        }
    }

    /// The tracing span, when the future has one (for `follows_from`).
    pub fn span(&self) -> Option<&Span> {
        match &self.0 {
            HandleKind::Span(span) => Some(span),
            _ => None,
        }
    }

    fn target(&mut self) -> Target<'_> {
        Target(match &mut self.0 {
            HandleKind::Frame(frame) if frame.is_sampled() => TargetKind::State(&mut frame.state),
            HandleKind::Span(span) if !span.is_disabled() => TargetKind::Span(span),
            _ => TargetKind::Off,
        })
    }

    fn close(&mut self) {
        if let HandleKind::Frame(frame) = &mut self.0 {
            crate::frame::finish(frame);
        }
        self.0 = HandleKind::Off;
    }
}

/// A future that runs inside its span: entered on every poll, tagged with the outcome and with
/// a panic during a poll, and closed when it completes or is dropped.
pub struct Instrumented<F, R, const N: usize> {
    future: ManuallyDrop<F>,
    handle: Handle<N>,
    record: Option<R>,
}

/// Wraps `future` so it runs in `handle`'s span; `record` sees the output before the span closes.
#[inline]
pub fn instrument<F, R, const N: usize>(
    handle: Handle<N>,
    future: F,
    record: R,
) -> Instrumented<F, R, N>
where
    F: Future,
    R: FnOnce(&mut Target<'_>, &F::Output),
{
    Instrumented {
        future: ManuallyDrop::new(future),
        handle,
        record: Some(record),
    }
}

impl<F, R, const N: usize> Future for Instrumented<F, R, N>
where
    F: Future,
    R: FnOnce(&mut Target<'_>, &F::Output),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Projected by hand, not with pin-project-lite: the future is dropped in place inside
        // its span's scope (see `Drop`), which needs it in a `ManuallyDrop`, and projecting
        // through a `ManuallyDrop` is unsafe either way.
        // SAFETY: `future` is structurally pinned: it is never moved out of `self` and is dropped
        // in place by `Drop`. The other fields are not pinned and are only used through `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is for as long as `this` lives.
        let future = unsafe { Pin::new_unchecked(&mut *this.future) };
        if let HandleKind::Opening(..) = this.handle.0 {
            return first_poll(&mut this.handle, &mut this.record, future, cx);
        }
        let poll = match &mut this.handle.0 {
            HandleKind::Frame(frame) => {
                let _scope = FrameScope::enter(frame);
                future.poll(cx)
            }
            HandleKind::Span(span) => {
                let _scope = SpanScope::enter(span);
                future.poll(cx)
            }
            _ => future.poll(cx),
        };
        if let Poll::Ready(output) = &poll {
            if let Some(record) = this.record.take() {
                let mut target = this.handle.target();
                if target.is_recording() {
                    record(&mut target, output);
                }
            }
            // Close the span now rather than when the caller drops the finished future.
            this.handle.close();
        }
        poll
    }
}

/// The first poll of a future whose frame was only decided (an `Opening`): the frame is made in
/// a stack slot as for a synchronous call, and a future that completes in this poll — most do —
/// is closed from there. One that is still pending takes its frame along.
#[inline]
fn first_poll<F, R, const N: usize>(
    handle: &mut Handle<N>,
    record: &mut Option<R>,
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output>
where
    F: Future,
    R: FnOnce(&mut Target<'_>, &F::Output),
{
    let HandleKind::Opening(opening, meta, scalars) = &mut handle.0 else {
        return future.poll(cx);
    };
    let meta = *meta;
    let sampled = opening.is_sampled();
    // Made from the opening where it lies in the future, not moved out first (see `push`).
    let Some(index) = crate::frame::push(opening, meta, scalars.as_slice()) else {
        handle.0 = HandleKind::Off;
        return future.poll(cx);
    };
    // SAFETY: the opening's only owned part, its service, moved into the frame with `push`,
    // and its arguments are `Copy`: nothing is left to drop, so it is overwritten without
    // running (or reading, which would stall on the stores `push` just made) its destructor.
    unsafe { std::ptr::write(&mut handle.0, HandleKind::Off) };
    let mut slot = FirstPoll {
        index,
        handle,
        panicking_before: std::thread::panicking(),
        done: false,
    };
    let poll = future.poll(cx);
    slot.done = true;
    match &poll {
        Poll::Ready(output) => {
            if let (Some(record), true) = (record.take(), sampled) {
                record(&mut Target(TargetKind::Frame(index, meta)), output);
            }
            crate::frame::close(index, false);
        }
        Poll::Pending => slot.park(),
    }
    poll
}

/// The slot of a future's first poll; if the poll unwinds, the frame is parked in the future
/// with the panic recorded, and closes when the future is dropped.
struct FirstPoll<'a, const N: usize> {
    index: usize,
    handle: &'a mut Handle<N>,
    panicking_before: bool,
    done: bool,
}

impl<const N: usize> FirstPoll<'_, N> {
    fn park(&mut self) {
        let Some(frame) = crate::frame::take_out(self.index) else {
            return;
        };
        // Baggage set in the first poll must be there in the next ones, sampled or not.
        self.handle.0 = if frame.is_sampled() || frame.state.has_baggage() {
            HandleKind::Frame(Box::new(frame))
        } else {
            // Nothing is recorded: the ids are all the next poll needs.
            HandleKind::Opening(
                Opening::unsampled(frame.state.context),
                frame.state.meta,
                ScalarArgs::new(),
            )
        };
    }
}

impl<const N: usize> Drop for FirstPoll<'_, N> {
    #[inline]
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.park();
        if !self.panicking_before && std::thread::panicking() {
            if let HandleKind::Frame(frame) = &mut self.handle.0 {
                if frame.is_sampled() {
                    frame.state.record_panic();
                }
            }
        }
    }
}

impl<F, R, const N: usize> Drop for Instrumented<F, R, N> {
    fn drop(&mut self) {
        if let HandleKind::Off = self.handle.0 {
            // The common case (the span closed when the future completed), checked in place:
            // moving the handle out would read back the tag just written by the close, wider
            // than it was written, which stalls.
            // SAFETY: `future` is dropped exactly once, here, in place, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.future) };
            return;
        }
        // The span is still open, so the future is dropped before it completed: cancelled (a
        // timeout, a `select!` that took another branch, an aborted task), unless a poll
        // panicked, which the span already says. This path only runs for such futures.
        // Dropping the body (its locals' destructors) is part of the span's work.
        match std::mem::replace(&mut self.handle.0, HandleKind::Off) {
            HandleKind::Opening(mut opening, meta, scalars) => {
                // Never polled: the frame is made in a slot just for the drop.
                let sampled = opening.is_sampled();
                let index = crate::frame::push(&mut opening, meta, scalars.as_slice());
                if let (Some(index), true) = (index, sampled) {
                    crate::frame::with_frame(index, SpanState::mark_cancelled);
                }
                // SAFETY: `future` is dropped exactly once, here, in place, and never used again.
                unsafe { ManuallyDrop::drop(&mut self.future) };
                if let Some(index) = index {
                    crate::frame::close(index, false);
                }
            }
            HandleKind::Frame(mut frame) => {
                if frame.is_sampled() && !frame.state.panicked() {
                    frame.state.mark_cancelled();
                }
                {
                    let _scope = FrameScope::enter(&mut frame);
                    // SAFETY: this arm is the only drop of `future` (the handle was taken out, so
                    // no other arm runs), in place, and `self` is never used again.
                    unsafe { ManuallyDrop::drop(&mut self.future) };
                }
                crate::frame::finish(&mut frame);
            }
            HandleKind::Span(span) => {
                crate::lookup::mark_cancelled(&span);
                let _entered = span.enter();
                // SAFETY: this arm is the only drop of `future`, in place, inside its span, and
                // `self` is never used again.
                unsafe { ManuallyDrop::drop(&mut self.future) };
            }
            HandleKind::Off => {
                // SAFETY: this arm is the only drop of `future`, in place, and `self` is never
                // used again.
                unsafe { ManuallyDrop::drop(&mut self.future) };
            }
        }
    }
}
