//! Interop with jaeger-client, the Python client of the Jaeger (OpenTracing) tutorials, in both
//! directions, through Jaeger's own headers: `uber-trace-id` for the context and `uberctx-{key}`
//! for baggage. A jaeger-client client calls a Rust axum service (`ServerLayer`), and a Rust
//! reqwest client (`send_traced_with`, `OTEL_PROPAGATORS=jaeger`) calls a jaeger-client service.
//! Each side continues the other's trace (same trace id, the caller's span as parent) and reads
//! the baggage the other set.
//!
//! The Python side is tests/py/jaeger_peer.py; it reports what it extracted and the ids of its
//! spans on stdout or in its answers, so nothing but the two processes is needed. Every Python
//! process runs under a deadline and is killed when the test is done with it.
//!
//! jaeger-client comes from the system `python3` when it has it, else from a venv the test
//! creates under `target/py-venv-jaeger` (`pip install jaeger-client==4.8.0 six`, so a fresh
//! machine with PyPI access works; no test is ever skipped). jaeger-client 4.8.0, its last
//! release, installs and runs on Python 3.11, with one gap: its generated Thrift code imports
//! `six`, which it does not declare and which the `thrift` releases pip picks now (0.2x) no
//! longer bring, so without it `import jaeger_client` fails with
//! `ModuleNotFoundError: No module named 'six'` (in `jaeger_client/thrift_gen/jaeger/ttypes.py`).
//! Installing `six` beside it is the whole fix, so the peer is the real jaeger-client rather
//! than OpenTelemetry's Jaeger propagator.
//!
//! What jaeger-client does that matters here (observed with 4.8.0):
//! - it writes ids in lower hex without leading zeros, 64-bit trace ids unless the tracer is
//!   made with `generate_128bit_trace_id`, and its parent id in the third field;
//! - it URL-encodes baggage values (`urllib.parse.quote`: `acme%20corp`) and lower-cases the
//!   keys it reads;
//! - a server span started `child_of` the extracted context is a new span whose parent is the
//!   caller's span (one span per RPC is off by default), with the caller's baggage.

mod py_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use py_support::{peer_script, python_with, PyServer, PYTHON_DEADLINE};
use serde_json::Value;
use traced::http::{ClientTrace, SendTraced, ServerLayer};
use traced::model::{Kind, Remote, SpanRecord, TraceId};
use traced::propagation::Propagator;
use traced::testing::Capture;
use traced_tests::servers::run_to_end;
use tracing::Instrument;

/// The interpreter with jaeger-client, installed into its own venv if need be.
fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        python_with(
            "py-venv-jaeger",
            "jaeger_client",
            &["jaeger-client==4.8.0", "six>=1.16"],
        )
    })
}

fn script() -> PathBuf {
    peer_script("jaeger_peer.py")
}

/// `text` (lower hex, maybe without leading zeros) as a number.
fn hex(value: &Value) -> u128 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("hex text, not {value}"));
    u128::from_str_radix(text, 16).unwrap_or_else(|_| panic!("hex text, not {text:?}"))
}

/// Waits (bounded) until `count` spans have finished.
fn wait_for(capture: &Capture, count: usize) -> Vec<SpanRecord> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = capture.spans();
        if spans.len() >= count || Instant::now() > deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The Rust service's handler work: what a call under the server span sees of the caller.
#[traced::traced]
async fn reserve() -> String {
    tokio::task::yield_now().await;
    let baggage = traced::baggage::current();
    serde_json::json!({
        "trace_id": traced::current_context().map(|context| context.trace_id.to_string()),
        "baggage": baggage.iter().collect::<std::collections::BTreeMap<_, _>>(),
    })
    .to_string()
}

