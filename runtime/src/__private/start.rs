//! Starting a `#[traced]` call's span: a frame on the fast path, else a tracing span.

use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};

use super::fields::{Fields, Tags, Values};
use super::parent::{make_span, Parent};
use crate::frame::{Begun, Opening};
use crate::remote_parent::{with_pending, Pending, RootSampler as PendingSampler};
use crate::sample::{RootSampler, Sampler};

/// How a `#[traced]` call's span is made.
pub enum Start {
    /// As a frame when the subscriber offers the fast path, else as a tracing span.
    Frames,
    /// Always as a tracing span with the current span as parent (the body uses
    /// `Span::current()`, or fields are recorded later through it).
    Tracing,
    /// As a tracing span under an explicit parent.
    Parent(Parent),
    /// `#[traced(sampler = …)]`: as `Frames` (`frames`), `Tracing` or `Parent` otherwise, and a
    /// new trace is decided by `sampler` instead of the layer's sampler.
    Sampled {
        sampler: RootSampler,
        frames: bool,
        parent: Option<Parent>,
    },
}

impl Start {
    /// Whether the call may be a frame (so an unsampled frame around it makes it no span).
    #[inline(always)]
    pub(super) fn frames(&self) -> bool {
        matches!(self, Start::Frames | Start::Sampled { frames: true, .. })
    }
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
    let (frames, parent, sampler) = match start {
        Start::Frames => (true, None, None),
        Start::Tracing => (false, None, None),
        Start::Parent(parent) => (false, Some(parent), None),
        Start::Sampled {
            sampler,
            frames,
            parent,
        } => (frames, parent, Some(sampler)),
    };
    let root_sampler = sampler.as_ref().map(|sampler| sampler as &dyn Sampler);
    match crate::frame::begin(callsite, frames, root_sampler) {
        Begun::Off => Opened::Off,
        Begun::Frame(opening) => Opened::Frame(opening, fields.tags),
        Begun::Span => {
            let make = || make_span(callsite.metadata(), parent, fields.values);
            Opened::Span(match sampler {
                None => make(),
                // The layer takes the sampler if the span it is about to see is a root.
                Some(sampler) => with_pending(
                    Pending {
                        remote: None,
                        sampler: Some(PendingSampler::Function(sampler)),
                    },
                    make,
                ),
            })
        }
    }
}
