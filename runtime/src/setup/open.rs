//! Spans still open when tracing shuts down: reported unfinished, marked and counted.
//!
//! Nothing is kept per span for this (no registry of open spans, no shared counter): the per-span
//! path stays free of shared writes and locks. So a shutdown reports the open spans it can reach
//! from the thread that shuts down:
//!
//! - this thread's `#[traced]` frames (sync calls under way, and the future being polled): they
//!   live in this thread's frame stack;
//! - the tracing span current on this thread and its ancestors, through the subscriber's
//!   registry (a registry finds a span by id, and the current span's id is this thread's).
//!
//! Each is exported at once, with the shutdown as its end, tag `open_at_shutdown=true` and an
//! annotation `open at shutdown`, before the exporters are flushed, and is then left unsampled
//! so its real end later reports nothing twice. Not reachable: frames and spans open on other
//! threads (their stacks are unsynchronised thread-locals, and the registry cannot be listed)
//! and futures parked in an executor. Those are counted instead (`open_spans.rs` keeps per-thread
//! counts of started and ended spans, no shared write per span) and the count is reported. A
//! future that an executor drops after the shutdown is reported as cancelled to an exporter that
//! no longer sends, which counts it as dropped.

use crate::clock::Timestamp;
use crate::export::Exporter;
use crate::layer::TracedLayer;
use crate::model::Sampling;
use crate::state::SpanState;

/// Reports the open spans of the layer `core_id` this thread can reach to `exporter`; returns
/// how many.
pub(super) fn report_open(core_id: u64, exporter: &dyn Exporter) -> u64 {
    let end = Timestamp::now();
    let mut count = crate::frame::take_open(
        core_id,
        end,
        SpanState::mark_open_at_shutdown,
        &mut |record| {
            exporter.export(record);
            crate::open_spans::ended(core_id);
        },
    );
    let mut records = Vec::new();
    tracing_core::dispatcher::get_default(|dispatch| {
        let ours = dispatch
            .downcast_ref::<TracedLayer>()
            .is_some_and(|layer| layer.core_id() == core_id);
        let current = dispatch.current_span();
        let (true, Some(id)) = (ours, current.id()) else {
            return;
        };
        crate::lookup::edit_states(dispatch, id, crate::lookup::States::Scope, &mut |state| {
            // A frame's twin is not a span while its frame is open: the frame was reported
            // above. (A twin that took over a finished frame is no longer marked as one.)
            if state.context.sampling.is_sampled() && !state.is_twin() {
                state.mark_open_at_shutdown();
                records.push(state.take_record(end));
                state.context.sampling = Sampling::Deny;
            }
        });
    });
    // Exported once the registry is no longer borrowed.
    for record in records {
        exporter.export(record);
        crate::open_spans::ended(core_id);
        count += 1;
    }
    count
}

/// Sampled spans of the layer `core_id` still open and out of this thread's reach (on other
/// threads, in parked futures): counted, see `open_spans.rs`.
pub(super) fn count_unreachable(core_id: u64) -> u64 {
    crate::open_spans::open(core_id)
}
