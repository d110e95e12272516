//! The OTLP encodings, decoded by a strict reader: the generated types of `opentelemetry-proto`
//! (from the official `.proto` files) read our protobuf with prost and our JSON with the OTLP/JSON
//! mapping, field by field, for spans made by real `#[traced]` code and for hand-built records
//! with every field and hostile values. Both encodings must decode to the same request.

use std::borrow::Cow;
use std::sync::Arc;

use traced::encode::{encode_otlp_json, encode_otlp_proto};
use traced::model::{
    Annotation, Dropped, Kind, Link, Resource, SpanExtra, SpanId, SpanRecord, TagValue, TraceId,
};
use traced::testing::Capture;
use traced::traced;
use traced_tests::otlp::{self, any_value::Value, ExportTraceServiceRequest, Span};

/// Both encodings of `spans`, decoded, checked against the OTLP rules, and equal.
fn decoded(spans: &[SpanRecord], resource: &Resource) -> ExportTraceServiceRequest {
    let mut proto = Vec::new();
    encode_otlp_proto(spans, resource, &mut proto);
    let mut json = Vec::new();
    encode_otlp_json(spans, resource, &mut json);
    let from_proto = otlp::decode("application/x-protobuf", &proto).expect("protobuf decodes");
    let from_json = otlp::decode("application/json", &json).unwrap_or_else(|error| {
        panic!("{error}\n{}", String::from_utf8_lossy(&json));
    });
    assert_eq!(
        otlp::violations(&from_proto),
        Vec::<String>::new(),
        "{from_proto:#?}"
    );
    assert_eq!(from_json, from_proto, "JSON and protobuf say the same");
    from_proto
}

fn the<'a>(spans: &'a [(String, Span)], name: &str) -> &'a (String, Span) {
    spans
        .iter()
        .find(|(_, span)| span.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    otlp::attribute(&span.attributes, key)
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

#[traced(kind = "client", fields(peer.service = "Bank"))]
fn charge(cents: u64, express: bool) -> Result<(), Declined> {
    tracing::info!(attempt = 2_i64, ratio = 0.5, note = "retrying", "Retry");
    let _ = (cents, express);
    Err(Declined)
}

#[traced(fields(service.name = "Checkout-Worker"))]
fn checkout(order: i64) {
    let _ = charge(1299, true);
    let _ = order;
}

#[test]
fn traced_spans_keep_case_types_status_events_and_parents() {
    let capture = Capture::new();
    capture.in_scope(|| checkout(-7));
    let records = capture.spans();
    let request = decoded(&records, &Resource::new("Shop-Process"));
    let spans = otlp::spans(&request);
    assert_eq!(spans.len(), 2);

    let (service, root) = the(&spans, "checkout");
    // The span's own service name, as written: its own resource.
    assert_eq!(service, "Checkout-Worker");
    assert_eq!(root.kind, 1, "INTERNAL");
    assert!(root.parent_span_id.is_empty());
    assert_eq!(attribute(root, "order"), Some(&Value::IntValue(-7)));
    assert_eq!(root.status, None, "no error, no status");

    let (_, child) = the(&spans, "charge");
    assert_eq!(child.kind, 3, "CLIENT");
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(attribute(child, "cents"), Some(&Value::IntValue(1299)));
    assert_eq!(attribute(child, "express"), Some(&Value::BoolValue(true)));
    assert_eq!(
        attribute(child, "peer.service"),
        Some(&Value::StringValue("Bank".into()))
    );
    let status = child.status.as_ref().expect("a status");
    assert_eq!((status.code, status.message.as_str()), (2, "card declined"));
    assert_eq!(attribute(child, "error"), None, "the status carries it");
    assert!(
        matches!(attribute(child, "error.type"), Some(Value::StringValue(t)) if t.contains("Declined"))
    );

    // The event with typed attributes, then the exception event at the span's end.
    let names: Vec<&str> = child.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Retry", "exception"]);
    let retry = &child.events[0];
    assert_eq!(
        otlp::attribute(&retry.attributes, "attempt"),
        Some(&Value::IntValue(2))
    );
    assert_eq!(
        otlp::attribute(&retry.attributes, "ratio"),
        Some(&Value::DoubleValue(0.5))
    );
    assert_eq!(
        otlp::attribute(&retry.attributes, "note"),
        Some(&Value::StringValue("retrying".into()))
    );
    let exception = &child.events[1];
    assert_eq!(exception.time_unix_nano, child.end_time_unix_nano);
    assert_eq!(
        otlp::attribute(&exception.attributes, "exception.message"),
        Some(&Value::StringValue("card declined".into()))
    );
    assert!(matches!(
        otlp::attribute(&exception.attributes, "exception.type"),
        Some(Value::StringValue(t)) if t.contains("Declined")
    ));
}

#[traced]
fn explode() {
    panic!("boom at the Café");
}

#[test]
fn a_panic_is_an_error_status_with_an_exception_event() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let _ = std::panic::catch_unwind(explode);
    });
    let request = decoded(&capture.spans(), &Resource::new("shop"));
    let spans = otlp::spans(&request);
    let (_, span) = the(&spans, "explode");
    let status = span.status.as_ref().expect("a status");
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "boom at the Café")
    );
    let exception = span.events.last().expect("an exception event");
    assert_eq!(exception.name, "exception");
    assert_eq!(
        otlp::attribute(&exception.attributes, "exception.type"),
        Some(&Value::StringValue("panic".into()))
    );
}

