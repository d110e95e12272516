//! Generating the traced function.
//!
//! Every shape gets the same span (`span_decl`: one static callsite, then a `Guard` for a
//! synchronous body or a `Handle` for a future) and the same outcome recording (`outcome`); what
//! differs is how the body runs inside the span:
//!
//! - a synchronous body runs as a closure, so `return` and `?` leave the closure and the return
//!   value can be inspected; a guard closes the span on every exit, panics included;
//! - an `async fn` becomes a `fn` returning `impl Future`, so the span is created at the call
//!   (with the caller's span as parent, even if the future is polled on another thread), and
//!   the body becomes a future that enters the span on every poll;
//! - a `fn` whose body ends in an async block (`impl Future`, `Box::pin(async move {..})` as
//!   `#[async_trait]` writes it, tower's `Service::call`) runs its synchronous part in the span
//!   and hands the span to the future it returns.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    AttrStyle, Attribute, Block, Expr, ExprAsync, FnArg, ItemFn, LitStr, Pat, PatIdent, ReturnType,
    Stmt, Type,
};

use crate::attr::{FieldValue, Format, unraw};
use crate::valid::{Checked, return_span};

pub(crate) fn function(function: ItemFn, checked: Checked) -> TokenStream {
    let (inner, outer): (Vec<Attribute>, Vec<Attribute>) = function
        .attrs
        .iter()
        .cloned()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    if function.sig.asyncness.is_some() {
        if outer.iter().any(is_runtime_entry) {
            return lazy_async(function, &checked, &outer, &inner);
        }
        return async_fn(function, &checked, &outer, &inner);
    }
    if future_tail(&function.block).is_some() {
        return future_fn(function, &checked, &outer, &inner);
    }
    let never =
        matches!(&function.sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    if never
        || outer
            .iter()
            .any(|attr| attr.path().is_ident("track_caller"))
    {
        return inline_fn(function, &checked, &outer, &inner);
    }
    closure_fn(function, &checked, &outer, &inner)
}

/// `#[tokio::main]`, `#[tokio::test]` and the like need the `async fn` they will rewrite.
fn is_runtime_entry(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "main" || segment.ident == "test")
}

// ---------------------------------------------------------------------------------------------
// Shapes.

/// A synchronous body, run as a closure so its return value can be recorded.
fn closure_fn(
    function: ItemFn,
    checked: &Checked,
    outer: &[Attribute],
    inner: &[Attribute],
) -> TokenStream {
    let ItemFn { sig, block, .. } = &function;
    let stmts = &block.stmts;
    let returns_unit = match &sig.output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()),
    };
    let body = match &sig.output {
        ReturnType::Type(arrow, ty) if !returns_unit => {
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
    entered_sync(&function, checked, outer, inner, body)
}

/// `#[track_caller]` (a closure would hide the caller) and `-> !` (nothing to record): the
/// body stays as it is, inside the span.
fn inline_fn(
    function: ItemFn,
    checked: &Checked,
    outer: &[Attribute],
    inner: &[Attribute],
) -> TokenStream {
    let ItemFn { sig, block, .. } = &function;
    let stmts = &block.stmts;
    // A value that falls off the end of the body is recorded; one left by `return` is not (the
    // span still closes and panics are still recorded).
    let body = match &sig.output {
        ReturnType::Type(_, ty) if !matches!(**ty, Type::Never(_)) && !contains_impl_trait(ty) => {
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
    entered_sync(&function, checked, outer, inner, body)
}

/// A synchronous function whose `body` runs with its span entered by a guard, so every way out
/// of the body — return, `?`, panic — closes the span.
fn entered_sync(
    function: &ItemFn,
    checked: &Checked,
    outer: &[Attribute],
    inner: &[Attribute],
    body: TokenStream,
) -> TokenStream {
    let ItemFn { vis, sig, .. } = function;
    let span_decl = span_decl(function, checked, &TokenStream::new(), Shape::Sync).decl;
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #span_decl
            #body
        }
    }
}

/// An `async fn` under a runtime's entry attribute stays `async`: its span starts at first poll,
/// which for an entry point is the call.
fn lazy_async(
    function: ItemFn,
    checked: &Checked,
    outer: &[Attribute],
    inner: &[Attribute],
) -> TokenStream {
    let ItemFn {
        vis, sig, block, ..
    } = &function;
    let span_decl = span_decl(&function, checked, &TokenStream::new(), Shape::Future).decl;
    let fake_return = fake_return(&function);
    let stmts = &block.stmts;
    let record = recorder(checked);
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #span_decl
            ::traced::__private::instrument(__traced_handle, async move {
                #fake_return
                #(#stmts)*
            }, #record).await
        }
    }
}

