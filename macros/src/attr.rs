//! Parsing the options of `#[traced(...)]`.
//!
//! Every option is parsed on its own; a broken one is reported and skipped up to the next comma,
//! so one run of the compiler shows every mistake.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token};

use crate::errors::Errors;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(skip_all);
    syn::custom_keyword!(record);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(ret);
    syn::custom_keyword!(err);
    syn::custom_keyword!(level);
    syn::custom_keyword!(target);
    syn::custom_keyword!(kind);
    syn::custom_keyword!(parent);
    syn::custom_keyword!(follows_from);
    syn::custom_keyword!(sampler);
    syn::custom_keyword!(Debug);
    syn::custom_keyword!(Display);
}

/// Every option, in the order the docs list them; used for "did you mean".
pub(crate) const OPTIONS: &[&str] = &[
    "name",
    "skip",
    "skip_all",
    "record",
    "fields",
    "ret",
    "err",
    "level",
    "target",
    "kind",
    "parent",
    "follows_from",
    "sampler",
];

pub(crate) const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];
pub(crate) const KINDS: &[&str] = &["client", "server", "producer", "consumer"];

/// An option's value, with the span of the option's keyword for error messages.
pub(crate) struct Opt<T> {
    pub key: Span,
    pub value: T,
}

/// How an error or return value is formatted.
#[derive(Clone, Copy)]
pub(crate) enum Format {
    Auto,
    Debug(Span),
    Display(Span),
}

/// `err(...)` or `ret(...)`: the format, and the level at which the outcome is recorded
/// (`tracing::instrument` emits its event at that level; we record the tags only when that level
/// is enabled).
pub(crate) struct Outcome {
    pub format: Format,
    pub level: Option<Level>,
}

/// A level, as `tracing::instrument` takes it: a name in any case, 1 (trace) to 5 (error), or
/// a path to a `tracing::Level` constant.
pub(crate) enum Level {
    /// One of [`LEVELS`].
    Named(&'static str),
    /// `Level::DEBUG`, `tracing::Level::WARN`, a constant of the user's.
    Path(syn::Path),
}

impl ToTokens for Level {
    /// The `tracing::Level` as an expression: a name or number as our absolute path; a path
    /// as the user wrote it, in the user's scope, as `tracing::instrument` does.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Level::Named(name) => {
                let name = Ident::new(&name.to_ascii_uppercase(), Span::call_site());
                tokens.extend(quote::quote!(::traced::__private::tracing::Level::#name));
            }
            Level::Path(path) => path.to_tokens(tokens),
        }
    }
}

/// A name or target: a string literal, or a path to a `&'static str` constant.
pub(crate) enum Text {
    Lit(LitStr),
    Const(syn::Path),
}

impl ToTokens for Text {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Text::Lit(text) => text.to_tokens(tokens),
            Text::Const(path) => path.to_tokens(tokens),
        }
    }
}

/// One `fields(...)` entry.
pub(crate) struct Field {
    /// The dotted name, as tracing spells it (for a computed name, its expression in braces).
    pub name: String,
    pub span: Span,
    /// `{NAME}`: the name is this constant expression (a `&'static str`), not `name`.
    pub computed: Option<Expr>,
    pub value: FieldValue,
}

pub(crate) enum FieldValue {
    Empty,
    Value(Expr),
    Display(Expr),
    Debug(Expr),
}

/// A parsed `#[traced(...)]`.
#[derive(Default)]
pub(crate) struct Options {
    pub name: Option<Opt<Text>>,
    pub skip: Option<Opt<Vec<Ident>>>,
    pub skip_all: Option<Opt<()>>,
    pub record: Option<Opt<Vec<Ident>>>,
    pub fields: Option<Opt<Vec<Field>>>,
    pub ret: Option<Opt<Outcome>>,
    pub err: Option<Opt<Outcome>>,
    pub level: Option<Opt<Level>>,
    pub target: Option<Opt<Text>>,
    pub kind: Option<Opt<String>>,
    pub parent: Option<Opt<Expr>>,
    pub follows_from: Option<Opt<Expr>>,
    pub sampler: Option<Opt<SamplerChoice>>,
}

