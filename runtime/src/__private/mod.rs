//! Support for the code `#[traced]` generates. Not a public API: it changes without notice.
//!
//! Argument values and return values are classified by autoref specialization: the generated
//! code calls `(&&&&Arg(&value)).__traced_arg()`, and method lookup picks the first of these
//! that applies, from the most to the least specific:
//!
//! 1. integers, floats and bools, kept typed;
//! 2. anything that is `AsRef<str>`, recorded as a string cut at the cap;
//! 3. anything `Debug`, formatted with a cap;
//! 4. anything else, left out.
//!
//! Because the choice is made where the value's type is known, a generic parameter is recorded
//! as far as its bounds allow, and a type that is neither `Debug` nor a string is no error.

mod arg;
mod fields;
mod future;
mod guard;
mod outcome;
mod parent;
mod start;

pub use ::core;
pub use ::tracing;
pub use ::tracing_core;

pub use crate::panic::current_panic_message;
/// The sampler of `#[traced(sampler = …)]`.
pub use crate::sample::RootSampler;
pub use arg::{
    debug, display, value, Arg, ArgDebug, ArgNothing, ArgStr, ArgTyped, ArgValue, CappedDebug,
    CappedDisplay,
};
pub use fields::{Fields, FrameTags, Tags, Values};
pub use future::{instrument, Handle, Instrumented};
pub use guard::Guard;
pub use outcome::{
    assert_can_fail, outcome_debug, outcome_display, CanFail, Outcome, OutcomeDebug,
    OutcomeDisplay, OutcomeOpaque, OutcomeOther, Target,
};
pub use parent::{IntoParent, Parent};
pub use start::Start;

/// The rule for secrets, which the attribute evaluates at compile time.
pub use crate::redact;

/// Runs a synchronous body as a closure, so `return` and `?` end the body, not the function,
/// and the outcome can be recorded. Taking `FnOnce` lets the body return borrows of arguments.
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}
