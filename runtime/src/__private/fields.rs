//! A call's fields, recorded into a tracing span or straight into its frame.

use std::borrow::Cow;
use std::fmt::{Debug, Display};
use std::mem::MaybeUninit;

use tracing::field::ValueSet;
use tracing_core::Metadata;

use super::arg::ArgValue;
use crate::frame::{Frame, Opening};
use crate::state::{Scalar, SpanState};

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
pub struct FrameTags<'a>(pub(super) TagsInto<'a>);

pub(super) enum TagsInto<'a> {
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
pub(super) struct ScalarArgs<const N: usize> {
    len: u8,
    items: [MaybeUninit<(&'static str, Scalar)>; N],
}

impl<const N: usize> ScalarArgs<N> {
    #[inline(always)]
    pub(super) fn new() -> ScalarArgs<N> {
        ScalarArgs {
            len: 0,
            items: [MaybeUninit::uninit(); N],
        }
    }

    pub(super) fn as_slice(&self) -> &[(&'static str, Scalar)] {
        written(&self.items, self.len)
    }

    pub(super) fn slots(&mut self) -> ScalarSlots<'_> {
        ScalarSlots {
            len: &mut self.len,
            items: &mut self.items,
        }
    }
}

/// A `ScalarArgs` of any size, to record into.
pub(super) struct ScalarSlots<'a> {
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
pub(super) struct FutureTags<'a> {
    pub(super) opening: &'a mut Opening,
    pub(super) meta: &'static Metadata<'static>,
    pub(super) scalars: ScalarSlots<'a>,
    /// The frame, once a field needed one.
    pub(super) frame: &'a mut Option<Box<Frame>>,
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