/// `sampler = "always" | "never" | ratio`: how the function's new traces are sampled.
#[derive(Clone, Copy)]
pub(crate) enum SamplerChoice {
    Always,
    Never,
    Ratio(f64),
}

/// The one duplicate check every option goes through, whatever the order.
fn set<T>(slot: &mut Option<Opt<T>>, key: Span, value: T, option: &str, errors: &mut Errors) {
    if let Some(first) = slot {
        let mut error = syn::Error::new(
            key,
            format!("duplicate option `{option}`: give each option once"),
        );
        error.combine(syn::Error::new(
            first.key,
            format!("`{option}` first given here"),
        ));
        errors.push(error);
    } else {
        *slot = Some(Opt { key, value });
    }
}

/// Parses the attribute's arguments, collecting every error.
pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            if let Err(error) = parse_option(input, &mut options, errors) {
                errors.push(error);
                skip_to_comma(input);
            }
            if input.is_empty() {
                break;
            }
            if let Err(error) = input.parse::<Token![,]>() {
                errors.push(syn::Error::new(
                    error.span(),
                    "expected `,` between options, as in `#[traced(name = \"load\", ret)]`",
                ));
                skip_to_comma(input);
                let _ = input.parse::<Option<Token![,]>>();
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    options
}

fn skip_to_comma(input: ParseStream<'_>) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<proc_macro2::TokenTree>().is_err() {
            break;
        }
    }
}

fn parse_option(
    input: ParseStream<'_>,
    options: &mut Options,
    errors: &mut Errors,
) -> syn::Result<()> {
    let lookahead = input.lookahead1();
    if lookahead.peek(kw::name) {
        let key = input.parse::<kw::name>()?.span;
        let value = text_value(input, "name", "name = \"load_user\"")?;
        set(&mut options.name, key, value, "name", errors);
    } else if lookahead.peek(LitStr) {
        // `#[instrument("name")]`, which tracing accepts as well as `name = "name"`.
        let name = input.parse::<LitStr>()?;
        set(
            &mut options.name,
            name.span(),
            Text::Lit(name),
            "name",
            errors,
        );
    } else if lookahead.peek(kw::skip_all) {
        let key = input.parse::<kw::skip_all>()?.span;
        set(&mut options.skip_all, key, (), "skip_all", errors);
    } else if lookahead.peek(kw::skip) {
        let key = input.parse::<kw::skip>()?.span;
        let names = ident_list(input, key, "skip")?;
        set(&mut options.skip, key, names, "skip", errors);
    } else if lookahead.peek(kw::record) {
        let key = input.parse::<kw::record>()?.span;
        let names = ident_list(input, key, "record")?;
        set(&mut options.record, key, names, "record", errors);
    } else if lookahead.peek(kw::fields) {
        let key = input.parse::<kw::fields>()?.span;
        let fields = parse_fields(input, key)?;
        set(&mut options.fields, key, fields, "fields", errors);
    } else if lookahead.peek(kw::ret) {
        let key = input.parse::<kw::ret>()?.span;
        let outcome = outcome(input, "ret")?;
        set(&mut options.ret, key, outcome, "ret", errors);
    } else if lookahead.peek(kw::err) {
        let key = input.parse::<kw::err>()?.span;
        let outcome = outcome(input, "err")?;
        set(&mut options.err, key, outcome, "err", errors);
    } else if lookahead.peek(kw::level) {
        let key = input.parse::<kw::level>()?.span;
        input.parse::<Token![=]>()?;
        let value = level(input)?;
        set(&mut options.level, key, value, "level", errors);
    } else if lookahead.peek(kw::target) {
        let key = input.parse::<kw::target>()?.span;
        let value = text_value(input, "target", "target = \"my_app::db\"")?;
        set(&mut options.target, key, value, "target", errors);
    } else if lookahead.peek(kw::kind) {
        let key = input.parse::<kw::kind>()?.span;
        let value = one_of(input, "kind", KINDS, "kind = \"client\"")?;
        set(&mut options.kind, key, value, "kind", errors);
    } else if lookahead.peek(kw::parent) {
        let key = input.parse::<kw::parent>()?.span;
        input.parse::<Token![=]>()?;
        let value = input.parse::<Expr>()?;
        set(&mut options.parent, key, value, "parent", errors);
    } else if lookahead.peek(kw::follows_from) {
        let key = input.parse::<kw::follows_from>()?.span;
        input.parse::<Token![=]>()?;
        let value = input.parse::<Expr>()?;
        set(
            &mut options.follows_from,
            key,
            value,
            "follows_from",
            errors,
        );
    } else if lookahead.peek(kw::sampler) {
        let key = input.parse::<kw::sampler>()?.span;
        input.parse::<Token![=]>()?;
        let value = sampler(input)?;
        set(&mut options.sampler, key, value, "sampler", errors);
    } else if input.peek(Ident::peek_any) {
        let unknown = input.call(Ident::parse_any)?;
        let mut message = format!("unknown option `{unknown}`");
        if let Some(close) = crate::suggest::closest(&unknown.to_string(), OPTIONS.iter().copied())
        {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        message.push_str(&format!("\nthe options are: {}", OPTIONS.join(", ")));
        return Err(syn::Error::new(unknown.span(), message));
    } else {
        return Err(lookahead.error());
    }
    Ok(())
}

/// `= "text"`, with an error that shows the expected form.
fn string_value(input: ParseStream<'_>, option: &str, example: &str) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    let value = input.parse::<Expr>()?;
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Ok(text),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{option}` takes a string literal, as in `{example}`"),
        )),
    }
}

/// `= "text"` or `= CONSTANT` (a path to a `&'static str`).
fn text_value(input: ParseStream<'_>, option: &str, example: &str) -> syn::Result<Text> {
    input.parse::<Token![=]>()?;
    match input.parse::<Expr>()? {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Ok(Text::Lit(text)),
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            Ok(Text::Const(path.path))
        }
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "`{option}` takes a string literal or a constant, as in `{example}` or \
                 `{option} = NAME`"
            ),
        )),
    }
}

