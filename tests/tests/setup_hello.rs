//! `examples/hello.rs`, run as it is, reporting to a strict Zipkin receiver: every span accepted
//! without a violation, one tree, the failing call marked. The example's source is compiled into
//! this test, so the test runs the very code `cargo run --example hello` runs.

use std::time::Duration;

use traced_tests::{tree, Receiver};

#[path = "../../examples/hello.rs"]
mod hello;

#[test]
fn hello_reports_one_clean_trace_to_a_strict_receiver() {
    let receiver = Receiver::start();
    // This binary holds this one test, so nothing else reads the environment concurrently.
    std::env::set_var("OTEL_EXPORTER_ZIPKIN_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_SERVICE_NAME", "hello");
    hello::main();

    let spans = receiver.wait_for_spans(9, Duration::from_secs(5));
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 9, "{}", tree::render_spans(&spans));
    let trace = tree::assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("checkout"));
    let reserves = trace.find_all("reserve");
    assert_eq!(reserves.len(), 3);
    let failed: Vec<_> = reserves
        .iter()
        .filter(|span| span.tag("error").is_some())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].tag("error"), Some("pears is out of stock"));
    assert_eq!(failed[0].tag("item"), Some("pears"));
    assert_eq!(trace.find_all("stock_level").len(), 3);
    assert_eq!(trace.find_all("price").len(), 2);
    let reserved_events = spans
        .iter()
        .flat_map(|span| &span.annotations)
        .filter(|event| event.value.starts_with("reserved"))
        .count();
    assert_eq!(reserved_events, 2);
    for span in &spans {
        assert_eq!(span.service(), Some("hello"));
        assert!(span.duration.unwrap() >= 1);
    }
}