#[test]
fn follows_from_is_a_link() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let cause = tracing::info_span!("enqueue");
        let cause_context = cause.in_scope(traced::current_context);
        let work = tracing::info_span!("work");
        work.follows_from(&cause);
        drop(work);
        drop(cause);
        let request = decoded(&capture.spans(), &Resource::new("shop"));
        let spans = otlp::spans(&request);
        let (_, work) = the(&spans, "work");
        assert_eq!(work.links.len(), 1, "{work:#?}");
        let cause_context = cause_context.expect("the cause is recorded");
        assert_eq!(
            work.links[0].span_id,
            cause_context.span_id.0.to_be_bytes().to_vec()
        );
        assert_eq!(
            work.links[0].trace_id,
            cause_context.trace_id.0.to_be_bytes().to_vec()
        );
    });
}

/// A record with every field, hostile text, numbers at the edges of their types.
fn full_record() -> SpanRecord {
    let mut tags = traced::model::Tags::new();
    for (key, value) in [
        ("text", TagValue::Str("ünï\"\\\n\u{2028}\u{0}code".into())),
        ("i64.min", TagValue::I64(i64::MIN)),
        ("u64.max", TagValue::U64(u64::MAX)),
        ("u64.small", TagValue::U64(42)),
        ("i128.big", TagValue::I128(-(1 << 100))),
        ("u128.small", TagValue::U128(7)),
        ("float", TagValue::F64(-1234.5)),
        ("flag", TagValue::Bool(false)),
        ("empty", TagValue::Str("".into())),
        ("error", TagValue::Str("".into())),
        ("error.type", TagValue::Str("503".into())),
    ] {
        tags.push((Cow::Borrowed(key), value));
    }
    let mut event = Annotation::new(1_700_000_000_000_500, "");
    event.fields.push(("n".into(), TagValue::U64(3)));
    event.dropped_fields = 4;
    SpanRecord {
        trace_id: TraceId(0xab),
        id: SpanId(u64::MAX),
        parent_id: Some(SpanId(1)),
        name: "Ünïcode \"Name\"".into(),
        kind: Some(Kind::Consumer),
        timestamp_us: 1_700_000_000_000_000,
        duration_us: 0,
        service_name: None,
        tags,
        annotations: vec![event],
        extra: Some(Box::new(SpanExtra {
            links: vec![Link {
                trace_id: TraceId(u128::MAX),
                span_id: SpanId(9),
            }],
            dropped: Dropped {
                attributes: 3,
                events: 2,
                links: 1,
            },
            ..SpanExtra::default()
        })),
        local_root: true,
        ..SpanRecord::default()
    }
}