/// What follows `level =`: `"debug"` in any case, `2`, or `Level::DEBUG`.
fn level(input: ParseStream<'_>) -> syn::Result<Level> {
    let lookahead = input.lookahead1();
    if lookahead.peek(LitStr) {
        let text = input.parse::<LitStr>()?;
        let value = text.value();
        if let Some(level) = LEVELS
            .iter()
            .find(|level| level.eq_ignore_ascii_case(&value))
        {
            return Ok(Level::Named(level));
        }
        Err(not_allowed("level", &text, LEVELS))
    } else if lookahead.peek(syn::LitInt) {
        let number = input.parse::<syn::LitInt>()?;
        match number.base10_parse::<usize>() {
            Ok(index @ 1..=5) => Ok(Level::Named(LEVELS[index - 1])),
            _ => Err(syn::Error::new(
                number.span(),
                format!(
                    "`level = {number}` is not a level; use 1 (trace), 2 (debug), 3 (info), \
                     4 (warn) or 5 (error), or a name such as \"debug\""
                ),
            )),
        }
    } else if lookahead.peek(Ident) || lookahead.peek(Token![::]) {
        Ok(Level::Path(input.parse()?))
    } else {
        Err(lookahead.error())
    }
}

const SAMPLER_EXAMPLE: &str =
    "`sampler = \"always\"`, `sampler = \"never\"` or a ratio such as `sampler = 0.25`";

