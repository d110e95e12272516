//! Jaeger propagation between two of our services, as a real Jaeger shows it: `front` calls
//! `back` through the reqwest integration with only the `uber-trace-id` header, `back`'s
//! `ServerLayer` continues it, both report over Zipkin JSON to Jaeger v2's Zipkin receiver, and
//! Jaeger's query API shows one trace across both services with `back`'s server span CHILD_OF
//! `front`'s client span.
//!
//! Jaeger is built from the Go module proxy and started by `traced_tests::JaegerServer`, as in
//! `live_jaeger_zipkin.rs`.

mod live_support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use live_support::{serve, Reporting, Sink};
use serde_json::{json, Value};
use traced::http::{ClientTrace, SendTraced, ServerLayer};
use traced::propagation::{Format, Propagator};
use traced_tests::JaegerServer;

const DEADLINE: Duration = Duration::from_secs(30);

/// `back`: answers the propagation headers it received, as `uber-trace-id|b3|traceparent`.
async fn headers_seen(headers: HeaderMap) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    format!(
        "{}|{}|{}",
        value("uber-trace-id"),
        value("b3"),
        value("traceparent")
    )
}

/// `front`: calls `back` with the Jaeger propagator and answers what `back` answered.
async fn call_back(State(back): State<SocketAddr>) -> String {
    let trace = ClientTrace::new()
        .peer_service("back")
        .propagator(Propagator::new(Format::ALL, [Format::Jaeger]));
    let response = reqwest::Client::new()
        .get(format!("http://{back}/seen"))
        .send_traced_with(&trace)
        .await
        .expect("back answers");
    response.text().await.expect("a body")
}

fn describe(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The one span of `trace` with this operation name in this service.
fn the<'a>(trace: &'a Value, operation: &str, in_service: &str) -> &'a Value {
    let service = |span: &Value| {
        let process = span["processID"].as_str().unwrap_or_default();
        trace["processes"][process]["serviceName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let matching: Vec<&Value> = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|span| span["operationName"] == operation && service(span) == in_service)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one {operation:?} span in {in_service}: {}",
        describe(trace)
    );
    matching[0]
}

#[test]
fn two_services_propagating_jaeger_make_one_trace_in_jaeger() {
    let jaeger = JaegerServer::start();
    let reporting = Reporting::start(&[Sink::json(jaeger.zipkin_endpoint())]);
    let seen = reporting.block_on(async {
        let back = serve(
            Router::new()
                .route("/seen", get(headers_seen))
                .layer(ServerLayer::new().service_name("back")),
        )
        .await;
        let front = serve(
            Router::new()
                .route("/call", get(call_back))
                .with_state(back)
                .layer(ServerLayer::new().service_name("front")),
        )
        .await;
        let response = reqwest::Client::new()
            .get(format!("http://{front}/call"))
            .send()
            .await
            .expect("front answers");
        assert_eq!(response.status(), 200);
        response.text().await.expect("a body")
    });
    let sent = reporting.finish();
    assert_eq!(
        sent,
        [3],
        "front's server and client spans, back's server span"
    );

    // What went over the wire between the two: Jaeger's header only.
    let fields: Vec<&str> = seen.split('|').collect();
    assert_eq!(fields.len(), 3, "{seen}");
    assert_eq!(fields[1..], ["", ""], "no B3 or W3C header: {seen}");
    let sent_context: Vec<&str> = fields[0].split(':').collect();
    assert_eq!(sent_context.len(), 4, "uber-trace-id: {}", fields[0]);
    assert_eq!(sent_context[2..], ["0", "1"], "parent 0, sampled");

    // Jaeger: one trace, found from either service, holding both.
    let traces = jaeger.search("service=back", 1, DEADLINE);
    assert_eq!(traces.len(), 1, "{}", describe(&json!(traces)));
    let trace_id = traces[0]["traceID"].as_str().expect("a trace id");
    assert_eq!(trace_id, sent_context[0], "the trace id sent is Jaeger's");
    let from_front = jaeger.search("service=front", 1, DEADLINE);
    assert_eq!(from_front.len(), 1);
    assert_eq!(from_front[0]["traceID"], trace_id, "one trace, not two");
    let trace = jaeger.wait_for_trace(trace_id, 3, DEADLINE);

    let root = the(&trace, "get /call", "front");
    let call = the(&trace, "get", "front");
    let server = the(&trace, "get /seen", "back");
    assert_eq!(
        call["spanID"], sent_context[1],
        "the client span's id is sent"
    );
    assert_eq!(
        root["references"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        describe(root)
    );
    for (child, parent) in [(call, root), (server, call)] {
        assert_eq!(
            child["references"],
            json!([{
                "refType": "CHILD_OF",
                "traceID": trace_id,
                "spanID": parent["spanID"],
            }]),
            "{} under {}: {}",
            child["operationName"],
            parent["operationName"],
            describe(&trace)
        );
    }
}
