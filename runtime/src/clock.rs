//! Wall-clock timestamps from a monotonic clock.
//!
//! Zipkin wants epoch microseconds, but the system clock can step backwards (NTP), which would
//! give negative durations. So the epoch time is read once and every later time is that anchor
//! plus a monotonic offset: durations are exact and never negative.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    epoch_us: u64,
    instant: Instant,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        epoch_us: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_micros() as u64)
            .unwrap_or(0),
        instant: Instant::now(),
    })
}

/// A point in time, monotonic, convertible to epoch microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Timestamp(Instant);

impl Timestamp {
    pub(crate) fn now() -> Timestamp {
        // Anchor before reading the time, so no timestamp ever precedes the anchor.
        let _ = anchor();
        Timestamp(Instant::now())
    }

    pub(crate) fn epoch_us(self) -> u64 {
        let anchor = anchor();
        anchor.epoch_us + self.0.saturating_duration_since(anchor.instant).as_micros() as u64
    }

    /// Microseconds from `self` to `end`, at least 1: Zipkin reads 0 as "unknown duration".
    pub(crate) fn micros_until(self, end: Timestamp) -> u64 {
        (end.0.saturating_duration_since(self.0).as_micros() as u64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_close_to_the_system_clock_and_durations_positive() {
        let start = Timestamp::now();
        let system_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        assert!(start.epoch_us().abs_diff(system_us) < 1_000_000);
        let end = Timestamp::now();
        assert!(start.micros_until(end) >= 1);
        assert_eq!(
            end.micros_until(start),
            1,
            "an inverted pair still gives the minimum"
        );
    }
}
