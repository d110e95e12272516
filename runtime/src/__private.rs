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

use std::borrow::Cow;
use std::fmt::{self, Debug, Display};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use crate::panic::current_panic_message;
pub use ::core;
pub use ::tracing;

use tracing::field::{DebugValue, DisplayValue, Empty, Value};
use tracing::span::Id;
use tracing::Span;

use crate::model::{Remote, SpanContext};

/// What replaces the value of a secret.
pub const REDACTED: &str = "[redacted]";

/// A value to record, borrowed for the classification.
pub struct Arg<'a, T>(pub &'a T);

/// A classified value, ready to hand to `tracing`.
pub enum ArgValue<'a> {
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A signed 128-bit integer.
    I128(i128),
    /// An unsigned 128-bit integer.
    U128(u128),
    /// A float.
    F64(f64),
    /// A bool.
    Bool(bool),
    /// Text short enough to record as it is.
    Str(&'a str),
    /// Text that was cut at the cap.
    Cut(String),
    /// A `Debug` value, formatted with a cap when recorded.
    Debug(DebugValue<CappedDebug<'a, dyn Debug + 'a>>),
    /// Nothing to record.
    Nothing(Empty),
}

impl ArgValue<'_> {
    /// The value as `tracing` takes it.
    pub fn as_value(&self) -> &dyn Value {
        match self {
            ArgValue::I64(value) => value,
            ArgValue::U64(value) => value,
            ArgValue::I128(value) => value,
            ArgValue::U128(value) => value,
            ArgValue::F64(value) => value,
            ArgValue::Bool(value) => value,
            ArgValue::Str(text) => text,
            ArgValue::Cut(text) => text,
            ArgValue::Debug(value) => value,
            ArgValue::Nothing(empty) => empty,
        }
    }
}

/// Level 1: values that stay typed.
pub trait ArgTyped {
    fn __traced_arg(&self) -> ArgValue<'static>;
}

macro_rules! typed {
    ($variant:ident: $($ty:ty),*) => {$(
        impl ArgTyped for &&&Arg<'_, $ty> {
            fn __traced_arg(&self) -> ArgValue<'static> {
                ArgValue::$variant((*self.0).into())
            }
        }
        impl ArgTyped for &&&Arg<'_, &$ty> {
            fn __traced_arg(&self) -> ArgValue<'static> {
                ArgValue::$variant((**self.0).into())
            }
        }
        impl ArgTyped for &&&Arg<'_, &mut $ty> {
            fn __traced_arg(&self) -> ArgValue<'static> {
                ArgValue::$variant((**self.0).into())
            }
        }
    )*};
}

typed!(U64: u8, u16, u32, u64);
typed!(I64: i8, i16, i32, i64);
typed!(U128: u128);
typed!(I128: i128);
typed!(F64: f32, f64);
typed!(Bool: bool);

macro_rules! typed_size {
    ($variant:ident, $wide:ty: $($ty:ty),*) => {$(
        impl ArgTyped for &&&Arg<'_, $ty> {
            fn __traced_arg(&self) -> ArgValue<'static> {
                // usize and isize are at most 64 bits on every target Rust supports.
                ArgValue::$variant(*self.0 as $wide)
            }
        }
        impl ArgTyped for &&&Arg<'_, &$ty> {
            fn __traced_arg(&self) -> ArgValue<'static> {
                ArgValue::$variant(**self.0 as $wide)
            }
        }
    )*};
}

typed_size!(U64, u64: usize);
typed_size!(I64, i64: isize);

/// Level 2: text.
pub trait ArgStr<'a> {
    fn __traced_arg(&self) -> ArgValue<'a>;
}

impl<'a, T: AsRef<str>> ArgStr<'a> for &&Arg<'a, T> {
    fn __traced_arg(&self) -> ArgValue<'a> {
        match crate::value::cap_str(<T as AsRef<str>>::as_ref(self.0)) {
            Cow::Borrowed(text) => ArgValue::Str(text),
            Cow::Owned(text) => ArgValue::Cut(text),
        }
    }
}

/// Level 3: anything `Debug`.
pub trait ArgDebug<'a> {
    fn __traced_arg(&self) -> ArgValue<'a>;
}

impl<'a, T: Debug> ArgDebug<'a> for &Arg<'a, T> {
    fn __traced_arg(&self) -> ArgValue<'a> {
        let value: &'a (dyn Debug + 'a) = self.0;
        ArgValue::Debug(tracing::field::debug(CappedDebug(value)))
    }
}

/// Level 4: anything else, left out.
pub trait ArgNothing {
    fn __traced_arg(&self) -> ArgValue<'static>;
}

impl<T> ArgNothing for Arg<'_, T> {
    fn __traced_arg(&self) -> ArgValue<'static> {
        ArgValue::Nothing(Empty)
    }
}

/// Formats the value with `Debug`, stopping at the cap, so no subscriber sees a huge string.
pub struct CappedDebug<'a, T: ?Sized>(pub &'a T);

