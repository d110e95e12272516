//! Zipkin v2 JSON, written by hand: one pass, no intermediate tree, no serde in the runtime.

use crate::model::{Annotation, Endpoint, Kind, SpanRecord, TagValue};

use super::append::{copy_bytes, Cursor};
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
    // One cursor for the whole list: one per span, made and dropped around a call, cost 15
    // instructions per span more (1041 against 1026; callgrind, `report encode-profile
    // zipkin_json`).
    let cursor = &mut Cursor::new(out);
    cursor.put_byte(b'[');
    for (index, span) in spans.iter().enumerate() {
        put_span(span, &local, index == 0, cursor);
    }
    cursor.put_byte(b']');
}

/// Appends one span object, through a [`Cursor`]. The common members are written in a few
/// groups, each after one check of room for all of it (its size bounded from the lengths of
/// the text in it): the ids, kind and name; the times and the process's local endpoint; each
/// tag; the end. The rare ones (annotations, a remote endpoint, a local endpoint of the span's
/// own, tags of other types, text that needs escaping) are written the usual way on the vector.
///
/// A capacity check and a length update per piece, as `Vec::push` and `extend_from_slice`
/// make, were a quarter of this encoder's instructions (about 470 per span; a check per piece
/// on the cursor's registers still about 290); callgrind, `report encode-profile zipkin_json`.
///
/// `first` says whether it is the first span of its list; the others get a comma first.
pub(crate) fn write_span(span: &SpanRecord, local: &LocalEndpoint, first: bool, out: &mut Vec<u8>) {
    put_span(span, local, first, &mut Cursor::new(out));
}

/// [`write_span`] through a cursor.
#[inline(always)]
fn put_span(span: &SpanRecord, local: &LocalEndpoint, first: bool, cursor: &mut Cursor<'_>) {
    put_ids_kind_and_name(span, first, cursor);
    put_times_and_local_endpoint(span, local, cursor);
    if let Some(remote) = &span.remote_endpoint {
        cursor.with_vec(|out| write_remote_endpoint(remote, out));
    }
    if !span.annotations.is_empty() {
        put_annotations(&span.annotations, cursor);
    }
    let tags_start = cursor.len();
    let mut tags = LiveTags::optimistic(&span.tags);
    let mut any_tags = put_tags(&mut tags, cursor);
    if tags.repeated() {
        cursor.truncate(tags_start);
        any_tags = put_tags(&mut LiveTags::deduplicated(&span.tags), cursor);
    }
    // The tags' closing brace, `,"debug":true`, `,"shared":true` and the span's closing brace:
    // stores of a known size, each counted or not.
    let target = cursor.room(1 + 13 + 14 + 1);
    // SAFETY: the four stores are 1, 13, 14 and 1 bytes long, each at the count of those
    // before it that were counted, so all of them are within the room; the count advanced
    // covers the counted ones, written front to back.
    unsafe {
        *target = b'}';
        let mut at = usize::from(any_tags);
        store(target.add(at), *b",\"debug\":true");
        at += if span.debug { 13 } else { 0 };
        store(target.add(at), *b",\"shared\":true");
        at += if span.shared { 14 } else { 0 };
        *target.add(at) = b'}';
        cursor.advance(at + 1);
    }
}

/// Writes a comma unless the span is the `first` of its list, then the span's opening brace,
/// ids, kind and name: at most [`IDS_AND_KIND`] bytes and the name's member, in one room. A
/// name that is not plain ASCII is written carefully after the rest.
#[inline(always)]
fn put_ids_kind_and_name(span: &SpanRecord, first: bool, cursor: &mut Cursor<'_>) {
    /// `,`, `{"traceId":"` and 32 digits, `","parentId":"` and 16, `","id":"` and 16, `"`,
    /// and the longest `kind` member.
    const IDS_AND_KIND: usize = 1 + 12 + 32 + 14 + 16 + 8 + 16 + 1 + 18;
    let name = span.name.as_bytes();
    // `,"name":"`, the name, `"`.
    let target = cursor.room(IDS_AND_KIND + 9 + name.len() + 1);
    // SAFETY: each piece is stored at `at`, the length of the pieces before it, and the
    // pieces are at most those `IDS_AND_KIND` counts, then the name's member, all within the
    // room. `copy_plain` writes the first `plain` bytes of the name. The count advanced covers
    // the pieces written, front to back, up to the name's member when the name is not plain.
    unsafe {
        *target = b',';
        let mut at = usize::from(!first);
        store(target.add(at), *b"{\"traceId\":\"");
        at += 12;
        if !span.trace_id.is_64_bit() {
            store_hex((span.trace_id.0 >> 64) as u64, target.add(at));
            at += 16;
        }
        store_hex(span.trace_id.0 as u64, target.add(at));
        at += 16;
        if let Some(parent) = span.parent_id {
            store(target.add(at), *b"\",\"parentId\":\"");
            store_hex(parent.0, target.add(at + 14));
            at += 14 + 16;
        }
        store(target.add(at), *b"\",\"id\":\"");
        store_hex(span.id.0, target.add(at + 8));
        *target.add(at + 8 + 16) = b'"';
        at += 8 + 16 + 1;
        if let Some(kind) = span.kind {
            let (member, len) = kind_member(kind);
            store(target.add(at), member);
            at += len;
        }
        if !name.is_empty() {
            store(target.add(at), *b",\"name\":\"");
            let plain = copy_plain::<true>(name, target.add(at + 9));
            if plain < name.len() {
                cursor.advance(at);
                cursor.with_vec(|out| write_name_carefully(&span.name, out));
                return;
            }
            *target.add(at + 9 + name.len()) = b'"';
            at += 9 + name.len() + 1;
        }
        cursor.advance(at);
    }
}

