//! One-line setup: [`init`], [`try_init`], [`builder`], [`layer`], [`shutdown`] and [`stats`].
//!
//! `traced::init()` reads the OpenTelemetry variables (see [`crate::config`]), installs the
//! global subscriber — a `tracing-subscriber` registry, an `EnvFilter` from `RUST_LOG`
//! (default `info`) and our [`TracedLayer`](crate::TracedLayer) with the configured sampler and exporters — sets
//! the global propagator, and returns a [`TracingGuard`]. Dropping the guard sends what is
//! still queued, waiting at most the shutdown deadline (default 5 s), and says on stderr how
//! many spans could not be delivered.
//!
//! ```no_run
//! let _guard = traced::init();
//! // ... the program; spans go to Zipkin ...
//! // `_guard` flushes when it goes out of scope at the end of `main`
//! ```
//!
//! Nothing here needs or enters an async runtime: the reporter owns its thread and its I/O, so
//! the same setup works in a plain `main`, under `#[tokio::main]` (either flavour) and under any
//! other executor, and dropping the guard inside a runtime neither panics nor `block_on`s.
//!
//! # Flushing on SIGTERM / SIGINT
//!
//! A process killed by a signal skips destructors, so the guard cannot run. Handle the signal,
//! let `main` return (or call [`shutdown`]) and the spans are sent. With tokio:
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() {
//!     let _guard = traced::init();
//!     tokio::select! {
//!         _ = serve() => {}
//!         _ = tokio::signal::ctrl_c() => eprintln!("interrupted, flushing traces"),
//!     }
//! } // `_guard` drops here and flushes within its deadline
//! # async fn serve() {}
//! ```
//!
//! (`tokio::signal::unix::signal(SignalKind::terminate())` covers SIGTERM the same way.)

mod builder;
mod error;
mod guard;
mod init;
mod resource;

use std::time::Duration;

pub use builder::Builder;
pub use error::InitError;
pub use guard::{ShutdownReport, TracingGuard};
pub use init::{builder, init, layer, shutdown, stats, try_init};

/// How long the guard's drop and [`shutdown`] wait for queued spans by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info";
