//! Zipkin v2 JSON, written by hand: one pass, no intermediate tree, no serde in the runtime.

use crate::model::{Endpoint, SpanRecord, TagValue};

use super::{live_annotations, live_tags, tag_text, wire_duration, WireEndpoint};

/// Appends `spans` to `out` as a Zipkin v2 JSON list (`ListOfSpans`).
///
/// `local` is the process's endpoint (lower-case service name, host IPv4); a span's own
/// `service_name` and `local_port` replace its name and port.
///
/// ```
/// use traced::encode::encode_json;
/// use traced::model::{Endpoint, Kind, SpanId, SpanRecord, TagValue, TraceId};
///
/// let span = SpanRecord {
///     trace_id: TraceId(0xabc),
///     id: SpanId(0x12),
///     parent_id: Some(SpanId(0x11)),
///     name: "GET /users".into(),
///     kind: Some(Kind::Server),
///     timestamp_us: 1_700_000_000_000_000,
///     duration_us: 250,
///     tags: vec![("http.status_code".into(), TagValue::U64(200))].into(),
///     ..Default::default()
/// };
/// let mut body = Vec::new();
/// encode_json(&[span], &Endpoint::service("users"), &mut body);
/// assert_eq!(
///     String::from_utf8(body).unwrap(),
///     concat!(
///         r#"[{"traceId":"0000000000000abc","parentId":"0000000000000011","id":"0000000000000012","#,
///         r#""kind":"SERVER","name":"get /users","timestamp":1700000000000000,"duration":250,"#,
///         r#""localEndpoint":{"serviceName":"users"},"tags":{"http.status_code":"200"}}]"#
///     )
/// );
/// ```
pub fn encode_json(spans: &[SpanRecord], local: &Endpoint, out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, span) in spans.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_span(span, local, out);
    }
    out.push(b']');
}

/// Appends one span object.
pub(crate) fn write_span(span: &SpanRecord, local: &Endpoint, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"traceId\":\"");
    if !span.trace_id.is_64_bit() {
        write_hex((span.trace_id.0 >> 64) as u64, out);
    }
    write_hex(span.trace_id.0 as u64, out);
    if let Some(parent) = span.parent_id {
        out.extend_from_slice(b"\",\"parentId\":\"");
        write_hex(parent.0, out);
    }
    out.extend_from_slice(b"\",\"id\":\"");
    write_hex(span.id.0, out);
    out.push(b'"');
    if let Some(kind) = span.kind {
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(kind.as_zipkin().as_bytes());
        out.push(b'"');
    }
    if !span.name.is_empty() {
        out.extend_from_slice(b",\"name\":");
        write_lowercase_string(&span.name, out);
    }
    if span.timestamp_us != 0 {
        out.extend_from_slice(b",\"timestamp\":");
        write_u64(span.timestamp_us, out);
    }
    out.extend_from_slice(b",\"duration\":");
    write_u64(wire_duration(span), out);
    if let Some(endpoint) = WireEndpoint::local(span, local) {
        out.extend_from_slice(b",\"localEndpoint\":");
        write_endpoint(&endpoint, out);
    }
    if let Some(endpoint) = span.remote_endpoint.as_ref().and_then(WireEndpoint::new) {
        out.extend_from_slice(b",\"remoteEndpoint\":");
        write_endpoint(&endpoint, out);
    }
    let mut annotations = live_annotations(&span.annotations).peekable();
    if annotations.peek().is_some() {
        out.extend_from_slice(b",\"annotations\":[");
        for (index, annotation) in annotations.enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"timestamp\":");
            write_u64(annotation.timestamp_us, out);
            out.extend_from_slice(b",\"value\":");
            write_string(&annotation.text(), out);
            out.push(b'}');
        }
        out.push(b']');
    }
    let mut tags = live_tags(&span.tags).peekable();
    if tags.peek().is_some() {
        out.extend_from_slice(b",\"tags\":{");
        let mut scratch = String::new();
        for (index, (key, value)) in tags.enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_string(key, out);
            out.push(b':');
            // Integers and booleans need no escaping: write their digits straight in.
            match value {
                TagValue::U64(number) => {
                    out.push(b'"');
                    write_u64(*number, out);
                    out.push(b'"');
                }
                TagValue::I64(number) => {
                    out.push(b'"');
                    if *number < 0 {
                        out.push(b'-');
                    }
                    write_u64(number.unsigned_abs(), out);
                    out.push(b'"');
                }
                TagValue::Bool(true) => out.extend_from_slice(b"\"true\""),
                TagValue::Bool(false) => out.extend_from_slice(b"\"false\""),
                other => write_string(tag_text(other, &mut scratch), out),
            }
        }
        out.push(b'}');
    }
    if span.debug {
        out.extend_from_slice(b",\"debug\":true");
    }
    if span.shared {
        out.extend_from_slice(b",\"shared\":true");
    }
    out.push(b'}');
}

