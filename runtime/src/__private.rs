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
use std::mem::{ManuallyDrop, MaybeUninit};
use std::pin::Pin;
use std::task::{Context, Poll};

pub use crate::panic::current_panic_message;
pub use ::core;
pub use ::tracing;
pub use ::tracing_core;

use tracing::field::{DebugValue, DisplayValue, Empty, Value, ValueSet};
use tracing::span::Id;
use tracing::Span;
use tracing_core::callsite::{Callsite, DefaultCallsite};
use tracing_core::Metadata;

use crate::frame::{Begun, Frame, Opening};
use crate::layer::{Scalar, SpanState};
use crate::model::{Remote, SpanContext};

/// The rule for secrets, which the attribute evaluates at compile time.
pub use crate::redact;

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
            #[inline(always)]
            fn __traced_arg(&self) -> ArgValue<'static> {
                ArgValue::$variant((*self.0).into())
            }
        }
        impl ArgTyped for &&&Arg<'_, &$ty> {
            #[inline(always)]
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
            #[inline(always)]
            fn __traced_arg(&self) -> ArgValue<'static> {
                // usize and isize are at most 64 bits on every target Rust supports.
                ArgValue::$variant(*self.0 as $wide)
            }
        }
        impl ArgTyped for &&&Arg<'_, &$ty> {
            #[inline(always)]
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
    #[inline]
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

/// A field's value as `tracing` takes it; a type error here points at the user's expression.
#[inline(always)]
pub fn value<T: Value>(value: &T) -> &dyn Value {
    value
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

// ---------------------------------------------------------------------------------------------
// Starting a span.

/// How a `#[traced]` call's span is made.
pub enum Start {
    /// As a frame when the subscriber offers the fast path, else as a tracing span.
    Frames,
    /// Always as a tracing span with the current span as parent (the body uses
    /// `Span::current()`, or fields are recorded later through it).
    Tracing,
    /// As a tracing span under an explicit parent.
    Parent(Parent),
}

/// The span's fields, handed over as a `ValueSet` of the callsite's metadata.
pub trait Values: FnOnce(&mut dyn FnMut(&ValueSet<'_>)) {}

impl<V: FnOnce(&mut dyn FnMut(&ValueSet<'_>))> Values for V {}

/// The span's fields, recorded straight into a frame.
pub trait Tags: FnOnce(&mut FrameTags<'_>) {}

impl<T: FnOnce(&mut FrameTags<'_>)> Tags for T {}

/// A call's fields, in the two forms its span may take: `values` for a tracing span, `tags`
/// for a frame. Only one of them runs.
pub struct Fields<V, T> {
    /// Whether any field has a value at the call (all others are recorded later, or never).
    pub any: bool,
    /// The fields as tracing takes them.
    pub values: V,
    /// The fields as a frame takes them.
    pub tags: T,
}

/// Records a call's fields into its frame, typed values without going through `tracing`'s
/// visitor machinery. Each value is converted (which may run the value's `Debug`, user code)
/// before the frame is touched, so a frame on the stack is never borrowed while user code runs.
pub struct FrameTags<'a>(TagsInto<'a>);

enum TagsInto<'a> {
    /// A synchronous call's frame, on the stack at this index.
    Stack(usize),
    /// A future's frame not made yet: typed arguments wait beside its opening, and anything
    /// else makes the frame (boxed).
    Future(FutureTags<'a>),
}

/// The typed arguments of a future's call, kept inline beside its opening until its frame is
/// made at the first poll: recording two integers must not allocate, and a frame in the future
/// itself would make every future a few hundred bytes (it is moved several times before it is
/// first polled). `N` is the number of arguments the macro records, at most the inline
/// capacity of a tag list, so a future without arguments carries no room for them.
#[derive(Clone, Copy)]
struct ScalarArgs<const N: usize> {
    len: u8,
    items: [MaybeUninit<(&'static str, Scalar)>; N],
}

impl<const N: usize> ScalarArgs<N> {
    #[inline(always)]
    fn new() -> ScalarArgs<N> {
        ScalarArgs {
            len: 0,
            items: [MaybeUninit::uninit(); N],
        }
    }

    fn as_slice(&self) -> &[(&'static str, Scalar)] {
        written(&self.items, self.len)
    }

    fn slots(&mut self) -> ScalarSlots<'_> {
        ScalarSlots {
            len: &mut self.len,
            items: &mut self.items,
        }
    }
}

/// A `ScalarArgs` of any size, to record into.
struct ScalarSlots<'a> {
    len: &'a mut u8,
    items: &'a mut [MaybeUninit<(&'static str, Scalar)>],
}

impl ScalarSlots<'_> {
    /// Keeps `key = value`; false when full.
    fn push(&mut self, key: &'static str, value: Scalar) -> bool {
        let Some(item) = self.items.get_mut(usize::from(*self.len)) else {
            return false;
        };
        item.write((key, value));
        *self.len += 1;
        true
    }

    fn as_slice(&self) -> &[(&'static str, Scalar)] {
        written(self.items, *self.len)
    }
}

/// The first `len` items, which `ScalarSlots::push` wrote (it is the only writer, and counts).
fn written<'a>(
    items: &'a [MaybeUninit<(&'static str, Scalar)>],
    len: u8,
) -> &'a [(&'static str, Scalar)] {
    debug_assert!(usize::from(len) <= items.len());
    // SAFETY: `items[..len]` were initialised by `ScalarSlots::push`, which never counts past
    // the end, and `MaybeUninit<T>` has the layout of `T`.
    unsafe { std::slice::from_raw_parts(items.as_ptr().cast(), usize::from(len)) }
}

