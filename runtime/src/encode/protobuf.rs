//! The few protobuf wire-format primitives our hand-written encoders need (Zipkin's
//! `ListOfSpans` and OTLP's `ExportTraceServiceRequest`): varints, fixed-width numbers and
//! length-delimited fields.

/// Wire type of varint fields (integers, booleans, enums).
pub(super) const VARINT: u8 = 0;
/// Wire type of 8-byte fields (`fixed64`, `double`).
pub(super) const FIXED64: u8 = 1;
/// Wire type of length-delimited fields (bytes, strings, messages).
pub(super) const LEN: u8 = 2;
/// Wire type of 4-byte fields (`fixed32`).
pub(super) const FIXED32: u8 = 5;

/// Writes a field's key.
pub(super) fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field << 3 | u32::from(wire_type)));
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
    put_key(out, field, LEN);
    out.push(0);
    let start = out.len();
    write(out);
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
        return;
    }
    let mut prefix = [0u8; 10];
    let mut used = 0;
    let mut rest = len as u64;
    while rest >= 0x80 {
        prefix[used] = rest as u8 | 0x80;
        rest >>= 7;
        used += 1;
    }
    prefix[used] = rest as u8;
    used += 1;
    out.splice(start - 1..start, prefix[..used].iter().copied());
}

/// Writes a `fixed64` (or, with `f64::to_bits`, a `double`) field.
pub(super) fn put_fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes a `fixed32` field.
pub(super) fn put_fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    put_key(out, field, FIXED32);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes a varint field.
pub(super) fn put_varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, VARINT);
    put_varint(out, value);
}
