//! The composite propagator: which formats to read, in which order, and which to write.

use super::carrier::{Carrier, CarrierMut};
use super::continuation::{Continuation, Incoming, TRACE_STATE};
use super::format::{Format, PropagationError};
use super::w3c::{self, TraceState};
use super::{baggage, jaeger};
use crate::baggage::Baggage;
use crate::model::{Remote, SpanContext};

/// A composite propagator: which formats to read, in which order, and which to write.
///
/// The default reads `b3`, then `X-B3-*`, then `traceparent`, then `uber-trace-id`, and writes
/// the `b3` single header — the smallest, and the one every Zipkin tracer reads.
///
/// [Baggage](crate::baggage) travels beside the context: in the W3C `baggage` header, read and
/// written unless turned off with [`Propagator::baggage`], and in Jaeger's `uberctx-{key}`
/// headers, read when [`Format::Jaeger`] is read and written when it is written.
///
/// ```
/// use traced::model::{Sampling, SpanContext, SpanId, TraceId};
/// use traced::propagation::{Format, Propagator};
///
/// let propagator = Propagator::new(Format::ALL, [Format::B3Multi, Format::TraceContext]);
/// let context = SpanContext { trace_id: TraceId(1 << 70), span_id: SpanId(2), parent_id: None, sampling: Sampling::Deny };
/// let mut headers = http::HeaderMap::new();
/// propagator.inject(&context, &mut headers);
/// assert_eq!(headers["X-B3-Sampled"], "0");
/// assert_eq!(headers["traceparent"], "00-00000000000000400000000000000000-0000000000000002-00");
/// assert!(headers.get("b3").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Propagator {
    extract_order: Vec<Format>,
    inject: Vec<Format>,
    /// Whether the W3C `baggage` header is read and written.
    baggage: bool,
}

impl Default for Propagator {
    fn default() -> Propagator {
        Propagator {
            extract_order: Format::ALL.to_vec(),
            inject: vec![Format::B3Single],
            baggage: true,
        }
    }
}

fn dedup(formats: impl IntoIterator<Item = Format>) -> Vec<Format> {
    let mut out = Vec::new();
    for format in formats {
        if !out.contains(&format) {
            out.push(format);
        }
    }
    out
}

impl Propagator {
    /// A propagator reading `extract_order` in that order and writing every `inject` format,
    /// with W3C baggage (see [`Propagator::baggage`]). Repeated formats count once.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let w3c_first = Propagator::new([Format::TraceContext, Format::B3Single], [Format::TraceContext]);
    /// assert_eq!(w3c_first.extract_order(), &[Format::TraceContext, Format::B3Single]);
    /// ```
    pub fn new(
        extract_order: impl IntoIterator<Item = Format>,
        inject: impl IntoIterator<Item = Format>,
    ) -> Propagator {
        Propagator {
            extract_order: dedup(extract_order),
            inject: dedup(inject),
            baggage: true,
        }
    }

    /// Whether the W3C `baggage` header is read and written (`true` unless set otherwise, or
    /// `OTEL_PROPAGATORS` does not name `baggage`). Jaeger's `uberctx-*` baggage goes with the
    /// Jaeger format instead, whatever this says.
    ///
    /// ```
    /// use traced::propagation::Propagator;
    ///
    /// let headers = vec![("baggage", "tenant=acme")];
    /// assert_eq!(Propagator::default().extract_baggage(&headers).get("tenant"), Some("acme"));
    /// assert!(Propagator::default().baggage(false).extract_baggage(&headers).is_empty());
    /// ```
    pub fn baggage(mut self, enabled: bool) -> Propagator {
        self.baggage = enabled;
        self
    }

    /// Whether the W3C `baggage` header is read and written.
    pub fn carries_baggage(&self) -> bool {
        self.baggage
    }

    /// Reads every format, writes B3 single (the default).
    pub fn b3() -> Propagator {
        Propagator::default()
    }

    /// Reads every format, writes the `X-B3-*` headers.
    pub fn b3_multi() -> Propagator {
        Propagator::new(Format::ALL, [Format::B3Multi])
    }

    /// Reads every format, writes `traceparent` (and `tracestate` when there is one).
    pub fn trace_context() -> Propagator {
        Propagator::new(Format::ALL, [Format::TraceContext])
    }

    /// The formats read, in order.
    pub fn extract_order(&self) -> &[Format] {
        &self.extract_order
    }

    /// The formats written.
    pub fn inject_formats(&self) -> &[Format] {
        &self.inject
    }

