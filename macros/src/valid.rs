//! Checking the options against the function they are on.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::attr::{Options, unraw};
use crate::errors::Errors;

/// The fields that give a span its kind, which the `kind` option sets too.
const OTEL_KIND_FIELDS: &[&str] = &["otel.kind", "span.kind"];

/// `tracing`'s limit on the fields of one callsite.
const MAX_FIELDS: usize = 32;

/// The function, or `None` (with an error saying why) when the attribute is on something else.
pub(crate) fn function(item: TokenStream, errors: &mut Errors) -> Option<ItemFn> {
    if let Ok(function) = syn::parse2::<ItemFn>(item.clone()) {
        if let Some(constness) = &function.sig.constness {
            errors.push(syn::Error::new(
                constness.span,
                "`#[traced]` cannot trace a `const fn`: spans are opened at run time, which \
                 const evaluation cannot do; remove `const`, or remove `#[traced]`",
            ));
            return None;
        }
        return Some(function);
    }
    if let Ok(method) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        errors.push(syn::Error::new(
            method.sig.ident.span(),
            "`#[traced]` needs a function body to trace, and this declaration has none; \
             put `#[traced]` on the method in each impl, or give this trait method a default body",
        ));
        return None;
    }
    let (span, what, advice) = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(item)) => (
            item.struct_token.span,
            "a struct",
            "the functions that use it",
        ),
        Ok(syn::Item::Enum(item)) => (item.enum_token.span, "an enum", "the functions that use it"),
        Ok(syn::Item::Union(item)) => (
            item.union_token.span,
            "a union",
            "the functions that use it",
        ),
        Ok(syn::Item::Static(item)) => (
            item.static_token.span,
            "a static",
            "the functions that compute or use it",
        ),
        Ok(syn::Item::Const(item)) => (
            item.const_token.span,
            "a const",
            "the functions that use it",
        ),
        Ok(syn::Item::Impl(item)) => (
            item.impl_token.span,
            "an impl block",
            "each method inside it that should be traced",
        ),
        Ok(syn::Item::Trait(item)) => (
            item.trait_token.span,
            "a trait",
            "the methods of its impls (or its default methods)",
        ),
        Ok(syn::Item::Mod(item)) => (item.mod_token.span, "a module", "the functions inside it"),
        Ok(other) => (other.span(), "this item", "a function with a body"),
        Err(_) => (item.span(), "this", "a function with a body"),
    };
    errors.push(syn::Error::new(
        span,
        format!(
            "`#[traced]` goes on a function with a body, not on {what}: only code that runs can \
             be traced; put `#[traced]` on {advice}"
        ),
    ));
    None
}

/// A parameter the span may record, by the name it is bound to.
pub(crate) struct Param {
    pub ident: Ident,
    pub name: String,
}

/// An argument the span records.
pub(crate) struct Recorded {
    pub ident: Ident,
    pub name: String,
    /// Whether it is recorded as the redaction marker if its name is sensitive: unless it is
    /// named in `record(...)`. The rule itself is the runtime's (`traced::__private::redact`),
    /// which the generated code evaluates at compile time.
    pub redactable: bool,
}

/// The options, checked, and what they mean for this function.
pub(crate) struct Checked {
    pub options: Options,
    pub recorded: Vec<Recorded>,
    /// Field keys recorded as the redaction marker if they are sensitive: those not named in
    /// `record(...)`.
    pub redactable_fields: Vec<String>,
}

/// Every name a parameter binds, `self` included, in order.
pub(crate) fn params(function: &ItemFn) -> Vec<Param> {
    let mut params = Vec::new();
    for input in &function.sig.inputs {
        match input {
            FnArg::Receiver(receiver) => params.push(Param {
                ident: Ident::new("self", receiver.self_token.span),
                name: "self".to_owned(),
            }),
            // A parameter that may be configured away cannot be named in the span's fields.
            FnArg::Typed(typed) if typed.attrs.iter().any(is_cfg) => {}
            FnArg::Typed(typed) => bound_names(&typed.pat, &mut params),
        }
    }
    params
}

pub(crate) fn is_cfg(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr")
}

