//! Samplers: which new traces are recorded.
//!
//! A trace is decided once, at its root (or taken from the caller); every span below inherits the
//! decision, so a trace is never half-recorded.

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
}

/// Records every trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOn;

impl Sampler for AlwaysOn {
    fn sample(&self, _trace_id: TraceId, _incoming: Option<Sampling>) -> Sampling {
        Sampling::Accept
    }
}
