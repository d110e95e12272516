//! What a real `zipkin-server` accepts and gives back, byte for byte where it matters:
//! - every encoding we offer (JSON v2 and proto3, each plain and gzipped) is accepted, and the
//!   spans read back through `/api/v2/trace/{id}` are identical to what the strict receiver got
//!   from the same reporter path (ids, names, kinds, timestamps, durations, endpoints, tags,
//!   annotations);
//! - the shared server-span model: Zipkin keeps the client and server halves under one span id,
//!   both visible, and its dependency linker counts the call once;
//! - what the server rewrites on its own (measured here and stated in the README): span and
//!   service names lower-cased, long tag values kept whole, clock skew left as sent.

mod live_support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use live_support::{serve, Reporting, Sink};
use serde_json::{json, Value};
use traced::encode::Encoding;
use traced::http::{ClientTrace, SendTraced, ServerLayer, SpanModel};
use traced::traced;
use traced_tests::{now_millis, ReceivedSpan, Receiver, ZipkinServer};
use tracing::Instrument;

const DEADLINE: Duration = Duration::from_secs(30);

/// A workload with every feature the encoders write: nesting, typed tags, events as
/// annotations, an error, a CLIENT span with a remote service, non-ASCII text.
#[traced(err)]
fn checkout(label: &str, count: u32, price: f64, express: bool) -> Result<u64, String> {
    tracing::info!(stage = "priced", "priced {count} × {label}");
    lookup(label);
    if count == 0 {
        return Err(format!("nothing to buy for {label}"));
    }
    tracing::warn!("slow path for {label} — ünïcødé");
    Ok((f64::from(count) * price) as u64 + u64::from(express))
}

#[traced(kind = "client", fields(peer.service = "stock-db", db.system = "sqlite"))]
fn lookup(label: &str) {
    tracing::debug!("looked up {label}");
}

fn encodings() -> [(&'static str, Encoding, bool); 4] {
    [
        ("json", Encoding::Json, false),
        ("json-gzip", Encoding::Json, true),
        ("proto3", Encoding::Proto, false),
        ("proto3-gzip", Encoding::Proto, true),
    ]
}

/// Zipkin's spans of `trace_id`, parsed the way the receiver parses what it gets.
fn read_back(zipkin: &ZipkinServer, trace_id: &str, count: usize) -> Vec<ReceivedSpan> {
    let spans = zipkin.wait_for_trace(trace_id, count, DEADLINE);
    assert_eq!(
        spans.len(),
        count,
        "trace {trace_id} in Zipkin: {spans:#?}\n{}",
        zipkin.log_tail()
    );
    let mut parsed: Vec<ReceivedSpan> = spans
        .iter()
        .map(|span| ReceivedSpan::from_json(span).expect("Zipkin answers Zipkin v2 JSON"))
        .collect();
    parsed.sort_by(|a, b| (&a.id, &a.kind).cmp(&(&b.id, &b.kind)));
    parsed
}

#[test]
fn every_encoding_is_accepted_and_read_back_identical() {
    let zipkin = ZipkinServer::start();
    for (label, encoding, gzip) in encodings() {
        let receiver = Receiver::start();
        let reporting = Reporting::start(&[
            Sink {
                endpoint: zipkin.spans_endpoint(),
                encoding,
                gzip,
            },
            Sink::json(receiver.endpoint()),
        ]);
        tracing::dispatcher::with_default(&reporting.dispatch, || {
            checkout(label, 3, 4.5, true).expect("a priced checkout");
            checkout(label, 0, 4.5, false).expect_err("an empty checkout fails");
        });
        let sent = reporting.finish();
        assert_eq!(
            sent,
            [4, 4],
            "{label}: two spans per checkout, to both sinks"
        );
        receiver.assert_no_violations();

        let mut expected = receiver.wait_for_spans(4, DEADLINE);
        let mut trace_ids: Vec<String> = expected.iter().map(|s| s.trace_id.clone()).collect();
        trace_ids.sort();
        trace_ids.dedup();
        assert_eq!(trace_ids.len(), 2, "{label}: two traces");
        let mut stored: Vec<ReceivedSpan> = trace_ids
            .iter()
            .flat_map(|id| read_back(&zipkin, id, 2))
            .collect();
        let order = |a: &ReceivedSpan, b: &ReceivedSpan| (&a.id, &a.kind).cmp(&(&b.id, &b.kind));
        expected.sort_by(order);
        stored.sort_by(order);
        assert_eq!(stored, expected, "{label}: Zipkin gives back what we sent");

        // The workload really carries what the comparison is meant to cover.
        let failed = expected
            .iter()
            .find(|span| span.tag("error").is_some())
            .expect("the failed checkout");
        assert_eq!(
            failed.tag("error"),
            Some(&*format!("nothing to buy for {label}"))
        );
        let priced = expected
            .iter()
            .find(|span| span.name.as_deref() == Some("checkout") && span.tag("error").is_none())
            .expect("the priced checkout");
        assert_eq!(priced.tag("count"), Some("3"));
        assert_eq!(priced.tag("price"), Some("4.5"));
        assert_eq!(priced.tag("express"), Some("true"));
        assert_eq!(priced.annotations.len(), 2, "{priced:#?}");
        assert!(
            priced.annotations[1].value.contains("ünïcødé"),
            "{priced:#?}"
        );
        let lookup = expected
            .iter()
            .find(|span| span.kind.as_deref() == Some("CLIENT"))
            .expect("the lookup");
        assert_eq!(lookup.remote_service(), Some("stock-db"));
    }
}

async fn work() -> &'static str {
    "done"
}

