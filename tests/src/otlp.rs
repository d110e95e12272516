//! OTLP/HTTP bodies as a strict collector reads them: decoded with the generated types of the
//! `opentelemetry-proto` crate (made from the official `.proto` files; protobuf with prost, JSON
//! with its OTLP/JSON serde mapping), then held to the rules of the OTLP trace model, and seen as
//! Zipkin-shaped [`ReceivedSpan`]s so the receiver's other checks and helpers apply.
//!
//! ```
//! use traced::encode::encode_otlp_proto;
//! use traced::model::{Resource, SpanId, SpanRecord, TraceId};
//!
//! let span = SpanRecord { trace_id: TraceId(7), id: SpanId(9), name: "Work".into(), timestamp_us: 1_700_000_000_000_000, duration_us: 5, ..Default::default() };
//! let mut body = Vec::new();
//! encode_otlp_proto(&[span], &Resource::new("Shop"), &mut body);
//! let request = traced_tests::otlp::decode("application/x-protobuf", &body).unwrap();
//! assert!(traced_tests::otlp::violations(&request).is_empty());
//! let spans = traced_tests::otlp::received_spans(&request);
//! assert_eq!(spans[0].name.as_deref(), Some("Work"));
//! assert_eq!(spans[0].service(), Some("Shop"));
//! ```

use std::collections::BTreeMap;

pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
pub use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
pub use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, Span};
use prost::Message;

use crate::span::{ReceivedAnnotation, ReceivedEndpoint, ReceivedSpan};

/// The path OTLP/HTTP collectors take traces on.
pub const TRACES_PATH: &str = "/v1/traces";

/// Decodes a body by its media type (`application/x-protobuf` or `application/json`).
pub fn decode(media_type: &str, body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    match media_type {
        "application/x-protobuf" => ExportTraceServiceRequest::decode(body)
            .map_err(|error| format!("not an OTLP protobuf ExportTraceServiceRequest: {error}")),
        "application/json" => serde_json::from_slice(body)
            .map_err(|error| format!("not an OTLP/JSON ExportTraceServiceRequest: {error}")),
        other => Err(format!("unsupported Content-Type for OTLP: {other}")),
    }
}

/// Everything in `request` that breaks the OTLP trace model's rules.
pub fn violations(request: &ExportTraceServiceRequest) -> Vec<String> {
    let mut found = Vec::new();
    for resource_spans in &request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| string_attribute(&resource.attributes, "service.name"));
        match &service {
            None => found.push("a resource without a string service.name".to_owned()),
            Some(name) if name.is_empty() => found.push("an empty service.name".to_owned()),
            Some(_) => {}
        }
        for scope_spans in &resource_spans.scope_spans {
            if scope_spans
                .scope
                .as_ref()
                .is_none_or(|scope| scope.name.is_empty())
            {
                found.push("scope spans without an instrumentation scope name".to_owned());
            }
            for span in &scope_spans.spans {
                check_span(span, &mut found);
            }
        }
    }
    found
}

