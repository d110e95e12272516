//! Bad input to the shop's services is answered 4xx with a JSON error and an `error` tag on the
//! request's SERVER span — never a 500; a broken database is a 500 with the cause on the
//! database span.

use std::time::{Duration, Instant};

use traced::model::{Kind, SpanRecord, TagValue};
use traced::semconv;
use traced::testing::Capture;
use traced_examples::shop::db::Db;
use traced_examples::shop::{self, Config, DataDir, Shop};
use traced_tests::fixtures::tag_u64;

/// One request and the status it must get.
struct Case {
    what: &'static str,
    service: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
}

fn case(
    what: &'static str,
    service: &'static str,
    method: &'static str,
    path: &'static str,
    body: &str,
    status: u16,
) -> Case {
    Case {
        what,
        service,
        method,
        path,
        content_type: Some("application/json"),
        body: body.to_owned(),
        status,
    }
}

fn cases() -> Vec<Case> {
    const CATALOG: &str = "catalog";
    const INVENTORY: &str = "inventory";
    let mut cases = vec![
        case(
            "truncated JSON",
            CATALOG,
            "POST",
            "/item",
            r#"{"name": "tea", "price": "#,
            400,
        ),
        case("not JSON", CATALOG, "POST", "/item", "tea for 4.5", 400),
        case("empty body", CATALOG, "POST", "/item", "", 400),
        case(
            "missing price",
            CATALOG,
            "POST",
            "/item",
            r#"{"name": "tea"}"#,
            422,
        ),
        case(
            "missing name",
            CATALOG,
            "POST",
            "/item",
            r#"{"price": 1}"#,
            422,
        ),
        case(
            "price as text",
            CATALOG,
            "POST",
            "/item",
            r#"{"name": "tea", "price": "cheap"}"#,
            422,
        ),
        case("an array", CATALOG, "POST", "/item", "[1, 2]", 422),
        case(
            "negative price",
            CATALOG,
            "POST",
            "/item",
            r#"{"name": "tea", "price": -1}"#,
            422,
        ),
        case(
            "blank name",
            CATALOG,
            "POST",
            "/item",
            r#"{"name": "  ", "price": 1}"#,
            422,
        ),
        case("id not a number", CATALOG, "GET", "/item/tea", "", 400),
        case("negative id", CATALOG, "GET", "/item/-3", "", 400),
        case("unknown item", CATALOG, "GET", "/item/999", "", 404),
        case("unknown endpoint", CATALOG, "GET", "/items", "", 404),
        case("wrong method", CATALOG, "GET", "/item", "", 405),
        case(
            "missing stock",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": 1}"#,
            422,
        ),
        case(
            "missing product",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"stock": 1}"#,
            422,
        ),
        case(
            "negative stock",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": 1, "stock": -5}"#,
            422,
        ),
        case(
            "fractional stock",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": 1, "stock": 1.5}"#,
            422,
        ),
        case(
            "huge stock",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": 1, "stock": 1e30}"#,
            422,
        ),
        case(
            "too much stock",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": 1, "stock": 1000001}"#,
            422,
        ),
        case(
            "negative product id",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": -1, "stock": 1}"#,
            422,
        ),
        case(
            "unknown product id",
            INVENTORY,
            "POST",
            "/fill",
            r#"{"product_id": 999, "stock": 1}"#,
            404,
        ),
        case("unknown endpoint", INVENTORY, "POST", "/stock", "{}", 404),
        case("wrong method", INVENTORY, "DELETE", "/stocks", "", 405),
    ];
    let mut wrong_type = case(
        "text/plain",
        CATALOG,
        "POST",
        "/item",
        r#"{"name": "tea", "price": 1}"#,
        415,
    );
    wrong_type.content_type = Some("text/plain");
    cases.push(wrong_type);
    let mut no_type = case(
        "no content type",
        INVENTORY,
        "POST",
        "/fill",
        r#"{"product_id": 1, "stock": 1}"#,
        415,
    );
    no_type.content_type = None;
    cases.push(no_type);
    // Larger than axum's default 2 MB body limit.
    let name = "a".repeat(3 * 1024 * 1024);
    cases.push(case(
        "body too large",
        CATALOG,
        "POST",
        "/item",
        &format!(r#"{{"name": "{name}", "price": 1}}"#),
        413,
    ));
    cases
}

fn url(shop: &Shop, service: &str, path: &str) -> String {
    match service {
        "catalog" => format!("{}{path}", shop.catalog_url()),
        _ => format!("{}{path}", shop.inventory_url()),
    }
}

