//! Carrying a trace across processes: B3 (single and multi header) and W3C Trace Context.
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
//! let remote = Propagator::default().extract_from(&incoming).unwrap();
//! assert_eq!(remote.sampling(), Sampling::Accept);
//!
//! let mut outgoing = HeaderMap::new();
//! Propagator::default().inject_into(remote.context().unwrap(), &mut outgoing);
//! assert_eq!(outgoing["b3"], "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
//! ```
//!
//! Rules, for every format:
//! - Extraction tries the formats in order (by default `b3`, then `X-B3-*`, then
//!   `traceparent`); the first that parses wins. Anything malformed — wrong length, non-hex or
//!   upper-case hex, all-zero ids, a bad sampling flag, extra fields, empty or non-text values,
//!   values of 8 KiB or more — counts as absent, so the request starts a new trace.
//! - Header names match in any case; of a repeated header the first value counts (except
//!   `tracestate`, whose repeats combine as the W3C spec says).
//! - Debug implies sampled. A 64-bit trace id is kept as it came and sent on as 16 characters.
//! - Injection never invents a decision: no context, no headers; an undecided context is sent
//!   without a sampling field.
//!
//! Where the specs leave room, this module reads like Brave: a malformed `b3` falls through to
//! the multi headers; `X-B3-Sampled` also takes `true`/`false` in any case and `d` (copied from
//! the single form) as debug; an `X-B3-Flags` value other than `1` is ignored; spaces and tabs
//! around a value are not part of it. Half a multi-header context (a trace id without a span
//! id) is no context. An earlier format's sampling-only value (`b3: 0`) wins over a later
//! format's full context, since the order is the configuration.
//!
//! `tracestate` flows through: [`in_span_from`] and [`continue_trace_from`] keep the caller's
//! vendor members while the handler runs, and W3C injection inside them sends them on to the
//! next hop of the same trace. A trace that did not arrive with W3C headers sends none.

mod b3;
mod carrier;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod w3c;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use tracing::instrument::{Instrument, Instrumented};

pub use carrier::{Carrier, CarrierMut};
pub use w3c::{TraceState, MAX_TRACE_STATE_MEMBERS};

use crate::model::{Remote, SpanContext, TraceId};

/// Every header the propagators read or write, lower-case: to let them through a CORS policy
/// or a proxy, or to strip them at a trust boundary.
///
/// ```
/// assert!(traced::propagation::HEADER_NAMES.contains(&"traceparent"));
/// assert!(traced::propagation::HEADER_NAMES.contains(&"x-b3-traceid"));
/// ```
pub const HEADER_NAMES: [&str; 8] = [
    b3::B3,
    b3::TRACE_ID,
    b3::SPAN_ID,
    b3::PARENT_SPAN_ID,
    b3::SAMPLED,
    b3::FLAGS,
    w3c::TRACEPARENT,
    w3c::TRACESTATE,
];

/// Header values this long or longer are ignored unread: no valid propagation header comes
/// close, and parsing attacker-sized input is wasted work.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// The first value of `name`, if it is text of a sane length and not empty.
fn read<'a, C: Carrier + ?Sized>(carrier: &'a C, name: &str) -> Option<&'a str> {
    carrier
        .get(name)
        .filter(|value| !value.is_empty() && value.len() < MAX_HEADER_LEN)
}

/// A propagation format, named as `OTEL_PROPAGATORS` names it.
///
/// ```
/// use traced::propagation::Format;
/// assert_eq!("b3multi".parse::<Format>().unwrap(), Format::B3Multi);
/// assert_eq!(Format::TraceContext.to_string(), "tracecontext");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Format {
    /// B3 single header: `b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}` (`b3`).
    B3Single,
    /// B3 multiple headers: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`,
    /// `X-B3-Sampled`, `X-B3-Flags` (`b3multi`).
    B3Multi,
    /// W3C Trace Context: `traceparent` and `tracestate` (`tracecontext`).
    TraceContext,
}

impl Format {
    /// Every format, in the default extraction order.
    pub const ALL: [Format; 3] = [Format::B3Single, Format::B3Multi, Format::TraceContext];

