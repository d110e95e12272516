//! The two filters `init()` installs: `RUST_LOG` for the log layers ([`Builder::fmt`](super::Builder::fmt)
//! and those added with [`Builder::layer`](super::Builder::layer)), and the span filter (`TRACED_SPANS`) for what
//! reaches the exporters. Each is a per-layer filter, so quieting logs never loses spans.

use tracing_core::subscriber::Interest;
use tracing_core::{Level, LevelFilter, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::semconv;

/// Which spans (and events, recorded as annotations) reach the exporters.
pub(crate) enum SpanFilter {
    /// The default: every `#[traced]` span at any level, everything else at `info` or above.
    Default,
    /// `TRACED_SPANS` or [`Builder::span_filter`](super::Builder::span_filter): these directives
    /// decide for every span, `#[traced]` ones included.
    Directives(Box<EnvFilter>),
}

impl SpanFilter {
    /// Whether some directive looks at spans or fields (`[span{field}]`), so its answer for a
    /// callsite can change from one span to the next.
    pub(crate) fn decides_per_span(&self) -> bool {
        match self {
            SpanFilter::Default => false,
            SpanFilter::Directives(filter) => filter.to_string().contains('['),
        }
    }

    /// Whether nothing at all can pass (`off`).
    pub(crate) fn discards_all(&self) -> bool {
        match self {
            SpanFilter::Default => false,
            SpanFilter::Directives(filter) => {
                Filter::<tracing_subscriber::Registry>::max_level_hint(&**filter)
                    == Some(LevelFilter::OFF)
            }
        }
    }
}

/// Whether a callsite is a `#[traced]` function's: the attribute always declares the `error`
/// and `error.type` fields, and rejects them as field names of the user's. (A library span that
/// declares both is taken for one, which only matters below `info`.)
fn is_traced_callsite(meta: &Metadata<'_>) -> bool {
    let fields = meta.fields();
    meta.is_span()
        && fields.field(semconv::ERROR).is_some()
        && fields.field(semconv::ERROR_TYPE).is_some()
}

fn default_enabled(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || is_traced_callsite(meta)
}

impl<S> Filter<S> for SpanFilter
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        match self {
            SpanFilter::Default => default_enabled(meta),
            SpanFilter::Directives(filter) => Filter::enabled(&**filter, meta, cx),
        }
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // `always` for what passes: the `#[traced]` fast path depends on it.
        match self {
            SpanFilter::Default if default_enabled(meta) => Interest::always(),
            SpanFilter::Default => Interest::never(),
            SpanFilter::Directives(filter) => Filter::<S>::callsite_enabled(&**filter, meta),
        }
    }

    fn event_enabled(&self, event: &tracing_core::Event<'_>, cx: &Context<'_, S>) -> bool {
        match self {
            SpanFilter::Default => true,
            SpanFilter::Directives(filter) => Filter::event_enabled(&**filter, event, cx),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        match self {
            // A `#[traced(level = "trace")]` function passes.
            SpanFilter::Default => Some(LevelFilter::TRACE),
            SpanFilter::Directives(filter) => Filter::<S>::max_level_hint(&**filter),
        }
    }

    fn on_new_span(
        &self,
        attrs: &tracing_core::span::Attributes<'_>,
        id: &tracing_core::span::Id,
        cx: Context<'_, S>,
    ) {
        if let SpanFilter::Directives(filter) = self {
            Filter::on_new_span(&**filter, attrs, id, cx);
        }
    }

    fn on_record(
        &self,
        id: &tracing_core::span::Id,
        values: &tracing_core::span::Record<'_>,
        cx: Context<'_, S>,
    ) {
        if let SpanFilter::Directives(filter) = self {
            Filter::on_record(&**filter, id, values, cx);
        }
    }

    fn on_enter(&self, id: &tracing_core::span::Id, cx: Context<'_, S>) {
        if let SpanFilter::Directives(filter) = self {
            Filter::on_enter(&**filter, id, cx);
        }
    }

    fn on_exit(&self, id: &tracing_core::span::Id, cx: Context<'_, S>) {
        if let SpanFilter::Directives(filter) = self {
            Filter::on_exit(&**filter, id, cx);
        }
    }

    fn on_close(&self, id: tracing_core::span::Id, cx: Context<'_, S>) {
        if let SpanFilter::Directives(filter) = self {
            Filter::on_close(&**filter, id, cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing_core::callsite::DefaultCallsite;
    use tracing_core::field::FieldSet;
    use tracing_core::metadata::Kind;
    use tracing_core::{Level, Metadata};

    use crate::pipeline::Core;
    use crate::setup::Builder;

    /// A callsite shaped as `#[traced(level = "debug")]` expands to.
    static TRACED_DEBUG: DefaultCallsite = DefaultCallsite::new(&TRACED_DEBUG_META);
    static TRACED_DEBUG_META: Metadata<'static> = Metadata::new(
        "traced_debug",
        "app",
        Level::DEBUG,
        None,
        None,
        None,
        FieldSet::new(
            &["x", "error", "error.type"],
            tracing_core::identify_callsite!(&TRACED_DEBUG),
        ),
        Kind::SPAN,
    );
    /// A library's `debug_span!`.
    static LIBRARY_DEBUG: DefaultCallsite = DefaultCallsite::new(&LIBRARY_DEBUG_META);
    static LIBRARY_DEBUG_META: Metadata<'static> = Metadata::new(
        "library_debug",
        "lib",
        Level::DEBUG,
        None,
        None,
        None,
        FieldSet::new(&["x"], tracing_core::identify_callsite!(&LIBRARY_DEBUG)),
        Kind::SPAN,
    );

    fn quiet(vars: &[(&str, &str)]) -> Builder {
        let mut all = vec![("OTEL_TRACES_EXPORTER", "none")];
        all.extend_from_slice(vars);
        Builder::from_vars(all)
    }

    #[test]
    fn init_keeps_the_fast_path_with_rust_log_quieting_logs() {
        // What `init()` installs, `RUST_LOG=warn` or not: our layer is the only consumer, so
        // `#[traced]` calls are offered frames, and their callsites are `always` interesting
        // (so a nested call never asks the dispatcher).
        for vars in [&[][..], &[("RUST_LOG", "warn")][..]] {
            let built = quiet(vars).build_dispatch().unwrap();
            let dispatch = &built.dispatch;
            assert!(
                dispatch.downcast_ref::<Arc<Core>>().is_some(),
                "{vars:?}: the fast path is off"
            );
            assert!(dispatch.register_callsite(&TRACED_DEBUG_META).is_always());
            assert!(dispatch.register_callsite(&LIBRARY_DEBUG_META).is_never());
        }
    }

    #[test]
    fn span_and_field_directives_turn_the_fast_path_off() {
        let built = quiet(&[("TRACED_SPANS", "info,[request]=debug")])
            .build_dispatch()
            .unwrap();
        assert!(built.dispatch.downcast_ref::<Arc<Core>>().is_none());
        let built = quiet(&[("TRACED_SPANS", "info,app=debug")])
            .build_dispatch()
            .unwrap();
        assert!(built.dispatch.downcast_ref::<Arc<Core>>().is_some());
    }

    #[test]
    fn another_layer_turns_the_fast_path_off() {
        let built = quiet(&[])
            .layer(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
            .build_dispatch()
            .unwrap();
        assert!(built.dispatch.downcast_ref::<Arc<Core>>().is_none());
    }

    #[test]
    fn span_directives_decide_for_traced_spans_too() {
        let built = quiet(&[("TRACED_SPANS", "info")]).build_dispatch().unwrap();
        assert!(built
            .dispatch
            .register_callsite(&TRACED_DEBUG_META)
            .is_never());
        let built = quiet(&[("TRACED_SPANS", "lib=debug")])
            .build_dispatch()
            .unwrap();
        assert!(built
            .dispatch
            .register_callsite(&LIBRARY_DEBUG_META)
            .is_always());
    }

    #[test]
    fn a_configuration_that_exports_nothing_says_why() {
        let reason = |builder: Builder| builder.build_dispatch().unwrap().discards_all;
        let console = |vars: &[(&str, &str)]| {
            let mut all = vec![("OTEL_TRACES_EXPORTER", "console")];
            all.extend_from_slice(vars);
            Builder::from_vars(all)
        };
        assert_eq!(reason(console(&[])), None);
        assert_eq!(reason(console(&[("TRACED_SPANS", "warn")])), None);
        assert_eq!(reason(console(&[("RUST_LOG", "off")])), None);
        assert!(reason(console(&[("TRACED_SPANS", "off")]))
            .unwrap()
            .contains("TRACED_SPANS"));
        assert!(reason(console(&[("OTEL_TRACES_SAMPLER", "always_off")]))
            .unwrap()
            .contains("always_off"));
        assert!(reason(quiet(&[])).unwrap().contains("no exporter"));
        let custom = quiet(&[]).custom_exporter(crate::testing::Capture::new());
        assert_eq!(reason(custom), None);
    }
}
