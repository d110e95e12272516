//! The span a call opens: one static callsite per function, its fields, and the `Guard` (for a
//! synchronous body) or `Handle` (for a future) that holds the span while the call runs.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, ItemFn, LitStr};

use super::syntax::uses_current_span;
use crate::attr::{Field, FieldValue, Options, SamplerChoice, unraw};
use crate::valid::{Checked, Recorded};

/// Whether the span lives only for a synchronous call or is carried by a future.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// A synchronous body: a `Guard`.
    Sync,
    /// A future: a `Handle` the future carries.
    Future,
    /// A synchronous part and then a future, which share one tracing span.
    SharedFuture,
}

/// A call's span, as generated code: an expression, and the `let` that binds it.
pub(super) struct SpanDecl {
    /// The block that makes the `Guard` or `Handle`.
    pub(super) value: TokenStream,
    /// `let __traced_guard = …;` (or `__traced_handle`), with `follows_from` after it.
    pub(super) decl: TokenStream,
    /// Whether the `let` is followed by code using the binding (`follows_from`).
    pub(super) binding_used_after: bool,
}

/// The call's span with its fields, described by a static callsite. `bindings` makes pattern
/// arguments visible by reference while the fields are computed.
pub(super) fn span_decl(
    function: &ItemFn,
    checked: &Checked,
    bindings: &TokenStream,
    shape: Shape,
) -> SpanDecl {
    let options = &checked.options;
    let level = level(options);
    let fields = CallFields::of(checked);
    let start = start(function, options, fields.recorded_later, shape);
    let holder = Holder::of(shape, checked);
    let follows = follows_from(options, &holder.binding);
    let callsite = callsite(
        &name(function, options),
        &target(options),
        &level,
        &fields.names,
    );
    let make = make(shape, &holder, &level, &start, &fields.tokens());
    let value = quote! {
        {
            #bindings
            #[allow(unused_imports)]
            use ::traced::__private::{
                ArgDebug as _, ArgNothing as _, ArgStr as _, ArgTyped as _,
            };
            #callsite
            #make
        }
    };
    let Holder { binding, ty, .. } = &holder;
    let decl = quote! {
        #[allow(unused_mut)]
        let mut #binding: #ty = #value;
        #follows
    };
    SpanDecl {
        value,
        decl,
        binding_used_after: follows.is_some(),
    }
}

/// The span's name: `name = ...`, else the function's.
fn name(function: &ItemFn, options: &Options) -> TokenStream {
    match &options.name {
        Some(name) => name.value.to_token_stream(),
        None => {
            LitStr::new(&unraw(&function.sig.ident), function.sig.ident.span()).to_token_stream()
        }
    }
}

/// The span's target: `target = "..."`, else the module's path.
fn target(options: &Options) -> TokenStream {
    match &options.target {
        Some(target) => target.value.to_token_stream(),
        None => quote!(::core::module_path!()),
    }
}

/// The span's `tracing::Level` (default `INFO`).
fn level(options: &Options) -> TokenStream {
    match &options.level {
        Some(level) => level.value.to_token_stream(),
        None => quote!(::traced::__private::tracing::Level::INFO),
    }
}

/// The `static` metadata and callsite every call of the function shares.
fn callsite(
    name: &TokenStream,
    target: &TokenStream,
    level: &TokenStream,
    names: &[TokenStream],
) -> TokenStream {
    let core = quote!(::traced::__private::tracing_core);
    quote! {
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
    }
}

/// The callsite's fields, in order: each one's name, its value at the call (for a tracing
/// span) and the call that records it (for a frame).
#[derive(Default)]
struct CallFields {
    /// Each field's name: a string literal, or the user's constant expression (`{NAME}`).
    names: Vec<TokenStream>,
    /// `Option<&dyn Value>` expressions; `None` is recorded later, or never.
    values: Vec<TokenStream>,
    /// Calls on a frame's recorder (`FrameTags`).
    tags: Vec<TokenStream>,
    /// `let _ = Empty;` for each `k = Empty` field (see `field`).
    markers: Vec<TokenStream>,
    /// Whether any field has a value at the call.
    any_value: bool,
    /// Whether a `fields(...)` entry is left empty, to be recorded through the span later.
    recorded_later: bool,
}

/// A field's value, in the two forms its span may take.
struct Value {
    /// The `&dyn tracing::Value` a tracing span records.
    value: TokenStream,
    /// The statement that records the value into a frame.
    tag: TokenStream,
}