/// Writes the `name` member of a name that is not plain ASCII.
#[cold]
fn write_name_carefully(name: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"name\":");
    write_lowercase_string(name, out);
}

/// Writes `timestamp`, `duration` and, when it is the process's own, the `localEndpoint`
/// member encoded once ([`LocalEndpoint`]), in one room; a local endpoint of the span's own
/// is written the usual way.
#[inline(always)]
fn put_times_and_local_endpoint(span: &SpanRecord, local: &LocalEndpoint, cursor: &mut Cursor<'_>) {
    let member = local.json_member_for(span);
    // `,"timestamp":` and its digits, `,"duration":` and its; each number is stored as 24
    // bytes ([`store_decimal`]).
    let target = cursor.room(13 + 24 + 12 + 24 + member.map_or(0, <[u8]>::len));
    // SAFETY: each piece is stored at `at`, the length of the pieces before it: at most 13 +
    // 20 + 12 + 20 digits, the last number's 24 stored bytes, and the member, so all within
    // the room. The count advanced covers the pieces written, front to back.
    unsafe {
        let mut at = 0;
        if span.timestamp_us != 0 {
            store(target, *b",\"timestamp\":");
            at = 13 + store_decimal(span.timestamp_us, target.add(13));
        }
        store(target.add(at), *b",\"duration\":");
        at += 12 + store_decimal(wire_duration(span), target.add(at + 12));
        if let Some(member) = member {
            copy_bytes(member, target.add(at));
            at += member.len();
        }
        cursor.advance(at);
    }
    if member.is_none() {
        cursor.with_vec(|out| write_local_endpoint(span, &local.endpoint, out));
    }
}

/// The `kind` member of a span of `kind` (with its leading comma) and its length, padded to
/// the longest so every kind is one store of the same size.
#[inline(always)]
fn kind_member(kind: Kind) -> ([u8; 18], usize) {
    const fn padded(member: &[u8]) -> ([u8; 18], usize) {
        let mut padded = [b' '; 18];
        let mut index = 0;
        while index < member.len() {
            padded[index] = member[index];
            index += 1;
        }
        (padded, member.len())
    }
    const CLIENT: ([u8; 18], usize) = padded(b",\"kind\":\"CLIENT\"");
    const SERVER: ([u8; 18], usize) = padded(b",\"kind\":\"SERVER\"");
    const PRODUCER: ([u8; 18], usize) = padded(b",\"kind\":\"PRODUCER\"");
    const CONSUMER: ([u8; 18], usize) = padded(b",\"kind\":\"CONSUMER\"");
    match kind {
        Kind::Client => CLIENT,
        Kind::Server => SERVER,
        Kind::Producer => PRODUCER,
        Kind::Consumer => CONSUMER,
    }
}

/// Writes the `remoteEndpoint` member, when the endpoint is not empty.
#[cold]
fn write_remote_endpoint(remote: &Endpoint, out: &mut Vec<u8>) {
    if let Some(endpoint) = WireEndpoint::new(remote) {
        out.extend_from_slice(b",\"remoteEndpoint\":");
        write_endpoint(&endpoint, out);
    }
}

/// Writes the `annotations` member. One annotation (the usual case: an event or two per span
/// is rare, and repeats rarer) with plain text and integer or text fields is written through
/// the cursor; others the usual way ([`write_annotations`]). Through the vector, a span's
/// event cost about 470 instructions (callgrind, `report encode-profile zipkin_json`, where
/// one span in eight has one).
#[inline(never)]
fn put_annotations(annotations: &[Annotation], cursor: &mut Cursor<'_>) {
    let start = cursor.len();
    if annotations.len() != 1 || !put_annotation(&annotations[0], cursor) {
        cursor.truncate(start);
        cursor.with_vec(|out| write_annotations(annotations, out));
    }
}

