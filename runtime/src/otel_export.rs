//! A conformant Zipkin exporter for OpenTelemetry SDK users: `opentelemetry_sdk`'s
//! [`SpanExporter`] on top of our encoder and reporter (feature `opentelemetry`).
//!
//! Spans are converted to [`SpanRecord`]s and sent by a [`ZipkinReporter`]: its own thread
//! batches, POSTs and retries, so no async runtime is ever needed. `export` waits (at most the
//! export timeout) for its spans to be delivered and says if they were not, as the SDK's
//! processors expect; use the SDK's batch processor so that wait stays off your threads. The conversion follows OpenTelemetry's Zipkin mapping: kind `INTERNAL` has no Zipkin
//! kind; attributes become tags (typed until encoded); events become annotations (name, then
//! `key=value` attributes); an error status sets the `error` tag to its description and
//! `otel.status_code`; the peer attributes make the remote endpoint (and a SERVER span's
//! `server.port` its local port) by the same rule as for `tracing` spans, in
//! [`crate::semconv`]; the resource's `service.name` names the local endpoint.
//!
//! ```no_run
//! use opentelemetry::trace::{Tracer, TracerProvider as _};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use opentelemetry_sdk::Resource;
//! use traced::otel_export::ZipkinExporter;
//! use traced::report::ReporterConfig;
//!
//! let exporter = ZipkinExporter::start(ReporterConfig::default())?;
//! let provider = SdkTracerProvider::builder()
//!     .with_resource(Resource::builder_empty().with_service_name("checkout").build())
//!     .with_simple_exporter(exporter)
//!     .build();
//! provider.tracer("example").in_span("work", |_cx| {});
//! provider.shutdown().ok();
//! # Ok::<(), traced::report::ReportError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::export::Exporter;
use crate::model::{Annotation, Kind, Link, SpanId, SpanRecord, TagValue, TraceId};
use crate::report::{ReportError, ReporterConfig, ZipkinReporter};
use crate::semconv::PeerFields;

/// How long `force_flush` waits for the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Exports OpenTelemetry SDK spans to Zipkin in our spec-exact encoding.
///
/// See the [module documentation](self) for the mapping and an example.
pub struct ZipkinExporter {
    reporter: ZipkinReporter,
    service_name: Option<Arc<str>>,
    shut_down: AtomicBool,
    /// How long `export` waits for its spans to be delivered.
    export_timeout: Duration,
}

impl fmt::Debug for ZipkinExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZipkinExporter")
            .field("reporter", &self.reporter)
            .field("service_name", &self.service_name)
            .finish()
    }
}

impl ZipkinExporter {
    /// Starts a reporter with `config` and exports through it.
    pub fn start(config: ReporterConfig) -> Result<ZipkinExporter, ReportError> {
        let export_timeout = config.export_timeout;
        let mut exporter = ZipkinExporter::with_reporter(ZipkinReporter::start(config)?);
        exporter.export_timeout = export_timeout;
        Ok(exporter)
    }

    /// Exports through an existing reporter (shared with a [`crate::TracedLayer`], say).
    pub fn with_reporter(reporter: ZipkinReporter) -> ZipkinExporter {
        ZipkinExporter {
            reporter,
            service_name: None,
            shut_down: AtomicBool::new(false),
            export_timeout: ReporterConfig::default().export_timeout,
        }
    }

    /// Queues `batch` on the reporter and waits, at most the export timeout, until it is
    /// delivered: the SDK's processors expect `export` to finish the job (its batch processor
    /// calls it from its own thread; its simple processor, on the thread that ended the span,
    /// which is why it is not meant for production).
    fn export_and_wait(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let dropped_before = self.reporter.stats().dropped;
        for span in batch {
            self.reporter
                .export(span_record(span, self.service_name.as_ref()));
        }
        let unsent = self.reporter.flush(self.export_timeout).unsent;
        let refused = self.reporter.stats().dropped - dropped_before;
        match unsent.max(refused) {
            0 => Ok(()),
            lost => Err(OTelSdkError::InternalFailure(format!(
                "{lost} span(s) could not be sent to {}",
                self.reporter.endpoint()
            ))),
        }
    }

    /// The reporter underneath, for its [`stats`](ZipkinReporter::stats).
    pub fn reporter(&self) -> &ZipkinReporter {
        &self.reporter
    }
}

