//! proto3 bodies decoded against the official `zipkin.proto`, compiled at run time.
//!
//! Compiling the `.proto` with `protox` (pure Rust, no `protoc`) and decoding with
//! `prost-reflect`'s `DynamicMessage` means field numbers and types come from the official file,
//! not from a hand-copied `prost` struct that could drift from it.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use prost::bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MapKey, MessageDescriptor, Value};

use crate::span::{ReceivedAnnotation, ReceivedEndpoint, ReceivedSpan};

const KINDS: [&str; 4] = ["CLIENT", "SERVER", "PRODUCER", "CONSUMER"];

/// Decoder (and, for tests, encoder) of `zipkin.proto3.ListOfSpans`.
///
/// ```
/// use traced_tests::{proto::ProtoCodec, ReceivedSpan};
/// let codec = ProtoCodec::load_default().unwrap();
/// let span = ReceivedSpan {
///     trace_id: "5af7183fb1d4cf5f".into(),
///     id: "352bff9a74ca9ad2".into(),
///     kind: Some("CLIENT".into()),
///     timestamp: Some(1556604172355737),
///     duration: Some(10),
///     ..Default::default()
/// };
/// let body = codec.encode(&[span.clone()]).unwrap();
/// let decoded = codec.decode(&body).unwrap();
/// assert_eq!(decoded[0].0, span);
/// assert!(decoded[0].1.is_empty(), "{:?}", decoded[0].1);
/// ```
#[derive(Debug, Clone)]
pub struct ProtoCodec {
    list: MessageDescriptor,
    span: MessageDescriptor,
    endpoint: MessageDescriptor,
    annotation: MessageDescriptor,
}

impl ProtoCodec {
    /// Compiles `zipkin.proto` from [`Schema::api_dir`](crate::schema::Schema::api_dir).
    pub fn load_default() -> Result<ProtoCodec, String> {
        ProtoCodec::load(&crate::schema::Schema::api_dir())
    }

    /// Compiles `zipkin.proto` found in directory `dir`.
    pub fn load(dir: &Path) -> Result<ProtoCodec, String> {
        let fail = |e: protox::Error| format!("cannot compile {}/zipkin.proto: {e}", dir.display());
        let mut compiler = protox::Compiler::new([dir]).map_err(fail)?;
        compiler.open_file("zipkin.proto").map_err(fail)?;
        let pool = compiler.descriptor_pool();
        let get = |name: &str| {
            pool.get_message_by_name(name)
                .ok_or_else(|| format!("zipkin.proto defines no message {name}"))
        };
        Ok(ProtoCodec {
            list: get("zipkin.proto3.ListOfSpans")?,
            span: get("zipkin.proto3.Span")?,
            endpoint: get("zipkin.proto3.Endpoint")?,
            annotation: get("zipkin.proto3.Annotation")?,
        })
    }

    /// Decodes a `ListOfSpans` body. Each span comes with the problems only the binary form can
    /// have (id byte lengths, address lengths, port range, unknown fields); the model rules shared
    /// with JSON are checked elsewhere. `Err` when the bytes are not a `ListOfSpans` at all.
    pub fn decode(&self, body: &[u8]) -> Result<Vec<(ReceivedSpan, Vec<String>)>, String> {
        let list = DynamicMessage::decode(self.list.clone(), body)
            .map_err(|e| format!("malformed proto3 ListOfSpans: {e}"))?;
        let mut out = Vec::new();
        if let Some(unknown) = list.unknown_fields().next() {
            return Err(format!(
                "ListOfSpans has unknown field number {}",
                unknown.number()
            ));
        }
        let spans = list.get_field_by_name("spans").map(|v| v.into_owned());
        for value in spans.as_ref().and_then(Value::as_list).unwrap_or_default() {
            let Some(message) = value.as_message() else {
                continue;
            };
            out.push(self.span_from(message));
        }
        Ok(out)
    }

