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

use crate::model::{Resource, SpanRecord, TagValue};

use super::append::{copy_short, Room};
use super::otlp::{self, AnyValue};
use super::protobuf::{
    nested, nested_expecting, put_bytes, put_fixed64, put_varint_field, varint_len, FIXED64, LEN,
    VARINT,
};

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
        // A guess at the batch's size, for the room of the two lengths that wrap it.
        let expected = 160 * members.len();
        nested_expecting(out, 1, expected, |out| {
            nested(out, 1, |out| {
                for (key, value) in otlp::resource_attributes(resource, service) {
                    write_attribute(RESOURCE_ATTRIBUTE, key, &value, out);
                }
            });
            nested_expecting(out, 2, expected, |out| {
                nested(out, 1, |out| {
                    put_bytes(out, 1, otlp::SCOPE_NAME.as_bytes());
                    put_bytes(out, 2, otlp::SCOPE_VERSION.as_bytes());
                });
                for span in members {
                    nested_expecting(out, 2, expected_span_len(span), |out| write_span(span, out));
                }
            });
        });
    }
}

/// A one-byte field key: `field` (below 16) and its wire type.
const fn field_key(field: u8, wire_type: u8) -> u8 {
    field << 3 | wire_type
}

// `Span`'s fields, as written.
const TRACE_ID: u8 = field_key(1, LEN);
const SPAN_ID: u8 = field_key(2, LEN);
const TRACE_STATE: u8 = field_key(3, LEN);
const PARENT_SPAN_ID: u8 = field_key(4, LEN);
const NAME: u8 = field_key(5, LEN);
const KIND: u8 = field_key(6, VARINT);
const START_TIME: u8 = field_key(7, FIXED64);
const END_TIME: u8 = field_key(8, FIXED64);
const ATTRIBUTE: u8 = field_key(9, LEN);
/// `Span.Event.attributes` and `Resource.attributes`.
const EVENT_ATTRIBUTE: u8 = field_key(3, LEN);
const RESOURCE_ATTRIBUTE: u8 = field_key(1, LEN);
// `KeyValue`'s and `AnyValue`'s fields.
const KEY_VALUE_KEY: u8 = field_key(1, LEN);
const KEY_VALUE_VALUE: u8 = field_key(2, LEN);
const ANY_STRING: u8 = field_key(1, LEN);
const ANY_BOOL: u8 = field_key(2, VARINT);
const ANY_INT: u8 = field_key(3, VARINT);
const ANY_DOUBLE: u8 = field_key(4, FIXED64);
/// `Span.flags` is field 16, a fixed32: its key takes two bytes.
const FLAGS: [u8; 2] = [0x85, 0x01];

fn write_span(span: &SpanRecord, out: &mut Vec<u8>) {
    let (start, end) = otlp::times_ns(span);
    let state = span.trace_state().filter(|state| !state.is_empty());
    write_span_head(span, state, start, end, out);
    let attributes_start = out.len();
    let mut attributes = otlp::Attributes::optimistic(span);
    for (key, value) in &mut attributes {
        write_tag_attribute(ATTRIBUTE, key, value, out);
    }
    if attributes.repeated() {
        out.truncate(attributes_start);
        attributes = otlp::Attributes::deduplicated(span);
        for (key, value) in &mut attributes {
            write_tag_attribute(ATTRIBUTE, key, value, out);
        }
    }
    let outcome = attributes.outcome(span);
    let dropped = span.dropped();
    if dropped.attributes > 0 {
        put_varint_field(out, 10, u64::from(dropped.attributes));
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
                write_attribute(EVENT_ATTRIBUTE, key, &AnyValue::of(value), out);
            }
            if annotation.dropped_fields > 0 {
                put_varint_field(out, 4, u64::from(annotation.dropped_fields));
            }
        });
    }
    if let Some((error_type, message)) = outcome.exception(span) {
        nested(out, 11, |out| {
            put_fixed64(out, 1, end);
            put_bytes(out, 2, b"exception");
            let type_value = AnyValue::Str(error_type.into());
            write_attribute(EVENT_ATTRIBUTE, "exception.type", &type_value, out);
            let message_value = AnyValue::Str(message.clone());
            write_attribute(EVENT_ATTRIBUTE, "exception.message", &message_value, out);
        });
    }
    if outcome.dropped_events > 0 {
        put_varint_field(out, 12, u64::from(outcome.dropped_events));
    }
    for link in span.links() {
        nested(out, 13, |out| {
            put_bytes(out, 1, &link.trace_id.0.to_be_bytes());
            put_bytes(out, 2, &link.span_id.0.to_be_bytes());
        });
    }
    if dropped.links > 0 {
        put_varint_field(out, 14, u64::from(dropped.links));
    }
    if let Some(message) = &outcome.error_message {
        nested(out, 15, |out| {
            if !message.is_empty() {
                put_bytes(out, 2, message.as_bytes());
            }
            // STATUS_CODE_ERROR.
            put_varint_field(out, 3, 2);
        });
    }
    let [first, second, third, fourth] = otlp::flags(span).to_le_bytes();
    out.extend_from_slice(&[FLAGS[0], FLAGS[1], first, second, third, fourth]);
}

