//! `examples/hello.rs` run as `OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=…
//! cargo run --example hello` runs it, against a real Jaeger v2, and the trace read back through
//! Jaeger's query API. One protocol per test binary: the example installs the process's global
//! subscriber from the environment, which a process does once.

use std::time::Duration;

use serde_json::Value;
use traced_tests::JaegerServer;

#[path = "../../../examples/hello.rs"]
mod hello;

const DEADLINE: Duration = Duration::from_secs(30);

/// Runs the example with `protocol` (`http/protobuf` or `http/json`) and checks what Jaeger
/// shows: one trace of nine spans under `checkout`, the service named as configured (case
/// kept), the failing `reserve` as an ERROR status with its message and an `exception` log,
/// typed attributes, and the `reserved` events as logs with their fields.
pub(crate) fn hello_in_jaeger(protocol: &str, service: &str) {
    let jaeger = JaegerServer::start();
    // This binary holds this one test, so nothing else reads the environment concurrently.
    std::env::set_var("OTEL_TRACES_EXPORTER", "otlp");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_http_endpoint());
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", protocol);
    std::env::set_var("OTEL_SERVICE_NAME", service);
    hello::main();
    let stats = traced::stats();
    assert_eq!((stats.sent, stats.dropped), (9, 0), "{stats:?}");

    assert_eq!(jaeger.services(), [service]);
    let traces = jaeger.search(&format!("service={service}"), 1, DEADLINE);
    assert_eq!(traces.len(), 1, "one trace");
    let trace = jaeger.wait_for_trace(traces[0]["traceID"].as_str().expect("an id"), 9, DEADLINE);
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 9, "{trace:#}");
    let named = |name: &str| -> Vec<&Value> {
        spans
            .iter()
            .filter(|span| span["operationName"] == name)
            .collect()
    };
    let roots: Vec<&Value> = spans
        .iter()
        .filter(|span| span["references"].as_array().is_none_or(Vec::is_empty))
        .collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["operationName"], "checkout");
    assert_eq!(named("reserve").len(), 3);
    assert_eq!(named("stock_level").len(), 3);
    assert_eq!(named("price").len(), 2);

    let tag = |span: &Value, key: &str| -> Option<(String, Value)> {
        span["tags"]
            .as_array()?
            .iter()
            .find(|tag| tag["key"] == key)
            .map(|tag| {
                (
                    tag["type"].as_str().unwrap_or_default().to_owned(),
                    tag["value"].clone(),
                )
            })
    };
    let failed: Vec<&Value> = named("reserve")
        .into_iter()
        .filter(|span| tag(span, "otel.status_code").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "{trace:#}");
    let failed = failed[0];
    assert_eq!(
        tag(failed, "otel.status_description"),
        Some(("string".to_owned(), "pears is out of stock".into()))
    );
    assert_eq!(tag(failed, "error"), Some(("bool".to_owned(), true.into())));
    assert_eq!(
        tag(failed, "item"),
        Some(("string".to_owned(), "pears".into()))
    );
    assert_eq!(tag(failed, "count"), Some(("int64".to_owned(), 2.into())));
    let log_fields = |span: &Value| -> Vec<Vec<(String, Value)>> {
        span["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|log| {
                log["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|field| {
                        (
                            field["key"].as_str().unwrap_or_default().to_owned(),
                            field["value"].clone(),
                        )
                    })
                    .collect()
            })
            .collect()
    };
    let exception = log_fields(failed);
    assert_eq!(exception.len(), 1, "{failed:#}");
    assert_eq!(exception[0][0], ("event".to_owned(), "exception".into()));
    assert!(exception[0].contains(&(
        "exception.message".to_owned(),
        "pears is out of stock".into()
    )));
    assert!(exception[0]
        .iter()
        .any(|(key, value)| key == "exception.type"
            && value
                .as_str()
                .is_some_and(|name| name.ends_with("OutOfStock"))));
    // The `reserved` events, with their typed fields.
    let reserved: Vec<Vec<(String, Value)>> = named("reserve")
        .into_iter()
        .flat_map(log_fields)
        .filter(|fields| fields.first() == Some(&("event".to_owned(), "reserved".into())))
        .collect();
    assert_eq!(reserved.len(), 2);
    for fields in reserved {
        assert!(
            fields
                .iter()
                .any(|(key, value)| key == "available" && value.is_u64()),
            "{fields:?}"
        );
    }
}
