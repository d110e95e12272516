//! `#[traced(sampler = …)]`: the sampler a function's new traces are decided by.

use super::{Sampler, TraceIdRatio};
use crate::model::{Sampling, TraceId};

/// What `sampler = "always" | "never" | ratio` chose; it decides only when the function starts
/// a new trace (a parent's or a caller's decision is inherited as always). Generated code names
/// it as `traced::__private::RootSampler`; it is no API of its own.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum RootSampler {
    /// `"always"`.
    Always,
    /// `"never"`.
    Never,
    /// A ratio from 0 to 1, decided on the trace id as `TraceIdRatio` does, so processes with
    /// the same ratio agree.
    Ratio(f64),
}

impl Sampler for RootSampler {
    fn sample(&self, trace_id: TraceId, incoming: Option<Sampling>) -> Sampling {
        match *self {
            RootSampler::Always => Sampling::Accept,
            RootSampler::Never => Sampling::Deny,
            RootSampler::Ratio(ratio) => TraceIdRatio::new(ratio).sample(trace_id, incoming),
        }
    }
}
