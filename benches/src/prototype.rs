//! A what-if, not a tracer: the per-span cost of the fast path proposed in `PROFILE.md`, where a
//! `#[traced]` call keeps its span in a thread-local frame stack and finishes it into a
//! thread-local buffer, without creating a `tracing` span.
//!
//! It does what that design must do per span — read the parent frame, make an id, read the
//! clock twice, record typed tags inline, push the finished record to a buffer — and nothing it
//! would do per batch (handing full buffers to the reporter is simulated by clearing them). So
//! its numbers are the floor of that design on this machine, to set against the Registry's.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

/// A finished span, plain data, no heap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Record {
    /// The trace.
    pub trace_id: u128,
    /// The span.
    pub span_id: u64,
    /// The parent span, 0 for a root.
    pub parent_id: u64,
    /// The function's name.
    pub name: &'static str,
    /// Raw clock ticks at the start.
    pub start: u64,
    /// Raw clock ticks at the end.
    pub end: u64,
    /// Typed integer tags, inline.
    pub tags: [(&'static str, u64); 4],
    /// How many of `tags` are set.
    pub tag_count: u8,
}

#[derive(Clone, Copy)]
struct Frame {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
}

/// Records per thread before the buffer is handed over.
const BUFFER: usize = 4096;

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = RefCell::new(Vec::with_capacity(64));
    static DONE: RefCell<Vec<Record>> = RefCell::new(Vec::with_capacity(BUFFER));
}

fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// An open span; finishing it is its `Drop`.
pub struct Guard {
    record: Option<Record>,
    /// Whether the span's frame is on the stack (sync calls) or only pushed around polls.
    entered: bool,
}

/// Opens a span named `name` under the current frame, with `tags`, and enters it.
#[inline]
pub fn enter(name: &'static str, tags: &[(&'static str, u64)]) -> Guard {
    let mut guard = open(name, tags);
    if let Some(record) = &guard.record {
        push_frame(record);
        guard.entered = true;
    }
    guard
}

fn push_frame(record: &Record) {
    FRAMES.with(|frames| {
        frames.borrow_mut().push(Frame {
            trace_id: record.trace_id,
            span_id: record.span_id,
            sampled: true,
        })
    });
}

fn pop_frame() {
    FRAMES.with(|frames| frames.borrow_mut().pop());
}

/// Opens a span without entering it.
#[inline]
fn open(name: &'static str, tags: &[(&'static str, u64)]) -> Guard {
    let parent = FRAMES.with(|frames| frames.borrow().last().copied());
    let Some(parent) = parent else {
        // No traced frame: the real design would fall back to a `tracing` span here.
        return Guard {
            record: None,
            entered: false,
        };
    };
    if !parent.sampled {
        return Guard {
            record: None,
            entered: false,
        };
    }
    let span_id = fastrand::u64(1..);
    let mut record = Record {
        trace_id: parent.trace_id,
        span_id,
        parent_id: parent.span_id,
        name,
        start: clock().raw(),
        ..Record::default()
    };
    for (slot, tag) in record.tags.iter_mut().zip(tags) {
        *slot = *tag;
        record.tag_count += 1;
    }
    Guard {
        record: Some(record),
        entered: false,
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        record.end = clock().raw();
        if self.entered {
            pop_frame();
        }
        DONE.with(|done| {
            let mut done = done.borrow_mut();
            if done.len() == BUFFER {
                // Stands for swapping the buffer with an empty one the reporter returned.
                done.clear();
            }
            done.push(record);
        });
    }
}

/// Runs `body` under a root frame, sampled or not.
pub fn with_root<R>(sampled: bool, body: impl FnOnce() -> R) -> R {
    // The clock calibrates on first use; that belongs to start-up, not to a span.
    let _ = clock().raw();
    let root = Frame {
        trace_id: (u128::from(fastrand::u64(1..)) << 64) | u128::from(fastrand::u64(..)),
        span_id: fastrand::u64(1..),
        sampled,
    };
    FRAMES.with(|frames| frames.borrow_mut().push(root));
    let result = body();
    FRAMES.with(|frames| frames.borrow_mut().pop());
    result
}

/// A future whose polls run inside its span's frame.
pub struct InSpan<F> {
    guard: Guard,
    future: F,
}

/// Opens a span for `future`, entered around each of its polls.
pub fn in_span<F>(name: &'static str, future: F) -> InSpan<F> {
    InSpan {
        guard: open(name, &[]),
        future,
    }
}

impl<F: Future + Unpin> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let Some(record) = &this.guard.record else {
            return Pin::new(&mut this.future).poll(cx);
        };
        push_frame(record);
        let poll = Pin::new(&mut this.future).poll(cx);
        pop_frame();
        poll
    }
}

/// The scenario functions, written as the generated code of the fast path would be.
pub mod fns {
    use std::future::Future;
    use std::hint::black_box;

    use super::{enter, in_span};

    /// One span, no fields.
    #[inline(never)]
    pub fn d1() -> u64 {
        let _span = enter("d1", &[]);
        black_box(7)
    }

    /// Three nested spans.
    #[inline(never)]
    pub fn d3() -> u64 {
        let _span = enter("d3", &[]);
        d3_middle()
    }

    #[inline(never)]
    fn d3_middle() -> u64 {
        let _span = enter("d3_middle", &[]);
        d3_leaf()
    }

    #[inline(never)]
    fn d3_leaf() -> u64 {
        let _span = enter("d3_leaf", &[]);
        black_box(7)
    }

    /// One span with two `u64` tags.
    #[inline(never)]
    pub fn f2(a: u64, b: u64) -> u64 {
        let _span = enter("f2", &[("a", a), ("b", b)]);
        black_box(a) ^ black_box(b)
    }

    /// One span around a future.
    #[inline(never)]
    pub fn d1_async() -> impl Future<Output = u64> {
        // A body that completes on its first poll, as the other stacks' async d1 does.
        in_span("d1_async", std::future::ready(black_box(7)))
    }
}