/// An `async fn` becomes a `fn` returning `impl Future`: the span is created at the call.
fn async_fn(
    function: ItemFn,
    checked: &Checked,
    outer: &[Attribute],
    inner: &[Attribute],
) -> TokenStream {
    let ItemFn {
        vis, sig, block, ..
    } = &function;
    let mut sig = sig.clone();
    sig.asyncness = None;
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    // The `impl` token must carry this crate's edition (2024), which captures every lifetime in
    // scope, as the `async fn` did; so it is spanned at the call site, never at user tokens.
    sig.output = syn::parse_quote!(-> impl ::core::future::Future<Output = #output>);

    // Like the compiler's own lowering of `async fn`: every argument moves into the future,
    // even ones the body never uses, so they live (and drop) as they did.
    let mut moves = Vec::new();
    let mut bindings = TokenStream::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(_) => moves.push(quote!(let _ = &self;)),
            FnArg::Typed(typed) => {
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
                        *pat = syn::parse_quote!(#renamed);
                    }
                }
            }
        }
    }
    let span = span_decl(&function, checked, &bindings, Shape::Future);
    // The handle is made where the future keeps it, not in a local moved there: a moved handle
    // is read back right after it was written, wider than it was written, which stalls.
    let (span_decl, handle) = if span.binding_used_after {
        (span.decl, quote!(__traced_handle))
    } else {
        (TokenStream::new(), span.value)
    };
    let fake_return = fake_return(&function);
    let stmts = &block.stmts;
    let record = recorder(checked);
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #span_decl
            ::traced::__private::instrument(#handle, async move {
                #fake_return
                #(#moves)*
                #(#stmts)*
            }, #record)
        }
    }
}