impl SpanExporter for ZipkinExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.export_and_wait(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match self.reporter.shutdown(timeout).unsent {
            0 => Ok(()),
            unsent => Err(OTelSdkError::InternalFailure(format!(
                "{unsent} span(s) could not be sent to {}",
                self.reporter.endpoint()
            ))),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self.reporter.flush(FLUSH_TIMEOUT).unsent {
            0 => Ok(()),
            unsent => Err(OTelSdkError::InternalFailure(format!(
                "{unsent} span(s) could not be sent to {}",
                self.reporter.endpoint()
            ))),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service_name = resource
            .get(&Key::from_static_str("service.name"))
            .map(|name| Arc::from(name.as_str().to_lowercase()));
    }
}

/// Converts one SDK span to our model.
pub fn span_record(span: SpanData, service_name: Option<&Arc<str>>) -> SpanRecord {
    let context = &span.span_context;
    let parent = u64::from_be_bytes(span.parent_span_id.to_bytes());
    let start = epoch_us(span.start_time);
    let end = epoch_us(span.end_time);
    let mut record = SpanRecord {
        trace_id: TraceId(u128::from_be_bytes(context.trace_id().to_bytes())),
        id: SpanId(u64::from_be_bytes(context.span_id().to_bytes())),
        parent_id: (parent != 0).then_some(SpanId(parent)),
        name: span.name,
        kind: match span.span_kind {
            SpanKind::Client => Some(Kind::Client),
            SpanKind::Server => Some(Kind::Server),
            SpanKind::Producer => Some(Kind::Producer),
            SpanKind::Consumer => Some(Kind::Consumer),
            SpanKind::Internal => None,
        },
        timestamp_us: start,
        duration_us: end.saturating_sub(start).max(1),
        service_name: service_name.cloned(),
        local_root: parent == 0 || span.parent_span_is_remote,
        ..SpanRecord::default()
    };
    let mut peer = PeerFields::default();
    record.tags.reserve(span.attributes.len() + 3);
    for KeyValue { key, value, .. } in span.attributes {
        note_peer(&mut peer, key.as_str(), &value);
        record.tags.push((key_text(key), tag_value(value)));
    }
    if span.dropped_attributes_count > 0 {
        record.tags.push((
            "otel.dropped_attributes_count".into(),
            TagValue::U64(u64::from(span.dropped_attributes_count)),
        ));
    }
    match span.status {
        Status::Unset => {}
        Status::Ok => record
            .tags
            .push(("otel.status_code".into(), TagValue::Str("OK".into()))),
        Status::Error { description } => {
            record
                .tags
                .push(("otel.status_code".into(), TagValue::Str("ERROR".into())));
            let message = if description.is_empty() {
                Cow::Borrowed("true")
            } else {
                description
            };
            record.tags.push(("error".into(), TagValue::Str(message)));
        }
    }
    let scope = &span.instrumentation_scope;
    if !scope.name().is_empty() {
        record.tags.push((
            "otel.scope.name".into(),
            TagValue::Str(Cow::Owned(scope.name().to_owned())),
        ));
        if let Some(version) = scope.version() {
            record.tags.push((
                "otel.scope.version".into(),
                TagValue::Str(Cow::Owned(version.to_owned())),
            ));
        }
    }
    record.annotations = span
        .events
        .events
        .into_iter()
        .map(|event| Annotation {
            timestamp_us: epoch_us(event.timestamp),
            message: event.name.into_owned(),
            fields: event
                .attributes
                .into_iter()
                .map(|KeyValue { key, value, .. }| (key_text(key), tag_value(value)))
                .collect(),
            dropped_fields: event.dropped_attributes_count,
        })
        .collect();
    let links: Vec<Link> = span
        .links
        .links
        .iter()
        .map(|link| Link {
            trace_id: TraceId(u128::from_be_bytes(link.span_context.trace_id().to_bytes())),
            span_id: SpanId(u64::from_be_bytes(link.span_context.span_id().to_bytes())),
        })
        .collect();
    if !links.is_empty() {
        record.extra_mut().links = links;
    }
    (record.local_port, record.remote_endpoint) = peer.resolve(record.kind);
    record
}

fn epoch_us(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        since.as_micros().min(u128::from(u64::MAX)) as u64
    })
}

fn key_text(key: Key) -> Cow<'static, str> {
    Cow::Owned(key.as_str().to_owned())
}

fn tag_value(value: Value) -> TagValue {
    match value {
        Value::Bool(value) => TagValue::Bool(value),
        Value::I64(value) => TagValue::I64(value),
        Value::F64(value) => TagValue::F64(value),
        Value::String(text) => TagValue::Str(Cow::Owned(text.into())),
        other => TagValue::Str(Cow::Owned(other.to_string())),
    }
}

