//! Jaeger's OTLP/HTTP receiver, the peer of #15's OTLP exporter, takes a hand-written OTLP/JSON
//! request at `{otlp_http_endpoint}/v1/traces` and Jaeger's query API shows what OTLP keeps and
//! Zipkin cannot: names and service names in their original case, typed attributes, the status
//! with its message, events with their attributes, and the parent as a CHILD_OF reference.
//!
//! Nothing of traced is under test here: this proves the test support's OTLP endpoint is live
//! and pins what Jaeger shows for each OTLP field, so the exporter's tests can compare with it.

use std::time::Duration;

use serde_json::{json, Value};
use traced_tests::JaegerServer;

const DEADLINE: Duration = Duration::from_secs(30);
const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
const ROOT_ID: &str = "eee19b7ec3c1b174";
const CHILD_ID: &str = "f1e2d3c4b5a69788";

fn nanos_ago(seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch");
    (now.as_nanos() - u128::from(seconds) * 1_000_000_000).to_string()
}

/// One trace in OTLP/JSON: a SERVER root and a CLIENT child that failed after a retry.
fn request() -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "Checkout-Svc"}},
        ]},
        "scopeSpans": [{
            "scope": {"name": "traced", "version": "0.1.0"},
            "spans": [
                {
                    "traceId": TRACE_ID,
                    "spanId": ROOT_ID,
                    "name": "POST /Checkout",
                    "kind": 2,
                    "startTimeUnixNano": nanos_ago(2),
                    "endTimeUnixNano": nanos_ago(1),
                    "attributes": [
                        {"key": "http.route", "value": {"stringValue": "/Checkout"}},
                    ],
                },
                {
                    "traceId": TRACE_ID,
                    "spanId": CHILD_ID,
                    "parentSpanId": ROOT_ID,
                    "name": "chargeCard",
                    "kind": 3,
                    "startTimeUnixNano": nanos_ago(2),
                    "endTimeUnixNano": nanos_ago(1),
                    "attributes": [
                        {"key": "items", "value": {"intValue": "3"}},
                        {"key": "express", "value": {"boolValue": true}},
                        {"key": "price", "value": {"doubleValue": 4.5}},
                    ],
                    "events": [{
                        "name": "retry",
                        "timeUnixNano": nanos_ago(1),
                        "attributes": [{"key": "attempt", "value": {"intValue": "2"}}],
                    }],
                    "status": {"code": 2, "message": "payment declined"},
                },
            ],
        }],
    }]})
}

/// `(key, type, value)` of every tag or log field, in Jaeger's order.
fn fields(list: &Value) -> Vec<(String, String, Value)> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|tag| {
            (
                tag["key"].as_str().unwrap_or_default().to_owned(),
                tag["type"].as_str().unwrap_or_default().to_owned(),
                tag["value"].clone(),
            )
        })
        .collect()
}

fn field(key: &str, kind: &str, value: Value) -> (String, String, Value) {
    (key.to_owned(), kind.to_owned(), value)
}

#[test]
fn jaeger_shows_an_otlp_trace_with_case_types_status_and_events() {
    let jaeger = JaegerServer::start();
    let mut response = ureq::post(&format!("{}/v1/traces", jaeger.otlp_http_endpoint()))
        .header("content-type", "application/json")
        .send(request().to_string())
        .unwrap_or_else(|error| panic!("the OTLP POST: {error}\n{}", jaeger.log_tail()));
    assert_eq!(response.status().as_u16(), 200);
    let answer = response.body_mut().read_to_string().expect("a body");
    // A full success: an empty `partialSuccess`, no rejected spans.
    assert_eq!(
        serde_json::from_str::<Value>(&answer).expect("JSON"),
        json!({"partialSuccess": {}})
    );

    let trace = jaeger.wait_for_trace(TRACE_ID, 2, DEADLINE);
    assert_eq!(jaeger.services(), ["Checkout-Svc"]);
    let spans = trace["spans"].as_array().expect("spans");
    let span = |id: &str| {
        spans
            .iter()
            .find(|span| span["spanID"] == id)
            .unwrap_or_else(|| panic!("span {id} in {trace:#}"))
    };
    let (root, child) = (span(ROOT_ID), span(CHILD_ID));
    assert_eq!(trace["traceID"], TRACE_ID);
    assert_eq!(root["operationName"], "POST /Checkout");
    assert_eq!(child["operationName"], "chargeCard");
    assert_eq!(
        trace["processes"][root["processID"].as_str().expect("a process")]["serviceName"],
        "Checkout-Svc"
    );
    assert_eq!(root["references"], json!([]));
    assert_eq!(
        child["references"],
        json!([{"refType": "CHILD_OF", "traceID": TRACE_ID, "spanID": ROOT_ID}])
    );

    // The scope as `otel.scope.*` tags, typed attributes, the kind, the status and its message.
    assert_eq!(
        fields(&root["tags"]),
        [
            field("http.route", "string", json!("/Checkout")),
            field("otel.scope.name", "string", json!("traced")),
            field("otel.scope.version", "string", json!("0.1.0")),
            field("span.kind", "string", json!("server")),
        ]
    );
    assert_eq!(
        fields(&child["tags"]),
        [
            field("error", "bool", json!(true)),
            field("express", "bool", json!(true)),
            field("items", "int64", json!(3)),
            field("otel.scope.name", "string", json!("traced")),
            field("otel.scope.version", "string", json!("0.1.0")),
            field("otel.status_code", "string", json!("ERROR")),
            field(
                "otel.status_description",
                "string",
                json!("payment declined")
            ),
            field("price", "float64", json!(4.5)),
            field("span.kind", "string", json!("client")),
        ]
    );
    // The event as a log: its name as the `event` field, then its attributes.
    let logs = child["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "{trace:#}");
    assert_eq!(
        fields(&logs[0]["fields"]),
        [
            field("event", "string", json!("retry")),
            field("attempt", "int64", json!(2)),
        ]
    );
}