    fn span_from(&self, m: &DynamicMessage) -> (ReceivedSpan, Vec<String>) {
        let mut problems = Vec::new();
        unknown_fields(m, "Span", &mut problems);
        let bytes = |name: &str| {
            field(m, name)
                .and_then(|v| v.as_bytes().cloned())
                .unwrap_or_default()
        };
        let trace_id = bytes("trace_id");
        if trace_id.len() != 8 && trace_id.len() != 16 {
            problems.push(format!(
                "trace_id has {} bytes; must be 8 or 16",
                trace_id.len()
            ));
        }
        let id = bytes("id");
        if id.len() != 8 {
            problems.push(format!("id has {} bytes; must be 8", id.len()));
        }
        let parent_id = bytes("parent_id");
        if !parent_id.is_empty() && parent_id.len() != 8 {
            problems.push(format!(
                "parent_id has {} bytes; must be 8 or absent",
                parent_id.len()
            ));
        }
        let kind = match field(m, "kind")
            .and_then(|v| v.as_enum_number())
            .unwrap_or(0)
        {
            0 => None,
            n @ 1..=4 => Some(KINDS[n as usize - 1].to_owned()),
            n => {
                problems.push(format!("kind {n} is not a Span.Kind value"));
                Some(format!("UNKNOWN({n})"))
            }
        };
        let nonzero = |name: &str| field(m, name).and_then(|v| v.as_u64()).filter(|&v| v != 0);
        let annotations = field(m, "annotations")
            .and_then(|v| v.as_list().map(<[Value]>::to_vec))
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_message)
            .map(|a| {
                unknown_fields(a, "Annotation", &mut problems);
                ReceivedAnnotation {
                    timestamp: field(a, "timestamp").and_then(|v| v.as_u64()).unwrap_or(0),
                    value: field(a, "value")
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                }
            })
            .collect();
        let tags = field(m, "tags")
            .and_then(|v| v.as_map().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match (k, v) {
                (MapKey::String(k), Value::String(v)) => Some((k, v)),
                _ => None,
            })
            .collect::<BTreeMap<_, _>>();
        let text = |name: &str| {
            field(m, name)
                .and_then(|v| v.as_str().map(str::to_owned))
                .filter(|s| !s.is_empty())
        };
        let span = ReceivedSpan {
            trace_id: hex(&trace_id),
            id: hex(&id),
            parent_id: (!parent_id.is_empty()).then(|| hex(&parent_id)),
            name: text("name"),
            kind,
            timestamp: nonzero("timestamp"),
            duration: nonzero("duration"),
            debug: field(m, "debug").and_then(|v| v.as_bool()).unwrap_or(false),
            shared: field(m, "shared")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            local_endpoint: self.endpoint_from(m, "local_endpoint", &mut problems),
            remote_endpoint: self.endpoint_from(m, "remote_endpoint", &mut problems),
            annotations,
            tags,
        };
        (span, problems)
    }

    fn endpoint_from(
        &self,
        span: &DynamicMessage,
        name: &str,
        problems: &mut Vec<String>,
    ) -> Option<ReceivedEndpoint> {
        if !span.has_field_by_name(name) {
            return None;
        }
        let value = span.get_field_by_name(name)?;
        let m = value.as_message()?;
        unknown_fields(m, "Endpoint", problems);
        let bytes = |field_name: &str| {
            field(m, field_name)
                .and_then(|v| v.as_bytes().cloned())
                .unwrap_or_default()
        };
        let ipv4 = bytes("ipv4");
        let ipv4 = match <[u8; 4]>::try_from(ipv4.as_ref()) {
            Ok(octets) => Some(Ipv4Addr::from(octets).to_string()),
            Err(_) if ipv4.is_empty() => None,
            Err(_) => {
                problems.push(format!("{name}.ipv4 has {} bytes; must be 4", ipv4.len()));
                None
            }
        };
        let ipv6 = bytes("ipv6");
        let ipv6 = match <[u8; 16]>::try_from(ipv6.as_ref()) {
            Ok(octets) => Some(Ipv6Addr::from(octets).to_string()),
            Err(_) if ipv6.is_empty() => None,
            Err(_) => {
                problems.push(format!("{name}.ipv6 has {} bytes; must be 16", ipv6.len()));
                None
            }
        };
        let port = match field(m, "port").and_then(|v| v.as_i32()).unwrap_or(0) {
            0 => None,
            p => match u16::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => {
                    problems.push(format!("{name}.port {p} is not a TCP port"));
                    None
                }
            },
        };
        let service_name = field(m, "service_name")
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty());
        Some(ReceivedEndpoint {
            service_name,
            ipv4,
            ipv6,
            port,
        })
    }

    /// Encodes spans as a `ListOfSpans` body, the way a conformant proto3 exporter would (used to
    /// test the receiver and to compare encoders). Fails on ids or addresses that are not valid.
    pub fn encode(&self, spans: &[ReceivedSpan]) -> Result<Vec<u8>, String> {
        let mut list = DynamicMessage::new(self.list.clone());
        let mut items = Vec::new();
        for span in spans {
            items.push(Value::Message(self.span_to(span)?));
        }
        list.set_field_by_name("spans", Value::List(items));
        Ok(list.encode_to_vec())
    }

    fn span_to(&self, span: &ReceivedSpan) -> Result<DynamicMessage, String> {
        let mut m = DynamicMessage::new(self.span.clone());
        m.set_field_by_name("trace_id", Value::Bytes(unhex(&span.trace_id)?));
        m.set_field_by_name("id", Value::Bytes(unhex(&span.id)?));
        if let Some(parent) = &span.parent_id {
            m.set_field_by_name("parent_id", Value::Bytes(unhex(parent)?));
        }
        if let Some(kind) = &span.kind {
            let n = KINDS
                .iter()
                .position(|k| k == kind)
                .ok_or_else(|| format!("unknown kind {kind}"))?;
            m.set_field_by_name("kind", Value::EnumNumber(n as i32 + 1));
        }
        if let Some(name) = &span.name {
            m.set_field_by_name("name", Value::String(name.clone()));
        }
        if let Some(t) = span.timestamp {
            m.set_field_by_name("timestamp", Value::U64(t));
        }
        if let Some(d) = span.duration {
            m.set_field_by_name("duration", Value::U64(d));
        }
        if let Some(e) = &span.local_endpoint {
            m.set_field_by_name("local_endpoint", Value::Message(self.endpoint_to(e)?));
        }
        if let Some(e) = &span.remote_endpoint {
            m.set_field_by_name("remote_endpoint", Value::Message(self.endpoint_to(e)?));
        }
        let annotations = span
            .annotations
            .iter()
            .map(|a| {
                let mut am = DynamicMessage::new(self.annotation.clone());
                am.set_field_by_name("timestamp", Value::U64(a.timestamp));
                am.set_field_by_name("value", Value::String(a.value.clone()));
                Value::Message(am)
            })
            .collect();
        m.set_field_by_name("annotations", Value::List(annotations));
        let tags: HashMap<MapKey, Value> = span
            .tags
            .iter()
            .map(|(k, v)| (MapKey::String(k.clone()), Value::String(v.clone())))
            .collect();
        m.set_field_by_name("tags", Value::Map(tags));
        m.set_field_by_name("debug", Value::Bool(span.debug));
        m.set_field_by_name("shared", Value::Bool(span.shared));
        Ok(m)
    }

    fn endpoint_to(&self, e: &ReceivedEndpoint) -> Result<DynamicMessage, String> {
        let mut m = DynamicMessage::new(self.endpoint.clone());
        if let Some(s) = &e.service_name {
            m.set_field_by_name("service_name", Value::String(s.clone()));
        }
        if let Some(ip) = &e.ipv4 {
            let ip: Ipv4Addr = ip.parse().map_err(|_| format!("bad ipv4 {ip}"))?;
            m.set_field_by_name("ipv4", Value::Bytes(Bytes::copy_from_slice(&ip.octets())));
        }
        if let Some(ip) = &e.ipv6 {
            let ip: Ipv6Addr = ip.parse().map_err(|_| format!("bad ipv6 {ip}"))?;
            m.set_field_by_name("ipv6", Value::Bytes(Bytes::copy_from_slice(&ip.octets())));
        }
        if let Some(port) = e.port {
            m.set_field_by_name("port", Value::I32(i32::from(port)));
        }
        Ok(m)
    }
}

fn field<'a>(m: &'a DynamicMessage, name: &str) -> Option<std::borrow::Cow<'a, Value>> {
    m.get_field_by_name(name)
}

fn unknown_fields(m: &DynamicMessage, message: &str, problems: &mut Vec<String>) {
    for unknown in m.unknown_fields() {
        problems.push(format!(
            "{message} has unknown field number {} (not in zipkin.proto)",
            unknown.number()
        ));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Bytes, String> {
    if text.len() % 2 == 1 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not an even-length hex id"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<Vec<u8>, String>>()
        .map(Bytes::from)
}
