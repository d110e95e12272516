//! Random trace and span ids.
//!
//! Ids need to be unique, not secret, so a per-thread non-cryptographic generator (wyrand, the
//! step `fastrand` uses, seeded per thread from `fastrand`) is enough and costs a few
//! nanoseconds.

use crate::model::{SpanId, TraceId};

use std::cell::Cell;

thread_local! {
    /// This thread's wyrand state; 0 until the first id, when it is seeded from `fastrand`
    /// (itself seeded per thread).
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// The next 64 random bits of this thread's generator: wyrand, as `fastrand` computes it.
///
/// Why not `fastrand::u64(..)` itself: it reaches its generator through a closure, which the
/// compiler stopped inlining into the span path when the server span became a second caller
/// (sampled `d1` 971 → 982 instructions, `report instructions`); this is the same step, with a
/// state that needs no lazy initialisation.
#[inline(always)]
fn next_u64() -> u64 {
    STATE
        .try_with(|state| {
            let mut seed = state.get();
            if seed == 0 {
                seed = seed_state();
            }
            seed = seed.wrapping_add(0xa076_1d64_78bd_642f);
            state.set(seed);
            let product = u128::from(seed) * u128::from(seed ^ 0xe703_7ed1_a0b4_28db);
            (product >> 64) as u64 ^ product as u64
        })
        // This thread's locals are being torn down: its generator is gone, `fastrand`'s not.
        .unwrap_or_else(|_| fastrand::u64(..))
}

/// A non-zero starting state for this thread's generator.
#[cold]
#[inline(never)]
fn seed_state() -> u64 {
    fastrand::u64(..) | 1
}

/// A new non-zero 64-bit span id.
#[inline]
pub(crate) fn new_span_id() -> SpanId {
    loop {
        let id = next_u64();
        if id != 0 {
            return SpanId(id);
        }
    }
}

/// A new 128-bit trace id whose high half is non-zero, so it always encodes as 32 characters.
pub(crate) fn new_trace_id() -> TraceId {
    let high = u128::from(new_span_id().0);
    TraceId((high << 64) | u128::from(next_u64()))
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

    #[test]
    fn threads_start_from_different_states() {
        let firsts: HashSet<u64> = (0..8)
            .map(|_| std::thread::spawn(|| new_span_id().0).join().unwrap())
            .collect();
        assert_eq!(firsts.len(), 8);
    }
}
