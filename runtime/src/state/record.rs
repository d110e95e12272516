//! A finished span's state becomes its record.

use std::borrow::Cow;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::model::{Annotation, Dropped, Endpoint, Kind, Link, Sampling, SpanRecord, Tags};

use super::{Details, SpanState};

impl SpanState {
    /// The finished span.
    pub(crate) fn finish(mut self, end: Timestamp) -> SpanRecord {
        self.take_record(end)
    }

    /// The finished span, taking what it owns out of the state, which is left empty for reuse
    /// (a frame's slot on the stack).
    #[inline]
    pub(crate) fn take_record(&mut self, end: Timestamp) -> SpanRecord {
        let SpanState {
            context,
            start,
            meta,
            kind,
            local_root,
            shared,
            ..
        } = *self;
        let (timestamp_us, duration_us) = start.epoch_us_until(end);
        let (name, annotations, links, local_port, remote_endpoint, trace_state) =
            match self.details.take() {
                None => (
                    Cow::Borrowed(meta.name()),
                    Vec::new(),
                    Vec::new(),
                    None,
                    None,
                    None,
                ),
                Some(details) => details.finish(meta.name(), kind),
            };
        // The record is one literal, built where the caller wants it: a span record is a few
        // hundred bytes, and every move of it is a copy.
        SpanRecord {
            trace_id: context.trace_id,
            id: context.span_id,
            parent_id: context.parent_id,
            name,
            kind,
            timestamp_us,
            duration_us,
            service_name: self.service.take(),
            remote_endpoint,
            local_port,
            // Most spans have no tags: then an empty list is made rather than moved.
            tags: if self.tags.is_empty() {
                Tags::new()
            } else {
                std::mem::take(&mut self.tags)
            },
            annotations,
            links,
            // A continued root has its caller's state; a span that ends inside the
            // continuation's work reads it from the thread.
            trace_state: trace_state
                .or_else(|| crate::remote_parent::trace_state_of(context.trace_id)),
            dropped: Dropped::default(),
            debug: context.sampling == Sampling::Debug,
            shared,
            local_root,
        }
    }
}

/// A span's rare parts, as its record holds them.
type FinishedDetails = (
    Cow<'static, str>,
    Vec<Annotation>,
    Vec<Link>,
    Option<u16>,
    Option<Endpoint>,
    Option<Arc<str>>,
);

impl Details {
    /// The record's name, annotations, links, local port and remote endpoint.
    fn finish(self, name: &'static str, kind: Option<Kind>) -> FinishedDetails {
        let Details {
            name: renamed,
            annotations,
            links,
            peer,
            trace_state,
            // Reported through the tags it was copied to (`SpanState::tag_baggage`), if any.
            baggage: _,
            // Twins are never reported.
            twin: _,
        } = self;
        let name = renamed.map_or(Cow::Borrowed(name), Cow::Owned);
        let (local_port, remote) = peer.resolve(kind);
        (name, annotations, links, local_port, remote, trace_state)
    }
}
