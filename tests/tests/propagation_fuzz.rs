//! Hostile input for every header parser: arbitrary bytes, names in any case, repeats and
//! oversized values never panic and never produce an invalid context or baggage; every valid
//! context survives inject → extract in every format, and so does any baggage (W3C and Jaeger);
//! a real span's injection is continued by the receiving service.
//!
//! Case counts are bounded so CI stays fast; raise them locally with `PROPTEST_CASES`.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use traced::baggage::{Baggage, MAX_BYTES, MAX_ENTRIES};
use traced::model::{Remote, Sampling, SpanContext, SpanId, TraceId};
use traced::propagation::{Format, Propagator, TraceState, MAX_TRACE_STATE_MEMBERS};
use traced::testing::Capture;
use traced_tests::strategies::{any_text, mixed_case, near_valid, valid_context};

const NAMES: &[&str] = &traced::propagation::HEADER_NAMES;

/// What a format can carry of `context`.
fn carried(format: Format, context: SpanContext) -> SpanContext {
    match format {
        // B3 single puts the parent after the sampling field: no decision, no parent.
        Format::B3Single if context.sampling == Sampling::Defer => SpanContext {
            parent_id: None,
            ..context
        },
        Format::B3Single | Format::B3Multi => context,
        // Jaeger sends parent 0 (the parent is informational). It has no undecided state:
        // such a context is not sent at all (see the round-trip property).
        Format::Jaeger => SpanContext {
            parent_id: None,
            ..context
        },
        // No parent field, and a sampled flag rather than a decision.
        Format::TraceContext => SpanContext {
            parent_id: None,
            sampling: if context.sampling.is_sampled() {
                Sampling::Accept
            } else {
                Sampling::Deny
            },
            ..context
        },
    }
}

