//! Interop with py_zipkin, the Python library of the Zipkin tutorials, in both directions: a
//! py_zipkin client calls a Rust axum service, and a Rust reqwest client calls a py_zipkin
//! service. Both sides report to the test receiver, and each joined trace must be one tree.
//!
//! py_zipkin comes from the system `python3` when it has it, else from a venv the test creates
//! under `target/py-venv` (`pip install py_zipkin`, so a fresh machine with PyPI access works).
//! The Python side is tests/py/zipkin_peer.py; every Python process runs under a deadline and is
//! killed when the test is done with it.
//!
//! What py_zipkin does that matters here (observed with py_zipkin 1.2.8):
//! - `create_http_headers_for_new_span()`, the tutorials' helper, sends a fresh span id whose
//!   parent is the current span, and never reports that id itself. A Rust server in the child
//!   model would hang under a span nobody reports; in the shared model it reports that very id
//!   (`shared: true`) under py_zipkin's span, which is what a py_zipkin server does too.
//! - A py_zipkin server continuing a context always joins the caller's span: same id,
//!   `shared: true`, the caller's parent id. So our CLIENT span and its SERVER span share an id.
//! - A root `zipkin_span` is reported as a SERVER span even when it is local work (py_zipkin's
//!   logging context only knows CLIENT and SERVER for the span that carries the transport).
//! - py_zipkin 1.2.8 breaks none of the receiver's schema and prose rules. Violations in spans
//!   of py_zipkin's services (`PY_SERVICES`) would still only be printed, not failed, since they
//!   are not ours to fix; every violation in a Rust span fails the test.

mod py_support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Path as RoutePath;
use axum::routing::get;
use axum::Router;
use py_support::{py_client, PyServer};
use traced::http::{ClientTrace, SendTraced, ServerLayer, SpanModel};
use traced::propagation::Propagator;
use traced::report::{ReporterConfig, ZipkinReporter};
use traced::semconv;
use traced::TracedLayer;
use traced_tests::{tree, ReceivedSpan, Receiver};
use tracing::{Dispatch, Instrument};
use tracing_subscriber::layer::SubscriberExt;

const DELIVERY_DEADLINE: Duration = Duration::from_secs(20);

/// Service names whose violations are py_zipkin's, not ours.
const PY_SERVICES: [&str; 2] = ["\"py-client\"", "\"py-server\""];

/// The Rust side: a receiver, a reporter sending to it, and a runtime whose threads report
/// through our layer.
struct RustSide {
    receiver: Receiver,
    reporter: ZipkinReporter,
    dispatch: Dispatch,
    runtime: tokio::runtime::Runtime,
}

impl RustSide {
    fn start() -> RustSide {
        let receiver = Receiver::start();
        let reporter = ZipkinReporter::start(
            ReporterConfig::default()
                .endpoint(receiver.endpoint())
                .service_name("rust"),
        )
        .expect("the reporter starts");
        let dispatch =
            Dispatch::new(tracing_subscriber::registry().with(TracedLayer::new(reporter.clone())));
        let on_workers = dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                // Worker threads live as long as the runtime; so does their default.
                std::mem::forget(tracing::dispatcher::set_default(&on_workers));
            })
            .build()
            .expect("a runtime");
        RustSide {
            receiver,
            reporter,
            dispatch,
            runtime,
        }
    }

    /// Serves the Rust inventory service in `model` on a loopback port.
    fn serve(&self, model: SpanModel) -> SocketAddr {
        let app = Router::new()
            .route("/inventory/{item}", get(reserve))
            .layer(
                ServerLayer::new()
                    .service_name("rust-inventory")
                    .span_model(model),
            );
        self.runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let address = listener.local_addr().expect("the bound address");
            tokio::spawn(async move {
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, service)
                    .await
                    .expect("the server runs");
            });
            address
        })
    }

    /// Sends what our side has queued, then waits for `count` spans in all.
    fn delivered(&self, count: usize) -> Vec<ReceivedSpan> {
        let outcome = traced::export::Exporter::flush(&self.reporter, DELIVERY_DEADLINE);
        let spans = self.receiver.wait_for_spans(count, DELIVERY_DEADLINE);
        assert!(
            spans.len() >= count,
            "expected {count} spans, received {} (flush: {outcome:?})",
            spans.len()
        );
        spans
    }

    /// Violations in our own spans; py_zipkin's are printed, not failed (see the module docs).
    fn assert_no_violations_of_ours(&self) {
        let (theirs, ours): (Vec<String>, Vec<String>) = self
            .receiver
            .violations()
            .into_iter()
            .partition(|violation| PY_SERVICES.iter().any(|name| violation.contains(name)));
        for violation in &theirs {
            eprintln!("py_zipkin violation (tolerated): {violation}");
        }
        assert!(
            ours.is_empty(),
            "violations in our spans:\n{}",
            ours.join("\n")
        );
    }
}

