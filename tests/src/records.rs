//! What a span record says, without its ids and times, so that two ways of recording the same
//! work (a frame and a tracing span, say) can be compared field by field; how the spans link up
//! is kept as indexes into the list, and the tags in their order.
//!
//! ```
//! use traced::testing::Capture;
//! use traced_tests::records::{seen, Parent};
//!
//! #[traced::traced]
//! fn child() {}
//! #[traced::traced]
//! fn parent() { child() }
//!
//! let capture = Capture::new();
//! capture.in_scope(parent);
//! let spans = seen(&capture.spans());
//! assert_eq!(spans[0].name, "child");
//! assert_eq!(spans[0].parent, Parent::Local(1));
//! assert_eq!(spans[1].parent, Parent::Caller(None));
//! ```

use traced::model::{Kind, SpanId, SpanRecord};

/// What a record says, without its ids and times; how it links up is kept as indexes.
#[derive(Debug, PartialEq)]
pub struct Seen {
    /// The span's name.
    pub name: String,
    /// SERVER, CLIENT, ... when set.
    pub kind: Option<Kind>,
    /// Where its parent is.
    pub parent: Parent,
    /// Its own service name, when it has one.
    pub service: Option<String>,
    /// Its tags in their order, each value as `Debug` shows it (`Str("GET")`, `U64(200)`).
    pub tags: Vec<(String, String)>,
    /// Its annotations' texts, in order.
    pub annotations: Vec<String>,
    /// The remote endpoint as `Debug` shows it.
    pub remote_endpoint: Option<String>,
    /// The local endpoint's port.
    pub local_port: Option<u16>,
    /// Zipkin's `shared` flag.
    pub shared: bool,
    /// Whether the span is the first of its trace in this process.
    pub local_root: bool,
    /// Zipkin's `debug` flag.
    pub debug: bool,
    /// The W3C `tracestate` it continues.
    pub trace_state: Option<String>,
}

/// Where a span's parent is: another span of the request (by index), a caller's span (by
/// its id in the headers), or none.
#[derive(Debug, PartialEq)]
pub enum Parent {
    /// Another span of the list, by its index.
    Local(usize),
    /// The caller's span (its id), or none: a root.
    Caller(Option<SpanId>),
}

/// The records of one trace, as [`Seen`]s in the same order. Panics if they are of several
/// traces.
pub fn seen(spans: &[SpanRecord]) -> Vec<Seen> {
    let trace = spans.first().map(|span| span.trace_id);
    assert!(
        spans.iter().all(|span| Some(span.trace_id) == trace),
        "one trace: {spans:#?}"
    );
    spans
        .iter()
        .map(|span| Seen {
            name: span.name.to_string(),
            kind: span.kind,
            parent: match spans
                .iter()
                .position(|other| Some(other.id) == span.parent_id && !other.shared)
            {
                Some(index) if !span.shared => Parent::Local(index),
                _ => Parent::Caller(span.parent_id),
            },
            service: span.service_name.as_deref().map(str::to_owned),
            tags: span
                .tags
                .iter()
                .map(|(key, value)| (key.to_string(), format!("{value:?}")))
                .collect(),
            annotations: span
                .annotations
                .iter()
                .map(|annotation| annotation.text().into_owned())
                .collect(),
            remote_endpoint: span
                .remote_endpoint
                .as_ref()
                .map(|endpoint| format!("{endpoint:?}")),
            local_port: span.local_port,
            shared: span.shared,
            local_root: span.local_root,
            debug: span.debug,
            trace_state: span.trace_state().map(str::to_owned),
        })
        .collect()
}