fn write_endpoint(endpoint: &WireEndpoint<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let mut separator = b'{';
    if let Some(name) = &endpoint.service_name {
        out.push(separator);
        separator = b',';
        out.extend_from_slice(b"\"serviceName\":");
        write_string(name, out);
    }
    if let Some(ip) = endpoint.ipv4 {
        out.push(separator);
        separator = b',';
        out.extend_from_slice(b"\"ipv4\":\"");
        for (index, octet) in ip.octets().into_iter().enumerate() {
            if index > 0 {
                out.push(b'.');
            }
            write_u64(u64::from(octet), out);
        }
        out.push(b'"');
    }
    if let Some(ip) = endpoint.ipv6 {
        out.push(separator);
        separator = b',';
        // The canonical text form (RFC 5952) is Display's; writing into a Vec cannot fail.
        let _ = write!(out, "\"ipv6\":\"{ip}\"");
    }
    if let Some(port) = endpoint.port {
        out.push(separator);
        separator = b',';
        out.extend_from_slice(b"\"port\":");
        write_u64(u64::from(port), out);
    }
    // WireEndpoint is never empty, so the object was opened above.
    debug_assert_eq!(separator, b',');
    out.push(b'}');
}

/// Two lower-hex digits for every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [HEX[byte >> 4], HEX[byte & 0xf]];
        byte += 1;
    }
    pairs
};

/// Two decimal digits for every value below 100.
const DECIMAL_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut value = 0;
    while value < 100 {
        pairs[value] = [b'0' + (value / 10) as u8, b'0' + (value % 10) as u8];
        value += 1;
    }
    pairs
};

/// Writes 16 lower-hex digits, a byte (two digits) at a time: ids are written three times per
/// span, and a digit at a time was a tenth of the JSON encoder's instructions (callgrind,
/// `report encode`).
pub(super) fn write_hex(value: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    for (index, pair) in value.to_be_bytes().into_iter().enumerate() {
        digits[index * 2..index * 2 + 2].copy_from_slice(&HEX_PAIRS[usize::from(pair)]);
    }
    out.extend_from_slice(&digits);
}

/// Writes `value` in decimal, two digits at a time (timestamps have sixteen).
pub(super) fn write_u64(mut value: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value >= 100 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DECIMAL_PAIRS[(value % 100) as usize]);
        value /= 100;
    }
    if value >= 10 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DECIMAL_PAIRS[value as usize]);
    } else {
        start -= 1;
        digits[start] = b'0' + value as u8;
    }
    out.extend_from_slice(&digits[start..]);
}

/// Whether any of the eight bytes of `word` needs a look: a control character, `"`, `\`, or
/// 0xE2 (which starts U+2028 and U+2029). The usual bit tricks: `x - 0x01…` borrows into a
/// byte's high bit only where the byte was below the subtrahend. A yes can be wrong for a byte
/// above a matching one, never a no; the bytes of a yes are looked at one by one.
#[inline]
fn needs_look(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |value: u64| value.wrapping_sub(ONES) & !value & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let e2 = zero_byte(word ^ (ONES * 0xe2));
    control | quote | backslash | e2 != 0
}