/// Serves `/work` as `back` in the shared span model.
async fn serve_back() -> SocketAddr {
    let app = Router::new().route("/work", get(work)).layer(
        ServerLayer::new()
            .service_name("back")
            .span_model(SpanModel::Shared),
    );
    serve(app).await
}

#[test]
fn a_shared_server_span_joins_its_client_span_as_in_brave() {
    let zipkin = ZipkinServer::start();
    let reporting = Reporting::start(&[Sink::json(zipkin.spans_endpoint())]);
    let trace_id = reporting.block_on(async {
        let back = serve_back().await;
        async {
            let trace = ClientTrace::new().peer_service("back");
            let answer = reqwest::Client::new()
                .get(format!("http://{back}/work"))
                .send_traced_with(&trace)
                .await
                .expect("back answers");
            assert_eq!(answer.status(), 200);
            traced::current_context()
                .expect("inside a span")
                .trace_id
                .to_string()
        }
        .instrument(tracing::info_span!("order", service.name = "front"))
        .await
    });
    assert_eq!(reporting.finish(), [3]);

    let spans = read_back(&zipkin, &trace_id, 3);
    let root = spans
        .iter()
        .find(|span| span.parent_id.is_none())
        .expect("a root");
    assert_eq!(
        (root.name.as_deref(), root.service()),
        (Some("order"), Some("front"))
    );
    let client = spans
        .iter()
        .find(|span| span.kind.as_deref() == Some("CLIENT"))
        .expect("the CLIENT half");
    let server = spans
        .iter()
        .find(|span| span.kind.as_deref() == Some("SERVER"))
        .expect("the SERVER half");
    // One span id, both kinds visible, the server marked shared, both under the root.
    assert_eq!(server.id, client.id);
    assert!(server.shared && !client.shared);
    assert_eq!(client.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(server.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(
        (client.service(), client.remote_service()),
        (Some("front"), Some("back"))
    );
    assert_eq!(server.service(), Some("back"));

    // Zipkin's linker sees one call front → back, not two.
    let links = zipkin
        .get(&format!(
            "/api/v2/dependencies?endTs={}&lookback=600000",
            now_millis()
        ))
        .expect("dependencies");
    assert_eq!(
        links,
        json!([{"parent": "front", "child": "back", "callCount": 1}])
    );
}

/// POSTs one raw JSON v2 body and answers the status.
fn post_raw(zipkin: &ZipkinServer, body: &Value) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(&zipkin.spans_endpoint())
        .header("content-type", "application/json")
        .send(body.to_string())
        .map(|response| response.status().as_u16())
        .expect("zipkin answers")
}

#[test]
fn what_the_real_server_rewrites_and_what_it_keeps() {
    let zipkin = ZipkinServer::start();
    let trace = "463ac35c9f6413ad48485a3953bb6124";
    let long = "x".repeat(100_000);
    let now = u64::try_from(now_millis()).expect("a sane clock") * 1000;
    let body = json!([
        {
            "traceId": trace, "id": "0000000000000001", "name": "Mixed Case Name",
            "kind": "CLIENT", "timestamp": now, "duration": 1000,
            "localEndpoint": {"serviceName": "Upper-Service"},
            "remoteEndpoint": {"serviceName": "Remote-DB"},
            "tags": {"Tag.Key": "Value As Sent", "long": long}
        },
        {
            // A server whose clock runs 5 s behind its client's: it starts "before" its parent.
            "traceId": trace, "id": "0000000000000002", "parentId": "0000000000000001",
            "name": "skewed", "kind": "SERVER", "timestamp": now - 5_000_000, "duration": 200,
            "localEndpoint": {"serviceName": "lower-service"}
        }
    ]);
    assert_eq!(post_raw(&zipkin, &body), 202, "{}", zipkin.log_tail());
    let spans = zipkin.wait_for_trace(trace, 2, DEADLINE);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let by_id = |id: &str| {
        spans
            .iter()
            .find(|span| span["id"] == id)
            .unwrap_or_else(|| panic!("span {id} in {spans:#?}"))
    };
    let first = by_id("0000000000000001");
    // Names and service names are lower-cased by the server (our encoder sends them lower-cased
    // already, so what we send is what Zipkin shows); tag keys and values are kept as sent,
    // whole, even at 100 000 bytes.
    assert_eq!(first["name"], "mixed case name");
    assert_eq!(first["localEndpoint"]["serviceName"], "upper-service");
    assert_eq!(first["remoteEndpoint"]["serviceName"], "remote-db");
    assert_eq!(first["tags"]["Tag.Key"], "Value As Sent");
    assert_eq!(first["tags"]["long"].as_str().map(str::len), Some(100_000));
    // Clock skew is not corrected by the API: the child keeps the timestamp it was sent with
    // (Zipkin's UI adjusts skew when it draws the trace).
    let skewed = by_id("0000000000000002");
    assert_eq!(skewed["timestamp"].as_u64(), Some(now - 5_000_000));
    assert_eq!(skewed["duration"].as_u64(), Some(200));
}