#[test]
fn every_field_and_hostile_values_decode_exactly() {
    let resource = Resource::new("Inventory").attribute("deployment.environment.name", "prod");
    let request = decoded(&[full_record()], &resource);
    assert_eq!(request.resource_spans.len(), 1);
    let resource_spans = &request.resource_spans[0];
    let attributes = &resource_spans
        .resource
        .as_ref()
        .expect("a resource")
        .attributes;
    for (key, value) in [
        ("service.name", "Inventory"),
        ("deployment.environment.name", "prod"),
        ("telemetry.sdk.name", "traced"),
        ("telemetry.sdk.language", "rust"),
    ] {
        assert_eq!(
            otlp::string_attribute(attributes, key).as_deref(),
            Some(value)
        );
    }
    let scope = resource_spans.scope_spans[0]
        .scope
        .as_ref()
        .expect("a scope");
    assert_eq!(scope.name, "traced");
    assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));

    let span = &resource_spans.scope_spans[0].spans[0];
    let mut trace_id = vec![0; 15];
    trace_id.push(0xab);
    assert_eq!(span.trace_id, trace_id, "a 64-bit id left-padded");
    assert_eq!(span.span_id, u64::MAX.to_be_bytes());
    assert_eq!(span.parent_span_id, 1u64.to_be_bytes());
    assert_eq!(span.name, "Ünïcode \"Name\"");
    assert_eq!(span.kind, 5);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(
        span.end_time_unix_nano, 1_700_000_000_000_001_000,
        "at least 1 µs"
    );
    assert_eq!(
        attribute(span, "text"),
        Some(&Value::StringValue("ünï\"\\\n\u{2028}\u{0}code".into()))
    );
    assert_eq!(attribute(span, "i64.min"), Some(&Value::IntValue(i64::MIN)));
    assert_eq!(
        attribute(span, "u64.max"),
        Some(&Value::StringValue(u64::MAX.to_string())),
        "beyond int64: its decimal text"
    );
    assert_eq!(attribute(span, "u64.small"), Some(&Value::IntValue(42)));
    assert_eq!(
        attribute(span, "i128.big"),
        Some(&Value::StringValue((-(1i128 << 100)).to_string()))
    );
    assert_eq!(attribute(span, "u128.small"), Some(&Value::IntValue(7)));
    assert_eq!(attribute(span, "float"), Some(&Value::DoubleValue(-1234.5)));
    assert_eq!(attribute(span, "flag"), Some(&Value::BoolValue(false)));
    assert_eq!(
        attribute(span, "empty"),
        Some(&Value::StringValue(String::new()))
    );
    assert_eq!(
        attribute(span, "error.type"),
        Some(&Value::StringValue("503".into()))
    );
    assert_eq!(span.dropped_attributes_count, 3);
    assert_eq!(span.dropped_events_count, 2);
    assert_eq!(span.dropped_links_count, 1);
    // An error without a message, and an HTTP status as its type: ERROR, no exception event.
    let status = span.status.as_ref().expect("a status");
    assert_eq!((status.code, status.message.as_str()), (2, ""));
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "event", "an event without a message");
    assert_eq!(span.events[0].time_unix_nano, 1_700_000_000_000_500_000);
    assert_eq!(
        otlp::attribute(&span.events[0].attributes, "n"),
        Some(&Value::IntValue(3))
    );
    assert_eq!(span.events[0].dropped_attributes_count, 4);
    assert_eq!(span.links[0].trace_id, u128::MAX.to_be_bytes());
    assert_eq!(span.links[0].span_id, 9u64.to_be_bytes());
    // Sampled, has-is-remote, is-remote (a local root with a parent).
    assert_eq!(span.flags, 0x301);
}

