//! Whole-body checks: decoding, the schema or proto definitions, and the Zipkin model's prose rules.
//!
//! The schema alone accepts spans Zipkin's documentation asks exporters never to send (a root with
//! a `parentId` of zeros, a zero duration, no service name...). Those rules are written here once,
//! on the decoded [`ReceivedSpan`], so JSON and proto3 bodies are held to the same standard; rules
//! that only make sense for one encoding sit with that encoding.

use std::sync::OnceLock;

use serde_json::Value;

use crate::proto::ProtoCodec;
use crate::schema::Schema;
use crate::span::{ReceivedEndpoint, ReceivedSpan};

/// 2001-09-09 in epoch microseconds; anything earlier is a unit mistake (ms or s), not a time.
const MIN_EPOCH_MICROS: u64 = 1_000_000_000_000_000;
/// 2100-01-01 in epoch microseconds; anything later is likely nanoseconds.
const MAX_EPOCH_MICROS: u64 = 4_102_444_800_000_000;

/// Spans decoded from a body, and every violation found in them.
pub type Checked = (Vec<ReceivedSpan>, Vec<String>);

/// The loaded API definitions; see [`check_json`] and [`check_proto`].
#[derive(Debug)]
pub(crate) struct Checker {
    schema: Schema,
    proto: ProtoCodec,
}

static GLOBAL: OnceLock<Result<Checker, String>> = OnceLock::new();

