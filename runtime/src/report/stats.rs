//! What the reporter did with every span, and the rate-limited warning that says so on stderr.

use std::time::{Duration, Instant};

/// Counts of what happened to the spans given to a [`super::ZipkinReporter`].
///
/// Every span is accounted for: at any moment `exported == sent + dropped + pending`, and after
/// a shutdown `pending` is zero.
///
/// ```
/// use traced::report::Stats;
///
/// let stats = Stats::default();
/// assert!(stats.is_balanced());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Spans handed to the reporter (`Exporter::export` calls).
    pub exported: u64,
    /// Spans accepted into the queue.
    pub queued: u64,
    /// Spans the collector accepted (a 2xx answer).
    pub sent: u64,
    /// Spans that will never be delivered: refused because the queue was full or the reporter
    /// was shut down, in batches that failed for good, or still queued at shutdown's deadline.
    pub dropped: u64,
    /// Spans accepted and not yet sent or dropped: queued, or in a request under way.
    pub pending: u64,
    /// POSTs that failed for good (after their retries, or at once for a 4xx).
    pub failed_batches: u64,
    /// POSTs repeated after a connection error, a 429 or a 5xx.
    pub retries: u64,
    /// Spans an OTLP collector answered it rejected (its "partial success"); they are
    /// counted in `dropped` too, not in `sent`.
    pub rejected: u64,
}

impl Stats {
    /// Whether every exported span is counted exactly once as sent, dropped or pending.
    pub fn is_balanced(&self) -> bool {
        self.exported == self.sent + self.dropped + self.pending
    }

    /// Two reporters' counts added up (a Zipkin and an OTLP reporter side by side).
    pub(crate) fn plus(self, other: Stats) -> Stats {
        Stats {
            exported: self.exported + other.exported,
            queued: self.queued + other.queued,
            sent: self.sent + other.sent,
            dropped: self.dropped + other.dropped,
            pending: self.pending + other.pending,
            failed_batches: self.failed_batches + other.failed_batches,
            retries: self.retries + other.retries,
            rejected: self.rejected + other.rejected,
        }
    }
}

/// The counters, kept under the queue's lock so that a snapshot is always balanced.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) exported: u64,
    pub(crate) queued: u64,
    /// Refused at `export` (queue full or closed).
    pub(crate) refused: u64,
    pub(crate) sent: u64,
    /// Accepted, then lost (failed batch, or abandoned at shutdown).
    pub(crate) lost: u64,
    pub(crate) failed_batches: u64,
    pub(crate) retries: u64,
    /// Of `lost`, those an OTLP collector rejected.
    pub(crate) rejected: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            exported: self.exported,
            queued: self.queued,
            sent: self.sent,
            dropped: self.refused + self.lost,
            pending: self.queued - self.sent - self.lost,
            failed_batches: self.failed_batches,
            retries: self.retries,
            rejected: self.rejected,
        }
    }

    /// Spans accepted that are finished one way or the other.
    pub(crate) fn finished(&self) -> u64 {
        self.sent + self.lost
    }
}

/// At most one warning line per interval, so a sick collector cannot flood stderr.
pub(crate) struct Warner {
    interval: Duration,
    last: Option<Instant>,
    reported_dropped: u64,
    reported_failed_batches: u64,
}

/// How often a warning about drops or failures may be printed.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

impl Warner {
    pub(crate) fn new(interval: Duration) -> Warner {
        Warner {
            interval,
            last: None,
            reported_dropped: 0,
            reported_failed_batches: 0,
        }
    }

    /// The warning to print now, if something new went wrong and the last line is old enough.
    pub(crate) fn check(
        &mut self,
        stats: &Stats,
        endpoint: &str,
        last_error: Option<&str>,
    ) -> Option<String> {
        let news = stats.dropped > self.reported_dropped
            || stats.failed_batches > self.reported_failed_batches;
        let quiet = self.last.is_none_or(|last| last.elapsed() >= self.interval);
        if !(news && quiet) {
            return None;
        }
        self.last = Some(Instant::now());
        let new_drops = stats.dropped - self.reported_dropped;
        self.reported_dropped = stats.dropped;
        self.reported_failed_batches = stats.failed_batches;
        let mut line = format!(
            "traced: {new_drops} span(s) dropped since the last warning ({} of {} dropped in total, \
             {} failed POST(s)) reporting to {endpoint}",
            stats.dropped, stats.exported, stats.failed_batches
        );
        if let Some(error) = last_error {
            line.push_str("; last error: ");
            line.push_str(error);
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_balance() {
        let counters = Counters {
            exported: 10,
            queued: 8,
            refused: 2,
            sent: 5,
            lost: 1,
            failed_batches: 1,
            retries: 3,
            rejected: 0,
        };
        let stats = counters.snapshot();
        assert_eq!((stats.dropped, stats.pending), (3, 2));
        assert!(stats.is_balanced());
    }

    #[test]
    fn warnings_are_rate_limited_and_only_for_news() {
        let mut warner = Warner::new(Duration::from_secs(3600));
        let mut stats = Stats {
            exported: 5,
            ..Stats::default()
        };
        assert_eq!(warner.check(&stats, "http://c", None), None);
        stats.dropped = 2;
        let line = warner.check(&stats, "http://c", Some("503")).unwrap();
        assert!(
            line.contains("2 span(s) dropped") && line.contains("503"),
            "{line}"
        );
        stats.dropped = 4;
        assert_eq!(warner.check(&stats, "http://c", None), None);

        let mut eager = Warner::new(Duration::ZERO);
        assert!(eager.check(&stats, "http://c", None).is_some());
        assert!(eager.check(&stats, "http://c", None).is_none());
        stats.failed_batches = 1;
        assert!(eager.check(&stats, "http://c", None).is_some());
    }
}