/// Where a future's fields go while its handle is made.
struct FutureTags<'a> {
    opening: &'a mut Opening,
    meta: &'static Metadata<'static>,
    scalars: ScalarSlots<'a>,
    /// The frame, once a field needed one.
    frame: &'a mut Option<Box<Frame>>,
}

impl FutureTags<'_> {
    /// The frame, made (with the typed arguments kept so far) on first use.
    fn frame(&mut self) -> &mut Frame {
        self.frame.get_or_insert_with(|| {
            let mut frame = Box::new(self.opening.take_frame(self.meta));
            for &(key, value) in self.scalars.as_slice() {
                frame.state.push_scalar(key, value);
            }
            frame
        })
    }

    fn push_scalar(&mut self, key: &'static str, value: Scalar) {
        if self.frame.is_none() && self.scalars.push(key, value) {
            return;
        }
        self.frame().state.push_scalar(key, value);
    }
}

impl FrameTags<'_> {
    #[inline]
    fn apply(&mut self, record: impl FnOnce(&mut SpanState)) {
        match &mut self.0 {
            TagsInto::Stack(index) => crate::frame::with_frame(*index, record),
            TagsInto::Future(tags) => record(&mut tags.frame().state),
        }
    }

    /// An argument: its name is unique among the arguments and recorded first, and never one
    /// of the conventional names (those contain dots).
    #[inline(always)]
    pub fn arg(&mut self, key: &'static str, value: ArgValue<'_>) {
        // Inlined where the value's kind is known, so a typed argument is one call with its
        // key and value in registers.
        let scalar = match value {
            ArgValue::I64(value) => Scalar::I64(value),
            ArgValue::U64(value) => Scalar::U64(value),
            ArgValue::F64(value) => Scalar::F64(value),
            ArgValue::Bool(value) => Scalar::Bool(value),
            other => return self.formatted_arg(key, other),
        };
        match &mut self.0 {
            TagsInto::Stack(index) => crate::frame::push_scalar(*index, key, scalar),
            TagsInto::Future(tags) => tags.push_scalar(key, scalar),
        }
    }

    /// An argument that needs formatting or copying first.
    #[inline(never)]
    fn formatted_arg(&mut self, key: &'static str, value: ArgValue<'_>) {
        if let Some(value) = tag_value(value) {
            self.apply(|state| state.push_tag(key, value));
        }
    }

    /// A `fields(key = value)` entry: conventional names (`peer.service`, `otel.name`, ...) go
    /// to their Zipkin places.
    pub fn field(&mut self, key: &'static str, value: ArgValue<'_>) {
        match tag_value(value) {
            Some(crate::model::TagValue::Str(text)) => {
                self.apply(|state| state.record_text(key, text))
            }
            Some(typed) => self.apply(|state| state.record_typed(key, typed)),
            None => {}
        }
    }

    /// `fields(key = %value)`.
    pub fn display(&mut self, key: &'static str, value: &dyn Display) {
        let text = crate::value::capped_display(value);
        self.apply(|state| state.record_text(key, Cow::Owned(text)));
    }

    /// `fields(key = ?value)`.
    pub fn debug(&mut self, key: &'static str, value: &dyn Debug) {
        let text = crate::value::capped_debug(value);
        self.apply(|state| state.record_text(key, Cow::Owned(text)));
    }

    /// A fixed text: a kind, or the mark of a redacted value.
    pub fn text(&mut self, key: &'static str, text: &'static str) {
        self.apply(|state| state.record_text(key, Cow::Borrowed(text)));
    }
}

