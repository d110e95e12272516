//! Baggage: key-value pairs that travel with a trace — a tenant, a user id, a feature flag — set
//! in one service and read in every service the trace reaches after it.
//!
//! ```
//! use traced::testing::Capture;
//!
//! #[traced::traced]
//! fn handle() -> Option<String> {
//!     traced::baggage::set("tenant", "acme");
//!     charge()
//! }
//!
//! #[traced::traced]
//! fn charge() -> Option<String> {
//!     // A span under the one that set it sees it (and so does every service it calls).
//!     traced::baggage::get("tenant")
//! }
//!
//! let tenant = Capture::new().in_scope(handle);
//! assert_eq!(tenant.as_deref(), Some("acme"));
//! ```
//!
//! # Where baggage lives
//!
//! Baggage belongs to spans, like the trace ids: [`set`] adds an entry to the current span (the
//! innermost `#[traced]` call or `tracing` span our layer records), which then has it, and so
//! does every span started under it from then on — across `.await`s, and on other threads when
//! the work goes there with its span (`tokio::spawn(future.instrument(span))`, a `#[traced]`
//! async function, `span.in_scope` on another thread). A span started before the entry was set
//! keeps the baggage it started with, as in OpenTelemetry, where a context never changes. With
//! no span of ours current there is nowhere to keep baggage: [`set`] returns `false`, [`get`]
//! `None`. One exception to "a span's own": in a trace that is not sampled, a synchronous
//! `#[traced]` call on the fast path makes no span at all (that is what makes unsampled calls
//! free), so an entry it sets lands on its caller's span.
//!
//! # Across processes
//!
//! The propagators carry it: W3C `baggage` (on in the default propagator; `baggage` in
//! `OTEL_PROPAGATORS`) and Jaeger's `uberctx-{key}` headers (with the `jaeger` format). The HTTP
//! integrations and [`Propagator::continue_trace`](crate::propagation::Propagator::continue_trace)
//! give the span that continues a request the caller's baggage, and
//! [`propagation::inject`](crate::propagation::inject) (and so the reqwest integration) sends
//! the current span's. Code that continues a trace with `#[traced(parent = ...)]` reads the
//! caller's baggage with [`propagation::extract_baggage`](crate::propagation::extract_baggage)
//! and adds it with [`extend`]. Malformed entries are dropped one by one; a request is never
//! refused for its baggage.
//!
//! Baggage is sent to every service called, whoever runs it: do not put secrets in it, and strip
//! the `baggage` and `uberctx-*` headers where requests leave your trust boundary.
//!
//! # On spans
//!
//! Baggage is not recorded by default. The keys named in `TRACED_BAGGAGE_TAGS`
//! ([`Builder::baggage_tags`](crate::Builder::baggage_tags),
//! [`TracedLayer::baggage_tags`](crate::TracedLayer::baggage_tags)) are copied onto every span
//! that has them, as tags named after the keys; a key that names a secret is recorded as
//! `REDACTED`.
//!
//! # Cost
//!
//! None for spans without baggage. A span under baggage holds a reference to its parent's
//! entries; under a frame of the fast path (see
//! [`TracedLayer::fast_path`](crate::TracedLayer::fast_path)) it is a `tracing` span rather
//! than a frame, so calls under baggage cost what tracing spans cost.

pub(crate) mod entries;

pub use entries::{Baggage, Entry, MAX_BYTES, MAX_ENTRIES};

use crate::state::SpanState;

/// The current span's baggage (empty when there is none, or no span of ours is current).
///
/// ```
/// use traced::testing::Capture;
///
/// Capture::new().in_scope(|| {
///     tracing::info_span!("request").in_scope(|| {
///         traced::baggage::set("tenant", "acme");
///         traced::baggage::set("user.id", "42");
///         let baggage = traced::baggage::current();
///         assert_eq!(baggage.iter().collect::<Vec<_>>(), [("tenant", "acme"), ("user.id", "42")]);
///     });
/// });
/// assert!(traced::baggage::current().is_empty());
/// ```
pub fn current() -> Baggage {
    if let Some((_, _, baggage)) = crate::frame::innermost() {
        return baggage.unwrap_or_default();
    }
    let mut found = None;
    tracing::dispatcher::get_default(|dispatch| {
        if let Some(id) = dispatch.current_span().id() {
            found = crate::lookup::parent_of(dispatch, id).and_then(|(_, _, baggage)| baggage);
        }
    });
    found.unwrap_or_default()
}

