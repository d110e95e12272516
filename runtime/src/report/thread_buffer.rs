//! Per-thread buffers in front of the reporter's queue, so that ending a span writes no lock or
//! cache line that another thread writes too.
//!
//! Every finished span used to take the queue's one lock. On one thread that costs little, but
//! with several threads ending spans the lock's cache line and the queue's tail move between
//! cores on every span (benches/RESULTS.md, thread table). Now a span goes into its own thread's
//! buffer, behind a lock that only that thread takes, except when the reporter collects what a
//! quiet thread left there; a thread hands its buffer to the queue in one lock every
//! [`THREAD_BUFFER_SPANS`] spans (or [`HAND_IN_BYTES`] estimated bytes), and the queue's bounds
//! and counters apply then, span by span in order: a batch is admitted up to its first span that
//! does not fit, and the rest of it is refused and counted.
//!
//! Nothing waits in a buffer unseen: the reporter collects every thread's buffer before it looks
//! at the queue (each time it wakes: full batch, schedule delay, flush, shutdown), and so do
//! `stats`, `flush` and `shutdown`, so their counts and outcomes are exact the moment they
//! return. A thread that exits hands in what its buffer holds. Memory stays bounded: besides the
//! queue's bound, each thread holds at most [`THREAD_BUFFER_SPANS`] spans and about
//! [`HAND_IN_BYTES`] bytes of them.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::SpanRecord;

use super::queue::{estimate_bytes, Batch, Shared};

/// Spans a thread keeps in its own buffer before they join a reporter's queue, in one lock
/// (fewer when a batch is smaller, so a full batch is never held back). Larger buffers cut the
/// queue's lock traffic further but keep more spans from the reporter between its wake-ups; at
/// 64 the lock is taken once per 64 spans, against once per span before. Besides the queue's
/// bounds, each thread ending spans holds at most this many.
///
/// ```
/// assert_eq!(traced::report::THREAD_BUFFER_SPANS, 64);
/// ```
pub const THREAD_BUFFER_SPANS: usize = 64;

/// Estimated bytes a thread keeps before handing them in (a span with large owned strings goes
/// at once).
pub(crate) const HAND_IN_BYTES: usize = 64 << 10;

/// One thread's buffer for one reporter. The thread locks it for every span it ends; other
/// threads only to collect it.
#[derive(Default)]
struct ThreadBuffer {
    batch: Mutex<Batch>,
}

impl ThreadBuffer {
    fn lock(&self) -> MutexGuard<'_, Batch> {
        // Nothing that can panic runs under this lock but an allocation; counting on is better
        // than taking the instrumented program down.
        self.batch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A reporter's queue with the per-thread buffers in front of it.
pub(crate) struct ThreadBuffers {
    shared: Arc<Shared>,
    /// Every thread's buffer, for collecting them.
    list: Mutex<Vec<Arc<ThreadBuffer>>>,
    /// Set when shutdown begins: spans then go to the queue directly.
    closing: AtomicBool,
    /// `THREAD_BUFFER_SPANS`, or the batch size when smaller.
    hand_in_spans: usize,
}

impl ThreadBuffers {
    pub(crate) fn new(shared: Arc<Shared>) -> ThreadBuffers {
        let hand_in_spans = THREAD_BUFFER_SPANS.min(shared.limits.batch_spans);
        ThreadBuffers {
            shared,
            list: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            hand_in_spans,
        }
    }

