//! A call's outcome — an error, a return value, a panic — recorded on its span.

use std::borrow::Cow;
use std::fmt::{Debug, Display};

use tracing::field::Value;
use tracing::Span;
use tracing_core::Metadata;

use crate::state::SpanState;

/// Where a call's outcome (error, return value, panic) is recorded.
pub struct Target<'a>(pub(super) TargetKind<'a>);

pub(super) enum TargetKind<'a> {
    Off,
    Span(&'a Span),
    State(&'a mut SpanState),
    /// A synchronous call's frame, on the stack at this index.
    Frame(usize, &'static Metadata<'static>),
}

impl Target<'_> {
    /// Whether anything recorded is kept.
    pub fn is_recording(&self) -> bool {
        !matches!(self.0, TargetKind::Off)
    }

    fn error(&mut self, message: String, type_name: &'static str) {
        if let TargetKind::Span(span) = &self.0 {
            span.record("error", message.as_str());
            span.record("error.type", type_name);
            return;
        }
        let record = |state: &mut SpanState| {
            state.record_text("error", Cow::Owned(message));
            state.record_text("error.type", Cow::Borrowed(type_name));
        };
        match &mut self.0 {
            TargetKind::Off | TargetKind::Span(_) => {}
            TargetKind::State(state) => record(state),
            TargetKind::Frame(index, _) => crate::frame::with_frame(*index, record),
        }
    }

    /// `ret`: records the return value as the tag `return`.
    pub fn ret(&mut self, value: &dyn Value) {
        match &mut self.0 {
            TargetKind::Off => {}
            TargetKind::Span(span) => {
                span.record("return", value);
            }
            TargetKind::State(state) => state.record_value("return", value),
            TargetKind::Frame(index, meta) => {
                // The value's Debug is user code: recorded into a scratch state first, so it
                // runs while the frame stack is not borrowed.
                let mut scratch = SpanState::scratch(meta);
                scratch.record_value("return", value);
                crate::frame::with_frame(*index, |state| state.take_tags(&mut scratch));
            }
        }
    }
}

/// A function's return value, for classification.
pub struct Outcome<'a, T>(pub &'a T);

/// Level 1: a `Result` whose error has `Display`.
pub trait OutcomeDisplay {
    fn __traced_outcome(&self, target: &mut Target<'_>);
}

impl<T, E: Display> OutcomeDisplay for &&&Outcome<'_, Result<T, E>> {
    fn __traced_outcome(&self, target: &mut Target<'_>) {
        if let Err(error) = self.0 {
            target.error(crate::value::capped_display(error), type_name_of(error));
        }
    }
}

/// Level 2: a `Result` whose error has only `Debug`.
pub trait OutcomeDebug {
    fn __traced_outcome(&self, target: &mut Target<'_>);
}

impl<T, E: Debug> OutcomeDebug for &&Outcome<'_, Result<T, E>> {
    fn __traced_outcome(&self, target: &mut Target<'_>) {
        if let Err(error) = self.0 {
            target.error(crate::value::capped_debug(error), type_name_of(error));
        }
    }
}

/// Level 3: a `Result` whose error can not be formatted: its type names it.
pub trait OutcomeOpaque {
    fn __traced_outcome(&self, target: &mut Target<'_>);
}

impl<T, E> OutcomeOpaque for &Outcome<'_, Result<T, E>> {
    fn __traced_outcome(&self, target: &mut Target<'_>) {
        if let Err(error) = self.0 {
            let name = type_name_of(error);
            target.error(name.to_owned(), name);
        }
    }
}

/// Level 4: anything else succeeded.
pub trait OutcomeOther {
    fn __traced_outcome(&self, target: &mut Target<'_>);
}

impl<T> OutcomeOther for Outcome<'_, T> {
    fn __traced_outcome(&self, _target: &mut Target<'_>) {}
}

/// `err(Display)`: the error's `Display` (a compile error when it has none).
pub fn outcome_display<T, E: Display>(target: &mut Target<'_>, result: &Result<T, E>) {
    if let Err(error) = result {
        target.error(crate::value::capped_display(error), type_name_of(error));
    }
}

/// `err(Debug)`: the error's `Debug` (a compile error when it has none).
pub fn outcome_debug<T, E: Debug>(target: &mut Target<'_>, result: &Result<T, E>) {
    if let Err(error) = result {
        target.error(crate::value::capped_debug(error), type_name_of(error));
    }
}

/// Implemented only by `Result`: `err` on a function that cannot fail does not compile.
#[diagnostic::on_unimplemented(
    message = "`err` needs a function that returns `Result`, but this one returns `{Self}`",
    label = "this function cannot return `Err`",
    note = "remove `err`: errors are recorded automatically whenever the function returns `Result`"
)]
pub trait CanFail {}

impl<T, E> CanFail for Result<T, E> {}

/// Checks, at compile time, that `err` is used on a function returning `Result`.
pub fn assert_can_fail<R: CanFail>(_: &R) {}

fn type_name_of<E>(_: &E) -> &'static str {
    core::any::type_name::<E>()
}
