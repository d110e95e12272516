//! The bounded queue between instrumented threads and the reporter's thread.
//!
//! A `Mutex` over vectors rather than a channel: spans arrive in batches from the threads' own
//! buffers (`thread_buffer.rs`), each kept whole as a segment; a hand-in holds the lock for a few
//! nanoseconds per span and never makes a system call (the worker is only woken when a batch is
//! full, not per span), the bound counts both spans and estimated bytes, and the worker takes
//! every waiting segment at once (`Taken`).
//! The counters live under the same lock, so every snapshot of them balances exactly.

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::model::{Annotation, Endpoint, SpanRecord, TagValue};

use super::stats::Counters;

/// What bounds the queue and when the worker is woken early.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_spans: usize,
    pub(crate) max_bytes: usize,
    pub(crate) batch_spans: usize,
    pub(crate) batch_bytes: usize,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the worker: a full batch, a flush, a shutdown.
    pub(crate) work: Condvar,
    /// Wakes flushers and shutdown: a batch finished, the worker exited.
    pub(crate) progress: Condvar,
    pub(crate) limits: Limits,
}

pub(crate) struct State {
    /// Spans waiting for the worker that came one by one.
    loose: Vec<SpanRecord>,
    /// Their `estimate_bytes`, as they were counted when admitted.
    loose_sizes: Vec<usize>,
    /// Spans waiting for the worker that came as a thread's batch, each batch kept whole: it
    /// is moved in and out as one vector, never span by span.
    segments: Vec<Vec<SpanRecord>>,
    /// The `estimate_bytes` of every span in `segments`, in order, as they were counted when
    /// admitted: handed to the worker with the spans, so it need not estimate them again (it
    /// did, at 6.6% of the reporter thread's time serving the trivial service: `perf`, see
    /// benches/PROFILE.md).
    segment_sizes: Vec<usize>,
    /// Spans in `loose` and `segments`.
    waiting: usize,
    /// Emptied segment vectors, kept for their capacity: a thread handing in a batch gets one
    /// back, so neither side allocates once warm.
    spare: Vec<Vec<SpanRecord>>,
    /// Estimated bytes of the waiting spans alone: the early-wake trigger.
    pub(crate) queue_bytes: usize,
    /// Spans accepted and not finished: waiting here or in the worker's hands. This is what the
    /// bound applies to, so memory stays bounded while a batch is retried.
    pub(crate) held_spans: usize,
    pub(crate) held_bytes: usize,
    pub(crate) counters: Counters,
    pub(crate) worker_waiting: bool,
    pub(crate) flush_wanted: bool,
    /// Set by shutdown: finish by then.
    pub(crate) deadline: Option<Instant>,
    /// No more spans are accepted.
    pub(crate) closed: bool,
    /// Shutdown stopped waiting and counted what the worker held as dropped; the worker must not
    /// count anything any more.
    pub(crate) abandoned: bool,
    pub(crate) worker_done: bool,
    pub(crate) last_error: Option<String>,
}

