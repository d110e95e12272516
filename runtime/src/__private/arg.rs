//! Classifying a value by autoref specialization: typed, text, `Debug`, or nothing.

use std::borrow::Cow;
use std::fmt::{self, Debug, Display};

use tracing::field::{DebugValue, DisplayValue, Empty, Value};

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