/// A `fn` whose body ends in an async block: the synchronous part runs in the span, and the
/// future it returns carries the span on.
fn future_fn(
    function: ItemFn,
    checked: &Checked,
    outer: &[Attribute],
    inner: &[Attribute],
) -> TokenStream {
    let span_decl = span_decl(&function, checked, &TokenStream::new(), Shape::SharedFuture).decl;
    let output = future_output(&function.sig.output);
    let record = recorder(checked);
    let ItemFn {
        vis, sig, block, ..
    } = function;
    let mut block = *block;
    if let Some(target) = future_tail_mut(&mut block) {
        let Expr::Async(future) = target else {
            return quote!(#(#outer)* #vis #sig #block);
        };
        let mut future = future.clone();
        if let Some(output) = &output {
            let fake: Stmt = syn::parse_quote! {
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
            };
            future.block.stmts.insert(0, fake);
        }
        let instrumented: Expr = syn::parse_quote! {
            ::traced::__private::instrument(
                __traced_handle.share(),
                #future,
                #record,
            )
        };
        *target = instrumented;
    }
    let stmts = &block.stmts;
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #span_decl
            let __traced_scope = __traced_handle.enter();
            #(#stmts)*
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The span.

/// Whether the span lives only for a synchronous call or is carried by a future.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A synchronous body: a `Guard`.
    Sync,
    /// A future: a `Handle` the future carries.
    Future,
    /// A synchronous part and then a future, which share one tracing span.
    SharedFuture,
}

/// A call's span, as generated code: an expression, and the `let` that binds it.
struct SpanDecl {
    /// The block that makes the `Guard` or `Handle`.
    value: TokenStream,
    /// `let __traced_guard = …;` (or `__traced_handle`), with `follows_from` after it.
    decl: TokenStream,
    /// Whether the `let` is followed by code using the binding (`follows_from`).
    binding_used_after: bool,
}

/// The call's span with its fields, described by a static callsite. `bindings` makes pattern
/// arguments visible by reference while the fields are computed.
fn span_decl(
    function: &ItemFn,
    checked: &Checked,
    bindings: &TokenStream,
    shape: Shape,
) -> SpanDecl {
    let options = &checked.options;
    let name = options
        .name
        .as_ref()
        .map(|name| name.value.clone())
        .unwrap_or_else(|| LitStr::new(&unraw(&function.sig.ident), function.sig.ident.span()));
    let target = match &options.target {
        Some(target) => target.value.to_token_stream(),
        None => quote!(::core::module_path!()),
    };
    let level = match options.level.as_ref().map(|level| level.value.as_str()) {
        Some("trace") => quote!(TRACE),
        Some("debug") => quote!(DEBUG),
        Some("warn") => quote!(WARN),
        Some("error") => quote!(ERROR),
        _ => quote!(INFO),
    };
    let level = quote!(::traced::__private::tracing::Level::#level);

    // The callsite's fields, in order, with each one's value (`None`: recorded later).
    let mut names = Vec::new();
    let mut values = Vec::new();
    // The same fields, as calls on a frame's recorder (`FrameTags`).
    let mut tags = Vec::new();
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    let none = quote!(::core::option::Option::None);
    for arg in &checked.recorded {
        let key = LitStr::new(&arg.name, arg.ident.span());
        names.push(key.clone());
        if arg.redacted {
            values.push(some(quote!(::traced::__private::value(
                &::traced::__private::REDACTED
            ))));
            tags.push(quote!(__traced_tags.text(#key, ::traced::__private::REDACTED);));
        } else {
            let ident = &arg.ident;
            values.push(some(quote! {
                ::traced::__private::ArgValue::as_value(
                    &(&&&&::traced::__private::Arg(&#ident)).__traced_arg()
                )
            }));
            tags.push(quote! {
                __traced_tags.arg(#key, (&&&&::traced::__private::Arg(&#ident)).__traced_arg());
            });
        }
    }
    if let Some(kind) = &options.kind {
        names.push(LitStr::new("otel.kind", kind.key));
        let kind = LitStr::new(&kind.value, kind.key);
        values.push(some(quote!(::traced::__private::value(&#kind))));
        tags.push(quote!(__traced_tags.text("otel.kind", #kind);));
    }
    for key in ["error", "error.type"] {
        names.push(LitStr::new(key, proc_macro2::Span::call_site()));
        values.push(none.clone());
    }
    if options.ret.is_some() {
        names.push(LitStr::new("return", proc_macro2::Span::call_site()));
        values.push(none.clone());
    }
    let mut recorded_later = false;
    for field in options.fields.iter().flat_map(|fields| &fields.value) {
        let key = LitStr::new(&field.name, field.span);
        names.push(key.clone());
        let value = if checked.redacted_fields.contains(&field.name) {
            tags.push(quote!(__traced_tags.text(#key, ::traced::__private::REDACTED);));
            some(quote!(::traced::__private::value(
                &::traced::__private::REDACTED
            )))
        } else {
            match &field.value {
                FieldValue::Empty => {
                    recorded_later = true;
                    none.clone()
                }
                // `k = tracing::field::Empty`, as tracing spells "record later".
                FieldValue::Value(Expr::Path(path))
                    if path
                        .path
                        .segments
                        .last()
                        .is_some_and(|last| last.ident == "Empty") =>
                {
                    recorded_later = true;
                    none.clone()
                }
                FieldValue::Value(expr) => {
                    tags.push(quote_spanned! {expr.span()=>
                        __traced_tags.field(
                            #key,
                            (&&&&::traced::__private::Arg(&(#expr))).__traced_arg(),
                        );
                    });
                    some(quote_spanned! {expr.span()=>
                        ::traced::__private::ArgValue::as_value(
                            &(&&&&::traced::__private::Arg(&(#expr))).__traced_arg()
                        )
                    })
                }
                FieldValue::Display(expr) => {
                    tags.push(quote_spanned! {expr.span()=>
                        __traced_tags.display(#key, &(#expr));
                    });
                    some(quote_spanned! {expr.span()=>
                        ::traced::__private::value(&::traced::__private::display(&(#expr)))
                    })
                }
                FieldValue::Debug(expr) => {
                    tags.push(quote_spanned! {expr.span()=>
                        __traced_tags.debug(#key, &(#expr));
                    });
                    some(quote_spanned! {expr.span()=>
                        ::traced::__private::value(&::traced::__private::debug(&(#expr)))
                    })
                }
            }
        };
        values.push(value);
    }
    let has_values = values
        .iter()
        .any(|value| value.to_string() != none.to_string());

    // A frame (the fast path) is invisible to `tracing::Span::current()`: a body that asks for
    // the current span, fields recorded later through it, links and a future shared with a
    // synchronous part get a tracing span.
    let start = match options.parent.as_ref().map(|parent| &parent.value) {
        Some(Expr::Path(path)) if path.path.is_ident("None") => quote! {
            ::traced::__private::Start::Parent(
                ::traced::__private::Parent::Local(::core::option::Option::None)
            )
        },
        Some(parent) => {
            let parent = quote_spanned! {parent.span()=>
                ::traced::__private::IntoParent::into_parent(#parent)
            };
            quote!(::traced::__private::Start::Parent(#parent))
        }
        None if recorded_later
            || options.follows_from.is_some()
            || shape == Shape::SharedFuture
            || uses_current_span(&function.block) =>
        {
            quote!(::traced::__private::Start::Tracing)
        }
        None => quote!(::traced::__private::Start::Frames),
    };
    // A future carries room for its typed arguments until its first poll (as many as a tag
    // list holds inline, two), so that recording them does not allocate; a future shared with
    // a synchronous part has a tracing span, which takes its fields at once.
    let inline_args = match shape {
        Shape::Future => checked
            .recorded
            .iter()
            .filter(|arg| !arg.redacted)
            .count()
            .min(2),
        Shape::Sync | Shape::SharedFuture => 0,
    };
    let (binding, holder, holder_type) = match shape {
        Shape::Sync => (
            quote!(__traced_guard),
            quote!(::traced::__private::Guard),
            quote!(::traced::__private::Guard),
        ),
        Shape::Future | Shape::SharedFuture => (
            quote!(__traced_handle),
            quote!(::traced::__private::Handle::<#inline_args>),
            quote!(::traced::__private::Handle<#inline_args>),
        ),
    };
    let follows = options.follows_from.as_ref().map(|follows| {
        let expr = &follows.value;
        quote_spanned! {expr.span()=>
            if let ::core::option::Option::Some(__traced_span) = #binding.span() {
                __traced_span.follows_from(#expr);
            }
        }
    });
    let fields = quote! {
        ::traced::__private::Fields {
            any: #has_values,
            values: |__traced_values: &mut dyn ::core::ops::FnMut(
                &::traced::__private::tracing::field::ValueSet<'_>,
            )| {
                __traced_values(&__TRACED_META.fields().value_set_all(&[#(#values),*]))
            },
            #[allow(unused_variables)]
            tags: |__traced_tags: &mut ::traced::__private::FrameTags<'_>| {
                #(#tags)*
            },
        }
    };
    let enabled = quote!(::traced::__private::tracing::level_enabled!(#level));
    let make = match shape {
        Shape::Sync => quote! {
            if #enabled {
                #holder::start(&__TRACED_CALLSITE, #start, #fields)
            } else {
                #holder::off()
            }
        },
        // One call makes the handle, so that it is written where the future keeps it.
        Shape::Future | Shape::SharedFuture => quote! {
            #holder::start_if(#enabled, &__TRACED_CALLSITE, #start, #fields)
        },
    };
    let core = quote!(::traced::__private::tracing_core);
    let value = quote! {
        {
            #bindings
            #[allow(unused_imports)]
            use ::traced::__private::{
                ArgDebug as _, ArgNothing as _, ArgStr as _, ArgTyped as _,
            };
            static __TRACED_META: #core::Metadata<'static> = #core::Metadata::new(
                #name,
                #target,
                #level,
                ::core::option::Option::Some(::core::file!()),
                ::core::option::Option::Some(::core::line!()),
                ::core::option::Option::Some(::core::module_path!()),
                #core::field::FieldSet::new(
                    &[#(#names),*],
                    #core::identify_callsite!(&__TRACED_CALLSITE),
                ),
                #core::metadata::Kind::SPAN,
            );
            static __TRACED_CALLSITE: #core::callsite::DefaultCallsite =
                #core::callsite::DefaultCallsite::new(&__TRACED_META);
            #make
        }
    };
    let decl = quote! {
        #[allow(unused_mut)]
        let mut #binding: #holder_type = #value;
        #follows
    };
    SpanDecl {
        value,
        decl,
        binding_used_after: follows.is_some(),
    }
}

/// Whether the body asks `tracing` for the current span (`Span::current()`,
/// `in_current_span()`, `current_span()`), which a frame would not be.
fn uses_current_span(block: &Block) -> bool {
    fn scan(tokens: TokenStream, previous: &mut Vec<String>) -> bool {
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Group(group) => {
                    if scan(group.stream(), previous) {
                        return true;
                    }
                }
                proc_macro2::TokenTree::Ident(ident) => {
                    let ident = ident.to_string();
                    let after_path =
                        previous.len() >= 2 && previous[previous.len() - 2..] == [":", ":"];
                    if ident == "in_current_span"
                        || ident == "current_span"
                        || (ident == "current" && after_path)
                    {
                        return true;
                    }
                    previous.push(ident);
                }
                proc_macro2::TokenTree::Punct(punct) => previous.push(punct.as_char().to_string()),
                proc_macro2::TokenTree::Literal(_) => previous.push(String::new()),
            }
        }
        false
    }
    scan(block.to_token_stream(), &mut Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Outcomes.

/// Records the outcome `value` (a reference to the return value) on `target` (a
/// `&mut Target`).
fn outcome(checked: &Checked, value: &TokenStream, span: &TokenStream) -> TokenStream {
    let options = &checked.options;
    let error = match options.err.as_ref().map(|err| (err.key, err.value)) {
        Some((_, Format::Debug(format))) => {
            let value = at(format, value);
            quote_spanned! {format=>
                ::traced::__private::outcome_debug(#span, #value);
            }
        }
        Some((_, Format::Display(format))) => {
            let value = at(format, value);
            quote_spanned! {format=>
                ::traced::__private::outcome_display(#span, #value);
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
                (&&&&::traced::__private::Outcome(#value)).__traced_outcome(#span);
            }
        }
    };
    let ret = options.ret.as_ref().map(|ret| {
        let recorded = match ret.value {
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
        quote!(::traced::__private::Target::ret(#span, #recorded);)
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

/// `value`, as an expression whose span is `span`: a type error about it then points there
/// (at the option the user wrote) rather than at the whole attribute.
fn at(span: proc_macro2::Span, value: &TokenStream) -> TokenStream {
    quote_spanned!(span=> ::core::convert::identity(#value))
}

/// The closure a future calls with its output before its span closes.
fn recorder(checked: &Checked) -> TokenStream {
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

/// `if false { return <a value of the declared type>; }`: tells the async block its output
/// type up front, so `?` and `.into()` in the body infer as they did in the `async fn`.
fn fake_return(function: &ItemFn) -> Option<TokenStream> {
    let output = match &function.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            if contains_impl_trait(ty) {
                return None;
            }
            ty.to_token_stream()
        }
    };
    let span = return_span(function);
    Some(quote_spanned! {span=>
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
    })
}

/// The output type of the future a function returns, when it can be named.
fn future_output(output: &ReturnType) -> Option<TokenStream> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut finder = FindOutput(None);
    finder.visit_type(ty);
    if let Some(output) = finder.0 {
        if !contains_impl_trait(&output) {
            return Some(output.to_token_stream());
        }
        return None;
    }
    if contains_impl_trait(ty) {
        return None;
    }
    Some(quote!(<#ty as ::core::future::Future>::Output))
}

/// Finds `Output = T` in a `Future` bound.
struct FindOutput(Option<Type>);

impl<'ast> Visit<'ast> for FindOutput {
    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        let Some(last) = bound.path.segments.last() else {
            return;
        };
        if last.ident == "Future" {
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                for arg in &args.args {
                    if let syn::GenericArgument::AssocType(assoc) = arg {
                        if assoc.ident == "Output" && self.0.is_none() {
                            self.0 = Some(assoc.ty.clone());
                        }
                    }
                }
            }
        }
        syn::visit::visit_trait_bound(self, bound);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The async block a function body ends in, alone or as `Box::pin(async ..)`.
fn future_tail(block: &Block) -> Option<&ExprAsync> {
    let Some(Stmt::Expr(tail, None)) = block.stmts.last() else {
        return None;
    };
    match wrapped_future(tail) {
        Wrapped::Bare => match tail {
            Expr::Async(future) => Some(future),
            _ => None,
        },
        Wrapped::Call => match tail {
            Expr::Call(call) => match call.args.first() {
                Some(Expr::Async(future)) => Some(future),
                _ => None,
            },
            _ => None,
        },
        Wrapped::Method => match tail {
            Expr::MethodCall(call) => match &*call.receiver {
                Expr::Async(future) => Some(future),
                _ => None,
            },
            _ => None,
        },
    }
}

fn future_tail_mut(block: &mut Block) -> Option<&mut Expr> {
    let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() else {
        return None;
    };
    let target = match wrapped_future(tail) {
        Wrapped::Bare => tail,
        Wrapped::Call => match tail {
            Expr::Call(call) => call.args.first_mut()?,
            _ => return None,
        },
        Wrapped::Method => match tail {
            Expr::MethodCall(call) => &mut *call.receiver,
            _ => return None,
        },
    };
    matches!(target, Expr::Async(_)).then_some(target)
}

/// Where the async block sits in a tail expression.
enum Wrapped {
    /// `async { .. }`
    Bare,
    /// `Box::pin(async { .. })`
    Call,
    /// `async { .. }.boxed()` (the `futures` crate's `FutureExt`)
    Method,
}

fn wrapped_future(tail: &Expr) -> Wrapped {
    match tail {
        Expr::Call(call) if is_box_pin(&call.func) && call.args.len() == 1 => Wrapped::Call,
        Expr::MethodCall(call)
            if (call.method == "boxed" || call.method == "boxed_local") && call.args.is_empty() =>
        {
            Wrapped::Method
        }
        _ => Wrapped::Bare,
    }
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segments.ends_with(&["Box".to_owned(), "pin".to_owned()])
}

/// `impl Trait` cannot be written in a closure's return type or a `let`: `_` infers the same.
fn erase_impl_trait(ty: &Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut ty = ty.clone();
    Erase.visit_type_mut(&mut ty);
    ty
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Find(bool);
    impl<'ast> Visit<'ast> for Find {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = Find(false);
    find.visit_type(ty);
    find.0
}

/// Turns every binding of a pattern into a `ref` binding, to read arguments without moving them.
struct RefBindings;

impl VisitMut for RefBindings {
    fn visit_pat_ident_mut(&mut self, ident: &mut PatIdent) {
        ident.by_ref = Some(syn::Token![ref](ident.ident.span()));
        ident.mutability = None;
        syn::visit_mut::visit_pat_ident_mut(self, ident);
    }
}