#[test]
fn spans_of_several_services_go_in_one_resource_each() {
    let mut spans = Vec::new();
    for (index, service) in [None, Some("Billing"), None, Some("Billing")]
        .into_iter()
        .enumerate()
    {
        spans.push(SpanRecord {
            trace_id: TraceId(1),
            id: SpanId(index as u64 + 1),
            name: format!("op{index}").into(),
            timestamp_us: 1_700_000_000_000_000,
            duration_us: 2,
            service_name: service.map(Arc::from),
            ..SpanRecord::default()
        });
    }
    let request = decoded(&spans, &Resource::new("Shop"));
    let grouped: Vec<(String, Vec<String>)> = request
        .resource_spans
        .iter()
        .map(|group| {
            let service = otlp::string_attribute(
                &group.resource.as_ref().expect("a resource").attributes,
                "service.name",
            )
            .expect("a service name");
            let names = group.scope_spans[0]
                .spans
                .iter()
                .map(|span| span.name.clone())
                .collect();
            (service, names)
        })
        .collect();
    assert_eq!(
        grouped,
        [
            ("Shop".to_owned(), vec!["op0".to_owned(), "op2".to_owned()]),
            (
                "Billing".to_owned(),
                vec!["op1".to_owned(), "op3".to_owned()]
            ),
        ]
    );
}

/// A key recorded twice keeps its last value, at the place of its last recording, wherever the
/// repeat is and however many tags the span has (the protobuf writer assumes no key repeats
/// and starts the attributes over when one does; the JSON writer deduplicates first: both must
/// agree, which `decoded` checks).
#[test]
fn repeated_keys_keep_their_last_value_in_both_encodings() {
    let cases: Vec<Vec<(&str, TagValue)>> = vec![
        vec![("a", TagValue::I64(1)), ("a", TagValue::I64(2))],
        vec![
            ("a", TagValue::I64(1)),
            ("b", TagValue::I64(2)),
            ("a", TagValue::Str("last".into())),
        ],
        vec![
            ("error", TagValue::Str("first".into())),
            ("x", TagValue::Bool(true)),
            ("error", TagValue::Str("second".into())),
            ("error.type", TagValue::Str("std::io::Error".into())),
        ],
        vec![
            ("error", TagValue::Bool(true)),
            ("error", TagValue::Bool(false)),
            ("y", TagValue::U64(7)),
        ],
    ];
    let many: Vec<(String, TagValue)> = (0..150u64)
        .map(|index| (format!("key{}", index % 70), TagValue::U64(index)))
        .collect();
    let mut spans: Vec<SpanRecord> = cases
        .iter()
        .enumerate()
        .map(|(index, tags)| SpanRecord {
            trace_id: TraceId(9),
            id: SpanId(index as u64 + 1),
            name: "op".into(),
            timestamp_us: 1_700_000_000_000_000,
            duration_us: 1,
            tags: tags
                .iter()
                .map(|(key, value)| (Cow::Owned(key.to_string()), value.clone()))
                .collect::<Vec<_>>()
                .into(),
            ..SpanRecord::default()
        })
        .collect();
    for count in [40usize, 64, 65, 150] {
        spans.push(SpanRecord {
            trace_id: TraceId(9),
            id: SpanId(100 + count as u64),
            name: "many".into(),
            timestamp_us: 1_700_000_000_000_000,
            duration_us: 1,
            tags: many[..count]
                .iter()
                .map(|(key, value)| (Cow::Owned(key.clone()), value.clone()))
                .collect::<Vec<_>>()
                .into(),
            ..SpanRecord::default()
        });
    }
    let request = decoded(&spans, &Resource::new("shop"));
    let decoded_spans = &request.resource_spans[0].scope_spans[0].spans;
    let keys = |span: &Span| -> Vec<String> {
        span.attributes
            .iter()
            .map(|attribute| attribute.key.clone())
            .collect()
    };
    assert_eq!(keys(&decoded_spans[0]), ["a"]);
    assert_eq!(attribute(&decoded_spans[0], "a"), Some(&Value::IntValue(2)));
    assert_eq!(keys(&decoded_spans[1]), ["b", "a"]);
    assert_eq!(
        attribute(&decoded_spans[1], "a"),
        Some(&Value::StringValue("last".into()))
    );
    assert_eq!(keys(&decoded_spans[2]), ["x", "error.type"]);
    let status = decoded_spans[2].status.as_ref().expect("a status");
    assert_eq!(status.message, "second");
    assert_eq!(keys(&decoded_spans[3]), ["y"]);
    assert!(decoded_spans[3]
        .status
        .as_ref()
        .is_none_or(|status| status.code == 0));
    for (span, count) in decoded_spans[4..].iter().zip([40usize, 64, 65, 150]) {
        let expected: Vec<String> = (0..count)
            .filter(|index| index + 70 >= count)
            .map(|index| format!("key{}", index % 70))
            .collect();
        assert_eq!(keys(span), expected, "{count} tags");
        for (attribute_value, index) in span
            .attributes
            .iter()
            .zip((0..count).filter(|index| index + 70 >= count))
        {
            assert_eq!(
                attribute_value
                    .value
                    .as_ref()
                    .and_then(|value| value.value.clone()),
                Some(Value::IntValue(index as i64))
            );
        }
    }
}