impl<T: Debug + ?Sized> Debug for CappedDebug<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::value::capped_debug(&self.0))
    }
}

/// Formats the value with `Display`, stopping at the cap.
pub struct CappedDisplay<'a, T: ?Sized>(pub &'a T);

impl<T: Display + ?Sized> Display for CappedDisplay<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::value::capped_display(&self.0))
    }
}

/// `fields(key = %expr)`.
pub fn display<T: Display + ?Sized>(value: &T) -> DisplayValue<CappedDisplay<'_, T>> {
    tracing::field::display(CappedDisplay(value))
}

/// `fields(key = ?expr)`.
pub fn debug<T: Debug + ?Sized>(value: &T) -> DebugValue<CappedDebug<'_, T>> {
    tracing::field::debug(CappedDebug(value))
}

/// Runs a synchronous body as a closure, so `return` and `?` end the body, not the function,
/// and the outcome can be recorded. Taking `FnOnce` lets the body return borrows of arguments.
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

// ---------------------------------------------------------------------------------------------
// Parents.

/// Where a span's parent comes from: a span of this process, or a caller's context.
pub enum Parent {
    /// A local span; `None` makes a root.
    Local(Option<Id>),
    /// A remote caller's context; `None` makes a root.
    Remote(Option<Remote>),
}

/// What `parent = expr` accepts.
#[diagnostic::on_unimplemented(
    message = "`parent = ...` takes a span or a caller's context, not `{Self}`",
    label = "not a parent",
    note = "local parents: `&Span`, `Span`, `Id`, `Option<Id>`, or `None` for a new trace",
    note = "remote parents: `Remote`, `Option<Remote>`, `SpanContext`, `Option<SpanContext>` (or references)"
)]
pub trait IntoParent {
    fn into_parent(self) -> Parent;
}

impl IntoParent for &Span {
    fn into_parent(self) -> Parent {
        Parent::Local(self.id())
    }
}

impl IntoParent for Span {
    fn into_parent(self) -> Parent {
        Parent::Local(self.id())
    }
}

impl IntoParent for &tracing::span::EnteredSpan {
    fn into_parent(self) -> Parent {
        Parent::Local(self.id())
    }
}

impl IntoParent for Option<&Id> {
    fn into_parent(self) -> Parent {
        Parent::Local(self.cloned())
    }
}

impl IntoParent for Id {
    fn into_parent(self) -> Parent {
        Parent::Local(Some(self))
    }
}

impl IntoParent for &Id {
    fn into_parent(self) -> Parent {
        Parent::Local(Some(self.clone()))
    }
}

impl IntoParent for Option<Id> {
    fn into_parent(self) -> Parent {
        Parent::Local(self)
    }
}

impl IntoParent for &Option<Id> {
    fn into_parent(self) -> Parent {
        Parent::Local(self.clone())
    }
}

impl IntoParent for Remote {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(self))
    }
}

impl IntoParent for &Remote {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(*self))
    }
}

impl IntoParent for Option<Remote> {
    fn into_parent(self) -> Parent {
        Parent::Remote(self)
    }
}

impl IntoParent for &Option<Remote> {
    fn into_parent(self) -> Parent {
        Parent::Remote(*self)
    }
}

impl IntoParent for SpanContext {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(Remote::Context(self)))
    }
}

impl IntoParent for &SpanContext {
    fn into_parent(self) -> Parent {
        Parent::Remote(Some(Remote::Context(*self)))
    }
}

impl IntoParent for Option<SpanContext> {
    fn into_parent(self) -> Parent {
        Parent::Remote(self.map(Remote::Context))
    }
}

impl IntoParent for &Option<SpanContext> {
    fn into_parent(self) -> Parent {
        Parent::Remote(self.map(Remote::Context))
    }
}

/// Creates a span under `parent`: `make` gets the local parent to pass to `span!`.
pub fn span_with_parent(parent: Parent, make: impl FnOnce(Option<Id>) -> Span) -> Span {
    match parent {
        Parent::Local(id) => make(id),
        Parent::Remote(Some(remote)) => {
            crate::layer::with_remote_parent(remote, false, || make(None))
        }
        Parent::Remote(None) => make(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes.

/// A function's return value, for classification.
pub struct Outcome<'a, T>(pub &'a T);

/// Level 1: a `Result` whose error has `Display`.
pub trait OutcomeDisplay {
    fn __traced_outcome(&self, span: &Span);
}

impl<T, E: Display> OutcomeDisplay for &&&Outcome<'_, Result<T, E>> {
    fn __traced_outcome(&self, span: &Span) {
        if let Err(error) = self.0 {
            record_error(
                span,
                crate::value::capped_display(error),
                type_name_of(error),
            );
        }
    }
}

/// Level 2: a `Result` whose error has only `Debug`.
pub trait OutcomeDebug {
    fn __traced_outcome(&self, span: &Span);
}

impl<T, E: Debug> OutcomeDebug for &&Outcome<'_, Result<T, E>> {
    fn __traced_outcome(&self, span: &Span) {
        if let Err(error) = self.0 {
            record_error(span, crate::value::capped_debug(error), type_name_of(error));
        }
    }
}