async fn reserve(RoutePath(item): RoutePath<String>) -> String {
    async { format!("reserved {item}") }
        .instrument(tracing::info_span!("reserve"))
        .await
}

fn in_trace(spans: &[ReceivedSpan], trace_id: &str) -> Vec<ReceivedSpan> {
    spans
        .iter()
        .filter(|span| span.trace_id.eq_ignore_ascii_case(trace_id))
        .cloned()
        .collect()
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    // Zipkin names are lower case on the wire (our encoder lowers them; py_zipkin sends as given).
    let mut matching = spans.iter().filter(|span| {
        span.name
            .as_deref()
            .is_some_and(|sent| sent.eq_ignore_ascii_case(name))
    });
    match (matching.next(), matching.next()) {
        (Some(span), None) => span,
        _ => panic!("expected one span named {name:?} in {spans:#?}"),
    }
}

#[test]
fn py_zipkin_client_calls_a_rust_service() {
    let rust = RustSide::start();
    let shared = rust.serve(SpanModel::Shared);
    let child = rust.serve(SpanModel::Child);
    let zipkin = rust.receiver.endpoint();

    // (headers py_zipkin sends, the Rust server's model, whether the server joins the sent id)
    let cases = [
        ("new-span", shared, true),
        ("current", shared, true),
        ("current", child, false),
        ("b3-single", child, false),
    ];
    for (index, (headers, server, joins)) in cases.into_iter().enumerate() {
        let url = format!("http://{server}/inventory/{index}");
        let call = py_client(&url, &zipkin, headers);
        assert_eq!(call.status, 200, "{headers}");
        // py checkout, py call rust, rust server, rust reserve, for every case so far.
        let spans = rust.delivered(4 * (index + 1));
        let trace = in_trace(&spans, &call.trace_id);
        assert_eq!(
            trace.len(),
            4,
            "{headers}: one trace across both languages: {trace:#?}"
        );
        let tree = tree::assert_single_tree(&trace);

        let root = named(&trace, "checkout");
        assert_eq!(tree.root().id, root.id, "{headers}");
        assert_eq!(root.id, call.root);
        let py_client = named(&trace, "call rust");
        assert_eq!(py_client.id, call.client);
        assert_eq!(py_client.parent_id.as_deref(), Some(call.root.as_str()));

        let server = named(&trace, "GET /inventory/{item}");
        assert_eq!(server.kind.as_deref(), Some("SERVER"));
        assert_eq!(server.service(), Some("rust-inventory"));
        assert_eq!(server.tag("http.route"), Some("/inventory/{item}"));
        assert_eq!(server.tag(semconv::HTTP_RESPONSE_STATUS_CODE), Some("200"));
        assert_eq!(server.shared, joins, "{headers}");
        if joins && call.sent_span_id == call.client {
            // Classic Zipkin RPC: the server reports py_zipkin's CLIENT span id, one node.
            assert_eq!(server.id, call.client, "{headers}");
            assert_eq!(server.parent_id, py_client.parent_id, "{headers}");
            let joined = tree.shared_server(&call.client).map(|span| span.id.clone());
            assert_eq!(joined.as_deref(), Some(server.id.as_str()), "{headers}");
        } else {
            if joins {
                assert_eq!(
                    server.id, call.sent_span_id,
                    "{headers}: the server joins the sent span"
                );
            } else {
                assert_ne!(server.id, call.sent_span_id, "{headers}");
            }
            // Either way the Rust server hangs under py_zipkin's client span.
            let parent = tree.parent_of(server).map(|span| span.id.clone());
            assert_eq!(parent.as_deref(), Some(call.client.as_str()), "{headers}");
        }

        let reserve = named(&trace, "reserve");
        assert_eq!(
            reserve.parent_id.as_deref(),
            Some(server.id.as_str()),
            "{headers}"
        );
        assert_eq!(reserve.service(), Some("rust-inventory"));
    }
    rust.assert_no_violations_of_ours();
}

