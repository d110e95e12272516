//! Random trace and span ids.
//!
//! Ids need to be unique, not secret, so a per-thread non-cryptographic generator (fastrand's
//! wyrand, seeded per thread from the OS) is enough and costs a few nanoseconds.

use crate::model::{SpanId, TraceId};

/// A new non-zero 64-bit span id.
pub(crate) fn new_span_id() -> SpanId {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return SpanId(id);
        }
    }
}

/// A new 128-bit trace id whose high half is non-zero, so it always encodes as 32 characters.
pub(crate) fn new_trace_id() -> TraceId {
    let high = u128::from(new_span_id().0);
    TraceId((high << 64) | u128::from(fastrand::u64(..)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_non_zero_unique_and_trace_ids_are_128_bit() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let trace = new_trace_id();
            assert!(!trace.is_64_bit());
            assert!(seen.insert(new_span_id()));
        }
    }
}