#[inline(always)]
fn tag_value(value: ArgValue<'_>) -> Option<crate::model::TagValue> {
    use crate::model::TagValue;
    Some(match value {
        ArgValue::I64(value) => TagValue::I64(value),
        ArgValue::U64(value) => TagValue::U64(value),
        ArgValue::I128(value) => TagValue::I128(value),
        ArgValue::U128(value) => TagValue::U128(value),
        ArgValue::F64(value) => TagValue::F64(value),
        ArgValue::Bool(value) => TagValue::Bool(value),
        ArgValue::Str(text) => TagValue::Str(Cow::Owned(text.to_owned())),
        ArgValue::Cut(text) => TagValue::Str(Cow::Owned(text)),
        ArgValue::Debug(value) => TagValue::Str(Cow::Owned(format!("{value:?}"))),
        ArgValue::Nothing(_) => return None,
    })
}

/// What a started call gets: nothing, a frame to open (with its fields still to record), or a
/// tracing span.
enum Opened<T> {
    Off,
    Frame(Opening, T),
    Span(Span),
}

/// Asks the callsite and the subscriber, then makes the span or decides the frame.
#[inline]
fn open<V: Values, T: Tags>(
    callsite: &'static DefaultCallsite,
    start: Start,
    fields: Fields<V, T>,
) -> Opened<T> {
    let (frames, parent) = match start {
        Start::Frames => (true, None),
        Start::Tracing => (false, None),
        Start::Parent(parent) => (false, Some(parent)),
    };
    match crate::frame::begin(callsite, frames) {
        Begun::Off => Opened::Off,
        Begun::Frame(opening) => Opened::Frame(opening, fields.tags),
        Begun::Span => Opened::Span(make_span(callsite.metadata(), parent, fields.values)),
    }
}

fn make_span(
    meta: &'static Metadata<'static>,
    mut parent: Option<Parent>,
    values: impl Values,
) -> Span {
    let mut span = Span::none();
    values(&mut |values| {
        span = match parent.take() {
            None => Span::new(meta, values),
            Some(Parent::Local(id)) => Span::child_of(id, meta, values),
            Some(Parent::Remote(Some(remote))) => {
                crate::layer::with_remote_parent(remote, false, || Span::new_root(meta, values))
            }
            Some(Parent::Remote(None)) => Span::new_root(meta, values),
        }
    });
    span
}

// ---------------------------------------------------------------------------------------------
// Synchronous calls.