/// What follows `sampler =`: `"always"`, `"never"`, or a ratio literal from 0 to 1.
fn sampler(input: ParseStream<'_>) -> syn::Result<SamplerChoice> {
    let value = input.parse::<Expr>()?;
    let Expr::Lit(syn::ExprLit { lit, .. }) = &value else {
        return Err(syn::Error::new(
            value.span(),
            format!("`sampler` takes {SAMPLER_EXAMPLE}"),
        ));
    };
    let ratio = match lit {
        syn::Lit::Str(text) => {
            return match text.value().as_str() {
                "always" => Ok(SamplerChoice::Always),
                "never" => Ok(SamplerChoice::Never),
                other => {
                    let mut message = format!(
                        "`sampler = \"{other}\"` is not allowed; use \"always\", \"never\" or a \
                         ratio from 0 to 1 such as `sampler = 0.25`"
                    );
                    let close = crate::suggest::closest(&other.to_lowercase(), ["always", "never"]);
                    if let Some(close) = close {
                        message.push_str(&format!(" (did you mean \"{close}\"?)"));
                    }
                    Err(syn::Error::new(text.span(), message))
                }
            };
        }
        syn::Lit::Float(number) => number.base10_parse::<f64>(),
        syn::Lit::Int(number) => number.base10_parse::<f64>(),
        other => {
            return Err(syn::Error::new(
                other.span(),
                format!("`sampler` takes {SAMPLER_EXAMPLE}"),
            ));
        }
    };
    match ratio {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(SamplerChoice::Ratio(ratio)),
        _ => Err(syn::Error::new(
            lit.span(),
            format!(
                "`sampler = {}` is not a ratio: use a number from 0 to 1 (0.25 samples a \
                 quarter of the new traces), \"always\" or \"never\"",
                lit.to_token_stream()
            ),
        )),
    }
}

/// The error for a string that is not one of `allowed`.
fn not_allowed(option: &str, text: &LitStr, allowed: &[&str]) -> syn::Error {
    let value = text.value();
    let list = allowed
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut message = format!("`{option} = \"{value}\"` is not allowed; use one of {list}");
    if let Some(close) = crate::suggest::closest(&value.to_lowercase(), allowed.iter().copied()) {
        message.push_str(&format!(" (did you mean \"{close}\"?)"));
    }
    syn::Error::new(text.span(), message)
}

/// `= "one of these"`.
fn one_of(
    input: ParseStream<'_>,
    option: &str,
    allowed: &[&str],
    example: &str,
) -> syn::Result<String> {
    let text = string_value(input, option, example)?;
    let value = text.value();
    if allowed.contains(&value.as_str()) {
        return Ok(value);
    }
    Err(not_allowed(option, &text, allowed))
}

/// `(a, b, self)`.
fn ident_list(input: ParseStream<'_>, key: Span, option: &str) -> syn::Result<Vec<Ident>> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            key,
            format!("`{option}` takes a list of parameter names, as in `{option}(password, body)`"),
        ));
    }
    let list = |content: ParseStream<'_>| {
        Punctuated::<Ident, Token![,]>::parse_terminated_with(content, Ident::parse_any)
    };
    let names = list
        .parse2(group(input)?)
        .map_err(|error| {
            syn::Error::new(
                error.span(),
                format!("`{option}(...)` lists parameter names separated by commas, as in `{option}(password, body)`"),
            )
        })?;
    Ok(names.into_iter().collect())
}

/// Nothing, or in parentheses a format (`Debug` or `Display`), a `level = ...`, or both in
/// either order.
fn outcome(input: ParseStream<'_>, option: &str) -> syn::Result<Outcome> {
    let mut outcome = Outcome {
        format: Format::Auto,
        level: None,
    };
    if !input.peek(syn::token::Paren) {
        return Ok(outcome);
    }
    let example = format!(
        "`{option}(Debug)`, `{option}(level = \"warn\")` or `{option}(level = \"warn\", Display)`"
    );
    let parse = |content: ParseStream<'_>| {
        let mut first = true;
        while !content.is_empty() {
            if !first {
                content.parse::<Token![,]>()?;
                if content.is_empty() {
                    break;
                }
            }
            first = false;
            let lookahead = content.lookahead1();
            if lookahead.peek(kw::level) {
                let key = content.parse::<kw::level>()?;
                if outcome.level.is_some() {
                    return Err(syn::Error::new(
                        key.span,
                        format!("`{option}(...)` takes one `level`"),
                    ));
                }
                content.parse::<Token![=]>()?;
                outcome.level = Some(level(content)?);
            } else if lookahead.peek(kw::Debug) || lookahead.peek(kw::Display) {
                let (format, span) = if content.peek(kw::Debug) {
                    let span = content.parse::<kw::Debug>()?.span;
                    (Format::Debug(span), span)
                } else {
                    let span = content.parse::<kw::Display>()?.span;
                    (Format::Display(span), span)
                };
                if !matches!(outcome.format, Format::Auto) {
                    return Err(syn::Error::new(
                        span,
                        format!("`{option}` takes one of `Debug` or `Display`"),
                    ));
                }
                outcome.format = format;
            } else {
                return Err(syn::Error::new(
                    content.span(),
                    format!(
                        "`{option}` takes `Debug` or `Display` and a `level`, as in {example}, or nothing"
                    ),
                ));
            }
        }
        Ok(())
    };
    parse.parse2(group(input)?)?;
    Ok(outcome)
}

