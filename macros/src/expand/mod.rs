//! Generating the traced function.
//!
//! Every shape gets the same span (`span`: one static callsite, then a `Guard` for a synchronous
//! body or a `Handle` for a future) and the same outcome recording (`outcome`); what differs is
//! how the body runs inside the span (`shape`):
//!
//! - a synchronous body runs as a closure, so `return` and `?` leave the closure and the return
//!   value can be inspected; a guard closes the span on every exit, panics included;
//! - an `async fn` becomes a `fn` returning `impl Future`, so the span is created at the call
//!   (with the caller's span as parent, even if the future is polled on another thread), and
//!   the body becomes a future that enters the span on every poll;
//! - a `fn` whose body ends in an async block (`impl Future`, `Box::pin(async move {..})` as
//!   `#[async_trait]` writes it, tower's `Service::call`) runs its synchronous part in the span
//!   and hands the span to the future it returns.
//!
//! `syntax` answers the questions these ask about the user's code. The modules depend one way:
//! `shape` → `span`, `outcome` → `syntax`.

use proc_macro2::TokenStream;
use syn::{AttrStyle, ItemFn};

use crate::valid::Checked;

mod outcome;
mod shape;
mod span;
mod syntax;

/// The traced function, in the shape its signature and body call for.
pub(crate) fn function(function: ItemFn, checked: Checked) -> TokenStream {
    let (inner, outer) = function
        .attrs
        .iter()
        .cloned()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    let attrs = shape::Attrs { outer, inner };
    if function.sig.asyncness.is_some() {
        if attrs.outer.iter().any(shape::is_runtime_entry) {
            return shape::lazy_async(&function, &checked, &attrs);
        }
        return shape::async_fn(&function, &checked, &attrs);
    }
    if syntax::future_tail(&function.block).is_some() {
        return shape::future_fn(&function, &checked, &attrs);
    }
    if shape::is_inline(&function, &attrs) {
        return shape::inline_fn(&function, &checked, &attrs);
    }
    shape::closure_fn(&function, &checked, &attrs)
}