    /// The `OTEL_PROPAGATORS` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::B3Single => "b3",
            Format::B3Multi => "b3multi",
            Format::TraceContext => "tracecontext",
        }
    }

    /// The header names this format reads and writes, lower-case.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Format::B3Single => &[b3::B3],
            Format::B3Multi => &[
                b3::TRACE_ID,
                b3::SPAN_ID,
                b3::PARENT_SPAN_ID,
                b3::SAMPLED,
                b3::FLAGS,
            ],
            Format::TraceContext => &[w3c::TRACEPARENT, w3c::TRACESTATE],
        }
    }

    /// Reads this format alone from `carrier`.
    ///
    /// ```
    /// use traced::model::{Remote, Sampling};
    /// use traced::propagation::Format;
    ///
    /// let headers = vec![("b3", "d")];
    /// assert_eq!(Format::B3Single.extract(&headers), Some(Remote::DecisionOnly(Sampling::Debug)));
    /// assert_eq!(Format::B3Multi.extract(&headers), None);
    /// ```
    pub fn extract<C: Carrier + ?Sized>(self, carrier: &C) -> Option<Remote> {
        match self {
            Format::B3Single => read(carrier, b3::B3).and_then(b3::parse_single),
            Format::B3Multi => b3::extract_multi(carrier),
            Format::TraceContext => w3c::extract_traceparent(carrier).map(Remote::Context),
        }
    }

    /// Writes `context` into `carrier` in this format; `trace_state` only matters for W3C.
    /// A context with a zero id is not a context and writes nothing.
    ///
    /// ```
    /// use traced::model::{Sampling, SpanContext, SpanId, TraceId};
    /// use traced::propagation::Format;
    ///
    /// let context = SpanContext { trace_id: TraceId(0xa), span_id: SpanId(0xb), parent_id: None, sampling: Sampling::Debug };
    /// let mut headers = Vec::new();
    /// Format::TraceContext.inject(&context, None, &mut headers);
    /// assert_eq!(headers[0].1, "00-0000000000000000000000000000000a-000000000000000b-01");
    /// ```
    pub fn inject<C: CarrierMut + ?Sized>(
        self,
        context: &SpanContext,
        trace_state: Option<&TraceState>,
        carrier: &mut C,
    ) {
        if !is_valid(context) {
            return;
        }
        match self {
            Format::B3Single => b3::inject_single(context, carrier),
            Format::B3Multi => b3::inject_multi(context, carrier),
            Format::TraceContext => w3c::inject(context, trace_state, carrier),
        }
    }
}

fn is_valid(context: &SpanContext) -> bool {
    context.trace_id.0 != 0 && context.span_id.0 != 0
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = PropagationError;

    fn from_str(text: &str) -> Result<Format, PropagationError> {
        let text = text.trim();
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| PropagationError::Unsupported(text.to_owned()))
    }
}

/// Why a propagator configuration was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum PropagationError {
    /// An `OTEL_PROPAGATORS` entry this crate does not implement (`jaeger`, `xray`, ...).
    Unsupported(String),
}

impl fmt::Display for PropagationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropagationError::Unsupported(name) => write!(
                f,
                "unsupported propagator `{name}` (supported: b3, b3multi, tracecontext, baggage, none)"
            ),
        }
    }
}

impl std::error::Error for PropagationError {}

/// What an incoming request carried, with the W3C vendor data that goes with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Incoming {
    /// The caller's context or sampling decision.
    pub remote: Remote,
    /// The format it came in.
    pub format: Format,
    /// `tracestate`, when the context came as a valid `traceparent` and the state had valid
    /// members.
    pub trace_state: Option<TraceState>,
}

impl Incoming {
    /// Runs `body` with this request's `tracestate` kept for W3C injection into calls of the
    /// same trace; the closure form of [`Continued::new`].
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let _state = StateGuard::bind(scoped_state(Some(self)));
        body()
    }
}

/// A composite propagator: which formats to read, in which order, and which to write.
///
/// The default reads `b3`, then `X-B3-*`, then `traceparent`, and writes the `b3` single
/// header — the smallest, and the one every Zipkin tracer reads.
///
/// ```
/// use traced::model::{Sampling, SpanContext, SpanId, TraceId};
/// use traced::propagation::{Format, Propagator};
///
/// let propagator = Propagator::default().with_inject([Format::B3Multi, Format::TraceContext]);
/// let context = SpanContext { trace_id: TraceId(1 << 70), span_id: SpanId(2), parent_id: None, sampling: Sampling::Deny };
/// let mut headers = http::HeaderMap::new();
/// propagator.inject_into(&context, &mut headers);
/// assert_eq!(headers["X-B3-Sampled"], "0");
/// assert_eq!(headers["traceparent"], "00-00000000000000400000000000000000-0000000000000002-00");
/// assert!(headers.get("b3").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Propagator {
    extract_order: Vec<Format>,
    inject: Vec<Format>,
}

