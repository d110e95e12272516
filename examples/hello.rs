//! The smallest complete program: `cargo run --example hello`.
//!
//! It traces one order through nested sync and async functions — one of them fails — and prints
//! the trace as a waterfall on stderr. With `OTEL_EXPORTER_ZIPKIN_ENDPOINT` set (for example
//! `http://localhost:9411/api/v2/spans` for a local Zipkin) it also sends the spans to Zipkin;
//! with `OTEL_TRACES_EXPORTER=otlp` and `OTEL_EXPORTER_OTLP_ENDPOINT` (for example
//! `http://localhost:4318` for a local Jaeger v2, Tempo or OpenTelemetry Collector) over OTLP.
//! Either way it says how many spans could not be delivered.
//!
//! The other standard variables apply as well: `OTEL_SERVICE_NAME`, `OTEL_TRACES_EXPORTER`,
//! `OTEL_TRACES_SAMPLER`, `TRACED_SPANS`, ... (see `traced::config`).

use std::fmt;
use std::time::Duration;

use traced::config::ExporterKind;
use traced::traced;

#[derive(Debug)]
struct OutOfStock {
    item: String,
}

impl fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is out of stock", self.item)
    }
}

impl std::error::Error for OutOfStock {}

/// The root of the trace: one span, with every call below as its children.
#[traced]
async fn checkout(cart: &[(&str, u32)]) -> u64 {
    let mut total = 0;
    for (item, count) in cart {
        match reserve(item, *count).await {
            Ok(cents) => total += cents,
            // The failure is on `reserve`'s span as an error tag; the checkout goes on.
            Err(_) => continue,
        }
    }
    total
}

#[traced]
async fn reserve(item: &str, count: u32) -> Result<u64, OutOfStock> {
    let available = stock_level(item).await;
    if available < count {
        return Err(OutOfStock {
            item: item.to_owned(),
        });
    }
    let cents = price(item, count);
    tracing::info!(available, cents, "reserved");
    Ok(cents)
}

#[traced]
async fn stock_level(item: &str) -> u32 {
    // Stands in for a database query.
    tokio::time::sleep(Duration::from_millis(2)).await;
    if item == "pears" {
        1
    } else {
        10
    }
}

#[traced]
fn price(item: &str, count: u32) -> u64 {
    let unit = if item == "apples" { 45 } else { 120 };
    unit * u64::from(count)
}

pub(crate) fn main() {
    // The waterfall always; a collector only when asked for (an endpoint variable or
    // `OTEL_TRACES_EXPORTER`, the library's default), so a run without a collector never waits
    // on the network.
    let builder = traced::builder()
        .shutdown_timeout(Duration::from_secs(3))
        .exporter(ExporterKind::Console);
    let collector = builder
        .config()
        .exporters()
        .iter()
        .any(|kind| matches!(kind, ExporterKind::Zipkin | ExporterKind::Otlp));
    let guard = builder.init();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let total = runtime.block_on(checkout(&[("apples", 3), ("pears", 2), ("plums", 1)]));
    println!("total: {total} cents");

    // Sends what is queued (within the 3 s deadline); the waterfall was printed when the trace
    // finished.
    let report = guard.shutdown();
    if collector {
        eprintln!(
            "hello: {} span(s) delivered to the collector, {} could not be delivered",
            report.stats.sent, report.undelivered
        );
    }
}
