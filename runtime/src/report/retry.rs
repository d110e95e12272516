//! When to repeat a POST, and how long to wait first.

use std::time::Duration;

/// Exponential backoff with jitter, as most collectors' clients do it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry): `initial · 2^(retry-1)`
    /// capped at `max`, then a random point in its upper half. The jitter keeps many processes
    /// that failed together from retrying together; the lower half is cut so a retry never comes
    /// right away.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << doublings).min(self.max);
        let half = base / 2;
        let jitter_nanos = fastrand::u64(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_nanos(jitter_nanos)
    }
}

/// The wait a `Retry-After` header asks for, in its delay-seconds form, capped at `cap`.
///
/// The HTTP-date form is not parsed (it needs a calendar, and clocks differ); the caller then
/// falls back to its own backoff.
pub(crate) fn parse_retry_after(value: &[u8], cap: Duration) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    // Digits only, so a parse failure can only be an overflow: wait as long as allowed.
    let seconds = text.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds).min(cap))
}

/// Whether an HTTP status is worth trying again: 429 (the collector is shedding load) and 5xx
/// (it is sick). Other statuses will not change by repeating the same body.
///
/// OTLP is stricter: only 429, 502, 503 and 504 may be retried (OTLP/HTTP specification,
/// "Retryable Response Codes"); any other 4xx or 5xx must not be.
pub(crate) fn is_retryable_status(status: u16, otlp: bool) -> bool {
    if otlp {
        return matches!(status, 429 | 502 | 503 | 504);
    }
    status == 429 || ((500..600).contains(&status) && status != 501 && status != 505)
}

/// Whether a `Retry-After` on this status says when to retry: on 429 and 503, as HTTP and the
/// OTLP specification have it.
pub(crate) fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 503)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..100 {
            let first = backoff.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff.delay(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = backoff.delay(40);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_ignores_dates() {
        let cap = Duration::from_secs(30);
        assert_eq!(parse_retry_after(b"2", cap), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(b" 0 ", cap), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(b"3600", cap), Some(cap));
        assert_eq!(
            parse_retry_after(b"99999999999999999999999", cap),
            Some(cap)
        );
        assert_eq!(
            parse_retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT", cap),
            None
        );
        assert_eq!(parse_retry_after(b"-1", cap), None);
        assert_eq!(parse_retry_after(b"\xff", cap), None);
    }

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        for status in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status, false), "{status}");
        }
        for status in [200, 202, 301, 400, 401, 403, 404, 408, 413, 501, 505] {
            assert!(!is_retryable_status(status, false), "{status}");
        }
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status, true), "OTLP {status}");
        }
        for status in [200, 400, 404, 413, 500, 501, 505, 507] {
            assert!(!is_retryable_status(status, true), "OTLP {status}");
        }
        assert!(honours_retry_after(429) && honours_retry_after(503));
        assert!(!honours_retry_after(500) && !honours_retry_after(502));
    }
}