impl Default for Propagator {
    fn default() -> Propagator {
        Propagator {
            extract_order: Format::ALL.to_vec(),
            inject: vec![Format::B3Single],
        }
    }
}

fn dedup(formats: impl IntoIterator<Item = Format>) -> Vec<Format> {
    let mut out = Vec::new();
    for format in formats {
        if !out.contains(&format) {
            out.push(format);
        }
    }
    out
}

impl Propagator {
    /// A propagator reading `extract_order` in that order and writing every `inject` format.
    /// Repeated formats count once.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let w3c_first = Propagator::new([Format::TraceContext, Format::B3Single], [Format::TraceContext]);
    /// assert_eq!(w3c_first.extract_order(), &[Format::TraceContext, Format::B3Single]);
    /// ```
    pub fn new(
        extract_order: impl IntoIterator<Item = Format>,
        inject: impl IntoIterator<Item = Format>,
    ) -> Propagator {
        Propagator {
            extract_order: dedup(extract_order),
            inject: dedup(inject),
        }
    }

    /// Reads every format, writes B3 single (the default).
    pub fn b3() -> Propagator {
        Propagator::default()
    }

    /// Reads every format, writes the `X-B3-*` headers.
    pub fn b3_multi() -> Propagator {
        Propagator::default().with_inject([Format::B3Multi])
    }

    /// Reads every format, writes `traceparent` (and `tracestate` when there is one).
    pub fn trace_context() -> Propagator {
        Propagator::default().with_inject([Format::TraceContext])
    }

    /// Replaces the formats written.
    pub fn with_inject(mut self, inject: impl IntoIterator<Item = Format>) -> Propagator {
        self.inject = dedup(inject);
        self
    }

    /// Replaces the formats read and their order.
    pub fn with_extract_order(
        mut self,
        extract_order: impl IntoIterator<Item = Format>,
    ) -> Propagator {
        self.extract_order = dedup(extract_order);
        self
    }

    /// The formats read, in order.
    pub fn extract_order(&self) -> &[Format] {
        &self.extract_order
    }

    /// The formats written.
    pub fn inject_formats(&self) -> &[Format] {
        &self.inject
    }

