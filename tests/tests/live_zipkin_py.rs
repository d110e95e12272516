//! py_zipkin (the tutorials' Python library) and our services reporting into the same real
//! `zipkin-server`: a py_zipkin client calling our service, and our client calling a py_zipkin
//! service, each read back through `/api/v2/trace/{id}` as one joined trace, and the calls in
//! Zipkin's dependency graph. py_zipkin is installed as `interop_py_zipkin.rs` says.

mod live_support;
mod py_support;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use live_support::{serve, Reporting, Sink};
use py_support::{py_client, PyServer};
use traced::http::{ClientTrace, SendTraced, ServerLayer, SpanModel};
use traced_tests::{now_millis, tree, ReceivedSpan, ZipkinServer};
use tracing::Instrument;

const DEADLINE: Duration = Duration::from_secs(30);

async fn reserve() -> &'static str {
    async { "reserved" }
        .instrument(tracing::info_span!("reserve"))
        .await
}

fn stored(zipkin: &ZipkinServer, trace_id: &str, count: usize) -> Vec<ReceivedSpan> {
    let spans = zipkin.wait_for_trace(trace_id, count, DEADLINE);
    assert_eq!(spans.len(), count, "trace {trace_id}: {spans:#?}");
    spans
        .iter()
        .map(|span| ReceivedSpan::from_json(span).expect("Zipkin v2 JSON"))
        .collect()
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let matching: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|span| span.name.as_deref() == Some(name))
        .collect();
    assert_eq!(matching.len(), 1, "one span named {name:?} in {spans:#?}");
    matching[0]
}

#[test]
fn py_zipkin_and_our_services_share_traces_in_a_real_zipkin() {
    let zipkin = ZipkinServer::start();
    let endpoint = zipkin.spans_endpoint();
    let reporting = Reporting::start(&[Sink::json(endpoint.clone())]);

    // py_zipkin client → our service (shared span model, as py_zipkin servers use).
    let address = reporting.block_on(async {
        let app = Router::new().route("/inventory", get(reserve)).layer(
            ServerLayer::new()
                .service_name("rust-inventory")
                .span_model(SpanModel::Shared),
        );
        serve(app).await
    });
    let call = py_client(&format!("http://{address}/inventory"), &endpoint, "current");
    assert_eq!(call.status, 200);

    // Our client → the py_zipkin service.
    let py = PyServer::start(&endpoint);
    let our_trace = reporting.block_on(async {
        async {
            let trace = ClientTrace::new().peer_service("py-server");
            let answer = reqwest::Client::new()
                .get(format!("http://127.0.0.1:{}/inventory", py.port))
                .send_traced_with(&trace)
                .await
                .expect("the py_zipkin service answers");
            assert_eq!(answer.status(), 200);
            traced::current_context()
                .expect("inside a span")
                .trace_id
                .to_string()
        }
        .instrument(tracing::info_span!("checkout", service.name = "rust-front"))
        .await
    });
    reporting.finish();

    // 1. py checkout → py CLIENT "call rust" → our SERVER (joining that span id) → reserve.
    let spans = stored(&zipkin, &call.trace_id, 4);
    let joined = tree::assert_single_tree(&spans);
    let root = named(&spans, "checkout");
    assert_eq!(
        (joined.root().id.as_str(), root.service()),
        (call.root.as_str(), Some("py-client"))
    );
    let py_call = named(&spans, "call rust");
    let ours = named(&spans, "get /inventory");
    assert_eq!(ours.service(), Some("rust-inventory"));
    assert_eq!(
        (ours.id.as_str(), ours.shared),
        (call.client.as_str(), true)
    );
    assert_eq!(ours.parent_id, py_call.parent_id);
    assert_eq!(
        named(&spans, "reserve").parent_id.as_deref(),
        Some(ours.id.as_str())
    );

    // 2. our checkout → our CLIENT → py SERVER (joining our span id) → py "db lookup".
    let spans = stored(&zipkin, &our_trace, 4);
    let joined = tree::assert_single_tree(&spans);
    let root = named(&spans, "checkout");
    assert_eq!(
        (joined.root().id.as_str(), root.service()),
        (root.id.as_str(), Some("rust-front"))
    );
    let client = spans
        .iter()
        .find(|span| span.kind.as_deref() == Some("CLIENT"))
        .expect("our CLIENT span");
    let server = joined
        .shared_server(&client.id)
        .expect("py_zipkin joins our client span");
    assert_eq!(server.service(), Some("py-server"));
    assert_eq!(
        named(&spans, "db lookup").parent_id.as_deref(),
        Some(client.id.as_str())
    );

    // Zipkin's dependency graph links the services across languages.
    let links = zipkin
        .get(&format!(
            "/api/v2/dependencies?endTs={}&lookback=600000",
            now_millis()
        ))
        .expect("dependencies");
    let mut pairs: Vec<(String, String)> = links
        .as_array()
        .expect("a list")
        .iter()
        .map(|link| {
            (
                link["parent"].as_str().unwrap_or_default().to_owned(),
                link["child"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("py-client".to_owned(), "rust-inventory".to_owned()),
            ("rust-front".to_owned(), "py-server".to_owned()),
        ]
    );
}
