//! The Zipkin v2 span as the receiver saw it, whichever encoding carried it.
//!
//! Fields keep the wire's text form (ids as hex, `kind` as its enum name) so a test compares with
//! what Zipkin would show, and a malformed value is kept as sent rather than silently fixed: the
//! violations list says what is wrong with it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One span accepted by the [`Receiver`](crate::Receiver), decoded from JSON v2 or proto3.
///
/// ```
/// use traced_tests::ReceivedSpan;
/// let json = serde_json::json!({
///     "traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2", "name": "get /api",
///     "timestamp": 1556604172355737u64, "duration": 1431, "kind": "SERVER",
///     "localEndpoint": { "serviceName": "backend", "port": 3306 },
///     "tags": { "http.method": "GET" }
/// });
/// let span = ReceivedSpan::from_json(&json).unwrap();
/// assert_eq!(span.service(), Some("backend"));
/// assert_eq!(span.tag("http.method"), Some("GET"));
/// assert_eq!(span.kind.as_deref(), Some("SERVER"));
/// assert_eq!(ReceivedSpan::from_json(&span.to_json()).unwrap(), span);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedSpan {
    /// Hex trace id, as sent (JSON) or hex-encoded from its bytes (proto3).
    pub trace_id: String,
    /// Hex span id.
    pub id: String,
    /// Hex parent id; `None` when absent (a root, or a child of a remote parent never seen here).
    pub parent_id: Option<String>,
    /// Span name; `None` when absent.
    pub name: Option<String>,
    /// `CLIENT`, `SERVER`, `PRODUCER` or `CONSUMER` (JSON keeps any other text as sent).
    pub kind: Option<String>,
    /// Start, epoch microseconds.
    pub timestamp: Option<u64>,
    /// Duration in microseconds.
    pub duration: Option<u64>,
    /// The `debug` flag.
    pub debug: bool,
    /// The `shared` flag: a server span joining its client's span id.
    pub shared: bool,
    /// The host that recorded the span.
    pub local_endpoint: Option<ReceivedEndpoint>,
    /// The other side of an RPC or the broker.
    pub remote_endpoint: Option<ReceivedEndpoint>,
    /// Timestamped events, in the order sent.
    pub annotations: Vec<ReceivedAnnotation>,
    /// String tags (a non-string JSON value is kept as its JSON text, and is a violation).
    pub tags: BTreeMap<String, String>,
}

/// A Zipkin `Endpoint`.
///
/// ```
/// use traced_tests::ReceivedEndpoint;
/// let e = ReceivedEndpoint { service_name: Some("db".into()), port: Some(5432), ..Default::default() };
/// assert!(!e.is_empty());
/// assert!(ReceivedEndpoint::default().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedEndpoint {
    /// Lower-case service name.
    pub service_name: Option<String>,
    /// IPv4 address in dotted form.
    pub ipv4: Option<String>,
    /// IPv6 address in text form.
    pub ipv6: Option<String>,
    /// Port; a value outside 0..=65535 is dropped here and reported as a violation.
    pub port: Option<u16>,
}

impl ReceivedEndpoint {
    /// Whether no field is set (Zipkin wants such an endpoint omitted).
    pub fn is_empty(&self) -> bool {
        self.service_name.is_none()
            && self.ipv4.is_none()
            && self.ipv6.is_none()
            && self.port.is_none()
    }

    /// Decodes a JSON `Endpoint` leniently; `None` when it is not an object.
    pub fn from_json(value: &Value) -> Option<ReceivedEndpoint> {
        let obj = value.as_object()?;
        Some(ReceivedEndpoint {
            service_name: str_field(obj, "serviceName"),
            ipv4: str_field(obj, "ipv4"),
            ipv6: str_field(obj, "ipv6"),
            port: obj
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok()),
        })
    }

    /// The Zipkin v2 JSON form, omitting absent fields.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        if let Some(s) = &self.service_name {
            obj.insert("serviceName".into(), s.clone().into());
        }
        if let Some(s) = &self.ipv4 {
            obj.insert("ipv4".into(), s.clone().into());
        }
        if let Some(s) = &self.ipv6 {
            obj.insert("ipv6".into(), s.clone().into());
        }
        if let Some(p) = self.port {
            obj.insert("port".into(), p.into());
        }
        Value::Object(obj)
    }
}