/// The fields before the attributes: ids, trace state, name, kind, times. The common span (no
/// trace state, a name under 128 bytes) is written as fixed-size words after one capacity
/// check, instead of a check and a length update per field.
#[inline(always)]
fn write_span_head(
    span: &SpanRecord,
    state: Option<&str>,
    start: u64,
    end: u64,
    out: &mut Vec<u8>,
) {
    let name = span.name.as_bytes();
    if state.is_some() || name.len() >= 0x80 {
        let optional = state.map_or(0, |state| 11 + state.len()) + 11 + name.len();
        let mut room = Room::reserve(out, 18 + 10 + 10 + optional + 2 + 18);
        room.put(&[TRACE_ID, 16]);
        room.put(&span.trace_id.0.to_be_bytes());
        room.put(&[SPAN_ID, 8]);
        room.put(&span.id.0.to_be_bytes());
        if let Some(state) = state {
            room.byte(TRACE_STATE);
            room.varint(state.len() as u64);
            room.put(state.as_bytes());
        }
        if let Some(parent) = span.parent_id {
            room.put(&[PARENT_SPAN_ID, 8]);
            room.put(&parent.0.to_be_bytes());
        }
        if !name.is_empty() {
            room.byte(NAME);
            room.varint(name.len() as u64);
            room.put(name);
        }
        room.put(&[KIND, otlp::kind_number(span.kind) as u8]);
        room.byte(START_TIME);
        room.put(&start.to_le_bytes());
        room.byte(END_TIME);
        room.put(&end.to_le_bytes());
        return;
    }
    let mut ids = [0u8; 38];
    ids[..2].copy_from_slice(&[TRACE_ID, 16]);
    ids[2..18].copy_from_slice(&span.trace_id.0.to_be_bytes());
    ids[18..20].copy_from_slice(&[SPAN_ID, 8]);
    ids[20..28].copy_from_slice(&span.id.0.to_be_bytes());
    let ids_len = match span.parent_id {
        Some(parent) => {
            ids[28..30].copy_from_slice(&[PARENT_SPAN_ID, 8]);
            ids[30..38].copy_from_slice(&parent.0.to_be_bytes());
            38
        }
        None => 28,
    };
    let mut tail = [0u8; 20];
    tail[..2].copy_from_slice(&[KIND, otlp::kind_number(span.kind) as u8]);
    tail[2] = START_TIME;
    tail[3..11].copy_from_slice(&start.to_le_bytes());
    tail[11] = END_TIME;
    tail[12..20].copy_from_slice(&end.to_le_bytes());
    let name_field = if name.is_empty() { 0 } else { 2 + name.len() };
    out.reserve(38 + name_field + 20);
    let len = out.len();
    // SAFETY: `reserve` left room for 38 + `name_field` + 20 bytes after `len`. Written: the 38
    // bytes of `ids` (of which the first `ids_len` count), then from `ids_len` on the name field
    // (2 + the name, under 128 bytes, so its length is one byte) and the 20 bytes of `tail`:
    // all within that room, and `len..len + ids_len + name_field + 20` is written throughout,
    // so the new length covers only written bytes. The sources are locals and the span, never
    // the vector.
    unsafe {
        let target = out.as_mut_ptr().add(len);
        target.cast::<[u8; 38]>().write_unaligned(ids);
        let mut at = target.add(ids_len);
        if !name.is_empty() {
            at.cast::<[u8; 2]>()
                .write_unaligned([NAME, name.len() as u8]);
            if name.len() <= 32 {
                copy_short(name.as_ptr(), at.add(2), name.len());
            } else {
                std::ptr::copy_nonoverlapping(name.as_ptr(), at.add(2), name.len());
            }
            at = at.add(name_field);
        }
        at.cast::<[u8; 20]>().write_unaligned(tail);
        out.set_len(len + ids_len + name_field + 20);
    }
}

