//! Zipkin v2 JSON, written by hand: one pass, no intermediate tree, no serde in the runtime.

use crate::model::{Endpoint, SpanRecord, TagValue};

use super::append::append;
use super::{live_annotations, tag_text, wire_duration, LiveTags, LocalEndpoint, WireEndpoint};

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
    let local = LocalEndpoint::new(local.clone());
    out.push(b'[');
    for (index, span) in spans.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_span(span, &local, out);
    }
    out.push(b']');
}

/// Appends one span object.
pub(crate) fn write_span(span: &SpanRecord, local: &LocalEndpoint, out: &mut Vec<u8>) {
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
    match local.json_member_for(span) {
        Some(member) => append(out, member),
        None => write_local_endpoint(span, &local.endpoint, out),
    }
    if let Some(endpoint) = span.remote_endpoint.as_ref().and_then(WireEndpoint::new) {
        out.extend_from_slice(b",\"remoteEndpoint\":");
        write_endpoint(&endpoint, out);
    }
    let mut opened = false;
    for annotation in live_annotations(&span.annotations) {
        out.extend_from_slice(if opened {
            b",{\"timestamp\":"
        } else {
            b",\"annotations\":[{\"timestamp\":"
        });
        opened = true;
        write_u64(annotation.timestamp_us, out);
        out.extend_from_slice(b",\"value\":\"");
        write_annotation_text(annotation, out);
        out.extend_from_slice(b"\"}");
    }
    if opened {
        out.push(b']');
    }
    let tags_start = out.len();
    let mut tags = LiveTags::optimistic(&span.tags);
    write_tags(&mut tags, out);
    if tags.repeated() {
        out.truncate(tags_start);
        write_tags(&mut LiveTags::deduplicated(&span.tags), out);
    }
    if span.debug {
        out.extend_from_slice(b",\"debug\":true");
    }
    if span.shared {
        out.extend_from_slice(b",\"shared\":true");
    }
    out.push(b'}');
}

/// Writes the `tags` member, when there are tags.
#[inline(always)]
fn write_tags(tags: &mut LiveTags<'_>, out: &mut Vec<u8>) {
    let mut opened = false;
    let mut scratch = String::new();
    for (key, value) in tags {
        // Each branch a copy of a known size, inlined (one slice of either size was a call).
        if opened {
            out.push(b',');
        } else {
            out.extend_from_slice(b",\"tags\":{");
        }
        opened = true;
        write_string(key, out);
        // Integers and booleans need no escaping: write their digits straight in.
        match value {
            TagValue::Str(text) => {
                out.push(b':');
                write_string(text, out);
            }
            TagValue::U64(number) => {
                out.extend_from_slice(b":\"");
                write_u64(*number, out);
                out.push(b'"');
            }
            TagValue::I64(number) => {
                if *number < 0 {
                    out.extend_from_slice(b":\"-");
                } else {
                    out.extend_from_slice(b":\"");
                }
                write_u64(number.unsigned_abs(), out);
                out.push(b'"');
            }
            TagValue::Bool(true) => out.extend_from_slice(b":\"true\""),
            TagValue::Bool(false) => out.extend_from_slice(b":\"false\""),
            other => {
                out.push(b':');
                write_string(tag_text(other, &mut scratch), out);
            }
        }
    }
    if opened {
        out.push(b'}');
    }
}

/// Writes an annotation's text ([`Annotation::text`](crate::model::Annotation::text)) as the
/// inside of a JSON string, piece by piece: building the text first cost an allocation and a
/// trip through `fmt` for every annotation with fields (callgrind, `report encode`).
fn write_annotation_text(annotation: &crate::model::Annotation, out: &mut Vec<u8>) {
    write_text::<false>(&annotation.message, out);
    let mut separate = !annotation.message.is_empty();
    let mut scratch = String::new();
    for (key, value) in &annotation.fields {
        if separate {
            out.push(b' ');
        }
        separate = true;
        write_text::<false>(key, out);
        out.push(b'=');
        match value {
            TagValue::U64(number) => write_u64(*number, out),
            TagValue::I64(number) => {
                if *number < 0 {
                    out.push(b'-');
                }
                write_u64(number.unsigned_abs(), out);
            }
            other => write_text::<false>(tag_text(other, &mut scratch), out),
        }
    }
}

