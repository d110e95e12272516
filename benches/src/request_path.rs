//! What tracing costs one request of a real service on the service's side, counted in
//! instructions, so it does not move with the load on the machine: the service table's CPU per
//! request says how much time tracing adds; this says where it goes.
//!
//! Two forms:
//! - `trivial`: the trivial service of `service.rs` (`GET /hello` behind `ServerLayer`, or
//!   fastrace's middleware) called in a loop without sockets, so callgrind counts the request
//!   path alone (`--toggle-collect='*request_loop*'`). Each request is what the load generator
//!   sends (`GET /hello`, `Host: bench`), with the peer address axum's `ConnectInfo` gives a
//!   served router.
//! - `available`: the shop's `GET /available` over a keep-alive loopback connection, as the
//!   load generator sends it. The shop calls its inventory over HTTP and its databases from the
//!   blocking pool, on other threads than the loop's, so callgrind counts the whole process
//!   (no toggle): the cost per request is the difference between two runs of different lengths.
//!
//! Each stack is set up as the service table sets it up (traced by its one-line setup, which
//! records events at INFO and above; tracing-opentelemetry behind `LevelFilter::INFO`), but spans
//! go to a counting exporter, so no export thread is counted (the service table measures it).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use tower_service::Service;

use crate::service::{seed_shop, trivial_router, Connection, Handler, Tracing};
use crate::stacks;

/// Answers `requests` requests of `handler` traced as `tracing` says (`Traced` reports to a
/// counting exporter here, not over HTTP), on a current-thread runtime. Installs the stack for
/// the whole process: run it in a process of its own.
pub fn profile(tracing: Tracing, handler: Handler, requests: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime");
    let run = || match handler {
        Handler::Trivial => {
            let router = trivial_router(tracing);
            warm_up(&runtime, &router);
            request_loop(&runtime, router, requests);
        }
        Handler::Available => shop_loop(&runtime, requests),
    };
    // Each stack as the service table runs it, but spans go to a counting exporter.
    match tracing {
        Tracing::Traced => {
            let exporter = stacks::CountingExporter::default();
            let guard = traced::builder()
                .service_name("bench")
                .exporters([])
                .custom_exporter(exporter.clone())
                .try_init()
                .expect("traced installs in a fresh process");
            run();
            drop(guard);
            eprintln!("{} spans exported", exporter.count());
        }
        Tracing::Otel => {
            let stack = stacks::OtelStack::with_filter(
                "http://127.0.0.1:9/api/v2/spans",
                tracing::level_filters::LevelFilter::INFO,
            );
            tracing::dispatcher::with_default(&stack.dispatch, run);
        }
        Tracing::Fastrace => {
            stacks::fastrace_report_to(None);
            run();
            fastrace::flush();
        }
        Tracing::Off => run(),
    }
}

/// The measured loop: one request at a time, each answered before the next is made. Not an
/// `async fn`: its future's poll is inlined into the runtime's, where callgrind cannot find it.
#[inline(never)]
fn request_loop(runtime: &tokio::runtime::Runtime, router: Router, requests: u64) {
    runtime.block_on(answer(router, requests));
}

/// Requests before the measured loop, so one-time set-up (the clock's calibration, pools,
/// thread-locals) is not counted as if every request paid it.
fn warm_up(runtime: &tokio::runtime::Runtime, router: &Router) {
    runtime.block_on(answer(router.clone(), 200));
}

async fn answer(mut router: Router, requests: u64) {
    let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
    for _ in 0..requests {
        let request = Request::builder()
            .uri("/hello")
            .header(axum::http::header::HOST, "bench")
            .extension(ConnectInfo(peer))
            .body(Body::empty())
            .expect("a valid request");
        let response = router.call(request).await.expect("routers are infallible");
        assert!(response.status().is_success(), "{}", response.status());
        std::hint::black_box(response);
    }
}

/// The shop, seeded as the service table seeds it, answering `requests` `GET /available`.
fn shop_loop(runtime: &tokio::runtime::Runtime, requests: u64) {
    let data = traced_examples::shop::DataDir::temporary().expect("a data directory");
    runtime.block_on(async {
        let config = traced_examples::shop::Config::loopback(data.path());
        let shop = traced_examples::shop::start(&config)
            .await
            .expect("the shop starts");
        seed_shop(shop.catalog_addr(), shop.inventory_addr())
            .await
            .expect("the shop is seeded");
        let mut connection = Connection::open(shop.catalog_addr())
            .await
            .expect("a connection to the catalog");
        for _ in 0..requests {
            let answer = connection
                .request("GET", "/available", "")
                .await
                .expect("an answer");
            assert_eq!(answer.status, 200);
        }
        shop.stop().await;
    });
}