impl Shared {
    pub(crate) fn new(limits: Limits) -> Shared {
        Shared {
            state: Mutex::new(State {
                loose: Vec::new(),
                loose_sizes: Vec::new(),
                segments: Vec::new(),
                segment_sizes: Vec::new(),
                waiting: 0,
                spare: Vec::new(),
                queue_bytes: 0,
                held_spans: 0,
                held_bytes: 0,
                counters: Counters::default(),
                worker_waiting: false,
                flush_wanted: false,
                deadline: None,
                closed: false,
                abandoned: false,
                worker_done: false,
                last_error: None,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            limits,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across anything that can panic; if it ever were, counting on
        // is better than taking the instrumented program down.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits on `progress` while `waiting` holds, until `deadline` at the latest.
    pub(crate) fn wait_for_progress<'a>(
        &self,
        state: MutexGuard<'a, State>,
        deadline: Instant,
        mut waiting: impl FnMut(&mut State) -> bool,
    ) -> MutexGuard<'a, State> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.progress
            .wait_timeout_while(state, left, |state| waiting(state))
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }

    /// Closes the queue: from now on every span is refused and counted.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        // Nothing more will be handed in; threads may keep this queue alive for a while.
        let spare = std::mem::take(&mut state.spare);
        drop(state);
        drop(spare);
    }

    /// Queues one span, or drops it when the queue is full or closed (the refusal is counted),
    /// freeing it outside the lock. Returns whether it was queued.
    pub(crate) fn push_one(&self, span: SpanRecord, size: usize) -> bool {
        let mut state = self.lock();
        if !state.admit(size, self.limits) {
            drop(state);
            drop(span);
            return false;
        }
        state.loose.push(span);
        state.loose_sizes.push(size);
        state.waiting += 1;
        self.wake_if_batch_full(state);
        true
    }

    /// Queues a thread's `batch` under one lock, as one segment. Its spans are admitted in
    /// order while they fit the bounds; from the first that does not, the rest of the batch is
    /// refused (and counted), and freed outside the lock. Leaves the batch empty, its vector
    /// replaced by a spare one.
    pub(crate) fn hand_in(&self, batch: &mut Batch) {
        let total = batch.spans.len();
        if total == 0 {
            return;
        }
        let mut state = self.lock();
        let mut accepted = 0;
        while accepted < total && state.admit(batch.sizes[accepted], self.limits) {
            accepted += 1;
        }
        if accepted < total {
            // The first refused span was counted by `admit`; the rest of the batch with it.
            // The lock is let go while the refused spans are freed. The admitted ones cannot
            // miss the worker's last take meanwhile: every caller holds its thread buffer's
            // lock around `hand_in`, and shutdown collects every buffer (taking that lock)
            // before it sets the deadline of the last round.
            let rest = (total - accepted - 1) as u64;
            state.counters.exported += rest;
            state.counters.refused += rest;
            drop(state);
            batch.spans.truncate(accepted);
            if accepted == 0 {
                batch.sizes.clear();
                batch.bytes = 0;
                return;
            }
            state = self.lock();
        }
        let spare = state
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(total));
        let segment = std::mem::replace(&mut batch.spans, spare);
        state.segments.push(segment);
        state
            .segment_sizes
            .extend_from_slice(&batch.sizes[..accepted]);
        state.waiting += accepted;
        batch.sizes.clear();
        batch.bytes = 0;
        self.wake_if_batch_full(state);
    }

    /// Wakes the worker if the queue holds a full batch and it is waiting for one.
    fn wake_if_batch_full(&self, mut state: MutexGuard<'_, State>) {
        if state.batch_ready(self.limits) && state.worker_waiting {
            state.worker_waiting = false;
            drop(state);
            self.work.notify_one();
        }
    }
}

/// Emptied segment vectors kept for reuse (about 21 KiB each once grown to a thread's buffer);
/// more are freed, such as after a full queue was sent.
const MAX_SPARE: usize = 64;

impl State {
    /// Counts a span handed to the queue and whether its `size` fits the bounds; a span that
    /// fits is counted as held (the caller queues it), one that does not as refused.
    fn admit(&mut self, size: usize, limits: Limits) -> bool {
        self.counters.exported += 1;
        if self.closed
            || self.held_spans >= limits.max_spans
            || self.held_bytes.saturating_add(size) > limits.max_bytes
        {
            self.counters.refused += 1;
            return false;
        }
        self.counters.queued += 1;
        self.held_spans += 1;
        self.held_bytes += size;
        self.queue_bytes += size;
        true
    }

    /// Whether the waiting spans fill a batch.
    pub(crate) fn batch_ready(&self, limits: Limits) -> bool {
        self.waiting >= limits.batch_spans || self.queue_bytes >= limits.batch_bytes
    }

    /// Spans waiting for the worker.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    /// Moves every waiting span into `taken` (which must be empty) and their estimated sizes
    /// onto the end of `sizes`, in the same order, and keeps the vectors `taken` emptied since
    /// the last time as spares.
    pub(crate) fn take_waiting(&mut self, taken: &mut Taken, sizes: &mut Vec<usize>) {
        let room = MAX_SPARE.saturating_sub(self.spare.len());
        self.spare.extend(taken.spent.drain(..).take(room));
        if !self.loose.is_empty() {
            let spare = self.spare.pop().unwrap_or_default();
            let loose = std::mem::replace(&mut self.loose, spare);
            self.segments.push(loose);
        }
        // The loose spans' segment, if any, came last.
        sizes.append(&mut self.segment_sizes);
        sizes.append(&mut self.loose_sizes);
        taken.segments.extend(self.segments.drain(..));
        taken.len += self.waiting;
        self.waiting = 0;
        self.queue_bytes = 0;
    }
}

