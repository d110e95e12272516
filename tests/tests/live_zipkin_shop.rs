//! The shop's scenario (`cargo run --example shop`) reported to a real `zipkin-server` and read
//! back through Zipkin's own query API, as a user's browser would: the service lists, the
//! `GET /available` trace as one tree across both services, the failing requests found by tag
//! search, the dependency graph with its call and error counts, and autocompletion of a tag key.
//!
//! The server is the official jar from Maven Central, started by `traced_tests::ZipkinServer`
//! (version in `traced_tests::ZIPKIN_VERSION`); nothing here is our own reading of the spec.
//! Then a real browser (headless Chromium) opens Zipkin's own UI on the same data: the trace
//! page must show both services and the span count, and its screenshot and one of the
//! dependency graph are taken. `TRACED_UPDATE_SCREENSHOTS=1` writes them to `docs/` for the
//! README; otherwise they go to the target directory.

mod live_support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use live_support::play_shop;
use serde_json::Value;
use traced_tests::browser::Browser;
use traced_tests::{now_millis, ZipkinOptions, ZipkinServer};

const DEADLINE: Duration = Duration::from_secs(30);
/// Ten minutes back from now: every span of the test.
const LOOKBACK_MS: u64 = 600_000;

fn text<'a>(span: &'a Value, pointer: &str) -> Option<&'a str> {
    span.pointer(pointer).and_then(Value::as_str)
}

fn service(span: &Value) -> Option<&str> {
    text(span, "/localEndpoint/serviceName")
}

fn remote(span: &Value) -> Option<&str> {
    text(span, "/remoteEndpoint/serviceName")
}

fn describe(spans: &[Value]) -> String {
    serde_json::to_string_pretty(spans).unwrap_or_default()
}

/// The one span of `spans` with this name and service.
fn the<'a>(spans: &'a [Value], name: &str, in_service: &str) -> &'a Value {
    let matching: Vec<&Value> = spans
        .iter()
        .filter(|span| text(span, "/name") == Some(name) && service(span) == Some(in_service))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one {name:?} span in {in_service}: {}",
        describe(spans)
    );
    matching[0]
}

fn query(zipkin: &ZipkinServer, path: &str, minimum: usize) -> Vec<Value> {
    match zipkin.wait_for_list(path, minimum, DEADLINE) {
        Value::Array(items) => items,
        other => panic!("{path}: not a list: {other}\n{}", zipkin.log_tail()),
    }
}

fn window() -> String {
    format!("endTs={}&lookback={LOOKBACK_MS}", now_millis())
}

/// One Zipkin holding the scenario's traces, shared by the tests of this file (which only read).
fn shop_in_zipkin() -> &'static (ZipkinServer, u64) {
    static SHOP: OnceLock<(ZipkinServer, u64)> = OnceLock::new();
    SHOP.get_or_init(|| {
        let zipkin = ZipkinServer::start_with(
            ZipkinOptions::default().env("AUTOCOMPLETE_KEYS", "http.route"),
        );
        let sent = play_shop(zipkin.spans_endpoint());
        (zipkin, sent)
    })
}

/// The `GET /available` trace's id, found by service and span name as the UI searches.
fn available_trace(zipkin: &ZipkinServer) -> String {
    let found = query(
        zipkin,
        &format!(
            "/api/v2/traces?serviceName=catalog&spanName=get%20/available&{}",
            window()
        ),
        1,
    );
    assert_eq!(found.len(), 1, "one /available trace");
    found[0][0]["traceId"]
        .as_str()
        .expect("a trace id")
        .to_owned()
}

