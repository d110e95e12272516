//! W3C Trace Context: `traceparent` and `tracestate`, as <https://www.w3.org/TR/trace-context/>
//! defines them.

use std::fmt;

use super::b3::lower_hex;
use super::carrier::read;
use super::carrier::{Carrier, CarrierMut};
use super::MAX_HEADER_LEN;
use crate::model::{Sampling, SpanContext, SpanId, TraceId};

pub(crate) const TRACEPARENT: &str = "traceparent";
pub(crate) const TRACESTATE: &str = "tracestate";

/// The length of a version-00 `traceparent`, and the prefix every later version shares.
const V00_LEN: usize = 55;
/// The most list members a `tracestate` holds.
pub const MAX_TRACE_STATE_MEMBERS: usize = 32;

/// Parses `traceparent`: version 00 exactly; a later version leniently (its first four fields
/// as in 00, then anything after a `-`), as the spec asks; version `ff` never.
pub(crate) fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let value = value.trim_matches([' ', '\t']);
    let bytes = value.as_bytes();
    // Non-ASCII text (possible from string-map carriers) could put a slice index inside a
    // character; no valid header has any.
    if bytes.len() < V00_LEN || !bytes[..V00_LEN].is_ascii() || !value.is_char_boundary(V00_LEN) {
        return None;
    }
    let version = hex_field(&value[0..2])?;
    if version == 0xff || version == 0 && bytes.len() != V00_LEN {
        return None;
    }
    if bytes.len() > V00_LEN && bytes[V00_LEN] != b'-' {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = lower_hex(&value[3..35]).filter(|id| *id != 0)?;
    let span_id = lower_hex(&value[36..52]).filter(|id| *id != 0)?;
    let flags = hex_field(&value[53..55])?;
    Some(SpanContext {
        trace_id: TraceId(trace_id),
        span_id: SpanId(span_id as u64),
        parent_id: None,
        // W3C has no "defer": an unset sampled flag means the caller did not record.
        sampling: if flags & 1 == 1 {
            Sampling::Accept
        } else {
            Sampling::Deny
        },
    })
}

fn hex_field(text: &str) -> Option<u8> {
    if text.len() != 2 {
        return None;
    }
    lower_hex(text).map(|value| value as u8)
}

/// The `traceparent` value for `context`: always 32 hex digits of trace id (a 64-bit id is
/// zero-padded), and the sampled flag set for accept and debug, which W3C cannot tell apart.
pub(crate) fn traceparent_value(context: &SpanContext) -> String {
    let mut out = String::with_capacity(V00_LEN);
    out.push_str("00-");
    out.push_str(&format!("{:032x}", context.trace_id.0));
    out.push('-');
    context.span_id.write_hex(&mut out);
    out.push_str(if context.sampling.is_sampled() {
        "-01"
    } else {
        "-00"
    });
    out
}

pub(crate) fn inject<C: CarrierMut + ?Sized>(
    context: &SpanContext,
    trace_state: Option<&TraceState>,
    carrier: &mut C,
) {
    carrier.set(TRACEPARENT, traceparent_value(context));
    match trace_state.filter(|state| !state.is_empty()) {
        Some(state) => carrier.set(TRACESTATE, state.header()),
        // Another trace's vendor data must not ride along with ours.
        None => carrier.remove(TRACESTATE),
    }
}

pub(crate) fn extract_trace_state<C: Carrier + ?Sized>(carrier: &C) -> Option<TraceState> {
    let values = carrier.get_all(TRACESTATE);
    let total: usize = values.iter().map(|value| value.len() + 1).sum();
    if values.is_empty() || total > MAX_HEADER_LEN {
        return None;
    }
    let state = TraceState::parse_all(values);
    (!state.is_empty()).then_some(state)
}

/// Whether a `traceparent` is present at all (parsing `tracestate` only makes sense with one).
pub(crate) fn extract_traceparent<C: Carrier + ?Sized>(carrier: &C) -> Option<SpanContext> {
    read(carrier, TRACEPARENT).and_then(parse_traceparent)
}

/// The vendor data a W3C caller sent in `tracestate`: its valid list members, in order, at
/// most 32. Invalid members and repeated keys are dropped rather than failing the whole header,
/// so one bad vendor does not erase the others.
///
/// ```
/// use traced::propagation::TraceState;
///
/// let state = TraceState::parse("rojo=00f067aa0ba902b7, Bad Key=1 ,congo=t61rcWkgMzE");
/// assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
/// assert_eq!(state.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

impl TraceState {
    /// Parses one `tracestate` header value.
    pub fn parse(value: &str) -> TraceState {
        TraceState::parse_all([value])
    }

    /// Parses repeated `tracestate` headers, which the spec says to combine in order.
    pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> TraceState {
        let mut members: Vec<(String, String)> = Vec::new();
        for member in values.into_iter().flat_map(|value| value.split(',')) {
            if members.len() == MAX_TRACE_STATE_MEMBERS {
                break;
            }
            let member = member.trim_matches([' ', '\t']);
            let Some((key, value)) = member.split_once('=') else {
                continue;
            };
            if !valid_key(key) || !valid_value(value) {
                continue;
            }
            if members.iter().any(|(known, _)| known == key) {
                continue;
            }
            members.push((key.to_owned(), value.to_owned()));
        }
        TraceState { members }
    }

    /// The value of `key`, if a member has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(known, _)| known == key)
            .map(|(_, value)| value.as_str())
    }

    /// The members in order, as `(key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The header value: members joined by `,`.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (index, (key, value)) in self.members.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push('=');
            out.push_str(value);
        }
        out
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

/// `simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" / "-"/ "*" / "/")`, or
/// `tenant-id "@" system-id` with a 1–241 character tenant (starting with a letter or digit)
/// and a 1–14 character system starting with a letter.
fn valid_key(key: &str) -> bool {
    fn rest_char(byte: u8) -> bool {
        matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
    }
    match key.split_once('@') {
        None => {
            let bytes = key.as_bytes();
            (1..=256).contains(&bytes.len())
                && bytes[0].is_ascii_lowercase()
                && bytes[1..].iter().all(|byte| rest_char(*byte))
        }
        Some((tenant, system)) => {
            let (tenant, system) = (tenant.as_bytes(), system.as_bytes());
            (1..=241).contains(&tenant.len())
                && (tenant[0].is_ascii_lowercase() || tenant[0].is_ascii_digit())
                && tenant[1..].iter().all(|byte| rest_char(*byte))
                && (1..=14).contains(&system.len())
                && system[0].is_ascii_lowercase()
                && system[1..].iter().all(|byte| rest_char(*byte))
        }
    }
}

/// `value = 0*255(chr) nblk-chr`: 1–256 printable ASCII characters other than `,` and `=`,
/// not ending in a space.
fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=256).contains(&bytes.len())
        && bytes
            .iter()
            .all(|byte| matches!(byte, 0x20..=0x7e) && *byte != b',' && *byte != b'=')
        && bytes[bytes.len() - 1] != b' '
}
