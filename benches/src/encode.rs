//! What encoding costs the reporter's thread per span, for each wire format, and what the OTLP
//! protobuf encoding would cost built on the generated types of `opentelemetry-proto` (the
//! alternative to our hand-written encoder that `runtime/src/encode/otlp_proto.rs` names).
//!
//! A batch is 512 spans as a service makes them: every third a SERVER span with the HTTP
//! server layer's eleven tags, the others `#[traced]` calls with two `u64` arguments, one in
//! eight with an event. The time is the fastest of several rounds of whole batches (the
//! least disturbed by other work); the instruction counts come from callgrind over
//! [`encode_loop`] (`report encode-profile <encoder> <batches>`).

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use traced::encode::Encoding;
use traced::model::{Annotation, Endpoint, Kind, Resource, SpanId, SpanRecord, TagValue, TraceId};

/// Spans per batch, the reporter's default.
pub const BATCH: usize = 512;

/// The encoders compared, by the name the report and `encode-profile` use.
pub const ENCODERS: [(&str, &str); 5] = [
    ("zipkin_json", "Zipkin v2 JSON (ours)"),
    ("zipkin_proto", "Zipkin proto3 (ours)"),
    ("otlp_protobuf", "OTLP protobuf (ours)"),
    ("otlp_json", "OTLP JSON (ours)"),
    (
        "otlp_protobuf_generated",
        "OTLP protobuf (opentelemetry-proto types + prost)",
    ),
];

/// One batch of spans as a service makes them.
pub fn sample_batch() -> Vec<SpanRecord> {
    (0..BATCH as u64)
        .map(|index| {
            let mut span = SpanRecord {
                trace_id: TraceId(
                    0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736 + u128::from(index / 8),
                ),
                id: SpanId(0x00f0_67aa_0ba9_02b7 + index),
                parent_id: (index % 8 != 0).then(|| SpanId(0x00f0_67aa_0ba9_02b7 + index - 1)),
                name: Cow::Borrowed("reserve_stock"),
                timestamp_us: 1_765_000_000_000_000 + index * 37,
                duration_us: 120 + index % 50,
                ..SpanRecord::default()
            };
            if index % 3 == 0 {
                span.name = Cow::Borrowed("GET /items/{id}");
                span.kind = Some(Kind::Server);
                for (key, value) in [
                    ("http.request.method", TagValue::Str("GET".into())),
                    ("http.route", TagValue::Str("/items/{id}".into())),
                    ("url.path", TagValue::Str(format!("/items/{index}").into())),
                    ("url.scheme", TagValue::Str("http".into())),
                    ("server.address", TagValue::Str("catalog.internal".into())),
                    ("server.port", TagValue::I64(8080)),
                    ("client.address", TagValue::Str("10.1.2.3".into())),
                    ("client.port", TagValue::I64(51234)),
                    ("user_agent.original", TagValue::Str("curl/8.5.0".into())),
                    ("network.protocol.version", TagValue::Str("1.1".into())),
                    ("http.response.status_code", TagValue::I64(200)),
                ] {
                    span.tags.push((Cow::Borrowed(key), value));
                }
            } else {
                span.tags.push(("item".into(), TagValue::U64(index)));
                span.tags.push(("count".into(), TagValue::U64(3)));
            }
            if index % 8 == 5 {
                let mut event = Annotation::new(span.timestamp_us + 10, "reserved");
                event.fields.push(("available".into(), TagValue::U64(10)));
                span.annotations.push(event);
            }
            span
        })
        .collect()
}

/// The process the batch comes from.
pub fn sample_resource() -> Resource {
    Resource::new("catalog").attribute("deployment.environment.name", "production")
}

/// Encodes `spans` with the encoder named `encoder` into `out` (cleared first).
pub fn encode(
    encoder: &str,
    spans: &[SpanRecord],
    resource: &Resource,
    local: &Endpoint,
    out: &mut Vec<u8>,
) {
    out.clear();
    match encoder {
        "zipkin_json" => Encoding::Json.encode(spans, local, out),
        "zipkin_proto" => Encoding::Proto.encode(spans, local, out),
        "otlp_protobuf" => Encoding::OtlpProtobuf.encode_batch(spans, resource, out),
        "otlp_json" => Encoding::OtlpJson.encode_batch(spans, resource, out),
        "otlp_protobuf_generated" => generated(spans, resource).encode(out).expect("a Vec grows"),
        other => panic!("unknown encoder {other}"),
    }
}

