//! Samplers: ratio sampling within statistical bounds and deterministic on the trace id,
//! parent-based sampling following the caller, and the rate limiter holding its rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use traced::model::{Sampling, SpanContext, SpanId, TraceId};
use traced::sample::{AlwaysOff, AlwaysOn, ParentBased, RateLimiting, Sampler, TraceIdRatio};
use traced::testing::Capture;

/// SplitMix64: a fixed, seeded stream of well-mixed 64-bit values, so the test is reproducible.
struct Ids(u64);

impl Ids {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn trace_id(&mut self) -> TraceId {
        TraceId((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64()))
    }
}

#[test]
fn ratio_sampling_stays_within_five_sigma_over_100k_trace_ids() {
    const N: u64 = 100_000;
    for (seed, ratio) in [
        (1, 0.001),
        (2, 0.01),
        (3, 0.1),
        (4, 0.25),
        (5, 0.5),
        (6, 0.9),
    ] {
        let sampler = TraceIdRatio::new(ratio);
        let mut ids = Ids(seed);
        let sampled = (0..N)
            .filter(|_| sampler.sample(ids.trace_id(), None).is_sampled())
            .count() as f64;
        let expected = ratio * N as f64;
        let sigma = (N as f64 * ratio * (1.0 - ratio)).sqrt();
        assert!(
            (sampled - expected).abs() < 5.0 * sigma,
            "ratio {ratio}: sampled {sampled} of {N}, expected {expected} ± {}",
            5.0 * sigma
        );
    }
}

#[test]
fn ratio_sampling_is_deterministic_on_the_low_64_bits_of_the_trace_id() {
    let first = TraceIdRatio::new(0.3);
    let second = TraceIdRatio::new(0.3);
    let mut ids = Ids(42);
    for _ in 0..10_000 {
        let id = ids.trace_id();
        let decision = first.sample(id, None);
        assert_eq!(decision, first.sample(id, None), "same sampler, same id");
        assert_eq!(
            decision,
            second.sample(id, None),
            "another process, same id"
        );
        let other_high_half = TraceId(id.0 ^ (0xdead_beef_u128 << 64));
        assert_eq!(
            decision,
            first.sample(other_high_half, None),
            "a 64-bit caller's id decides like its 128-bit extension"
        );
        assert!(matches!(decision, Sampling::Accept | Sampling::Deny));
    }
}

#[test]
fn a_higher_ratio_samples_a_superset_of_a_lower_one() {
    let low = TraceIdRatio::new(0.2);
    let high = TraceIdRatio::new(0.6);
    let mut ids = Ids(7);
    for _ in 0..10_000 {
        let id = ids.trace_id();
        if low.sample(id, None).is_sampled() {
            assert!(high.sample(id, None).is_sampled(), "{id:?}");
        }
    }
}

#[test]
fn ratio_edges_zero_one_and_out_of_range_values() {
    let edge_ids = [
        TraceId(0),
        TraceId(1),
        TraceId(u128::from(u64::MAX)),
        TraceId(u128::MAX),
        TraceId(1 << 64),
    ];
    for id in edge_ids {
        assert_eq!(
            TraceIdRatio::new(0.0).sample(id, None),
            Sampling::Deny,
            "{id:?}"
        );
        assert_eq!(
            TraceIdRatio::new(1.0).sample(id, None),
            Sampling::Accept,
            "{id:?}"
        );
        assert_eq!(
            TraceIdRatio::new(-0.5).sample(id, None),
            Sampling::Deny,
            "{id:?}"
        );
        assert_eq!(
            TraceIdRatio::new(7.0).sample(id, None),
            Sampling::Accept,
            "{id:?}"
        );
        assert_eq!(
            TraceIdRatio::new(f64::NAN).sample(id, None),
            Sampling::Deny,
            "{id:?}"
        );
    }
    assert_eq!(TraceIdRatio::new(7.0).ratio(), 1.0);
    // The boundary itself: ratio one half splits the 64-bit range in the middle.
    let half = TraceIdRatio::new(0.5);
    assert_eq!(half.sample(TraceId((1 << 63) - 1), None), Sampling::Accept);
    assert_eq!(half.sample(TraceId(1 << 63), None), Sampling::Deny);
}

#[test]
fn always_on_and_always_off_ignore_the_id() {
    let mut ids = Ids(9);
    for _ in 0..100 {
        let id = ids.trace_id();
        assert_eq!(AlwaysOn.sample(id, None), Sampling::Accept);
        assert_eq!(AlwaysOff.sample(id, None), Sampling::Deny);
    }
}

#[test]
fn parent_based_follows_incoming_decisions_and_asks_its_root_otherwise() {
    let id = TraceId(0x1234);
    let on = ParentBased::new(AlwaysOn);
    let off = ParentBased::new(AlwaysOff);
    for incoming in [Sampling::Accept, Sampling::Deny, Sampling::Debug] {
        assert_eq!(on.sample(id, Some(incoming)), incoming);
        assert_eq!(off.sample(id, Some(incoming)), incoming);
    }
    for incoming in [None, Some(Sampling::Defer)] {
        assert_eq!(on.sample(id, incoming), Sampling::Accept, "{incoming:?}");
        assert_eq!(off.sample(id, incoming), Sampling::Deny, "{incoming:?}");
    }
    // A ratio root decides new traces on the id, but never overrides the caller.
    let ratio = ParentBased::new(TraceIdRatio::new(0.0));
    assert_eq!(ratio.sample(id, None), Sampling::Deny);
    assert_eq!(ratio.sample(id, Some(Sampling::Accept)), Sampling::Accept);
}

