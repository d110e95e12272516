//! A future's span as the current scope for one poll (or the drop of the future), tagged with
//! the panic if the poll unwinds: what a `#[traced]` future and an HTTP exchange
//! (`http/request_span.rs`) enter on every poll, frame or tracing span alike.

use tracing::Span;

use crate::frame::Frame;

/// A future's frame as the innermost scope for one poll; left when dropped, even by an
/// unwinding poll, whose panic it records.
pub(crate) struct FrameScope<'a> {
    frame: &'a mut Frame,
    index: Option<usize>,
    panicking_before: bool,
}

impl<'a> FrameScope<'a> {
    pub(crate) fn enter(frame: &'a mut Frame) -> FrameScope<'a> {
        FrameScope {
            index: crate::frame::enter(frame),
            frame,
            panicking_before: std::thread::panicking(),
        }
    }
}

impl Drop for FrameScope<'_> {
    fn drop(&mut self) {
        let Some(index) = self.index else {
            return;
        };
        crate::frame::leave(index, self.frame);
        if !self.panicking_before && std::thread::panicking() && self.frame.is_sampled() {
            self.frame.state.record_panic();
        }
    }
}

/// A tracing span entered for one poll, tagged if the poll panics.
pub(crate) struct SpanScope<'a> {
    span: &'a Span,
    _entered: tracing::span::Entered<'a>,
    panicking_before: bool,
}

impl<'a> SpanScope<'a> {
    pub(crate) fn enter(span: &'a Span) -> SpanScope<'a> {
        SpanScope {
            span,
            _entered: span.enter(),
            panicking_before: std::thread::panicking(),
        }
    }
}

impl Drop for SpanScope<'_> {
    fn drop(&mut self) {
        if !self.panicking_before && std::thread::panicking() && !self.span.is_disabled() {
            crate::panic::record_on_span(self.span);
        }
    }
}
