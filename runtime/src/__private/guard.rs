//! A synchronous call's span, kept open and current by a guard until the call ends.

use std::mem::ManuallyDrop;

use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};
use tracing_core::Metadata;

use super::fields::{Fields, FrameTags, Tags, TagsInto, Values};
use super::outcome::{Target, TargetKind};
use super::start::{open, Opened, Start};

/// Keeps a synchronous call's span open and current until the call ends, however it ends, and
/// tags it if the body panics.
pub struct Guard {
    /// Dropped by hand in `close`, so that a guard that is off has no drop glue to run: the
    /// disabled path of every traced call pays for it.
    kind: ManuallyDrop<GuardKind>,
    /// A traced function called by a destructor during unwinding is not the one failing.
    panicking_before: bool,
}

enum GuardKind {
    Off,
    Frame {
        index: usize,
        sampled: bool,
        meta: &'static Metadata<'static>,
    },
    Span(tracing::span::EnteredSpan),
}

impl Guard {
    /// No span: the level is disabled or nothing listens.
    #[inline(always)]
    pub fn off() -> Guard {
        Guard {
            kind: ManuallyDrop::new(GuardKind::Off),
            panicking_before: false,
        }
    }

    /// Opens the call's span and makes it current.
    #[inline]
    pub fn start(
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Guard {
        // Under an unsampled frame nothing is recorded, and the parent frame stays current for
        // the whole call: skip the span.
        if start.frames() && crate::frame::under_unsampled_frame() {
            return Guard::off();
        }
        Guard::open(callsite, start, fields)
    }

    /// Not inlined: the traced function keeps only the call.
    #[inline(never)]
    fn open(
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Guard {
        let has_values = fields.any;
        let kind = match open(callsite, start, fields) {
            Opened::Off => return Guard::off(),
            Opened::Frame(mut opening, tags) => {
                let sampled = opening.is_sampled();
                let meta = callsite.metadata();
                let index = crate::frame::push(&mut opening, meta, &[]);
                if let (Some(index), true) = (index, has_values && sampled) {
                    tags(&mut FrameTags(TagsInto::Stack(index)));
                }
                match index {
                    Some(index) => GuardKind::Frame {
                        index,
                        sampled,
                        meta,
                    },
                    None => return Guard::off(),
                }
            }
            Opened::Span(span) => GuardKind::Span(span.entered()),
        };
        Guard {
            kind: ManuallyDrop::new(kind),
            panicking_before: std::thread::panicking(),
        }
    }

    /// Whether anything the call records is kept.
    #[inline]
    pub fn is_recording(&self) -> bool {
        match &*self.kind {
            GuardKind::Off => false,
            GuardKind::Frame { sampled, .. } => *sampled,
            GuardKind::Span(span) => !span.is_disabled(),
        }
    }

    /// Where the outcome is recorded.
    pub fn target(&mut self) -> Target<'_> {
        Target(match &*self.kind {
            GuardKind::Frame {
                index,
                sampled: true,
                meta,
            } => TargetKind::Frame(*index, meta),
            GuardKind::Span(span) if !span.is_disabled() => TargetKind::Span(span),
            _ => TargetKind::Off,
        })
    }

    /// The tracing span, when the call has one (for `follows_from`).
    pub fn span(&self) -> Option<&Span> {
        match &*self.kind {
            GuardKind::Span(span) => Some(span),
            _ => None,
        }
    }

    #[inline(never)]
    fn close(&mut self) {
        let panicked = !self.panicking_before && std::thread::panicking();
        // SAFETY: `close` runs once, from `drop`, and `kind` is not used after it.
        match unsafe { ManuallyDrop::take(&mut self.kind) } {
            GuardKind::Off => {}
            GuardKind::Frame { index, .. } => crate::frame::close(index, panicked),
            GuardKind::Span(span) => {
                if panicked && !span.is_disabled() {
                    crate::panic::record_on_span(&span);
                }
            }
        }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        if !matches!(*self.kind, GuardKind::Off) {
            self.close();
        }
    }
}
