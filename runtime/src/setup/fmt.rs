//! The log layer [`Builder::fmt`](super::Builder::fmt) installs: tracing-subscriber's `fmt`
//! format, with the trace and span ids of the event's span appended as `trace_id=… span_id=…`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use tracing_core::dispatcher::WeakDispatch;
use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The subscriber a correlated format reads span contexts from; set once it is built.
pub(super) type DispatchCell = Arc<OnceLock<WeakDispatch>>;

/// `fmt`'s default format plus the ids of the span the event is in.
///
/// The ids come from our layer's state through the whole subscriber, not through the `fmt`
/// layer's own (filtered) view: with `RUST_LOG=warn` the `info` span around a warning is not
/// logged, but its trace is exported, and the line must lead to it.
pub(super) struct Correlated {
    format: Format,
    dispatch: DispatchCell,
}

impl Correlated {
    pub(super) fn new(dispatch: DispatchCell) -> Correlated {
        Correlated {
            format: Format::default(),
            dispatch,
        }
    }
}

impl<S, N> FormatEvent<S, N> for Correlated
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let span = if event.is_contextual() {
            ctx.current_span().id().cloned()
        } else {
            event.parent().cloned()
        };
        let context = span.and_then(|id| {
            let dispatch = self.dispatch.get()?.upgrade()?;
            crate::lookup::parent_of(&dispatch, &id).map(|(context, ..)| context)
        });
        let Some(context) = context else {
            return self.format.format_event(ctx, writer, event);
        };
        // The ids go last, as the line's last fields, before its newline.
        let mut line = String::new();
        self.format
            .format_event(ctx, Writer::new(&mut line), event)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        writeln!(
            writer,
            "{line} trace_id={} span_id={}",
            context.trace_id, context.span_id
        )
    }
}
