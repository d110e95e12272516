//! The inventory service: how many of each catalog item are in stock, in its own database.
//!
//! | request | answer |
//! |---|---|
//! | `POST /fill {"product_id": 1, "stock": 10}` | `200 {"product_id": 1, "stock": 10}` (the new total) |
//! | `GET /stocks` | `200 [{"product_id": 1, "stock": 10}]` |
//!
//! Filling checks with the catalog (`GET /item/{id}`, traced) that the product exists.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use traced::http::{ClientTrace, SendTraced, ServerLayer};
use traced::traced;

use super::api::{self, ApiError, JsonBody};
use super::db::{Db, DbError};

/// The service name the inventory reports its spans under.
pub const SERVICE: &str = "inventory";
/// The name its database has in traces (the remote service of the database spans).
pub const DB_SERVICE: &str = "inventory-db";
/// The inventory's tables.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS stocks (
    product_id INTEGER PRIMARY KEY,
    stock INTEGER NOT NULL
);";

/// The most one `POST /fill` may add, so totals stay far from overflowing.
pub const MAX_FILL: i64 = 1_000_000;

/// The body of `POST /fill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The catalog item's id.
    pub product_id: i64,
    /// How many to add; not negative.
    pub stock: i64,
}

/// How many of a product are in stock: the answer to `POST /fill` (with the new total) and the
/// elements of `GET /stocks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    /// The catalog item's id.
    pub product_id: i64,
    /// How many are in stock.
    pub stock: i64,
}

#[derive(Clone, Debug)]
struct Inventory {
    db: Db,
    client: reqwest::Client,
    catalog_url: String,
    catalog: ClientTrace,
}

/// The inventory's routes over `db`, checking products with the catalog service at
/// `catalog_url` (e.g. `http://127.0.0.1:8000`), with a SERVER span for every request.
pub fn router(db: Db, catalog_url: String) -> Router {
    let inventory = Inventory {
        db,
        client: reqwest::Client::new(),
        catalog_url,
        catalog: ClientTrace::new().peer_service(super::catalog::SERVICE),
    };
    Router::new()
        .route("/fill", post(fill))
        .route("/stocks", get(stocks))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::wrong_method)
        .with_state(inventory)
        .layer(ServerLayer::new().service_name(SERVICE))
}

async fn fill(
    State(inventory): State<Inventory>,
    JsonBody(fill): JsonBody<Fill>,
) -> Result<Json<Stock>, ApiError> {
    if fill.product_id < 1 {
        return Err(ApiError::invalid("product_id must be a positive id"));
    }
    if fill.stock < 0 {
        return Err(ApiError::invalid("stock must not be negative"));
    }
    if fill.stock > MAX_FILL {
        return Err(ApiError::invalid(format!(
            "stock must be at most {MAX_FILL} per fill"
        )));
    }
    check_product(&inventory, fill.product_id).await?;
    let total = add_stock(&inventory.db, fill.product_id, fill.stock).await?;
    Ok(Json(Stock {
        product_id: fill.product_id,
        stock: total,
    }))
}

/// Asks the catalog whether `product_id` exists.
async fn check_product(inventory: &Inventory, product_id: i64) -> Result<(), ApiError> {
    let url = format!("{}/item/{product_id}", inventory.catalog_url);
    let response = inventory
        .client
        .get(url)
        .send_traced_with(&inventory.catalog)
        .await
        .map_err(|_| ApiError::bad_gateway("the catalog service is unreachable"))?;
    match response.status() {
        status if status.is_success() => Ok(()),
        StatusCode::NOT_FOUND => Err(ApiError::not_found(format!(
            "product {product_id} is not in the catalog"
        ))),
        status => Err(ApiError::bad_gateway(format!(
            "the catalog service answered {status}"
        ))),
    }
}

async fn stocks(State(inventory): State<Inventory>) -> Result<Json<Vec<Stock>>, ApiError> {
    Ok(Json(list_stocks(&inventory.db).await?))
}

// The database calls: CLIENT spans whose remote service is the database.

const ADD_STOCK: &str = "INSERT INTO stocks (product_id, stock) VALUES (?1, ?2) \
     ON CONFLICT (product_id) DO UPDATE SET stock = stock + excluded.stock RETURNING stock";
const LIST_STOCKS: &str = "SELECT product_id, stock FROM stocks ORDER BY product_id";

#[traced(
    kind = "client",
    skip(db),
    fields(
        db.system.name = "sqlite",
        peer.service = DB_SERVICE,
        db.operation.name = "INSERT",
        db.query.text = ADD_STOCK,
    )
)]
async fn add_stock(db: &Db, product_id: i64, stock: i64) -> Result<i64, DbError> {
    db.run(move |connection| connection.query_row(ADD_STOCK, (product_id, stock), |row| row.get(0)))
        .await
}

#[traced(
    kind = "client",
    skip(db),
    fields(
        db.system.name = "sqlite",
        peer.service = DB_SERVICE,
        db.operation.name = "SELECT",
        db.query.text = LIST_STOCKS,
    )
)]
async fn list_stocks(db: &Db) -> Result<Vec<Stock>, DbError> {
    db.run(|connection| {
        let mut statement = connection.prepare_cached(LIST_STOCKS)?;
        let rows = statement.query_map([], |row| {
            Ok(Stock {
                product_id: row.get(0)?,
                stock: row.get(1)?,
            })
        })?;
        rows.collect()
    })
    .await
}
