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

/// Which states of a span and its ancestors an edit reaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum States {
    /// The span's own, if our layer records it.
    This,
    /// The span's own, or else its nearest ancestor's that our layer records.
    Nearest,
    /// The span's own and every ancestor's our layer records, innermost first.
    Scope,
}

/// Runs `change` on the states of the span `id` in `dispatch` that `which` names; `false` when
/// there was none. `change` must not call into tracing: the span's extensions are locked
/// while it runs (it never runs user code).
pub(crate) fn edit_states(
    dispatch: &Dispatch,
    id: &Id,
    which: States,
    change: &mut dyn FnMut(&mut SpanState),
) -> bool {
    match dispatch.downcast_ref::<WithContext>() {
        Some(with_context) => (with_context.edit)(dispatch, id, which, change),
        None => false,
    }
}

/// Marks the tracing span `span` cancelled (see `SpanState::mark_cancelled`) when our layer
/// records it and no panic was recorded on it: its work was dropped before it completed.
pub(crate) fn mark_cancelled(span: &tracing::Span) {
    if span.is_disabled() {
        return;
    }
    span.with_subscriber(|(id, dispatch)| {
        edit_states(dispatch, id, States::This, &mut |state| {
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

/// Hands a finished frame's state to its twin, which then is the span: our layer reports it
/// when the twin closes — at once if the frame held the last handle, later if a handle was kept
/// (a task still running, a stored `Span::current()`), so what is recorded through that handle
/// until then is reported, as with a tracing span. What the twin had recorded is taken in first;
/// `frame` is left with the twin's old state. With `hand_over` false (the twin belongs to
/// another layer than the frame), only what the twin recorded is taken in and the frame reports
/// itself. Returns whether the state was handed over.
pub(crate) fn hand_to_twin(
    dispatch: &Dispatch,
    id: &Id,
    frame: &mut SpanState,
    hand_over: bool,
) -> bool {
    let mut handed = false;
    edit_states(dispatch, id, States::This, &mut |twin| {
        if twin.is_twin() && !handed {
            frame.absorb_twin(twin);
            if hand_over {
                std::mem::swap(twin, frame);
                handed = true;
            }
        }
    });
    handed
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
    edit: fn(&Dispatch, &Id, States, Change<'_>) -> bool,
}

impl WithContext {
    /// Looks spans up in a subscriber of type `S`.
    pub(crate) fn of<S>() -> WithContext
    where
        S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    {
        WithContext {
            inherited: span_context::<S>,
            current: current_context::<S>,
            edit: edit_span::<S>,
        }
    }
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

fn edit_span<S>(dispatch: &Dispatch, id: &Id, which: States, change: Change<'_>) -> bool
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let Some(span) = dispatch
        .downcast_ref::<S>()
        .and_then(|subscriber| subscriber.span(id))
    else {
        return false;
    };
    let mut edited = false;
    for span in span.scope() {
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            change(state);
            edited = true;
            if which != States::Scope {
                return true;
            }
        }
        if which == States::This {
            break;
        }
    }
    edited
}