    fn list(&self) -> MutexGuard<'_, Vec<Arc<ThreadBuffer>>> {
        self.list
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts `span` into this thread's buffer, handing the buffer in when it is full. When the
    /// buffer cannot be used (shutdown has begun, or this thread is exiting), the span goes to
    /// the queue directly, which counts it whatever happens to it.
    pub(crate) fn push(self: &Arc<Self>, span: SpanRecord) {
        let size = estimate_bytes(&span);
        let buffer = if self.closing.load(Ordering::Acquire) {
            None
        } else {
            MINE.try_with(|mine| {
                let mut mine = mine.try_borrow_mut().ok()?;
                Some(std::ptr::from_ref(mine.buffer_for(self)))
            })
            .ok()
            .flatten()
        };
        let Some(buffer) = buffer else {
            self.shared.push_one(span, size);
            return;
        };
        // A pointer out of the thread-local rather than the work done inside its closure: the
        // record would have to be moved or copied there under a guard, and every move of a
        // record is a 336-byte copy (callgrind, `report profile traced_http`: memcpy 2 or 3
        // times per span those ways, once this way); cloning the `Arc` would cost two atomic
        // operations per span.
        //
        // SAFETY: `buffer` points into the `Arc<ThreadBuffer>` that this thread's `MINE`
        // entry for `self` holds. Only this thread removes its entries: in `buffer_for`, not
        // called again below, or when its thread-locals are destroyed, which does not happen
        // while it runs this function (were `MINE` gone, `try_with` would have failed).
        let buffer = unsafe { &*buffer };
        let mut batch = buffer.lock();
        // Read again under the buffer's lock: shutdown sets it before it collects the buffers,
        // so a span added after that collection sees it and is not left behind.
        if self.closing.load(Ordering::Acquire) {
            drop(batch);
            self.shared.push_one(span, size);
            return;
        }
        batch.spans.reserve(1);
        batch.sizes.reserve(1);
        let len = batch.spans.len();
        // Copied by hand: `Vec::push(span)` copied the record twice (callgrind, as above).
        // SAFETY: `reserve` made room for slot `len`, which holds no value; the record is
        // copied into it bit for bit, the vector takes it over with `set_len`, and `span` is
        // forgotten at once, still under the buffer's lock, so no one else can have seen or
        // dropped the copy yet and the record has one owner. Nothing in between can unwind.
        unsafe {
            std::ptr::copy_nonoverlapping(&span, batch.spans.as_mut_ptr().add(len), 1);
            batch.spans.set_len(len + 1);
        }
        std::mem::forget(span);
        batch.sizes.push(size);
        batch.bytes += size;
        if batch.spans.len() >= self.hand_in_spans || batch.bytes >= HAND_IN_BYTES {
            self.shared.hand_in(&mut batch);
        }
    }

    /// Hands every thread's buffer to the queue, and forgets the buffers of threads that have
    /// exited.
    pub(crate) fn collect(&self) {
        let mut list = self.list();
        for buffer in list.iter() {
            self.shared.hand_in(&mut buffer.lock());
        }
        // Only the list holds it: its thread has exited, or forgot this reporter, and handed
        // in what it held on its way out.
        list.retain(|buffer| Arc::strong_count(buffer) > 1);
    }

    /// Begins shutdown: threads stop buffering, what they buffered is queued, and then the
    /// queue closes (every later span is refused and counted).
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.collect();
        self.shared.close();
    }
}

/// This thread's buffers, one per reporter it has ended spans for.
struct Mine {
    entries: Vec<Entry>,
}

struct Entry {
    buffers: Arc<ThreadBuffers>,
    buffer: Arc<ThreadBuffer>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // The thread is exiting, or forgets a reporter that is shutting down: what the buffer
        // still holds goes to the queue now (a collection may have raced ahead of the last
        // span put in it), and the queue counts it whatever happens to it.
        self.buffers.shared.hand_in(&mut self.buffer.lock());
    }
}

thread_local! {
    static MINE: RefCell<Mine> = const { RefCell::new(Mine { entries: Vec::new() }) };
}

impl Mine {
    /// This thread's buffer for `buffers`, registered with it when first asked for.
    fn buffer_for(&mut self, buffers: &Arc<ThreadBuffers>) -> &ThreadBuffer {
        // One reporter is the common case: the first entry.
        let found = self
            .entries
            .iter()
            .position(|entry| Arc::ptr_eq(&entry.buffers, buffers));
        let index = match found {
            Some(index) => index,
            None => {
                // Reporters shutting down since this thread last used them need no buffer any
                // more (dropping the entry hands in what it holds).
                self.entries
                    .retain(|entry| !entry.buffers.closing.load(Ordering::Acquire));
                let buffer = Arc::new(ThreadBuffer::default());
                buffers.list().push(Arc::clone(&buffer));
                self.entries.push(Entry {
                    buffers: Arc::clone(buffers),
                    buffer,
                });
                self.entries.len() - 1
            }
        };
        &self.entries[index].buffer
    }
}

#[cfg(test)]
mod tests {
    use super::super::queue::Limits;
    use super::*;

    fn buffers(max_spans: usize, batch_spans: usize) -> Arc<ThreadBuffers> {
        Arc::new(ThreadBuffers::new(Arc::new(Shared::new(Limits {
            max_spans,
            max_bytes: usize::MAX,
            batch_spans,
            batch_bytes: usize::MAX,
        }))))
    }

    #[test]
    fn spans_wait_in_the_thread_buffer_and_are_collected() {
        let buffers = buffers(1000, 512);
        for _ in 0..10 {
            buffers.push(SpanRecord::default());
        }
        assert_eq!(buffers.shared.lock().waiting(), 0, "under the hand-in size");
        buffers.collect();
        let state = buffers.shared.lock();
        assert_eq!(state.waiting(), 10);
        assert_eq!(state.counters.snapshot().exported, 10);
    }

