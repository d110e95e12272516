//! OpenTelemetry interop: our B3, W3C and Jaeger propagators as
//! [`opentelemetry::propagation::TextMapPropagator`]s.
//!
//! Unlike the deprecated `opentelemetry-zipkin` propagator, these keep to the B3 spec: debug
//! implies sampled (and needs no reserved trace-flag bit: it rides in the OTel `Context`),
//! single-header mode writes only `b3`, an invalid context writes nothing (never a deny), and
//! `b3: …-d` and `X-B3-Flags: 1` are read whatever the injection mode.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use traced::propagation::otel::OtelPropagator;
//!
//! let propagator = OtelPropagator::b3();
//! let mut incoming = HashMap::new();
//! incoming.insert("b3".to_owned(), "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d".to_owned());
//! let cx = propagator.extract(&incoming);
//! assert!(cx.span().span_context().is_sampled());
//!
//! let mut outgoing = HashMap::new();
//! propagator.inject_context(&cx, &mut outgoing);
//! assert_eq!(outgoing["b3"], "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d");
//! assert_eq!(outgoing.len(), 1);
//! ```

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{self as otel, TraceContextExt};
use opentelemetry::Context;

use super::{Carrier, CarrierMut, Format, Incoming, Propagator, TraceState};
use crate::model::{Remote, Sampling, SpanContext, SpanId, TraceId};

/// A [`Propagator`] speaking OpenTelemetry's `TextMapPropagator` interface.
#[derive(Clone, Debug)]
pub struct OtelPropagator {
    inner: Propagator,
    fields: Vec<String>,
}

impl OtelPropagator {
    /// OpenTelemetry's `b3`: reads both B3 forms, writes the single header.
    pub fn b3() -> OtelPropagator {
        OtelPropagator::from(Propagator::new(
            [Format::B3Single, Format::B3Multi],
            [Format::B3Single],
        ))
    }

    /// OpenTelemetry's `b3multi`: reads both B3 forms, writes the `X-B3-*` headers.
    pub fn b3_multi() -> OtelPropagator {
        OtelPropagator::from(Propagator::new(
            [Format::B3Single, Format::B3Multi],
            [Format::B3Multi],
        ))
    }

    /// OpenTelemetry's `tracecontext`: `traceparent` and `tracestate`.
    pub fn trace_context() -> OtelPropagator {
        OtelPropagator::from(Propagator::new(
            [Format::TraceContext],
            [Format::TraceContext],
        ))
    }

    /// OpenTelemetry's `jaeger`: reads and writes `uber-trace-id`. Jaeger's debug flag survives
    /// a hop through OpenTelemetry, as B3's does.
    pub fn jaeger() -> OtelPropagator {
        OtelPropagator::from(Propagator::new([Format::Jaeger], [Format::Jaeger]))
    }

    /// The wrapped propagator.
    pub fn propagator(&self) -> &Propagator {
        &self.inner
    }
}

impl From<Propagator> for OtelPropagator {
    fn from(inner: Propagator) -> OtelPropagator {
        let mut fields: Vec<String> = Vec::new();
        for format in inner.extract_order().iter().chain(inner.inject_formats()) {
            for field in format.fields() {
                if !fields.iter().any(|known| known == field) {
                    fields.push((*field).to_owned());
                }
            }
        }
        OtelPropagator { inner, fields }
    }
}

/// The B3 or Jaeger sampling state of an extracted context, which OTel's one sampled bit
/// cannot hold: debug, and (B3 only) "no decision yet".
#[derive(Clone, Copy, Debug)]
struct B3Sampling {
    trace_id: TraceId,
    span_id: SpanId,
    sampling: Sampling,
}

struct ExtractorCarrier<'a>(&'a dyn Extractor);

impl Carrier for ExtractorCarrier<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        self.0.get_all(name).unwrap_or_default()
    }
}

struct InjectorCarrier<'a>(&'a mut dyn Injector);

impl CarrierMut for InjectorCarrier<'_> {
    fn set(&mut self, name: &str, value: String) {
        self.0.set(name, value);
    }
}

/// Our context for an OTel span context, taking debug and deferral from the marker an
/// extraction left in `cx`.
fn from_otel(span: &otel::SpanContext, cx: &Context) -> SpanContext {
    let trace_id = TraceId(u128::from_be_bytes(span.trace_id().to_bytes()));
    let span_id = SpanId(u64::from_be_bytes(span.span_id().to_bytes()));
    let flagged = if span.is_sampled() {
        Sampling::Accept
    } else {
        Sampling::Deny
    };
    let sampling = match cx.get::<B3Sampling>() {
        // Debug holds for the whole trace, also for the spans OTel starts under it.
        Some(marker) if marker.trace_id == trace_id && marker.sampling == Sampling::Debug => {
            Sampling::Debug
        }
        Some(marker) if marker.trace_id == trace_id && marker.span_id == span_id => marker.sampling,
        _ => flagged,
    };
    SpanContext {
        trace_id,
        span_id,
        parent_id: None,
        sampling,
    }
}