impl CallFields {
    fn of(checked: &Checked) -> CallFields {
        let options = &checked.options;
        let mut fields = CallFields::default();
        for arg in &checked.recorded {
            fields.arg(arg);
        }
        if let Some(kind) = &options.kind {
            let value = LitStr::new(&kind.value, kind.key);
            fields.push(
                LitStr::new("otel.kind", kind.key).to_token_stream(),
                quote!(::traced::__private::value(&#value)),
                quote!(__traced_tags.text("otel.kind", #value);),
            );
        }
        // Set by the outcome, unless the user's `fields` declare them (as tracing users do, to
        // record an error themselves): then the outcome records into theirs.
        let declared = |key: &str| {
            options
                .fields
                .iter()
                .flat_map(|fields| &fields.value)
                .any(|field| field.computed.is_none() && field.name == key)
        };
        for key in ["error", "error.type"] {
            if !declared(key) {
                fields.push_empty(LitStr::new(key, Span::call_site()).to_token_stream());
            }
        }
        if options.ret.is_some() && !declared("return") {
            fields.push_empty(LitStr::new("return", Span::call_site()).to_token_stream());
        }
        for field in options.fields.iter().flat_map(|fields| &fields.value) {
            fields.field(field, checked.redactable_fields.contains(&field.name));
        }
        fields
    }

    fn push(&mut self, key: TokenStream, value: TokenStream, tag: TokenStream) {
        self.names.push(key);
        self.values
            .push(quote!(::core::option::Option::Some(#value)));
        self.tags.push(tag);
        self.any_value = true;
    }

    fn push_empty(&mut self, key: TokenStream) {
        self.names.push(key);
        self.values.push(quote!(::core::option::Option::None));
    }

    /// A value, recorded as the redaction marker instead when `redactable` and its key is
    /// sensitive. The runtime's rule decides, in a `const` block, so the choice costs nothing at
    /// run time. A frame records the marker without evaluating the value; for a tracing span,
    /// `redact::pick` chooses between the marker and the value as the array of values is built
    /// (the value expression is evaluated but never recorded), since a branch there would end
    /// the temporaries a value borrows before the span records it.
    fn push_value(&mut self, key: TokenStream, value: Value, redactable: bool) {
        let Value { value, tag } = value;
        if !redactable {
            return self.push(key, value, tag);
        }
        let sensitive = quote!(const { ::traced::__private::redact::is_sensitive(#key) });
        let value = quote!(::traced::__private::redact::pick(#sensitive, #value));
        let tag = quote! {
            if #sensitive {
                __traced_tags.text(#key, ::traced::__private::redact::REDACTED);
            } else {
                #tag
            }
        };
        self.push(key, value, tag);
    }

    /// An argument, classified by type (see `__private::Arg`).
    fn arg(&mut self, arg: &Recorded) {
        let key = LitStr::new(&arg.name, arg.ident.span()).to_token_stream();
        let ident = &arg.ident;
        let tag = quote! {
            __traced_tags.arg(#key, (&&&&::traced::__private::Arg(&#ident)).__traced_arg());
        };
        let value = Value {
            value: quote! {
                ::traced::__private::ArgValue::as_value(
                    &(&&&&::traced::__private::Arg(&#ident)).__traced_arg()
                )
            },
            tag,
        };
        self.push_value(key, value, arg.redactable);
    }

    /// A `fields(...)` entry.
    fn field(&mut self, field: &Field, redactable: bool) {
        let key = match &field.computed {
            Some(expr) => quote_spanned!(expr.span()=> #expr),
            None => LitStr::new(&field.name, field.span).to_token_stream(),
        };
        let value = match &field.value {
            // Nothing to redact: a value recorded later is recorded as given.
            FieldValue::Empty => return self.push_later(key),
            FieldValue::Value(expr) if is_empty_marker(expr) => {
                // The path is not needed, but naming it keeps the user's import of it used.
                self.markers
                    .push(quote_spanned!(expr.span()=> let _ = #expr;));
                return self.push_later(key);
            }
            FieldValue::Value(expr) => Value {
                value: quote_spanned! {expr.span()=>
                    ::traced::__private::ArgValue::as_value(
                        &(&&&&::traced::__private::Arg(&(#expr))).__traced_arg()
                    )
                },
                tag: quote_spanned! {expr.span()=>
                    __traced_tags.field(
                        #key,
                        (&&&&::traced::__private::Arg(&(#expr))).__traced_arg(),
                    );
                },
            },
            FieldValue::Display(expr) => formatted(&key, expr, format_ident!("display")),
            FieldValue::Debug(expr) => formatted(&key, expr, format_ident!("debug")),
        };
        self.push_value(key, value, redactable);
    }

    /// A field declared without a value, for `Span::record` to fill in.
    fn push_later(&mut self, key: TokenStream) {
        self.push_empty(key);
        self.recorded_later = true;
    }

    /// The `__private::Fields` the span starts with: only one of its two forms runs.
    fn tokens(&self) -> TokenStream {
        let CallFields {
            values,
            tags,
            markers,
            any_value,
            ..
        } = self;
        quote! {
            ::traced::__private::Fields {
                any: #any_value,
                values: |__traced_values: &mut dyn ::core::ops::FnMut(
                    &::traced::__private::tracing::field::ValueSet<'_>,
                )| {
                    #(#markers)*
                    __traced_values(&__TRACED_META.fields().value_set_all(&[#(#values),*]))
                },
                #[allow(unused_variables)]
                tags: |__traced_tags: &mut ::traced::__private::FrameTags<'_>| {
                    #(#tags)*
                },
            }
        }
    }
}

/// `fields(key = %expr)` (`format` is `display`) or `fields(key = ?expr)` (`debug`): the
/// `__private` function of that name wraps it for a tracing span, the `FrameTags` method of that
/// name records it into a frame.
fn formatted(key: &TokenStream, expr: &Expr, format: Ident) -> Value {
    Value {
        value: quote_spanned! {expr.span()=>
            ::traced::__private::value(&::traced::__private::#format(&(#expr)))
        },
        tag: quote_spanned! {expr.span()=>
            __traced_tags.#format(#key, &(#expr));
        },
    }
}

/// `k = tracing::field::Empty` (or `Empty`, however imported), as tracing spells "record later".
fn is_empty_marker(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(path)
        if path.path.segments.last().is_some_and(|last| last.ident == "Empty"))
}

/// Where the span starts: under `parent = ..`, on the per-thread frame stack (the fast path), or
/// as a `tracing` span. A frame is invisible to `tracing::Span::current()`: a body that asks for
/// the current span, fields recorded later through it, links and a future shared with a
/// synchronous part get a tracing span.
///
/// With `sampler = …`, the same start carries the function's sampler (`Start::Sampled`); without
/// it, the tokens are those of a plain start, so functions without the option pay nothing.
/// Whether `path` names a parameter whose type is one of the function's type parameters or an
/// `impl Trait`: its concrete type is unknown here, so no `IntoParent` impl can be picked.
fn is_generic_param(function: &ItemFn, path: &syn::ExprPath) -> bool {
    let Some(name) = path.path.get_ident() else {
        return false;
    };
    let type_params: Vec<&Ident> = function
        .sig
        .generics
        .type_params()
        .map(|param| &param.ident)
        .collect();
    function.sig.inputs.iter().any(|input| {
        let syn::FnArg::Typed(typed) = input else {
            return false;
        };
        let named = matches!(&*typed.pat, syn::Pat::Ident(ident) if ident.ident == *name);
        named
            && match &*typed.ty {
                syn::Type::ImplTrait(_) => true,
                syn::Type::Path(ty) => ty
                    .path
                    .get_ident()
                    .is_some_and(|ident| type_params.contains(&ident)),
                _ => false,
            }
    })
}

fn start(function: &ItemFn, options: &Options, recorded_later: bool, shape: Shape) -> TokenStream {
    let parent = match options.parent.as_ref().map(|parent| &parent.value) {
        Some(Expr::Path(path)) if path.path.is_ident("None") => Some(quote! {
            ::traced::__private::Parent::Local(::core::option::Option::None)
        }),
        // A parameter of a generic type (`P: Into<Option<Id>>`, `impl Into<Option<Id>>`), as
        // tracing's own tests pass one: a local parent, converted as tracing converts it.
        Some(Expr::Path(path)) if is_generic_param(function, path) => {
            Some(quote_spanned! {path.span()=>
                ::traced::__private::Parent::Local(::core::convert::Into::into(#path))
            })
        }
        Some(parent) => Some(quote_spanned! {parent.span()=>
            ::traced::__private::IntoParent::into_parent(#parent)
        }),
        None => None,
    };
    let frames = parent.is_none()
        && !(recorded_later
            || options.follows_from.is_some()
            || shape == Shape::SharedFuture
            || uses_current_span(&function.block));
    let Some(sampler) = &options.sampler else {
        return match (parent, frames) {
            (Some(parent), _) => quote!(::traced::__private::Start::Parent(#parent)),
            (None, false) => quote!(::traced::__private::Start::Tracing),
            (None, true) => quote!(::traced::__private::Start::Frames),
        };
    };
    let sampler = match sampler.value {
        SamplerChoice::Always => quote!(::traced::__private::RootSampler::Always),
        SamplerChoice::Never => quote!(::traced::__private::RootSampler::Never),
        SamplerChoice::Ratio(ratio) => {
            let ratio = proc_macro2::Literal::f64_suffixed(ratio);
            quote!(::traced::__private::RootSampler::Ratio(#ratio))
        }
    };
    let parent = match parent {
        Some(parent) => quote!(::core::option::Option::Some(#parent)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::traced::__private::Start::Sampled {
            sampler: #sampler,
            frames: #frames,
            parent: #parent,
        }
    }
}

/// What holds the span during the call: its binding, the expression naming its type, and its
/// type.
struct Holder {
    binding: TokenStream,
    path: TokenStream,
    ty: TokenStream,
}

impl Holder {
    fn of(shape: Shape, checked: &Checked) -> Holder {
        match shape {
            Shape::Sync => Holder {
                binding: quote!(__traced_guard),
                path: quote!(::traced::__private::Guard),
                ty: quote!(::traced::__private::Guard),
            },
            Shape::Future | Shape::SharedFuture => {
                let inline_args = inline_args(shape, checked);
                Holder {
                    binding: quote!(__traced_handle),
                    path: quote!(::traced::__private::Handle::<#inline_args>),
                    ty: quote!(::traced::__private::Handle<#inline_args>),
                }
            }
        }
    }
}

/// A future carries room for its typed arguments until its first poll (as many as a tag list
/// holds inline, two), so that recording them does not allocate; a future shared with a
/// synchronous part has a tracing span, which takes its fields at once. Redacted arguments are
/// text, not typed: when the redaction rule decides, the count is a constant it computes.
fn inline_args(shape: Shape, checked: &Checked) -> TokenStream {
    const INLINE: usize = 2;
    let recorded = &checked.recorded;
    match shape {
        Shape::Future if recorded.iter().any(|arg| arg.redactable) => {
            let names = recorded
                .iter()
                .map(|arg| LitStr::new(&arg.name, arg.ident.span()));
            quote! {{
                let __traced_typed = ::traced::__private::redact::count_recorded(&[#(#names),*]);
                if __traced_typed < #INLINE { __traced_typed } else { #INLINE }
            }}
        }
        Shape::Future => recorded.len().min(INLINE).to_token_stream(),
        Shape::Sync | Shape::SharedFuture => 0usize.to_token_stream(),
    }
}

/// `follows_from = causes`, applied to the span once it exists: as in tracing-attributes,
/// `causes` is iterated (`[cause]`, a slice of ids, any `IntoIterator` of things that convert
/// into `Option<Id>`), each item a cause.
fn follows_from(options: &Options, binding: &TokenStream) -> Option<TokenStream> {
    let expr = &options.follows_from.as_ref()?.value;
    Some(quote_spanned! {expr.span()=>
        if let ::core::option::Option::Some(__traced_span) = #binding.span() {
            // `[cause]` is one element, which the user wrote; it is not their loop.
            #[allow(clippy::single_element_loop)]
            for __traced_cause in #expr {
                __traced_span.follows_from(__traced_cause);
            }
        }
    })
}

/// The expression that makes the holder, after one check of the level.
fn make(
    shape: Shape,
    holder: &Holder,
    level: &TokenStream,
    start: &TokenStream,
    fields: &TokenStream,
) -> TokenStream {
    let path = &holder.path;
    let enabled = quote!(::traced::__private::tracing::level_enabled!(#level));
    match shape {
        Shape::Sync => quote! {
            if #enabled {
                #path::start(&__TRACED_CALLSITE, #start, #fields)
            } else {
                #path::off()
            }
        },
        // One call makes the handle, so that it is written where the future keeps it.
        Shape::Future | Shape::SharedFuture => quote! {
            #path::start_if(#enabled, &__TRACED_CALLSITE, #start, #fields)
        },
    }
}