/// Waits (bounded) for the root SERVER span of the request to `path`: it closes as the answer
/// goes out, which may be a moment after the client has it.
fn root_server_span(capture: &Capture, path: &str) -> Option<SpanRecord> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let root = capture.spans().into_iter().find(|span| {
            span.parent_id.is_none()
                && span.kind == Some(Kind::Server)
                && span.tag(semconv::URL_PATH).and_then(TagValue::as_str) == Some(path)
        });
        if root.is_some() || Instant::now() > deadline {
            return root;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bad_input_is_a_4xx_json_error_with_an_error_tag() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    let data = DataDir::temporary().expect("a temporary directory");
    let mut failures = Vec::new();
    runtime.block_on(async {
        let shop = shop::start(&Config::loopback(data.path()))
            .await
            .expect("the shop starts");
        let client = reqwest::Client::new();
        // Item 1 exists, so only the case under test is wrong.
        let created = client
            .post(format!("{}/item", shop.catalog_url()))
            .header("content-type", "application/json")
            .body(r#"{"name": "tea", "price": 4.5}"#)
            .send()
            .await
            .expect("the catalog answers");
        assert_eq!(created.status(), 201);

        for case in cases() {
            capture.clear();
            let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
            let mut request = client
                .request(method, url(&shop, case.service, case.path))
                .body(case.body.clone());
            if let Some(content_type) = case.content_type {
                request = request.header("content-type", content_type);
            }
            let mut problems = Vec::new();
            let mut message = None;
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    let body = response.text().await.unwrap_or_default();
                    let json: Option<serde_json::Value> = serde_json::from_str(&body).ok();
                    message = json
                        .as_ref()
                        .and_then(|json| json.get("error"))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned);
                    if status != case.status {
                        problems.push(format!("status {status}, expected {}", case.status));
                    }
                    if content_type.as_deref() != Some("application/json") {
                        problems.push(format!("content type {content_type:?}"));
                    }
                    if message.as_deref().is_none_or(str::is_empty) {
                        problems.push(format!("no JSON error message in {body:.200}"));
                    }
                }
                // A body over the limit is answered before it is all read and the connection
                // closed; the client may see the reset before the answer. The server span
                // still says what was answered.
                Err(_) if case.status == 413 => {}
                Err(error) => problems.push(format!("no answer: {error}")),
            }
            match root_server_span(&capture, case.path) {
                None => problems.push("no SERVER span".to_owned()),
                Some(span) => {
                    if span.service_name.as_deref() != Some(case.service) {
                        problems.push(format!("span of service {:?}", span.service_name));
                    }
                    if tag_u64(&span, semconv::HTTP_RESPONSE_STATUS_CODE)
                        != Some(u64::from(case.status))
                    {
                        problems.push(format!(
                            "span status {:?}",
                            span.tag(semconv::HTTP_RESPONSE_STATUS_CODE)
                        ));
                    }
                    let tagged = span.error().filter(|error| !error.is_empty());
                    if tagged.is_none() || (message.is_some() && tagged != message.as_deref()) {
                        problems.push(format!(
                            "span error tag {:?}, answer {message:?}",
                            span.error()
                        ));
                    }
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} {} {} ({}): {}",
                    case.service,
                    case.method,
                    case.path,
                    case.what,
                    problems.join("; ")
                ));
            }
        }
        shop.stop().await;
    });
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_database_failure_is_a_500_with_the_cause_on_the_database_span() {
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    let data = DataDir::temporary().expect("a temporary directory");
    let (status, body) = runtime.block_on(async {
        let shop = shop::start(&Config::loopback(data.path()))
            .await
            .expect("the shop starts");
        // Another connection drops the table under the running service.
        Db::open(&data.path().join("inventory.db"), "DROP TABLE stocks")
            .expect("the table can be dropped");
        let response = reqwest::get(format!("{}/stocks", shop.inventory_url()))
            .await
            .expect("the inventory answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        shop.stop().await;
        (status, body)
    });
    drop(runtime);

    assert_eq!(status, 500);
    assert_eq!(
        body, r#"{"error":"database error"}"#,
        "no detail leaks to the caller"
    );
    let server = capture.span("GET /stocks");
    assert!(server.error().is_some(), "{server:#?}");
    assert_eq!(
        tag_u64(&server, semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(500)
    );
    let query = capture.span("list_stocks");
    assert_eq!(query.parent_id, Some(server.id));
    assert!(
        query
            .error()
            .is_some_and(|error| error.contains("no such table: stocks")),
        "{query:#?}"
    );
}