fn to_otel(context: &SpanContext, trace_state: Option<&TraceState>) -> otel::SpanContext {
    let flags = if context.sampling.is_sampled() {
        otel::TraceFlags::SAMPLED
    } else {
        otel::TraceFlags::default()
    };
    let trace_state = trace_state
        .and_then(|state| otel::TraceState::from_key_value(state.iter()).ok())
        .unwrap_or_default();
    otel::SpanContext::new(
        otel::TraceId::from_bytes(context.trace_id.0.to_be_bytes()),
        otel::SpanId::from_bytes(context.span_id.0.to_be_bytes()),
        flags,
        true,
        trace_state,
    )
}

impl TextMapPropagator for OtelPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let context = from_otel(span_context, cx);
        let header = span_context.trace_state().header();
        let trace_state = (!header.is_empty()).then(|| TraceState::parse(&header));
        self.inner.inject_with_state(
            &context,
            trace_state.as_ref(),
            &mut InjectorCarrier(injector),
        );
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.inner.extract_incoming(&ExtractorCarrier(extractor)) {
            Some(Incoming {
                remote: Remote::Context(context),
                trace_state,
                ..
            }) => cx
                .with_remote_span_context(to_otel(&context, trace_state.as_ref()))
                .with_value(B3Sampling {
                    trace_id: context.trace_id,
                    span_id: context.span_id,
                    sampling: context.sampling,
                }),
            // OTel has no sampling-only context; the caller's decision alone cannot be carried.
            _ => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::{SpanContext as OtelSpanContext, TraceContextExt, TraceFlags};
    use opentelemetry::Context;

    use super::OtelPropagator;
    use crate::propagation::{Format, Propagator};

    const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const TRACE_64: &str = "463ac35c9f6413ad";
    const SPAN: &str = "e457b5a2e4d86bd1";

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn forward(propagator: &OtelPropagator, incoming: &[(&str, &str)]) -> HashMap<String, String> {
        let cx = propagator.extract(&map(incoming));
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        out
    }

    #[test]
    fn single_mode_writes_only_the_b3_header() {
        let single = format!("{TRACE}-{SPAN}-1");
        let out = forward(&OtelPropagator::b3(), &[("b3", &single)]);
        assert_eq!(out, map(&[("b3", &single)]));
    }

    #[test]
    fn every_b3_sampling_state_survives_a_hop_through_otel() {
        let cases = [
            (format!("{TRACE}-{SPAN}"), true, false),
            (format!("{TRACE}-{SPAN}-0"), true, false),
            (format!("{TRACE}-{SPAN}-1"), true, true),
            (format!("{TRACE}-{SPAN}-d"), true, true),
            (format!("{TRACE_64}-{SPAN}-1"), true, true),
        ];
        for (value, valid, sampled) in cases {
            let cx = OtelPropagator::b3().extract(&map(&[("b3", &value)]));
            let span = cx.span();
            assert_eq!(span.span_context().is_valid(), valid, "{value}");
            assert_eq!(
                span.span_context().is_sampled(),
                sampled,
                "debug implies sampled: {value}"
            );
            assert!(span.span_context().is_remote());
            let out = forward(&OtelPropagator::b3(), &[("b3", &value)]);
            assert_eq!(out, map(&[("b3", &value)]), "{value}");
        }
    }

    #[test]
    fn multi_mode_reads_single_debug_and_writes_flags_without_sampled() {
        let out = forward(
            &OtelPropagator::b3_multi(),
            &[("b3", &format!("{TRACE}-{SPAN}-d"))],
        );
        assert_eq!(
            out,
            map(&[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-flags", "1")
            ])
        );
        let out = forward(
            &OtelPropagator::b3_multi(),
            // OTel's HashMap extractor looks keys up lower-cased.
            &[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "d"),
            ],
        );
        assert_eq!(out["x-b3-flags"], "1");
        let out = forward(
            &OtelPropagator::b3_multi(),
            &[("x-b3-traceid", TRACE), ("x-b3-spanid", SPAN)],
        );
        assert_eq!(
            out,
            map(&[("x-b3-traceid", TRACE), ("x-b3-spanid", SPAN)]),
            "defer stays defer"
        );
    }

    #[test]
    fn invalid_or_missing_contexts_write_nothing() {
        let propagator = OtelPropagator::from(Propagator::new(Format::ALL, Format::ALL));
        for incoming in [
            vec![],
            vec![("b3", "0")],
            vec![("b3", "garbage")],
            vec![("b3", "1")],
        ] {
            let cx = propagator.extract(&map(&incoming));
            assert!(!cx.span().span_context().is_valid(), "{incoming:?}");
            let mut out: HashMap<String, String> = HashMap::new();
            propagator.inject_context(&cx, &mut out);
            assert!(out.is_empty(), "no deny for an invalid context: {out:?}");
        }
        let mut out: HashMap<String, String> = HashMap::new();
        propagator.inject_context(&Context::new(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn trace_context_round_trips_with_the_sdk_propagator() {
        let sdk = opentelemetry_sdk::propagation::TraceContextPropagator::new();
        let ours = OtelPropagator::trace_context();
        let traceparent = format!("00-{TRACE}-{SPAN}-01");
        let incoming = map(&[
            ("traceparent", &traceparent),
            ("tracestate", "congo=1,BAD=2,rojo=3"),
        ]);

        let cx = ours.extract(&incoming);
        assert_eq!(
            cx.span().span_context().trace_state().header(),
            "congo=1,rojo=3"
        );
        let mut out = HashMap::new();
        ours.inject_context(&cx, &mut out);
        assert_eq!(
            out,
            map(&[
                ("traceparent", &traceparent),
                ("tracestate", "congo=1,rojo=3")
            ])
        );

        let from_sdk = sdk.extract(&out);
        assert_eq!(from_sdk.span().span_context(), cx.span().span_context());

        let sdk_context = OtelSpanContext::new(
            opentelemetry::trace::TraceId::from_hex(TRACE).unwrap(),
            opentelemetry::trace::SpanId::from_hex(SPAN).unwrap(),
            TraceFlags::default(),
            false,
            Default::default(),
        );
        let mut sdk_out = HashMap::new();
        sdk.inject_context(
            &Context::new().with_remote_span_context(sdk_context),
            &mut sdk_out,
        );
        let back = ours.extract(&sdk_out);
        assert!(back.span().span_context().is_valid());
        assert!(!back.span().span_context().is_sampled());
    }

    #[test]
    fn fields_name_every_header_read_or_written() {
        let b3 = OtelPropagator::b3();
        let fields: Vec<&str> = b3.fields().collect();
        assert_eq!(
            fields,
            [
                "b3",
                "x-b3-traceid",
                "x-b3-spanid",
                "x-b3-parentspanid",
                "x-b3-sampled",
                "x-b3-flags"
            ]
        );
        let w3c = OtelPropagator::trace_context();
        let fields: Vec<&str> = w3c.fields().collect();
        assert_eq!(fields, ["traceparent", "tracestate"]);
    }

    #[test]
    fn jaeger_round_trips_through_otel_with_its_debug_flag() {
        let jaeger = OtelPropagator::jaeger();
        assert_eq!(jaeger.fields().collect::<Vec<_>>(), ["uber-trace-id"]);
        for (incoming, sampled, sent) in [
            ("1", true, "1"),
            ("3", true, "3"),
            ("2", true, "3"),
            ("0", false, "0"),
        ] {
            let value = format!("{TRACE_64}:{SPAN}:0:{incoming}");
            let cx = jaeger.extract(&map(&[("uber-trace-id", &value)]));
            let span = cx.span();
            assert!(span.span_context().is_valid(), "{value}");
            assert_eq!(span.span_context().is_sampled(), sampled, "{value}");
            let out = forward(&jaeger, &[("uber-trace-id", &value)]);
            assert_eq!(
                out,
                map(&[("uber-trace-id", &format!("{TRACE_64}:{SPAN}:0:{sent}"))]),
                "{value}"
            );
        }
        // An SDK span (no marker) goes out with its sampled flag; a malformed value is no
        // context and writes nothing.
        let sdk_context = OtelSpanContext::new(
            opentelemetry::trace::TraceId::from_hex(TRACE).unwrap(),
            opentelemetry::trace::SpanId::from_hex(SPAN).unwrap(),
            TraceFlags::SAMPLED,
            false,
            Default::default(),
        );
        let mut out = HashMap::new();
        jaeger.inject_context(
            &Context::new().with_remote_span_context(sdk_context),
            &mut out,
        );
        assert_eq!(
            out,
            map(&[("uber-trace-id", &format!("{TRACE}:{SPAN}:0:1"))])
        );
        assert!(forward(&jaeger, &[("uber-trace-id", "1:2:0")]).is_empty());
    }

    #[test]
    fn debug_holds_for_child_spans_the_sdk_starts() {
        use opentelemetry::trace::{Tracer, TracerProvider};

        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let propagator = OtelPropagator::b3();
        for (incoming, flag) in [("d", "d"), ("1", "1"), ("0", "0")] {
            let value = format!("{TRACE}-{SPAN}-{incoming}");
            let parent = propagator.extract(&map(&[("b3", &value)]));
            let child = tracer.start_with_context("child", &parent);
            let cx = parent.with_span(child);
            let child_id = cx.span().span_context().span_id();
            let mut out = HashMap::new();
            propagator.inject_context(&cx, &mut out);
            assert_eq!(
                out["b3"],
                format!("{TRACE}-{child_id}-{flag}"),
                "b3 {incoming}"
            );
        }
    }
}
