//! `init()` is lenient: a bad variable gives one warning and its default, never a failure; the
//! filter from `RUST_LOG` applies to the extra layers added with `Builder::layer`, never to the
//! spans that reach the exporters (those have `TRACED_SPANS`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use traced::testing::Capture;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Counts the spans an extra layer sees.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Counter {
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: Context<'_, S>,
    ) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn init_uses_defaults_for_bad_values_and_rust_log_filters_only_the_extra_layers() {
    let capture = Capture::new();
    let counter = Counter::default();
    let guard = traced::Builder::from_vars([
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
        ("RUST_LOG", "warn"),
    ])
    .exporters([])
    .custom_exporter(capture.clone())
    .layer(counter.clone())
    .init();

    tracing::info_span!("quiet").in_scope(|| {});
    tracing::warn_span!("loud").in_scope(|| {
        tracing::error_span!("louder").in_scope(|| {});
    });

    let names: Vec<String> = capture.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        ["quiet", "louder", "loud"],
        "the default sampler still records, and RUST_LOG does not filter spans"
    );
    assert_eq!(
        counter.0.load(Ordering::Relaxed),
        2,
        "the extra layer is filtered by RUST_LOG"
    );
    assert_eq!(guard.shutdown().undelivered, 0);
}