/// Keys, values, names and trace states whose lengths, or whose attribute's length, sit on
/// either side of a varint's one- and two-byte limits (127/128, 16383/16384): the encoder
/// computes those lengths before writing.
#[test]
fn lengths_at_the_varint_boundaries_decode_exactly() {
    let lengths = [
        0usize, 1, 31, 32, 33, 100, 110, 113, 114, 115, 120, 126, 127, 128, 129, 300, 16_360,
        16_370, 16_383, 16_384, 16_400,
    ];
    for &key_length in &[1usize, 5, 30, 31, 120, 127, 128, 16_383] {
        let spans: Vec<SpanRecord> = lengths
            .iter()
            .enumerate()
            .map(|(index, &length)| {
                let key = format!("{index:x}{}", "k".repeat(key_length));
                let text = "v".repeat(length);
                SpanRecord {
                    trace_id: TraceId(7),
                    id: SpanId(index as u64 + 1),
                    name: format!("n{}", "n".repeat(length)).into(),
                    timestamp_us: 1_700_000_000_000_000,
                    duration_us: 3,
                    tags: vec![
                        (Cow::Owned(key.clone()), TagValue::Str(text.into())),
                        (
                            Cow::Owned(format!("{key}.int")),
                            TagValue::I64(-(length as i64)),
                        ),
                        (
                            Cow::Owned(format!("{key}.big")),
                            TagValue::U64(u64::MAX - length as u64),
                        ),
                        (
                            Cow::Owned(format!("{key}.float")),
                            TagValue::F64(length as f64 / 3.0),
                        ),
                        (
                            Cow::Owned(format!("{key}.flag")),
                            TagValue::Bool(length % 2 == 0),
                        ),
                    ]
                    .into(),
                    ..SpanRecord::default()
                }
            })
            .collect();
        let request = decoded(&spans, &Resource::new("shop"));
        let decoded_spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(decoded_spans.len(), lengths.len());
        for ((span, &length), index) in decoded_spans.iter().zip(&lengths).zip(0..) {
            let key = format!("{index:x}{}", "k".repeat(key_length));
            assert_eq!(span.name, format!("n{}", "n".repeat(length)));
            assert_eq!(
                attribute(span, &key),
                Some(&Value::StringValue("v".repeat(length)))
            );
            assert_eq!(
                attribute(span, &format!("{key}.int")),
                Some(&Value::IntValue(-(length as i64)))
            );
            assert_eq!(
                attribute(span, &format!("{key}.big")),
                Some(&Value::StringValue((u64::MAX - length as u64).to_string()))
            );
            assert_eq!(
                attribute(span, &format!("{key}.float")),
                Some(&Value::DoubleValue(length as f64 / 3.0))
            );
            assert_eq!(
                attribute(span, &format!("{key}.flag")),
                Some(&Value::BoolValue(length % 2 == 0))
            );
        }
    }
}

