//! OpenTelemetry's span limits (`OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
//! `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`), applied to a finished span.
//!
//! They are applied where spans are encoded — on the reporter's own thread, and in the console
//! and file exporters — never on the instrumented thread: a span within the limits (nearly
//! every span) costs four comparisons there. What they remove is counted in
//! [`SpanRecord::dropped`], which OTLP sends as its `dropped_*_count` fields.

use std::borrow::Cow;

use crate::model::{SpanRecord, TagValue, Tags};

/// The limits, as the OpenTelemetry SDK specification defines them (defaults: 128 attributes,
/// 128 events, 128 links, values of any length).
///
/// ```
/// use traced::limits::SpanLimits;
/// use traced::model::{SpanRecord, TagValue};
///
/// let limits = SpanLimits { attribute_count: 1, attribute_value_length: Some(3), ..SpanLimits::default() };
/// let mut span = SpanRecord::default();
/// span.tags.push(("user".into(), TagValue::Str("alexandra".into())));
/// span.tags.push(("extra".into(), TagValue::U64(1)));
/// limits.apply(&mut span);
/// assert_eq!(span.tags.len(), 1);
/// assert_eq!(span.tag("user"), Some(&TagValue::Str("ale".into())));
/// assert_eq!(span.dropped().attributes, 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SpanLimits {
    /// The most tags a span keeps (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`); later ones are dropped, except `error` and `error.type`
    /// (the outcome, which OTLP carries as the status). Also the most fields an event keeps.
    pub attribute_count: usize,
    /// The most characters a text value keeps (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`); `None` for no limit. Applies to tags and event
    /// fields.
    pub attribute_value_length: Option<usize>,
    /// The most events (annotations) a span keeps (`OTEL_SPAN_EVENT_COUNT_LIMIT`).
    pub event_count: usize,
    /// The most links a span keeps (`OTEL_SPAN_LINK_COUNT_LIMIT`).
    pub link_count: usize,
}

impl Default for SpanLimits {
    fn default() -> SpanLimits {
        SpanLimits {
            attribute_count: 128,
            attribute_value_length: None,
            event_count: 128,
            link_count: 128,
        }
    }
}

impl SpanLimits {
    /// Cuts `span` to the limits, keeping the first tags, events and links, and adds what it
    /// removed to `span.dropped`.
    pub fn apply(&self, span: &mut SpanRecord) {
        let over_count = span.tags.len() > self.attribute_count
            || span.annotations.len() > self.event_count
            || span.links().len() > self.link_count
            || span
                .annotations
                .iter()
                .any(|annotation| annotation.fields.len() > self.attribute_count);
        if !over_count && self.attribute_value_length.is_none() {
            return;
        }
        let mut dropped = span.dropped();
        dropped.attributes += cut_tags(&mut span.tags, self.attribute_count);
        if span.annotations.len() > self.event_count {
            dropped.events += count(span.annotations.len() - self.event_count);
            span.annotations.truncate(self.event_count);
        }
        if span.links().len() > self.link_count {
            dropped.links += count(span.links().len() - self.link_count);
            span.extra_mut().links.truncate(self.link_count);
        }
        if !dropped.is_none() {
            span.extra_mut().dropped = dropped;
        }
        for annotation in &mut span.annotations {
            annotation.dropped_fields += cut_tags(&mut annotation.fields, self.attribute_count);
        }
        if let Some(length) = self.attribute_value_length {
            let tags = span.tags.iter_mut();
            let fields = span
                .annotations
                .iter_mut()
                .flat_map(|annotation| annotation.fields.iter_mut());
            for (_, value) in tags.chain(fields) {
                if let TagValue::Str(text) = value {
                    cut_text(text, length);
                }
            }
        }
    }
}

/// Whether a tag is the span's outcome (`error`, `error.type`), which OTLP carries as the
/// status rather than as attributes: the count limit never removes it, so a span over the
/// limit still shows as failed.
fn is_outcome(key: &str) -> bool {
    key == crate::semconv::ERROR || key == crate::semconv::ERROR_TYPE
}