/// Keeps a synchronous call's span open and current until the call ends, however it ends, and
/// tags it if the body panics.
pub struct Guard {
    /// Dropped by hand in `close`, so that a guard that is off has no drop glue to run: the
    /// disabled path of every traced call pays for it.
    kind: ManuallyDrop<GuardKind>,
    /// A traced function called by a destructor during unwinding is not the one failing.
    panicking_before: bool,
}

enum GuardKind {
    Off,
    Frame {
        index: usize,
        sampled: bool,
        meta: &'static Metadata<'static>,
    },
    Span(tracing::span::EnteredSpan),
}

impl Guard {
    /// No span: the level is disabled or nothing listens.
    #[inline(always)]
    pub fn off() -> Guard {
        Guard {
            kind: ManuallyDrop::new(GuardKind::Off),
            panicking_before: false,
        }
    }

    /// Opens the call's span and makes it current.
    #[inline]
    pub fn start(
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Guard {
        // Under an unsampled frame nothing is recorded, and the parent frame stays current for
        // the whole call: skip the span.
        if matches!(start, Start::Frames) && crate::frame::innermost_unsampled().is_some() {
            return Guard::off();
        }
        Guard::open(callsite, start, fields)
    }

    /// Not inlined: the traced function keeps only the call.
    #[inline(never)]
    fn open(
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Guard {
        let has_values = fields.any;
        let kind = match open(callsite, start, fields) {
            Opened::Off => return Guard::off(),
            Opened::Frame(mut opening, tags) => {
                let sampled = opening.is_sampled();
                let meta = callsite.metadata();
                let index = crate::frame::push(&mut opening, meta, &[]);
                if let (Some(index), true) = (index, has_values && sampled) {
                    tags(&mut FrameTags(TagsInto::Stack(index)));
                }
                match index {
                    Some(index) => GuardKind::Frame {
                        index,
                        sampled,
                        meta,
                    },
                    None => return Guard::off(),
                }
            }
            Opened::Span(span) => GuardKind::Span(span.entered()),
        };
        Guard {
            kind: ManuallyDrop::new(kind),
            panicking_before: std::thread::panicking(),
        }
    }

    /// Whether anything the call records is kept.
    #[inline]
    pub fn is_recording(&self) -> bool {
        match &*self.kind {
            GuardKind::Off => false,
            GuardKind::Frame { sampled, .. } => *sampled,
            GuardKind::Span(span) => !span.is_disabled(),
        }
    }

    /// Where the outcome is recorded.
    pub fn target(&mut self) -> Target<'_> {
        Target(match &*self.kind {
            GuardKind::Frame {
                index,
                sampled: true,
                meta,
            } => TargetKind::Frame(*index, meta),
            GuardKind::Span(span) if !span.is_disabled() => TargetKind::Span(span),
            _ => TargetKind::Off,
        })
    }

    /// The tracing span, when the call has one (for `follows_from`).
    pub fn span(&self) -> Option<&Span> {
        match &*self.kind {
            GuardKind::Span(span) => Some(span),
            _ => None,
        }
    }

    #[inline(never)]
    fn close(&mut self) {
        let panicked = !self.panicking_before && std::thread::panicking();
        // SAFETY: `close` runs once, from `drop`, and `kind` is not used after it.
        match unsafe { ManuallyDrop::take(&mut self.kind) } {
            GuardKind::Off => {}
            GuardKind::Frame { index, .. } => crate::frame::close(index, panicked),
            GuardKind::Span(span) => {
                if panicked && !span.is_disabled() {
                    record_panic_on_span(&span);
                }
            }
        }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        if !matches!(*self.kind, GuardKind::Off) {
            self.close();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Futures.

/// A future's span, made when the traced function is called and carried by the future, with
/// room for `N` typed arguments.
pub struct Handle<const N: usize = 0>(HandleKind<N>);

// The frame lives in the future itself: boxing it would allocate per call.
#[allow(clippy::large_enum_variant)]
enum HandleKind<const N: usize> {
    Off,
    /// A frame decided at the call, with its typed arguments, and made in a stack slot at the
    /// first poll: a future completing in its first poll needs no more, and an unsampled one
    /// never does.
    Opening(Opening, &'static Metadata<'static>, ScalarArgs<N>),
    /// A sampled frame that outlives a poll, or whose fields needed more than `ScalarArgs`. A
    /// span state is a few hundred bytes (its tags inline); boxed, the future stays small,
    /// which matters more: a future is moved several times before it is first polled.
    Frame(Box<Frame>),
    Span(Span),
}

impl<const N: usize> Handle<N> {
    /// No span.
    #[inline(always)]
    pub fn off() -> Handle<N> {
        Handle(HandleKind::Off)
    }

    /// Opens the span a future will run in when `enabled` (its level is), else none.
    ///
    /// Not inlined, and the only call that makes the handle: the caller's `instrument` then
    /// gets it written in place, in the future. Made in a local instead (as branches merging
    /// in the caller would), it is moved there right after it was written, reading it back
    /// wider than it was written, which stalls.
    #[inline(never)]
    pub fn start_if(
        enabled: bool,
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Handle<N> {
        if !enabled {
            return Handle::off();
        }
        if matches!(start, Start::Frames) {
            // The future may be polled where the unsampled parent is not current: it carries
            // the parent's context instead of a span of its own.
            if let Some(context) = crate::frame::innermost_unsampled() {
                return Handle(HandleKind::Opening(
                    Opening::unsampled(context),
                    callsite.metadata(),
                    ScalarArgs::new(),
                ));
            }
        }
        Handle::open(callsite, start, fields)
    }

    /// Part of `start_if`, which is the call.
    #[inline(always)]
    fn open(
        callsite: &'static DefaultCallsite,
        start: Start,
        fields: Fields<impl Values, impl Tags>,
    ) -> Handle<N> {
        let has_values = fields.any;
        Handle(match open(callsite, start, fields) {
            Opened::Off => HandleKind::Off,
            Opened::Frame(mut opening, tags) => {
                let meta = callsite.metadata();
                let mut scalars = ScalarArgs::new();
                if has_values && opening.is_sampled() {
                    let mut frame = None;
                    tags(&mut FrameTags(TagsInto::Future(FutureTags {
                        opening: &mut opening,
                        meta,
                        scalars: scalars.slots(),
                        frame: &mut frame,
                    })));
                    if let Some(frame) = frame {
                        return Handle(HandleKind::Frame(frame));
                    }
                }
                HandleKind::Opening(opening, meta, scalars)
            }
            Opened::Span(span) => HandleKind::Span(span),
        })
    }

    /// Makes the span current for the synchronous part of a function that returns a future.
    pub fn enter(&self) -> Option<tracing::span::Entered<'_>> {
        match &self.0 {
            HandleKind::Span(span) => Some(span.enter()),
            _ => None,
        }
    }

    /// The same span, for the future such a function returns. Only tracing spans are shared
    /// (`#[traced]` gives these functions no frame).
    pub fn share(&self) -> Handle<0> {
        match &self.0 {
            HandleKind::Span(span) => Handle(HandleKind::Span(span.clone())),
            _ => Handle::off(),
        }
    }

    /// The tracing span, when the future has one (for `follows_from`).
    pub fn span(&self) -> Option<&Span> {
        match &self.0 {
            HandleKind::Span(span) => Some(span),
            _ => None,
        }
    }

    fn target(&mut self) -> Target<'_> {
        Target(match &mut self.0 {
            HandleKind::Frame(frame) if frame.is_sampled() => TargetKind::State(&mut frame.state),
            HandleKind::Span(span) if !span.is_disabled() => TargetKind::Span(span),
            _ => TargetKind::Off,
        })
    }

    fn close(&mut self) {
        if let HandleKind::Frame(frame) = &mut self.0 {
            crate::frame::finish(frame);
        }
        self.0 = HandleKind::Off;
    }
}

/// A future's frame as the innermost scope for one poll (or the drop of the future).
struct FrameScope<'a> {
    frame: &'a mut Frame,
    index: Option<usize>,
    panicking_before: bool,
}

impl<'a> FrameScope<'a> {
    fn enter(frame: &'a mut Frame) -> FrameScope<'a> {
        FrameScope {
            index: crate::frame::enter(frame),
            frame,
            panicking_before: std::thread::panicking(),
        }
    }
}

impl Drop for FrameScope<'_> {
    fn drop(&mut self) {
        let Some(index) = self.index else {
            return;
        };
        crate::frame::leave(index, self.frame);
        if !self.panicking_before && std::thread::panicking() && self.frame.is_sampled() {
            self.frame.state.record_panic();
        }
    }
}

/// A tracing span entered for one poll, tagged if the poll panics.
struct SpanScope<'a> {
    span: &'a Span,
    _entered: tracing::span::Entered<'a>,
    panicking_before: bool,
}

impl<'a> SpanScope<'a> {
    fn enter(span: &'a Span) -> SpanScope<'a> {
        SpanScope {
            span,
            _entered: span.enter(),
            panicking_before: std::thread::panicking(),
        }
    }
}

impl Drop for SpanScope<'_> {
    fn drop(&mut self) {
        if !self.panicking_before && std::thread::panicking() && !self.span.is_disabled() {
            record_panic_on_span(self.span);
        }
    }
}

/// A future that runs inside its span: entered on every poll, tagged with the outcome and with
/// a panic during a poll, and closed when it completes or is dropped.
pub struct Instrumented<F, R, const N: usize> {
    future: ManuallyDrop<F>,
    handle: Handle<N>,
    record: Option<R>,
}

/// Wraps `future` so it runs in `handle`'s span; `record` sees the output before the span closes.
#[inline]
pub fn instrument<F, R, const N: usize>(
    handle: Handle<N>,
    future: F,
    record: R,
) -> Instrumented<F, R, N>
where
    F: Future,
    R: FnOnce(&mut Target<'_>, &F::Output),
{
    Instrumented {
        future: ManuallyDrop::new(future),
        handle,
        record: Some(record),
    }
}

impl<F, R, const N: usize> Future for Instrumented<F, R, N>
where
    F: Future,
    R: FnOnce(&mut Target<'_>, &F::Output),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `self` and is dropped
        // in place by `Drop`. The other fields are not pinned and are only used through `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is for as long as `this` lives.
        let future = unsafe { Pin::new_unchecked(&mut *this.future) };
        if let HandleKind::Opening(..) = this.handle.0 {
            return first_poll(&mut this.handle, &mut this.record, future, cx);
        }
        let poll = match &mut this.handle.0 {
            HandleKind::Frame(frame) => {
                let _scope = FrameScope::enter(frame);
                future.poll(cx)
            }
            HandleKind::Span(span) => {
                let _scope = SpanScope::enter(span);
                future.poll(cx)
            }
            _ => future.poll(cx),
        };
        if let Poll::Ready(output) = &poll {
            if let Some(record) = this.record.take() {
                let mut target = this.handle.target();
                if target.is_recording() {
                    record(&mut target, output);
                }
            }
            // Close the span now rather than when the caller drops the finished future.
            this.handle.close();
        }
        poll
    }
}

/// The first poll of a future whose frame was only decided (an `Opening`): the frame is made in
/// a stack slot as for a synchronous call, and a future that completes in this poll — most do —
/// is closed from there. One that is still pending takes its frame along.
#[inline]
fn first_poll<F, R, const N: usize>(
    handle: &mut Handle<N>,
    record: &mut Option<R>,
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output>
where
    F: Future,
    R: FnOnce(&mut Target<'_>, &F::Output),
{
    let HandleKind::Opening(opening, meta, scalars) = &mut handle.0 else {
        return future.poll(cx);
    };
    let meta = *meta;
    let sampled = opening.is_sampled();
    // Made from the opening where it lies in the future, not moved out first (see `push`).
    let Some(index) = crate::frame::push(opening, meta, scalars.as_slice()) else {
        handle.0 = HandleKind::Off;
        return future.poll(cx);
    };
    // SAFETY: the opening's only owned part, its service, moved into the frame with `push`,
    // and its arguments are `Copy`: nothing is left to drop, so it is overwritten without
    // running (or reading, which would stall on the stores `push` just made) its destructor.
    unsafe { std::ptr::write(&mut handle.0, HandleKind::Off) };
    let mut slot = FirstPoll {
        index,
        handle,
        panicking_before: std::thread::panicking(),
        done: false,
    };
    let poll = future.poll(cx);
    slot.done = true;
    match &poll {
        Poll::Ready(output) => {
            if let (Some(record), true) = (record.take(), sampled) {
                record(&mut Target(TargetKind::Frame(index, meta)), output);
            }
            crate::frame::close(index, false);
        }
        Poll::Pending => slot.park(),
    }
    poll
}

/// The slot of a future's first poll; if the poll unwinds, the frame is parked in the future
/// with the panic recorded, and closes when the future is dropped.
struct FirstPoll<'a, const N: usize> {
    index: usize,
    handle: &'a mut Handle<N>,
    panicking_before: bool,
    done: bool,
}

impl<const N: usize> FirstPoll<'_, N> {
    fn park(&mut self) {
        let Some(frame) = crate::frame::take_out(self.index) else {
            return;
        };
        self.handle.0 = if frame.is_sampled() {
            HandleKind::Frame(Box::new(frame))
        } else {
            // Nothing is recorded: the ids are all the next poll needs.
            HandleKind::Opening(
                Opening::unsampled(frame.state.context),
                frame.state.meta,
                ScalarArgs::new(),
            )
        };
    }
}

impl<const N: usize> Drop for FirstPoll<'_, N> {
    #[inline]
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.park();
        if !self.panicking_before && std::thread::panicking() {
            if let HandleKind::Frame(frame) = &mut self.handle.0 {
                if frame.is_sampled() {
                    frame.state.record_panic();
                }
            }
        }
    }
}

