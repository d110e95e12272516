//! A finished span's state becomes its record.

use std::borrow::Cow;

use crate::clock::Timestamp;
use crate::model::{Sampling, SpanRecord, Tags};

use super::{Details, SpanState};

impl SpanState {
    /// The finished span.
    pub(crate) fn finish(mut self, end: Timestamp) -> SpanRecord {
        self.take_record(end)
    }

    /// The finished span, taking what it owns out of the state, which is left empty for reuse
    /// (a frame's slot on the stack).
    #[inline(always)]
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
        let details = self.details.take();
        // The record is built once, in place; the rare parts (`details`) are filled in after,
        // out of line: carried through a tuple into the literal they cost every span a copy of
        // their own (callgrind, `report instructions`).
        let mut record = SpanRecord {
            trace_id: context.trace_id,
            id: context.span_id,
            parent_id: context.parent_id,
            name: Cow::Borrowed(meta.name()),
            kind,
            timestamp_us,
            duration_us,
            service_name: self.service.take(),
            remote_endpoint: None,
            local_port: None,
            // Most spans have no tags: then an empty list is made rather than moved.
            tags: if self.tags.is_empty() {
                Tags::new()
            } else {
                std::mem::take(&mut self.tags)
            },
            annotations: Vec::new(),
            extra: None,
            debug: context.sampling == Sampling::Debug,
            shared,
            local_root,
        };
        if let Some(details) = details {
            details.fill(&mut record);
        }
        // A span that ends inside a continued W3C trace's work has its caller's state (a
        // continued root has it already, from its details).
        if let Some(state) = crate::remote_parent::trace_state_of(context.trace_id) {
            let extra = record.extra_mut();
            if extra.trace_state.is_none() {
                extra.trace_state = Some(state);
            }
        }
        record
    }
}

impl Details {
    /// Fills in `record`'s rare parts: a new name, events, links, the peer, the caller's
    /// trace state.
    #[cold]
    #[inline(never)]
    fn fill(self, record: &mut SpanRecord) {
        let Details {
            name,
            annotations,
            links,
            peer,
            trace_state,
            // Reported through the tags it was copied to (`SpanState::tag_baggage`), if any.
            baggage: _,
            // A twin is reported only once its frame's state replaced it (no longer a twin).
            twin: _,
        } = self;
        if let Some(name) = name {
            record.name = Cow::Owned(name);
        }
        record.annotations = annotations;
        (record.local_port, record.remote_endpoint) = peer.resolve(record.kind);
        if !links.is_empty() || trace_state.is_some() {
            let extra = record.extra_mut();
            extra.links = links;
            extra.trace_state = trace_state;
        }
    }
}
