//! Test support for traced: a Zipkin-compatible receiver that checks every span it gets against
//! the official API definitions (vendored in `tests/zipkin-api/`), fault modes that imitate a sick
//! collector, and helpers to assert the shape of the received traces.
//!
//! ```
//! use std::time::Duration;
//! use traced_tests::{tree, Receiver};
//!
//! let receiver = Receiver::start();
//! let body = r#"[
//!   {"traceId":"4e441824ec2b6a44ffdc9bb9a6453df3","id":"0000000000000001","name":"root",
//!    "timestamp":1700000000000000,"duration":30,"localEndpoint":{"serviceName":"shop"}},
//!   {"traceId":"4e441824ec2b6a44ffdc9bb9a6453df3","id":"0000000000000002","parentId":"0000000000000001",
//!    "name":"child","timestamp":1700000000000010,"duration":5,"localEndpoint":{"serviceName":"shop"}}
//! ]"#;
//! ureq::post(&receiver.endpoint()).header("content-type", "application/json").send(body).unwrap();
//! let spans = receiver.wait_for_spans(2, Duration::from_secs(5));
//! receiver.assert_no_violations();
//! let trace = tree::assert_single_tree(&spans);
//! assert_eq!(trace.root().name.as_deref(), Some("root"));
//! assert_eq!(trace.children_of(trace.root())[0].name.as_deref(), Some("child"));
//! ```
//!
//! # What is checked
//!
//! Every JSON span is validated against the `Span` definition of `zipkin2-api.yaml`, read at run
//! time (patterns anchored, unknown properties rejected; see [`schema`]); every proto3 body is
//! decoded with `zipkin.proto`, compiled at run time (see [`proto`]). Then both are held to the
//! prose of the Zipkin model, each breach reported as a violation naming the span:
//!
//! - ids: lowercase hex, trace id of 16 or 32 characters (8 or 16 bytes), span id of 16 (8
//!   bytes), neither all zeros; `parentId` absent on a root rather than zeros, and never the span's
//!   own id;
//! - `timestamp` and `duration` present, the timestamp in epoch microseconds (2001 to 2100, which
//!   catches milliseconds and nanoseconds), `duration` at least 1;
//! - `localEndpoint` present with a non-empty lowercase `serviceName`; no empty endpoint,
//!   `annotations` or `tags`; no port 0 and none above 65535; `ipv4` / `ipv6` well-formed;
//! - tag values are strings; `kind` one of the four kinds; `shared` only on SERVER spans;
//!   `debug` and `shared` sent only when true; no empty `name`;
//! - protocol: a spans POST answered 4xx (malformed body, unknown content type or encoding,
//!   broken HTTP) or sent without `Content-Type` is a violation too, as is a panic in the receiver.
//!
//! For load tests, [`Receiver::start_keeping`] keeps only a sample of spans in memory while still
//! checking and counting all of them ([`Receiver::span_count`]).

pub mod alloc;
pub mod browser;
mod check;
pub mod fixtures;
pub mod harness;
mod http;
mod jaeger_server;
mod kafka_server;
pub mod otlp;
pub mod proto;
pub mod raw;
mod receiver;
pub mod records;
pub mod schema;
pub mod servers;
mod span;
pub mod strategies;
pub mod tree;
mod zipkin_server;

pub use check::{check_json, check_proto, Checked};
pub use jaeger_server::{
    assert_children_of, jaeger_binary, jaeger_span, JaegerServer, JAEGER_MODULE,
    JAEGER_SAMPLING_STRATEGIES, JAEGER_VERSION,
};
pub use kafka_server::{KafkaOptions, KafkaServer, KAFKA_VERSION};
pub use receiver::{unused_endpoint, Fault, Receiver, RequestRecord, SPANS_PATH};
pub use span::{ReceivedAnnotation, ReceivedEndpoint, ReceivedSpan};
pub use zipkin_server::{now_millis, ZipkinOptions, ZipkinServer, ZIPKIN_VERSION};