    /// The propagator `OTEL_PROPAGATORS` describes: a comma-separated list of `b3` (B3 single),
    /// `b3multi`, `tracecontext`, in order. As OpenTelemetry's B3 propagator does, `b3` and
    /// `b3multi` read both B3 forms and differ in what they write. `baggage` is accepted and
    /// carries nothing here; `none` alone turns propagation off; an empty value gives the
    /// default. Anything else is an error naming the entry.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let propagator = Propagator::from_otel_propagators("tracecontext,baggage,b3multi").unwrap();
    /// assert_eq!(propagator.extract_order(), &[Format::TraceContext, Format::B3Single, Format::B3Multi]);
    /// assert_eq!(propagator.inject_formats(), &[Format::TraceContext, Format::B3Multi]);
    /// assert!(Propagator::from_otel_propagators("xray").is_err());
    /// ```
    pub fn from_otel_propagators(text: &str) -> Result<Propagator, PropagationError> {
        let mut extract = Vec::new();
        let mut inject = Vec::new();
        let mut none = false;
        let mut any = false;
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            any = true;
            if name.eq_ignore_ascii_case("none") {
                none = true;
                continue;
            }
            if name.eq_ignore_ascii_case("baggage") {
                continue;
            }
            let format: Format = name.parse()?;
            inject.push(format);
            match format {
                Format::B3Single | Format::B3Multi => {
                    extract.extend([Format::B3Single, Format::B3Multi])
                }
                Format::TraceContext => extract.push(Format::TraceContext),
            }
        }
        if !any {
            return Ok(Propagator::default());
        }
        if none && inject.is_empty() {
            return Ok(Propagator::new([], []));
        }
        Ok(Propagator::new(extract, inject))
    }

    /// The caller's context from `carrier` (an `http::HeaderMap` or another [`Carrier`]), or
    /// `None` when no format parses: then the request starts a new trace.
    ///
    /// ```
    /// use traced::propagation::Propagator;
    ///
    /// let headers = vec![("X-B3-TraceId", "463ac35c9f6413ad"), ("X-B3-SpanId", "a2fb4a1d1a96d312"), ("X-B3-Flags", "1")];
    /// let remote = Propagator::default().extract_from(&headers).unwrap();
    /// assert_eq!(remote.context().unwrap().trace_id.to_string(), "463ac35c9f6413ad");
    /// assert!(remote.sampling().is_sampled());
    /// assert_eq!(Propagator::default().extract_from(&vec![("b3", "garbage")]), None);
    /// ```
    pub fn extract_from<C: Carrier + ?Sized>(&self, carrier: &C) -> Option<Remote> {
        self.extract_order
            .iter()
            .find_map(|format| format.extract(carrier))
    }

    /// Like [`Propagator::extract_from`], also saying which format matched and keeping
    /// `tracestate` when the context came as `traceparent`.
    ///
    /// ```
    /// use traced::propagation::{Format, Propagator};
    ///
    /// let headers = vec![
    ///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ///     ("tracestate", "congo=t61rcWkgMzE"),
    /// ];
    /// let incoming = Propagator::default().extract_incoming(&headers).unwrap();
    /// assert_eq!(incoming.format, Format::TraceContext);
    /// assert_eq!(incoming.trace_state.unwrap().get("congo"), Some("t61rcWkgMzE"));
    /// ```
    pub fn extract_incoming<C: Carrier + ?Sized>(&self, carrier: &C) -> Option<Incoming> {
        self.extract_order.iter().find_map(|format| {
            let remote = format.extract(carrier)?;
            let trace_state = match format {
                Format::TraceContext => w3c::extract_trace_state(carrier),
                Format::B3Single | Format::B3Multi => None,
            };
            Some(Incoming {
                remote,
                format: *format,
                trace_state,
            })
        })
    }

    /// Writes `context` into `carrier` in every configured format. W3C injection adds the
    /// `tracestate` a caller of the same trace sent, while [`in_span_from`] or
    /// [`continue_trace_from`] keeps it.
    pub fn inject_into<C: CarrierMut + ?Sized>(&self, context: &SpanContext, carrier: &mut C) {
        if !self.inject.contains(&Format::TraceContext) {
            self.inject_with_state(context, None, carrier);
            return;
        }
        TRACE_STATE.with(|current| {
            let current = current.borrow();
            let state = current
                .as_ref()
                .filter(|(trace_id, _)| *trace_id == context.trace_id)
                .map(|(_, state)| &**state);
            self.inject_with_state(context, state, carrier);
        });
    }

    /// Writes `context` in every configured format, with `trace_state` for W3C.
    pub fn inject_with_state<C: CarrierMut + ?Sized>(
        &self,
        context: &SpanContext,
        trace_state: Option<&TraceState>,
        carrier: &mut C,
    ) {
        for format in &self.inject {
            format.inject(context, trace_state, carrier);
        }
    }

    /// Runs `body` inside the span `make_span` creates, continuing the trace `carrier` carries
    /// (or a new one), with the caller's `tracestate` kept for injection. `make_span` should
    /// create a root span (`parent: None`) when another span may be current.
    ///
    /// ```
    /// use traced::propagation::Propagator;
    /// use traced::testing::Capture;
    ///
    /// let capture = Capture::new();
    /// let headers = vec![("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-1")];
    /// capture.in_scope(|| {
    ///     Propagator::default().in_span_from(&headers, || tracing::info_span!("handle"), || {})
    /// });
    /// assert_eq!(capture.span("handle").trace_id.to_string(), "463ac35c9f6413ad");
    /// ```
    pub fn in_span_from<C: Carrier + ?Sized, R>(
        &self,
        carrier: &C,
        make_span: impl FnOnce() -> tracing::Span,
        body: impl FnOnce() -> R,
    ) -> R {
        let incoming = self.extract_incoming(carrier);
        let state = scoped_state(incoming.as_ref());
        let span = make_remote_span(incoming.map(|incoming| incoming.remote), make_span);
        let _state = StateGuard::bind(state);
        span.in_scope(body)
    }

    /// The future form of [`Propagator::in_span_from`]: `future` runs inside the span
    /// `make_span` creates (created now), continuing the trace `carrier` carries.
    pub fn continue_trace_from<C: Carrier + ?Sized, F: Future>(
        &self,
        carrier: &C,
        make_span: impl FnOnce() -> tracing::Span,
        future: F,
    ) -> Continued<F> {
        let incoming = self.extract_incoming(carrier);
        let trace_state = scoped_state(incoming.as_ref());
        let span = make_remote_span(incoming.map(|incoming| incoming.remote), make_span);
        Continued {
            inner: future.instrument(span),
            trace_state,
        }
    }
}

