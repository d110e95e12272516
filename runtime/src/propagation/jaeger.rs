//! Jaeger's `uber-trace-id` header, `{trace-id}:{span-id}:{parent-span-id}:{flags}`, as Jaeger's
//! client-library documentation ("Propagation Format") defines it and jaeger-client (the
//! OpenTracing tracer of the Jaeger tutorials) and OpenTelemetry's Jaeger propagator write it.
//!
//! Reading is as lenient as jaeger-client's own: ids are hex of 1 to 32 (trace) or 16 (span,
//! parent) digits in either case, a shorter one left-padded with zeros; the parent id is
//! informational (`0` for none); the flags are a bitmap in hex, `1` sampled and `2` debug
//! (debug implies sampled; no bit means "not sampled", a decision); the whole value may be
//! URL-encoded (`%3A` for `:`). Anything else (a missing or extra field, a zero trace or span
//! id, a non-hex digit, a sign, flags wider than a byte) is no context.
//!
//! Writing uses full-width lower-hex ids (16 or 32 characters, as B3 does), parent `0` as
//! current Jaeger clients and OpenTelemetry do, and the flags in hex. Jaeger has no
//! "undecided" state, so a context without a sampling decision is not written in this format:
//! injection never invents a decision.
//!
//! Baggage travels in one `uberctx-{key}` header per entry, its value URL-encoded, as
//! jaeger-client writes and reads it. Reading takes every header with the prefix (in any case)
//! and lower-cases the key, since header names have no case (jaeger-client does the same); a
//! value whose `%` escape is broken, or that is not UTF-8 once decoded, gives no entry, and the
//! other entries are kept. Writing escapes every value byte but RFC 3986's unreserved ones
//! (letters, digits, `-._~`), so any text arrives as it left. Both directions keep to the W3C
//! limits the rest of the crate uses: at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes
//! of keys and values in all; entries past them are left out whole. Jaeger has no entry
//! properties: W3C properties are not written here. jaeger-client's `jaeger-baggage` header (ad
//! hoc baggage for debugging, `k=v, k=v`) is not read.

use super::carrier::{read, starts_with_ignore_case, Carrier, CarrierMut};
use crate::baggage::{Baggage, MAX_BYTES, MAX_ENTRIES};
use crate::model::{Remote, Sampling, SpanContext, SpanId, TraceId};

/// The header.
pub(crate) const UBER_TRACE_ID: &str = "uber-trace-id";

/// The prefix of a baggage header's name; the rest is the key.
pub(crate) const BAGGAGE_PREFIX: &str = "uberctx-";

/// The flag bits jaeger-client defines that matter for propagation.
const SAMPLED: u8 = 0x01;
const DEBUG: u8 = 0x02;

/// The width of a trace id, a span id and the flags, in hex digits.
const TRACE_DIGITS: usize = 32;
const SPAN_DIGITS: usize = 16;
const FLAG_DIGITS: usize = 2;

/// Hex of 1 to `max` digits, either case, no sign.
fn hex(text: &str, max: usize) -> Option<u128> {
    if text.is_empty() || text.len() > max || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// Parses an `uber-trace-id` value.
pub(crate) fn parse(value: &str) -> Option<SpanContext> {
    let value = value.trim_matches([' ', '\t']);
    let decoded;
    let value = if value.contains('%') {
        decoded = crate::percent::decode(value)?;
        decoded.as_str()
    } else {
        value
    };
    let mut fields = value.split(':');
    let trace_id = hex(fields.next()?, TRACE_DIGITS).filter(|id| *id != 0)?;
    let span_id = hex(fields.next()?, SPAN_DIGITS).filter(|id| *id != 0)?;
    let parent_id = hex(fields.next()?, SPAN_DIGITS)?;
    let flags = hex(fields.next()?, FLAG_DIGITS)? as u8;
    if fields.next().is_some() {
        return None;
    }
    let sampling = if flags & DEBUG != 0 {
        Sampling::Debug
    } else if flags & SAMPLED != 0 {
        Sampling::Accept
    } else {
        Sampling::Deny
    };
    Some(SpanContext {
        trace_id: TraceId(trace_id),
        span_id: SpanId(span_id as u64),
        parent_id: (parent_id != 0).then_some(SpanId(parent_id as u64)),
        sampling,
    })
}

pub(crate) fn extract<C: Carrier + ?Sized>(carrier: &C) -> Option<Remote> {
    read(carrier, UBER_TRACE_ID)
        .and_then(parse)
        .map(Remote::Context)
}

/// The `uber-trace-id` value for `context`, or `None` when it carries no decision.
pub(crate) fn value(context: &SpanContext) -> Option<String> {
    let flags = match context.sampling {
        Sampling::Defer => return None,
        Sampling::Deny => "0",
        Sampling::Accept => "1",
        Sampling::Debug => "3",
    };
    let mut out = String::with_capacity(TRACE_DIGITS + SPAN_DIGITS + 5);
    context.trace_id.write_hex(&mut out);
    out.push(':');
    context.span_id.write_hex(&mut out);
    out.push_str(":0:");
    out.push_str(flags);
    Some(out)
}

pub(crate) fn inject<C: CarrierMut + ?Sized>(context: &SpanContext, carrier: &mut C) {
    match value(context) {
        Some(value) => carrier.set(UBER_TRACE_ID, value),
        // A forwarded request may still hold the previous hop's header.
        None => carrier.remove(UBER_TRACE_ID),
    }
}

/// The baggage of every `uberctx-{key}` header of `carrier` (see the module docs).
pub(crate) fn extract_baggage<C: Carrier + ?Sized>(carrier: &C) -> Baggage {
    let mut baggage = Baggage::new();
    // Most requests carry no Jaeger baggage: then their header names are not listed at all.
    if !carrier.has_name_starting_with(BAGGAGE_PREFIX) {
        return baggage;
    }
    let mut bytes = 0;
    for name in carrier.keys() {
        let Some(key) = name
            .get(BAGGAGE_PREFIX.len()..)
            .filter(|_| starts_with_ignore_case(name, BAGGAGE_PREFIX))
        else {
            continue;
        };
        let Some(value) = carrier.get(name).filter(|value| value.len() <= MAX_BYTES) else {
            continue;
        };
        let Some(value) = crate::percent::decode(value.trim_matches([' ', '\t'])) else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        let size = key.len() + 1 + value.len();
        if bytes + size > MAX_BYTES || baggage.len() >= MAX_ENTRIES {
            continue;
        }
        if baggage.insert(key, value) {
            bytes += size;
        }
    }
    baggage
}

/// RFC 3986's unreserved bytes: what a URL-encoded value keeps as it is.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Writes one `uberctx-{key}` header per entry of `baggage`, within the limits.
pub(crate) fn inject_baggage<C: CarrierMut + ?Sized>(baggage: &Baggage, carrier: &mut C) {
    let mut bytes = 0;
    let mut name = String::new();
    for (key, value) in baggage.iter().take(MAX_ENTRIES) {
        let mut encoded = String::with_capacity(value.len());
        crate::percent::encode_into(value, is_unreserved, &mut encoded);
        let size = key.len() + 1 + encoded.len();
        if bytes + size > MAX_BYTES {
            continue;
        }
        bytes += size;
        name.clear();
        name.push_str(BAGGAGE_PREFIX);
        name.push_str(&key.to_ascii_lowercase());
        carrier.set(&name, encoded);
    }
}
