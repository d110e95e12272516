//! The formats: their names, their headers, and reading and writing one of them.

use std::fmt;
use std::str::FromStr;

use super::carrier::{Carrier, CarrierMut};
use super::w3c::TraceState;
use super::{b3, jaeger, w3c};
use crate::model::{Remote, SpanContext};

/// A propagation format, named as `OTEL_PROPAGATORS` names it.
///
/// ```
/// use traced::propagation::Format;
/// assert_eq!("b3multi".parse::<Format>().unwrap(), Format::B3Multi);
/// assert_eq!(Format::TraceContext.to_string(), "tracecontext");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Format {
    /// B3 single header: `b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}` (`b3`).
    B3Single,
    /// B3 multiple headers: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`,
    /// `X-B3-Sampled`, `X-B3-Flags` (`b3multi`).
    B3Multi,
    /// W3C Trace Context: `traceparent` and `tracestate` (`tracecontext`).
    TraceContext,
    /// Jaeger: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` (`jaeger`).
    /// Read leniently (ids of any length up to their width, either case, URL-encoded values);
    /// written with full-width lower-hex ids, parent `0` and the flags in hex. Jaeger has no
    /// "undecided" state, so a context without a sampling decision is not written in this
    /// format. Its baggage headers (`uberctx-{key}`) are read and written by a
    /// [`Propagator`](super::Propagator) that has this format, not by [`Format::extract`] and
    /// [`Format::inject`], which carry the context alone.
    Jaeger,
}

impl Format {
    /// Every format, in the default extraction order.
    pub const ALL: [Format; 4] = [
        Format::B3Single,
        Format::B3Multi,
        Format::TraceContext,
        Format::Jaeger,
    ];

    /// The `OTEL_PROPAGATORS` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::B3Single => "b3",
            Format::B3Multi => "b3multi",
            Format::TraceContext => "tracecontext",
            Format::Jaeger => "jaeger",
        }
    }

    /// The header names this format reads and writes, lower-case.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Format::B3Single => &[b3::B3],
            Format::B3Multi => &[
                b3::TRACE_ID,
                b3::SPAN_ID,
                b3::PARENT_SPAN_ID,
                b3::SAMPLED,
                b3::FLAGS,
            ],
            Format::TraceContext => &[w3c::TRACEPARENT, w3c::TRACESTATE],
            Format::Jaeger => &[jaeger::UBER_TRACE_ID],
        }
    }

    /// Reads this format alone from `carrier`.
    ///
    /// ```
    /// use traced::model::{Remote, Sampling};
    /// use traced::propagation::Format;
    ///
    /// let headers = vec![("b3", "d")];
    /// assert_eq!(Format::B3Single.extract(&headers), Some(Remote::DecisionOnly(Sampling::Debug)));
    /// assert_eq!(Format::B3Multi.extract(&headers), None);
    /// ```
    pub fn extract<C: Carrier + ?Sized>(self, carrier: &C) -> Option<Remote> {
        match self {
            Format::B3Single => super::carrier::read(carrier, b3::B3).and_then(b3::parse_single),
            Format::B3Multi => b3::extract_multi(carrier),
            Format::TraceContext => w3c::extract_traceparent(carrier).map(Remote::Context),
            Format::Jaeger => jaeger::extract(carrier),
        }
    }

    /// Writes `context` into `carrier` in this format; `trace_state` only matters for W3C.
    /// A context with a zero id is not a context and writes nothing; neither does an
    /// undecided context ([`Sampling::Defer`](crate::model::Sampling::Defer)) in Jaeger, which
    /// cannot say "undecided".
    ///
    /// ```
    /// use traced::model::{Sampling, SpanContext, SpanId, TraceId};
    /// use traced::propagation::Format;
    ///
    /// let mut context = SpanContext { trace_id: TraceId(0xa), span_id: SpanId(0xb), parent_id: None, sampling: Sampling::Debug };
    /// let mut headers = Vec::new();
    /// Format::Jaeger.inject(&context, None, &mut headers);
    /// assert_eq!(headers, [("uber-trace-id".to_owned(), "000000000000000a:000000000000000b:0:3".to_owned())]);
    /// context.sampling = Sampling::Defer;
    /// let mut headers = Vec::new();
    /// Format::Jaeger.inject(&context, None, &mut headers);
    /// assert!(headers.is_empty());
    /// ```
    ///
    /// ```
    /// use traced::model::{Sampling, SpanContext, SpanId, TraceId};
    /// use traced::propagation::Format;
    ///
    /// let context = SpanContext { trace_id: TraceId(0xa), span_id: SpanId(0xb), parent_id: None, sampling: Sampling::Debug };
    /// let mut headers = Vec::new();
    /// Format::TraceContext.inject(&context, None, &mut headers);
    /// assert_eq!(headers[0].1, "00-0000000000000000000000000000000a-000000000000000b-01");
    /// ```
    pub fn inject<C: CarrierMut + ?Sized>(
        self,
        context: &SpanContext,
        trace_state: Option<&TraceState>,
        carrier: &mut C,
    ) {
        if !is_valid(context) {
            return;
        }
        match self {
            Format::B3Single => b3::inject_single(context, carrier),
            Format::B3Multi => b3::inject_multi(context, carrier),
            Format::TraceContext => w3c::inject(context, trace_state, carrier),
            Format::Jaeger => jaeger::inject(context, carrier),
        }
    }
}

fn is_valid(context: &SpanContext) -> bool {
    context.trace_id.0 != 0 && context.span_id.0 != 0
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = PropagationError;

    fn from_str(text: &str) -> Result<Format, PropagationError> {
        let text = text.trim();
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| PropagationError::Unsupported(text.to_owned()))
    }
}

/// Why a propagator configuration was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum PropagationError {
    /// An `OTEL_PROPAGATORS` entry this crate does not implement (`xray`, `ottrace`, ...).
    Unsupported(String),
}

impl fmt::Display for PropagationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropagationError::Unsupported(name) => write!(
                f,
                "unsupported propagator `{name}` (supported: b3, b3multi, tracecontext, jaeger, baggage, none)"
            ),
        }
    }
}

impl std::error::Error for PropagationError {}