/// Writes the `localEndpoint` member of `span` (with its leading comma), when there is one.
pub(super) fn write_local_endpoint(span: &SpanRecord, local: &Endpoint, out: &mut Vec<u8>) {
    if let Some(endpoint) = WireEndpoint::local(span, local) {
        out.extend_from_slice(b",\"localEndpoint\":");
        write_endpoint(&endpoint, out);
    }
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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight lower-hex digits of `value`, most significant first when the word is stored
/// little-endian. Each nibble is spread into a byte of its own, then turned into its digit in
/// all eight bytes at once: ids are written three times per span, and a table lookup per byte
/// cost about 76 instructions per id, this about 35 (callgrind, `report encode`).
#[inline(always)]
fn hex_digits(value: u32) -> u64 {
    let spread = u64::from(value);
    let spread = (spread | spread << 16) & 0x0000_ffff_0000_ffff;
    let spread = (spread | spread << 8) & 0x00ff_00ff_00ff_00ff;
    // Nibble `i` (counted from the least significant) is now byte `i`.
    let nibbles = (spread | spread << 4) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more: adding 6 carries it into bit 4.
    let letters = ((nibbles + ONES * 6) >> 4) & ONES;
    let digits = nibbles + ONES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10);
    digits.swap_bytes()
}

/// Writes 16 lower-hex digits.
pub(super) fn write_hex(value: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    digits[..8].copy_from_slice(&hex_digits((value >> 32) as u32).to_le_bytes());
    digits[8..].copy_from_slice(&hex_digits(value as u32).to_le_bytes());
    out.extend_from_slice(&digits);
}

/// The eight decimal digits of `value` (below 10^8, leading zeros included) as the values 0–9
/// in the bytes of a word, the first digit in the lowest byte: halves, quarters and digits
/// split in all lanes at once, dividing by multiplying (`x * 5243 >> 19` is `x / 100` below
/// 43,699; `x * 103 >> 10` is `x / 10` below 179).
#[inline(always)]
fn decimal_digits(value: u32) -> u64 {
    let value = u64::from(value);
    // Two 32-bit lanes: the first four digits, then the last four.
    let halves = (value / 10_000) | ((value % 10_000) << 32);
    let hundreds = ((halves * 5243) >> 19) & 0x0000_007f_0000_007f;
    // Four 16-bit lanes of two digits each.
    let pairs = (halves - hundreds * 100) << 16 | hundreds;
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    (pairs - tens * 10) << 8 | tens
}

/// Writes `value` in decimal: eight digits at a time ([`decimal_digits`]), stored as whole
/// words, straight into `out` (dividing by 100 per pair into a scratch array and copying it
/// out cost about 94 instructions per number of the sample batch, this about 86 with the
/// call; callgrind, `report encode`).
#[inline(always)]
pub(super) fn write_u64(value: u64, out: &mut Vec<u8>) {
    if value < 10 {
        out.push(b'0' + value as u8);
    } else {
        write_long_u64(value, out);
    }
}

