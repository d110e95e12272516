//! The reporter's own thread: takes the queue, encodes batches, POSTs them with retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::encode::Encoding;
use crate::encode::LocalEndpoint;
use crate::limits::SpanLimits;
use crate::model::Resource;

use super::http::Outcome;
use super::queue::{Shared, Taken};
use super::retry::Backoff;
use super::stats::{Warner, WARN_INTERVAL};
use super::thread_buffer::ThreadBuffers;
use super::transport::Transport;

pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    /// The threads' buffers in front of `shared`, collected each time the worker wakes.
    pub(crate) buffers: Arc<ThreadBuffers>,
    pub(crate) transport: Transport,
    pub(crate) encoding: Encoding,
    /// Compression asked for: a gzipped body for HTTP, compressed record batches for Kafka.
    pub(crate) gzip: bool,
    /// Whether the worker gzips the body itself (HTTP).
    pub(crate) gzip_body: bool,
    pub(crate) local: LocalEndpoint,
    /// The process as OTLP describes it.
    pub(crate) resource: Resource,
    pub(crate) limits: SpanLimits,
    pub(crate) endpoint: String,
    pub(crate) schedule_delay: Duration,
    pub(crate) export_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) batch_spans: usize,
    pub(crate) batch_bytes: usize,
}

/// Why a batch was not delivered.
enum Undelivered {
    /// It failed for good; counted as a failed batch.
    Failed,
    /// The collector took it but rejected this many of its spans (OTLP partial success); not
    /// retried, as OTLP asks.
    Rejected(u64),
    /// Shutdown gave up on the worker; nothing may be counted any more.
    Abandoned,
}

impl Worker {
    pub(crate) fn run(self) {
        // Whatever our HTTP stack or we ever log through `tracing` on this thread must not turn
        // into spans or events of the program being traced.
        let _quiet = tracing::dispatcher::set_default(&tracing::Dispatch::none());
        let mut state = Running {
            taken: Taken::default(),
            estimates: Vec::new(),
            estimated: 0,
            body: Vec::new(),
            compressed: Vec::new(),
            warner: Warner::new(WARN_INTERVAL),
        };
        self.main_loop(&mut state);
        let mut guard = self.shared.lock();
        guard.worker_done = true;
        drop(guard);
        self.shared.progress.notify_all();
    }

    fn main_loop(&self, running: &mut Running) {
        let mut next_tick = Instant::now() + self.schedule_delay;
        loop {
            // What the threads' buffers hold joins the queue before the worker looks at it.
            self.buffers.collect();
            let mut state = self.shared.lock();
            if state.abandoned {
                return;
            }
            let batch_ready = state.batch_ready(self.shared.limits);
            let now = Instant::now();
            if state.deadline.is_none() && !state.flush_wanted && !batch_ready && now < next_tick {
                state.worker_waiting = true;
                let (mut state, _) = self
                    .shared
                    .work
                    .wait_timeout(state, next_tick - now)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.worker_waiting = false;
                // Woken or timed out: collect again before deciding.
                continue;
            }
            let last_round = state.deadline.is_some();
            state.flush_wanted = false;
            // What each span was counted as when it was queued, taken with it: estimating a
            // batch's spans again after a smaller batch was sent would see spans the limits
            // already changed, and the held bytes would drift.
            running.estimates.clear();
            state.take_waiting(&mut running.taken, &mut running.estimates);
            drop(state);
            debug_assert_eq!(running.estimates.len(), running.taken.len());
            running.estimated = 0;
            next_tick = Instant::now() + self.schedule_delay;

            self.send_taken(running);
            self.warn_if_due(running);
            // Shutdown closes the queue (and collects the threads' buffers) before it sets the
            // deadline, so after this round's take nothing new can arrive.
            if last_round {
                return;
            }
        }
    }

    /// Sends everything taken from the queue, batch by batch.
    fn send_taken(&self, running: &mut Running) {
        while !running.taken.is_empty() {
            let count = self.encode_batch(running);
            let result = self.deliver(running);
            if matches!(result, Err(Undelivered::Abandoned)) {
                return;
            }
            let sent = running.estimated..running.estimated + count;
            let bytes: usize = running
                .estimates
                .get(sent)
                .map_or(0, |sizes| sizes.iter().sum());
            running.estimated += count;
            let mut state = self.shared.lock();
            if state.abandoned {
                return;
            }
            state.held_spans -= count;
            state.held_bytes -= bytes;
            match result {
                Ok(()) => state.counters.sent += count as u64,
                Err(Undelivered::Rejected(rejected)) => {
                    let rejected = rejected.min(count as u64);
                    state.counters.sent += count as u64 - rejected;
                    state.counters.lost += rejected;
                    state.counters.rejected += rejected;
                }
                Err(_) => {
                    state.counters.lost += count as u64;
                    state.counters.failed_batches += 1;
                }
            }
            drop(state);
            self.shared.progress.notify_all();
            // Dropped in place, after the lock: moving them out first copied every record of
            // the batch (512 × 336 bytes) into a new vector.
            running.taken.drop_front(count);
            self.warn_if_due(running);
        }
    }

    /// Encodes the longest prefix of the taken spans that fits the batch limits into the body
    /// (gzipped if configured); returns how many spans it holds. A single span larger than the
    /// byte limit still goes alone: the collector decides.
    fn encode_batch(&self, running: &mut Running) -> usize {
        // The limits are applied here, on the reporter's thread, not where spans end.
        for span in running.taken.iter_mut().take(self.batch_spans) {
            self.limits.apply(span);
        }
        let count = if self.encoding.is_otlp() {
            self.encode_otlp_batch(running)
        } else {
            self.encode_zipkin_batch(running)
        };
        if self.gzip_body {
            compress(&running.body, &mut running.compressed);
        }
        count
    }

