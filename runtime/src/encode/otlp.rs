//! OTLP's trace model from our span records: the rules both OTLP encodings (protobuf in
//! `otlp_proto.rs`, JSON in `otlp_json.rs`) share, decided here once.
//!
//! - Spans are grouped by service: each service (the resource's, or a span's own `service.name`)
//!   is one `ResourceSpans` whose resource carries `service.name` as written, the resource's
//!   attributes and `telemetry.sdk.{name,language,version}`; every span is in one
//!   `ScopeSpans` whose scope is `traced` with its version.
//! - Names and service names keep their case (Zipkin lower-cases them; OTLP does not).
//! - Kind: no kind is `INTERNAL`. Ids: a 64-bit trace id is left-padded to 16 bytes.
//! - Tags are typed attributes: integers stay integers (an unsigned or 128-bit value beyond
//!   `int64` goes as its decimal text), floats doubles, booleans booleans.
//! - An `error` tag makes the status `ERROR`, with the tag's text as the status message, and is
//!   not repeated as an attribute. When `error.type` names an exception (a Rust type or
//!   `panic`, not an HTTP status code), an `exception` event with `exception.type` and
//!   `exception.message` is added at the span's end, as the semantic conventions ask.
//! - Annotations are events, every one of them (Zipkin's rule of sending a repeated annotation
//!   once does not apply; the message is the name, `event` when there is none; the fields are
//!   typed attributes); `follows_from` is a link; the dropped counts are the limits', the
//!   exception event counted among the dropped events when the event limit was reached.
//! - Flags: sampled, and whether the parent is remote (`local_root` with a parent). The trace
//!   state is the W3C `tracestate` of the caller the trace continues, when the span has it.

use std::borrow::Cow;

use crate::model::{Kind, Resource, SpanRecord, TagValue};

/// The instrumentation scope every span is reported under.
pub(super) const SCOPE_NAME: &str = "traced";
/// The scope's version: this crate's.
pub(super) const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The event name of an annotation without a message.
pub(super) const UNNAMED_EVENT: &str = "event";

/// `W3C` sampled flag, and OTLP's "has is-remote" and "is remote" bits (`SpanFlags`).
const FLAG_SAMPLED: u32 = 0x01;
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// Spans grouped by the service that recorded them, in order of first appearance.
pub(super) fn by_service<'s, 'a: 's>(
    spans: impl IntoIterator<Item = &'a SpanRecord>,
    resource: &'s Resource,
) -> Vec<(&'s str, Vec<&'a SpanRecord>)> {
    let spans = spans.into_iter();
    let expected = spans.size_hint().0;
    let mut groups: Vec<(&str, Vec<&SpanRecord>)> = Vec::new();
    // The group of the span before: nearly every span is the process's own, in the same group
    // as the one before it, which one pointer comparison finds.
    let mut last = 0;
    for span in spans {
        let service = span
            .service_name
            .as_deref()
            .unwrap_or(&resource.service_name);
        if let Some((name, members)) = groups.get_mut(last) {
            if std::ptr::eq(*name, service) {
                members.push(span);
                continue;
            }
        }
        match groups.iter().position(|(name, _)| *name == service) {
            Some(index) => {
                groups[index].1.push(span);
                last = index;
            }
            None => {
                // The first group nearly always holds the whole batch.
                let mut members = Vec::with_capacity(if groups.is_empty() { expected } else { 1 });
                members.push(span);
                last = groups.len();
                groups.push((service, members));
            }
        }
    }
    groups
}

/// A resource's attributes for `service`: `service.name`, the configured ones, then the SDK's
/// unless configured.
pub(super) fn resource_attributes<'a>(
    resource: &'a Resource,
    service: &'a str,
) -> impl Iterator<Item = (&'a str, AnyValue<'a>)> {
    let configured = resource
        .attributes
        .iter()
        .filter(|(key, _)| key != "service.name")
        .map(|(key, value)| (&**key, AnyValue::of(value)));
    let sdk = [
        ("telemetry.sdk.name", SCOPE_NAME),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", SCOPE_VERSION),
    ]
    .into_iter()
    .filter(|(key, _)| !resource.attributes.iter().any(|(name, _)| name == key))
    .map(|(key, value)| (key, AnyValue::Str(Cow::Borrowed(value))));
    std::iter::once(("service.name", AnyValue::Str(Cow::Borrowed(service))))
        .chain(configured)
        .chain(sdk)
}

