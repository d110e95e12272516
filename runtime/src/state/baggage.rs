//! A span's baggage, and the entries of it copied onto the span as tags.
//!
//! Each span holds its whole baggage — the entries its parent had when it started, and those set
//! on it since — in its boxed `Details`, which a span without baggage never allocates for it. A
//! child takes its parent's at creation (one reference count: the entries are shared), so
//! reading the current baggage is one look at the current span, never a walk up its ancestors,
//! and a span carries its baggage wherever it goes: into a future polled on another thread, or a
//! span entered there. A span without baggage costs nothing more than before: `Details` stays
//! unallocated and the checks below are one pointer test.

use std::borrow::Cow;

use super::SpanState;
use crate::baggage::Baggage;
use crate::model::TagValue;

impl SpanState {
    /// The span's baggage, when it has any.
    #[inline]
    pub(crate) fn baggage(&self) -> Option<&Baggage> {
        self.details
            .as_ref()
            .map(|details| &details.baggage)
            .filter(|baggage| !baggage.is_empty())
    }

    /// Whether the span has baggage.
    #[inline]
    pub(crate) fn has_baggage(&self) -> bool {
        self.baggage().is_some()
    }

    /// The span's baggage, to change it (allocating the details if need be).
    pub(crate) fn baggage_mut(&mut self) -> &mut Baggage {
        &mut self.details().baggage
    }

    /// Gives the span `baggage` (a new child's inheritance), unless it is empty.
    pub(crate) fn inherit_baggage(&mut self, baggage: Option<Baggage>) {
        if let Some(baggage) = baggage.filter(|baggage| !baggage.is_empty()) {
            self.details().baggage = baggage;
        }
    }

    /// Copies the baggage entries named in `keys` onto the span as tags, just before it is
    /// reported: a tag the span already has wins, and the value of a key that names a secret is
    /// redacted (`crate::redact`). Nothing to do for the spans without baggage.
    #[inline]
    pub(crate) fn tag_baggage(&mut self, keys: &[Box<str>]) {
        if !keys.is_empty() && self.has_baggage() {
            self.copy_baggage_tags(keys);
        }
    }

    #[cold]
    fn copy_baggage_tags(&mut self, keys: &[Box<str>]) {
        let Some(baggage) = self.baggage().cloned() else {
            return;
        };
        for key in keys {
            let Some(value) = baggage.get(key) else {
                continue;
            };
            if self.has_tag(key) {
                continue;
            }
            let value = if crate::redact::is_sensitive(key) {
                Cow::Borrowed(crate::redact::REDACTED)
            } else {
                Cow::Owned(crate::value::cap_str(value).into_owned())
            };
            self.set_tag(Cow::Owned(key.to_string()), TagValue::Str(value));
        }
    }
}
