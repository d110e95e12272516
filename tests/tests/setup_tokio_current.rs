//! `traced` installed from inside a tokio current-thread runtime: spans across `.await`s and
//! spawned tasks form one tree, and the guard dropped inside the runtime flushes without
//! panicking or deadlocking (the reporter owns its thread; nothing `block_on`s).

use std::time::Duration;

use traced_tests::{tree, Receiver};
use tracing::Instrument;

#[test]
fn init_and_drop_inside_a_current_thread_runtime() {
    let receiver = Receiver::start();
    let endpoint = receiver.endpoint();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let guard = traced::Builder::from_vars([
            ("OTEL_SERVICE_NAME", "setup-current"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ])
        .try_init()
        .unwrap();
        async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let tasks: Vec<_> = (0..3)
                .map(|task| {
                    tokio::spawn(
                        async move {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        .instrument(tracing::info_span!("task", task)),
                    )
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
        .instrument(tracing::info_span!("root"))
        .await;
        // Dropped on the runtime's thread, inside `block_on`.
        drop(guard);
    });
    let spans = receiver.wait_for_spans(4, Duration::from_secs(5));
    receiver.assert_no_violations();
    let trace = tree::assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("root"));
    assert_eq!(trace.children_of(trace.root()).len(), 3);
    assert!(trace.root().duration.unwrap() >= 2_000);
    assert_eq!(traced::stats().sent, 4);
}
