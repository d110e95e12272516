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
    let mut groups: Vec<(&str, Vec<&SpanRecord>)> = Vec::new();
    for span in spans {
        let service = span
            .service_name
            .as_deref()
            .unwrap_or(&resource.service_name);
        match groups.iter_mut().find(|(name, _)| *name == service) {
            Some((_, members)) => members.push(span),
            None => groups.push((service, vec![span])),
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

/// The span's error message, when it failed (its `error` tag; `error = false` is no error).
pub(super) fn error_message(span: &SpanRecord) -> Option<Cow<'_, str>> {
    match span.tag(crate::semconv::ERROR)? {
        TagValue::Bool(false) => None,
        TagValue::Bool(true) => Some(Cow::Borrowed("")),
        TagValue::Str(text) => Some(Cow::Borrowed(text)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// The exception event's type and message, when the span failed with one: an `error.type` that
/// names a type or a panic rather than an HTTP status code.
/// Not when the event limit removed events already: the exception event would be one more,
/// and is counted as dropped instead ([`dropped_events`]).
pub(super) fn exception(span: &SpanRecord) -> Option<(&str, Cow<'_, str>)> {
    if span.dropped().events > 0 {
        return None;
    }
    Some((exception_type(span)?, error_message(span)?))
}

/// The events the limits removed, the exception event among them when the event limit had
/// already removed others (it is an event like the rest, added last).
pub(super) fn dropped_events(span: &SpanRecord) -> u32 {
    let exception_dropped = span.dropped().events > 0 && exception_type(span).is_some();
    span.dropped().events + u32::from(exception_dropped)
}

/// The exception event's type, when the span failed with an exception.
fn exception_type(span: &SpanRecord) -> Option<&str> {
    let error_type = span.tag(crate::semconv::ERROR_TYPE)?.as_str()?;
    (error_message(span).is_some() && crate::semconv::is_exception_type(error_type))
        .then_some(error_type)
}

/// The span's attributes: its live tags, without the `error` tag the status carries.
pub(super) fn attributes(span: &SpanRecord) -> impl Iterator<Item = (&str, AnyValue<'_>)> {
    super::live_tags(&span.tags)
        .filter(|(key, _)| key != crate::semconv::ERROR)
        .map(|(key, value)| (&**key, AnyValue::of(value)))
}

/// An attribute value as OTLP types it.
pub(super) enum AnyValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl<'a> AnyValue<'a> {
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