/// OTLP's `SpanKind` number.
pub(super) fn kind_number(kind: Option<Kind>) -> u64 {
    match kind {
        None => 1,
        Some(Kind::Server) => 2,
        Some(Kind::Client) => 3,
        Some(Kind::Producer) => 4,
        Some(Kind::Consumer) => 5,
    }
}

/// The span's `flags`: sampled (every reported span is), and whether its parent is remote.
pub(super) fn flags(span: &SpanRecord) -> u32 {
    let remote = if span.parent_id.is_some() && span.local_root {
        FLAG_IS_REMOTE
    } else {
        0
    };
    FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | remote
}

/// Start and end in Unix nanoseconds.
pub(super) fn times_ns(span: &SpanRecord) -> (u64, u64) {
    let start = span.timestamp_us.saturating_mul(1000);
    let end = span
        .timestamp_us
        .saturating_add(span.duration_us.max(1))
        .saturating_mul(1000);
    (start, end)
}

/// How the span ended, as OTLP's status and exception event say it, from one look at its tags.
pub(super) struct Outcome<'a> {
    /// The status message when the span failed (its `error` tag; `error = false` is no error).
    pub(super) error_message: Option<Cow<'a, str>>,
    /// The exception event's type: an `error.type` that names a type or a panic rather than an
    /// HTTP status code, on a failed span.
    exception_type: Option<&'a str>,
    /// The events the limits removed, the exception event among them when the event limit had
    /// already removed others (it is an event like the rest, added last).
    pub(super) dropped_events: u32,
}

impl<'a> Outcome<'a> {
    /// Reads the `error` and `error.type` tags (their last values) in one pass: looking each up
    /// again for the status, the exception event and the dropped count scanned a server span's
    /// tags five times (callgrind, `report encode`).
    pub(super) fn of(span: &'a SpanRecord) -> Outcome<'a> {
        let mut error = None;
        let mut error_type = None;
        for (key, value) in span.tags.iter().rev() {
            match OutcomeTag::of(key) {
                Some(OutcomeTag::Error) if error.is_none() => error = Some(value),
                Some(OutcomeTag::ErrorType) if error_type.is_none() => error_type = Some(value),
                _ => {}
            }
        }
        Outcome::from_tags(span, error, error_type)
    }

    /// The outcome from the live values of the `error` and `error.type` tags.
    #[inline(always)]
    fn from_tags(
        span: &'a SpanRecord,
        error: Option<&'a TagValue>,
        error_type: Option<&'a TagValue>,
    ) -> Outcome<'a> {
        match error {
            // Nearly every span: no error, so no exception either.
            None => Outcome {
                error_message: None,
                exception_type: None,
                dropped_events: span.dropped().events,
            },
            Some(error) => Outcome::failed(span, error, error_type),
        }
    }

    /// The outcome of a span with an `error` tag.
    fn failed(
        span: &'a SpanRecord,
        error: &'a TagValue,
        error_type: Option<&'a TagValue>,
    ) -> Outcome<'a> {
        let error_message = match error {
            TagValue::Bool(false) => None,
            TagValue::Bool(true) => Some(Cow::Borrowed("")),
            TagValue::Str(text) => Some(Cow::Borrowed(&**text)),
            other => Some(Cow::Owned(other.to_string())),
        };
        let exception_type = error_type
            .and_then(TagValue::as_str)
            .filter(|name| error_message.is_some() && crate::semconv::is_exception_type(name));
        let dropped = span.dropped().events;
        Outcome {
            error_message,
            exception_type,
            dropped_events: dropped + u32::from(dropped > 0 && exception_type.is_some()),
        }
    }

    /// The exception event's type and message, when the span failed with one. Not when the
    /// event limit removed events already: the exception event would be one more, and is
    /// counted among the dropped events instead.
    pub(super) fn exception(&self, span: &SpanRecord) -> Option<(&'a str, &Cow<'a, str>)> {
        if span.dropped().events > 0 {
            return None;
        }
        Some((self.exception_type?, self.error_message.as_ref()?))
    }
}