/// Notes an attribute that describes the remote endpoint, by the rule the layer follows too
/// ([`crate::semconv`]).
fn note_peer(peer: &mut PeerFields, key: &str, value: &Value) {
    let Some(field) = crate::semconv::peer_field(key) else {
        return;
    };
    match value {
        Value::I64(number) => peer.integer(field, i128::from(*number)),
        other => peer.text(field, &other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn data() -> SpanData {
        let start = UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000);
        SpanData {
            span_context: SpanContext::new(
                opentelemetry::trace::TraceId::from_bytes(0xabcu128.to_be_bytes()),
                opentelemetry::trace::SpanId::from_bytes(0x12u64.to_be_bytes()),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: opentelemetry::trace::SpanId::from_bytes(0x11u64.to_be_bytes()),
            parent_span_is_remote: true,
            span_kind: SpanKind::Client,
            name: "GET".into(),
            start_time: start,
            end_time: start + Duration::from_micros(250),
            attributes: vec![
                KeyValue::new("http.status_code", 503i64),
                KeyValue::new("retry", true),
                KeyValue::new("peer.service", "Inventory"),
                KeyValue::new("server.address", "10.0.0.9"),
                KeyValue::new("server.port", 8443i64),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::error("upstream unavailable"),
            instrumentation_scope: opentelemetry::InstrumentationScope::builder("lib")
                .with_version("1.2")
                .build(),
        }
    }

    #[test]
    fn ids_kind_times_and_parent_map_exactly() {
        let record = span_record(data(), None);
        assert_eq!(record.trace_id, TraceId(0xabc));
        assert_eq!(record.id, SpanId(0x12));
        assert_eq!(record.parent_id, Some(SpanId(0x11)));
        assert_eq!(record.kind, Some(Kind::Client));
        assert_eq!(
            (record.timestamp_us, record.duration_us),
            (1_700_000_000_000_000, 250)
        );
        assert!(record.local_root);
    }

    #[test]
    fn attributes_stay_typed_and_status_becomes_error_tags() {
        let record = span_record(data(), Some(&Arc::from("shop")));
        assert_eq!(record.tag("http.status_code"), Some(&TagValue::I64(503)));
        assert_eq!(record.tag("retry"), Some(&TagValue::Bool(true)));
        assert_eq!(record.error(), Some("upstream unavailable"));
        assert_eq!(
            record.tag("otel.status_code").and_then(TagValue::as_str),
            Some("ERROR")
        );
        assert_eq!(
            record.tag("otel.scope.version").and_then(TagValue::as_str),
            Some("1.2")
        );
        assert_eq!(record.service_name.as_deref(), Some("shop"));
    }

    #[test]
    fn peer_attributes_make_the_remote_endpoint() {
        let remote = span_record(data(), None).remote_endpoint.unwrap();
        assert_eq!(remote.service_name.as_deref(), Some("inventory"));
        assert_eq!(remote.ipv4, Some(std::net::Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(remote.port, Some(8443));
    }

    /// The same attributes give the same endpoints whether they come as OpenTelemetry
    /// attributes or as `tracing` fields: one rule, in `crate::semconv`.
    #[test]
    fn the_same_attributes_give_the_same_endpoints_as_the_layer() {
        let capture = crate::testing::Capture::new();
        capture.in_scope(|| {
            tracing::info_span!(
                "server",
                otel.kind = "server",
                server.address = "shop.internal",
                server.port = 8080i64,
                client.address = "10.0.0.7",
                client.port = 51234i64,
            )
            .in_scope(|| {});
            tracing::info_span!(
                "client",
                otel.kind = "client",
                peer.service = "Inventory",
                server.address = "10.0.0.9",
                server.port = 8443i64,
                client.address = "10.0.0.7",
            )
            .in_scope(|| {});
        });
        let mut server = data();
        server.span_kind = SpanKind::Server;
        server.attributes = vec![
            KeyValue::new("server.address", "shop.internal"),
            KeyValue::new("server.port", 8080i64),
            KeyValue::new("client.address", "10.0.0.7"),
            KeyValue::new("client.port", 51234i64),
        ];
        let mut client = data();
        client
            .attributes
            .push(KeyValue::new("client.address", "10.0.0.7"));
        for (name, data) in [("server", server), ("client", client)] {
            let layer = capture.span(name);
            let exported = span_record(data, None);
            assert!(layer.remote_endpoint.is_some(), "{name}");
            assert_eq!(exported.remote_endpoint, layer.remote_endpoint, "{name}");
            assert_eq!(exported.local_port, layer.local_port, "{name}");
        }
        let server = capture.span("server");
        assert_eq!(server.local_port, Some(8080));
        assert_eq!(
            server.remote_endpoint.unwrap().ipv4,
            Some(std::net::Ipv4Addr::new(10, 0, 0, 7))
        );
    }

    #[test]
    fn roots_have_no_parent_and_internal_spans_no_kind() {
        let mut root = data();
        root.parent_span_id = opentelemetry::trace::SpanId::INVALID;
        root.span_kind = SpanKind::Internal;
        root.end_time = root.start_time;
        let record = span_record(root, None);
        assert_eq!((record.parent_id, record.kind), (None, None));
        assert_eq!(record.duration_us, 1);
    }
}
