//! The few protobuf wire-format primitives our hand-written encoders need (Zipkin's
//! `ListOfSpans` and OTLP's `ExportTraceServiceRequest`): varints, fixed-width numbers and
//! length-delimited fields.

/// Wire type of varint fields (integers, booleans, enums).
pub(super) const VARINT: u8 = 0;
/// Wire type of 8-byte fields (`fixed64`, `double`).
pub(super) const FIXED64: u8 = 1;
/// Wire type of length-delimited fields (bytes, strings, messages).
pub(super) const LEN: u8 = 2;

/// Writes a field's key.
#[inline]
pub(super) fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    let key = field << 3 | u32::from(wire_type);
    match u8::try_from(key) {
        Ok(key) if key < 0x80 => out.push(key),
        _ => put_varint(out, u64::from(key)),
    }
}

/// Writes a base-128 varint.
pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes a length-delimited field.
pub(super) fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Writes a length-delimited field whose body `write` appends. The body is written in place
/// after a one-byte length, patched afterwards: nearly every message here is shorter than 128
/// bytes, so this avoids a sizing pass; a longer one moves its body to make room.
pub(super) fn nested(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    nested_expecting(out, field, 0, write);
}

/// [`nested`], for a body expected to be about `expected` bytes long: the length's room is
/// made before the body for a length that long, which moves the body only when the guess was
/// wrong by a varint byte. A server span with eleven attributes passes 128 bytes, a batch of
/// spans 16 KiB; moving them cost 200 instructions per server span and two copies of every
/// batch (callgrind, `report encode`).
#[inline(always)]
pub(super) fn nested_expecting(
    out: &mut Vec<u8>,
    field: u32,
    expected: usize,
    write: impl FnOnce(&mut Vec<u8>),
) {
    let room = varint_len(expected as u64);
    match (u8::try_from(field << 3 | u32::from(LEN)), room) {
        (Ok(key @ 0..0x80), 1) => out.extend_from_slice(&[key, 0]),
        (Ok(key @ 0..0x80), 2) => out.extend_from_slice(&[key, 0, 0]),
        _ => {
            put_key(out, field, LEN);
            out.resize(out.len() + room, 0);
        }
    }
    let start = out.len();
    write(out);
    let len = out.len() - start;
    if varint_len(len as u64) != room {
        return refit_length(out, start, room);
    }
    match room {
        1 => out[start - 1] = len as u8,
        2 => out[start - 2..start].copy_from_slice(&[len as u8 | 0x80, (len >> 7) as u8]),
        _ => {
            let mut rest = len;
            for byte in &mut out[start - room..start - 1] {
                *byte = rest as u8 | 0x80;
                rest >>= 7;
            }
            out[start - 1] = rest as u8;
        }
    }
}

/// The body from `start` to the end of `out` got a length room of `room` bytes that its length
/// does not fit: moves the body to make the room fit (the only copy of the body made), then
/// writes the length.
#[cold]
fn refit_length(out: &mut Vec<u8>, start: usize, room: usize) {
    let len = out.len() - start;
    let used = varint_len(len as u64);
    if used > room {
        out.resize(start + len + used - room, 0);
        out.copy_within(start..start + len, start + used - room);
    } else {
        out.copy_within(start..start + len, start - (room - used));
        out.truncate(start + len - (room - used));
    }
    let mut rest = len;
    for byte in &mut out[start - room..start - room + used - 1] {
        *byte = rest as u8 | 0x80;
        rest >>= 7;
    }
    out[start - room + used - 1] = rest as u8;
}

/// The bytes of a varint of `value`: 1 for 0–127, one more for every further 7 bits.
#[inline(always)]
pub(super) fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes a `fixed64` (or, with `f64::to_bits`, a `double`) field.
pub(super) fn put_fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes a varint field.
pub(super) fn put_varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, VARINT);
    put_varint(out, value);
}