/// Writes the `annotations` member of one annotation, unless its message, a field's key or a
/// text field is not plain ASCII or a field is of another type: then says so, having written
/// part of it.
#[inline(always)]
fn put_annotation(annotation: &Annotation, cursor: &mut Cursor<'_>) -> bool {
    let message = annotation.message.as_bytes();
    // `,"annotations":[{"timestamp":`, the digits (24 bytes stored), `,"value":"`, the message.
    let target = cursor.room(29 + 24 + 10 + message.len());
    // SAFETY: each piece is stored at `at`, the length of the pieces before it: at most 29 +
    // 20 digits, 10 and the message (or 29 and the digits' 24 stored bytes), all within the
    // room. The count is advanced only when the message was plain (all of it written), and
    // then covers the pieces, front to back.
    unsafe {
        store(target, *b",\"annotations\":[{\"timestamp\":");
        let mut at = 29 + store_decimal(annotation.timestamp_us, target.add(29));
        store(target.add(at), *b",\"value\":\"");
        at += 10;
        if copy_plain::<false>(message, target.add(at)) < message.len() {
            return false;
        }
        cursor.advance(at + message.len());
    }
    let mut separate = !message.is_empty();
    for (key, value) in &annotation.fields {
        let key = key.as_bytes();
        let text: &[u8] = match value {
            TagValue::Str(text) => text.as_bytes(),
            TagValue::U64(_) | TagValue::I64(_) => &[],
            _ => return false,
        };
        // ` `, the key, `=`, and the text, or a sign and digits (24 bytes stored).
        let target = cursor.room(1 + key.len() + 1 + text.len() + 1 + 24);
        // SAFETY: the pieces are stored front to back, each at `at`, the length of those
        // before it, within the room (listed above). The count is advanced only when the key
        // and the text were plain, and then covers the pieces written.
        unsafe {
            *target = b' ';
            let mut at = usize::from(separate);
            separate = true;
            if copy_plain::<false>(key, target.add(at)) < key.len() {
                return false;
            }
            at += key.len();
            *target.add(at) = b'=';
            at += 1;
            match value {
                TagValue::U64(number) => at += store_decimal(*number, target.add(at)),
                TagValue::I64(number) => {
                    *target.add(at) = b'-';
                    at += usize::from(*number < 0);
                    at += store_decimal(number.unsigned_abs(), target.add(at));
                }
                _ => {
                    if copy_plain::<false>(text, target.add(at)) < text.len() {
                        return false;
                    }
                    at += text.len();
                }
            }
            cursor.advance(at);
        }
    }
    let target = cursor.room(3);
    // SAFETY: three bytes, within the room.
    unsafe {
        store(target, *b"\"}]");
        cursor.advance(3);
    }
    true
}