/// Writes `text` lower-cased as a JSON string (Zipkin's span names are lower case). ASCII text,
/// nearly every name, is written as is and lower-cased in place: escapes hold only lower-case
/// letters, so this is the same as lower-casing first, without the copy (`report encode` under
/// callgrind: lower-casing into a new string was 8% of the Zipkin JSON encoder's instructions).
fn write_lowercase_string(text: &str, out: &mut Vec<u8>) {
    if text.is_ascii() {
        let start = out.len();
        write_string(text, out);
        ascii_lowercase_in_place(&mut out[start..]);
    } else {
        write_string(&text.to_lowercase(), out);
    }
}

/// Lower-cases the ASCII letters of `bytes`, eight at a time (`make_ascii_lowercase` goes byte by
/// byte, which cost more than the copy it saved). For each byte below 0x80, `+ (0x80 - b'A')`
/// sets its high bit when it is at least `A`, `+ (0x7f - b'Z')` when it is above `Z`; no byte
/// carries into the next, as each is below 0x80 before the addition.
fn ascii_lowercase_in_place(bytes: &mut [u8]) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let Ok(array) = <&mut [u8; 8]>::try_from(chunk) else {
            continue;
        };
        let word = u64::from_le_bytes(*array);
        let low = word & !HIGH;
        let at_least_a = low + ONES * u64::from(0x80 - b'A');
        let above_z = low + ONES * u64::from(0x7f - b'Z');
        let upper = at_least_a & !above_z & !word & HIGH;
        *array = (word | (upper >> 2)).to_le_bytes();
    }
    chunks.into_remainder().make_ascii_lowercase();
}

