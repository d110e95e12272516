//! The `#[traced]` attribute; see the `traced` crate for documentation.
//!
//! Parse (`attr`), check against the function (`valid`), generate (`expand`). On any error the
//! function is emitted unchanged next to the errors, so the rest of the crate still compiles and
//! the user sees every mistake at once, each on the token that caused it.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::ToTokens;

mod attr;
mod expand;
mod valid;

/// Traces each call of the function as a span: a child of the current span, named after the
/// function, with the arguments as tags and failures marked as errors.
///
/// ```
/// use traced::model::TagValue;
/// use traced::traced;
///
/// #[traced(kind = "client", skip(cache))]
/// fn load_user(id: u64, name: &str, cache: &Vec<u8>) -> Result<String, std::num::ParseIntError> {
///     let parsed: u64 = name.parse()?;
///     Ok(format!("{id}:{parsed}:{}", cache.len()))
/// }
///
/// let capture = traced::testing::Capture::new();
/// capture.in_scope(|| load_user(7, "x1", &Vec::new())).unwrap_err();
/// let span = capture.span("load_user");
/// assert_eq!(span.tag("id"), Some(&TagValue::U64(7)));
/// assert_eq!(span.tag("name").and_then(TagValue::as_str), Some("x1"));
/// assert_eq!(span.tag("cache"), None);
/// assert_eq!(span.error(), Some("invalid digit found in string"));
/// assert_eq!(span.kind, Some(traced::model::Kind::Client));
/// ```
///
/// # Functions
///
/// Any function with a body: methods with every receiver, generics, `impl Trait` arguments,
/// destructured arguments, `unsafe` and `extern` functions, `-> !`, `#[track_caller]`, default
/// trait methods. The span covers the body and closes on every exit: return, `?`, panic.
///
/// An `async fn` (also in traits, and under `#[async_trait]`) and a function whose body ends in
/// an async block (`-> impl Future`, `Box::pin(async move { .. })`, a tower `Service::call`)
/// get a span that starts at the call, under the caller's span, and covers the future until it
/// completes or is dropped, entered on every poll, on whatever thread polls it.
///
/// # Tags
///
/// Each argument is a tag named after it (`self` only if named in `record`): integers, floats
/// and bools keep their type, `&str`/`String` (anything `AsRef<str>`) are text, anything else
/// `Debug` is formatted, and arguments that are neither are left out. Generic arguments are
/// recorded as far as their bounds allow. Text is cut at `traced::max_value_len()` bytes.
///
/// Arguments whose name contains `password`, `passwd`, `secret`, `token`, `api_key`, `apikey`,
/// `credential` or `auth` are recorded as `[redacted]` unless named in `record(...)`; so are
/// `fields(...)` with such keys.
///
/// # Errors
///
/// When the function returns `Err` — any `Result`, including aliases like `io::Result` and
/// `anyhow::Result`, or a future of one — the tag `error` gets the error's `Display` (its
/// `Debug` if it has no `Display`) and `error.type` its type name. A panic sets `error` to the
/// panic message (and `error.type` to `panic`) before the span closes; the panic goes on.
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `name = "..."` | the span's name (default: the function's) |
/// | `skip(a, b)` / `skip_all` | leave these / all arguments out |
/// | `record(a, b)` | record only these arguments (also un-redacts them) |
/// | `fields(k = expr, k = %expr, k = ?expr, k)` | extra tags: value, `Display`, `Debug`, or empty to `record` later |
/// | `ret` / `ret(Debug)` / `ret(Display)` | the return value as tag `return` |
/// | `err` / `err(Debug)` / `err(Display)` | how the error is formatted; a compile error if the function cannot return `Err` |
/// | `level = "trace" \| "debug" \| "info" \| "warn" \| "error"` | the span's level (default `info`) |
/// | `target = "..."` | the span's target (default: the module path) |
/// | `kind = "client" \| "server" \| "producer" \| "consumer"` | the Zipkin span kind |
/// | `parent = expr` | a local parent (`&Span`, `Span`, `Id`, `Option<Id>`, `None` for a new trace) or a caller's context (`Remote`, `Option<Remote>`, `SpanContext`) |
/// | `follows_from = expr` | a causal link to another span |
///
/// Unknown or repeated options, names in `skip`/`record` that are not parameters, and options
/// that contradict each other are compile errors on the offending token.
///
/// With no subscriber, or the span's level disabled, a call costs one check of the callsite's
/// cached interest; no argument is formatted.
///
/// # The fast path
///
/// When traced's layer is the only consumer of spans (as `traced::init()` sets it up, and
/// `traced::testing::Capture`), a call's span is not a `tracing` span but a frame on a
/// per-thread stack: about a tenth of a microsecond, and no heap allocation for a span without
/// text tags. What is reported is the same, and library spans, events and
/// `traced::current_context()` inside the call see it as their parent. Only
/// `tracing::Span::current()` does not: it is the nearest `tracing` span. A function whose body
/// calls `Span::current()`, `in_current_span()` or `current_span()`, or that uses `parent`,
/// `follows_from` or a field recorded later, keeps a `tracing` span; so does a function that
/// returns a future with a synchronous part before its async block.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    traced2(args.into(), item.into()).into()
}

fn traced2(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let options = attr::parse(args, &mut errors);
    let Some(function) = valid::function(item.clone(), &mut errors) else {
        return fallback(item, errors);
    };
    let checked = valid::check(&function, options, &mut errors);
    if !errors.is_empty() {
        return fallback(item, errors);
    }
    expand::function(function, checked)
}

/// The original item, untouched, plus the errors.
fn fallback(item: TokenStream2, errors: Errors) -> TokenStream2 {
    let mut tokens = item;
    if let Some(error) = errors.into_combined() {
        error.to_compile_error().to_tokens(&mut tokens);
    }
    tokens
}

/// Errors collected over a whole expansion.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_combined(self) -> Option<syn::Error> {
        self.0.into_iter().reduce(|mut all, next| {
            all.combine(next);
            all
        })
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance where swapping two neighbours counts as one edit (`nmae` is one from `name`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            table[i * width + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (table[(i - 1) * width + j] + 1)
                    .min(table[i * width + j - 1] + 1)
                    .min(table[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(table[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_near_names() {
        let names = ["user_id", "password", "body"];
        assert_eq!(closest("usr_id", names), Some("user_id"));
        assert_eq!(closest("pasword", names), Some("password"));
        assert_eq!(closest("zzz", names), None);
        assert_eq!(closest("nmae", ["name", "kind"]), Some("name"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("nmae", "name"), 1);
    }
}
