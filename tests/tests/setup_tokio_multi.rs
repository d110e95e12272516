//! `traced` under `#[tokio::test(flavor = "multi_thread")]`: spans from tasks on every worker
//! reach the receiver, and the guard dropped inside the async test flushes them.

use std::time::Duration;

use traced_tests::{tree, Receiver};
use tracing::Instrument;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn init_and_drop_inside_a_multi_thread_runtime() {
    let receiver = Receiver::start();
    let guard = traced::Builder::from_vars([
        ("OTEL_SERVICE_NAME", "setup-multi"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        (
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            receiver.endpoint().as_str(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
    ])
    .try_init()
    .unwrap();
    let traces: Vec<_> = (0..8)
        .map(|trace| {
            tokio::spawn(
                async move {
                    let children: Vec<_> = (0..4)
                        .map(|child| {
                            tokio::spawn(
                                async move {
                                    tokio::task::yield_now().await;
                                    tokio::time::sleep(Duration::from_millis(1)).await;
                                }
                                .instrument(tracing::info_span!("child", child)),
                            )
                        })
                        .collect();
                    for child in children {
                        child.await.unwrap();
                    }
                }
                .instrument(tracing::info_span!("root", trace)),
            )
        })
        .collect();
    for trace in traces {
        trace.await.unwrap();
    }
    assert_eq!(receiver.spans().len(), 0);
    drop(guard);

    let spans = receiver.wait_for_spans(40, Duration::from_secs(5));
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 40);
    let traces = tree::by_trace(&spans);
    assert_eq!(traces.len(), 8);
    for spans in traces.values() {
        let trace = tree::assert_single_tree(spans);
        assert_eq!(trace.root().name.as_deref(), Some("root"));
        assert_eq!(trace.children_of(trace.root()).len(), 4);
        for span in spans {
            assert_eq!(span.service(), Some("setup-multi"));
        }
    }
    let stats = traced::stats();
    assert_eq!((stats.exported, stats.sent, stats.dropped), (40, 40, 0));
}