    /// The propagator `OTEL_PROPAGATORS` describes: a comma-separated list of `b3` (B3 single),
    /// `b3multi`, `tracecontext`, `jaeger` (`uber-trace-id`, and `uberctx-*` baggage),
    /// `baggage` (W3C `baggage`), in order. As OpenTelemetry's B3 propagator does, `b3` and
    /// `b3multi` read both B3 forms and differ in what they write. W3C baggage is carried only
    /// when `baggage` is named; `none` alone turns propagation off; an empty value gives the
    /// default. Anything else is an error naming the entry.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let propagator = Propagator::from_otel_propagators("tracecontext,baggage,b3multi").unwrap();
    /// assert_eq!(propagator.extract_order(), &[Format::TraceContext, Format::B3Single, Format::B3Multi]);
    /// assert_eq!(propagator.inject_formats(), &[Format::TraceContext, Format::B3Multi]);
    /// assert!(propagator.carries_baggage());
    /// let propagator = Propagator::from_otel_propagators("tracecontext,jaeger").unwrap();
    /// assert_eq!(propagator.extract_order(), &[Format::TraceContext, Format::Jaeger]);
    /// assert_eq!(propagator.inject_formats(), &[Format::TraceContext, Format::Jaeger]);
    /// assert!(!propagator.carries_baggage());
    /// assert!(Propagator::from_otel_propagators("xray").is_err());
    /// ```
    pub fn from_otel_propagators(text: &str) -> Result<Propagator, PropagationError> {
        let mut extract = Vec::new();
        let mut inject = Vec::new();
        let mut none = false;
        let mut any = false;
        let mut w3c_baggage = false;
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            any = true;
            if name.eq_ignore_ascii_case("none") {
                none = true;
                continue;
            }
            if name.eq_ignore_ascii_case("baggage") {
                w3c_baggage = true;
                continue;
            }
            let format: Format = name.parse()?;
            inject.push(format);
            match format {
                Format::B3Single | Format::B3Multi => {
                    extract.extend([Format::B3Single, Format::B3Multi])
                }
                Format::TraceContext | Format::Jaeger => extract.push(format),
            }
        }
        if !any {
            return Ok(Propagator::default());
        }
        if none && inject.is_empty() && !w3c_baggage {
            return Ok(Propagator::new([], []).baggage(false));
        }
        Ok(Propagator::new(extract, inject).baggage(w3c_baggage))
    }

    /// The caller's context from `carrier` (an `http::HeaderMap` or another [`Carrier`]), or
    /// `None` when no format parses: then the request starts a new trace. Give it to
    /// `#[traced(parent = ...)]`; to continue the trace in a `tracing` span, and keep the
    /// caller's `tracestate` for the next hop, use [`Propagator::continue_trace`].
    ///
    /// ```
    /// use traced::propagation::Propagator;
    ///
    /// let headers = vec![("X-B3-TraceId", "463ac35c9f6413ad"), ("X-B3-SpanId", "a2fb4a1d1a96d312"), ("X-B3-Flags", "1")];
    /// let remote = Propagator::default().extract(&headers).unwrap();
    /// assert_eq!(remote.context().unwrap().trace_id.to_string(), "463ac35c9f6413ad");
    /// assert!(remote.sampling().is_sampled());
    /// assert_eq!(Propagator::default().extract(&vec![("b3", "garbage")]), None);
    /// ```
    pub fn extract<C: Carrier + ?Sized>(&self, carrier: &C) -> Option<Remote> {
        self.extract_order
            .iter()
            .find_map(|format| format.extract(carrier))
    }

    /// The caller's baggage from `carrier`: the W3C `baggage` header (when this propagator
    /// carries it), then the `uberctx-*` headers (when it reads [`Format::Jaeger`]) for the keys
    /// not found in the first. Malformed entries are left out one by one; see
    /// [`crate::baggage`] for what to do with the result.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let headers = vec![
    ///     ("baggage", "tenant=acme,user.id=42"),
    ///     ("uberctx-tenant", "ignored"),
    ///     ("uberctx-region", "eu%20west"),
    ///     ("uberctx-broken", "%zz"),
    /// ];
    /// let baggage = Propagator::default().extract_baggage(&headers);
    /// assert_eq!(
    ///     baggage.iter().collect::<Vec<_>>(),
    ///     [("tenant", "acme"), ("user.id", "42"), ("region", "eu west")]
    /// );
    /// let b3_only = Propagator::new([Format::B3Single], [Format::B3Single]).baggage(false);
    /// assert!(b3_only.extract_baggage(&headers).is_empty());
    /// ```
    pub fn extract_baggage<C: Carrier + ?Sized>(&self, carrier: &C) -> Baggage {
        let mut found = if self.baggage {
            baggage::extract(carrier)
        } else {
            Baggage::new()
        };
        if self.extract_order.contains(&Format::Jaeger) {
            let jaeger = jaeger::extract_baggage(carrier);
            for entry in jaeger.entries() {
                if found.get(entry.key()).is_none() {
                    found.insert(entry.key(), entry.value());
                }
            }
        }
        found
    }

    /// Writes `baggage` into `carrier` in the baggage formats of this propagator: W3C `baggage`
    /// (when it carries it) and `uberctx-*` (when it writes [`Format::Jaeger`]).
    /// [`Propagator::inject`] already writes the current span's baggage; this is for baggage
    /// of your own.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let baggage = [("tenant", "acme corp")].into_iter().collect();
    /// let mut headers = Vec::new();
    /// Propagator::new(Format::ALL, [Format::Jaeger]).inject_baggage(&baggage, &mut headers);
    /// assert_eq!(headers, [
    ///     ("baggage".to_owned(), "tenant=acme%20corp".to_owned()),
    ///     ("uberctx-tenant".to_owned(), "acme%20corp".to_owned()),
    /// ]);
    /// ```
    pub fn inject_baggage<C: CarrierMut + ?Sized>(&self, baggage: &Baggage, carrier: &mut C) {
        if self.baggage {
            baggage::inject(baggage, carrier);
        }
        if self.inject.contains(&Format::Jaeger) {
            jaeger::inject_baggage(baggage, carrier);
        }
    }

    /// Like [`Propagator::extract`], also saying which format matched and keeping
    /// `tracestate` when the context came as `traceparent`.
    pub(crate) fn extract_incoming<C: Carrier + ?Sized>(&self, carrier: &C) -> Option<Incoming> {
        self.extract_order.iter().find_map(|format| {
            let remote = format.extract(carrier)?;
            let trace_state = match format {
                Format::TraceContext => w3c::extract_trace_state(carrier),
                Format::B3Single | Format::B3Multi | Format::Jaeger => None,
            };
            Some(Incoming {
                remote,
                format: *format,
                trace_state,
            })
        })
    }

    /// Writes `context` into `carrier` (an `http::HeaderMap` or another [`CarrierMut`]) in every
    /// configured format, with the current span's [baggage](crate::baggage) (see
    /// [`Propagator::inject_baggage`]). W3C injection adds the `tracestate` a caller of the same
    /// trace sent, while the work of a [`Continuation`] runs. To send the current span's context
    /// with the global propagator, use [`inject`](super::inject).
    pub fn inject<C: CarrierMut + ?Sized>(&self, context: &SpanContext, carrier: &mut C) {
        if self.baggage || self.inject.contains(&Format::Jaeger) {
            self.inject_baggage(&crate::baggage::current(), carrier);
        }
        if !self.inject.contains(&Format::TraceContext) {
            self.inject_with_state(context, None, carrier);
            return;
        }
        TRACE_STATE.with(|current| {
            let current = current.borrow();
            let state = current
                .as_ref()
                .filter(|(trace_id, _)| *trace_id == context.trace_id)
                .map(|(_, state)| &**state);
            self.inject_with_state(context, state, carrier);
        });
    }

    /// Writes `context` in every configured format, with `trace_state` for W3C.
    pub(crate) fn inject_with_state<C: CarrierMut + ?Sized>(
        &self,
        context: &SpanContext,
        trace_state: Option<&TraceState>,
        carrier: &mut C,
    ) {
        for format in &self.inject {
            format.inject(context, trace_state, carrier);
        }
    }

    /// Continues the trace `carrier` carries (or starts a new one) in the span `make_span`
    /// creates, now: the one way to continue a caller's trace in a `tracing` span. The span gets
    /// the caller's [baggage](crate::baggage). Run the work with [`Continuation::in_scope`] or
    /// [`Continuation::instrument`]; while it runs, the caller's `tracestate` is kept for W3C
    /// injection. `make_span` should create a root span
    /// (`parent: None`) when another span may be current, since a local parent wins.
    ///
    /// ```
    /// use traced::propagation::Propagator;
    /// use traced::testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let headers = vec![("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-1")];
    /// capture.in_scope(|| {
    ///     Propagator::default()
    ///         .continue_trace(&headers, || tracing::info_span!("handle"))
    ///         .in_scope(|| {})
    /// });
    /// let span = capture.span("handle");
    /// assert_eq!(span.trace_id.to_string(), "463ac35c9f6413ad");
    /// assert_eq!(span.parent_id.unwrap().to_string(), "a2fb4a1d1a96d312");
    /// ```
    pub fn continue_trace<C: Carrier + ?Sized>(
        &self,
        carrier: &C,
        make_span: impl FnOnce() -> tracing::Span,
    ) -> Continuation {
        let incoming = self.extract_incoming(carrier);
        let span = match incoming.as_ref() {
            Some(incoming) => {
                let (trace, state) = incoming.trace_state_text();
                crate::remote_parent::with_trace_state(trace, state, || {
                    crate::remote_parent::with_remote_parent(incoming.remote, false, make_span)
                })
            }
            None => make_span(),
        };
        crate::baggage::attach(&span, &self.extract_baggage(carrier));
        Continuation::new(span, incoming.as_ref())
    }
}