/// [`write_u64`] for ten or more.
fn write_long_u64(value: u64, out: &mut Vec<u8>) {
    const EIGHT_DIGITS: u64 = 100_000_000;
    const ZEROS: u64 = ONES * b'0' as u64;
    // At most 4 + 8 + 8 digits, and the first word is stored whole.
    out.reserve(24);
    let len = out.len();
    // The leading digits (one to eight of them), then the rest in whole groups of eight.
    let (lead, middle, last) = if value < EIGHT_DIGITS {
        (value as u32, None, None)
    } else if value < EIGHT_DIGITS * EIGHT_DIGITS {
        let last = (value % EIGHT_DIGITS) as u32;
        ((value / EIGHT_DIGITS) as u32, None, Some(last))
    } else {
        let last = (value % EIGHT_DIGITS) as u32;
        let middle = (value / EIGHT_DIGITS % EIGHT_DIGITS) as u32;
        (
            (value / (EIGHT_DIGITS * EIGHT_DIGITS)) as u32,
            Some(middle),
            Some(last),
        )
    };
    // `lead` is not zero (`value` is at least 10), so neither is its digit word.
    let lead_digits = decimal_digits(lead);
    let leading_zeros = lead_digits.trailing_zeros() as usize / 8;
    // SAFETY: `reserve` left room for 24 bytes after `len`. The lead word is stored whole at
    // `len` (8 bytes), each group of eight after the digits before it, which number at most
    // 8 + 8: at most 24 bytes in all. The length then covers exactly the digits written.
    unsafe {
        let target = out.as_mut_ptr().add(len);
        let store = |at: usize, digits: u64| {
            target
                .add(at)
                .cast::<u64>()
                .write_unaligned((digits | ZEROS).to_le())
        };
        store(0, lead_digits >> (leading_zeros * 8));
        let mut written = 8 - leading_zeros;
        if let Some(middle) = middle {
            store(written, decimal_digits(middle));
            written += 8;
        }
        if let Some(last) = last {
            store(written, decimal_digits(last));
            written += 8;
        }
        out.set_len(len + written);
    }
}

/// Whether any of the eight bytes of `word` is not plain printable ASCII that JSON takes as
/// it is: a control character, `"`, `\`, or any byte of a multi-byte character (those take the
/// careful path, which copies them and escapes U+2028 and U+2029). `x - 0x20` and `(x ^ c) - 1`
/// borrow into a byte's high bit only where the byte is below 0x20 or equal to `c`, or where a
/// lower byte already matched; a byte of 0x80 or more has its high bit set already.
#[inline(always)]
fn not_plain(word: u64) -> bool {
    let control = word.wrapping_sub(ONES * 0x20);
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    (control | quote | backslash | word) & HIGH != 0
}

/// Copies the plain start of `text` (see [`not_plain`]) to `target`, a word at a time, and says
/// how many bytes it copied: `text.len()` when all of it is plain. Each word is checked and
/// stored whole; the last one overlaps the one before it, and text shorter than a word is read
/// as two overlapping halves, so nothing is read or written outside the text's length.
///
/// # Safety
/// `target` must be valid for `text.len()` writes and not overlap `text`.
#[inline(always)]
unsafe fn copy_plain(text: &[u8], target: *mut u8) -> usize {
    let count = text.len();
    let source = text.as_ptr();
    // SAFETY: every load reads eight (or four, or two) bytes that start at `source + at` with
    // `at + 8 <= count` (or end at `source + count`), and every store writes the same bytes at
    // the same offset of `target`, which the caller made valid for `count` bytes.
    unsafe {
        let load = |at: usize| source.add(at).cast::<u64>().read_unaligned();
        let store = |at: usize, word: u64| target.add(at).cast::<u64>().write_unaligned(word);
        if count < 8 {
            // The text's bytes (some twice), padded with plain `a`s to a whole word.
            let word = if count >= 4 {
                u64::from(source.cast::<u32>().read_unaligned())
                    | u64::from(source.add(count - 4).cast::<u32>().read_unaligned()) << 32
            } else if count >= 2 {
                u64::from(source.cast::<u16>().read_unaligned())
                    | u64::from(source.add(count - 2).cast::<u16>().read_unaligned()) << 16
                    | 0x6161_6161_0000_0000
            } else if count == 1 {
                u64::from(*source) | 0x6161_6161_6161_6100
            } else {
                return 0;
            };
            if not_plain(word) {
                return 0;
            }
            super::append::copy_short(source, target, count);
            return count;
        }
        let mut at = 0;
        while at + 8 <= count {
            let word = load(at);
            if not_plain(word) {
                return at;
            }
            store(at, word);
            at += 8;
        }
        if at < count {
            let word = load(count - 8);
            if not_plain(word) {
                return at;
            }
            store(count - 8, word);
        }
        count
    }
}

