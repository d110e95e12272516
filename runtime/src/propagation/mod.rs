//! Carrying a trace across processes: B3 (single and multi header), W3C Trace Context and
//! Jaeger (`uber-trace-id`), and the trace's [baggage](crate::baggage) (W3C `baggage`, Jaeger
//! `uberctx-*`).
//!
//! A server extracts the caller's context from the request headers and continues its trace; a
//! client injects the current span's context into the headers it sends.
//!
//! ```
//! use http::HeaderMap;
//! use traced::model::{Remote, Sampling};
//! use traced::propagation::Propagator;
//!
//! let mut incoming = HeaderMap::new();
//! incoming.insert("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".parse().unwrap());
//! let remote = Propagator::default().extract(&incoming).unwrap();
//! assert_eq!(remote.sampling(), Sampling::Accept);
//!
//! let mut outgoing = HeaderMap::new();
//! Propagator::default().inject(remote.context().unwrap(), &mut outgoing);
//! assert_eq!(outgoing["b3"], "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
//! ```
//!
//! Rules, for every format:
//! - Extraction tries the formats in order (by default `b3`, then `X-B3-*`, then
//!   `traceparent`, then `uber-trace-id`); the first that parses wins. Anything malformed —
//!   wrong length, non-hex or upper-case hex (Jaeger: see below), all-zero ids, a bad sampling
//!   flag, missing or extra fields, empty or non-text values, values of 8 KiB or more — counts
//!   as absent, so the request starts a new trace; it never fails the request.
//! - Header names match in any case; of a repeated header the first value counts (except
//!   `tracestate`, whose repeats combine as the W3C spec says).
//! - Debug implies sampled. A 64-bit trace id is kept as it came and sent on as 16 characters.
//! - Injection never invents a decision: no context, no headers; an undecided context is sent
//!   without a sampling field, or not at all in Jaeger, which has no such state.
//!
//! Where the specs leave room, this module reads like Brave: a malformed `b3` falls through to
//! the multi headers; `X-B3-Sampled` also takes `true`/`false` in any case and `d` (copied from
//! the single form) as debug; an `X-B3-Flags` value other than `1` is ignored; spaces and tabs
//! around a value are not part of it. Half a multi-header context (a trace id without a span
//! id) is no context. An earlier format's sampling-only value (`b3: 0`) wins over a later
//! format's full context, since the order is the configuration.
//!
//! Jaeger's `uber-trace-id` is read as jaeger-client reads it: ids of 1 to 32 (trace) or 16
//! (span, parent) hex digits in either case, left-padded; flags a hex bitmap where `1` is
//! sampled, `2` debug (which implies sampled) and no bit a "not sampled" decision; a
//! URL-encoded value (`%3A` for `:`) is decoded first. It is written with full-width lower-hex
//! ids, parent `0` and flags `0`, `1` or `3`.
//!
//! Baggage rides beside the context, whichever format carried that (or none did): the W3C
//! `baggage` header (read and written by default; `baggage` in `OTEL_PROPAGATORS`), and, with
//! the Jaeger format, one `uberctx-{key}` header per entry, its value URL-encoded, in both
//! directions. A malformed entry — a key that is not a token, a broken `%` escape, a value that
//! is not UTF-8 once decoded, a malformed W3C property — is dropped alone; the other entries,
//! the context and the request are untouched. Both formats keep to the W3C limits (180 entries,
//! 8192 bytes), leaving out whole entries past them. W3C entry properties (`;ttl=60`) are kept
//! and sent on in W3C headers; Jaeger cannot carry them. Keys arriving in `uberctx-*` headers
//! are lower-case, since header names have no case. When both formats bring a key, the W3C
//! value wins. See [`Propagator::extract_baggage`] and [`Propagator::inject_baggage`].
//!
//! One way to continue a trace, one to carry it on:
//! - continue: [`Propagator::continue_trace`] makes the span that continues the caller's trace
//!   (run the work with [`Continuation::in_scope`] or [`Continuation::instrument`]); for
//!   `#[traced(parent = ...)]`, [`extract`] (or [`Propagator::extract`]) reads the caller's
//!   context;
//! - carry on: [`inject`] writes the current span's context and baggage with the global
//!   propagator ([`Propagator::inject`] writes a given context, and the current baggage, with a
//!   given propagator).
//!
//! The HTTP integrations do both, baggage included; with `#[traced(parent = ...)]`, read the
//! caller's baggage with [`extract_baggage`] and add it with
//! [`baggage::extend`](crate::baggage::extend).
//!
//! `tracestate` flows through: a [`Continuation`] keeps the caller's vendor members while its
//! work runs, and W3C injection inside it sends them on to the next hop of the same trace. A
//! trace that did not arrive with W3C headers sends none.

mod b3;
mod baggage;
mod carrier;
mod continuation;
mod format;
mod global;
mod jaeger;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod propagator;
mod w3c;

pub use carrier::{Carrier, CarrierMut};
#[cfg(any(feature = "tower", feature = "opentelemetry"))]
pub(crate) use continuation::Incoming;
pub use continuation::{Continuation, Continued};
pub use format::{Format, PropagationError};
pub use global::{extract, extract_baggage, global, inject, set_global};
pub use propagator::Propagator;
#[cfg(feature = "tower")]
pub(crate) use w3c::traceparent_value;
pub use w3c::{TraceState, MAX_TRACE_STATE_MEMBERS};

/// Every header the propagators read or write, lower-case: to let them through a CORS policy
/// or a proxy, or to strip them at a trust boundary. Jaeger baggage headers are named by
/// their prefix, [`JAEGER_BAGGAGE_PREFIX`].
///
/// ```
/// assert!(traced::propagation::HEADER_NAMES.contains(&"traceparent"));
/// assert!(traced::propagation::HEADER_NAMES.contains(&"x-b3-traceid"));
/// assert!(traced::propagation::HEADER_NAMES.contains(&"uber-trace-id"));
/// assert!(traced::propagation::HEADER_NAMES.contains(&"baggage"));
/// ```
pub const HEADER_NAMES: [&str; 10] = [
    b3::B3,
    b3::TRACE_ID,
    b3::SPAN_ID,
    b3::PARENT_SPAN_ID,
    b3::SAMPLED,
    b3::FLAGS,
    w3c::TRACEPARENT,
    w3c::TRACESTATE,
    jaeger::UBER_TRACE_ID,
    baggage::BAGGAGE,
];

/// The prefix of Jaeger's baggage headers: `uberctx-{key}`, one per entry.
///
/// ```
/// let name = "uberctx-tenant";
/// assert!(name.starts_with(traced::propagation::JAEGER_BAGGAGE_PREFIX));
/// ```
pub const JAEGER_BAGGAGE_PREFIX: &str = jaeger::BAGGAGE_PREFIX;

/// Whether extraction reads a header of this name, in any format or as baggage; `name` is
/// lower-case, as `http` keeps header names. A request with none of them continues no caller and
/// carries no baggage, whatever the propagator, so the server span skips extraction for it: on
/// the benchmark's request (no trace headers) extraction asked the header map for a dozen names
/// and cost 1,070 instructions (`report request-profile traced`).
// Only the server span (`http/`) uses it.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn is_read_by_extraction(name: &str) -> bool {
    HEADER_NAMES.contains(&name) || name.starts_with(JAEGER_BAGGAGE_PREFIX)
}

/// Header values this long or longer are ignored unread: no valid propagation header comes
/// close, and parsing attacker-sized input is wasted work.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

#[cfg(test)]
mod tests;