/// A carried context is never one with zero ids, whatever came in.
fn check(remote: Option<Remote>) -> Result<(), TestCaseError> {
    if let Some(Remote::Context(context)) = remote {
        prop_assert!(context.trace_id.0 != 0);
        prop_assert!(context.span_id.0 != 0);
        prop_assert!(context.parent_id.is_none_or(|parent| parent.0 != 0));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_in_any_header_never_panic(
        values in proptest::collection::vec(
            (0..NAMES.len(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..120)),
            0..12,
        )
    ) {
        let mut map = HeaderMap::new();
        for (name, mask, bytes) in values {
            // HeaderValue refuses some bytes (CR, LF, NUL); a server never hands us those.
            let Ok(value) = HeaderValue::from_bytes(&bytes) else { continue };
            let name = HeaderName::from_bytes(mixed_case(NAMES[name], mask).as_bytes()).unwrap();
            map.append(name, value);
        }
        let propagator = Propagator::default();
        let remote = propagator.extract(&map);
        check(remote)?;
        if let Some(context) = remote.as_ref().and_then(|remote| remote.context()) {
            // The state kept for the next hop is bounded, whatever came in.
            let mut sent = Vec::new();
            propagator
                .continue_trace(&map, tracing::Span::none)
                .in_scope(|| Propagator::trace_context().inject(context, &mut sent));
            if let Some((_, state)) = sent.iter().find(|(name, _)| name == "tracestate") {
                prop_assert!(state.split(',').count() <= MAX_TRACE_STATE_MEMBERS);
            }
        }
        for format in Format::ALL {
            check(format.extract(&map))?;
        }
    }

    #[test]
    fn near_valid_text_never_panics_and_never_yields_zero_ids(
        values in proptest::collection::vec((0..NAMES.len(), near_valid()), 1..8)
    ) {
        let pairs: Vec<(&str, &str)> =
            values.iter().map(|(name, text)| (NAMES[*name], text.as_str())).collect();
        let reversed = [Format::Jaeger, Format::TraceContext, Format::B3Multi, Format::B3Single];
        for order in [Format::ALL, reversed] {
            check(Propagator::new(order, []).extract(&pairs))?;
        }
        let _ = Propagator::default().continue_trace(&pairs, tracing::Span::none);
    }

    #[test]
    fn any_unicode_in_a_string_map_never_panics(
        values in proptest::collection::vec((0..NAMES.len(), any::<u64>(), any_text()), 0..10),
        near in near_valid(),
        spliced in any::<char>(),
        at in 0usize..80,
    ) {
        // String-map carriers (message metadata, OTel maps) can hand any text to the parsers,
        // including multi-byte characters where an ASCII field boundary would be.
        let mut spliced_text: String = near.chars().take(at).collect();
        spliced_text.push(spliced);
        spliced_text.extend(near.chars().skip(at));
        let mut pairs: Vec<(String, String)> = values
            .into_iter()
            .map(|(name, mask, text)| (mixed_case(NAMES[name], mask), text))
            .collect();
        for &name in NAMES {
            pairs.push((name.to_owned(), spliced_text.clone()));
        }
        check(Propagator::default().extract(&pairs))?;
        let _ = Propagator::default().continue_trace(&pairs, tracing::Span::none);
        for format in Format::ALL {
            check(format.extract(&pairs))?;
        }
    }

    #[test]
    fn oversized_values_are_ignored(padding in 8 * 1024usize..12 * 1024, name in 0..NAMES.len()) {
        let value = format!("463ac35c9f6413ad-e457b5a2e4d86bd1-1{}", " ".repeat(padding));
        let mut map = HeaderMap::new();
        map.insert(NAMES[name], HeaderValue::from_str(&value).unwrap());
        prop_assert_eq!(Propagator::default().extract(&map), None);
    }

    #[test]
    fn every_valid_context_round_trips_in_every_format(context in valid_context()) {
        for format in Format::ALL {
            let propagator = Propagator::new([format], [format]);
            let mut map = HeaderMap::new();
            propagator.inject(&context, &mut map);
            let back = propagator.extract(&map);
            let expected = match format {
                Format::Jaeger if context.sampling == Sampling::Defer => None,
                Format::B3Single | Format::B3Multi | Format::TraceContext | Format::Jaeger => {
                    Some(Remote::Context(carried(format, context)))
                }
            };
            prop_assert_eq!(back, expected, "{}", format);
        }
        // Every format together, read in the default order, gives back the B3 single view.
        let all = Propagator::new(Format::ALL, Format::ALL);
        let mut map = HeaderMap::new();
        all.inject(&context, &mut map);
        let back = all.extract(&map);
        prop_assert_eq!(back, Some(Remote::Context(carried(Format::B3Single, context))));
    }

    #[test]
    fn jaeger_reads_every_spelling_jaeger_clients_write(
        context in valid_context(),
        padded in any::<bool>(),
        upper in any::<bool>(),
        encoded in any::<bool>(),
        extra_flags in 0u8..64,
    ) {
        // jaeger-client-go and -python write ids unpadded, the Java client and OpenTelemetry
        // padded; some HTTP stacks URL-encode the value; bits above debug mean nothing here.
        let flags = match context.sampling {
            Sampling::Defer | Sampling::Deny => 0,
            Sampling::Accept => 1,
            Sampling::Debug => 2 | (extra_flags & 1),
        } | (extra_flags & !3);
        let (trace, span, parent) = (context.trace_id.0, context.span_id.0, context.parent_id.map_or(0, |id| id.0));
        let mut value = if padded {
            format!("{trace:032x}:{span:016x}:{parent:016x}:{flags:02x}")
        } else {
            format!("{trace:x}:{span:x}:{parent:x}:{flags:x}")
        };
        if upper {
            value = value.to_uppercase();
        }
        if encoded {
            value = value.replace(':', "%3A");
        }
        let sampling = match context.sampling {
            Sampling::Defer => Sampling::Deny,
            decided => decided,
        };
        let pairs = vec![("uber-trace-id", value.as_str())];
        prop_assert_eq!(
            Propagator::default().extract(&pairs),
            Some(Remote::Context(SpanContext { sampling, ..context })),
            "{}", value
        );
    }

    #[test]
    fn any_baggage_header_gives_valid_baggage_within_the_limits(
        values in proptest::collection::vec(
            prop_oneof![
                any_text(),
                near_valid(),
                "[a-zA-Z0-9 =;,%!#$&'*+.^_`|~\t-]{0,300}",
            ],
            0..4,
        ),
        jaeger in proptest::collection::vec(("[a-zA-Z0-9._-]{0,12}", any_text()), 0..6),
    ) {
        let mut pairs: Vec<(String, String)> =
            values.into_iter().map(|value| ("baggage".to_owned(), value)).collect();
        pairs.extend(jaeger.into_iter().map(|(key, value)| (format!("uberctx-{key}"), value)));
        let baggage = Propagator::default().extract_baggage(&pairs);
        prop_assert!(baggage.len() <= MAX_ENTRIES);
        for entry in baggage.entries() {
            prop_assert!(!entry.key().is_empty());
            prop_assert!(entry.key().len() + entry.value().len() < MAX_BYTES);
        }
        // What was read can be sent on and reads back the same.
        let mut sent = Vec::new();
        Propagator::default().inject_baggage(&baggage, &mut sent);
        let again = Propagator::default().extract_baggage(&sent);
        prop_assert_eq!(again, baggage);
    }

    #[test]
    fn any_baggage_round_trips_in_both_formats(
        entries in proptest::collection::vec(("[a-z0-9._-]{1,12}", any_text()), 0..8),
    ) {
        let baggage: Baggage = entries.into_iter().collect();
        for propagator in [
            Propagator::new([], []),
            Propagator::new([Format::Jaeger], [Format::Jaeger]).baggage(false),
        ] {
            let mut sent = HeaderMap::new();
            propagator.inject_baggage(&baggage, &mut sent);
            prop_assert_eq!(propagator.extract_baggage(&sent), baggage.clone());
        }
    }

    #[test]
    fn tracestate_reemits_what_it_parsed(
        text in prop_oneof![near_valid(), "[a-z0-9=@,_ *./-]{0,120}"],
    ) {
        let state = TraceState::parse(&text);
        prop_assert!(state.len() <= MAX_TRACE_STATE_MEMBERS);
        prop_assert_eq!(TraceState::parse(&state.header()), state);
    }
}

proptest! {
    // Each case builds a subscriber and records spans: fewer cases keep this under a second.
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_real_spans_injection_is_continued_by_the_receiver(format_index in 0..Format::ALL.len(), deny in any::<bool>()) {
        let format = Format::ALL[format_index];
        let propagator = Propagator::new([format], [format]);
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_sampler(traced::sample::ParentBased::new(traced::sample::AlwaysOn));
        tracing::dispatcher::with_default(&dispatch, || {
            let mut map = HeaderMap::new();
            // A denying caller, in the format under test.
            let mut incoming: Vec<(String, String)> = Vec::new();
            if deny {
                let caller = SpanContext {
                    trace_id: TraceId(7),
                    span_id: SpanId(9),
                    parent_id: None,
                    sampling: Sampling::Deny,
                };
                propagator.inject(&caller, &mut incoming);
            }
            propagator.continue_trace(&incoming, || tracing::info_span!("client")).in_scope(|| {
                propagator.inject(&traced::current_context().unwrap(), &mut map);
            });
            propagator
                .continue_trace(&map, || tracing::info_span!(parent: None, "server"))
                .in_scope(|| {});
        });
        if deny {
            prop_assert!(capture.spans().is_empty(), "{}: a denied trace stays denied downstream", format);
        } else {
            let client = capture.span("client");
            let server = capture.span("server");
            prop_assert_eq!(server.trace_id, client.trace_id);
            prop_assert_eq!(server.parent_id, Some(client.id));
        }
    }
}