#[test]
fn jaeger_client_calls_a_rust_service_and_its_baggage_arrives() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    // The default propagator: every context format read, Jaeger's baggage included.
    let address: SocketAddr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("the bound address");
        let app = Router::new()
            .route("/inventory/{item}", get(reserve))
            .layer(ServerLayer::new().service_name("rust-inventory"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the server runs") });
        address
    });

    for (index, bits) in ["64", "128"].into_iter().enumerate() {
        let url = format!("http://{address}/inventory/{index}");
        let output = run_to_end(
            Command::new(python())
                .arg(script())
                .args(["client", "--url", &url, "--bits", bits]),
            PYTHON_DEADLINE,
        );
        assert!(
            output.success,
            "jaeger-client client failed: {}",
            output.text()
        );
        let call: Value =
            serde_json::from_slice(&output.stdout).expect("one JSON line from the client");
        assert_eq!(call["status"], 200, "{call}");
        let sent = &call["sent"];
        assert_eq!(
            sent["uberctx-tenant"], "acme%20corp",
            "what jaeger-client sent: {sent}"
        );

        // The Rust side read the caller's baggage, decoded, in a call under the server span.
        let seen: Value = serde_json::from_str(call["body"].as_str().unwrap()).expect("JSON");
        assert_eq!(seen["baggage"]["tenant"], "acme corp", "{bits}-bit: {seen}");
        assert_eq!(seen["baggage"]["user.id"], "42", "{bits}-bit: {seen}");
        assert_eq!(seen["baggage"].as_object().map(|map| map.len()), Some(2));

        // Server span and reserve, for every call so far.
        let spans = wait_for(&capture, 2 * (index + 1));
        let trace_id = TraceId(hex(&call["trace_id"]));
        assert_eq!(trace_id.is_64_bit(), bits == "64", "{call}");
        let server = spans
            .iter()
            .find(|span| span.kind == Some(Kind::Server) && span.trace_id == trace_id)
            .unwrap_or_else(|| {
                panic!("{bits}-bit: no server span in trace {trace_id}: {spans:#?}")
            });
        assert_eq!(server.service_name.as_deref(), Some("rust-inventory"));
        assert_eq!(
            server.parent_id.map(|id| u128::from(id.0)),
            Some(hex(&call["client"])),
            "{bits}-bit: the Rust server span is a child of jaeger-client's client span"
        );
        assert_eq!(
            seen["trace_id"],
            trace_id.to_string(),
            "the same trace inside"
        );
        let reserve = spans
            .iter()
            .find(|span| span.name == "reserve" && span.trace_id == trace_id)
            .expect("the reserve span");
        assert_eq!(reserve.parent_id, Some(server.id));
    }
}

#[test]
fn rust_client_calls_a_jaeger_client_service_and_baggage_crosses_both_ways() {
    let py = PyServer::spawn(python(), &script(), &[]);
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    // What `OTEL_PROPAGATORS=jaeger` configures: `uber-trace-id` and `uberctx-*` only.
    let propagator = Propagator::from_otel_propagators("jaeger").expect("a propagator");
    let url = format!("http://127.0.0.1:{}/reserve", py.port);
    let trace = ClientTrace::new()
        .peer_service("py-server")
        .propagator(propagator.clone());
    let (answer, context) = capture.in_scope(|| {
        runtime.block_on(
            async {
                assert!(traced::baggage::set("tenant", "acme corp"));
                assert!(traced::baggage::set("user.id", "42"));
                let response = reqwest::Client::new()
                    .get(url)
                    .send_traced_with(&trace)
                    .await
                    .expect("the jaeger-client service answers");
                assert_eq!(response.status(), 200);
                let answer: Value =
                    serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON");
                (answer, traced::current_context().expect("inside checkout"))
            }
            .instrument(tracing::info_span!("checkout")),
        )
    });
    let spans = wait_for(&capture, 2);
    let client = spans
        .iter()
        .find(|span| span.kind == Some(Kind::Client))
        .unwrap_or_else(|| panic!("no client span: {spans:#?}"));
    assert_eq!(client.trace_id, context.trace_id);

    // jaeger-client continued our trace from our CLIENT span, with our baggage.
    let extracted = &answer["extracted"];
    assert_eq!(hex(&extracted["trace_id"]), context.trace_id.0, "{answer}");
    assert_eq!(
        hex(&extracted["span_id"]),
        u128::from(client.id.0),
        "{answer}"
    );
    assert_eq!(extracted["sampled"], true);
    assert_eq!(
        extracted["baggage"],
        serde_json::json!({"tenant": "acme corp", "user.id": "42"})
    );
    let py_span = &answer["span"];
    assert_eq!(hex(&py_span["trace_id"]), context.trace_id.0);
    assert_eq!(hex(&py_span["parent_id"]), u128::from(client.id.0));

    // What jaeger-client would send on from its span: our trace, its span, its baggage and
    // ours. Continued here, the Rust side reads the entry Python set.
    let onward: Vec<(String, String)> = answer["onward"]
        .as_object()
        .expect("the headers jaeger-client injects")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect();
    let Some(Remote::Context(python)) = propagator.extract(&onward) else {
        panic!("no context in {onward:?}");
    };
    assert_eq!(python.trace_id, context.trace_id);
    assert_eq!(u128::from(python.span_id.0), hex(&py_span["span_id"]));
    let mut seen = capture.in_scope(|| {
        propagator
            .continue_trace(
                &onward,
                || tracing::info_span!(parent: None, "after python"),
            )
            .in_scope(|| {
                let baggage = traced::baggage::current();
                baggage
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect::<Vec<_>>()
            })
    });
    seen.sort();
    assert_eq!(seen, ["py.hop=python", "tenant=acme corp", "user.id=42"]);
    let after = capture.span("after python");
    assert_eq!(after.trace_id, context.trace_id);
    assert_eq!(after.parent_id, Some(python.span_id));
}
