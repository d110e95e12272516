//! The shop example's scripted scenario (`cargo run --example shop`), reported to the test
//! receiver: one tree per request, every span filed under the right service, the database as a
//! remote service, errors tagged where requests fail — and not one violation of the Zipkin spec.

mod shop_support;

use std::collections::BTreeMap;

use shop_support::{describe, names, Reported, PROCESS_SERVICE};
use traced::semconv;
use traced_examples::shop::{self, scenario, Config, DataDir};
use traced_tests::tree::{self, TraceTree};
use traced_tests::ReceivedSpan;

/// The scenario's answers and each request's trace, keyed by the scenario step.
struct Played {
    statuses: Vec<u16>,
    bodies: Vec<String>,
    /// One tree per step, in step order (matched by the root's `url.path` and status).
    traces: Vec<TraceTree>,
}

fn play() -> Played {
    let reported = Reported::start();
    let data = DataDir::temporary().expect("a temporary directory");
    let answers = reported.block_on(async {
        let shop = shop::start(&Config::loopback(data.path()))
            .await
            .expect("the shop starts");
        let answers = scenario::run(&shop, |_| {}, |_, _| {}).await;
        shop.stop().await;
        answers.expect("every request of the scenario is answered")
    });
    let (_receiver, spans) = reported.finish();

    let mut trees: Vec<TraceTree> = tree::by_trace(&spans)
        .values()
        .map(|spans| tree::assert_single_tree(spans))
        .collect();
    assert_eq!(
        trees.len(),
        scenario::STEPS.len(),
        "one trace per request:\n{}",
        tree::render_spans(&spans)
    );
    // Requests were sequential: their roots started in step order.
    trees.sort_by_key(|tree| tree.root().timestamp);
    Played {
        statuses: answers.iter().map(|answer| answer.status).collect(),
        bodies: answers.into_iter().map(|answer| answer.body).collect(),
        traces: trees,
    }
}

/// Checks the span's kind, its service and the service at its other end.
fn assert_span(span: &ReceivedSpan, kind: Option<&str>, service: &str, remote: Option<&str>) {
    assert_eq!(
        (span.kind.as_deref(), span.service(), span.remote_service()),
        (kind, Some(service), remote),
        "{}",
        describe(span)
    );
}

#[test]
fn the_scenario_gives_one_exact_trace_per_request() {
    let played = play();
    assert_eq!(
        played.statuses,
        [201, 201, 200, 200, 404, 422],
        "{:?}",
        played.bodies
    );
    assert_eq!(
        played.bodies[3],
        r#"[{"id":1,"name":"tea","price":4.5,"stock":10}]"#
    );

    // Every step's trace starts at the service it asked, and the root carries the answer.
    for ((step, trace), status) in scenario::STEPS
        .iter()
        .zip(&played.traces)
        .zip(&played.statuses)
    {
        let root = trace.root();
        assert_eq!(root.parent_id, None, "{}", trace.render());
        assert_span(root, Some("SERVER"), step.target.name(), None);
        assert_eq!(root.tag(semconv::URL_PATH), Some(step.path));
        assert_eq!(
            root.tag(semconv::HTTP_RESPONSE_STATUS_CODE),
            Some(&*status.to_string())
        );
        for span in trace.spans() {
            assert_ne!(span.service(), Some(PROCESS_SERVICE), "{}", trace.render());
        }
    }

    // POST /item: the catalog and its database.
    for trace in &played.traces[..2] {
        let root = trace.root();
        let children = trace.children_of(root);
        assert_eq!(
            names(children.iter().copied()),
            ["insert_item"],
            "{}",
            trace.render()
        );
        assert_span(children[0], Some("CLIENT"), "catalog", Some("catalog-db"));
        assert_eq!(children[0].tag(semconv::DB_SYSTEM_NAME), Some("sqlite"));
        assert_eq!(children[0].tag(semconv::DB_OPERATION_NAME), Some("INSERT"));
        assert!(
            !trace.spans().iter().any(|span| span.is_error()),
            "{}",
            trace.render()
        );
    }

    // POST /fill: the inventory checks the product with the catalog, then writes its stock.
    let fill = &played.traces[2];
    let children = fill.children_of(fill.root());
    assert_eq!(
        names(children.iter().copied()),
        ["get", "add_stock"],
        "{}",
        fill.render()
    );
    assert_span(children[0], Some("CLIENT"), "inventory", Some("catalog"));
    assert_span(
        children[1],
        Some("CLIENT"),
        "inventory",
        Some("inventory-db"),
    );
    assert_eq!(children[1].tag("stock"), Some("10"));
    let catalog = fill.children_of(children[0]);
    assert_eq!(
        names(catalog.iter().copied()),
        ["get /item/{id}"],
        "{}",
        fill.render()
    );
    assert_span(catalog[0], Some("SERVER"), "catalog", None);
    let lookup = fill.children_of(catalog[0]);
    assert_eq!(
        names(lookup.iter().copied()),
        ["find_item"],
        "{}",
        fill.render()
    );
    assert_span(lookup[0], Some("CLIENT"), "catalog", Some("catalog-db"));
    assert_eq!(fill.len(), 5, "{}", fill.render());

    assert_eq!(
        played.traces[0].find("insert_item").unwrap().tag("name"),
        Some("tea")
    );
    assert_eq!(
        played.traces[1].find("insert_item").unwrap().tag("price"),
        Some("7.25")
    );
}