/// Writes the `annotations` member, when any annotation is left after removing repeats.
#[cold]
fn write_annotations(annotations: &[Annotation], out: &mut Vec<u8>) {
    let mut opened = false;
    for annotation in live_annotations(annotations) {
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
}

/// Writes the `tags` member, when there are tags, and says whether there were (its closing
/// brace is the caller's).
#[inline(always)]
fn put_tags(tags: &mut LiveTags<'_>, cursor: &mut Cursor<'_>) -> bool {
    // `,"tags":{"` before the first key and `,"` before the others: see `put_tag`.
    let mut separator_len = 10;
    for (key, value) in tags {
        put_tag(separator_len, key, value, cursor);
        separator_len = 2;
    }
    separator_len == 2
}

/// Writes one tag after the first `separator_len` bytes of `,"tags":{"` (all of them before
/// the first tag, `,"` before the others), in one room. Integers and booleans need no
/// escaping: their digits or words are written straight in. Keys and text that are not plain
/// ASCII, and values of the rarer types, are written the usual way instead. Matching the value
/// once, each kind with a room of its own, instead of sizing one room from a first match, and
/// numbers below 10^4 as one lane of four digits ([`store_decimal`]): 1180 → 1106
/// instructions per span (callgrind, `report encode-profile zipkin_json`).
#[inline(always)]
fn put_tag(separator_len: usize, key: &str, value: &TagValue, cursor: &mut Cursor<'_>) {
    let key = key.as_bytes();
    match value {
        TagValue::Str(text) => put_text_tag(separator_len, key, text.as_bytes(), value, cursor),
        TagValue::U64(number) => put_number_tag(separator_len, key, false, *number, value, cursor),
        TagValue::I64(number) => put_number_tag(
            separator_len,
            key,
            *number < 0,
            number.unsigned_abs(),
            value,
            cursor,
        ),
        TagValue::Bool(true) => put_text_tag(separator_len, key, b"true", value, cursor),
        TagValue::Bool(false) => put_text_tag(separator_len, key, b"false", value, cursor),
        _ => write_tag_carefully(separator_len, key, value, cursor),
    }
}

/// Stores the separator, the key and `":"` of a tag at `target`, and says where its value
/// goes; `None` when the key is not plain ASCII.
///
/// # Safety
/// `target` must be valid for `10 + key.len() + 3` writes.
#[inline(always)]
unsafe fn store_tag_key(separator_len: usize, key: &[u8], target: *mut u8) -> Option<usize> {
    // SAFETY: the separator's 10 bytes, then the key after the counted part of the separator
    // (at most 10), then 3 bytes: within what the caller vouched for.
    unsafe {
        store(target, *b",\"tags\":{\"");
        if copy_plain::<false>(key, target.add(separator_len)) < key.len() {
            return None;
        }
        let at = separator_len + key.len();
        store(target.add(at), *b"\":\"");
        Some(at + 3)
    }
}

/// [`put_tag`] for `value` written as `text`.
#[inline(always)]
fn put_text_tag(
    separator_len: usize,
    key: &[u8],
    text: &[u8],
    value: &TagValue,
    cursor: &mut Cursor<'_>,
) {
    let target = cursor.room(10 + key.len() + 3 + text.len() + 1);
    // SAFETY: `store_tag_key` writes within its 13 bytes and the key, the text and its closing
    // quote follow within the room. The count is advanced only when the key and the text were
    // plain (all of them written), and then covers the pieces, front to back.
    unsafe {
        let Some(at) = store_tag_key(separator_len, key, target) else {
            return write_tag_carefully(separator_len, key, value, cursor);
        };
        if copy_plain::<false>(text, target.add(at)) < text.len() {
            return write_tag_carefully(separator_len, key, value, cursor);
        }
        *target.add(at + text.len()) = b'"';
        cursor.advance(at + text.len() + 1);
    }
}

/// [`put_tag`] for `value`, an integer: `-` when `negative`, then `magnitude`.
#[inline(always)]
fn put_number_tag(
    separator_len: usize,
    key: &[u8],
    negative: bool,
    magnitude: u64,
    value: &TagValue,
    cursor: &mut Cursor<'_>,
) {
    // The digits are stored as 24 bytes ([`store_decimal`]); then the closing quote.
    let target = cursor.room(10 + key.len() + 3 + 1 + 24 + 1);
    // SAFETY: `store_tag_key` writes within its 13 bytes and the key; the sign, the 24 bytes of
    // digits and the closing quote follow within the room. The count is advanced only when the
    // key was plain, and then covers the pieces written, front to back.
    unsafe {
        let Some(mut at) = store_tag_key(separator_len, key, target) else {
            return write_tag_carefully(separator_len, key, value, cursor);
        };
        *target.add(at) = b'-';
        at += usize::from(negative);
        at += store_decimal(magnitude, target.add(at));
        *target.add(at) = b'"';
        cursor.advance(at + 1);
    }
}

/// [`put_tag`] for a key or text that needs escaping, or a value of the rarer types.
#[cold]
#[inline(never)]
fn write_tag_carefully(
    separator_len: usize,
    key: &[u8],
    value: &TagValue,
    cursor: &mut Cursor<'_>,
) {
    cursor.with_vec(|out| {
        // The separator without the key's opening quote, which `write_string` writes.
        out.extend_from_slice(&b",\"tags\":{"[..separator_len - 1]);
        // The key came from a `&str`.
        write_string(std::str::from_utf8(key).unwrap_or_default(), out);
        let mut scratch = String::new();
        out.push(b':');
        write_string(tag_text(value, &mut scratch), out);
    });
}

/// Writes an annotation's text ([`Annotation::text`](crate::model::Annotation::text)) as the
/// inside of a JSON string, piece by piece: building the text first cost an allocation and a
/// trip through `fmt` for every annotation with fields (callgrind, `report encode`).
fn write_annotation_text(annotation: &crate::model::Annotation, out: &mut Vec<u8>) {
    write_text(&annotation.message, out);
    let mut separate = !annotation.message.is_empty();
    let mut scratch = String::new();
    for (key, value) in &annotation.fields {
        if separate {
            out.push(b' ');
        }
        separate = true;
        write_text(key, out);
        out.push(b'=');
        match value {
            TagValue::U64(number) => write_u64(*number, out),
            TagValue::I64(number) => {
                if *number < 0 {
                    out.push(b'-');
                }
                write_u64(number.unsigned_abs(), out);
            }
            other => write_text(tag_text(other, &mut scratch), out),
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
#[cfg(any(not(all(target_arch = "x86_64", target_feature = "sse2")), test))]
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
    // SAFETY: `digits` has the 16 bytes `store_hex` writes.
    unsafe { store_hex(value, digits.as_mut_ptr()) };
    out.extend_from_slice(&digits);
}

/// Stores the 16 lower-hex digits of `value` at `target`, as two words.
///
/// # Safety
/// `target` must be valid for 16 writes.
#[inline(always)]
unsafe fn store_hex(value: u64, target: *mut u8) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: the 16 bytes the caller vouched for.
    unsafe {
        sse2::store_hex(value, target);
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    // SAFETY: the two stores write the 16 bytes the caller vouched for.
    unsafe {
        store(target, hex_digits((value >> 32) as u32).to_le_bytes());
        store(target.add(8), hex_digits(value as u32).to_le_bytes());
    }
}

/// Stores `bytes` at `target`, unaligned: one store of a size known when compiled.
///
/// # Safety
/// `target` must be valid for `N` writes.
#[inline(always)]
unsafe fn store<const N: usize>(target: *mut u8, bytes: [u8; N]) {
    // SAFETY: as the caller vouched.
    unsafe { target.cast::<[u8; N]>().write_unaligned(bytes) }
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

/// Writes `value` in decimal.
pub(super) fn write_u64(value: u64, out: &mut Vec<u8>) {
    out.reserve(24);
    let len = out.len();
    // SAFETY: `reserve` left the 24 bytes `store_decimal` may write after `len`, and the
    // length then covers the digits it wrote, front to back.
    unsafe {
        let count = store_decimal(value, out.as_mut_ptr().add(len));
        out.set_len(len + count);
    }
}

/// Stores `value` in decimal at `target` and says how many digits that is: eight digits at a
/// time ([`decimal_digits`]), each group stored as a whole word, the leading group shifted
/// past its leading zeros. Numbers below 10^8 (tag values, durations) take one group, a
/// timestamp of our time (16 digits) two. Up to 24 bytes are stored, of which only the digits
/// count. Dividing by 100 per pair into a scratch array and copying it out cost about 94
/// instructions per number of the sample batch, the word groups 80 with a call and a
/// capacity check each (callgrind, `report encode-profile zipkin_json`).
///
/// # Safety
/// `target` must be valid for 24 writes.
#[inline(always)]
unsafe fn store_decimal(value: u64, target: *mut u8) -> usize {
    const EIGHT_DIGITS: u64 = 100_000_000;
    const ZEROS: u64 = ONES * b'0' as u64;
    // The digit word with its leading zeros shifted out, and how many digits are left. The
    // last digit (the top byte) always stays, so zero is written as `0`.
    let lead = |digits: u64| {
        let leading_zeros = (digits | 1 << 56).trailing_zeros() as usize / 8;
        (digits >> (leading_zeros * 8), 8 - leading_zeros)
    };
    // SAFETY: at most three words of eight bytes are stored, each at the count of digits
    // before it (at most 8 + 8), so within the 24 bytes the caller vouched for.
    unsafe {
        let store_digits =
            |at: usize, digits: u64| store(target.add(at), (digits | ZEROS).to_le_bytes());
        if value < 10_000 {
            // One lane of four digits ([`decimal_digits`]'s second half): most tag values
            // and durations.
            let value = value as u32;
            let hundreds = (value * 5243) >> 19;
            let pairs = (value - hundreds * 100) << 16 | hundreds;
            let tens = ((pairs * 103) >> 10) & 0x000f_000f;
            let digits = (pairs - tens * 10) << 8 | tens;
            let leading_zeros = (digits | 1 << 24).trailing_zeros() as usize / 8;
            store(
                target,
                ((digits >> (leading_zeros * 8)) | ZEROS as u32).to_le_bytes(),
            );
            4 - leading_zeros
        } else if value < EIGHT_DIGITS {
            let (digits, count) = lead(decimal_digits(value as u32));
            store_digits(0, digits);
            count
        } else if (EIGHT_DIGITS * EIGHT_DIGITS / 10..EIGHT_DIGITS * EIGHT_DIGITS).contains(&value) {
            // Sixteen digits: a timestamp in microseconds of the years 2001 to 2286.
            store_sixteen_digits(value, target);
            16
        } else if value < EIGHT_DIGITS * EIGHT_DIGITS {
            let (digits, count) = lead(decimal_digits((value / EIGHT_DIGITS) as u32));
            store_digits(0, digits);
            store_digits(count, decimal_digits((value % EIGHT_DIGITS) as u32));
            count + 8
        } else {
            let high = value / EIGHT_DIGITS;
            let (digits, count) = lead(decimal_digits((high / EIGHT_DIGITS) as u32));
            store_digits(0, digits);
            store_digits(count, decimal_digits((high % EIGHT_DIGITS) as u32));
            store_digits(count + 8, decimal_digits((value % EIGHT_DIGITS) as u32));
            count + 16
        }
    }
}

/// Stores the 16 decimal digits of `value`, at least 10^15 and below 10^16, at `target`.
///
/// # Safety
/// `target` must be valid for 16 writes.
#[inline(always)]
unsafe fn store_sixteen_digits(value: u64, target: *mut u8) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: as the caller vouched.
    unsafe {
        sse2::store_sixteen_digits(value, target);
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    // SAFETY: as the caller vouched.
    unsafe {
        store(target, sixteen_digits_by_words(value));
    }
}

/// The 16 decimal digits of `value` (at least 10^15, below 10^16), eight at a time
/// ([`decimal_digits`]): [`store_sixteen_digits`] on targets without SSE2.
#[cfg(any(not(all(target_arch = "x86_64", target_feature = "sse2")), test))]
#[inline(always)]
fn sixteen_digits_by_words(value: u64) -> [u8; 16] {
    const EIGHT_DIGITS: u64 = 100_000_000;
    const ZEROS: u64 = ONES * b'0' as u64;
    let high = decimal_digits((value / EIGHT_DIGITS) as u32) | ZEROS;
    let low = decimal_digits((value % EIGHT_DIGITS) as u32) | ZEROS;
    let mut digits = [0; 16];
    digits[..8].copy_from_slice(&high.to_le_bytes());
    digits[8..].copy_from_slice(&low.to_le_bytes());
    digits
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
/// stored whole, lower-cased first when `LOWER` ([`lowercase_word`]); the last one overlaps the
/// one before it, and text shorter than a word is read and stored as two overlapping halves, so
/// nothing is read or written outside the text's length.
///
/// # Safety
/// `target` must be valid for `text.len()` writes and not overlap `text`.
#[inline(always)]
unsafe fn copy_plain<const LOWER: bool>(text: &[u8], target: *mut u8) -> usize {
    let count = text.len();
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if count >= 8 {
        // SAFETY: as the caller vouched.
        return unsafe { sse2::copy_plain::<LOWER>(text, target) };
    }
    let source = text.as_ptr();
    let convert = |word: u64| if LOWER { lowercase_word(word) } else { word };
    // SAFETY: every load reads eight (or four, or two) bytes that start at `source + at` with
    // `at + 8 <= count` (or end at `source + count`), and every store writes the same bytes at
    // the same offset of `target`, which the caller made valid for `count` bytes.
    unsafe {
        let load = |at: usize| source.add(at).cast::<u64>().read_unaligned();
        let store = |at: usize, word: u64| target.add(at).cast::<u64>().write_unaligned(word);
        if count < 8 {
            // The text's bytes (some twice), padded with plain `a`s to a whole word, and
            // stored back from the same places.
            if count >= 4 {
                let word = u64::from(source.cast::<u32>().read_unaligned())
                    | u64::from(source.add(count - 4).cast::<u32>().read_unaligned()) << 32;
                if not_plain(word) {
                    return 0;
                }
                let word = convert(word);
                target.cast::<u32>().write_unaligned(word as u32);
                target
                    .add(count - 4)
                    .cast::<u32>()
                    .write_unaligned((word >> 32) as u32);
            } else if count >= 2 {
                let word = u64::from(source.cast::<u16>().read_unaligned())
                    | u64::from(source.add(count - 2).cast::<u16>().read_unaligned()) << 16
                    | 0x6161_6161_0000_0000;
                if not_plain(word) {
                    return 0;
                }
                let word = convert(word);
                target.cast::<u16>().write_unaligned(word as u16);
                target
                    .add(count - 2)
                    .cast::<u16>()
                    .write_unaligned((word >> 16) as u16);
            } else if count == 1 {
                let word = u64::from(*source) | 0x6161_6161_6161_6100;
                if not_plain(word) {
                    return 0;
                }
                *target = convert(word) as u8;
            }
            return count;
        }
        let mut at = 0;
        while at + 8 <= count {
            let word = load(at);
            if not_plain(word) {
                return at;
            }
            store(at, convert(word));
            at += 8;
        }
        if at < count {
            let word = load(count - 8);
            if not_plain(word) {
                return at;
            }
            store(count - 8, convert(word));
        }
        count
    }
}

/// Text checked and copied, and ids turned into hex, 16 bytes at a time with SSE2, which every
/// x86_64 CPU has. Against the word-at-a-time code kept for other targets ([`not_plain`],
/// [`hex_digits`]), the Zipkin JSON encoder went from 1484 to 1180 instructions per span, and
/// with sixteen-digit timestamps done the same way ([`store_sixteen_digits`]) from 1026 to 986
/// (callgrind, `report encode-profile zipkin_json`).
///
/// Why not a JSON library's string writer: serde_json's looks every byte up in an escape
/// table, and a byte-by-byte scan was half of this encoder's instructions before it checked
/// words (see [`write_text_rest`]); nor does one lower-case as it copies.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
        _mm_cvtsi64_si128, _mm_loadl_epi64, _mm_loadu_si128, _mm_movemask_epi8, _mm_mulhi_epu16,
        _mm_mullo_epi16, _mm_or_si128, _mm_set1_epi16, _mm_set1_epi8, _mm_slli_epi16,
        _mm_srli_epi16, _mm_storel_epi64, _mm_storeu_si128, _mm_sub_epi16, _mm_unpacklo_epi16,
        _mm_unpacklo_epi64, _mm_unpacklo_epi8,
    };

    /// Whether any of the 16 bytes is not plain printable ASCII (see [`super::not_plain`]). As
    /// signed bytes, those of 0x80 and up are negative, so one compare finds them and the
    /// control characters together.
    #[inline(always)]
    fn not_plain(chunk: __m128i) -> bool {
        // SAFETY: SSE2 is enabled: this module is only compiled where it is. (These intrinsics are safe to call
        // from Rust 1.87 on; the block is for the 1.85 this crate supports.)
        unsafe {
            let below_space_or_high = _mm_cmplt_epi8(chunk, _mm_set1_epi8(0x20));
            let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(
                below_space_or_high,
                _mm_or_si128(quote, backslash),
            )) != 0
        }
    }

    /// `chunk`, plain ASCII, with its upper-case letters lower-cased when `LOWER`.
    #[inline(always)]
    fn convert<const LOWER: bool>(chunk: __m128i) -> __m128i {
        if !LOWER {
            return chunk;
        }
        // SAFETY: as in `not_plain`.
        unsafe {
            let at_least_a = _mm_cmpgt_epi8(chunk, _mm_set1_epi8(b'A' as i8 - 1));
            let at_most_z = _mm_cmplt_epi8(chunk, _mm_set1_epi8(b'Z' as i8 + 1));
            let upper = _mm_and_si128(at_least_a, at_most_z);
            _mm_or_si128(chunk, _mm_and_si128(upper, _mm_set1_epi8(0x20)))
        }
    }

    /// [`super::copy_plain`] for text of eight bytes or more: 16 bytes at a time, the last
    /// chunk overlapping the one before it, and text under 16 bytes as two overlapping halves.
    ///
    /// # Safety
    /// `text` must be at least 8 bytes long, and `target` valid for `text.len()` writes and
    /// not overlapping `text`.
    #[inline(always)]
    pub(super) unsafe fn copy_plain<const LOWER: bool>(text: &[u8], target: *mut u8) -> usize {
        let count = text.len();
        debug_assert!(count >= 8);
        let source = text.as_ptr();
        // SAFETY: every load reads 16 (or 8) bytes that start at `source + at` with
        // `at + 16 <= count` (or end at `source + count`, which is at least 8 or 16 past the
        // start), and every store writes the same bytes at the same offset of `target`, which
        // the caller made valid for `count` bytes.
        unsafe {
            if count < 16 {
                let first = _mm_loadl_epi64(source.cast());
                let last = _mm_loadl_epi64(source.add(count - 8).cast());
                if not_plain(_mm_unpacklo_epi64(first, last)) {
                    return 0;
                }
                _mm_storel_epi64(target.cast(), convert::<LOWER>(first));
                _mm_storel_epi64(target.add(count - 8).cast(), convert::<LOWER>(last));
                return count;
            }
            let mut at = 0;
            while at + 16 <= count {
                let chunk = _mm_loadu_si128(source.add(at).cast());
                if not_plain(chunk) {
                    return at;
                }
                _mm_storeu_si128(target.add(at).cast(), convert::<LOWER>(chunk));
                at += 16;
            }
            if at < count {
                let chunk = _mm_loadu_si128(source.add(count - 16).cast());
                if not_plain(chunk) {
                    return at;
                }
                _mm_storeu_si128(target.add(count - 16).cast(), convert::<LOWER>(chunk));
            }
            count
        }
    }

    /// Stores the 16 decimal digits of `value` (at least 10^15, below 10^16) at `target`: four
    /// groups of four digits split off by scalar division, then in sixteen-bit lanes each
    /// group into two pairs and each pair into two digits at once: 40 instructions per span
    /// fewer than two words of [`super::decimal_digits`] (1026 → 986, one timestamp per span;
    /// callgrind).
    ///
    /// # Safety
    /// `target` must be valid for 16 writes.
    #[inline(always)]
    pub(super) unsafe fn store_sixteen_digits(value: u64, target: *mut u8) {
        debug_assert!((1_000_000_000_000_000..10_000_000_000_000_000).contains(&value));
        let high = (value / 100_000_000) as u32;
        let low = (value % 100_000_000) as u32;
        let groups = u64::from(high / 10_000)
            | u64::from(high % 10_000) << 16
            | u64::from(low / 10_000) << 32
            | u64::from(low % 10_000) << 48;
        // SAFETY: the store writes the 16 bytes the caller vouched for; the rest is SSE2, which
        // this module is only compiled with.
        unsafe {
            let groups = _mm_cvtsi64_si128(groups as i64);
            // x / 100 is (x * 5243) >> 19 below 43,699; x / 10 is (x * 6554) >> 16 below 100.
            let hundreds = _mm_srli_epi16(_mm_mulhi_epu16(groups, _mm_set1_epi16(5243)), 3);
            let below_hundred =
                _mm_sub_epi16(groups, _mm_mullo_epi16(hundreds, _mm_set1_epi16(100)));
            let pairs = _mm_unpacklo_epi16(hundreds, below_hundred);
            let tens = _mm_mulhi_epu16(pairs, _mm_set1_epi16(6554));
            let ones = _mm_sub_epi16(pairs, _mm_mullo_epi16(tens, _mm_set1_epi16(10)));
            let digits = _mm_or_si128(tens, _mm_slli_epi16(ones, 8));
            _mm_storeu_si128(
                target.cast(),
                _mm_add_epi8(digits, _mm_set1_epi8(b'0' as i8)),
            );
        }
    }

    /// Stores the 16 lower-hex digits of `value` at `target`: the bytes most significant
    /// first, split into high and low nibbles, interleaved, and turned into digits all at once.
    ///
    /// # Safety
    /// `target` must be valid for 16 writes.
    #[inline(always)]
    pub(super) unsafe fn store_hex(value: u64, target: *mut u8) {
        // SAFETY: the store writes the 16 bytes the caller vouched for; the rest is SSE2, which
        // this module is only compiled with.
        unsafe {
            let bytes = _mm_cvtsi64_si128(value.swap_bytes() as i64);
            let low_nibble = _mm_set1_epi8(0x0f);
            let high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibble);
            let low = _mm_and_si128(bytes, low_nibble);
            let nibbles = _mm_unpacklo_epi8(high, low);
            let letters = _mm_and_si128(
                _mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)),
                _mm_set1_epi8((b'a' - b'0' - 10) as i8),
            );
            let digits = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8(b'0' as i8)), letters);
            _mm_storeu_si128(target.cast(), digits);
        }
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

