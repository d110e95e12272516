//! `ExportTraceServiceRequest` in the OTLP/JSON mapping (OTLP/HTTP with `application/json`),
//! written by hand for the reason `otlp_proto.rs` gives, with the JSON writers of `json.rs`.
//!
//! The mapping's own rules, which a generic protobuf-to-JSON printer gets wrong: ids are
//! lower-hex strings (not base64), enums are integers, 64-bit integers (`intValue`, the
//! `…UnixNano` times) are decimal strings, field names are lowerCamelCase. A double that JSON
//! cannot hold is written as proto3 JSON does: `"NaN"`, `"Infinity"`, `"-Infinity"`.

use crate::model::{Resource, SpanId, SpanRecord, TraceId};

use super::json::{write_hex, write_string, write_u64};
use super::otlp::{self, AnyValue};

/// Appends `spans` to `out` as an OTLP/JSON `ExportTraceServiceRequest` (`application/json`).
///
/// ```
/// use traced::encode::encode_otlp_json;
/// use traced::model::{Resource, SpanId, SpanRecord, TraceId};
///
/// let span = SpanRecord { trace_id: TraceId(1), id: SpanId(2), name: "Work".into(), duration_us: 3, ..Default::default() };
/// let mut body = Vec::new();
/// encode_otlp_json(&[span], &Resource::new("Shop"), &mut body);
/// let text = String::from_utf8(body).unwrap();
/// assert!(text.starts_with(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"Shop"}}"#));
/// assert!(text.contains(r#""traceId":"00000000000000000000000000000001","spanId":"0000000000000002","name":"Work","kind":1"#));
/// ```
pub fn encode_otlp_json<'a>(
    spans: impl IntoIterator<Item = &'a SpanRecord>,
    resource: &Resource,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"resourceSpans\":[");
    for (index, (service, members)) in otlp::by_service(spans, resource).into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"resource\":{\"attributes\":");
        write_attributes(otlp::resource_attributes(resource, service), out);
        out.extend_from_slice(b"},\"scopeSpans\":[{\"scope\":{\"name\":");
        write_string(otlp::SCOPE_NAME, out);
        out.extend_from_slice(b",\"version\":");
        write_string(otlp::SCOPE_VERSION, out);
        out.extend_from_slice(b"},\"spans\":[");
        for (index, span) in members.into_iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_span(span, out);
        }
        out.extend_from_slice(b"]}]}");
    }
    out.extend_from_slice(b"]}");
}

/// Opens an object with its `traceId` and `spanId` (a span's, or a link's).
fn write_ids(trace_id: TraceId, span_id: SpanId, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"traceId\":\"");
    write_hex((trace_id.0 >> 64) as u64, out);
    write_hex(trace_id.0 as u64, out);
    out.extend_from_slice(b"\",\"spanId\":\"");
    write_hex(span_id.0, out);
    out.push(b'"');
}

