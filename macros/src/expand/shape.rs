//! How the body runs inside the span, for each shape of function.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{Attribute, Expr, ExprAsync, FnArg, ItemFn, Pat, PatIdent, ReturnType, Signature};

use super::outcome::{outcome, recorder};
use super::span::{Shape, span_decl};
use super::syntax::{
    RefBindings, contains_impl_trait, erase_impl_trait, future_output, returns_never, returns_unit,
    rewrite_future_tail,
};
use crate::valid::{Checked, return_span};

/// The function's attributes: outer ones stay on the function, inner ones open its body.
pub(super) struct Attrs {
    pub(super) outer: Vec<Attribute>,
    pub(super) inner: Vec<Attribute>,
}

/// A synchronous body, run as a closure so its return value can be recorded.
pub(super) fn closure_fn(function: &ItemFn, checked: &Checked, attrs: &Attrs) -> TokenStream {
    let ItemFn { sig, block, .. } = function;
    let stmts = &block.stmts;
    let body = match &sig.output {
        ReturnType::Type(arrow, ty) if !returns_unit(&sig.output) => {
            let ty = erase_impl_trait(ty);
            let outcome = outcome(
                checked,
                &quote!(&__traced_ret),
                &quote!(&mut __traced_target),
            );
            quote! {
                let __traced_ret = ::traced::__private::call_once(move || #arrow #ty { #(#stmts)* });
                if __traced_guard.is_recording() {
                    let mut __traced_target = __traced_guard.target();
                    #outcome
                }
                __traced_ret
            }
        }
        _ => quote! {
            ::traced::__private::call_once(move || { #(#stmts)* })
        },
    };
    entered_sync(function, checked, attrs, body)
}

/// `#[track_caller]` (a closure would hide the caller) and `-> !` (nothing to record): the
/// body stays as it is, inside the span.
pub(super) fn inline_fn(function: &ItemFn, checked: &Checked, attrs: &Attrs) -> TokenStream {
    let ItemFn { sig, block, .. } = function;
    let stmts = &block.stmts;
    // A value that falls off the end of the body is recorded; one left by `return` is not (the
    // span still closes and panics are still recorded).
    let body = match &sig.output {
        ReturnType::Type(_, ty) if !returns_never(&sig.output) && !contains_impl_trait(ty) => {
            let outcome = outcome(
                checked,
                &quote!(&__traced_ret),
                &quote!(&mut __traced_target),
            );
            quote! {
                // The body is now a sub-expression; a `return` in it is not a smell here.
                #[allow(clippy::diverging_sub_expression)]
                let __traced_ret: #ty = { #(#stmts)* };
                #[allow(unreachable_code)]
                let __traced_ret = {
                    if __traced_guard.is_recording() {
                        let mut __traced_target = __traced_guard.target();
                        #outcome
                    }
                    __traced_ret
                };
                __traced_ret
            }
        }
        _ => quote!(#(#stmts)*),
    };
    entered_sync(function, checked, attrs, body)
}

/// A synchronous function whose `body` runs with its span entered by a guard, so every way out
/// of the body — return, `?`, panic — closes the span.
fn entered_sync(
    function: &ItemFn,
    checked: &Checked,
    attrs: &Attrs,
    body: TokenStream,
) -> TokenStream {
    let span_decl = span_decl(function, checked, &TokenStream::new(), Shape::Sync).decl;
    rebuilt(function, &function.sig, attrs, quote!(#span_decl #body))
}

/// An `async fn` under a runtime's entry attribute stays `async`: its span starts at first poll,
/// which for an entry point is the call.
pub(super) fn lazy_async(function: &ItemFn, checked: &Checked, attrs: &Attrs) -> TokenStream {
    let span_decl = span_decl(function, checked, &TokenStream::new(), Shape::Future).decl;
    let body = future_body(function, checked, quote!(__traced_handle), &[]);
    rebuilt(
        function,
        &function.sig,
        attrs,
        quote!(#span_decl #body.await),
    )
}

/// An `async fn` becomes a `fn` returning `impl Future`: the span is created at the call.
pub(super) fn async_fn(function: &ItemFn, checked: &Checked, attrs: &Attrs) -> TokenStream {
    let mut sig = function.sig.clone();
    sig.asyncness = None;
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    // The `impl` token must carry this crate's edition (2024), which captures every lifetime in
    // scope, as the `async fn` did; so it is spanned at the call site, never at user tokens.
    sig.output = syn::parse_quote!(-> impl ::core::future::Future<Output = #output>);
    let ArgMoves {
        mut moves,
        bindings,
    } = move_args(&mut sig.inputs);
    // `follows_from = causes` takes `causes` at the call, as tracing-attributes does; the
    // future must not take it again.
    if let Some(Expr::Path(path)) = checked.options.follows_from.as_ref().map(|opt| &opt.value) {
        if let Some(ident) = path.path.get_ident() {
            let taken = quote!(let #ident = #ident;).to_string();
            moves.retain(|take| take.to_string() != taken);
        }
    }
    let span = span_decl(function, checked, &bindings, Shape::Future);
    // The handle is made where the future keeps it, not in a local moved there: a moved handle
    // is read back right after it was written, wider than it was written, which stalls.
    let (span_decl, handle) = if span.binding_used_after {
        (span.decl, quote!(__traced_handle))
    } else {
        (TokenStream::new(), span.value)
    };
    let body = future_body(function, checked, handle, &moves);
    rebuilt(function, &sig, attrs, quote!(#span_decl #body))
}

/// The future an `async fn`'s body becomes, in its span (`handle`): `moves` take the arguments
/// in, then the body runs as written.
fn future_body(
    function: &ItemFn,
    checked: &Checked,
    handle: TokenStream,
    moves: &[TokenStream],
) -> TokenStream {
    let fake_return = declared_fake_return(function);
    let stmts = &function.block.stmts;
    let record = recorder(checked);
    quote! {
        ::traced::__private::instrument(#handle, async move {
            #fake_return
            #(#moves)*
            #(#stmts)*
        }, #record)
    }
}

/// How an `async fn`'s arguments get into its future.
struct ArgMoves {
    /// `let x = x;` for each argument, at the top of the future.
    moves: Vec<TokenStream>,
    /// `let (ref a, ref b) = __traced_arg0;` for pattern arguments, so the span's fields can
    /// read them before the future takes them.
    bindings: TokenStream,
}

/// Like the compiler's own lowering of `async fn`: every argument moves into the future, even
/// ones the body never uses, so they live (and drop) as they did. Pattern arguments are renamed
/// `__traced_argN` in `inputs` and destructured in the future.
fn move_args(inputs: &mut syn::punctuated::Punctuated<FnArg, syn::Token![,]>) -> ArgMoves {
    let mut moves = Vec::new();
    let mut bindings = TokenStream::new();
    for (index, input) in inputs.iter_mut().enumerate() {
        let typed = match input {
            FnArg::Receiver(_) => {
                moves.push(quote!(let _ = &self;));
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        // `#[cfg]` on a parameter applies to its move into the future as well.
        let cfg: Vec<Attribute> = typed
            .attrs
            .iter()
            .filter(|attr| crate::valid::is_cfg(attr))
            .cloned()
            .collect();
        match &mut *typed.pat {
            Pat::Ident(PatIdent {
                by_ref: None,
                mutability,
                ident,
                subpat: None,
                ..
            }) => {
                let mutability = mutability.take();
                moves.push(quote!(#(#cfg)* let #mutability #ident = #ident;));
            }
            pat => {
                let renamed = format_ident!("__traced_arg{}", index);
                let keep = format_ident!("__traced_keep{}", index);
                if matches!(pat, Pat::Wild(_)) {
                    moves.push(quote!(#(#cfg)* let #keep = #renamed;));
                } else {
                    let mut by_ref = pat.clone();
                    RefBindings.visit_pat_mut(&mut by_ref);
                    bindings.extend(quote! {
                        #(#cfg)*
                        #[allow(unused_variables)]
                        let #by_ref = #renamed;
                    });
                    moves.push(quote!(#(#cfg)* let #pat = #renamed;));
                }
                *pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: renamed,
                    subpat: None,
                });
            }
        }
    }
    ArgMoves { moves, bindings }
}

/// A `fn` whose body ends in an async block: the synchronous part runs in the span, and the
/// future it returns carries the span on.
pub(super) fn future_fn(function: &ItemFn, checked: &Checked, attrs: &Attrs) -> TokenStream {
    let span_decl = span_decl(function, checked, &TokenStream::new(), Shape::SharedFuture).decl;
    let fake_return =
        future_output(&function.sig.output).map(|output| fake_return(&output, Span::call_site()));
    let record = recorder(checked);
    let mut block = (*function.block).clone();
    rewrite_future_tail(&mut block, |future| {
        let ExprAsync {
            attrs,
            async_token,
            capture,
            block,
        } = future;
        let stmts = &block.stmts;
        quote! {
            ::traced::__private::instrument(
                __traced_handle.share(),
                #(#attrs)* #async_token #capture {
                    #fake_return
                    #(#stmts)*
                },
                #record,
            )
        }
    });
    let stmts = &block.stmts;
    let body = quote! {
        #span_decl
        let __traced_scope = __traced_handle.enter();
        #(#stmts)*
    };
    rebuilt(function, &function.sig, attrs, body)
}

/// The function again, with `sig` and `body`: its outer attributes before it, its inner ones
/// opening the body. The body's braces are the user's, so that the item spans the user's code
/// from `fn` to `}` and the compiler's lints on it (`dead_code` for a function nothing calls)
/// are reported as they would be without the attribute.
fn rebuilt(function: &ItemFn, sig: &Signature, attrs: &Attrs, body: TokenStream) -> TokenStream {
    let vis = &function.vis;
    let Attrs { outer, inner } = attrs;
    let mut tokens = quote!(#(#outer)* #vis #sig);
    function.block.brace_token.surround(&mut tokens, |tokens| {
        tokens.extend(quote!(#(#inner)* #body));
    });
    tokens
}

/// `fake_return` for the type an `async fn` declares, when it can be written in a `let`.
fn declared_fake_return(function: &ItemFn) -> Option<TokenStream> {
    let output = match &function.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => return None,
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    Some(fake_return(&output, return_span(function)))
}

/// `if false { return <a value of type output>; }`: tells an async block its output type up
/// front, so `?` and `.into()` in the body infer as they did in the `async fn`.
fn fake_return(output: &TokenStream, span: Span) -> TokenStream {
    quote_spanned! {span=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return,
        )]
        if false {
            let __traced_fake_return: #output = loop {};
            return __traced_fake_return;
        }
    }
}

/// Whether the span must be kept by a guard around the body as written, not a closure:
/// `#[track_caller]` (a closure would hide the caller) and `-> !`.
pub(super) fn is_inline(function: &ItemFn, attrs: &Attrs) -> bool {
    returns_never(&function.sig.output)
        || attrs
            .outer
            .iter()
            .any(|attr| attr.path().is_ident("track_caller"))
}

/// `#[tokio::main]`, `#[tokio::test]` and the like need the `async fn` they will rewrite.
pub(super) fn is_runtime_entry(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "main" || segment.ident == "test")
}