/// Keeps the first `limit` tags, and the outcome tags wherever they are; returns how many were
/// removed.
fn cut_tags(tags: &mut Tags, limit: usize) -> u32 {
    if tags.len() <= limit {
        return 0;
    }
    let before = tags.len();
    let mut kept = 0;
    let kept_tags: Tags = tags
        .drain()
        .filter(|(key, _)| {
            if is_outcome(key) {
                return true;
            }
            kept += 1;
            kept <= limit
        })
        .collect();
    *tags = kept_tags;
    count(before - tags.len())
}

/// Keeps the first `length` characters of `text`.
fn cut_text(text: &mut Cow<'static, str>, length: usize) {
    if text.len() <= length {
        // Fewer bytes than the limit means fewer characters too.
        return;
    }
    if let Some((end, _)) = text.char_indices().nth(length) {
        match text {
            Cow::Borrowed(borrowed) => *borrowed = &borrowed[..end],
            Cow::Owned(owned) => owned.truncate(end),
        }
    }
}

fn count(removed: usize) -> u32 {
    u32::try_from(removed).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Annotation, Link, SpanId, TraceId};

    #[test]
    fn counts_and_lengths_are_cut_and_counted() {
        let limits = SpanLimits {
            attribute_count: 2,
            attribute_value_length: Some(2),
            event_count: 1,
            link_count: 1,
        };
        let mut span = SpanRecord::default();
        for key in ["a", "b", "c", "d"] {
            span.tags
                .push((key.into(), TagValue::Str("ünïcode".into())));
        }
        let mut event = Annotation::new(1, "first");
        for key in ["x", "y", "z"] {
            event
                .fields
                .push((key.into(), TagValue::Str(Cow::Owned("long".into()))));
        }
        span.annotations = vec![event, Annotation::new(2, "second")];
        span.extra_mut().links = vec![Link::default(); 3];
        limits.apply(&mut span);
        assert_eq!(span.tags.len(), 2);
        assert_eq!(span.tags[1].1, TagValue::Str("ün".into()));
        assert_eq!(span.annotations.len(), 1);
        assert_eq!(span.annotations[0].fields.len(), 2);
        assert_eq!(span.annotations[0].fields[0].1, TagValue::Str("lo".into()));
        assert_eq!(span.links().len(), 1);
        assert_eq!(
            (
                span.dropped().attributes,
                span.dropped().events,
                span.dropped().links
            ),
            (2, 1, 2)
        );
    }

    #[test]
    fn the_outcome_survives_the_count_limit_and_event_fields_are_counted() {
        let limits = SpanLimits {
            attribute_count: 1,
            ..SpanLimits::default()
        };
        let mut span = SpanRecord::default();
        for key in ["a", "b", "error", "c", "error.type"] {
            span.tags.push((key.into(), TagValue::U64(1)));
        }
        let mut event = Annotation::new(1, "retry");
        event.fields.push(("x".into(), TagValue::U64(1)));
        event.fields.push(("y".into(), TagValue::U64(2)));
        span.annotations.push(event);
        limits.apply(&mut span);
        let keys: Vec<&str> = span.tags.iter().map(|(key, _)| &**key).collect();
        assert_eq!(keys, ["a", "error", "error.type"]);
        assert_eq!(span.dropped().attributes, 2);
        assert_eq!(span.annotations[0].fields.len(), 1);
        assert_eq!(span.annotations[0].dropped_fields, 1);
    }

    #[test]
    fn a_span_within_the_limits_is_untouched() {
        let mut span = SpanRecord::default();
        span.tags.push(("a".into(), TagValue::U64(1)));
        span.extra_mut().links.push(Link {
            trace_id: TraceId(1),
            span_id: SpanId(2),
        });
        let before = span.clone();
        SpanLimits::default().apply(&mut span);
        assert_eq!(span, before);
    }
}