type ScopedState = Option<(TraceId, Arc<TraceState>)>;

thread_local! {
    /// The `tracestate` of the W3C trace being continued on this thread, keyed by its trace id
    /// so a span of another trace never sends it.
    static TRACE_STATE: RefCell<ScopedState> = const { RefCell::new(None) };
}

fn scoped_state(incoming: Option<&Incoming>) -> ScopedState {
    let incoming = incoming?;
    let context = incoming.remote.context()?;
    let state = incoming.trace_state.clone()?;
    Some((context.trace_id, Arc::new(state)))
}

/// Binds a trace state to the thread and puts the previous one back when dropped, so nesting
/// and early returns restore it.
struct StateGuard {
    previous: ScopedState,
}

impl StateGuard {
    fn bind(state: ScopedState) -> StateGuard {
        StateGuard {
            previous: TRACE_STATE.with(|current| current.replace(state)),
        }
    }
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // During thread teardown the slot may already be gone; nothing is left to restore then.
        let _ = TRACE_STATE.try_with(|current| *current.borrow_mut() = previous);
    }
}

fn make_remote_span(
    remote: Option<Remote>,
    make_span: impl FnOnce() -> tracing::Span,
) -> tracing::Span {
    match remote {
        Some(remote) => crate::layer::with_remote_parent(remote, false, make_span),
        None => make_span(),
    }
}

/// A future running inside a span that continues a remote trace; see [`continue_trace`].
#[must_use = "futures do nothing unless polled"]
pub struct Continued<F> {
    inner: Instrumented<F>,
    trace_state: ScopedState,
}

impl<F> Continued<F> {
    /// Runs `future` in `span`, keeping the `tracestate` of `incoming` for W3C injection while
    /// it is polled: for integrations that make the span themselves, e.g. with
    /// [`crate::with_remote_parent`] in the shared-span model.
    ///
    /// ```
    /// use traced::propagation::{Continued, Propagator};
    /// use traced::testing::Capture;
    ///
    /// let headers = vec![
    ///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ///     ("tracestate", "congo=t61rcWkgMzE"),
    /// ];
    /// let propagator = Propagator::trace_context();
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let sent = Capture::new().in_scope(|| {
    ///     let incoming = propagator.extract_incoming(&headers);
    ///     let remote = incoming.as_ref().map(|incoming| incoming.remote).unwrap();
    ///     let span = traced::with_remote_parent(remote, true, || tracing::info_span!("shared"));
    ///     runtime.block_on(Continued::new(async {
    ///         let mut out = http::HeaderMap::new();
    ///         propagator.inject_into(&traced::current_context().unwrap(), &mut out);
    ///         out
    ///     }, span, incoming.as_ref()))
    /// });
    /// assert_eq!(sent["traceparent"], headers[0].1);
    /// assert_eq!(sent["tracestate"], "congo=t61rcWkgMzE");
    /// ```
    pub fn new(future: F, span: tracing::Span, incoming: Option<&Incoming>) -> Continued<F> {
        Continued {
            inner: future.instrument(span),
            trace_state: scoped_state(incoming),
        }
    }

    /// The span the future runs in.
    pub fn span(&self) -> &tracing::Span {
        self.inner.span()
    }
}

impl<F: Future> Future for Continued<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is pinned structurally: it is never moved out of `self`, and
        // `Continued` has no `Drop` impl and is `Unpin` only when `F` is. `trace_state` is not
        // pinned and is only read.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let _state = StateGuard::bind(this.trace_state.clone());
        inner.poll(cx)
    }
}

impl<F> fmt::Debug for Continued<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continued")
            .field("span", self.inner.span())
            .finish_non_exhaustive()
    }
}

fn global_slot() -> &'static RwLock<Arc<Propagator>> {
    static GLOBAL: std::sync::OnceLock<RwLock<Arc<Propagator>>> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(Arc::new(Propagator::default())))
}

