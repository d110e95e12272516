//! The catalog service: the items for sale, in its own database, and which of them are in stock
//! (asked of the inventory service, with the trace context carried along).
//!
//! | request | answer |
//! |---|---|
//! | `POST /item {"name": "tea", "price": 4.5}` | `201 {"id": 1}` |
//! | `GET /item/{id}` | `200 {"id": 1, "name": "tea", "price": 4.5}` |
//! | `GET /available` | `200 [{"id": 1, "name": "tea", "price": 4.5, "stock": 10}]` |

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use traced::http::{ClientTrace, SendTraced, ServerLayer};
use traced::traced;

use super::api::{self, ApiError, JsonBody};
use super::db::{Db, DbError};
use super::inventory::Stock;

/// The service name the catalog reports its spans under.
pub const SERVICE: &str = "catalog";
/// The name its database has in traces (the remote service of the database spans).
pub const DB_SERVICE: &str = "catalog-db";
/// The catalog's tables.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    price REAL NOT NULL
);";

/// The longest item name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The body of `POST /item`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    /// What the item is called.
    pub name: String,
    /// Its price; not negative.
    pub price: f64,
}

/// The answer to `POST /item`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The new item's id.
    pub id: i64,
}

/// An item of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Its id.
    pub id: i64,
    /// What it is called.
    pub name: String,
    /// Its price.
    pub price: f64,
}

/// An item that is in stock, as `GET /available` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Available {
    /// The item's id.
    pub id: i64,
    /// What it is called.
    pub name: String,
    /// Its price.
    pub price: f64,
    /// How many are in stock (at least 1).
    pub stock: i64,
}

#[derive(Clone, Debug)]
struct Catalog {
    db: Db,
    client: reqwest::Client,
    inventory_url: String,
    inventory: ClientTrace,
}

/// The catalog's routes over `db`, asking the inventory service at `inventory_url` (e.g.
/// `http://127.0.0.1:8001`) about stock, with a SERVER span for every request.
pub fn router(db: Db, inventory_url: String) -> Router {
    let catalog = Catalog {
        db,
        client: reqwest::Client::new(),
        inventory_url,
        inventory: ClientTrace::new().peer_service(super::inventory::SERVICE),
    };
    Router::new()
        .route("/item", post(add_item))
        .route("/item/{id}", get(item))
        .route("/available", get(available))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::wrong_method)
        .with_state(catalog)
        .layer(ServerLayer::new().service_name(SERVICE))
}

async fn add_item(
    State(catalog): State<Catalog>,
    JsonBody(item): JsonBody<NewItem>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let name = item.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if !(item.price.is_finite() && item.price >= 0.0) {
        return Err(ApiError::invalid("price must not be negative"));
    }
    let id = insert_item(&catalog.db, name, item.price).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

async fn item(
    State(catalog): State<Catalog>,
    Path(id): Path<String>,
) -> Result<Json<Item>, ApiError> {
    let id = parse_id(&id)?;
    match find_item(&catalog.db, id).await? {
        Some(item) => Ok(Json(item)),
        None => Err(ApiError::not_found(format!("no item {id} in the catalog"))),
    }
}

/// An id from a path: a positive whole number.
fn parse_id(text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "item ids are positive whole numbers",
        )),
    }
}

async fn available(State(catalog): State<Catalog>) -> Result<Json<Vec<Available>>, ApiError> {
    let items = list_items(&catalog.db).await?;
    let stocks = stocks(&catalog).await?;
    let available = items
        .into_iter()
        .filter_map(|item| {
            let stock = stocks
                .iter()
                .find(|stock| stock.product_id == item.id)?
                .stock;
            (stock > 0).then_some(Available {
                id: item.id,
                name: item.name,
                price: item.price,
                stock,
            })
        })
        .collect();
    Ok(Json(available))
}

/// `GET /stocks` of the inventory, in a CLIENT span whose context travels in the headers.
async fn stocks(catalog: &Catalog) -> Result<Vec<Stock>, ApiError> {
    let url = format!("{}/stocks", catalog.inventory_url);
    let response = catalog
        .client
        .get(url)
        .send_traced_with(&catalog.inventory)
        .await
        .map_err(|_| ApiError::bad_gateway("the inventory service is unreachable"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError::bad_gateway(format!(
            "the inventory service answered {status}"
        )));
    }
    response
        .json()
        .await
        .map_err(|_| ApiError::bad_gateway("the inventory service answered something unreadable"))
}

// The database calls. Each is a CLIENT span whose remote service is the database, so Zipkin's
// dependency graph shows `catalog → catalog-db`.

const INSERT_ITEM: &str = "INSERT INTO items (name, price) VALUES (?1, ?2)";
const FIND_ITEM: &str = "SELECT id, name, price FROM items WHERE id = ?1";
const LIST_ITEMS: &str = "SELECT id, name, price FROM items ORDER BY id";

#[traced(
    kind = "client",
    skip(db),
    fields(
        db.system.name = "sqlite",
        peer.service = DB_SERVICE,
        db.operation.name = "INSERT",
        db.query.text = INSERT_ITEM,
    )
)]
async fn insert_item(db: &Db, name: &str, price: f64) -> Result<i64, DbError> {
    let name = name.to_owned();
    db.run(move |connection| {
        connection.execute(INSERT_ITEM, (name, price))?;
        Ok(connection.last_insert_rowid())
    })
    .await
}

#[traced(
    kind = "client",
    skip(db),
    fields(
        db.system.name = "sqlite",
        peer.service = DB_SERVICE,
        db.operation.name = "SELECT",
        db.query.text = FIND_ITEM,
    )
)]
async fn find_item(db: &Db, id: i64) -> Result<Option<Item>, DbError> {
    db.run(move |connection| {
        connection
            .query_row(FIND_ITEM, [id], |row| {
                Ok(Item {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    price: row.get(2)?,
                })
            })
            .optional()
    })
    .await
}

#[traced(
    kind = "client",
    skip(db),
    fields(
        db.system.name = "sqlite",
        peer.service = DB_SERVICE,
        db.operation.name = "SELECT",
        db.query.text = LIST_ITEMS,
    )
)]
async fn list_items(db: &Db) -> Result<Vec<Item>, DbError> {
    db.run(|connection| {
        let mut statement = connection.prepare_cached(LIST_ITEMS)?;
        let rows = statement.query_map([], |row| {
            Ok(Item {
                id: row.get(0)?,
                name: row.get(1)?,
                price: row.get(2)?,
            })
        })?;
        rows.collect()
    })
    .await
}
