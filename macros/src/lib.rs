//! The `#[traced]` attribute; see the `traced` crate for documentation.
//!
//! Parse (`attr`), check against the function (`valid`), generate (`expand`: the span in
//! `expand/span.rs`, the outcome in `expand/outcome.rs`, each shape of function in
//! `expand/shape.rs`, questions about the user's syntax in `expand/syntax.rs`). On any error the
//! function is emitted unchanged next to the errors (`errors`), so the rest of the crate still
//! compiles and the user sees every mistake at once, each on the token that caused it.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::ToTokens;

mod attr;
mod errors;
mod expand;
mod suggest;
mod valid;

use errors::Errors;

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
/// Arguments and `fields(...)` whose name holds a secret are recorded as `REDACTED` unless
/// named in `record(...)`: names that contain `password`, `passwd`, `pwd`, `secret`, `token`,
/// `apikey`, `accesskey`, `privatekey`, `auth`, `credential`, `signature`, `session`, `cookie`
/// or `jwt`, or are `key`, `sig`, `code`, `pass`, `otp`, `pin` or `sid`, compared without case
/// or `_` (the rule `traced::http` applies to URLs). It is decided at compile time.
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
/// | `name = "..."` / `name = CONST` / `"..."` | the span's name (default: the function's) |
/// | `skip(a, b)` / `skip_all` | leave these / all arguments out |
/// | `record(a, b)` | record only these arguments (also un-redacts them) |
/// | `fields(k = expr, k = %expr, k = ?expr, %k, ?k, k)` | extra tags (`a.b` and `"any text"` keys too): value, `Display`, `Debug`, a variable formatted, or empty to `record` later |
/// | `ret` / `ret(Debug)` / `ret(Display)` | the return value as tag `return` |
/// | `err` / `err(Debug)` / `err(Display)` | how the error is formatted; a compile error if the function cannot return `Err` |
/// | `ret(level = ..)`, `err(level = .., Debug)` | record the outcome only when that level is enabled (as `tracing::instrument` emits its event only then) |
/// | `level = "debug"` (any case) / `2` (1 trace to 5 error) / `Level::DEBUG` | the span's level (default `info`) |
/// | `target = "..."` / `target = CONST` | the span's target (default: the module path) |
/// | `kind = "client" \| "server" \| "producer" \| "consumer"` | the Zipkin span kind |
/// | `parent = expr` | a local parent (`&Span`, `Span`, `Id`, `Option<Id>`, `None` for a new trace) or a caller's context (`Remote`, `Option<Remote>`, `SpanContext`) |
/// | `follows_from = causes` | causal links to other spans (`[cause]`, a slice of ids, any iterator) |
/// | `sampler = "always" \| "never" \| 0.25` | how a new trace this function starts is sampled, instead of the process's sampler |
///
/// `sampler` decides only when the call starts a new trace (no parent span, no caller's
/// context): under a parent the call inherits the parent's decision, as every span does. A
/// ratio is decided on the trace id, as `traced::sample::TraceIdRatio` does. Functions without
/// the option get exactly the code they got before it existed.
///
/// ```
/// use traced::traced;
///
/// // A scheduled job that runs every second: one run in a hundred is enough.
/// #[traced(sampler = 0.01)]
/// fn poll_queue() {}
///
/// // Never recorded when it starts a trace (a health check); inside a request, it is.
/// #[traced(sampler = "never")]
/// fn check_health() {}
/// # poll_queue();
/// # check_health();
/// ```
///
/// The spellings are `tracing::instrument`'s, so switching is a rename (field names computed by
/// a constant, `fields({NAME} = ..)`, and `follows_from = causes` iterating its causes
/// included). Unknown or repeated options, names
/// in `skip`/`record` that are not parameters, and options that contradict each other are
/// compile errors on the offending token.
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