/// About how long `span` will be encoded, for the room of its length: the fixed fields and
/// its name, then a typical attribute's and event's size for each.
#[inline(always)]
fn expected_span_len(span: &SpanRecord) -> usize {
    60 + span.name.len() + 20 * span.tags.len() + 40 * span.annotations.len()
}

/// Writes a `KeyValue` as the field whose one-byte key is `field_key` (attributes of spans,
/// events and resources), without a length patched afterwards.
fn write_attribute(field_key: u8, key: &str, value: &AnyValue<'_>, out: &mut Vec<u8>) {
    if key.len() <= 32 {
        match value {
            AnyValue::Str(text) if text.len() <= 32 => {
                return write_short_string_attribute(
                    field_key,
                    key.as_bytes(),
                    text.as_bytes(),
                    out,
                )
            }
            AnyValue::Int(number) => {
                return write_short_int_attribute(field_key, key.as_bytes(), *number, out)
            }
            _ => {}
        }
    }
    write_any_attribute(field_key, key, value, out);
}

/// Writes a tag as an attribute, typed as [`AnyValue::of`] says, the common kinds straight
/// from the tag: making the `AnyValue` first cost 20 instructions per attribute (callgrind).
/// It picks the short writers by the same rule as [`write_attribute`]; one dispatcher over
/// both value types, through an enum and a closure, cost 14 instructions per span (904 → 918).
#[inline(always)]
fn write_tag_attribute(field_key: u8, key: &str, value: &TagValue, out: &mut Vec<u8>) {
    if key.len() <= 32 {
        match value {
            TagValue::Str(text) if text.len() <= 32 => {
                return write_short_string_attribute(
                    field_key,
                    key.as_bytes(),
                    text.as_bytes(),
                    out,
                )
            }
            TagValue::I64(number) => {
                return write_short_int_attribute(field_key, key.as_bytes(), *number, out)
            }
            TagValue::U64(number) => {
                if let Ok(number) = i64::try_from(*number) {
                    return write_short_int_attribute(field_key, key.as_bytes(), number, out);
                }
            }
            _ => {}
        }
    }
    write_any_attribute(field_key, key, &AnyValue::of(value), out);
}

/// An integer attribute whose key has at most 32 bytes: every length is one byte (the value's
/// varint has at most ten), so the header is two words and the key one copy.
#[inline(always)]
fn write_short_int_attribute(field_key: u8, key: &[u8], number: i64, out: &mut Vec<u8>) {
    let key_len = key.len();
    // Checked by every caller already; after inlining, the check is compiled out.
    assert!(key_len <= 32, "a short attribute");
    // int64 is a varint of the two's complement, ten bytes for a negative number.
    let mut rest = number as u64;
    let value_len = 1 + varint_len(rest);
    // KeyValue: key field (2 + key), value field (2 + AnyValue). At most 32 + 15 < 128.
    let key_value_len = key_len + 4 + value_len;
    out.reserve(key_value_len + 2);
    let len = out.len();
    // SAFETY: `reserve` left room for the `key_value_len + 2` bytes written here after `len`:
    // 4 header bytes, the key (at most 32, as `copy_short` takes), 3 more header bytes, and the
    // varint's `value_len - 1` bytes. Every byte of the range is written, so the length may
    // cover it.
    unsafe {
        let mut at = write_short_key(out.as_mut_ptr().add(len), field_key, key_value_len, key);
        at.cast::<[u8; 3]>()
            .write_unaligned([KEY_VALUE_VALUE, value_len as u8, ANY_INT]);
        at = at.add(3);
        while rest >= 0x80 {
            *at = rest as u8 | 0x80;
            at = at.add(1);
            rest >>= 7;
        }
        *at = rest as u8;
        out.set_len(len + key_value_len + 2);
    }
}