/// Writes `text` lower-cased as a JSON string (Zipkin's span names are lower case), when it is
/// not plain ASCII: plain names are lower-cased a word at a time as they are copied
/// ([`copy_plain`]; lower-casing into a new string first was 8% of this encoder's
/// instructions, callgrind). Escapes hold only lower-case letters, so ASCII text can be
/// lower-cased after it is written.
#[cold]
fn write_lowercase_string(text: &str, out: &mut Vec<u8>) {
    if text.is_ascii() {
        let start = out.len();
        write_string(text, out);
        ascii_lowercase_in_place(&mut out[start..]);
    } else {
        write_string(&text.to_lowercase(), out);
    }
}

/// `word` with its ASCII upper-case letters lower-cased, eight at a time (`make_ascii_lowercase`
/// goes byte by byte, which cost more than the copy it saved). For each byte below 0x80,
/// `+ (0x80 - b'A')` sets its high bit when it is at least `A`, `+ (0x7f - b'Z')` when it is
/// above `Z`; no byte carries into the next, as each is below 0x80 before the addition.
#[inline(always)]
fn lowercase_word(word: u64) -> u64 {
    let low = word & !HIGH;
    let at_least_a = low + ONES * u64::from(0x80 - b'A');
    let above_z = low + ONES * u64::from(0x7f - b'Z');
    let upper = at_least_a & !above_z & !word & HIGH;
    word | (upper >> 2)
}