    #[test]
    fn a_full_buffer_is_handed_in_at_once() {
        let buffers = buffers(1000, 512);
        for _ in 0..THREAD_BUFFER_SPANS {
            buffers.push(SpanRecord::default());
        }
        assert_eq!(buffers.shared.lock().waiting(), THREAD_BUFFER_SPANS);
        // A small batch size hands in sooner, so a full batch is never held back.
        let small = self::buffers(1000, 4);
        for _ in 0..4 {
            small.push(SpanRecord::default());
        }
        assert_eq!(small.shared.lock().waiting(), 4);
    }

    #[test]
    fn the_bound_applies_at_hand_in_and_every_span_is_counted() {
        let buffers = buffers(3, 512);
        for _ in 0..5 {
            buffers.push(SpanRecord::default());
        }
        buffers.collect();
        let stats = buffers.shared.lock().counters.snapshot();
        assert_eq!((stats.exported, stats.queued, stats.dropped), (5, 3, 2));
        assert!(stats.is_balanced());
    }

    #[test]
    fn an_exiting_thread_hands_in_and_its_buffer_is_forgotten() {
        let buffers = buffers(1000, 512);
        let for_thread = Arc::clone(&buffers);
        std::thread::spawn(move || {
            for _ in 0..7 {
                for_thread.push(SpanRecord::default());
            }
        })
        .join()
        .unwrap();
        assert_eq!(buffers.shared.lock().waiting(), 7, "handed in on exit");
        assert_eq!(buffers.list().len(), 1);
        buffers.collect();
        assert_eq!(buffers.list().len(), 0);
    }

    #[test]
    fn after_shutdown_closed_spans_are_refused_and_counted_at_once() {
        let buffers = buffers(1000, 512);
        buffers.push(SpanRecord::default());
        buffers.close();
        buffers.push(SpanRecord::default());
        let stats = buffers.shared.lock().counters.snapshot();
        assert_eq!(
            (stats.exported, stats.queued, stats.dropped),
            (2, 1, 1),
            "buffered before shutdown: queued; after: refused"
        );
    }

    #[test]
    fn forgetting_a_reporter_that_is_shutting_down_hands_in_what_its_buffer_holds() {
        let first = buffers(1000, 512);
        let second = buffers(1000, 512);
        first.push(SpanRecord::default());
        // Shutdown has begun and not collected this thread's buffer yet.
        first.closing.store(true, Ordering::Release);
        // A new reporter: this thread forgets its entry for the first one, and hands in what
        // it held then, not at a later collection (which may have run already: its list then
        // forgets the buffer without looking into it again).
        second.push(SpanRecord::default());
        let stats = first.shared.lock().counters.snapshot();
        assert_eq!((stats.exported, stats.queued), (1, 1));
        first.collect();
        assert_eq!(first.list().len(), 0);
    }

    #[test]
    fn a_shutdown_while_threads_push_counts_every_span_once() {
        use std::sync::atomic::AtomicU64;
        use std::sync::Barrier;
        for _ in 0..20 {
            let buffers = buffers(usize::MAX, 512);
            let pushed = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            // Stopped, then released: the threads stay alive (their buffers with them) while
            // the counts are read, so nothing is handed in by a thread exiting.
            let barrier = Arc::new(Barrier::new(5));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (buffers, pushed, stop, barrier) = (
                        Arc::clone(&buffers),
                        Arc::clone(&pushed),
                        Arc::clone(&stop),
                        Arc::clone(&barrier),
                    );
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            buffers.push(SpanRecord::default());
                            pushed.fetch_add(1, Ordering::Relaxed);
                        }
                        barrier.wait();
                        barrier.wait();
                    })
                })
                .collect();
            while pushed.load(Ordering::Relaxed) < 1000 {
                std::thread::yield_now();
            }
            buffers.close();
            // Spans keep ending after shutdown began; they are refused, and counted.
            let at_close = pushed.load(Ordering::Relaxed);
            while pushed.load(Ordering::Relaxed) < at_close + 1000 {
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
            barrier.wait();
            let stats = buffers.shared.lock().counters.snapshot();
            let pushed = pushed.load(Ordering::Relaxed);
            assert_eq!(stats.exported, pushed, "a span stayed behind in a buffer");
            assert_eq!(stats.queued + stats.dropped, pushed);
            assert!(stats.dropped >= 1000, "spans after the close are refused");
            barrier.wait();
            for thread in threads {
                thread.join().unwrap();
            }
        }
    }

    #[test]
    fn many_threads_lose_nothing() {
        let buffers = buffers(usize::MAX, 512);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let buffers = Arc::clone(&buffers);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        buffers.push(SpanRecord::default());
                    }
                })
            })
            .collect();
        for _ in 0..50 {
            buffers.collect();
        }
        for thread in threads {
            thread.join().unwrap();
        }
        buffers.collect();
        let stats = buffers.shared.lock().counters.snapshot();
        assert_eq!((stats.exported, stats.queued), (4000, 4000));
        assert_eq!(buffers.shared.lock().waiting(), 4000);
    }
}
