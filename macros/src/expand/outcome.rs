//! Recording how a call ended: the error of an `Err` (`err`) and the return value (`ret`).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::attr::{Format, Level};
use crate::valid::Checked;

/// Records the outcome `value` (a reference to the return value) on `target` (a
/// `&mut Target`).
pub(super) fn outcome(checked: &Checked, value: &TokenStream, target: &TokenStream) -> TokenStream {
    let options = &checked.options;
    let error = error(checked, value, target);
    let error = at_level(
        options
            .err
            .as_ref()
            .and_then(|err| err.value.level.as_ref()),
        error,
    );
    let ret = ret(checked, value, target).map(|ret| {
        at_level(
            options
                .ret
                .as_ref()
                .and_then(|ret| ret.value.level.as_ref()),
            ret,
        )
    });
    quote! {
        #[allow(unused_imports)]
        use ::traced::__private::{
            ArgDebug as _, ArgNothing as _, ArgStr as _, ArgTyped as _, OutcomeDebug as _,
            OutcomeDisplay as _, OutcomeOpaque as _, OutcomeOther as _,
        };
        #error
        #ret
    }
}

/// The closure a future calls with its output before its span closes.
pub(super) fn recorder(checked: &Checked) -> TokenStream {
    let outcome = outcome(
        checked,
        &quote!(__traced_output),
        &quote!(&mut *__traced_target),
    );
    quote! {
        |__traced_target: &mut ::traced::__private::Target<'_>, __traced_output| {
            #outcome
        }
    }
}

/// The `error` and `error.type` tags of an `Err`, formatted as `err(...)` asks; without a
/// format, `Display` where the error has it. `err` on a function that cannot fail is a type
/// error on the `err`.
fn error(checked: &Checked, value: &TokenStream, target: &TokenStream) -> TokenStream {
    match checked
        .options
        .err
        .as_ref()
        .map(|err| (err.key, err.value.format))
    {
        Some((_, Format::Debug(format))) => {
            let value = at(format, value);
            quote_spanned! {format=>
                ::traced::__private::outcome_debug(#target, #value);
            }
        }
        Some((_, Format::Display(format))) => {
            let value = at(format, value);
            quote_spanned! {format=>
                ::traced::__private::outcome_display(#target, #value);
            }
        }
        auto => {
            let check = auto.map(|(key, _)| {
                let value = at(key, value);
                quote_spanned! {key=>
                    ::traced::__private::assert_can_fail(#value);
                }
            });
            quote! {
                #check
                (&&&&::traced::__private::Outcome(#value)).__traced_outcome(#target);
            }
        }
    }
}

/// The `return` tag, when `ret` asks for it.
fn ret(checked: &Checked, value: &TokenStream, target: &TokenStream) -> Option<TokenStream> {
    let ret = checked.options.ret.as_ref()?;
    let recorded = match ret.value.format {
        Format::Auto => quote! {
            ::traced::__private::ArgValue::as_value(
                &(&&&&::traced::__private::Arg(#value)).__traced_arg()
            )
        },
        Format::Debug(format) => quote_spanned! {format=>
            ::traced::__private::value(&::traced::__private::debug(#value))
        },
        Format::Display(format) => quote_spanned! {format=>
            ::traced::__private::value(&::traced::__private::display(#value))
        },
    };
    Some(quote!(::traced::__private::Target::ret(#target, #recorded);))
}

/// `record`, only when `level` (of `err(level = ..)` or `ret(level = ..)`) is enabled, as
/// `tracing::instrument` emits its event only then.
fn at_level(level: Option<&Level>, record: TokenStream) -> TokenStream {
    match level {
        Some(level) => quote! {
            if ::traced::__private::tracing::level_enabled!(#level) {
                #record
            }
        },
        None => record,
    }
}

/// `value`, as an expression whose span is `span`: a type error about it then points there
/// (at the option the user wrote) rather than at the whole attribute.
fn at(span: Span, value: &TokenStream) -> TokenStream {
    quote_spanned!(span=> ::core::convert::identity(#value))
}