/// Makes `propagator` the one [`extract`], [`inject`] and the HTTP integrations use.
/// Setup calls it with the propagator `OTEL_PROPAGATORS` describes.
///
/// ```
/// use traced::propagation::{self, Propagator};
///
/// propagation::set_global(Propagator::from_otel_propagators("b3multi").unwrap());
/// assert_eq!(propagation::global().inject_formats(), &[propagation::Format::B3Multi]);
/// # propagation::set_global(Propagator::default());
/// ```
pub fn set_global(propagator: Propagator) {
    let mut slot = global_slot()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = Arc::new(propagator);
}

/// The global propagator ([`Propagator::default`] until [`set_global`] is called).
pub fn global() -> Arc<Propagator> {
    global_slot()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The caller's context from `carrier`, read with the global propagator.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "0".parse().unwrap());
/// assert_eq!(
///     traced::propagation::extract(&headers),
///     Some(traced::model::Remote::DecisionOnly(traced::model::Sampling::Deny)),
/// );
/// ```
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> Option<Remote> {
    global().extract_from(carrier)
}

/// Writes the current span's context into `carrier` with the global propagator; writes
/// nothing when no span of ours is current.
///
/// ```
/// use traced::testing::Capture;
///
/// let mut headers = http::HeaderMap::new();
/// traced::propagation::inject(&mut headers);
/// assert!(headers.is_empty());
/// Capture::new().in_scope(|| {
///     tracing::info_span!("call").in_scope(|| traced::propagation::inject(&mut headers));
/// });
/// assert!(headers["b3"].to_str().unwrap().ends_with("-1"));
/// ```
pub fn inject<C: CarrierMut + ?Sized>(carrier: &mut C) {
    if let Some(context) = crate::layer::current_context() {
        global().inject_into(&context, carrier);
    }
}

/// Writes `context` into `carrier` with the global propagator.
pub fn inject_context<C: CarrierMut + ?Sized>(context: &SpanContext, carrier: &mut C) {
    global().inject_into(context, carrier);
}

/// Runs `body` inside the span `make_span` creates, continuing `remote` (from [`extract`]);
/// with `None` the span starts a new trace. `make_span` should create a root span
/// (`parent: None`) when another span may be current, since a local parent wins.
///
/// ```
/// use traced::testing::Capture;
///
/// let capture = Capture::new();
/// let headers = vec![("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
/// capture.in_scope(|| {
///     let remote = traced::propagation::extract(&headers);
///     traced::propagation::in_remote_span(remote, || tracing::info_span!("handle"), || {});
/// });
/// let span = capture.span("handle");
/// assert_eq!(span.parent_id.unwrap().to_string(), "00f067aa0ba902b7");
/// ```
pub fn in_remote_span<R>(
    remote: Option<Remote>,
    make_span: impl FnOnce() -> tracing::Span,
    body: impl FnOnce() -> R,
) -> R {
    make_remote_span(remote, make_span).in_scope(body)
}

/// The future form of [`in_remote_span`]: `future` runs inside the span `make_span` creates
/// (created now), continuing `remote`.
///
/// ```
/// use traced::testing::Capture;
///
/// let capture = Capture::new();
/// let headers = vec![("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-1")];
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// capture.in_scope(|| {
///     let remote = traced::propagation::extract(&headers);
///     runtime.block_on(traced::propagation::continue_trace(remote, || tracing::info_span!("handle"), async {}));
/// });
/// assert_eq!(capture.span("handle").parent_id.unwrap().to_string(), "a2fb4a1d1a96d312");
/// ```
pub fn continue_trace<F: Future>(
    remote: Option<Remote>,
    make_span: impl FnOnce() -> tracing::Span,
    future: F,
) -> Continued<F> {
    Continued {
        inner: future.instrument(make_remote_span(remote, make_span)),
        trace_state: None,
    }
}

/// [`Propagator::in_span_from`] with the global propagator: extracts from `carrier` and runs
/// `body` in the continuing span, keeping the caller's `tracestate` for injection.
pub fn in_span_from<C: Carrier + ?Sized, R>(
    carrier: &C,
    make_span: impl FnOnce() -> tracing::Span,
    body: impl FnOnce() -> R,
) -> R {
    global().in_span_from(carrier, make_span, body)
}

/// [`Propagator::continue_trace_from`] with the global propagator.
pub fn continue_trace_from<C: Carrier + ?Sized, F: Future>(
    carrier: &C,
    make_span: impl FnOnce() -> tracing::Span,
    future: F,
) -> Continued<F> {
    global().continue_trace_from(carrier, make_span, future)
}

#[cfg(test)]
mod tests;