/// The common attribute: a key and a string value of at most 32 bytes each, so every length
/// is one byte and both copies are two word moves: four stores of single bytes written as one
/// word, two copies, a capacity check. The general writer cost three times as many
/// instructions for these (callgrind, `report encode`).
#[inline(always)]
fn write_short_string_attribute(field_key: u8, key: &[u8], text: &[u8], out: &mut Vec<u8>) {
    let (key_len, text_len) = (key.len(), text.len());
    // Checked by every caller already; after inlining, the check is compiled out.
    assert!(key_len <= 32 && text_len <= 32, "a short attribute");
    // KeyValue: key field (2 + key), value field (2 + AnyValue: 2 + text). At most 72 < 128.
    let key_value_len = key_len + text_len + 6;
    out.reserve(key_value_len + 2);
    let len = out.len();
    // SAFETY: `reserve` left room for the `key_value_len + 2` bytes written here after `len`:
    // 4 header bytes, the key, 4 more header bytes, the text. `copy_short` takes at most 32
    // bytes, which both are, and the key and text cannot overlap the vector, borrowed mutably.
    // Every byte of the range is written, so the length may cover it.
    unsafe {
        let at = write_short_key(out.as_mut_ptr().add(len), field_key, key_value_len, key);
        at.cast::<[u8; 4]>().write_unaligned([
            KEY_VALUE_VALUE,
            text_len as u8 + 2,
            ANY_STRING,
            text_len as u8,
        ]);
        copy_short(text.as_ptr(), at.add(4), text_len);
        out.set_len(len + key_value_len + 2);
    }
}

/// Writes the start of a short attribute at `target`: its field key, the `KeyValue`'s length
/// (under 128, one byte), and the key field (one-byte length, at most 32 bytes); returns where
/// the value field goes.
///
/// # Safety
/// `target` must be valid for `4 + key.len()` writes and not overlap `key`, and `key` must
/// have at most 32 bytes.
#[inline(always)]
unsafe fn write_short_key(
    target: *mut u8,
    field_key: u8,
    key_value_len: usize,
    key: &[u8],
) -> *mut u8 {
    // SAFETY: the caller made `target` valid for the 4 header bytes and the key, which
    // `copy_short` can copy (at most 32 bytes, not overlapping).
    unsafe {
        target.cast::<[u8; 4]>().write_unaligned([
            field_key,
            key_value_len as u8,
            KEY_VALUE_KEY,
            key.len() as u8,
        ]);
        copy_short(key.as_ptr(), target.add(4), key.len());
        target.add(4 + key.len())
    }
}

/// Any attribute, its two lengths computed first so it is written in one reserved room.
#[inline(never)]
fn write_any_attribute(field_key: u8, key: &str, value: &AnyValue<'_>, out: &mut Vec<u8>) {
    let value_len = match value {
        AnyValue::Str(text) => 1 + varint_len(text.len() as u64) + text.len(),
        AnyValue::Bool(_) => 2,
        // int64 is a varint of the two's complement, ten bytes for a negative number.
        AnyValue::Int(number) => 1 + varint_len(*number as u64),
        AnyValue::Double(_) => 9,
    };
    let key_value_len =
        1 + varint_len(key.len() as u64) + key.len() + 1 + varint_len(value_len as u64) + value_len;
    let mut room = Room::reserve(out, 1 + varint_len(key_value_len as u64) + key_value_len);
    room.byte(field_key);
    room.varint(key_value_len as u64);
    room.byte(KEY_VALUE_KEY);
    room.varint(key.len() as u64);
    room.put(key.as_bytes());
    room.byte(KEY_VALUE_VALUE);
    room.varint(value_len as u64);
    match value {
        AnyValue::Str(text) => {
            room.byte(ANY_STRING);
            room.varint(text.len() as u64);
            room.put(text.as_bytes());
        }
        AnyValue::Bool(flag) => room.put(&[ANY_BOOL, u8::from(*flag)]),
        AnyValue::Int(number) => {
            room.byte(ANY_INT);
            room.varint(*number as u64);
        }
        AnyValue::Double(number) => {
            room.byte(ANY_DOUBLE);
            room.put(&number.to_bits().to_le_bytes());
        }
    }
}