/// A Zipkin `Annotation`: an event at a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedAnnotation {
    /// Epoch microseconds.
    pub timestamp: u64,
    /// The event text.
    pub value: String,
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl ReceivedSpan {
    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// The local endpoint's service name: the service Zipkin files this span under.
    pub fn service(&self) -> Option<&str> {
        self.local_endpoint.as_ref()?.service_name.as_deref()
    }

    /// The remote endpoint's service name.
    pub fn remote_service(&self) -> Option<&str> {
        self.remote_endpoint.as_ref()?.service_name.as_deref()
    }

    /// The span name, or `""` when absent (handy in assertions and renderings).
    pub fn name_or_empty(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The annotation texts in the order sent.
    pub fn annotation_values(&self) -> Vec<&str> {
        self.annotations.iter().map(|a| a.value.as_str()).collect()
    }

    /// Whether the span has an `error` tag (Zipkin's convention for a failed operation).
    pub fn is_error(&self) -> bool {
        self.tags.contains_key("error")
    }

    /// End time in epoch microseconds, when both timestamp and duration are known.
    pub fn end(&self) -> Option<u64> {
        Some(self.timestamp?.saturating_add(self.duration?))
    }

    /// Decodes one element of a JSON `ListOfSpans`.
    ///
    /// Lenient on purpose: only a non-object or a missing or non-string `traceId` / `id` is an
    /// error (nothing would identify the span); any other malformed field is left out here and
    /// reported by the schema check instead.
    pub fn from_json(value: &Value) -> Result<ReceivedSpan, String> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("a span must be a JSON object, got {value}"))?;
        let trace_id = str_field(obj, "traceId")
            .ok_or_else(|| format!("span without a string traceId: {value}"))?;
        let id =
            str_field(obj, "id").ok_or_else(|| format!("span without a string id: {value}"))?;
        let annotations = obj
            .get("annotations")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|a| {
                        Some(ReceivedAnnotation {
                            timestamp: a.get("timestamp")?.as_u64()?,
                            value: a.get("value")?.as_str()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let tags = obj
            .get("tags")
            .and_then(Value::as_object)
            .map(|tags| {
                tags.iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ReceivedSpan {
            trace_id,
            id,
            parent_id: str_field(obj, "parentId"),
            name: str_field(obj, "name"),
            kind: str_field(obj, "kind"),
            timestamp: obj.get("timestamp").and_then(Value::as_u64),
            duration: obj.get("duration").and_then(Value::as_u64),
            debug: obj.get("debug").and_then(Value::as_bool).unwrap_or(false),
            shared: obj.get("shared").and_then(Value::as_bool).unwrap_or(false),
            local_endpoint: obj
                .get("localEndpoint")
                .and_then(ReceivedEndpoint::from_json),
            remote_endpoint: obj
                .get("remoteEndpoint")
                .and_then(ReceivedEndpoint::from_json),
            annotations,
            tags,
        })
    }

    /// The Zipkin v2 JSON form (absent and empty fields omitted, flags only when true), as used in
    /// violation messages and failure output.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("traceId".into(), self.trace_id.clone().into());
        if let Some(p) = &self.parent_id {
            obj.insert("parentId".into(), p.clone().into());
        }
        obj.insert("id".into(), self.id.clone().into());
        if let Some(k) = &self.kind {
            obj.insert("kind".into(), k.clone().into());
        }
        if let Some(n) = &self.name {
            obj.insert("name".into(), n.clone().into());
        }
        if let Some(t) = self.timestamp {
            obj.insert("timestamp".into(), t.into());
        }
        if let Some(d) = self.duration {
            obj.insert("duration".into(), d.into());
        }
        if self.debug {
            obj.insert("debug".into(), true.into());
        }
        if self.shared {
            obj.insert("shared".into(), true.into());
        }
        if let Some(e) = &self.local_endpoint {
            obj.insert("localEndpoint".into(), e.to_json());
        }
        if let Some(e) = &self.remote_endpoint {
            obj.insert("remoteEndpoint".into(), e.to_json());
        }
        if !self.annotations.is_empty() {
            let list = self
                .annotations
                .iter()
                .map(|a| serde_json::json!({ "timestamp": a.timestamp, "value": a.value }))
                .collect();
            obj.insert("annotations".into(), Value::Array(list));
        }
        if !self.tags.is_empty() {
            let tags = self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            obj.insert("tags".into(), Value::Object(tags));
        }
        Value::Object(obj)
    }
}
