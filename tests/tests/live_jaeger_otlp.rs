//! Jaeger's OTLP/HTTP receiver, the peer of #15's OTLP exporter, takes a hand-written OTLP/JSON
//! request at `{otlp_http_endpoint}/v1/traces` and Jaeger's query API shows what OTLP keeps and
//! Zipkin cannot: names and service names in their original case, typed attributes, the status
//! with its message, events with their attributes, and the parent as a CHILD_OF reference.
//!
//! The first test pins what Jaeger shows for each OTLP field from a hand-written request; the
//! others send the shop's scenario through traced's own OTLP exporter, in protobuf and in JSON,
//! to the same kind of Jaeger (and to the strict receiver, which decodes every request with the
//! official OTLP types), and read it back through Jaeger's query API.

use std::time::Duration;

use serde_json::{json, Value};
use traced_tests::{assert_children_of, jaeger_span, JaegerServer};

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

mod live_support;

/// The shop's scenario sent by traced's OTLP exporter (`encoding`) to a real Jaeger, and the
/// strict receiver; Jaeger's query API read back as its UI reads it.
fn shop_over_otlp(encoding: traced::encode::Encoding) -> (JaegerServer, u64) {
    let jaeger = JaegerServer::start();
    let sent = live_support::play_shop_in(
        encoding,
        format!("{}/v1/traces", jaeger.otlp_http_endpoint()),
    );
    (jaeger, sent)
}

fn tag_of(span: &Value, key: &str) -> (String, Value) {
    let found: Vec<(String, String, Value)> = fields(&span["tags"])
        .into_iter()
        .filter(|(name, _, _)| name == key)
        .collect();
    assert_eq!(found.len(), 1, "one {key:?} tag: {span:#}");
    (found[0].1.clone(), found[0].2.clone())
}

/// What Jaeger shows of the shop sent over OTLP: every span stored, both services, the
/// `GET /available` trace in its original case with parents, kinds, typed attributes, the
/// scope and the tags made from the scenario's baggage, and the failing fills as ERROR statuses
/// with their messages.
fn check_shop_in_jaeger(jaeger: &JaegerServer, sent: u64) {
    assert_eq!(jaeger.services(), ["catalog", "inventory"]);
    let all: std::collections::BTreeMap<String, Value> = jaeger
        .search("service=catalog", 1, DEADLINE)
        .into_iter()
        .chain(jaeger.search("service=inventory", 1, DEADLINE))
        .map(|trace| {
            (
                trace["traceID"].as_str().unwrap_or_default().to_owned(),
                trace,
            )
        })
        .collect();
    assert_eq!(all.len(), 6, "one trace per request");
    let stored: usize = all
        .values()
        .map(|trace| trace["spans"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(stored as u64, sent, "every span sent is stored");

    // Found by its name as sent: OTLP keeps the case Zipkin lower-cases.
    let found = jaeger.search("service=catalog&operation=GET%20%2Favailable", 1, DEADLINE);
    assert_eq!(found.len(), 1, "one /available trace");
    let trace = jaeger.wait_for_trace(found[0]["traceID"].as_str().expect("an id"), 5, DEADLINE);
    assert_eq!(
        trace["spans"].as_array().map(Vec::len),
        Some(5),
        "{trace:#}"
    );
    let server = jaeger_span(&trace, "GET /available", "catalog");
    let list_items = jaeger_span(&trace, "list_items", "catalog");
    let call = jaeger_span(&trace, "GET", "catalog");
    let stocks = jaeger_span(&trace, "GET /stocks", "inventory");
    let list_stocks = jaeger_span(&trace, "list_stocks", "inventory");
    assert_eq!(server["references"], json!([]));
    assert_children_of(
        &trace,
        &[
            (list_items, server),
            (call, server),
            (stocks, call),
            (list_stocks, stocks),
        ],
    );
    for (span, kind) in [
        (server, "server"),
        (list_items, "client"),
        (call, "client"),
        (stocks, "server"),
        (list_stocks, "client"),
    ] {
        assert_eq!(
            tag_of(span, "span.kind"),
            ("string".to_owned(), json!(kind))
        );
        assert_eq!(
            tag_of(span, "otel.scope.name"),
            ("string".to_owned(), json!("traced"))
        );
    }
    // Integers stay integers.
    assert_eq!(
        tag_of(server, "http.response.status_code"),
        ("int64".to_owned(), json!(200))
    );
    assert_eq!(
        tag_of(stocks, "http.route"),
        ("string".to_owned(), json!("/stocks"))
    );
    assert_eq!(
        tag_of(call, "peer.service"),
        ("string".to_owned(), json!("inventory"))
    );
    assert_eq!(
        tag_of(list_stocks, "db.system.name"),
        ("string".to_owned(), json!("sqlite"))
    );
    assert!(
        matches!(tag_of(call, "server.port"), (kind, port) if kind == "int64" && port.as_u64().is_some())
    );
    // The scenario's baggage, carried from the catalog to the inventory, tags every span.
    for span in [server, list_items, call, stocks, list_stocks] {
        assert_eq!(
            tag_of(span, "customer.tier"),
            ("string".to_owned(), json!("gold")),
            "{}",
            span["operationName"]
        );
    }

    // The fills: one success, two failures as ERROR statuses with their messages.
    let fills = jaeger.search("service=inventory&operation=POST%20%2Ffill", 3, DEADLINE);
    let mut shown: Vec<String> = fills
        .iter()
        .map(|trace| {
            let root = jaeger_span(trace, "POST /fill", "inventory");
            let status: Vec<(String, String, Value)> = fields(&root["tags"])
                .into_iter()
                .filter(|(key, _, _)| {
                    ["error", "otel.status_code", "otel.status_description"].contains(&key.as_str())
                })
                .collect();
            serde_json::to_string(&status).unwrap_or_default()
        })
        .collect();
    shown.sort();
    let failed = |message: &str| {
        serde_json::to_string(&[
            field("error", "bool", json!(true)),
            field("otel.status_code", "string", json!("ERROR")),
            field("otel.status_description", "string", json!(message)),
        ])
        .unwrap_or_default()
    };
    let mut expected = [
        "[]".to_owned(),
        failed("product 42 is not in the catalog"),
        failed("stock must not be negative"),
    ];
    expected.sort();
    assert_eq!(shown, expected);
}

#[test]
fn the_shop_over_otlp_protobuf_is_one_trace_per_request_in_jaeger() {
    let (jaeger, sent) = shop_over_otlp(traced::encode::Encoding::OtlpProtobuf);
    check_shop_in_jaeger(&jaeger, sent);
}

#[test]
fn the_shop_over_otlp_json_is_one_trace_per_request_in_jaeger() {
    let (jaeger, sent) = shop_over_otlp(traced::encode::Encoding::OtlpJson);
    check_shop_in_jaeger(&jaeger, sent);
}