#[test]
fn rust_client_calls_a_py_zipkin_service() {
    let rust = RustSide::start();
    let py = PyServer::start(&rust.receiver.endpoint());
    let cases = [
        ("b3 single", Propagator::b3(), "/inventory", 200),
        ("b3 multi", Propagator::b3_multi(), "/inventory", 200),
        ("b3 single, failing", Propagator::b3(), "/fail", 500),
    ];
    for (index, (case, propagator, path, status)) in cases.into_iter().enumerate() {
        let url = format!("http://127.0.0.1:{}{path}", py.port);
        let trace = ClientTrace::new()
            .peer_service("py-server")
            .propagator(propagator);
        let answered = tracing::dispatcher::with_default(&rust.dispatch, || {
            rust.runtime.block_on(
                async {
                    let response = reqwest::Client::new()
                        .get(url)
                        .send_traced_with(&trace)
                        .await
                        .expect("the py_zipkin service answers");
                    let status = response.status().as_u16();
                    let body: serde_json::Value =
                        serde_json::from_slice(&response.bytes().await.unwrap_or_default())
                            .unwrap_or_default();
                    (status, body)
                }
                .instrument(tracing::info_span!("checkout", service.name = "rust-front")),
            )
        });
        assert_eq!(answered.0, status, "{case}");
        let received = &answered.1["received"];
        if case.contains("multi") {
            assert!(
                received.get("x-b3-traceid").is_some() && received.get("b3").is_none(),
                "{case}: {received}"
            );
        } else {
            assert!(
                received.get("b3").is_some() && received.get("x-b3-traceid").is_none(),
                "{case}: {received}"
            );
        }

        // rust checkout, rust CLIENT, py SERVER, py db lookup, for every case so far.
        let spans = rust.delivered(4 * (index + 1));
        let client = spans
            .iter()
            .filter(|span| span.kind.as_deref() == Some("CLIENT"))
            .nth(index)
            .unwrap_or_else(|| panic!("{case}: no CLIENT span in {spans:#?}"));
        let trace_spans = in_trace(&spans, &client.trace_id);
        assert_eq!(trace_spans.len(), 4, "{case}: {trace_spans:#?}");
        let tree = tree::assert_single_tree(&trace_spans);

        let root = named(&trace_spans, "checkout");
        assert_eq!(tree.root().id, root.id, "{case}");
        assert_eq!(root.service(), Some("rust-front"));
        assert_eq!(
            client.parent_id.as_deref(),
            Some(root.id.as_str()),
            "{case}"
        );
        assert_eq!(client.service(), Some("rust-front"));
        assert_eq!(client.remote_service(), Some("py-server"));
        assert_eq!(
            client.tag(semconv::HTTP_RESPONSE_STATUS_CODE),
            Some(status.to_string().as_str())
        );

        // py_zipkin joins our CLIENT span: same id, shared, the same parent.
        let server = tree
            .shared_server(&client.id)
            .unwrap_or_else(|| panic!("{case}: py_zipkin did not join span {}", client.id));
        assert_eq!(server.service(), Some("py-server"));
        assert_eq!(server.name.as_deref(), Some(format!("GET {path}").as_str()));
        assert_eq!(server.parent_id, client.parent_id, "{case}");
        let lookup = named(&trace_spans, "db lookup");
        assert_eq!(
            lookup.parent_id.as_deref(),
            Some(client.id.as_str()),
            "{case}"
        );

        if status >= 500 {
            assert_eq!(client.tag("error"), Some("500"), "{case}");
            assert_eq!(server.tag("error"), Some("500"), "{case}");
        } else {
            assert_eq!(client.tag("error"), None, "{case}");
        }
    }
    rust.assert_no_violations_of_ours();
}
