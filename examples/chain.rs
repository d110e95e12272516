//! py_zipkin's demo → service1 pair: `demo` runs a local `do_stuff` span, then calls `service1`
//! over HTTP, which runs its own `do_stuff`. One trace across both.
//!
//! ```text
//! cargo run --example chain            # one request, its trace printed, exit
//! cargo run --example chain -- serve   # serve until Ctrl-C; then: curl http://127.0.0.1:5000/
//! ```
//!
//! `serve` listens on `DEMO_ADDR` (default `127.0.0.1:5000`) and `SERVICE1_ADDR` (default
//! `127.0.0.1:6000`). With `OTEL_EXPORTER_ZIPKIN_ENDPOINT` set the spans go to Zipkin too.
//! The services are in `chain/mod.rs`.

use std::process::ExitCode;

use traced_examples::chain;
use traced_examples::common::{self, Mode};

#[tokio::main]
async fn main() -> ExitCode {
    common::main("chain", run).await
}

async fn run(mode: Mode) -> Result<(), String> {
    let chain = match mode {
        Mode::Scripted => chain::start_loopback().await?,
        Mode::Serve => {
            let demo = common::addr_from_env("DEMO_ADDR", "127.0.0.1:5000")?;
            let service1 = common::addr_from_env("SERVICE1_ADDR", "127.0.0.1:6000")?;
            chain::start(demo, service1).await?
        }
    };
    let result = match mode {
        Mode::Scripted => call(&chain.demo_url()).await,
        Mode::Serve => {
            println!("demo     on {}", chain.demo_url());
            println!("service1 on {}", chain.service1_url());
            println!(
                "\ntry: curl {}/\n\nCtrl-C stops both services.",
                chain.demo_url()
            );
            common::interrupted().await;
            Ok(())
        }
    };
    chain.stop().await;
    result
}

/// One request to `demo`; its trace appears on stderr as it finishes.
async fn call(demo_url: &str) -> Result<(), String> {
    println!("→ GET {demo_url}/");
    let response = reqwest::get(format!("{demo_url}/"))
        .await
        .map_err(|error| format!("demo did not answer: {error}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    println!("← {status} {body}");
    Ok(())
}