#[test]
fn through_the_layer_parent_based_records_what_the_caller_sampled_and_nothing_else() {
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_sampler(ParentBased::new(AlwaysOff));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("local_root").in_scope(|| {
            let context = traced::current_context().expect("ids propagate when unsampled");
            assert_eq!(context.sampling, Sampling::Deny);
            tracing::info_span!("local_child").in_scope(|| {});
        });
        for (name, sampling) in [("accepted", Sampling::Accept), ("denied", Sampling::Deny)] {
            let caller = SpanContext {
                trace_id: TraceId(0xabc),
                span_id: SpanId(0x11),
                parent_id: None,
                sampling,
            };
            let propagator = traced::propagation::Propagator::default();
            let mut headers = http::HeaderMap::new();
            propagator.inject(&caller, &mut headers);
            propagator
                .continue_trace(&headers, || tracing::info_span!("handle", which = name))
                .in_scope(|| tracing::info_span!("work").in_scope(|| {}));
        }
    });
    let mut names = capture.names();
    names.sort();
    assert_eq!(names, ["handle", "work"]);
    let handle = capture.span("handle");
    assert_eq!(handle.trace_id, TraceId(0xabc));
    assert_eq!(handle.parent_id, Some(SpanId(0x11)));
    assert_eq!(
        handle.tag("which").and_then(|v| v.as_str()),
        Some("accepted")
    );
}

/// A clock the test moves by hand.
#[derive(Clone, Default)]
struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    fn sampler(&self, per_second: f64) -> RateLimiting {
        let now = self.0.clone();
        RateLimiting::with_clock(
            per_second,
            Box::new(move || Duration::from_micros(now.load(Ordering::Relaxed))),
        )
    }

    fn set_ms(&self, ms: u64) {
        self.0.store(ms * 1_000, Ordering::Relaxed);
    }
}

#[test]
fn the_rate_limiter_holds_its_rate_under_constant_pressure() {
    let clock = ManualClock::default();
    let sampler = clock.sampler(10.0);
    let mut ids = Ids(11);
    let mut per_second = vec![0u64; 20];
    // Five new traces every millisecond for 20 simulated seconds: 100 000 candidates.
    for ms in 0..20_000u64 {
        clock.set_ms(ms);
        for _ in 0..5 {
            if sampler.sample(ids.trace_id(), None).is_sampled() {
                per_second[(ms / 1_000) as usize] += 1;
            }
        }
    }
    let total: u64 = per_second.iter().sum();
    // The bucket starts full (one second of traces), then refills at the rate.
    assert!(
        (200..=210).contains(&total),
        "{total} in 20 s: {per_second:?}"
    );
    for (second, count) in per_second.iter().enumerate().skip(1) {
        assert!(
            (9..=11).contains(count),
            "second {second}: {count}; {per_second:?}"
        );
    }
    // Any window of t seconds holds at most rate × (t + 1).
    assert!(per_second[0] <= 20, "{per_second:?}");
}

#[test]
fn the_rate_limiter_admits_a_burst_after_a_quiet_period_but_no_more() {
    let clock = ManualClock::default();
    let sampler = clock.sampler(5.0);
    let burst = |sampler: &RateLimiting| {
        (0..100)
            .filter(|id| sampler.sample(TraceId(*id), None).is_sampled())
            .count()
    };
    assert_eq!(burst(&sampler), 5, "a full bucket: one second of traces");
    assert_eq!(burst(&sampler), 0, "empty at the same instant");
    clock.set_ms(200);
    assert_eq!(burst(&sampler), 1, "one trace per 200 ms refills");
    clock.set_ms(60_000);
    assert_eq!(
        burst(&sampler),
        5,
        "a long pause refills only up to one second"
    );
}

#[test]
fn fractional_and_zero_rates() {
    let clock = ManualClock::default();
    let every_other_second = clock.sampler(0.5);
    let mut sampled = 0;
    for ms in (0..10_000).step_by(100) {
        clock.set_ms(ms);
        if every_other_second.sample(TraceId(1), None).is_sampled() {
            sampled += 1;
        }
    }
    assert_eq!(sampled, 5, "0.5 per second over 10 s");

    let never = clock.sampler(0.0);
    let negative = clock.sampler(-3.0);
    let nan = clock.sampler(f64::NAN);
    for ms in [0, 1_000, 100_000] {
        clock.set_ms(ms);
        assert_eq!(never.sample(TraceId(1), None), Sampling::Deny);
        assert_eq!(negative.sample(TraceId(1), None), Sampling::Deny);
        assert_eq!(nan.sample(TraceId(1), None), Sampling::Deny);
    }
}

#[test]
fn the_rate_limiter_never_over_admits_under_contention() {
    let clock = ManualClock::default();
    let sampler = Arc::new(clock.sampler(1_000.0));
    // The clock stands still, so exactly one bucket — 1000 traces — may pass, however the
    // eight threads interleave their compare-and-swaps.
    let admitted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|thread| {
                let sampler = sampler.clone();
                scope.spawn(move || {
                    (0..10_000u128)
                        .filter(|id| sampler.sample(TraceId(id + thread), None).is_sampled())
                        .count()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .sum()
    });
    assert_eq!(admitted, 1_000);
}

#[test]
fn parent_based_rate_limiting_keeps_callers_decisions_beyond_the_limit() {
    let clock = ManualClock::default();
    let sampler = ParentBased::new(clock.sampler(1.0));
    assert!(sampler.sample(TraceId(1), None).is_sampled());
    assert!(
        !sampler.sample(TraceId(2), None).is_sampled(),
        "limit reached"
    );
    for _ in 0..100 {
        assert_eq!(
            sampler.sample(TraceId(3), Some(Sampling::Accept)),
            Sampling::Accept
        );
    }
}
