//! Wall-clock timestamps from a monotonic clock.
//!
//! Zipkin wants epoch microseconds, but the system clock can step backwards (NTP), which would
//! give negative durations. So the epoch time is read once and every later time is that anchor
//! plus a monotonic offset: durations are exact and never negative.
//!
//! The monotonic clock is quanta's, which reads the CPU's time-stamp counter where it is
//! invariant (and falls back to the OS clock where it is not): a read is a few nanoseconds and a
//! timestamp is a plain `u64`, where `std::time::Instant` costs a system call's worth of
//! `timespec` arithmetic on every read and subtraction.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Anchor {
    epoch_us: u64,
    clock: quanta::Clock,
    raw: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let clock = quanta::Clock::new();
        let raw = clock.raw();
        Anchor {
            epoch_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|since| since.as_micros() as u64)
                .unwrap_or(0),
            clock,
            raw,
        }
    })
}

/// A point in time, monotonic, convertible to epoch microseconds. Zero is "never read".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Timestamp(u64);

impl Timestamp {
    /// A placeholder for spans whose time is never read (unsampled ones).
    pub(crate) const ZERO: Timestamp = Timestamp(0);

    pub(crate) fn now() -> Timestamp {
        let anchor = anchor();
        // Raw counter values are converted to time only when a span is encoded, off the hot path.
        Timestamp(anchor.clock.raw().max(anchor.raw))
    }

    pub(crate) fn epoch_us(self) -> u64 {
        let anchor = anchor();
        if self.0 == 0 {
            return anchor.epoch_us;
        }
        anchor.epoch_us + anchor.clock.delta_as_nanos(anchor.raw, self.0) / 1_000
    }

    /// The start in epoch microseconds, and the microseconds until `end`, at least 1: Zipkin
    /// reads 0 as "unknown duration".
    pub(crate) fn epoch_us_until(self, end: Timestamp) -> (u64, u64) {
        let anchor = anchor();
        if self.0 == 0 {
            return (anchor.epoch_us, 1);
        }
        let start_ns = anchor.clock.delta_as_nanos(anchor.raw, self.0);
        let duration_us = if end.0 <= self.0 {
            1
        } else {
            (anchor.clock.delta_as_nanos(self.0, end.0) / 1_000).max(1)
        };
        (anchor.epoch_us + start_ns / 1_000, duration_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_close_to_the_system_clock_and_durations_positive() {
        let start = Timestamp::now();
        let system_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        assert!(start.epoch_us().abs_diff(system_us) < 1_000_000);
        let end = Timestamp::now();
        let (start_us, duration_us) = start.epoch_us_until(end);
        assert_eq!(start_us, start.epoch_us());
        assert!(duration_us >= 1);
        assert_eq!(
            end.epoch_us_until(start).1,
            1,
            "an inverted pair still gives the minimum"
        );
    }

    #[test]
    fn durations_match_real_time() {
        let start = Timestamp::now();
        std::thread::sleep(Duration::from_millis(20));
        let end = Timestamp::now();
        let micros = start.epoch_us_until(end).1;
        assert!(micros >= 20_000, "slept 20 ms, measured {micros} µs");
        assert!(end.epoch_us() - start.epoch_us() >= 19_999);
    }
}
