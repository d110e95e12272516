//! The shop: a catalog and an inventory service, each with its own SQLite database, traced
//! from the first request to the last query.
//!
//! ```text
//! cargo run --example shop            # play a short scenario, print each trace, exit
//! cargo run --example shop -- serve   # serve until Ctrl-C
//! ```
//!
//! Every trace is printed as a waterfall on stderr. With `OTEL_EXPORTER_ZIPKIN_ENDPOINT` set
//! (e.g. `http://localhost:9411/api/v2/spans`) the spans go to Zipkin as well.
//!
//! `serve` listens on `CATALOG_ADDR` (default `127.0.0.1:8000`) and `INVENTORY_ADDR` (default
//! `127.0.0.1:8001`); the databases live in `DATA_DIR`, or in a temporary directory removed at
//! exit. The services are in `shop/` (`catalog.rs`, `inventory.rs`, `db.rs`, `api.rs`).

use std::process::ExitCode;

use traced_examples::common::{self, Mode};
use traced_examples::shop::{self, scenario, Config, DataDir, Shop};

#[tokio::main]
async fn main() -> ExitCode {
    common::main("shop", run).await
}

async fn run(mode: Mode) -> Result<(), String> {
    let data = DataDir::from_env().map_err(|error| format!("no data directory: {error}"))?;
    let config = match mode {
        Mode::Scripted => Config::loopback(data.path()),
        Mode::Serve => Config {
            catalog_addr: common::addr_from_env("CATALOG_ADDR", "127.0.0.1:8000")?,
            inventory_addr: common::addr_from_env("INVENTORY_ADDR", "127.0.0.1:8001")?,
            data_dir: data.path().to_owned(),
        },
    };
    let shop = shop::start(&config).await?;
    let result = match mode {
        Mode::Scripted => play(&shop).await,
        Mode::Serve => {
            serve(&shop, &data).await;
            Ok(())
        }
    };
    shop.stop().await;
    result
}

/// Plays the scenario; each trace appears on stderr as its request finishes.
async fn play(shop: &Shop) -> Result<(), String> {
    println!(
        "catalog on {}, inventory on {}\n",
        shop.catalog_url(),
        shop.inventory_url()
    );
    scenario::run(
        shop,
        |step| {
            println!("# {}", step.what);
            match step.body {
                Some(body) => println!(
                    "→ {} {} {} {body}",
                    step.target.name(),
                    step.method,
                    step.path
                ),
                None => println!("→ {} {} {}", step.target.name(), step.method, step.path),
            }
        },
        |_, answer| println!("← {} {}\n", answer.status, answer.body),
    )
    .await
    .map(drop)
    .map_err(|error| format!("a request of the scenario failed: {error}"))
}

async fn serve(shop: &Shop, data: &DataDir) {
    let catalog = shop.catalog_url();
    let inventory = shop.inventory_url();
    println!("catalog   on {catalog}");
    println!("inventory on {inventory}");
    println!("databases in {}", data.path().display());
    println!();
    println!("try:");
    println!("  curl -X POST {catalog}/item -H 'content-type: application/json' -d '{{\"name\": \"tea\", \"price\": 4.5}}'");
    println!("  curl -X POST {inventory}/fill -H 'content-type: application/json' -d '{{\"product_id\": 1, \"stock\": 10}}'");
    println!("  curl {catalog}/available");
    println!();
    println!("Ctrl-C stops both services.");
    common::interrupted().await;
}
