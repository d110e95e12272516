//! The span of one HTTP exchange, server or client side: a frame when traced's layer is the
//! only consumer of spans (the fast path `#[traced]` calls take), a tracing span otherwise.
//! Either kind is entered for each poll of the exchange's future, and ends with an outcome
//! recorded into it; `server_span.rs` and `client.rs` say what that outcome is.
//!
//! Why a frame: a tracing span costs a registry slot, a boxed extension, a dispatch through every
//! layer on new, enter, exit, record and close, and a trip through the field visitor that copies
//! every text value (`report request-profile`, benches/PROFILE.md).

use tracing::Span;
use tracing_core::Metadata;

use crate::frame::{Frame, Opening};
use crate::model::{SpanContext, TagValue};
use crate::poll_scope::{FrameScope, SpanScope};
use crate::state::SpanState;
use crate::value::cap_str;

/// The tracing target of the spans the HTTP integrations open, server and client: filter on it
/// to turn them off.
pub(super) const TARGET: &str = "traced::http";

/// The callsite a frame of this kind is named after, for filters: a `'static` callsite with the
/// tracing span's name, target, INFO level and `fields` (which must be the tracing span's, in
/// its order, so that what is recorded through `tracing::Span::current()` — the frame's twin —
/// lands as it does on the tracing span).
macro_rules! frame_callsite {
    ($name:literal, $target:expr, $fields:expr) => {{
        static META: ::tracing_core::Metadata<'static> = ::tracing_core::Metadata::new(
            $name,
            $target,
            ::tracing_core::Level::INFO,
            ::core::option::Option::Some(::core::file!()),
            ::core::option::Option::Some(::core::line!()),
            ::core::option::Option::Some(::core::module_path!()),
            ::tracing_core::field::FieldSet::new(
                $fields,
                ::tracing_core::identify_callsite!(&CALLSITE),
            ),
            ::tracing_core::metadata::Kind::SPAN,
        );
        static CALLSITE: ::tracing_core::callsite::DefaultCallsite =
            ::tracing_core::callsite::DefaultCallsite::new(&META);
        &CALLSITE
    }};
}
pub(super) use frame_callsite;

/// The span of one request.
pub(super) enum RequestSpan {
    /// Nothing is recorded.
    Off,
    /// A tracing span (the subscriber has no fast path, or the parent has baggage).
    Span(Span),
    /// A frame, boxed: the exchange's future stays small, and it is moved before it is polled.
    Frame(Box<Frame>),
}

/// The standard methods as `'static` text, so their tag borrows rather than copies.
#[inline(always)]
pub(super) fn static_method(method: &str) -> Option<&'static str> {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    STANDARD.into_iter().find(|standard| *standard == method)
}

/// Puts the frame `opening` describes on this thread's stack, runs `record` on its state
/// (sampled or not: an unsampled frame still carries a caller's baggage), and returns its index
/// (the frame is the innermost scope until it is taken out: [`RequestSpan::taken_out`]). `None`
/// when the thread is being torn down.
#[inline]
pub(super) fn push_frame(
    mut opening: Opening,
    meta: &'static Metadata<'static>,
    record: impl FnOnce(&mut SpanState),
) -> Option<usize> {
    let index = crate::frame::push(&mut opening, meta, &[])?;
    crate::frame::with_frame(index, record);
    Some(index)
}

impl RequestSpan {
    /// The frame at `index` ([`push_frame`]), taken off the stack to go with the exchange's
    /// future.
    #[inline]
    pub(super) fn taken_out(index: usize) -> RequestSpan {
        crate::frame::take_out(index).map_or(RequestSpan::Off, |frame| {
            RequestSpan::Frame(Box::new(frame))
        })
    }

    /// The span's ids, when our layer records it.
    // Only the server span uses it (its `traceresponse` header).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(super) fn context(&self) -> Option<SpanContext> {
        match self {
            RequestSpan::Off => None,
            RequestSpan::Span(span) => Some(
                span.with_subscriber(|(id, dispatch)| crate::lookup::parent_of(dispatch, id))
                    .flatten()?
                    .0,
            ),
            RequestSpan::Frame(frame) => Some(frame.state.context),
        }
    }

    /// Runs `body` inside the span (one poll of the exchange's future, or its drop); a panic
    /// that unwinds out of `body` is recorded on the span.
    pub(super) fn in_scope<R>(&mut self, body: impl FnOnce() -> R) -> R {
        match self {
            RequestSpan::Off => body(),
            RequestSpan::Span(span) => {
                let _scope = SpanScope::enter(span);
                body()
            }
            RequestSpan::Frame(frame) => {
                let _scope = FrameScope::enter(frame);
                body()
            }
        }
    }

    /// Ends the span of an exchange whose future was dropped before it completed.
    pub(super) fn cancelled(self) {
        match self {
            RequestSpan::Off => {}
            RequestSpan::Span(span) => crate::lookup::mark_cancelled(&span),
            RequestSpan::Frame(mut frame) => {
                crate::frame::take_in_twin(&mut frame);
                if frame.is_sampled() && !frame.state.panicked() {
                    frame.state.mark_cancelled();
                }
                crate::frame::finish(&mut frame);
            }
        }
    }

    /// Records what `outcome` says and ends the span.
    pub(super) fn end(self, outcome: impl FnOnce(&mut Outcome<'_>)) {
        match self {
            RequestSpan::Off => {}
            RequestSpan::Span(span) => {
                if !span.is_disabled() {
                    outcome(&mut Outcome::Span(&span));
                }
            }
            RequestSpan::Frame(mut frame) => {
                // What was recorded through `tracing::Span::current()` (the frame's twin)
                // comes first, so the outcome is recorded after it, as on a tracing span.
                crate::frame::take_in_twin(&mut frame);
                if frame.is_sampled() {
                    outcome(&mut Outcome::State(&mut frame.state));
                }
                crate::frame::finish(&mut frame);
            }
        }
    }
}

/// Where the outcome of an exchange is recorded.
pub(super) enum Outcome<'a> {
    /// A tracing span that our layer, or another, records.
    Span(&'a Span),
    /// A sampled frame's state.
    State(&'a mut SpanState),
}

impl Outcome<'_> {
    /// Records an integer tag (the status code).
    pub(super) fn typed(&mut self, key: &'static str, value: u64) {
        match self {
            Outcome::Span(span) => {
                span.record(key, value);
            }
            Outcome::State(state) => state.record_typed(key, TagValue::U64(value)),
        }
    }

    /// Records a text tag, capped.
    pub(super) fn text(&mut self, key: &'static str, text: &str) {
        match self {
            Outcome::Span(span) => {
                span.record(key, text);
            }
            Outcome::State(state) => state.record_text(key, cap_str(text)),
        }
    }

    /// Records a text tag that lives as long as the program (borrowed on a frame).
    pub(super) fn static_text(&mut self, key: &'static str, text: &'static str) {
        match self {
            Outcome::Span(span) => {
                span.record(key, text);
            }
            Outcome::State(state) => state.record_static_text(key, text),
        }
    }
}