/// The value of `key` in the current span's baggage.
///
/// ```
/// use traced::testing::Capture;
///
/// Capture::new().in_scope(|| {
///     tracing::info_span!("request").in_scope(|| {
///         traced::baggage::set("tenant", "acme");
///         tracing::info_span!("query").in_scope(|| {
///             assert_eq!(traced::baggage::get("tenant").as_deref(), Some("acme"));
///         });
///     });
/// });
/// ```
pub fn get(key: &str) -> Option<String> {
    current().get(key).map(str::to_owned)
}

/// Sets `key` to `value` in the current span's baggage, for it and the spans started under it
/// from now on, in this process and in those it calls. Returns `false`, and changes nothing,
/// when no span of ours is current, when the key is not an HTTP token, or when a W3C limit
/// would be broken (see [`Baggage::insert`]).
///
/// ```
/// use traced::testing::Capture;
///
/// assert!(!traced::baggage::set("tenant", "acme"), "no span to keep it");
/// Capture::new().in_scope(|| {
///     tracing::info_span!("request").in_scope(|| {
///         assert!(traced::baggage::set("tenant", "acme"));
///         assert!(!traced::baggage::set("two words", "x"), "keys are tokens");
///     });
/// });
/// ```
pub fn set(key: impl Into<String>, value: impl Into<String>) -> bool {
    let (key, value) = (key.into(), value.into());
    if !entries::is_token(&key) || key.len() + 1 + value.len() > MAX_BYTES {
        return false;
    }
    let mut entry = Some((key, value));
    let mut inserted = false;
    let found = change_current(&mut |state| {
        if let Some((key, value)) = entry.take() {
            inserted = state.baggage_mut().insert(key, value);
        }
    });
    found && inserted
}

/// Removes `key` from the current span's baggage (the spans already started under it keep
/// theirs); returns whether it was there.
///
/// ```
/// use traced::testing::Capture;
///
/// Capture::new().in_scope(|| {
///     tracing::info_span!("request").in_scope(|| {
///         traced::baggage::set("tenant", "acme");
///         assert!(traced::baggage::remove("tenant"));
///         assert_eq!(traced::baggage::get("tenant"), None);
///     });
/// });
/// ```
pub fn remove(key: &str) -> bool {
    let mut removed = false;
    change_current(&mut |state| {
        removed = state.has_baggage() && state.baggage_mut().remove(key);
    });
    removed
}

/// Adds every entry of `baggage` to the current span's (their values win): to give a span the
/// baggage a caller sent, read with
/// [`propagation::extract_baggage`](crate::propagation::extract_baggage). Returns `false` when
/// no span of ours is current.
///
/// ```
/// use traced::model::Remote;
/// use traced::testing::Capture;
///
/// #[traced::traced(parent = remote, kind = "consumer", skip(remote, baggage))]
/// fn consume(remote: Option<Remote>, baggage: traced::baggage::Baggage) -> Option<String> {
///     traced::baggage::extend(&baggage);
///     traced::baggage::get("tenant")
/// }
///
/// let headers = vec![("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), ("baggage", "tenant=acme")];
/// let tenant = Capture::new().in_scope(|| {
///     consume(traced::propagation::extract(&headers), traced::propagation::extract_baggage(&headers))
/// });
/// assert_eq!(tenant.as_deref(), Some("acme"));
/// ```
pub fn extend(baggage: &Baggage) -> bool {
    change_current(&mut |state| {
        if !baggage.is_empty() {
            state.baggage_mut().extend_from(baggage);
        }
    })
}

/// Gives the span `span` (just made, to continue a caller's trace) the caller's baggage.
pub(crate) fn attach(span: &tracing::Span, baggage: &Baggage) {
    if baggage.is_empty() {
        return;
    }
    span.with_subscriber(|(id, dispatch)| {
        crate::lookup::edit_states(dispatch, id, crate::lookup::States::This, &mut |state| {
            state.baggage_mut().extend_from(baggage);
        })
    });
}

/// Runs `change` on the current span's state: the innermost frame, else the current tracing
/// span (or its nearest ancestor our layer records). `false` when there is none.
fn change_current(change: &mut dyn FnMut(&mut SpanState)) -> bool {
    if crate::frame::with_innermost(|state| change(state)).is_some() {
        return true;
    }
    let mut found = false;
    tracing::dispatcher::get_default(|dispatch| {
        if let Some(id) = dispatch.current_span().id() {
            found =
                crate::lookup::edit_states(dispatch, id, crate::lookup::States::Nearest, change);
        }
    });
    found
}