/// The span's attributes: its live tags, without the `error` tag the status carries.
pub(super) fn attributes(span: &SpanRecord) -> impl Iterator<Item = (&str, AnyValue<'_>)> {
    Attributes::deduplicated(span).map(|(key, value)| (key, AnyValue::of(value)))
}

/// The span's attributes ([`attributes`], with the values as recorded), which also read the
/// span's [`Outcome`] as they pass its tags: a second pass for the outcome was a tenth of the
/// OTLP protobuf encoder's instructions (callgrind, `report encode`). Optimistic or
/// deduplicated, as the [`LiveTags`](super::LiveTags) they read.
pub(super) struct Attributes<'a> {
    tags: super::LiveTags<'a>,
    error: Option<&'a TagValue>,
    error_type: Option<&'a TagValue>,
}

impl<'a> Attributes<'a> {
    /// The attributes, assuming no key repeats.
    #[inline(always)]
    pub(super) fn optimistic(span: &'a SpanRecord) -> Attributes<'a> {
        Attributes::reading(super::LiveTags::optimistic(&span.tags))
    }

    /// The attributes, a repeated key's last value only.
    pub(super) fn deduplicated(span: &'a SpanRecord) -> Attributes<'a> {
        Attributes::reading(super::LiveTags::deduplicated(&span.tags))
    }

    #[inline(always)]
    fn reading(tags: super::LiveTags<'a>) -> Attributes<'a> {
        Attributes {
            tags,
            error: None,
            error_type: None,
        }
    }

    /// Whether optimistic attributes stopped at a repeated key.
    #[inline(always)]
    pub(super) fn repeated(&self) -> bool {
        self.tags.repeated()
    }

    /// The span's outcome, once every attribute was taken.
    #[inline(always)]
    pub(super) fn outcome(&mut self, span: &'a SpanRecord) -> Outcome<'a> {
        // Reads the tags the caller did not take, if any.
        for _ in &mut *self {}
        Outcome::from_tags(span, self.error, self.error_type)
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a str, &'a TagValue);

    #[inline(always)]
    fn next(&mut self) -> Option<(&'a str, &'a TagValue)> {
        loop {
            let (key, value) = self.tags.next()?;
            match OutcomeTag::of(key) {
                Some(OutcomeTag::Error) => {
                    self.error = Some(value);
                    continue;
                }
                Some(OutcomeTag::ErrorType) => self.error_type = Some(value),
                None => {}
            }
            return Some((key, value));
        }
    }
}

/// The tags the outcome is read from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OutcomeTag {
    Error,
    ErrorType,
}

impl OutcomeTag {
    /// Which outcome tag `key` is, if any; by length first, as nearly every key is neither.
    #[inline(always)]
    fn of(key: &str) -> Option<OutcomeTag> {
        const ERROR_LEN: usize = crate::semconv::ERROR.len();
        const ERROR_TYPE_LEN: usize = crate::semconv::ERROR_TYPE.len();
        match key.len() {
            ERROR_LEN if key == crate::semconv::ERROR => Some(OutcomeTag::Error),
            ERROR_TYPE_LEN if key == crate::semconv::ERROR_TYPE => Some(OutcomeTag::ErrorType),
            _ => None,
        }
    }
}

/// An attribute value as OTLP types it.
pub(super) enum AnyValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl<'a> AnyValue<'a> {
    #[inline]
    pub(super) fn of(value: &'a TagValue) -> AnyValue<'a> {
        let text = || Cow::Owned(value.to_string());
        match value {
            TagValue::Str(text) => AnyValue::Str(Cow::Borrowed(text)),
            TagValue::I64(number) => AnyValue::Int(*number),
            TagValue::U64(number) => {
                i64::try_from(*number).map_or_else(|_| AnyValue::Str(text()), AnyValue::Int)
            }
            TagValue::I128(number) => {
                i64::try_from(*number).map_or_else(|_| AnyValue::Str(text()), AnyValue::Int)
            }
            TagValue::U128(number) => {
                i64::try_from(*number).map_or_else(|_| AnyValue::Str(text()), AnyValue::Int)
            }
            TagValue::F64(number) => AnyValue::Double(*number),
            TagValue::Bool(flag) => AnyValue::Bool(*flag),
        }
    }
}