/// The measured loop: `batches` encodings of the sample batch, a function of its own so
/// callgrind can count inside it alone (`--toggle-collect=*encode_loop*`).
#[inline(never)]
pub fn encode_loop(
    encoder: &str,
    batches: u64,
    spans: &[SpanRecord],
    resource: &Resource,
    local: &Endpoint,
    out: &mut Vec<u8>,
) {
    for _ in 0..batches {
        encode(encoder, black_box(spans), resource, local, out);
        black_box(&out);
    }
}

/// Nanoseconds per span: the fastest of ten rounds of about 50 ms each.
pub fn measure_ns(encoder: &str) -> f64 {
    let spans = sample_batch();
    let resource = sample_resource();
    let local = Endpoint::service("catalog");
    let mut out = Vec::new();
    // Warm-up, and sizes the buffer as the reporter's reused one is.
    encode_loop(encoder, 20, &spans, &resource, &local, &mut out);
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let started = Instant::now();
        let mut batches = 0;
        while started.elapsed() < Duration::from_millis(50) {
            encode_loop(encoder, 5, &spans, &resource, &local, &mut out);
            batches += 5;
        }
        let per_span = started.elapsed().as_nanos() as f64 / (batches * BATCH as u64) as f64;
        best = best.min(per_span);
    }
    best
}

/// The bytes of one encoded batch.
pub fn batch_bytes(encoder: &str) -> usize {
    let mut out = Vec::new();
    encode(
        encoder,
        &sample_batch(),
        &sample_resource(),
        &Endpoint::service("catalog"),
        &mut out,
    );
    out.len()
}

/// The batch as `opentelemetry-proto`'s generated messages, built the way an exporter on those
/// types must: owned strings, id vectors, one `KeyValue` per attribute.
fn generated(spans: &[SpanRecord], resource: &Resource) -> ExportTraceServiceRequest {
    let text = |value: &str| AnyValue {
        value: Some(any_value::Value::StringValue(value.to_owned())),
    };
    let key_value = |key: &str, value: &TagValue| KeyValue {
        key: key.to_owned(),
        value: Some(match value {
            TagValue::Str(text_value) => text(text_value),
            TagValue::I64(number) => AnyValue {
                value: Some(any_value::Value::IntValue(*number)),
            },
            TagValue::U64(number) => AnyValue {
                value: Some(match i64::try_from(*number) {
                    Ok(number) => any_value::Value::IntValue(number),
                    Err(_) => any_value::Value::StringValue(number.to_string()),
                }),
            },
            TagValue::F64(number) => AnyValue {
                value: Some(any_value::Value::DoubleValue(*number)),
            },
            TagValue::Bool(flag) => AnyValue {
                value: Some(any_value::Value::BoolValue(*flag)),
            },
            other => text(&other.to_string()),
        }),
        ..KeyValue::default()
    };
    let mut attributes = vec![KeyValue {
        key: "service.name".to_owned(),
        value: Some(text(&resource.service_name)),
        ..KeyValue::default()
    }];
    attributes.extend(
        resource
            .attributes
            .iter()
            .map(|(key, value)| key_value(key, value)),
    );
    let spans = spans
        .iter()
        .map(|record| {
            let start = record.timestamp_us * 1000;
            Span {
                trace_id: record.trace_id.0.to_be_bytes().to_vec(),
                span_id: record.id.0.to_be_bytes().to_vec(),
                parent_span_id: record
                    .parent_id
                    .map(|parent| parent.0.to_be_bytes().to_vec())
                    .unwrap_or_default(),
                name: record.name.to_string(),
                kind: match record.kind {
                    None => span::SpanKind::Internal,
                    Some(Kind::Server) => span::SpanKind::Server,
                    Some(Kind::Client) => span::SpanKind::Client,
                    Some(Kind::Producer) => span::SpanKind::Producer,
                    Some(Kind::Consumer) => span::SpanKind::Consumer,
                } as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + record.duration_us.max(1) * 1000,
                attributes: record
                    .tags
                    .iter()
                    .map(|(key, value)| key_value(key, value))
                    .collect(),
                events: record
                    .annotations
                    .iter()
                    .map(|annotation| span::Event {
                        time_unix_nano: annotation.timestamp_us * 1000,
                        name: annotation.message.clone(),
                        attributes: annotation
                            .fields
                            .iter()
                            .map(|(key, value)| key_value(key, value))
                            .collect(),
                        ..span::Event::default()
                    })
                    .collect(),
                status: record.error().map(|message| Status {
                    message: message.to_owned(),
                    code: status::StatusCode::Error as i32,
                }),
                flags: 0x101,
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(ProtoResource {
                attributes,
                ..ProtoResource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "traced".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}