/// Instructions per request on the service's side, by handler and tracing stack.
pub struct Row {
    /// What the service answers.
    pub handler: Handler,
    /// How it is traced.
    pub tracing: Tracing,
    /// Instructions per request: the median of the rounds.
    pub instructions: f64,
    /// The lowest and highest round (the same as the median for the trivial handler, which
    /// runs once: its count does not move).
    pub range: (f64, f64),
}

/// Requests in the trivial handler's counted loop.
const TRIVIAL_REQUESTS: u64 = 2_000;

/// The shop's two run lengths: their difference in requests is what is divided by.
const SHOP_REQUESTS: (u64, u64) = (100, 1_100);

/// Rounds of each shop cell. The whole process is counted, and some of its work depends on
/// time (the clock's calibration at start-up, the runtime parking and waking its threads), so
/// one shop count moves by up to 15% of what tracing adds from one run to the next.
const SHOP_ROUNDS: usize = 3;

/// Counts every cell with callgrind, running this executable's `request-profile`; empty when
/// valgrind is missing.
pub fn measure() -> Vec<Row> {
    let Ok(exe) = std::env::current_exe() else {
        return Vec::new();
    };
    let collected = |tracing: Tracing, handler: Handler, requests: u64| -> Option<u64> {
        let mut command = std::process::Command::new("valgrind");
        command.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"]);
        if handler == Handler::Trivial {
            command.arg("--toggle-collect=*request_loop*");
        }
        let output = command
            .arg(&exe)
            .args(["request-profile", tracing.id(), handler.id()])
            .arg(requests.to_string())
            .output()
            .ok()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().find(|line| line.contains("Collected :"))?;
        line.rsplit(':').next()?.trim().parse().ok()
    };
    let per_request = |tracing: Tracing, handler: Handler| -> Option<f64> {
        match handler {
            Handler::Trivial => Some(
                collected(tracing, handler, TRIVIAL_REQUESTS)? as f64 / TRIVIAL_REQUESTS as f64,
            ),
            Handler::Available => {
                let (short, long) = SHOP_REQUESTS;
                let short_total = collected(tracing, handler, short)? as f64;
                let long_total = collected(tracing, handler, long)? as f64;
                Some((long_total - short_total) / (long - short) as f64)
            }
        }
    };
    let mut rows = Vec::new();
    for handler in Handler::ALL {
        let rounds = match handler {
            Handler::Trivial => 1,
            Handler::Available => SHOP_ROUNDS,
        };
        for tracing in Tracing::ALL {
            // The shop has no fastrace instrumentation (see `service.rs`).
            if handler == Handler::Available && tracing == Tracing::Fastrace {
                continue;
            }
            eprintln!("callgrind: {} {} ...", handler.id(), tracing.id());
            let mut counts = Vec::new();
            for _ in 0..rounds {
                let Some(count) = per_request(tracing, handler) else {
                    eprintln!("callgrind unavailable; skipping the request-path counts");
                    return Vec::new();
                };
                counts.push(count);
            }
            counts.sort_by(f64::total_cmp);
            rows.push(Row {
                handler,
                tracing,
                instructions: counts[counts.len() / 2],
                range: (counts[0], counts[counts.len() - 1]),
            });
        }
    }
    rows
}

/// The table, with each stack's instructions over tracing off.
pub fn render(rows: &[Row]) -> String {
    use std::fmt::Write as _;
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nInstructions per request on the service's side (`src/request_path.rs`, valgrind \
         --tool=callgrind): the trivial handler's request path alone ({TRIVIAL_REQUESTS} requests \
         without sockets; independent of machine load), and the whole process per shop request \
         (the difference between {} and {} requests, over loopback; the median of \
         {SHOP_ROUNDS} rounds, the lowest and highest in brackets: time-dependent work such as \
         the clock's calibration and the runtime's wake-ups moves it); spans go to a counting \
         exporter, so the export thread is not in these counts.\n\n\
         | handler | tracing | instructions per request | added by tracing |\n|---|---|---|---|\n",
        SHOP_REQUESTS.0, SHOP_REQUESTS.1
    );
    for row in rows {
        let off = rows
            .iter()
            .find(|other| other.handler == row.handler && other.tracing == Tracing::Off)
            .map_or(0.0, |off| off.instructions);
        let added = if row.tracing == Tracing::Off {
            "–".to_owned()
        } else {
            format!("{:.0}", row.instructions - off)
        };
        let count = if row.range.0 == row.range.1 {
            format!("{:.0}", row.instructions)
        } else {
            format!(
                "{:.0} ({:.0} to {:.0})",
                row.instructions, row.range.0, row.range.1
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {count} | {added} |",
            row.handler.label(),
            row.tracing.label(),
        );
    }
    out
}