impl<F, R, const N: usize> Drop for Instrumented<F, R, N> {
    fn drop(&mut self) {
        if let HandleKind::Off = self.handle.0 {
            // The common case (the span closed when the future completed), checked in place:
            // moving the handle out would read back the tag just written by the close, wider
            // than it was written, which stalls.
            // SAFETY: `future` is dropped exactly once, here, in place, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.future) };
            return;
        }
        // Dropping the body (its locals' destructors) is part of the span's work.
        match std::mem::replace(&mut self.handle.0, HandleKind::Off) {
            HandleKind::Opening(mut opening, meta, scalars) => {
                // Never polled: the frame is made in a slot just for the drop.
                let index = crate::frame::push(&mut opening, meta, scalars.as_slice());
                // SAFETY: `future` is dropped exactly once, here, in place, and never used again.
                unsafe { ManuallyDrop::drop(&mut self.future) };
                if let Some(index) = index {
                    crate::frame::close(index, false);
                }
            }
            HandleKind::Frame(mut frame) => {
                {
                    let _scope = FrameScope::enter(&mut frame);
                    // SAFETY: as above.
                    unsafe { ManuallyDrop::drop(&mut self.future) };
                }
                crate::frame::finish(&mut frame);
            }
            HandleKind::Span(span) => {
                let _entered = span.enter();
                // SAFETY: as above.
                unsafe { ManuallyDrop::drop(&mut self.future) };
            }
            HandleKind::Off => {
                // SAFETY: as above.
                unsafe { ManuallyDrop::drop(&mut self.future) };
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes.

/// Where a call's outcome (error, return value, panic) is recorded.
pub struct Target<'a>(TargetKind<'a>);

enum TargetKind<'a> {
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

fn record_panic_on_span(span: &Span) {
    if let Some(message) = current_panic_message() {
        span.record("error", message.as_str());
        span.record("error.type", "panic");
    }
}