/// Level 3: a `Result` whose error can not be formatted: its type names it.
pub trait OutcomeOpaque {
    fn __traced_outcome(&self, span: &Span);
}

impl<T, E> OutcomeOpaque for &Outcome<'_, Result<T, E>> {
    fn __traced_outcome(&self, span: &Span) {
        if let Err(error) = self.0 {
            let name = type_name_of(error);
            record_error(span, name.to_owned(), name);
        }
    }
}

/// Level 4: anything else succeeded.
pub trait OutcomeOther {
    fn __traced_outcome(&self, span: &Span);
}

impl<T> OutcomeOther for Outcome<'_, T> {
    fn __traced_outcome(&self, _span: &Span) {}
}

/// `err(Display)`: the error's `Display` (a compile error when it has none).
pub fn outcome_display<T, E: Display>(span: &Span, result: &Result<T, E>) {
    if let Err(error) = result {
        record_error(
            span,
            crate::value::capped_display(error),
            type_name_of(error),
        );
    }
}

/// `err(Debug)`: the error's `Debug` (a compile error when it has none).
pub fn outcome_debug<T, E: Debug>(span: &Span, result: &Result<T, E>) {
    if let Err(error) = result {
        record_error(span, crate::value::capped_debug(error), type_name_of(error));
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

fn record_error(span: &Span, message: String, type_name: &'static str) {
    span.record("error", message.as_str());
    span.record("error.type", type_name);
}

fn record_panic(span: &Span) {
    if let Some(message) = current_panic_message() {
        span.record("error", message.as_str());
        span.record("error.type", "panic");
    }
}

// ---------------------------------------------------------------------------------------------
// Guards.

/// Whether a synchronous `#[traced]` call can skip its span: the current span is an unsampled
/// one that `#[traced]` entered, so nothing below it is recorded anyway.
#[inline]
pub fn in_unsampled_scope() -> bool {
    crate::layer::in_unsampled_scope()
}

/// Keeps a span entered for a synchronous body and tags it if the body panics.
pub struct Scope<'a> {
    span: &'a Span,
    _entered: tracing::span::Entered<'a>,
    panicking_before: bool,
    /// Set when this scope marked an unsampled span for the fast path: the mark to put back.
    unsampled_mark: Option<u64>,
}

impl<'a> Scope<'a> {
    /// Enters `span` until the scope drops.
    #[inline]
    pub fn new(span: &'a Span) -> Scope<'a> {
        let entered = span.enter();
        let unsampled_mark = span
            .id()
            .and_then(|id| crate::layer::mark_if_unsampled(&id));
        Scope {
            span,
            _entered: entered,
            // A traced function called by a destructor during unwinding is not the one failing.
            panicking_before: !span.is_disabled() && std::thread::panicking(),
            unsampled_mark,
        }
    }
}

impl Drop for Scope<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(previous) = self.unsampled_mark {
            crate::layer::restore_unsampled_mark(previous);
        }
        if !self.span.is_disabled() && !self.panicking_before {
            record_panic(self.span);
        }
    }
}

/// A future that runs inside its span: entered on every poll, tagged with the outcome and with
/// a panic during a poll, and closed when it completes or is dropped.
pub struct Instrumented<F, R> {
    future: ManuallyDrop<F>,
    span: Span,
    record: Option<R>,
}

/// Wraps `future` so it runs in `span`; `record` sees the output before the span closes.
#[inline]
pub fn instrument<F, R>(span: Span, future: F, record: R) -> Instrumented<F, R>
where
    F: Future,
    R: FnOnce(&Span, &F::Output),
{
    Instrumented {
        future: ManuallyDrop::new(future),
        span,
        record: Some(record),
    }
}

impl<F, R> Future for Instrumented<F, R>
where
    F: Future,
    R: FnOnce(&Span, &F::Output),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `self` and is dropped
        // in place by `Drop`. The other fields are not pinned and are only used through `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        let poll = {
            let _scope = Scope::new(&this.span);
            // SAFETY: see above; `this.future` stays where it is for as long as `this` lives.
            let future = unsafe { Pin::new_unchecked(&mut *this.future) };
            future.poll(cx)
        };
        if let Poll::Ready(output) = &poll {
            if let Some(record) = this.record.take() {
                if !this.span.is_disabled() {
                    record(&this.span, output);
                }
            }
            // Close the span now rather than when the caller drops the finished future.
            this.span = Span::none();
        }
        poll
    }
}

impl<F, R> Drop for Instrumented<F, R> {
    fn drop(&mut self) {
        // Dropping the body (its locals' destructors) is part of the span's work.
        let _entered = self.span.enter();
        // SAFETY: `future` is dropped exactly once, here, in place, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.future) };
    }
}
