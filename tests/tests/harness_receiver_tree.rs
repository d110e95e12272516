//! The trace-shape helpers accept exactly the spans that form one tree, and say why otherwise.

use traced_tests::tree::{self, assert_single_tree, single_tree};
use traced_tests::{ReceivedEndpoint, ReceivedSpan};

const TRACE: &str = "4e441824ec2b6a44ffdc9bb9a6453df3";

fn span(id: &str, parent: Option<&str>, name: &str, start: u64) -> ReceivedSpan {
    ReceivedSpan {
        trace_id: TRACE.into(),
        id: id.into(),
        parent_id: parent.map(Into::into),
        name: Some(name.into()),
        timestamp: Some(1_700_000_000_000_000 + start),
        duration: Some(10),
        local_endpoint: Some(ReceivedEndpoint {
            service_name: Some("shop".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn error_of(spans: &[ReceivedSpan]) -> String {
    single_tree(spans).expect_err("not a single tree")
}

#[test]
fn nested_spans_form_one_tree_with_children_in_start_order() {
    // Arrival order is finish order: children first, and siblings out of start order.
    let spans = [
        span(
            "0000000000000004",
            Some("0000000000000002"),
            "grandchild",
            3,
        ),
        span("0000000000000003", Some("0000000000000001"), "second", 20),
        span("0000000000000002", Some("0000000000000001"), "first", 2),
        span("0000000000000001", None, "root", 0),
    ];
    let trace = assert_single_tree(&spans);
    assert_eq!(trace.trace_id(), TRACE);
    assert_eq!(trace.len(), 4);
    assert_eq!(trace.root().name.as_deref(), Some("root"));
    let children: Vec<&str> = trace
        .children_of(trace.root())
        .iter()
        .map(|s| s.name_or_empty())
        .collect();
    assert_eq!(children, ["first", "second"]);
    let grandchild = trace.expect("grandchild");
    assert_eq!(
        trace.parent_of(grandchild).map(|s| s.name_or_empty()),
        Some("first")
    );
    assert_eq!(trace.depth_of("0000000000000004"), Some(2));
    let order: Vec<&str> = trace.spans().iter().map(|s| s.name_or_empty()).collect();
    assert_eq!(order, ["root", "first", "grandchild", "second"]);
    assert_eq!(trace.by_service("shop").len(), 4);
    assert!(trace.find("missing").is_none());

    let rendered = trace.render();
    assert!(
        rendered.starts_with(&format!("trace {TRACE} (4 spans)\n")),
        "{rendered}"
    );
    assert!(
        rendered.contains("\n      grandchild [shop] 10µs id=0000000000000004"),
        "{rendered}"
    );
}

#[test]
fn a_root_with_a_remote_parent_is_accepted() {
    let spans = [
        span("0000000000000002", Some("00000000000000ff"), "server", 0),
        span("0000000000000003", Some("0000000000000002"), "work", 1),
    ];
    let trace = assert_single_tree(&spans);
    assert_eq!(trace.root().name.as_deref(), Some("server"));
    assert!(trace.parent_of(trace.root()).is_none());
}

#[test]
fn two_roots_are_rejected() {
    let message = error_of(&[
        span("0000000000000001", None, "a", 0),
        span("0000000000000002", None, "b", 0),
    ]);
    assert!(
        message.contains("expected exactly one root, found 2"),
        "{message}"
    );
    // The failure shows what was received.
    assert!(
        message.contains("a [shop] 10µs id=0000000000000001"),
        "{message}"
    );
}

#[test]
fn an_unresolved_parent_besides_a_root_is_rejected() {
    let message = error_of(&[
        span("0000000000000001", None, "root", 0),
        span("0000000000000002", Some("0000000000000009"), "lost", 1),
    ]);
    assert!(
        message.contains("expected exactly one root, found 2"),
        "{message}"
    );
    assert!(message.contains("\"lost\""), "{message}");
}

#[test]
fn cycles_are_rejected() {
    let message = error_of(&[
        span("0000000000000001", None, "root", 0),
        span("0000000000000002", Some("0000000000000003"), "a", 1),
        span("0000000000000003", Some("0000000000000002"), "b", 2),
    ]);
    assert!(message.contains("cycle"), "{message}");
}

#[test]
fn several_traces_are_rejected() {
    let mut other = span("0000000000000002", None, "other", 0);
    other.trace_id = "5af7183fb1d4cf5f".into();
    let spans = [span("0000000000000001", None, "root", 0), other];
    assert!(error_of(&spans).contains("expected one trace, got 2"));
    let groups = tree::by_trace(&spans);
    assert_eq!(groups.len(), 2);
    assert!(groups.values().all(|g| single_tree(g).is_ok()));
}

#[test]
fn nothing_received_is_rejected() {
    assert!(error_of(&[]).contains("no spans received"));
}

#[test]
fn a_shared_server_span_is_one_node_with_its_client() {
    let mut client = span("0000000000000002", Some("0000000000000001"), "call", 1);
    client.kind = Some("CLIENT".into());
    let mut server = span("0000000000000002", Some("0000000000000001"), "handle", 2);
    server.kind = Some("SERVER".into());
    server.shared = true;
    server.local_endpoint = Some(ReceivedEndpoint {
        service_name: Some("backend".into()),
        ..Default::default()
    });
    let inner = span("0000000000000003", Some("0000000000000002"), "query", 3);
    // Server side arrives first: the client still becomes the node's main span.
    let spans = [
        inner,
        server.clone(),
        client.clone(),
        span("0000000000000001", None, "root", 0),
    ];
    let trace = assert_single_tree(&spans);
    assert_eq!(trace.len(), 3);
    assert_eq!(trace.get("0000000000000002"), Some(&client));
    assert_eq!(trace.shared_server("0000000000000002"), Some(&server));
    assert_eq!(trace.children_of(&client)[0].name.as_deref(), Some("query"));
    assert_eq!(trace.spans().len(), 4);
    assert_eq!(trace.by_service("backend"), [&server]);
    assert!(
        trace.render().contains("+ handle [backend] SERVER shared"),
        "{}",
        trace.render()
    );
}

#[test]
fn a_shared_span_must_be_a_server_with_its_clients_parent() {
    let client = span("0000000000000002", Some("0000000000000001"), "call", 1);
    let root = span("0000000000000001", None, "root", 0);

    let mut not_server = client.clone();
    not_server.shared = true;
    not_server.kind = Some("CLIENT".into());
    let message = error_of(&[root.clone(), client.clone(), not_server]);
    assert!(
        message.contains("is shared but its kind is Some(\"CLIENT\")"),
        "{message}"
    );

    let mut wrong_parent = client.clone();
    wrong_parent.shared = true;
    wrong_parent.kind = Some("SERVER".into());
    wrong_parent.parent_id = Some("0000000000000007".into());
    let message = error_of(&[root, client, wrong_parent]);
    assert!(message.contains("has parentId"), "{message}");
}

#[test]
fn a_duplicate_id_without_sharing_is_rejected() {
    let message = error_of(&[
        span("0000000000000001", None, "root", 0),
        span("0000000000000002", Some("0000000000000001"), "a", 1),
        span("0000000000000002", Some("0000000000000001"), "b", 2),
    ]);
    assert!(message.contains("appears twice"), "{message}");
}

#[test]
#[should_panic(expected = "expected exactly one root")]
fn assert_single_tree_panics_with_the_reason() {
    assert_single_tree(&[
        span("0000000000000001", None, "a", 0),
        span("0000000000000002", None, "b", 0),
    ]);
}

#[test]
fn assert_trees_checks_every_trace() {
    let mut other_root = span("0000000000000005", None, "other", 0);
    other_root.trace_id = "5af7183fb1d4cf5f".into();
    let good = [
        span("0000000000000001", None, "root", 1),
        other_root.clone(),
    ];
    let trees = tree::assert_trees(&good);
    assert_eq!(
        trees
            .iter()
            .map(|t| t.root().name_or_empty())
            .collect::<Vec<_>>(),
        ["other", "root"]
    );

    let mut orphan = span("0000000000000006", Some("0000000000000009"), "orphan", 2);
    orphan.trace_id = "5af7183fb1d4cf5f".into();
    let bad = [good[0].clone(), other_root, orphan];
    let panic =
        std::panic::catch_unwind(|| tree::assert_trees(&bad)).expect_err("one trace has two roots");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.starts_with("trace 5af7183fb1d4cf5f: expected exactly one root, found 2"),
        "{message}"
    );
}