#[test]
fn available_is_one_tree_across_catalog_inventory_and_both_databases() {
    let played = play();
    let trace = &played.traces[3];
    assert_eq!(trace.len(), 5, "{}", trace.render());

    let server = trace.root();
    assert_eq!(server.name_or_empty(), "get /available");
    assert_span(server, Some("SERVER"), "catalog", None);

    let children = trace.children_of(server);
    assert_eq!(
        names(children.iter().copied()),
        ["list_items", "get"],
        "{}",
        trace.render()
    );
    let (query, client) = (children[0], children[1]);
    assert_span(query, Some("CLIENT"), "catalog", Some("catalog-db"));
    assert_eq!(query.tag(semconv::DB_SYSTEM_NAME), Some("sqlite"));
    assert_eq!(query.tag(semconv::DB_OPERATION_NAME), Some("SELECT"));
    assert!(query
        .tag(semconv::DB_QUERY_TEXT)
        .is_some_and(|sql| sql.starts_with("SELECT")));
    assert_eq!(
        query.tag("db.statement"),
        None,
        "the old names are not emitted"
    );
    assert_span(client, Some("CLIENT"), "catalog", Some("inventory"));
    assert_eq!(client.tag(semconv::HTTP_RESPONSE_STATUS_CODE), Some("200"));

    // The context crossed the HTTP call: inventory's server span is the client span's child.
    let remote = trace.children_of(client);
    assert_eq!(
        names(remote.iter().copied()),
        ["get /stocks"],
        "{}",
        trace.render()
    );
    let inventory = remote[0];
    assert_span(inventory, Some("SERVER"), "inventory", None);
    assert!(!inventory.shared);

    let inner = trace.children_of(inventory);
    assert_eq!(
        names(inner.iter().copied()),
        ["list_stocks"],
        "{}",
        trace.render()
    );
    assert_span(inner[0], Some("CLIENT"), "inventory", Some("inventory-db"));
    assert!(trace.children_of(inner[0]).is_empty());

    assert!(
        !trace.spans().iter().any(|span| span.is_error()),
        "{}",
        trace.render()
    );
    assert_eq!(
        trace.by_service("catalog").len() + trace.by_service("inventory").len(),
        5
    );
}

#[test]
fn failing_requests_carry_error_tags() {
    let played = play();

    // Unknown product: inventory asks the catalog, which answers 404; both servers are errors.
    let unknown = &played.traces[4];
    let root = unknown.root();
    assert_eq!(
        root.tag("error"),
        Some("product 42 is not in the catalog"),
        "{}",
        unknown.render()
    );
    let catalog = unknown.expect("get /item/{id}");
    assert_span(catalog, Some("SERVER"), "catalog", None);
    assert_eq!(catalog.tag(semconv::HTTP_RESPONSE_STATUS_CODE), Some("404"));
    assert_eq!(catalog.tag("error"), Some("no item 42 in the catalog"));
    assert_eq!(catalog.tag(semconv::URL_PATH), Some("/item/42"));
    // The lookup itself worked: it found nothing.
    assert!(!unknown.expect("find_item").is_error());
    // Stock was never touched.
    assert!(unknown.find("add_stock").is_none(), "{}", unknown.render());
    assert_eq!(
        played.bodies[4],
        r#"{"error":"product 42 is not in the catalog"}"#
    );

    // Negative count: refused before any other work.
    let negative = &played.traces[5];
    assert_eq!(negative.len(), 1, "{}", negative.render());
    assert_eq!(
        negative.root().tag("error"),
        Some("stock must not be negative")
    );
    assert_eq!(
        negative.root().tag(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some("422")
    );

    // The successful requests have no error anywhere.
    let errors: BTreeMap<usize, usize> = played
        .traces
        .iter()
        .enumerate()
        .map(|(step, trace)| (step, trace.spans().iter().filter(|s| s.is_error()).count()))
        .collect();
    assert_eq!(
        errors,
        BTreeMap::from([(0, 0), (1, 0), (2, 0), (3, 0), (4, 2), (5, 1)])
    );
}
