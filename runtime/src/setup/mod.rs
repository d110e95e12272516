//! One-line setup: [`init`], [`try_init`], [`builder`], [`layer`], [`shutdown`] and [`stats`].
//!
//! `traced::init()` reads the OpenTelemetry variables (see [`crate::config`]), installs the
//! global subscriber — a `tracing-subscriber` registry with our
//! [`TracedLayer`](crate::TracedLayer) (the configured sampler and exporters) under the span
//! filter `TRACED_SPANS`, and the log layers you add (`fmt`, [`Builder::layer`]) under `RUST_LOG`
//! (default `info`), each filter applying to its own layers only — sets the global propagator,
//! and returns a [`TracingGuard`].
//!
//! By default every `#[traced]` span reaches the exporters, whatever its level, and so does
//! every other span at `info` or above: `RUST_LOG=warn` quiets the logs, never the traces.
//! `init()` prints nothing unless a value is wrong, or unless its configuration discards every
//! span (`TRACED_SPANS=off`, `OTEL_TRACES_SAMPLER=always_off`, `OTEL_TRACES_EXPORTER=none`),
//! which it says once on stderr. Dropping the guard sends what is
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
mod filter;
mod fmt;
mod guard;
mod init;
mod limited;
mod open;
mod resource;

use std::time::Duration;

pub use builder::Builder;
pub use error::InitError;
pub use guard::{ShutdownReport, TracingGuard};
pub use init::{builder, init, layer, shutdown, stats, try_init};

/// How long the guard's drop and [`shutdown`] wait for queued spans by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The log layers' filter when `RUST_LOG` is unset (spans have their own, `TRACED_SPANS`).
pub const DEFAULT_FILTER: &str = "info";
