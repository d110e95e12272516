//! Starting a `#[traced]` call's span: a frame on the fast path, else a tracing span.

use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};

use super::fields::{Fields, Tags, Values};
use super::parent::{make_span, Parent};
use crate::frame::{Begun, Opening};

/// How a `#[traced]` call's span is made.
pub enum Start {
    /// As a frame when the subscriber offers the fast path, else as a tracing span.
    Frames,
    /// Always as a tracing span with the current span as parent (the body uses
    /// `Span::current()`, or fields are recorded later through it).
    Tracing,
    /// As a tracing span under an explicit parent.
    Parent(Parent),
}

/// What a started call gets: nothing, a frame to open (with its fields still to record), or a
/// tracing span.
pub(super) enum Opened<T> {
    Off,
    Frame(Opening, T),
    Span(Span),
}

/// Asks the callsite and the subscriber, then makes the span or decides the frame.
#[inline]
pub(super) fn open<V: Values, T: Tags>(
    callsite: &'static DefaultCallsite,
    start: Start,
    fields: Fields<V, T>,
) -> Opened<T> {
    let (frames, parent) = match start {
        Start::Frames => (true, None),
        Start::Tracing => (false, None),
        Start::Parent(parent) => (false, Some(parent)),
    };
    match crate::frame::begin(callsite, frames) {
        Begun::Off => Opened::Off,
        Begun::Frame(opening) => Opened::Frame(opening, fields.tags),
        Begun::Span => Opened::Span(make_span(callsite.metadata(), parent, fields.values)),
    }
}
