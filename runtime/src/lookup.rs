//! Reading a tracing span's context through a `Dispatch`, whatever the subscriber's type.

use tracing_core::span::Id;
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use crate::state::{Inherited, SpanState};

/// The context, service and baggage of the span `id` in `dispatch`, or of its nearest ancestor
/// our layer records (a span only another layer's filter enabled has none): what a child
/// inherits.
pub(crate) fn parent_of(dispatch: &Dispatch, id: &Id) -> Option<Inherited> {
    let with_context = dispatch.downcast_ref::<WithContext>()?;
    (with_context.inherited)(dispatch, id)
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

/// What a child of the registry's current span in `dispatch` inherits (as [`parent_of`]), asked
/// of the registry itself rather than through the subscribers around it.
pub(crate) fn current_of(dispatch: &Dispatch) -> Option<Inherited> {
    let with_context = dispatch.downcast_ref::<WithContext>()?;
    (with_context.current)(dispatch)
}

/// Runs `change` on the state of the span `id` in `dispatch` — or, with `nearest`, of its
/// nearest ancestor our layer records when it has none; `false` when there is none.
/// `change` must not call into tracing: the span's extensions are locked while it runs.
pub(crate) fn with_state_mut(
    dispatch: &Dispatch,
    id: &Id,
    nearest: bool,
    change: &mut dyn FnMut(&mut SpanState),
) -> bool {
    let Some(with_context) = dispatch.downcast_ref::<WithContext>() else {
        return false;
    };
    (with_context.state_mut)(dispatch, id, nearest, change)
}

/// Moves what was recorded on the frame twin `id` into `frame` (see `subscriber.rs`).
pub(crate) fn absorb_twin(dispatch: &Dispatch, id: &Id, frame: &mut SpanState) {
    with_state_mut(dispatch, id, false, &mut |twin| {
        if twin.is_twin() {
            frame.absorb_twin(twin);
        }
    });
}

/// A change to a span's state, made while the registry holds its extensions.
type Change<'a> = &'a mut dyn FnMut(&mut SpanState);

/// Reaches a span's state through a `Dispatch` without knowing the subscriber's type (the same
/// trick tracing-opentelemetry uses): the layer hands out these function pointers via
/// `downcast_raw`.
#[derive(Clone, Copy)]
pub(crate) struct WithContext {
    inherited: fn(&Dispatch, &Id) -> Option<Inherited>,
    current: fn(&Dispatch) -> Option<Inherited>,
    state_mut: fn(&Dispatch, &Id, bool, Change<'_>) -> bool,
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
            inherited: span_context::<S>,
            current: current_context::<S>,
            state_mut: span_state_mut::<S>,
            edit: edit_span::<S>,
        }
    }
}

fn span_state_mut<S>(
    dispatch: &Dispatch,
    id: &Id,
    nearest: bool,
    change: &mut dyn FnMut(&mut SpanState),
) -> bool
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let Some(span) = dispatch
        .downcast_ref::<S>()
        .and_then(|subscriber| subscriber.span(id))
    else {
        return false;
    };
    for span in span.scope() {
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            change(state);
            return true;
        }
        if !nearest {
            break;
        }
    }
    false
}

fn current_context<S>(dispatch: &Dispatch) -> Option<Inherited>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let current = dispatch.downcast_ref::<S>()?.current_span();
    span_context::<S>(dispatch, current.id()?)
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