/// Lower-cases the ASCII letters of `bytes` ([`lowercase_word`] for whole words).
fn ascii_lowercase_in_place(bytes: &mut [u8]) {
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let Ok(array) = <&mut [u8; 8]>::try_from(chunk) else {
            continue;
        };
        *array = lowercase_word(u64::from_le_bytes(*array)).to_le_bytes();
    }
    chunks.into_remainder().make_ascii_lowercase();
}

/// Writes `text` as a JSON string. Quote, backslash and every control character are escaped
/// (RFC 8259 §7); U+2028 and U+2029 too, so the output is also valid JavaScript. Everything
/// else is copied as UTF-8, which a `&str` always is.
pub(super) fn write_string(text: &str, out: &mut Vec<u8>) {
    put_string(text, &mut Cursor::new(out));
}

/// [`write_string`] through a cursor.
#[inline(always)]
fn put_string(text: &str, cursor: &mut Cursor<'_>) {
    if let Err(plain) = put_plain_string(text, cursor) {
        cursor.with_vec(|out| write_string_rest(text.as_bytes(), plain, out));
    }
}

/// Writes `text` as a JSON string if it is plain ASCII (nearly all text): copied a word at a
/// time ([`copy_plain`]) after one check of the room for all of it. Otherwise writes its
/// opening quote and plain start, and says how long that start is. (Never lower-cases: the
/// rest of a text that is not plain is copied as it is.)
#[inline(always)]
fn put_plain_string(text: &str, cursor: &mut Cursor<'_>) -> Result<(), usize> {
    let bytes = text.as_bytes();
    let count = bytes.len();
    let target = cursor.room(count + 2);
    // SAFETY: the room holds the quotes and the text. `copy_plain` writes the first `plain`
    // bytes of the text right after the opening quote, so the count advanced covers the quote
    // and them, and the closing quote when the whole text was plain.
    unsafe {
        *target = b'"';
        let plain = copy_plain::<false>(bytes, target.add(1));
        if plain == count {
            *target.add(1 + count) = b'"';
            cursor.advance(count + 2);
            Ok(())
        } else {
            cursor.advance(1 + plain);
            Err(plain)
        }
    }
}