fn write_span(span: &SpanRecord, out: &mut Vec<u8>) {
    write_ids(span.trace_id, span.id, out);
    if let Some(state) = span.trace_state().filter(|state| !state.is_empty()) {
        out.extend_from_slice(b",\"traceState\":");
        write_string(state, out);
    }
    if let Some(parent) = span.parent_id {
        out.extend_from_slice(b",\"parentSpanId\":\"");
        write_hex(parent.0, out);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"name\":");
    write_string(&span.name, out);
    out.extend_from_slice(b",\"kind\":");
    write_u64(otlp::kind_number(span.kind), out);
    let (start, end) = otlp::times_ns(span);
    out.extend_from_slice(b",\"startTimeUnixNano\":");
    write_quoted_u64(start, out);
    out.extend_from_slice(b",\"endTimeUnixNano\":");
    write_quoted_u64(end, out);
    out.extend_from_slice(b",\"attributes\":");
    write_attributes(otlp::attributes(span), out);
    if span.dropped().attributes > 0 {
        out.extend_from_slice(b",\"droppedAttributesCount\":");
        write_u64(u64::from(span.dropped().attributes), out);
    }
    out.extend_from_slice(b",\"events\":[");
    let mut first = true;
    for annotation in &span.annotations {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"timeUnixNano\":");
        write_quoted_u64(annotation.timestamp_us.saturating_mul(1000), out);
        out.extend_from_slice(b",\"name\":");
        let name = if annotation.message.is_empty() {
            otlp::UNNAMED_EVENT
        } else {
            &annotation.message
        };
        write_string(name, out);
        out.extend_from_slice(b",\"attributes\":");
        write_attributes(
            super::live_tags(&annotation.fields).map(|(key, value)| (&**key, AnyValue::of(value))),
            out,
        );
        if annotation.dropped_fields > 0 {
            out.extend_from_slice(b",\"droppedAttributesCount\":");
            write_u64(u64::from(annotation.dropped_fields), out);
        }
        out.push(b'}');
    }
    let outcome = otlp::Outcome::of(span);
    if let Some((error_type, message)) = outcome.exception(span) {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"timeUnixNano\":");
        write_quoted_u64(end, out);
        out.extend_from_slice(b",\"name\":\"exception\",\"attributes\":");
        write_attributes(
            [
                ("exception.type", AnyValue::Str(error_type.into())),
                ("exception.message", AnyValue::Str(message.clone())),
            ],
            out,
        );
        out.push(b'}');
    }
    out.push(b']');
    if outcome.dropped_events > 0 {
        out.extend_from_slice(b",\"droppedEventsCount\":");
        write_u64(u64::from(outcome.dropped_events), out);
    }
    if !span.links().is_empty() {
        out.extend_from_slice(b",\"links\":[");
        for (index, link) in span.links().iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_ids(link.trace_id, link.span_id, out);
            out.push(b'}');
        }
        out.push(b']');
    }
    if span.dropped().links > 0 {
        out.extend_from_slice(b",\"droppedLinksCount\":");
        write_u64(u64::from(span.dropped().links), out);
    }
    if let Some(message) = &outcome.error_message {
        out.extend_from_slice(b",\"status\":{\"message\":");
        write_string(message, out);
        out.extend_from_slice(b",\"code\":2}");
    }
    out.extend_from_slice(b",\"flags\":");
    write_u64(u64::from(otlp::flags(span)), out);
    out.push(b'}');
}

fn write_attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a str, AnyValue<'a>)>,
    out: &mut Vec<u8>,
) {
    out.push(b'[');
    for (index, (key, value)) in attributes.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_string(key, out);
        out.extend_from_slice(b",\"value\":{");
        match value {
            AnyValue::Str(text) => {
                out.extend_from_slice(b"\"stringValue\":");
                write_string(&text, out);
            }
            AnyValue::Bool(flag) => {
                out.extend_from_slice(if flag {
                    b"\"boolValue\":true"
                } else {
                    b"\"boolValue\":false"
                });
            }
            AnyValue::Int(number) => {
                out.extend_from_slice(b"\"intValue\":\"");
                if number < 0 {
                    out.push(b'-');
                }
                write_u64(number.unsigned_abs(), out);
                out.push(b'"');
            }
            AnyValue::Double(number) => {
                out.extend_from_slice(b"\"doubleValue\":");
                if number.is_nan() {
                    out.extend_from_slice(b"\"NaN\"");
                } else if number.is_infinite() {
                    out.extend_from_slice(if number > 0.0 {
                        b"\"Infinity\""
                    } else {
                        b"\"-Infinity\""
                    });
                } else {
                    // Rust's shortest round-trip form is valid JSON for finite numbers.
                    out.extend_from_slice(format!("{number:?}").as_bytes());
                }
            }
        }
        out.extend_from_slice(b"}}");
    }
    out.push(b']');
}

fn write_quoted_u64(value: u64, out: &mut Vec<u8>) {
    out.push(b'"');
    write_u64(value, out);
    out.push(b'"');
}
