//! `OTEL_RESOURCE_ATTRIBUTES` as tags on every span (Zipkin has no resource).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::export::Exporter;
use crate::model::{SpanRecord, TagValue, TraceId};

type ResourceTags = Arc<[(Cow<'static, str>, TagValue)]>;

pub(super) fn resource_tags(attributes: &[(String, String)]) -> ResourceTags {
    attributes
        .iter()
        .map(|(key, value)| {
            (
                Cow::Owned(key.clone()),
                TagValue::Str(Cow::Owned(value.clone())),
            )
        })
        .collect()
}

pub(super) fn with_resource(exporter: Arc<dyn Exporter>, tags: &ResourceTags) -> Arc<dyn Exporter> {
    if tags.is_empty() {
        exporter
    } else {
        Arc::new(WithResource {
            inner: exporter,
            tags: tags.clone(),
        })
    }
}

/// Adds `OTEL_RESOURCE_ATTRIBUTES` as tags (Zipkin has no resource), unless the span has the
/// key already.
struct WithResource {
    inner: Arc<dyn Exporter>,
    tags: ResourceTags,
}

impl Exporter for WithResource {
    fn export(&self, mut span: SpanRecord) {
        for (key, value) in self.tags.iter() {
            if span.tag(key).is_none() {
                span.tags.push((key.clone(), value.clone()));
            }
        }
        self.inner.export(span)
    }

    fn span_started(&self, trace: TraceId) {
        self.inner.span_started(trace)
    }

    fn flush(&self, timeout: Duration) -> crate::export::FlushOutcome {
        self.inner.flush(timeout)
    }
}