/// The rest of a JSON string whose first `plain` bytes are written already: its escaped remainder
/// ([`write_text_rest`]) and the closing quote.
#[cold]
fn write_string_rest(text: &[u8], plain: usize, out: &mut Vec<u8>) {
    write_text_rest(text, plain, out);
    out.push(b'"');
}

/// Writes `text` escaped as JSON, without quotes (an annotation's text, piece by piece).
fn write_text(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let cursor = &mut Cursor::new(out);
    let target = cursor.room(bytes.len());
    // SAFETY: the room holds the text, and `copy_plain` writes the first `plain` bytes of it.
    let plain = unsafe {
        let plain = copy_plain::<false>(bytes, target);
        cursor.advance(plain);
        plain
    };
    if plain < bytes.len() {
        cursor.with_vec(|out| write_text_rest(bytes, plain, out));
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
                // The word-at-a-time digits of other targets, too.
                let words = [
                    super::hex_digits((value >> 32) as u32).to_le_bytes(),
                    super::hex_digits(value as u32).to_le_bytes(),
                ]
                .concat();
                assert_eq!(words, hex);
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
            // The sixteen digits of other targets, too.
            if value.to_string().len() == 16 {
                assert_eq!(sixteen_digits_by_words(value), value.to_string().as_bytes());
            }
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
                0..=2 => TagValue::Str(self.text().into()),
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

    /// Span and service names are lower-cased as they are copied (a word at a time, and 16 bytes
    /// at a time with SSE2): every length to 40, with an upper-case letter, a byte JSON escapes,
    /// or a non-ASCII letter at every position, must come out as `to_lowercase` says.
    #[test]
    fn names_of_every_length_are_lower_cased_exactly() {
        for length in 0..40 {
            let plain: String = (0..length)
                .map(|index| (b'a' + (index % 26) as u8) as char)
                .collect();
            let mut names = vec![plain.clone(), plain.to_uppercase()];
            for position in 0..length {
                for special in ["Q", "\"", "\\", "\n", "É", "ǅ", "\u{2028}", "\u{7f}"] {
                    let mut name = plain.clone();
                    name.replace_range(position..position + 1, special);
                    names.push(name);
                }
            }
            for name in names {
                let span = SpanRecord {
                    trace_id: TraceId(1),
                    id: SpanId(2),
                    parent_id: None,
                    name: Cow::Owned(name.clone()),
                    kind: None,
                    timestamp_us: 1,
                    duration_us: 1,
                    service_name: Some(Arc::from(name.as_str())),
                    remote_endpoint: None,
                    local_port: None,
                    tags: Tags::default(),
                    annotations: Vec::new(),
                    ..SpanRecord::default()
                };
                let mut out = Vec::new();
                encode_json(&[span], &Endpoint::service("local"), &mut out);
                let decoded: Value = serde_json::from_slice(&out)
                    .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&out)));
                if name.is_empty() {
                    // An empty name is left out (the generated test holds empty service names
                    // to the reference).
                    assert_eq!(decoded[0]["name"], Value::Null);
                    continue;
                }
                let lower = name.to_lowercase();
                assert_eq!(decoded[0]["name"], Value::from(lower.as_str()), "{name:?}");
                assert_eq!(
                    decoded[0]["localEndpoint"]["serviceName"],
                    Value::from(lower.as_str()),
                    "{name:?}"
                );
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
