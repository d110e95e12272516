//! Reading a tracing span's context through a `Dispatch`, whatever the subscriber's type.

use tracing_core::span::Id;
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use crate::state::{Inherited, SpanState};

/// The context and service of the span `id` in `dispatch`, or of its nearest ancestor our layer
/// records (a span only another layer's filter enabled has none): what a child inherits.
pub(crate) fn parent_of(dispatch: &Dispatch, id: &Id) -> Option<Inherited> {
    let with_context = dispatch.downcast_ref::<WithContext>()?;
    (with_context.0)(dispatch, id)
}

/// Reaches a span's state through a `Dispatch` without knowing the subscriber's type (the same
/// trick tracing-opentelemetry uses): the layer hands out this function pointer via `downcast_raw`.
#[derive(Clone, Copy)]
pub(crate) struct WithContext(fn(&Dispatch, &Id) -> Option<Inherited>);

impl WithContext {
    /// Looks spans up in a subscriber of type `S`.
    pub(crate) fn of<S>() -> WithContext
    where
        S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    {
        WithContext(span_context::<S>)
    }
}

fn span_context<S>(dispatch: &Dispatch, id: &Id) -> Option<Inherited>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    span.scope().find_map(|span| {
        span.extensions()
            .get::<SpanState>()
            .map(SpanState::inherited)
    })
}