/// The spans the worker took from the queue, still in the vectors they came in: moving them
/// into one would copy every record again (336 bytes each) and hold the queue's worth of
/// memory twice.
#[derive(Default)]
pub(crate) struct Taken {
    segments: VecDeque<Vec<SpanRecord>>,
    len: usize,
    /// Emptied vectors, for the queue to keep as spares.
    spent: Vec<Vec<SpanRecord>>,
}

impl Taken {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The spans in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SpanRecord> {
        self.segments.iter().flatten()
    }

    /// The spans in order, to change.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut SpanRecord> {
        self.segments.iter_mut().flatten()
    }

    /// Drops the first `count` spans (fewer if there are fewer), in place.
    pub(crate) fn drop_front(&mut self, mut count: usize) {
        while count > 0 {
            let Some(front) = self.segments.front_mut() else {
                break;
            };
            if front.len() <= count {
                count -= front.len();
                self.len -= front.len();
                front.clear();
                if let Some(spent) = self.segments.pop_front() {
                    self.spent.push(spent);
                }
            } else {
                front.drain(..count);
                self.len -= count;
                count = 0;
            }
        }
    }
}

/// Spans handed to the queue together (from one thread's buffer), with their sizes.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) spans: Vec<SpanRecord>,
    /// `estimate_bytes` of each span, computed once where it ended.
    pub(crate) sizes: Vec<usize>,
    pub(crate) bytes: usize,
}

