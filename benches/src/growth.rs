//! Cost as work grows: the calling thread's time per span in traces of 1, 10, 100 and 1000 spans
//! whose spans carry 0, 2, 8 or 30 typed tags (`u64` arguments), through Registry + `TracedLayer`
//! with its fast path (as `traced::init` sets it up) and an exporter that counts and drops: the
//! cost on the instrumented thread alone, so a user can predict what tracing costs a service from
//! the shape of its traces. (What the reporter's thread then costs per span is the export table;
//! flat out, a full queue would turn many of these spans into cheaper counted drops and flatter
//! the numbers, which a counting exporter avoids.)
//!
//! A trace is a `#[traced]` root with `n - 1` `#[traced]` children, every span with the same
//! number of tags; the time of a whole trace is divided by its spans. Each cell runs a warm-up,
//! then rounds of about 100 ms; the table shows the median round and the fastest (the least
//! disturbed by other work on the machine).

use std::hint::black_box;
use std::time::{Duration, Instant};

use tracing::Dispatch;

/// The trace sizes of the table's rows.
pub const SPANS_PER_TRACE: [u64; 4] = [1, 10, 100, 1000];
/// The tag counts of the table's columns.
///
/// 30, not 32: a `tracing` callsite holds at most 32 fields and a `#[traced]` span keeps two of
/// them for itself (the macro says so at compile time), so 30 arguments is the most a span of
/// one function records.
pub const TAGS: [usize; 4] = [0, 2, 8, 30];

/// Defines a child span function with the given `u64` arguments (its tags) and a root that
/// calls it `children` times; `children` itself is skipped, so root and child carry the same tags.
macro_rules! span_fns {
    ($root:ident, $child:ident $(, $arg:ident)*) => {
        #[traced::traced]
        #[allow(clippy::too_many_arguments)]
        fn $child($($arg: u64),*) -> u64 {
            0 $(+ $arg)*
        }

        #[traced::traced(skip(children))]
        #[allow(clippy::too_many_arguments)]
        fn $root(children: u64 $(, $arg: u64)*) -> u64 {
            let mut sum = 0 $(+ $arg)*;
            for _ in 0..children {
                sum += $child($(black_box($arg)),*);
            }
            sum
        }
    };
}

span_fns!(root0, child0);
span_fns!(root2, child2, a, b);
span_fns!(root8, child8, a, b, c, d, e, f, g, h);
span_fns!(
    root30, child30, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16,
    a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29
);

/// One trace of `spans` spans with `tags` tags each.
fn trace(spans: u64, tags: usize) -> u64 {
    let children = black_box(spans - 1);
    let v = black_box(7u64);
    match tags {
        0 => root0(children),
        2 => root2(children, v, v),
        8 => root8(children, v, v, v, v, v, v, v, v),
        _ => root30(
            children, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v,
            v, v, v, v,
        ),
    }
}

/// One cell of the table: ns per span, as (median round, fastest round).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Spans per trace.
    pub spans: u64,
    /// Tags per span.
    pub tags: usize,
    /// The median round's ns per span.
    pub median_ns: f64,
    /// The fastest round's ns per span.
    pub fastest_ns: f64,
}

/// Times every cell of the table under `dispatch`.
pub fn measure(dispatch: &Dispatch) -> Vec<Cell> {
    tracing::dispatcher::with_default(dispatch, || {
        let mut cells = Vec::new();
        for spans in SPANS_PER_TRACE {
            for tags in TAGS {
                cells.push(measure_cell(spans, tags));
            }
        }
        cells
    })
}

fn measure_cell(spans: u64, tags: usize) -> Cell {
    const ROUNDS: usize = 9;
    const ROUND: Duration = Duration::from_millis(100);
    // Traces per round, sized from a warm-up so each round takes about ROUND.
    let warm = Instant::now();
    let mut traces = 0u64;
    while warm.elapsed() < ROUND {
        black_box(trace(spans, tags));
        traces += 1;
    }
    let mut per_span: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..traces {
                black_box(trace(spans, tags));
            }
            started.elapsed().as_nanos() as f64 / (traces * spans) as f64
        })
        .collect();
    per_span.sort_by(f64::total_cmp);
    Cell {
        spans,
        tags,
        median_ns: per_span[ROUNDS / 2],
        fastest_ns: per_span[0],
    }
}