/// The definitions from [`Schema::api_dir`], loaded once per process.
pub(crate) fn global() -> Result<&'static Checker, String> {
    GLOBAL
        .get_or_init(|| {
            Ok(Checker {
                schema: Schema::load_default()?,
                proto: ProtoCodec::load_default()?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Decodes and checks a JSON v2 `ListOfSpans` body, as the receiver does.
///
/// `Err` means Zipkin would answer 400 (not JSON, not a list, a span without ids); violations
/// do not make it fail. Handy for checking an encoder's output without HTTP:
///
/// ```
/// let body = br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","parentId":"0000000000000000"}]"#;
/// let (spans, violations) = traced_tests::check_json(body).unwrap();
/// assert_eq!(spans.len(), 1);
/// assert!(violations.iter().any(|v| v.contains("parentId of zeros")), "{violations:#?}");
/// ```
pub fn check_json(body: &[u8]) -> Result<Checked, String> {
    global()?.json(body)
}

/// Decodes and checks a proto3 `ListOfSpans` body, as the receiver does.
///
/// ```
/// let (spans, violations) = traced_tests::check_proto(&[]).unwrap();
/// assert!(spans.is_empty() && violations.is_empty());
/// assert!(traced_tests::check_proto(b"\xff\xff").is_err());
/// ```
pub fn check_proto(body: &[u8]) -> Result<Checked, String> {
    global()?.proto(body)
}

impl Checker {
    /// See [`check_json`].
    pub(crate) fn json(&self, body: &[u8]) -> Result<Checked, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
        let list = value.as_array().ok_or_else(|| {
            format!(
                "expected a JSON array of spans (ListOfSpans), got {}",
                short(&value)
            )
        })?;
        let mut spans = Vec::with_capacity(list.len());
        let mut violations = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let span = ReceivedSpan::from_json(item).map_err(|e| format!("span [{i}]: {e}"))?;
            let mut found = self.schema.validate("Span", item);
            json_rules(item, &mut found);
            model_rules(&span, &mut found);
            if !found.is_empty() {
                let text = item.to_string();
                violations.extend(found.into_iter().map(|v| format!("{v} — in span {text}")));
            }
            spans.push(span);
        }
        Ok((spans, violations))
    }

    /// See [`check_proto`].
    pub(crate) fn proto(&self, body: &[u8]) -> Result<Checked, String> {
        let decoded = self.proto.decode(body)?;
        let mut spans = Vec::with_capacity(decoded.len());
        let mut violations = Vec::new();
        for (span, mut found) in decoded {
            model_rules(&span, &mut found);
            if !found.is_empty() {
                let text = span.to_json().to_string();
                violations.extend(
                    found
                        .into_iter()
                        .map(|v| format!("{v} — in proto3 span {text}")),
                );
            }
            spans.push(span);
        }
        Ok((spans, violations))
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// Rules only the JSON form can break: things the typed span cannot tell apart from absence.
fn json_rules(item: &Value, out: &mut Vec<String>) {
    let Some(obj) = item.as_object() else { return };
    if obj
        .get("annotations")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        out.push("empty annotations array: omit annotations when there are none".into());
    }
    if obj
        .get("tags")
        .and_then(Value::as_object)
        .is_some_and(|t| t.is_empty())
    {
        out.push("empty tags object: omit tags when there are none".into());
    }
    for flag in ["debug", "shared"] {
        if obj.get(flag) == Some(&Value::Bool(false)) {
            out.push(format!(
                "{flag}: false is sent; Zipkin wants the flag only when true"
            ));
        }
    }
    if let Some(trace_id) = obj.get("traceId").and_then(Value::as_str) {
        let hex = trace_id.bytes().all(|b| b.is_ascii_hexdigit());
        if hex && trace_id.len() != 16 && trace_id.len() != 32 {
            out.push(format!(
                "traceId has {} characters; must be 16 or 32",
                trace_id.len()
            ));
        }
    }
    for key in ["timestamp", "duration"] {
        if let Some(v) = obj.get(key).filter(|v| v.as_u64().is_none()) {
            out.push(format!(
                "{key} {v} is not a non-negative integer of microseconds"
            ));
        }
    }
    for key in ["localEndpoint", "remoteEndpoint"] {
        if let Some(port) = obj.get(key).and_then(|e| e.get("port")) {
            if port.as_u64().is_none_or(|p| p > 65535) {
                out.push(format!("{key}.port {port} is not a TCP port"));
            }
        }
    }
}

/// The prose rules of the Zipkin v2 model, on the decoded span.
fn model_rules(span: &ReceivedSpan, out: &mut Vec<String>) {
    let zeros = |id: &str| !id.is_empty() && id.bytes().all(|b| b == b'0');
    if zeros(&span.trace_id) {
        out.push("traceId is all zeros".into());
    }
    if zeros(&span.id) {
        out.push("id is all zeros".into());
    }
    match &span.parent_id {
        Some(p) if zeros(p) => out.push("parentId of zeros: a root span must omit parentId".into()),
        Some(p) if *p == span.id => {
            out.push("parentId equals id: a span cannot be its own parent".into())
        }
        _ => {}
    }
    if span.name.as_deref() == Some("") {
        out.push("empty name: omit name when unknown".into());
    }
    match span.timestamp {
        None => out.push("timestamp missing: a finished span needs its start".into()),
        Some(t) => epoch_micros("timestamp", t, out),
    }
    match span.duration {
        None => out.push("duration missing: a finished span needs its duration".into()),
        Some(0) => out.push("duration 0: Zipkin wants at least 1 microsecond".into()),
        Some(_) => {}
    }
    for annotation in &span.annotations {
        epoch_micros(
            &format!("annotation {:?} timestamp", annotation.value),
            annotation.timestamp,
            out,
        );
    }
    match &span.local_endpoint {
        None => {
            out.push("localEndpoint missing: Zipkin files the span under an unknown service".into())
        }
        Some(e) if e.service_name.is_none() => out
            .push("localEndpoint without serviceName: Zipkin shows the service as unknown".into()),
        Some(_) => {}
    }
    for (which, endpoint) in [
        ("localEndpoint", &span.local_endpoint),
        ("remoteEndpoint", &span.remote_endpoint),
    ] {
        if let Some(endpoint) = endpoint {
            endpoint_rules(which, endpoint, out);
        }
    }
    if span.shared && span.kind.as_deref() != Some("SERVER") {
        out.push(format!(
            "shared on a {} span: only a SERVER span may share its client's id",
            kind_text(span)
        ));
    }
}

fn kind_text(span: &ReceivedSpan) -> &str {
    span.kind.as_deref().unwrap_or("local (no kind)")
}

fn endpoint_rules(which: &str, endpoint: &ReceivedEndpoint, out: &mut Vec<String>) {
    if endpoint.is_empty() {
        out.push(format!(
            "empty {which}: omit an endpoint with nothing known"
        ));
    }
    if let Some(name) = &endpoint.service_name {
        if name.is_empty() {
            out.push(format!(
                "{which}.serviceName is empty: omit it when unknown"
            ));
        } else if *name != name.to_lowercase() {
            out.push(format!("{which}.serviceName {name:?} is not lowercase"));
        }
    }
    if endpoint.port == Some(0) {
        out.push(format!("{which}.port 0: omit the port when unknown"));
    }
}

fn epoch_micros(what: &str, t: u64, out: &mut Vec<String>) {
    if !(MIN_EPOCH_MICROS..MAX_EPOCH_MICROS).contains(&t) {
        out.push(format!(
            "{what} {t} is not epoch microseconds between 2001 and 2100"
        ));
    }
}
