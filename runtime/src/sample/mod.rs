//! Samplers: which new traces are recorded.
//!
//! A trace is decided once, at its root (or taken from the caller); every span below inherits the
//! decision, so a trace is never half-recorded.
//!
//! | sampler | `OTEL_TRACES_SAMPLER` | records |
//! |---|---|---|
//! | [`AlwaysOn`] | `always_on` | every trace |
//! | [`AlwaysOff`] | `always_off` | nothing |
//! | [`TraceIdRatio`] | `traceidratio` | a fraction, decided on the trace id |
//! | [`RateLimiting`] | `ratelimiting` | at most N new traces per second |
//! | [`ParentBased`] | `parentbased_*` | what the caller decided, else asks its root sampler |
//! | [`JaegerRemote`] | `jaeger_remote` | what a Jaeger sampling endpoint says, per service and operation |
//!
//! Two more places decide new traces instead of the process's sampler: the rules of the HTTP
//! server layer ([`Rule`] and [`Decision`], see `ServerLayer::sampling_rule`) and the
//! `sampler = …` option of `#[traced]`. Both apply to new traces only: a caller's decision, or
//! a parent span's, always wins.

mod function;
mod jaeger_remote;
mod rules;

#[doc(hidden)]
pub use function::RootSampler;
pub use jaeger_remote::{JaegerRemote, JaegerRemoteConfig};
#[cfg(feature = "tower")]
pub(crate) use rules::Rules;
pub use rules::{Decision, Rule};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::{Sampling, TraceId};

/// Decides whether a new trace is sampled.
///
/// ```
/// use traced::model::{Sampling, TraceId};
/// use traced::sample::{AlwaysOn, Sampler};
/// assert_eq!(AlwaysOn.sample(TraceId(7), None), Sampling::Accept);
/// ```
pub trait Sampler: Send + Sync + 'static {
    /// `incoming` is the caller's decision when the trace came from another process.
    /// Returns `Accept` or `Deny` (or `Debug` when `incoming` is `Debug`).
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling;

    /// Like [`Sampler::sample`], for a trace whose first span in this process is named
    /// `operation` (the span's name: the function's, or `otel.name`, such as `GET /items/{id}`).
    /// The pipeline always calls this one; samplers that decide per operation (Jaeger's
    /// per-operation strategies, [`JaegerRemote`]) override it, the others keep this default,
    /// which ignores the name.
    ///
    /// ```
    /// use traced::model::{Sampling, TraceId};
    /// use traced::sample::{AlwaysOn, Sampler};
    /// assert_eq!(AlwaysOn.sample_operation(TraceId(7), None, "GET /health"), Sampling::Accept);
    /// ```
    fn sample_operation(
        &self,
        trace_id: TraceId,
        incoming: Option<Sampling>,
        operation: &str,
    ) -> Sampling {
        let _ = operation;
        self.sample(trace_id, incoming)
    }
}

impl<S: Sampler + ?Sized> Sampler for Box<S> {
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling {
        (**self).sample(trace_id, incoming)
    }

    fn sample_operation(
        &self,
        trace_id: TraceId,
        incoming: Option<Sampling>,
        operation: &str,
    ) -> Sampling {
        (**self).sample_operation(trace_id, incoming, operation)
    }
}

impl<S: Sampler + ?Sized> Sampler for Arc<S> {
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling {
        (**self).sample(trace_id, incoming)
    }

    fn sample_operation(
        &self,
        trace_id: TraceId,
        incoming: Option<Sampling>,
        operation: &str,
    ) -> Sampling {
        (**self).sample_operation(trace_id, incoming, operation)
    }
}

/// Records every trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOn;

impl Sampler for AlwaysOn {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        Sampling::Accept
    }
}

/// Records no trace (ids still propagate, with the deny decision).
///
/// ```
/// use traced::model::{Sampling, TraceId};
/// use traced::sample::{AlwaysOff, Sampler};
/// assert_eq!(AlwaysOff.sample(TraceId(7), None), Sampling::Deny);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOff;

impl Sampler for AlwaysOff {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        Sampling::Deny
    }
}

/// Records a fraction of traces, decided on the trace id alone.
///
/// The low 64 bits of the id are compared with `ratio × 2⁶⁴`, as OpenTelemetry's and Zipkin's
/// samplers do, so every process with the same ratio takes the same decision for a trace, and
/// a process with a higher ratio records a superset of a lower one.
///
/// ```
/// use traced::model::{Sampling, TraceId};
/// use traced::sample::{Sampler, TraceIdRatio};
/// let quarter = TraceIdRatio::new(0.25);
/// assert_eq!(quarter.sample(TraceId(1), None), Sampling::Accept);
/// assert_eq!(quarter.sample(TraceId(u64::MAX as u128), None), Sampling::Deny);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TraceIdRatio {
    ratio: f64,
    /// Ids whose low 64 bits are below this are sampled; `2⁶⁴` samples every id.
    bound: u128,
}

impl TraceIdRatio {
    /// Samples `ratio` of the traces; values outside `0.0..=1.0` are clamped and NaN counts as 0.
    pub fn new(ratio: f64) -> TraceIdRatio {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        // 2⁶⁴ is exact in f64, and ratio ≤ 1 keeps the product within u128.
        let bound = (ratio * 18_446_744_073_709_551_616.0).ceil() as u128;
        TraceIdRatio { ratio, bound }
    }

    /// The ratio in effect, after clamping.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }
}

impl Sampler for TraceIdRatio {
    fn sample(&self, trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        if u128::from(trace_id.low_64()) < self.bound {
            Sampling::Accept
        } else {
            Sampling::Deny
        }
    }
}