fn check_span(span: &Span, found: &mut Vec<String>) {
    let name = &span.name;
    let mut bad = |what: String| found.push(format!("span {name:?}: {what}"));
    if span.trace_id.len() != 16 || span.trace_id.iter().all(|byte| *byte == 0) {
        bad(format!(
            "trace id {:02x?} is not 16 non-zero bytes",
            span.trace_id
        ));
    }
    if span.span_id.len() != 8 || span.span_id.iter().all(|byte| *byte == 0) {
        bad(format!(
            "span id {:02x?} is not 8 non-zero bytes",
            span.span_id
        ));
    }
    if !span.parent_span_id.is_empty()
        && (span.parent_span_id.len() != 8 || span.parent_span_id == span.span_id)
    {
        bad(format!("parent id {:02x?} is invalid", span.parent_span_id));
    }
    if name.is_empty() {
        bad("empty name".to_owned());
    }
    if !(1..=5).contains(&span.kind) {
        bad(format!(
            "kind {} is not one of INTERNAL..CONSUMER",
            span.kind
        ));
    }
    // 2001 to 2100 in nanoseconds: catches micro- and milliseconds sent as nanoseconds.
    let plausible = 978_307_200_000_000_000..4_102_444_800_000_000_000u64;
    if !plausible.contains(&span.start_time_unix_nano) {
        bad(format!(
            "start {} is not Unix nanoseconds",
            span.start_time_unix_nano
        ));
    }
    if span.end_time_unix_nano < span.start_time_unix_nano {
        bad("ends before it starts".to_owned());
    }
    let mut keys = std::collections::HashSet::new();
    for attribute in &span.attributes {
        if attribute.key.is_empty() || !keys.insert(attribute.key.as_str()) {
            bad(format!(
                "attribute key {:?} empty or repeated",
                attribute.key
            ));
        }
        if attribute
            .value
            .as_ref()
            .and_then(|v| v.value.as_ref())
            .is_none()
        {
            bad(format!("attribute {:?} without a value", attribute.key));
        }
    }
    for event in &span.events {
        if event.name.is_empty() {
            bad("an event without a name".to_owned());
        }
        if !plausible.contains(&event.time_unix_nano) {
            bad(format!(
                "event time {} is not Unix nanoseconds",
                event.time_unix_nano
            ));
        }
    }
    for link in &span.links {
        if link.trace_id.len() != 16 || link.span_id.len() != 8 {
            bad("a link with malformed ids".to_owned());
        }
    }
    if let Some(status) = &span.status {
        if !(0..=2).contains(&status.code) {
            bad(format!("status code {}", status.code));
        }
        if status.code != 2 && !status.message.is_empty() {
            bad("a status message without an ERROR code".to_owned());
        }
    }
    // Bit 0: sampled (we only report sampled spans); bit 8: the is-remote bit is known.
    if span.flags & 0x101 != 0x101 {
        bad(format!(
            "flags {:#x} lack sampled and has-is-remote",
            span.flags
        ));
    }
}

/// The value of a string attribute.
pub fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

/// The typed value of an attribute.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

/// An attribute value as Zipkin would show it.
pub fn value_text(value: &any_value::Value) -> String {
    match value {
        any_value::Value::StringValue(text) => text.clone(),
        any_value::Value::BoolValue(flag) => flag.to_string(),
        any_value::Value::IntValue(number) => number.to_string(),
        any_value::Value::DoubleValue(number) => number.to_string(),
        other => format!("{other:?}"),
    }
}

/// Every span of `request` with its resource's service name.
pub fn spans(request: &ExportTraceServiceRequest) -> Vec<(String, Span)> {
    let mut all = Vec::new();
    for resource_spans in &request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| string_attribute(&resource.attributes, "service.name"))
            .unwrap_or_default();
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                all.push((service.clone(), span.clone()));
            }
        }
    }
    all
}

/// The spans as Zipkin-shaped records: hex ids, kind names, microseconds, the resource's service
/// as the local endpoint (as written), attributes as text tags, an ERROR status as the `error`
/// tag, events as `name key=value` annotations.
pub fn received_spans(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    spans(request)
        .into_iter()
        .map(|(service, span)| {
            let mut tags: BTreeMap<String, String> = span
                .attributes
                .iter()
                .filter_map(|kv| {
                    Some((
                        kv.key.clone(),
                        value_text(kv.value.as_ref()?.value.as_ref()?),
                    ))
                })
                .collect();
            if let Some(status) = &span.status {
                if status.code == 2 {
                    tags.insert("error".to_owned(), status.message.clone());
                }
            }
            let kind = match span.kind {
                2 => Some("SERVER"),
                3 => Some("CLIENT"),
                4 => Some("PRODUCER"),
                5 => Some("CONSUMER"),
                _ => None,
            };
            ReceivedSpan {
                trace_id: hex(&span.trace_id),
                id: hex(&span.span_id),
                parent_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
                name: Some(span.name.clone()),
                kind: kind.map(str::to_owned),
                timestamp: Some(span.start_time_unix_nano / 1000),
                duration: Some(
                    span.end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano)
                        / 1000,
                ),
                debug: false,
                shared: false,
                local_endpoint: Some(ReceivedEndpoint {
                    service_name: Some(service),
                    ..ReceivedEndpoint::default()
                }),
                remote_endpoint: None,
                annotations: span
                    .events
                    .iter()
                    .map(|event| {
                        let mut value = event.name.clone();
                        for kv in &event.attributes {
                            if let Some(field) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                value.push_str(&format!(" {}={}", kv.key, value_text(field)));
                            }
                        }
                        ReceivedAnnotation {
                            timestamp: event.time_unix_nano / 1000,
                            value,
                        }
                    })
                    .collect(),
                tags,
            }
        })
        .collect()
}

/// Lower-hex text of id bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