#[test]
fn zipkin_shows_the_shop_as_a_user_would_see_it() {
    let (zipkin, sent) = shop_in_zipkin();
    let (zipkin, sent) = (zipkin, *sent);

    // Every span we sent is stored: six traces (one per request), `sent` spans in all.
    let traces = query(zipkin, &format!("/api/v2/traces?{}&limit=100", window()), 6);
    assert_eq!(traces.len(), 6, "one trace per request");
    let stored: usize = traces
        .iter()
        .map(|trace| trace.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(stored as u64, sent, "every span sent is stored");

    // The service lists: both services locally, their databases (and each other) remotely.
    assert_eq!(
        zipkin.get("/api/v2/services").expect("services"),
        serde_json::json!(["catalog", "inventory"])
    );
    assert_eq!(
        zipkin
            .get("/api/v2/remoteServices?serviceName=catalog")
            .expect("catalog's remote services"),
        serde_json::json!(["catalog-db", "inventory"])
    );
    assert_eq!(
        zipkin
            .get("/api/v2/remoteServices?serviceName=inventory")
            .expect("inventory's remote services"),
        serde_json::json!(["catalog", "inventory-db"])
    );

    // `GET /available` is one trace of five spans across both services.
    let trace_id = available_trace(zipkin);
    let spans = zipkin.trace(&trace_id);
    assert_eq!(spans.len(), 5, "{}", describe(&spans));

    let server = the(&spans, "get /available", "catalog");
    let query_items = the(&spans, "list_items", "catalog");
    let call = the(&spans, "get", "catalog");
    let stocks = the(&spans, "get /stocks", "inventory");
    let query_stocks = the(&spans, "list_stocks", "inventory");

    // Kinds, parents and the service at the other end, as Zipkin's UI draws them.
    assert_eq!(server["kind"], "SERVER");
    assert!(server.get("parentId").is_none(), "the root has no parent");
    for (child, parent) in [
        (query_items, server),
        (call, server),
        (stocks, call),
        (query_stocks, stocks),
    ] {
        assert_eq!(
            child["parentId"], parent["id"],
            "{} under {}",
            child["name"], parent["name"]
        );
    }
    assert_eq!(
        (query_items["kind"].as_str(), remote(query_items)),
        (Some("CLIENT"), Some("catalog-db"))
    );
    assert_eq!(
        (call["kind"].as_str(), remote(call)),
        (Some("CLIENT"), Some("inventory"))
    );
    assert_eq!(stocks["kind"], "SERVER");
    assert_eq!(
        (query_stocks["kind"].as_str(), remote(query_stocks)),
        (Some("CLIENT"), Some("inventory-db"))
    );
    assert_eq!(stocks["tags"]["http.route"], "/stocks");
    assert_eq!(query_stocks["tags"]["db.system.name"], "sqlite");
    // Time nests: the inventory's server span lies within the catalog's call to it.
    let start = |span: &Value| span["timestamp"].as_u64().expect("a timestamp");
    let end = |span: &Value| start(span) + span["duration"].as_u64().expect("a duration");
    assert!(start(call) <= start(stocks) && end(stocks) <= end(call));

    // The two failing requests are what Zipkin's tag search for `error` finds.
    let failed = query(
        zipkin,
        &format!("/api/v2/traces?annotationQuery=error&{}", window()),
        2,
    );
    let mut failures: Vec<(String, String)> = failed
        .iter()
        .map(|trace| {
            let spans = trace.as_array().expect("a trace");
            let root = spans
                .iter()
                .find(|span| span.get("parentId").is_none())
                .expect("a root");
            (
                text(root, "/name").unwrap_or_default().to_owned(),
                text(root, "/tags/error").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    failures.sort();
    assert_eq!(
        failures,
        [
            (
                "post /fill".to_owned(),
                "product 42 is not in the catalog".to_owned()
            ),
            (
                "post /fill".to_owned(),
                "stock must not be negative".to_owned()
            ),
        ]
    );

    // The dependency graph, with the counts the scenario makes:
    // - catalog → catalog-db: two `POST /item`, the catalog's `GET /item/1` and `GET /item/42`
    //   lookups for the inventory's two fills, and `GET /available`'s listing: 5 queries;
    // - catalog → inventory: `GET /available` asks for the stocks once;
    // - inventory → catalog: the two fills ask whether the product exists; the one for 42
    //   fails (404, an error on the catalog's server span);
    // - inventory → inventory-db: the fill of tea writes, `/stocks` reads: 2. The negative
    //   fill is refused before any query.
    let mut links = query(zipkin, &format!("/api/v2/dependencies?{}", window()), 4);
    links.sort_by_key(|link| (link["parent"].to_string(), link["child"].to_string()));
    let links: Vec<(String, String, u64, u64)> = links
        .iter()
        .map(|link| {
            (
                link["parent"].as_str().unwrap_or_default().to_owned(),
                link["child"].as_str().unwrap_or_default().to_owned(),
                link["callCount"].as_u64().unwrap_or_default(),
                link["errorCount"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let link = |parent: &str, child: &str, calls, errors| {
        (parent.to_owned(), child.to_owned(), calls, errors)
    };
    assert_eq!(
        links,
        [
            link("catalog", "catalog-db", 5, 0),
            link("catalog", "inventory", 1, 0),
            link("inventory", "catalog", 2, 1),
            link("inventory", "inventory-db", 2, 0),
        ]
    );

    // A configured autocomplete key offers every route the scenario hit.
    assert_eq!(
        zipkin.get("/api/v2/autocompleteKeys").expect("keys"),
        serde_json::json!(["http.route"])
    );
    assert_eq!(
        zipkin
            .get("/api/v2/autocompleteValues?key=http.route")
            .expect("values"),
        serde_json::json!(["/available", "/fill", "/item", "/item/{id}", "/stocks"])
    );
}

/// Where a screenshot goes: `docs/` with `TRACED_UPDATE_SCREENSHOTS=1`, else the target dir.
fn screenshot_path(name: &str) -> PathBuf {
    if std::env::var_os("TRACED_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(name)
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
    }
}

#[test]
fn the_zipkin_ui_shows_the_trace_and_the_dependency_graph() {
    let (zipkin, _) = shop_in_zipkin();
    let trace_id = available_trace(zipkin);
    let browser = Browser::start();

    // The trace page: Zipkin's waterfall of `GET /available`.
    browser.open(&format!("{}/zipkin/traces/{trace_id}", zipkin.base_url()));
    let text = browser.wait_for_text("inventory-db: list_stocks", DEADLINE);
    let shown: Vec<&str> = text.lines().map(str::trim).collect();
    let after = |label: &str| {
        shown
            .iter()
            .position(|line| *line == label)
            .and_then(|at| shown.get(at + 1).copied())
            .unwrap_or_else(|| panic!("no {label:?} on the page:\n{text}"))
    };
    // Two instrumented services and their two databases; five spans in one trace.
    assert_eq!(after("Services"), "4", "{text}");
    assert_eq!(after("Total Spans"), "5", "{text}");
    assert_eq!(after("Trace ID"), trace_id, "{text}");
    for row in [
        "catalog: get /available",
        "catalog-db: list_items",
        "catalog: get",
        "inventory: get /stocks",
        "inventory-db: list_stocks",
    ] {
        assert!(shown.contains(&row), "the waterfall shows {row:?}:\n{text}");
    }
    browser.screenshot(&screenshot_path("zipkin-trace.png"));

    // The dependency page, queried as a person would: open it, press "Run query".
    browser.open(&format!("{}/zipkin/dependency", zipkin.base_url()));
    browser.wait_for_text("RUN QUERY", DEADLINE);
    browser.click_button("run query");
    // The graph is drawn; the page leaves its "select the start and end time" prompt.
    let started = std::time::Instant::now();
    while browser
        .text()
        .contains("Please select the start and end time")
    {
        assert!(
            started.elapsed() < DEADLINE,
            "the dependency query never ran"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2)); // the graph's layout animation settles
    browser.screenshot(&screenshot_path("zipkin-dependencies.png"));
}
