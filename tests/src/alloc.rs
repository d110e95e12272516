//! Counting the heap allocations one thread makes: the one counting allocator of the workspace,
//! used by the allocation tests (`tests/tests/alloc_spans.rs`) and by the benchmark report's
//! allocations-per-span table (`benches/src/bin/report.rs`).
//!
//! A binary opts in by making it its global allocator; then [`allocations_in`] counts what the
//! calling thread allocates while it runs a closure:
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: traced_tests::alloc::CountingAlloc = traced_tests::alloc::CountingAlloc;
//!
//! fn main() {
//!     let counted = traced_tests::alloc::allocations_in(|| {
//!         std::hint::black_box(Vec::<u8>::with_capacity(8));
//!     });
//!     assert_eq!((counted.count, counted.bytes), (1, 8));
//! }
//! ```
//!
//! While no thread counts, an allocation costs one relaxed atomic load more than the system
//! allocator's, so benchmarks in the same binary are not disturbed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A global allocator that forwards to the system allocator and counts for [`allocations_in`].
pub struct CountingAlloc;

/// What a thread allocated: the number of allocations (a `realloc` counts as one) and their
/// bytes (the new size of a `realloc`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocations {
    /// Allocations made (`alloc`, `alloc_zeroed`, `realloc`).
    pub count: u64,
    /// Bytes asked for by those allocations.
    pub bytes: u64,
}

/// How many threads are counting now.
static COUNTING_THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor, so reading them never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNTED: Cell<Allocations> = const { Cell::new(Allocations { count: 0, bytes: 0 }) };
}

fn note_allocation(size: usize) {
    if COUNTING_THREADS.load(Ordering::Relaxed) == 0 {
        return;
    }
    // `try_with`: allocations during thread teardown must not panic.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = COUNTED.try_with(|counted| {
                let Allocations { count, bytes } = counted.get();
                counted.set(Allocations {
                    count: count + 1,
                    bytes: bytes + size as u64,
                });
            });
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only touches an
// atomic and const-initialised thread-locals, none of which allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: as for `alloc`; `ptr` and `layout` come from our caller unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What this thread allocates while running `body`; zero unless the binary's global allocator
/// is [`CountingAlloc`].
pub fn allocations_in(body: impl FnOnce()) -> Allocations {
    let before = COUNTED.with(Cell::get);
    COUNTING_THREADS.fetch_add(1, Ordering::Relaxed);
    COUNTING.with(|counting| counting.set(true));
    body();
    COUNTING.with(|counting| counting.set(false));
    COUNTING_THREADS.fetch_sub(1, Ordering::Relaxed);
    let after = COUNTED.with(Cell::get);
    Allocations {
        count: after.count - before.count,
        bytes: after.bytes - before.bytes,
    }
}
