//! B3 propagation, single header (`b3`) and multiple headers (`X-B3-*`), as
//! <https://github.com/openzipkin/b3-propagation> defines them.

use super::carrier::read;
use super::carrier::{Carrier, CarrierMut};
use crate::model::{Remote, Sampling, SpanContext, SpanId, TraceId};

/// The single header.
pub(crate) const B3: &str = "b3";
/// The multi-header names, lower-case as the carriers expect.
pub(crate) const TRACE_ID: &str = "x-b3-traceid";
pub(crate) const SPAN_ID: &str = "x-b3-spanid";
pub(crate) const PARENT_SPAN_ID: &str = "x-b3-parentspanid";
pub(crate) const SAMPLED: &str = "x-b3-sampled";
pub(crate) const FLAGS: &str = "x-b3-flags";

/// Parses lower-case hex of 1 to 32 digits; B3 and W3C both forbid upper case.
pub(crate) fn lower_hex(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    let mut value: u128 = 0;
    for byte in text.bytes() {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// A trace id of exactly 16 or 32 lower-hex characters, not all zero.
pub(crate) fn parse_trace_id(text: &str) -> Option<TraceId> {
    if text.len() != 16 && text.len() != 32 {
        return None;
    }
    lower_hex(text).filter(|id| *id != 0).map(TraceId)
}

/// A span id of exactly 16 lower-hex characters, not all zero.
pub(crate) fn parse_span_id(text: &str) -> Option<SpanId> {
    if text.len() != 16 {
        return None;
    }
    lower_hex(text)
        .filter(|id| *id != 0)
        .map(|id| SpanId(id as u64))
}

/// `b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`, or a lone sampling state.
pub(crate) fn parse_single(value: &str) -> Option<Remote> {
    let value = value.trim_matches([' ', '\t']);
    if value.len() == 1 {
        return single_sampling(value).map(Remote::DecisionOnly);
    }
    let mut fields = value.split('-');
    let trace_id = parse_trace_id(fields.next()?)?;
    let span_id = parse_span_id(fields.next()?)?;
    let sampling = match fields.next() {
        Some(field) => single_sampling(field)?,
        None => Sampling::Defer,
    };
    let parent_id = match fields.next() {
        Some(field) => Some(parse_span_id(field)?),
        None => None,
    };
    if fields.next().is_some() {
        return None;
    }
    Some(Remote::Context(SpanContext {
        trace_id,
        span_id,
        parent_id,
        sampling,
    }))
}

fn single_sampling(field: &str) -> Option<Sampling> {
    match field {
        "0" => Some(Sampling::Deny),
        "1" => Some(Sampling::Accept),
        "d" => Some(Sampling::Debug),
        _ => None,
    }
}

/// The `X-B3-*` headers. Any malformed header present makes the whole set invalid.
pub(crate) fn extract_multi<C: Carrier + ?Sized>(carrier: &C) -> Option<Remote> {
    let trace_id = read(carrier, TRACE_ID);
    let span_id = read(carrier, SPAN_ID);
    let sampled = read(carrier, SAMPLED);
    // Only `1` means debug; Brave and the B3 spec ignore any other flags value.
    let debug = read(carrier, FLAGS).is_some_and(|flags| flags.trim_matches([' ', '\t']) == "1");
    let sampling = match sampled {
        Some(text) => multi_sampling(text.trim_matches([' ', '\t']))?,
        None => Sampling::Defer,
    };
    // Debug implies sampled, whatever X-B3-Sampled said.
    let sampling = if debug { Sampling::Debug } else { sampling };
    match (trace_id, span_id) {
        (None, None) => match sampling {
            Sampling::Defer => None,
            decided => Some(Remote::DecisionOnly(decided)),
        },
        (Some(trace_id), Some(span_id)) => {
            let parent_id = match read(carrier, PARENT_SPAN_ID) {
                Some(text) => Some(parse_span_id(text.trim_matches([' ', '\t']))?),
                None => None,
            };
            Some(Remote::Context(SpanContext {
                trace_id: parse_trace_id(trace_id.trim_matches([' ', '\t']))?,
                span_id: parse_span_id(span_id.trim_matches([' ', '\t']))?,
                parent_id,
                sampling,
            }))
        }
        // Half a context is no context: the request starts a new trace.
        _ => None,
    }
}

/// `X-B3-Sampled`: `1`/`0`, the legacy `true`/`false` the spec asks receivers to accept, and
/// `d`, which some senders copy from the single-header form.
fn multi_sampling(text: &str) -> Option<Sampling> {
    match text {
        "1" => Some(Sampling::Accept),
        "0" => Some(Sampling::Deny),
        "d" => Some(Sampling::Debug),
        _ if text.eq_ignore_ascii_case("true") => Some(Sampling::Accept),
        _ if text.eq_ignore_ascii_case("false") => Some(Sampling::Deny),
        _ => None,
    }
}

/// The `b3` value for `context`; the parent only goes along when there is a decision, since
/// the format puts it after the sampling state.
pub(crate) fn single_value(context: &SpanContext) -> String {
    let mut out = String::with_capacity(68);
    context.trace_id.write_hex(&mut out);
    out.push('-');
    context.span_id.write_hex(&mut out);
    let flag = match context.sampling {
        Sampling::Defer => return out,
        Sampling::Deny => '0',
        Sampling::Accept => '1',
        Sampling::Debug => 'd',
    };
    out.push('-');
    out.push(flag);
    if let Some(parent) = context.parent_id.filter(|parent| parent.0 != 0) {
        out.push('-');
        parent.write_hex(&mut out);
    }
    out
}

pub(crate) fn inject_single<C: CarrierMut + ?Sized>(context: &SpanContext, carrier: &mut C) {
    carrier.set(B3, single_value(context));
}

pub(crate) fn inject_multi<C: CarrierMut + ?Sized>(context: &SpanContext, carrier: &mut C) {
    // A forwarded request may still hold the previous hop's optional headers.
    for name in [PARENT_SPAN_ID, SAMPLED, FLAGS] {
        carrier.remove(name);
    }
    let mut text = String::with_capacity(32);
    context.trace_id.write_hex(&mut text);
    carrier.set(TRACE_ID, text);
    let mut text = String::with_capacity(16);
    context.span_id.write_hex(&mut text);
    carrier.set(SPAN_ID, text);
    if let Some(parent) = context.parent_id.filter(|parent| parent.0 != 0) {
        let mut text = String::with_capacity(16);
        parent.write_hex(&mut text);
        carrier.set(PARENT_SPAN_ID, text);
    }
    match context.sampling {
        Sampling::Defer => {}
        Sampling::Deny => carrier.set(SAMPLED, "0".to_owned()),
        Sampling::Accept => carrier.set(SAMPLED, "1".to_owned()),
        // The spec: debug implies an accept decision, so X-B3-Sampled is not sent with it.
        Sampling::Debug => carrier.set(FLAGS, "1".to_owned()),
    }
}
