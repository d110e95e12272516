//! The reporter's own work never becomes spans or events of the program it traces, even with a
//! global subscriber installed and a collector that makes it retry and warn.

mod report_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use report_support::{config, make_traces};
use traced::export::Exporter;
use traced::report::ZipkinReporter;
use traced::TracedLayer;
use traced_tests::{Fault, Receiver};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Records the thread of every span and event the global subscriber sees.
#[derive(Clone, Default)]
struct Threads(Arc<Mutex<Vec<String>>>);

impl Threads {
    fn note(&self) {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        self.0.lock().unwrap().push(name);
    }
}

impl<S: Subscriber> Layer<S> for Threads {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.note();
    }

    fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
        self.note();
    }
}

#[test]
fn the_reporter_thread_never_emits_spans_or_events() {
    let receiver = Receiver::start_with(Fault::FailFirst {
        requests: 2,
        status: 503,
    });
    let reporter = ZipkinReporter::start(config(&receiver.endpoint())).unwrap();
    let threads = Threads::default();
    let subscriber = tracing_subscriber::registry()
        .with(TracedLayer::new(reporter.clone()))
        .with(threads.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let created = make_traces(&tracing::dispatcher::get_default(Clone::clone), 3, 2);
    assert_eq!(reporter.flush(Duration::from_secs(20)).unsent, 0);
    assert!(
        reporter.stats().retries >= 1,
        "the collector's 503s made it retry"
    );

    let seen = threads.0.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|name| name != "traced-reporter"),
        "the reporter's thread emitted: {seen:?}"
    );
    // Only the program's own spans reached the collector.
    let spans = receiver.wait_for_spans(created as usize, Duration::from_secs(20));
    assert_eq!(spans.len() as u64, created);
    assert_eq!(reporter.stats().exported, created);
    receiver.assert_no_violations();
}
