//! Test support for traced: a Zipkin-compatible receiver that checks every span it gets against
//! the official API definitions (`../shared/zipkin-api/`), fault modes that imitate a sick
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

mod check;
mod http;
pub mod proto;
pub mod raw;
mod receiver;
pub mod schema;
mod span;
pub mod tree;

pub use check::{check_json, check_proto, Checked};
pub use receiver::{unused_endpoint, Fault, Receiver, RequestRecord, SPANS_PATH};
pub use span::{ReceivedAnnotation, ReceivedEndpoint, ReceivedSpan};