/// Doubles JSON numbers cannot hold go as the protobuf JSON mapping says: `"NaN"`,
/// `"Infinity"`, `"-Infinity"` (the Rust OTLP/JSON reader does not take those, so the JSON is
/// checked as text; protobuf carries them as they are).
#[test]
fn non_finite_doubles() {
    let mut span = full_record();
    span.tags = traced::model::Tags::new();
    for (key, value) in [
        ("nan", f64::NAN),
        ("up", f64::INFINITY),
        ("down", f64::NEG_INFINITY),
    ] {
        span.tags.push((Cow::Borrowed(key), TagValue::F64(value)));
    }
    let mut proto = Vec::new();
    encode_otlp_proto([&span], &Resource::new("shop"), &mut proto);
    let request = otlp::decode("application/x-protobuf", &proto).expect("protobuf decodes");
    let (_, decoded) = &otlp::spans(&request)[0];
    assert!(matches!(attribute(decoded, "nan"), Some(Value::DoubleValue(x)) if x.is_nan()));
    assert_eq!(
        attribute(decoded, "up"),
        Some(&Value::DoubleValue(f64::INFINITY))
    );
    assert_eq!(
        attribute(decoded, "down"),
        Some(&Value::DoubleValue(f64::NEG_INFINITY))
    );
    let mut json = Vec::new();
    encode_otlp_json([&span], &Resource::new("shop"), &mut json);
    let text = String::from_utf8(json).expect("UTF-8");
    for expected in [
        r#"{"key":"nan","value":{"doubleValue":"NaN"}}"#,
        r#"{"key":"up","value":{"doubleValue":"Infinity"}}"#,
        r#"{"key":"down","value":{"doubleValue":"-Infinity"}}"#,
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(parsed["resourceSpans"].is_array());
}

#[traced]
fn continued_work() {}

#[test]
fn a_continued_w3c_trace_keeps_the_callers_trace_state() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let headers = vec![
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ];
        traced::propagation::Propagator::trace_context()
            .continue_trace(&headers, || tracing::info_span!("handle"))
            .in_scope(continued_work);
        continued_work();
    });
    let request = decoded(&capture.spans(), &Resource::new("shop"));
    let states: Vec<(String, String)> = otlp::spans(&request)
        .into_iter()
        .map(|(_, span)| (span.name, span.trace_state))
        .collect();
    let continued = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned();
    assert_eq!(
        states,
        [
            ("continued_work".to_owned(), continued.clone()),
            ("handle".to_owned(), continued),
            // Another trace, after the continuation: no state of its own.
            ("continued_work".to_owned(), String::new()),
        ]
    );
}

#[test]
fn repeated_events_are_all_sent_and_the_exception_counts_against_the_event_limit() {
    let mut span = SpanRecord {
        trace_id: TraceId(1),
        id: SpanId(2),
        name: "retrying".into(),
        timestamp_us: 1_700_000_000_000_000,
        duration_us: 9,
        ..SpanRecord::default()
    };
    // The same event twice in one microsecond: Zipkin sends it once, OTLP both.
    span.annotations = vec![Annotation::new(1_700_000_000_000_001, "retry"); 2];
    span.tags
        .push(("error".into(), TagValue::Str("gave up".into())));
    span.tags
        .push(("error.type".into(), TagValue::Str("io::Error".into())));
    let request = decoded(&[span.clone()], &Resource::new("shop"));
    let (_, sent) = &otlp::spans(&request)[0];
    let names: Vec<&str> = sent
        .events
        .iter()
        .map(|event| event.name.as_str())
        .collect();
    assert_eq!(names, ["retry", "retry", "exception"]);
    assert_eq!(sent.dropped_events_count, 0);

    // Once the limit removed events, the exception event is one more removed, and counted.
    span.annotations.truncate(1);
    span.extra_mut().dropped.events = 1;
    let request = decoded(&[span], &Resource::new("shop"));
    let (_, sent) = &otlp::spans(&request)[0];
    let names: Vec<&str> = sent
        .events
        .iter()
        .map(|event| event.name.as_str())
        .collect();
    assert_eq!(names, ["retry"]);
    assert_eq!(sent.dropped_events_count, 2);
    assert_eq!(sent.status.as_ref().map(|status| status.code), Some(2));
}