    /// A Zipkin list, span by span, stopping before the span that would pass the byte limit.
    fn encode_zipkin_batch(&self, running: &mut Running) -> usize {
        let body = &mut running.body;
        body.clear();
        self.encoding.begin_list(body);
        let mut count = 0;
        for span in running.taken.iter().take(self.batch_spans) {
            let mark = body.len();
            self.encoding.push_span(span, &self.local, count == 0, body);
            // +1 for the JSON list's closing bracket.
            if count > 0 && body.len() + 1 > self.batch_bytes {
                body.truncate(mark);
                break;
            }
            count += 1;
        }
        self.encoding.end_list(body);
        count
    }

    /// One OTLP request (spans grouped by service cannot be appended one at a time): a batch
    /// over the byte limit is halved until it fits, or is a single span.
    fn encode_otlp_batch(&self, running: &mut Running) -> usize {
        let mut count = running.taken.len().min(self.batch_spans);
        loop {
            running.body.clear();
            self.encoding.encode_batch(
                running.taken.iter().take(count),
                &self.resource,
                &mut running.body,
            );
            if running.body.len() <= self.batch_bytes || count == 1 {
                return count;
            }
            count = count.div_ceil(2);
        }
    }

    /// POSTs the encoded batch, retrying connection errors, 429 and 5xx with backoff, within
    /// the attempt bound and any shutdown deadline.
    fn deliver(&self, running: &Running) -> Result<(), Undelivered> {
        let body = if self.gzip_body {
            &running.compressed
        } else {
            &running.body
        };
        let mut attempt = 1;
        loop {
            let timeout = match self.time_left()? {
                Some(left) if left.is_zero() => return Err(Undelivered::Failed),
                Some(left) => left.min(self.export_timeout),
                None => self.export_timeout,
            };
            let (after, reason) = match self.transport.send(body, self.gzip, timeout) {
                Outcome::Delivered(answer) => return self.delivered(&answer),
                Outcome::Fail { reason } => {
                    self.shared.lock().last_error = Some(reason);
                    return Err(Undelivered::Failed);
                }
                Outcome::Retry { after, reason } => (after, reason),
            };
            self.shared.lock().last_error = Some(reason);
            if attempt >= self.max_attempts {
                return Err(Undelivered::Failed);
            }
            let wait = after.unwrap_or_else(|| self.backoff.delay(attempt));
            self.pause(wait)?;
            attempt += 1;
            let mut state = self.shared.lock();
            if state.abandoned {
                return Err(Undelivered::Abandoned);
            }
            state.counters.retries += 1;
        }
    }

    /// A delivered batch, unless an OTLP collector answered that it rejected some of it.
    fn delivered(&self, answer: &[u8]) -> Result<(), Undelivered> {
        if !self.encoding.is_otlp() {
            return Ok(());
        }
        match super::partial_success::rejected(self.encoding, answer) {
            Some((rejected, message)) if rejected > 0 || !message.is_empty() => {
                self.shared.lock().last_error = Some(format!(
                    "the collector rejected {rejected} span(s) of a batch: {message}"
                ));
                if rejected > 0 {
                    Err(Undelivered::Rejected(rejected))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// The time left before the shutdown deadline, if shutdown has begun.
    fn time_left(&self) -> Result<Option<Duration>, Undelivered> {
        let state = self.shared.lock();
        if state.abandoned {
            return Err(Undelivered::Abandoned);
        }
        Ok(state
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now())))
    }

    /// Waits before a retry. Gives up at once when a shutdown deadline would pass first (the
    /// retry could not happen in time), and wakes for a shutdown that begins meanwhile.
    fn pause(&self, wait: Duration) -> Result<(), Undelivered> {
        let end = Instant::now() + wait;
        let mut state = self.shared.lock();
        loop {
            if state.abandoned {
                return Err(Undelivered::Abandoned);
            }
            if state.deadline.is_some_and(|deadline| deadline <= end) {
                return Err(Undelivered::Failed);
            }
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            state = self
                .shared
                .work
                .wait_timeout(state, end - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn warn_if_due(&self, running: &mut Running) {
        let state = self.shared.lock();
        if state.closed {
            // Shutdown is under way and says itself what could not be sent.
            return;
        }
        let stats = state.counters.snapshot();
        let last_error = state.last_error.clone();
        drop(state);
        if let Some(line) = running
            .warner
            .check(&stats, &self.endpoint, last_error.as_deref())
        {
            // Straight to stderr: our diagnostics must never become spans or events.
            eprintln!("{line}");
        }
    }
}

/// The worker's buffers, reused from batch to batch.
struct Running {
    taken: Taken,
    /// The queue's estimate of each taken span, as it was counted.
    estimates: Vec<usize>,
    /// How many of `estimates` belong to spans already sent.
    estimated: usize,
    body: Vec<u8>,
    compressed: Vec<u8>,
    warner: Warner,
}

#[cfg(feature = "gzip")]
fn compress(body: &[u8], out: &mut Vec<u8>) {
    use std::io::Write as _;
    out.clear();
    // Fast compression: spans are repetitive text, so level 1 already shrinks them several
    // times, at a fraction of the default level's CPU.
    let mut encoder =
        flate2::write::GzEncoder::new(std::mem::take(out), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    *out = encoder.finish().unwrap_or_default();
}

#[cfg(not(feature = "gzip"))]
fn compress(_body: &[u8], _out: &mut Vec<u8>) {
    // `ZipkinReporter::start` refuses `gzip: true` without the feature, so this never runs.
}