fn bound_names(pat: &Pat, out: &mut Vec<Param>) {
    match pat {
        Pat::Ident(ident) => {
            out.push(Param {
                ident: ident.ident.clone(),
                name: unraw(&ident.ident),
            });
            if let Some((_, sub)) = &ident.subpat {
                bound_names(sub, out);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|pat| bound_names(pat, out)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|pat| bound_names(pat, out)),
        Pat::Struct(structure) => structure
            .fields
            .iter()
            .for_each(|field| bound_names(&field.pat, out)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|pat| bound_names(pat, out)),
        Pat::Reference(reference) => bound_names(&reference.pat, out),
        Pat::Type(typed) => bound_names(&typed.pat, out),
        Pat::Paren(paren) => bound_names(&paren.pat, out),
        _ => {}
    }
}

pub(crate) fn check(function: &ItemFn, options: Options, errors: &mut Errors) -> Checked {
    let params = params(function);
    let field_keys: Vec<String> = options
        .fields
        .iter()
        .flat_map(|fields| fields.value.iter().map(|field| field.name.clone()))
        .collect();

    if let (Some(skip), Some(skip_all)) = (&options.skip, &options.skip_all) {
        let mut error = syn::Error::new(
            skip_all.key,
            "`skip_all` skips every argument, so `skip(...)` adds nothing: remove one of them",
        );
        error.combine(syn::Error::new(skip.key, "`skip(...)` given here"));
        errors.push(error);
    }
    if let (Some(record), Some(skip_all)) = (&options.record, &options.skip_all) {
        let mut error = syn::Error::new(
            skip_all.key,
            "`record(...)` records only the arguments it names, so `skip_all` is not needed: remove it",
        );
        error.combine(syn::Error::new(record.key, "`record(...)` given here"));
        errors.push(error);
    }

    let mut seen: Vec<(String, &'static str)> = Vec::new();
    let lists = [("skip", &options.skip), ("record", &options.record)];
    for (option, list) in lists {
        let Some(list) = list else { continue };
        for ident in &list.value {
            let name = unraw(ident);
            if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == name) {
                let message = if *first == option {
                    format!("`{name}` is listed twice in `{option}(...)`: list each parameter once")
                } else {
                    format!(
                        "`{name}` is named in both `{first}(...)` and `{option}(...)`: a parameter \
                         is either skipped or recorded, name it in one of them"
                    )
                };
                errors.push(syn::Error::new(ident.span(), message));
                continue;
            }
            seen.push((name.clone(), option));
            let is_param = params.iter().any(|param| param.name == name);
            let is_field = option == "record" && field_keys.contains(&name);
            if !is_param && !is_field {
                errors.push(unknown_param(ident, &name, option, &params));
            }
        }
    }

    if let Some(err) = &options.err {
        let cannot_fail = match &function.sig.output {
            ReturnType::Default => Some("returns nothing"),
            ReturnType::Type(_, ty) => match &**ty {
                Type::Never(_) => Some("never returns"),
                Type::Tuple(tuple) if tuple.elems.is_empty() => Some("returns `()`"),
                _ => None,
            },
        };
        if let Some(why) = cannot_fail {
            errors.push(syn::Error::new(
                err.key,
                format!(
                    "`err` needs a function that returns `Result`, and this one {why}; remove `err`, \
                     or return `Result`"
                ),
            ));
        }
    }

    // `fields(otel.kind = "server")` is how tracing-opentelemetry users give a kind, and is
    // recorded as the kind; with `kind = ...` too, the span would have two.
    if let Some(kind) = &options.kind {
        for field in options.fields.iter().flat_map(|fields| &fields.value) {
            if field.computed.is_none() && OTEL_KIND_FIELDS.contains(&field.name.as_str()) {
                errors.push(syn::Error::new(
                    field.span,
                    format!(
                        "`{}` gives the span a kind, and `kind = \"{}\"` gives it another; keep one",
                        field.name, kind.value
                    ),
                ));
            }
        }
    }

    let record_list: Option<Vec<String>> = options
        .record
        .as_ref()
        .map(|record| record.value.iter().map(unraw).collect());
    let recorded: Vec<Recorded> = params
        .into_iter()
        .filter(|param| match &record_list {
            Some(names) => names.contains(&param.name),
            None => options.skip_all.is_none() && param.name != "self",
        })
        .filter(|param| {
            !options
                .skip
                .iter()
                .any(|skip| skip.value.iter().any(|ident| unraw(ident) == param.name))
        })
        // A field of the same name replaces the argument.
        .filter(|param| !field_keys.contains(&param.name))
        .map(|param| Recorded {
            redactable: record_list.is_none(),
            ident: param.ident,
            name: param.name,
        })
        .collect();
    let count = recorded.len()
        + field_keys.len()
        + 2
        + usize::from(options.ret.is_some())
        + usize::from(options.kind.is_some());
    if count > MAX_FIELDS {
        errors.push(syn::Error::new(
            function.sig.ident.span(),
            format!(
                "this span would have {count} fields, and a tracing span holds at most {MAX_FIELDS}; \
                 leave some arguments out with `skip(...)` or choose them with `record(...)`"
            ),
        ));
    }
    let redactable_fields = field_keys
        .into_iter()
        .filter(|key| {
            !record_list
                .as_ref()
                .is_some_and(|names| names.contains(key))
        })
        .collect();
    Checked {
        options,
        recorded,
        redactable_fields,
    }
}

fn unknown_param(ident: &Ident, name: &str, option: &str, params: &[Param]) -> syn::Error {
    let mut message = format!("`{option}({name})`: this function has no parameter `{name}`");
    if let Some(close) =
        crate::suggest::closest(name, params.iter().map(|param| param.name.as_str()))
    {
        message.push_str(&format!("; did you mean `{close}`?"));
    } else if params.is_empty() {
        message.push_str("; it has no parameters");
    } else {
        let names: Vec<String> = params
            .iter()
            .map(|param| format!("`{}`", param.name))
            .collect();
        message.push_str(&format!("; its parameters are {}", names.join(", ")));
    }
    syn::Error::new(ident.span(), message)
}

/// The span of the function's return type, or of its name when it has none.
pub(crate) fn return_span(function: &ItemFn) -> Span {
    match &function.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => function.sig.ident.span(),
    }
}