/// Follows the caller's decision when there is one; asks `root` for new traces.
///
/// An incoming `Accept`, `Deny` or `Debug` is kept as it came, so a trace is recorded in every
/// process or in none. When nothing came in, or the caller deferred, `root` decides.
///
/// ```
/// use traced::model::{Sampling, TraceId};
/// use traced::sample::{AlwaysOff, ParentBased, Sampler};
/// let sampler = ParentBased::new(AlwaysOff);
/// assert_eq!(sampler.sample(TraceId(3), None), Sampling::Deny);
/// assert_eq!(sampler.sample(TraceId(3), Some(Sampling::Accept)), Sampling::Accept);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ParentBased<S> {
    root: S,
}

impl<S: Sampler> ParentBased<S> {
    /// Follows incoming decisions and uses `root` for the rest.
    pub fn new(root: S) -> ParentBased<S> {
        ParentBased { root }
    }

    /// The sampler for new traces.
    pub fn root(&self) -> &S {
        &self.root
    }
}

impl<S: Sampler> Sampler for ParentBased<S> {
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling {
        match incoming {
            Some(decided @ (Sampling::Accept | Sampling::Deny | Sampling::Debug)) => decided,
            Some(Sampling::Defer) | None => self.root.sample(trace_id, incoming),
        }
    }

    fn sample_operation(
        &self,
        trace_id: TraceId,
        incoming: Option<Sampling>,
        operation: &str,
    ) -> Sampling {
        match incoming {
            Some(decided @ (Sampling::Accept | Sampling::Deny | Sampling::Debug)) => decided,
            Some(Sampling::Defer) | None => {
                self.root.sample_operation(trace_id, incoming, operation)
            }
        }
    }
}

/// A monotonic time source for [`RateLimiting`]: the time elapsed since any fixed origin.
pub type Clock = Box<dyn Fn() -> Duration + Send + Sync>;

/// Records at most `per_second` new traces per second, like Jaeger's `ratelimiting` sampler.
///
/// A token bucket that holds one second of traces: a quiet service records a burst of up to
/// `per_second` traces at once, then one every `1 / per_second` seconds. Over any interval of
/// `t` seconds at most `per_second × (t + 1)` traces are recorded. Fractional rates work
/// (`0.5` is one trace every two seconds). The decision is one lock-free compare-and-swap.
///
/// ```
/// use traced::model::{Sampling, TraceId};
/// use traced::sample::{RateLimiting, Sampler};
/// let sampler = RateLimiting::new(2.0);
/// let decisions: Vec<Sampling> = (0..3).map(|id| sampler.sample(TraceId(id), None)).collect();
/// assert_eq!(decisions.iter().filter(|decision| decision.is_sampled()).count(), 2);
/// ```
pub struct RateLimiting {
    per_second: f64,
    /// Nanoseconds between two traces at the steady rate; `u64::MAX` records nothing.
    interval_ns: u64,
    /// How far ahead of now the schedule may run: the bucket's size, in nanoseconds.
    burst_ns: u64,
    /// The time, on `clock`, at which the bucket is full again (GCRA's "theoretical arrival").
    full_at_ns: AtomicU64,
    clock: Clock,
}

impl RateLimiting {
    /// At most `per_second` new traces per second, on the process's monotonic clock.
    /// Zero, negative and NaN rates record nothing.
    pub fn new(per_second: f64) -> RateLimiting {
        let origin = Instant::now();
        RateLimiting::with_clock(per_second, Box::new(move || origin.elapsed()))
    }

    /// Like [`RateLimiting::new`], reading time from `clock` (for tests and simulations).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use traced::model::TraceId;
    /// use traced::sample::{RateLimiting, Sampler};
    ///
    /// let now_ms = Arc::new(AtomicU64::new(0));
    /// let time = now_ms.clone();
    /// let sampler = RateLimiting::with_clock(1.0, Box::new(move || Duration::from_millis(time.load(Ordering::Relaxed))));
    /// assert!(sampler.sample(TraceId(1), None).is_sampled());
    /// assert!(!sampler.sample(TraceId(2), None).is_sampled());
    /// now_ms.store(1_000, Ordering::Relaxed);
    /// assert!(sampler.sample(TraceId(3), None).is_sampled());
    /// ```
    pub fn with_clock(per_second: f64, clock: Clock) -> RateLimiting {
        let per_second = if per_second.is_nan() {
            0.0
        } else {
            per_second.max(0.0)
        };
        let interval_ns = if per_second > 0.0 {
            (1e9 / per_second).clamp(1.0, u64::MAX as f64) as u64
        } else {
            u64::MAX
        };
        // One second's worth of traces, and at least one trace, so slow rates still record.
        let burst_ns = interval_ns.max(1_000_000_000);
        RateLimiting {
            per_second,
            interval_ns,
            burst_ns,
            full_at_ns: AtomicU64::new(0),
            clock,
        }
    }

    /// The rate in effect, in traces per second.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    fn try_acquire(&self) -> bool {
        if self.interval_ns == u64::MAX {
            return false;
        }
        let now = u64::try_from((self.clock)().as_nanos()).unwrap_or(u64::MAX);
        let mut full_at = self.full_at_ns.load(Ordering::Relaxed);
        loop {
            let next = full_at.max(now).saturating_add(self.interval_ns);
            if next - now > self.burst_ns {
                return false;
            }
            match self.full_at_ns.compare_exchange_weak(
                full_at,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => full_at = current,
            }
        }
    }
}

impl std::fmt::Debug for RateLimiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiting")
            .field("per_second", &self.per_second)
            .finish_non_exhaustive()
    }
}

impl Sampler for RateLimiting {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        if self.try_acquire() {
            Sampling::Accept
        } else {
            Sampling::Deny
        }
    }
}
