//! py_zipkin's demo → service1 pair: `demo` answers `GET /` by doing some local work in a
//! `do_stuff` span and then calling `service1`, which does its own `do_stuff`. One request, one
//! trace across both services:
//!
//! ```text
//! demo      GET /          server
//! demo        do_stuff
//! demo        GET          client → service1
//! service1      GET /api   server
//! service1        do_stuff
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use traced::http::{ClientTrace, SendTraced, ServerLayer};
use traced::traced;

use crate::common::Served;

/// The front service's name.
pub const DEMO: &str = "demo";
/// The back service's name.
pub const SERVICE1: &str = "service1";

/// How long `demo`'s `do_stuff` works.
pub const DEMO_WORK: Duration = Duration::from_millis(20);
/// How long `service1`'s `do_stuff` works.
pub const SERVICE1_WORK: Duration = Duration::from_millis(10);

/// Some local work: a span of its own, nested under the request's SERVER span.
#[traced]
pub async fn do_stuff(work_ms: u64) {
    tokio::time::sleep(Duration::from_millis(work_ms)).await;
}

#[derive(Clone, Debug)]
struct Demo {
    client: reqwest::Client,
    service1_url: String,
    service1: ClientTrace,
}

/// `demo`'s routes: `GET /` does its stuff, then calls `service1` at `service1_url`
/// (e.g. `http://127.0.0.1:6000`).
pub fn demo_router(service1_url: String) -> Router {
    let demo = Demo {
        client: reqwest::Client::new(),
        service1_url,
        service1: ClientTrace::new().peer_service(SERVICE1),
    };
    Router::new()
        .route("/", get(index))
        .with_state(demo)
        .layer(ServerLayer::new().service_name(DEMO))
}

async fn index(State(demo): State<Demo>) -> (StatusCode, String) {
    do_stuff(millis(DEMO_WORK)).await;
    let url = format!("{}/api", demo.service1_url);
    match demo.client.get(url).send_traced_with(&demo.service1).await {
        Ok(response) if response.status().is_success() => {
            let text = response.text().await.unwrap_or_default();
            (StatusCode::OK, format!("demo did its stuff; {text}"))
        }
        Ok(response) => (
            StatusCode::BAD_GATEWAY,
            format!("service1 answered {}", response.status()),
        ),
        Err(_) => (
            StatusCode::BAD_GATEWAY,
            "service1 is unreachable".to_owned(),
        ),
    }
}

/// `service1`'s routes: `GET /api` does its stuff.
pub fn service1_router() -> Router {
    Router::new()
        .route("/api", get(api))
        .layer(ServerLayer::new().service_name(SERVICE1))
}

async fn api() -> &'static str {
    do_stuff(millis(SERVICE1_WORK)).await;
    "service1 did its stuff"
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The two running services.
#[derive(Debug)]
pub struct Chain {
    demo: Served,
    service1: Served,
}

impl Chain {
    /// `http://` and `demo`'s address.
    pub fn demo_url(&self) -> String {
        format!("http://{}", self.demo.addr)
    }

    /// `http://` and `service1`'s address.
    pub fn service1_url(&self) -> String {
        format!("http://{}", self.service1.addr)
    }

    /// Stops both services, letting requests under way finish.
    pub async fn stop(self) {
        for (name, served) in [(DEMO, self.demo), (SERVICE1, self.service1)] {
            if let Err(error) = served.stop().await {
                eprintln!("{name} stopped with an error: {error}");
            }
        }
    }
}

/// Starts `service1` on `service1_addr` and `demo` on `demo_addr` (port 0: any free port).
pub async fn start(demo_addr: SocketAddr, service1_addr: SocketAddr) -> Result<Chain, String> {
    let bind = |addr: SocketAddr, name: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|error| format!("{name} cannot listen on {addr}: {error}"))
    };
    let serve_error = |error: std::io::Error| format!("cannot serve: {error}");
    let service1 =
        Served::on(bind(service1_addr, SERVICE1).await?, service1_router()).map_err(serve_error)?;
    let service1_url = format!("http://{}", service1.addr);
    let demo =
        Served::on(bind(demo_addr, DEMO).await?, demo_router(service1_url)).map_err(serve_error)?;
    Ok(Chain { demo, service1 })
}

/// Both services on free loopback ports.
pub async fn start_loopback() -> Result<Chain, String> {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    start(any, any).await
}
