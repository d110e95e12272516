//! HTTP plumbing for the anchors: an `opentelemetry-http` client over ureq (so the OTel Zipkin
//! exporter needs no reqwest or tokio), and a fastrace reporter that posts Zipkin v2 JSON.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// A blocking `HttpClient` for the OTel SDK; its batch processor calls it on its own thread.
#[derive(Debug)]
pub struct UreqClient(ureq::Agent);

impl UreqClient {
    /// A client with a 10 s timeout, keeping connections alive.
    pub fn new() -> UreqClient {
        UreqClient(agent())
    }
}

impl Default for UreqClient {
    fn default() -> Self {
        UreqClient::new()
    }
}

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self.0.run(Request::from_parts(parts, &body[..]))?;
        Ok(Response::builder()
            .status(response.status())
            .body(Bytes::new())?)
    }
}

/// fastrace's reporter: drops spans while no target is set, else posts them as Zipkin v2 JSON.
pub struct FastraceZipkin {
    target: &'static Mutex<Option<String>>,
    reported: &'static AtomicU64,
    agent: ureq::Agent,
}

impl FastraceZipkin {
    /// Reads the target URL from `target` at each report; counts spans handed over in `reported`.
    pub fn new(
        target: &'static Mutex<Option<String>>,
        reported: &'static AtomicU64,
    ) -> FastraceZipkin {
        FastraceZipkin {
            target,
            reported,
            agent: agent(),
        }
    }
}

impl fastrace::collector::Reporter for FastraceZipkin {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        self.reported
            .fetch_add(spans.len() as u64, Ordering::Relaxed);
        let target = self
            .target
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(url) = target else { return };
        // fastrace hands over everything collected since the last report, possibly millions of
        // spans; POSTs of at most CHUNK spans keep this reporter's own memory small, so the RSS
        // measured is fastrace's.
        let mut body = Vec::new();
        for chunk in spans.chunks(CHUNK) {
            body.clear();
            let json: Vec<ZipkinSpan<'_>> = chunk.iter().map(ZipkinSpan::from).collect();
            if serde_json::to_writer(&mut body, &json).is_err() {
                continue;
            }
            let _ = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(&body[..]);
        }
    }
}

/// Spans per POST from the fastrace reporter (what OTel's batch processor sends by default).
const CHUNK: usize = 512;

/// A Zipkin v2 span, borrowed from a fastrace record.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan<'a> {
    trace_id: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    name: &'a str,
    timestamp: u64,
    duration: u64,
    local_endpoint: LocalEndpoint,
    tags: std::collections::BTreeMap<&'a str, &'a str>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalEndpoint {
    service_name: &'static str,
}

impl<'a> From<&'a fastrace::collector::SpanRecord> for ZipkinSpan<'a> {
    fn from(span: &'a fastrace::collector::SpanRecord) -> ZipkinSpan<'a> {
        ZipkinSpan {
            trace_id: format!("{:032x}", span.trace_id.0),
            id: format!("{:016x}", span.span_id.0),
            parent_id: (span.parent_id.0 != 0).then(|| format!("{:016x}", span.parent_id.0)),
            name: &span.name,
            timestamp: span.begin_time_unix_ns / 1000,
            duration: (span.duration_ns / 1000).max(1),
            local_endpoint: LocalEndpoint {
                service_name: "bench",
            },
            tags: span
                .properties
                .iter()
                .map(|(key, value)| (&**key, &**value))
                .collect(),
        }
    }
}
