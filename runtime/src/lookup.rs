//! Reading a tracing span's context through a `Dispatch`, whatever the subscriber's type.

use tracing_core::span::Id;
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use crate::state::{Inherited, SpanState};

/// The context and service of the span `id` in `dispatch`, or of its nearest ancestor our layer
/// records (a span only another layer's filter enabled has none): what a child inherits.
pub(crate) fn parent_of(dispatch: &Dispatch, id: &Id) -> Option<Inherited> {
    let with_context = dispatch.downcast_ref::<WithContext>()?;
    (with_context.context)(dispatch, id)
}

/// Runs `edit` on the state our layer keeps for the span `id` in `dispatch` and, with `scope`,
/// on each of its ancestors', innermost first. Never runs user code while a state is borrowed.
pub(crate) fn edit_states(
    dispatch: &Dispatch,
    id: &Id,
    scope: bool,
    edit: &mut dyn FnMut(&mut SpanState),
) {
    if let Some(with_context) = dispatch.downcast_ref::<WithContext>() {
        (with_context.edit)(dispatch, id, scope, edit);
    }
}

/// Marks the tracing span `span` cancelled (see `SpanState::mark_cancelled`) when our layer
/// records it and no panic was recorded on it: its work was dropped before it completed.
pub(crate) fn mark_cancelled(span: &tracing::Span) {
    if span.is_disabled() {
        return;
    }
    span.with_subscriber(|(id, dispatch)| {
        edit_states(dispatch, id, false, &mut |state| {
            if state.context.sampling.is_sampled() && !state.panicked() {
                state.mark_cancelled();
            }
        });
    });
}

/// Reaches a span's state through a `Dispatch` without knowing the subscriber's type (the same
/// trick tracing-opentelemetry uses): the layer hands out this function pointer via `downcast_raw`.
#[derive(Clone, Copy)]
pub(crate) struct WithContext {
    context: fn(&Dispatch, &Id) -> Option<Inherited>,
    edit: EditStates,
}

/// Runs an edit on a span's state (and, with `true`, on its ancestors') in a `Dispatch`.
type EditStates = fn(&Dispatch, &Id, bool, &mut dyn FnMut(&mut SpanState));

impl WithContext {
    /// Looks spans up in a subscriber of type `S`.
    pub(crate) fn of<S>() -> WithContext
    where
        S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    {
        WithContext {
            context: span_context::<S>,
            edit: edit_span::<S>,
        }
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

fn edit_span<S>(dispatch: &Dispatch, id: &Id, scope: bool, edit: &mut dyn FnMut(&mut SpanState))
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let Some(span) = dispatch
        .downcast_ref::<S>()
        .and_then(|subscriber| subscriber.span(id))
    else {
        return;
    };
    for span in span.scope() {
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            edit(state);
        }
        if !scope {
            return;
        }
    }
}