/// Whether any of the eight bytes of `word` needs a look: a control character, `"`, `\`, or
/// 0xE2 (which starts U+2028 and U+2029). The usual bit tricks: `x - 0x01…` borrows into a
/// byte's high bit only where the byte was below the subtrahend. A yes can be wrong for a byte
/// above a matching one, never a no; the bytes of a yes are looked at one by one.
#[inline]
fn needs_look(word: u64) -> bool {
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
#[inline(always)]
pub(super) fn write_string(text: &str, out: &mut Vec<u8>) {
    write_text::<true>(text, out);
}

/// Writes `text` escaped as JSON, in quotes when `QUOTED`. Plain ASCII, nearly all text, is
/// copied a word at a time ([`copy_plain`]) after one capacity check for the whole string.
#[inline(always)]
fn write_text<const QUOTED: bool>(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let quote = usize::from(QUOTED);
    out.reserve(bytes.len() + 2 * quote);
    let len = out.len();
    // SAFETY: `reserve` left room for the quotes and the text after `len`; `copy_plain` writes
    // the first `plain` bytes of the text right after the opening quote (if any), so the
    // length may cover the quote and them, and the closing quote, when written, is within the
    // room too.
    let plain = unsafe {
        let target = out.as_mut_ptr().add(len);
        if QUOTED {
            *target = b'"';
        }
        let plain = copy_plain(bytes, target.add(quote));
        if plain == bytes.len() {
            if QUOTED {
                *target.add(1 + plain) = b'"';
            }
            out.set_len(len + plain + 2 * quote);
            return;
        }
        out.set_len(len + quote + plain);
        plain
    };
    write_text_rest(bytes, plain, out);
    if QUOTED {
        out.push(b'"');
    }
}

/// The careful path of [`write_text`], from the first byte that is not plain ASCII: escapes
/// what needs escaping and copies the rest.
#[cold]
fn write_text_rest(bytes: &[u8], from: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut copied = from;
    let mut index = from;
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
    fn the_plain_word_check_flags_every_byte_json_must_look_at() {
        for special in 0..=255u8 {
            let expected = !(0x20..0x80).contains(&special) || matches!(special, b'"' | b'\\');
            for position in 0..8 {
                for filler in [b'a', b' ', b'~', b'#', b']'] {
                    let mut bytes = [filler; 8];
                    bytes[position] = special;
                    assert_eq!(
                        super::not_plain(u64::from_le_bytes(bytes)),
                        expected,
                        "byte {special:#04x} at {position} among {filler:#04x}"
                    );
                }
            }
        }
    }

    #[test]
    fn strings_of_every_length_with_a_special_byte_anywhere_match_serde_json() {
        for length in 0..40 {
            let plain: String = (0..length)
                .map(|index| (b'a' + (index % 26) as u8) as char)
                .collect();
            let mut out = Vec::new();
            super::write_string(&plain, &mut out);
            assert_eq!(
                out,
                serde_json::to_vec(&plain).unwrap(),
                "{length} plain bytes"
            );
            for position in 0..length {
                for special in [
                    "\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "\u{2028}", "\u{7f}",
                ] {
                    let mut text = plain.clone();
                    text.replace_range(position..position + 1, special);
                    let mut out = b"[".to_vec();
                    super::write_string(&text, &mut out);
                    let decoded: String =
                        serde_json::from_slice(&out[1..]).unwrap_or_else(|error| {
                            panic!("{error}: {}", String::from_utf8_lossy(&out))
                        });
                    assert_eq!(decoded, text);
                    assert_eq!(out[0], b'[');
                }
            }
        }
    }

    #[test]
    fn hex_digits_of_every_nibble_in_every_place() {
        for place in 0..16 {
            for nibble in 0..16u64 {
                let value = nibble << (place * 4) | 0x0123_4567_89ab_cdef & !(0xf << (place * 4));
                let mut hex = Vec::new();
                super::write_hex(value, &mut hex);
                assert_eq!(hex, format!("{value:016x}").as_bytes());
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
            9_999,
            10_000,
            99_999_999,
            100_000_000,
            10_000_000_000_000_000_000,
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
    use crate::model::{Annotation, Kind, SpanId, Tags, TraceId};

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
    fn annotation_values_are_their_text_with_every_kind_of_field() {
        let fields = |message: &str| {
            let mut annotation = Annotation::new(7, message);
            annotation
                .fields
                .push(("n".into(), TagValue::U64(u64::MAX)));
            annotation.fields.push(("neg".into(), TagValue::I64(-12)));
            annotation
                .fields
                .push(("q\"k".into(), TagValue::Str("a \"b\" \n é".into())));
            annotation.fields.push(("f".into(), TagValue::F64(0.25)));
            annotation.fields.push(("ok".into(), TagValue::Bool(false)));
            annotation
        };
        for annotation in [
            fields("done"),
            fields(""),
            Annotation::new(8, "only \\ text"),
        ] {
            let span = SpanRecord {
                annotations: vec![annotation.clone()],
                ..full_span()
            };
            let decoded = decode(&[span], &process());
            assert_eq!(
                decoded[0]["annotations"][0]["value"],
                json!(annotation.text()),
                "{annotation:?}"
            );
        }
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
    fn repeated_tags_anywhere_keep_their_last_value() {
        for (count, distinct) in [(3, 2), (11, 10), (11, 11), (40, 39), (65, 64), (150, 70)] {
            let span = SpanRecord {
                tags: (0..count)
                    .map(|index| {
                        (
                            Cow::Owned(format!("k{}", index % distinct)),
                            TagValue::U64(index as u64),
                        )
                    })
                    .collect::<Vec<_>>()
                    .into(),
                ..full_span()
            };
            let decoded = decode(&[span], &process());
            let tags = decoded[0]["tags"].as_object().expect("tags");
            assert_eq!(tags.len(), distinct.min(count));
            for key in 0..distinct.min(count) {
                let last = (0..count)
                    .rev()
                    .find(|index| index % distinct == key)
                    .unwrap();
                assert_eq!(
                    tags[&format!("k{key}")],
                    json!(last.to_string()),
                    "{count} tags"
                );
            }
        }
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
        let around_powers_of_ten = (0..20).flat_map(|power| {
            let power = 10u64.pow(power);
            [power - 1, power, power + 1, power.saturating_mul(2) - 1]
        });
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let scattered = std::iter::repeat_with(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state >> (state % 64)
        })
        .take(20_000);
        let edges = [0, 1, 9, 10, 12345, u64::MAX, u64::MAX - 1];
        for value in edges
            .into_iter()
            .chain(around_powers_of_ten)
            .chain(scattered)
        {
            let mut out = Vec::new();
            write_u64(value, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }

    /// What the encoder must write, built a different way: every string escaped by serde_json
    /// (plus U+2028 and U+2029, which serde_json leaves as they are), numbers by `Display`,
    /// the members in the spec's order, the same rules (`WireEndpoint`, `live_tags`,
    /// `live_annotations`) deciding what is left out.
    fn reference_json(spans: &[SpanRecord], local: &Endpoint) -> String {
        fn string(text: &str) -> String {
            serde_json::to_string(text)
                .unwrap()
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029")
        }
        fn endpoint(endpoint: &WireEndpoint<'_>) -> String {
            let mut members = Vec::new();
            if let Some(name) = &endpoint.service_name {
                members.push(format!("\"serviceName\":{}", string(name)));
            }
            if let Some(ip) = endpoint.ipv4 {
                members.push(format!("\"ipv4\":\"{ip}\""));
            }
            if let Some(ip) = endpoint.ipv6 {
                members.push(format!("\"ipv6\":\"{ip}\""));
            }
            if let Some(port) = endpoint.port {
                members.push(format!("\"port\":{port}"));
            }
            format!("{{{}}}", members.join(","))
        }
        let objects: Vec<String> = spans
            .iter()
            .map(|span| {
                let mut members = Vec::new();
                let trace_id = if span.trace_id.is_64_bit() {
                    format!("{:016x}", span.trace_id.0)
                } else {
                    format!("{:032x}", span.trace_id.0)
                };
                members.push(format!("\"traceId\":\"{trace_id}\""));
                if let Some(parent) = span.parent_id {
                    members.push(format!("\"parentId\":\"{:016x}\"", parent.0));
                }
                members.push(format!("\"id\":\"{:016x}\"", span.id.0));
                if let Some(kind) = span.kind {
                    members.push(format!("\"kind\":\"{}\"", kind.as_zipkin()));
                }
                if !span.name.is_empty() {
                    members.push(format!("\"name\":{}", string(&span.name.to_lowercase())));
                }
                if span.timestamp_us != 0 {
                    members.push(format!("\"timestamp\":{}", span.timestamp_us));
                }
                members.push(format!("\"duration\":{}", span.duration_us.max(1)));
                if let Some(wire) = WireEndpoint::local(span, local) {
                    members.push(format!("\"localEndpoint\":{}", endpoint(&wire)));
                }
                if let Some(wire) = span.remote_endpoint.as_ref().and_then(WireEndpoint::new) {
                    members.push(format!("\"remoteEndpoint\":{}", endpoint(&wire)));
                }
                let annotations: Vec<String> = live_annotations(&span.annotations)
                    .map(|annotation| {
                        format!(
                            "{{\"timestamp\":{},\"value\":{}}}",
                            annotation.timestamp_us,
                            string(&annotation.text())
                        )
                    })
                    .collect();
                if !annotations.is_empty() {
                    members.push(format!("\"annotations\":[{}]", annotations.join(",")));
                }
                let tags: Vec<String> = super::super::live_tags(&span.tags)
                    .map(|(key, value)| format!("{}:{}", string(key), string(&value.to_string())))
                    .collect();
                if !tags.is_empty() {
                    members.push(format!("\"tags\":{{{}}}", tags.join(",")));
                }
                if span.debug {
                    members.push("\"debug\":true".to_owned());
                }
                if span.shared {
                    members.push("\"shared\":true".to_owned());
                }
                format!("{{{}}}", members.join(","))
            })
            .collect();
        format!("[{}]", objects.join(","))
    }

    /// A small deterministic generator (xorshift), so a failure names a seed to replay.
    struct Generator(u64);

    impl Generator {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }

        fn chance(&mut self, one_in: u64) -> bool {
            self.below(one_in) == 0
        }

        /// Numbers at every length and at the edges: 0, 1, 9, 10, powers of ten and one
        /// below, sixteen-digit timestamps, `u64::MAX`.
        fn number(&mut self) -> u64 {
            const EDGES: [u64; 10] = [
                0,
                1,
                9,
                10,
                99_999_999,
                100_000_000,
                999_999_999_999_999,
                9_999_999_999_999_999,
                10_000_000_000_000_000,
                u64::MAX,
            ];
            match self.below(4) {
                0 => EDGES[self.below(EDGES.len() as u64) as usize],
                1 => 1_765_000_000_000_000 + self.below(1 << 40),
                _ => self.next() >> self.below(64),
            }
        }

        /// Text of any length up to a few hundred bytes, mostly plain ASCII, sometimes with
        /// what JSON must escape, multi-byte characters (those starting with 0xE2 among them),
        /// or upper case.
        fn text(&mut self) -> String {
            const PIECES: [&str; 24] = [
                "a",
                "GET /items/{id}",
                "http.response.status_code",
                "catalog.internal",
                "Mixed Case",
                "0123456789abcdef",
                " ",
                "~",
                "\"",
                "\\",
                "\n",
                "\r\t",
                "\u{0}",
                "\u{1f}",
                "\u{7f}",
                "é",
                "Ünïcödé",
                "日本",
                "🎉",
                "\u{2028}",
                "\u{2029}",
                "\u{2027}",
                "€",
                "\u{80}",
            ];
            let pieces = match self.below(8) {
                0 => 0,
                1 => 1 + self.below(40),
                _ => 1 + self.below(3),
            };
            let mut text = String::new();
            for _ in 0..pieces {
                // Plain pieces three times as often as the rest.
                let index = if self.chance(4) {
                    self.below(PIECES.len() as u64)
                } else {
                    self.below(8)
                };
                text.push_str(PIECES[index as usize]);
            }
            text
        }

        fn tag_value(&mut self) -> TagValue {
            match self.below(9) {
                0 | 1 | 2 => TagValue::Str(self.text().into()),
                3 => TagValue::U64(self.number()),
                4 => TagValue::I64(self.number() as i64),
                5 => TagValue::Bool(self.chance(2)),
                6 => TagValue::F64(self.number() as f64 / 7.0),
                7 => TagValue::I128(-(i128::from(self.number()) << self.below(64))),
                _ => TagValue::U128(u128::from(self.number()) << self.below(64)),
            }
        }

        fn tags(&mut self, keys: &[String]) -> Tags {
            let count = match self.below(6) {
                0 => 0,
                1 => 11,
                2 => 60 + self.below(20),
                _ => self.below(5),
            };
            (0..count)
                .map(|_| {
                    // Keys from a small set repeat now and then, and duplicates must go.
                    let key = if self.chance(3) {
                        keys[self.below(keys.len() as u64) as usize].clone()
                    } else {
                        self.text()
                    };
                    (Cow::Owned(key), self.tag_value())
                })
                .collect::<Vec<_>>()
                .into()
        }

        fn endpoint(&mut self) -> Endpoint {
            Endpoint {
                service_name: (!self.chance(3)).then(|| Arc::from(self.text())),
                ipv4: self.chance(2).then(|| Ipv4Addr::from(self.next() as u32)),
                ipv6: self.chance(3).then(|| {
                    // Runs of zero groups, so the `::` forms show up.
                    let groups = self.next() & self.next();
                    Ipv6Addr::from(u128::from(groups) << (self.below(2) * 64))
                }),
                port: self
                    .chance(2)
                    .then(|| [0, 9411, u16::MAX][self.below(3) as usize]),
            }
        }

        fn span(&mut self, keys: &[String]) -> SpanRecord {
            let kinds = [
                None,
                Some(Kind::Server),
                Some(Kind::Client),
                Some(Kind::Producer),
                Some(Kind::Consumer),
            ];
            let annotations = (0..self.below(4))
                .map(|_| {
                    let mut annotation = Annotation::new(self.number() % 3, self.text());
                    for _ in 0..self.below(3) {
                        let value = self.tag_value();
                        annotation.fields.push((Cow::Owned(self.text()), value));
                    }
                    annotation
                })
                .collect();
            SpanRecord {
                trace_id: TraceId(u128::from(self.next()) << (self.below(2) * 64) | 1),
                id: SpanId(self.number()),
                parent_id: self.chance(2).then(|| SpanId(self.number())),
                name: Cow::Owned(self.text()),
                kind: kinds[self.below(kinds.len() as u64) as usize],
                timestamp_us: self.number(),
                duration_us: self.number(),
                service_name: self.chance(4).then(|| Arc::from(self.text())),
                remote_endpoint: self.chance(3).then(|| self.endpoint()),
                local_port: self.chance(4).then(|| self.below(2) as u16 * 9411),
                tags: self.tags(keys),
                annotations,
                debug: self.chance(5),
                shared: self.chance(5),
                ..SpanRecord::default()
            }
        }
    }

    #[test]
    fn generated_spans_encode_as_the_reference_does() {
        let keys: Vec<String> = ["http.route", "error", "k", "url.path", "\"q\""]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut generator = Generator(0x2545_f491_4f6c_dd1d);
        for round in 0..400 {
            let local = generator.endpoint();
            let spans: Vec<SpanRecord> = (0..1 + generator.below(6))
                .map(|_| generator.span(&keys))
                .collect();
            let mut out = Vec::new();
            encode_json(&spans, &local, &mut out);
            let expected = reference_json(&spans, &local);
            if out != expected.as_bytes() {
                let ours = String::from_utf8_lossy(&out);
                let first_difference = ours
                    .bytes()
                    .zip(expected.bytes())
                    .position(|(ours, theirs)| ours != theirs)
                    .unwrap_or(ours.len().min(expected.len()));
                panic!(
                    "round {round} differs from byte {first_difference}:\n ours {ours}\n want {expected}"
                );
            }
        }
    }
}
