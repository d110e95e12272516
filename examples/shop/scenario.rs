//! The scripted scenario `cargo run --example shop` plays: add items, fill stock, list what is
//! available, and two requests the inventory refuses.

use super::Shop;

/// Which service a step talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The catalog service.
    Catalog,
    /// The inventory service.
    Inventory,
}

impl Target {
    /// The service's name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Catalog => super::catalog::SERVICE,
            Target::Inventory => super::inventory::SERVICE,
        }
    }
}

/// One request of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// What the step shows.
    pub what: &'static str,
    /// The service asked.
    pub target: Target,
    /// The HTTP method.
    pub method: &'static str,
    /// The path.
    pub path: &'static str,
    /// The JSON body of a `POST`.
    pub body: Option<&'static str>,
}

/// The scenario, in order. Ids count from 1 in a fresh database.
pub const STEPS: &[Step] = &[
    Step {
        what: "add an item to the catalog",
        target: Target::Catalog,
        method: "POST",
        path: "/item",
        body: Some(r#"{"name": "tea", "price": 4.5}"#),
    },
    Step {
        what: "add another one",
        target: Target::Catalog,
        method: "POST",
        path: "/item",
        body: Some(r#"{"name": "coffee", "price": 7.25}"#),
    },
    Step {
        what: "put tea in stock (the inventory asks the catalog whether it exists)",
        target: Target::Inventory,
        method: "POST",
        path: "/fill",
        body: Some(r#"{"product_id": 1, "stock": 10}"#),
    },
    Step {
        what: "list the items in stock (the catalog asks the inventory)",
        target: Target::Catalog,
        method: "GET",
        path: "/available",
        body: None,
    },
    Step {
        what: "fail: fill stock for an item the catalog does not have",
        target: Target::Inventory,
        method: "POST",
        path: "/fill",
        body: Some(r#"{"product_id": 42, "stock": 3}"#),
    },
    Step {
        what: "fail: fill a negative count",
        target: Target::Inventory,
        method: "POST",
        path: "/fill",
        body: Some(r#"{"product_id": 2, "stock": -5}"#),
    },
];

/// What a step got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// The W3C baggage every request of the scenario carries, as a gateway in front of the shop
/// would add it: both services carry it on to each other, and a layer configured with
/// `baggage_tags([CUSTOMER_TIER])` (`TRACED_BAGGAGE_TAGS=customer.tier`) tags every span with it.
pub const BAGGAGE: &str = "customer.tier=gold";

/// The baggage key of [`BAGGAGE`].
pub const CUSTOMER_TIER: &str = "customer.tier";

/// Sends `step` to `shop` with `client` (a plain client: the trace starts at the service), with
/// the scenario's [`BAGGAGE`].
pub async fn send(client: &reqwest::Client, shop: &Shop, step: &Step) -> reqwest::Result<Answer> {
    let base = match step.target {
        Target::Catalog => shop.catalog_url(),
        Target::Inventory => shop.inventory_url(),
    };
    let url = format!("{base}{}", step.path);
    let method = reqwest::Method::from_bytes(step.method.as_bytes()).unwrap_or_default();
    let mut request = client.request(method, url).header("baggage", BAGGAGE);
    if let Some(body) = step.body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.text().await?;
    Ok(Answer { status, body })
}

/// Plays every step in order, calling `before` ahead of each request and `after` with its
/// answer; returns the answers.
pub async fn run(
    shop: &Shop,
    mut before: impl FnMut(&Step),
    mut after: impl FnMut(&Step, &Answer),
) -> reqwest::Result<Vec<Answer>> {
    let client = reqwest::Client::new();
    let mut answers = Vec::with_capacity(STEPS.len());
    for step in STEPS {
        before(step);
        let answer = send(&client, shop, step).await?;
        after(step, &answer);
        answers.push(answer);
    }
    Ok(answers)
}