/// Writes `text` as a JSON string. Quote, backslash and every control character are escaped
/// (RFC 8259 §7); U+2028 and U+2029 too, so the output is also valid JavaScript. Everything
/// else is copied as UTF-8, which a `&str` always is.
pub(super) fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        // Plain text, eight bytes at a time: a byte-by-byte scan was half of the JSON
        // encoder's instructions (callgrind, `report encode`).
        while let Some(chunk) = bytes.get(index..index + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if needs_look(word) {
                break;
            }
            index += 8;
        }
        // The last few bytes, padded with plain ones, in one look too.
        if bytes.len() - index < 8 {
            let mut padded = [b'a'; 8];
            padded[..bytes.len() - index].copy_from_slice(&bytes[index..]);
            if !needs_look(u64::from_le_bytes(padded)) {
                break;
            }
        }
        let Some(&byte) = bytes.get(index) else {
            break;
        };
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0x00..=0x1f => Some(b""),
            // E2 80 A8 / E2 80 A9 are U+2028 / U+2029.
            0xe2 if bytes.get(index + 1) == Some(&0x80)
                && matches!(bytes.get(index + 2), Some(0xa8 | 0xa9)) =>
            {
                Some(b"")
            }
            _ => None,
        };
        let Some(escape) = escape else {
            index += 1;
            continue;
        };
        out.extend_from_slice(&bytes[copied..index]);
        if escape.is_empty() {
            let code: u32 = match (byte, bytes.get(index + 2)) {
                (0xe2, Some(0xa8)) => 0x2028,
                (0xe2, _) => 0x2029,
                _ => u32::from(byte),
            };
            out.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[((code >> shift) & 0xf) as usize]);
            }
            index += if byte == 0xe2 { 3 } else { 1 };
        } else {
            out.extend_from_slice(escape);
            index += 1;
        }
        copied = index;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn ascii_lowercase_in_place_matches_the_standard_library() {
        let all: Vec<u8> = (0u8..=255).collect();
        for start in 0..8 {
            let mut ours = all[start..].to_vec();
            let mut theirs = ours.clone();
            super::ascii_lowercase_in_place(&mut ours);
            theirs.make_ascii_lowercase();
            assert_eq!(ours, theirs);
        }
    }

    use std::borrow::Cow;

    #[test]
    fn the_word_scan_finds_every_byte_that_needs_a_look() {
        for special in 0..=255u8 {
            let expected = special < 0x20 || matches!(special, b'"' | b'\\' | 0xe2);
            for position in 0..8 {
                let mut bytes = [b'a'; 8];
                bytes[position] = special;
                assert_eq!(
                    super::needs_look(u64::from_le_bytes(bytes)),
                    expected,
                    "byte {special:#04x} at {position}"
                );
            }
        }
    }

    #[test]
    fn numbers_and_ids_are_written_exactly() {
        for value in [
            0,
            7,
            10,
            99,
            100,
            1_000_001,
            u64::MAX,
            1_700_000_000_000_000,
        ] {
            let mut out = Vec::new();
            super::write_u64(value, &mut out);
            assert_eq!(out, value.to_string().as_bytes());
            let mut hex = Vec::new();
            super::write_hex(value, &mut hex);
            assert_eq!(hex, format!("{value:016x}").as_bytes());
        }
    }
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::model::{Annotation, Kind, SpanId, TraceId};

    fn decode(spans: &[SpanRecord], local: &Endpoint) -> Value {
        let mut out = Vec::new();
        encode_json(spans, local, &mut out);
        serde_json::from_slice(&out).unwrap_or_else(|error| {
            panic!("invalid JSON ({error}): {}", String::from_utf8_lossy(&out))
        })
    }

    fn process() -> Endpoint {
        Endpoint {
            service_name: Some(Arc::from("shop")),
            ipv4: Some(Ipv4Addr::new(10, 1, 2, 3)),
            ..Endpoint::default()
        }
    }

    fn full_span() -> SpanRecord {
        SpanRecord {
            trace_id: TraceId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
            id: SpanId(0xffff_0000_0000_0001),
            parent_id: Some(SpanId(0xa)),
            name: "Checkout".into(),
            kind: Some(Kind::Client),
            timestamp_us: 1_502_787_600_000_000,
            duration_us: 1431,
            service_name: Some(Arc::from("Payments")),
            remote_endpoint: Some(Endpoint {
                service_name: Some(Arc::from("bank")),
                ipv6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xc001)),
                port: Some(443),
                ..Endpoint::default()
            }),
            local_port: Some(8080),
            tags: vec![
                ("amount".into(), TagValue::F64(12.5)),
                ("retry".into(), TagValue::Bool(false)),
                ("big".into(), TagValue::U128(u128::MAX)),
                ("delta".into(), TagValue::I64(-4)),
            ]
            .into(),
            annotations: vec![Annotation::new(1_502_787_600_000_100, "card checked")],
            debug: true,
            shared: true,
            local_root: false,
            ..SpanRecord::default()
        }
    }

    #[test]
    fn every_field_is_encoded_as_the_spec_says() {
        assert_eq!(
            decode(&[full_span()], &process()),
            json!([{
                "traceId": "0123456789abcdeffedcba9876543210",
                "parentId": "000000000000000a",
                "id": "ffff000000000001",
                "kind": "CLIENT",
                "name": "checkout",
                "timestamp": 1_502_787_600_000_000u64,
                "duration": 1431,
                "localEndpoint": {"serviceName": "payments", "ipv4": "10.1.2.3", "port": 8080},
                "remoteEndpoint": {"serviceName": "bank", "ipv6": "2001:db8::c001", "port": 443},
                "annotations": [{"timestamp": 1_502_787_600_000_100u64, "value": "card checked"}],
                "tags": {
                    "amount": "12.5",
                    "retry": "false",
                    "big": "340282366920938463463374607431768211455",
                    "delta": "-4"
                },
                "debug": true,
                "shared": true
            }])
        );
    }

    #[test]
    fn a_minimal_root_span_has_no_optional_fields() {
        let span = SpanRecord {
            trace_id: TraceId(0x1),
            id: SpanId(0x2),
            duration_us: 0,
            ..SpanRecord::default()
        };
        assert_eq!(
            decode(&[span], &Endpoint::default()),
            json!([{"traceId": "0000000000000001", "id": "0000000000000002", "duration": 1}])
        );
    }

    #[test]
    fn several_spans_and_none_make_lists() {
        assert_eq!(decode(&[], &process()), json!([]));
        let spans = vec![full_span(), full_span()];
        assert_eq!(decode(&spans, &process()).as_array().unwrap().len(), 2);
    }

    #[test]
    fn zero_ports_and_empty_remote_endpoints_are_left_out() {
        let mut span = full_span();
        span.local_port = None;
        span.remote_endpoint = Some(Endpoint {
            port: Some(0),
            ..Endpoint::default()
        });
        let local = Endpoint {
            port: Some(0),
            ..process()
        };
        let decoded = decode(&[span], &local);
        assert_eq!(
            decoded[0]["localEndpoint"],
            json!({"serviceName": "payments", "ipv4": "10.1.2.3"})
        );
        assert!(decoded[0].get("remoteEndpoint").is_none());
    }

    #[test]
    fn control_characters_and_any_text_stay_valid_json() {
        let every_char: String = (0u32..0x800)
            .chain([0x2028, 0x2029, 0xfeff, 0x10ffff])
            .filter_map(char::from_u32)
            .collect();
        let hostile = format!("\"quoted\" \\ back\u{0}\u{1f}\u{7f} é 日本 🎉 {every_char}");
        let span = SpanRecord {
            name: Cow::Owned(hostile.clone()),
            tags: vec![(
                Cow::Owned(hostile.clone()),
                TagValue::Str(hostile.clone().into()),
            )]
            .into(),
            annotations: vec![Annotation::new(1, hostile.clone())],
            service_name: Some(Arc::from("svc\n\"x\"")),
            ..full_span()
        };
        let decoded = decode(&[span], &process());
        assert_eq!(decoded[0]["name"], json!(hostile.to_lowercase()));
        assert_eq!(decoded[0]["tags"][&hostile], json!(hostile));
        assert_eq!(decoded[0]["annotations"][0]["value"], json!(hostile));
        assert_eq!(
            decoded[0]["localEndpoint"]["serviceName"],
            json!("svc\n\"x\"")
        );
    }

    #[test]
    fn control_characters_use_short_or_unicode_escapes() {
        let mut out = Vec::new();
        write_string("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{2028}z", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\n\r\t\b\f\u0001\u2028z""#
        );
    }

    #[test]
    fn duplicate_tags_keep_the_last_value() {
        let span = SpanRecord {
            tags: vec![
                ("error".into(), TagValue::Str("first".into())),
                ("error".into(), TagValue::Str("second".into())),
            ]
            .into(),
            ..full_span()
        };
        let mut out = Vec::new();
        encode_json(&[span], &process(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\"error\"").count(), 1);
        assert!(text.contains(r#""tags":{"error":"second"}"#), "{text}");
    }

    #[test]
    fn numbers_and_addresses_are_written_exactly() {
        let span = SpanRecord {
            tags: vec![
                ("min".into(), TagValue::I64(i64::MIN)),
                ("zero".into(), TagValue::I64(0)),
                ("max".into(), TagValue::U64(u64::MAX)),
                ("yes".into(), TagValue::Bool(true)),
            ]
            .into(),
            remote_endpoint: Some(Endpoint {
                ipv4: Some(Ipv4Addr::new(0, 9, 10, 255)),
                ..Endpoint::default()
            }),
            ..full_span()
        };
        let decoded = decode(&[span], &process());
        assert_eq!(
            decoded[0]["tags"],
            json!({"min": i64::MIN.to_string(), "zero": "0", "max": u64::MAX.to_string(), "yes": "true"})
        );
        assert_eq!(decoded[0]["remoteEndpoint"], json!({"ipv4": "0.9.10.255"}));
        assert_eq!(
            decoded[0]["traceId"],
            json!("0123456789abcdeffedcba9876543210")
        );
    }

    #[test]
    fn u64_digits_round_trip() {
        for value in [0, 1, 9, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_u64(value, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }
}