/// The memory a queued span holds, from its sizes alone (no allocator calls): the record, its
/// owned strings, and its vectors' capacity. Static strings are free.
pub(crate) fn estimate_bytes(span: &SpanRecord) -> usize {
    let owned = |text: &std::borrow::Cow<'static, str>| match text {
        std::borrow::Cow::Borrowed(_) => 0,
        std::borrow::Cow::Owned(text) => text.capacity(),
    };
    let mut bytes = size_of::<SpanRecord>() + owned(&span.name);
    if span.tags.spilled() {
        bytes += span.tags.capacity() * size_of::<crate::model::Tag>();
    }
    for (key, value) in &span.tags {
        bytes += owned(key);
        if let TagValue::Str(text) = value {
            bytes += owned(text);
        }
    }
    bytes += span.annotations.capacity() * size_of::<Annotation>();
    for annotation in &span.annotations {
        bytes += annotation.message.capacity();
        if annotation.fields.spilled() {
            bytes += annotation.fields.capacity() * size_of::<crate::model::Tag>();
        }
        for (key, value) in &annotation.fields {
            bytes += owned(key);
            if let TagValue::Str(text) = value {
                bytes += owned(text);
            }
        }
    }
    if let Some(extra) = &span.extra {
        bytes += size_of::<crate::model::SpanExtra>()
            + extra.links.capacity() * size_of::<crate::model::Link>();
    }
    if let Some(remote) = &span.remote_endpoint {
        bytes += size_of::<Endpoint>() + remote.service_name.as_deref().map_or(0, str::len);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(shared: &Shared, span: SpanRecord) -> bool {
        let size = estimate_bytes(&span);
        shared.push_one(span, size)
    }

    fn limits(max_spans: usize, max_bytes: usize) -> Limits {
        Limits {
            max_spans,
            max_bytes,
            batch_spans: 4,
            batch_bytes: usize::MAX,
        }
    }

    #[test]
    fn the_span_bound_refuses_and_counts() {
        let shared = Shared::new(limits(3, usize::MAX));
        let results: Vec<bool> = (0..5)
            .map(|_| push(&shared, SpanRecord::default()))
            .collect();
        assert_eq!(results, [true, true, true, false, false]);
        let stats = shared.lock().counters.snapshot();
        assert_eq!((stats.exported, stats.queued, stats.dropped), (5, 3, 2));
        assert_eq!(stats.pending, 3);
    }

    #[test]
    fn the_byte_bound_holds_for_huge_spans() {
        let huge = SpanRecord {
            name: "x".repeat(1 << 20).into(),
            ..SpanRecord::default()
        };
        assert!(estimate_bytes(&huge) > 1 << 20);
        let shared = Shared::new(limits(1000, 3 << 20));
        let accepted = (0..10).filter(|_| push(&shared, huge.clone())).count();
        assert_eq!(accepted, 2);
        assert!(shared.lock().held_bytes <= 3 << 20);
    }

    /// A span with an owned name: names of different lengths give different estimates.
    fn named(name: &str) -> SpanRecord {
        SpanRecord {
            name: std::borrow::Cow::Owned(name.to_owned()),
            ..SpanRecord::default()
        }
    }

    /// A thread's batch of spans named `names`, with their sizes.
    fn batch_of(names: &[&str]) -> Batch {
        let mut batch = Batch::default();
        for name in names {
            let span = named(name);
            batch.sizes.push(estimate_bytes(&span));
            batch.spans.push(span);
        }
        batch
    }

    #[test]
    fn taken_spans_come_out_in_order_and_drop_from_the_front_across_batches() {
        let shared = Shared::new(limits(100, usize::MAX));
        push(&shared, named("loose"));
        for names in [["a", "bb", "ccc"], ["dddd", "eeeee", "ffffff"]] {
            shared.hand_in(&mut batch_of(&names));
        }
        let mut taken = Taken::default();
        let mut sizes = Vec::new();
        shared.lock().take_waiting(&mut taken, &mut sizes);
        let names = |taken: &Taken| {
            taken
                .iter()
                .map(|span| span.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&taken),
            ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "loose"]
        );
        assert_eq!(taken.len(), 7);
        // Each span's size as it was counted, in the spans' order.
        let estimated: Vec<usize> = taken.iter().map(estimate_bytes).collect();
        assert_eq!(sizes, estimated);
        taken.drop_front(4);
        assert_eq!(names(&taken), ["eeeee", "ffffff", "loose"]);
        taken.drop_front(10);
        assert!(taken.is_empty());
        // The emptied vectors go back to the queue as spares on the next take.
        shared.lock().take_waiting(&mut taken, &mut sizes);
        assert!(taken.is_empty());
        assert_eq!(shared.lock().spare.len(), 3);
    }

    #[test]
    fn a_batch_cut_by_the_bound_hands_over_the_sizes_of_what_was_admitted() {
        let shared = Shared::new(limits(4, usize::MAX));
        shared.hand_in(&mut batch_of(&[
            "a", "bb", "ccc", "dddd", "eeeee", "ffffff",
        ]));
        let mut taken = Taken::default();
        let mut sizes = Vec::new();
        let mut state = shared.lock();
        assert_eq!(state.held_bytes, sizes_of(&["a", "bb", "ccc", "dddd"]));
        state.take_waiting(&mut taken, &mut sizes);
        drop(state);
        assert_eq!(taken.len(), 4);
        assert_eq!(
            sizes,
            [1, 2, 3, 4].map(|len| estimate_bytes(&named(&"x".repeat(len))))
        );
        assert_eq!(sizes.iter().sum::<usize>(), shared.lock().held_bytes);

        fn sizes_of(names: &[&str]) -> usize {
            names.iter().map(|name| estimate_bytes(&named(name))).sum()
        }
    }

    #[test]
    fn a_closed_queue_refuses_everything() {
        let shared = Shared::new(limits(10, usize::MAX));
        shared.close();
        assert!(!push(&shared, SpanRecord::default()));
        assert_eq!(shared.lock().counters.snapshot().dropped, 1);
    }

    #[test]
    fn owned_text_counts_and_static_text_does_not() {
        let plain = estimate_bytes(&SpanRecord::default());
        let with_static = SpanRecord {
            name: "static".into(),
            ..SpanRecord::default()
        };
        assert_eq!(estimate_bytes(&with_static), plain);
        let with_owned = SpanRecord {
            tags: vec![("k".into(), TagValue::Str("v".repeat(100).into()))].into(),
            ..SpanRecord::default()
        };
        assert!(estimate_bytes(&with_owned) >= plain + 100);
    }
}