/// The tokens inside `( … )`, parsed separately so an error inside does not also leave the
/// outer parser with "unexpected token" for the same place.
fn group(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let content;
    syn::parenthesized!(content in input);
    content.parse()
}

const FIELDS_EXAMPLE: &str = "fields(user.id = id, query = %sql, shape = ?shape, later)";

fn parse_fields(input: ParseStream<'_>, key: Span) -> syn::Result<Vec<Field>> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            key,
            format!("`fields` takes a list of `key = value`, as in `{FIELDS_EXAMPLE}`"),
        ));
    }
    let parse = |content: ParseStream<'_>| {
        let mut fields = Vec::new();
        while !content.is_empty() {
            fields.push(parse_field(content)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>().map_err(|error| {
                syn::Error::new(
                    error.span(),
                    format!("expected `,` between fields, as in `{FIELDS_EXAMPLE}`"),
                )
            })?;
        }
        Ok(fields)
    };
    parse.parse2(group(input)?)
}

fn parse_field(input: ParseStream<'_>) -> syn::Result<Field> {
    // `%name` / `?name`: the variable (or field path) of that name, formatted.
    let shorthand = if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        Some(FieldValue::Display as fn(Expr) -> FieldValue)
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        Some(FieldValue::Debug as fn(Expr) -> FieldValue)
    } else {
        None
    };
    let mut path = Vec::new();
    let mut computed = None;
    let (name, span) = if input.peek(syn::token::Brace) && shorthand.is_none() {
        // `{NAME} = value`: a name computed by a constant expression, as tracing allows.
        let content;
        let braces = syn::braced!(content in input);
        let expr: Expr = content.parse()?;
        let name = format!("{{{}}}", expr.to_token_stream());
        computed = Some(expr);
        (name, braces.span.join())
    } else if input.peek(LitStr) && shorthand.is_none() {
        let text = input.parse::<LitStr>()?;
        (text.value(), text.span())
    } else if input.peek(Ident::peek_any) {
        let first = input.call(Ident::parse_any)?;
        let mut name = unraw(&first);
        let mut span = first.span();
        path.push(first);
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            let part = input.call(Ident::parse_any)?;
            name.push('.');
            name.push_str(&unraw(&part));
            span = span.join(part.span()).unwrap_or(span);
            path.push(part);
        }
        (name, span)
    } else {
        return Err(syn::Error::new(
            input.span(),
            format!("expected a field name, as in `{FIELDS_EXAMPLE}`"),
        ));
    };
    if name.is_empty() {
        return Err(syn::Error::new(span, "a field name cannot be empty"));
    }
    if !input.peek(Token![=]) {
        if !input.is_empty() && !input.peek(Token![,]) {
            return Err(syn::Error::new(
                input.span(),
                format!("expected `=` or `,` after the field name, as in `{FIELDS_EXAMPLE}`"),
            ));
        }
        let value = match shorthand {
            Some(formatted) => formatted(syn::parse2(quote::quote!(#(#path).*))?),
            None => FieldValue::Empty,
        };
        return Ok(Field {
            name,
            span,
            computed,
            value,
        });
    }
    let eq = input.parse::<Token![=]>()?;
    let value = if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        FieldValue::Display(input.parse()?)
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        FieldValue::Debug(input.parse()?)
    } else if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            eq.span,
            format!("expected a value after `{name} =`, as in `{FIELDS_EXAMPLE}`"),
        ));
    } else {
        match shorthand {
            Some(formatted) => formatted(input.parse()?),
            None => FieldValue::Value(input.parse()?),
        }
    };
    Ok(Field {
        name,
        span,
        computed,
        value,
    })
}

/// The name a parameter or field is recorded under: `r#type` is `type`.
pub(crate) fn unraw(ident: &Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}
