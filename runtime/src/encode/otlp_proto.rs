//! `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`, written by hand
//! (OTLP/HTTP with `application/x-protobuf`).
//!
//! Why not the generated types of the `opentelemetry-proto` crate: they would make us copy every
//! span into owned structs first (a `String` per attribute key, a `Vec` per id, a `Vec` per
//! list) and then encode those. Measured by `benches` (`report encode`, recorded in
//! `benches/RESULTS.md`): building and encoding the generated messages costs several times what
//! writing the wire format straight from `SpanRecord` does, and the reporter's cost per span is
//! a target of its own. The schema is stable (OTLP 1.x), and the wire format needs only the
//! primitives in `protobuf.rs`. The tests decode our output with the generated types of
//! `opentelemetry-proto`, made from the official `.proto` files, field by field.
//!
//! The rules (grouping, kinds, status, exception events, flags) are `otlp.rs`'s.

use crate::model::{Resource, SpanRecord};

use super::otlp::{self, AnyValue};
use super::protobuf::{nested, put_bytes, put_fixed32, put_fixed64, put_varint_field};

/// Appends `spans` to `out` as an OTLP `ExportTraceServiceRequest` (`application/x-protobuf`).
///
/// ```
/// use traced::encode::encode_otlp_proto;
/// use traced::model::{Resource, SpanId, SpanRecord, TraceId};
///
/// let span = SpanRecord { trace_id: TraceId(1), id: SpanId(2), name: "work".into(), duration_us: 3, ..Default::default() };
/// let mut body = Vec::new();
/// encode_otlp_proto(&[span], &Resource::new("shop"), &mut body);
/// // resource_spans (field 1), a length-delimited message.
/// assert_eq!(body[0], 0x0a);
/// ```
pub fn encode_otlp_proto<'a>(
    spans: impl IntoIterator<Item = &'a SpanRecord>,
    resource: &Resource,
    out: &mut Vec<u8>,
) {
    for (service, members) in otlp::by_service(spans, resource) {
        nested(out, 1, |out| {
            nested(out, 1, |out| {
                for (key, value) in otlp::resource_attributes(resource, service) {
                    nested(out, 1, |out| write_key_value(key, &value, out));
                }
            });
            nested(out, 2, |out| {
                nested(out, 1, |out| {
                    put_bytes(out, 1, otlp::SCOPE_NAME.as_bytes());
                    put_bytes(out, 2, otlp::SCOPE_VERSION.as_bytes());
                });
                for span in members {
                    nested(out, 2, |out| write_span(span, out));
                }
            });
        });
    }
}

fn write_span(span: &SpanRecord, out: &mut Vec<u8>) {
    put_bytes(out, 1, &span.trace_id.0.to_be_bytes());
    put_bytes(out, 2, &span.id.0.to_be_bytes());
    if let Some(state) = span.trace_state().filter(|state| !state.is_empty()) {
        put_bytes(out, 3, state.as_bytes());
    }
    if let Some(parent) = span.parent_id {
        put_bytes(out, 4, &parent.0.to_be_bytes());
    }
    if !span.name.is_empty() {
        put_bytes(out, 5, span.name.as_bytes());
    }
    put_varint_field(out, 6, otlp::kind_number(span.kind));
    let (start, end) = otlp::times_ns(span);
    put_fixed64(out, 7, start);
    put_fixed64(out, 8, end);
    for (key, value) in otlp::attributes(span) {
        nested(out, 9, |out| write_key_value(key, &value, out));
    }
    if span.dropped().attributes > 0 {
        put_varint_field(out, 10, u64::from(span.dropped().attributes));
    }
    for annotation in &span.annotations {
        nested(out, 11, |out| {
            put_fixed64(out, 1, annotation.timestamp_us.saturating_mul(1000));
            let name = if annotation.message.is_empty() {
                otlp::UNNAMED_EVENT
            } else {
                &annotation.message
            };
            put_bytes(out, 2, name.as_bytes());
            for (key, value) in super::live_tags(&annotation.fields) {
                nested(out, 3, |out| {
                    write_key_value(key, &AnyValue::of(value), out)
                });
            }
            if annotation.dropped_fields > 0 {
                put_varint_field(out, 4, u64::from(annotation.dropped_fields));
            }
        });
    }
    if let Some((error_type, message)) = otlp::exception(span) {
        nested(out, 11, |out| {
            put_fixed64(out, 1, end);
            put_bytes(out, 2, b"exception");
            let type_value = AnyValue::Str(error_type.into());
            nested(out, 3, |out| {
                write_key_value("exception.type", &type_value, out)
            });
            let message_value = AnyValue::Str(message);
            nested(out, 3, |out| {
                write_key_value("exception.message", &message_value, out)
            });
        });
    }
    if otlp::dropped_events(span) > 0 {
        put_varint_field(out, 12, u64::from(otlp::dropped_events(span)));
    }
    for link in span.links() {
        nested(out, 13, |out| {
            put_bytes(out, 1, &link.trace_id.0.to_be_bytes());
            put_bytes(out, 2, &link.span_id.0.to_be_bytes());
        });
    }
    if span.dropped().links > 0 {
        put_varint_field(out, 14, u64::from(span.dropped().links));
    }
    if let Some(message) = otlp::error_message(span) {
        nested(out, 15, |out| {
            if !message.is_empty() {
                put_bytes(out, 2, message.as_bytes());
            }
            // STATUS_CODE_ERROR.
            put_varint_field(out, 3, 2);
        });
    }
    put_fixed32(out, 16, otlp::flags(span));
}

/// A `KeyValue`: the key, then the `AnyValue` with its one field set.
fn write_key_value(key: &str, value: &AnyValue<'_>, out: &mut Vec<u8>) {
    put_bytes(out, 1, key.as_bytes());
    nested(out, 2, |out| match value {
        AnyValue::Str(text) => put_bytes(out, 1, text.as_bytes()),
        AnyValue::Bool(flag) => put_varint_field(out, 2, u64::from(*flag)),
        // int64 is a varint of the two's complement, ten bytes for a negative number.
        AnyValue::Int(number) => put_varint_field(out, 3, *number as u64),
        AnyValue::Double(number) => put_fixed64(out, 4, number.to_bits()),
    });
}
