//! `traced`: decorator-style distributed tracing for Rust, reporting to Zipkin or over OTLP.
//!
//! Put `#[traced]` on a function and each call becomes a span — a child of the current span —
//! with the arguments as tags and errors marked; `traced::init()` reports the spans to Zipkin.
//!
//! ```
//! use traced::traced;
//!
//! #[traced]
//! fn add(a: u64, b: u64) -> u64 {
//!     a + b
//! }
//!
//! let capture = traced::testing::Capture::new();
//! capture.in_scope(|| add(2, 3));
//! assert_eq!(capture.span("add").tag("a"), Some(&traced::model::TagValue::U64(2)));
//! ```

pub mod baggage;
pub mod config;
pub mod console;
pub mod encode;
pub mod export;
pub mod file_export;
pub mod http;
pub mod layer;
pub mod limits;
pub mod model;
#[cfg(feature = "opentelemetry")]
pub mod otel_export;
pub mod propagation;
#[doc(hidden)]
pub mod redact;
pub mod report;
pub mod sample;
pub mod semconv;
pub mod setup;
#[cfg(all(unix, feature = "signal"))]
pub mod signal;
pub mod subscriber;
pub mod testing;

mod annotation;
mod clock;
mod frame;
mod ids;
mod lookup;
mod open_spans;
mod panic;
mod percent;
mod pipeline;
mod poll_scope;
mod remote_parent;
mod state;
mod value;

#[doc(hidden)]
pub mod __private;

pub use layer::{current_context, TracedLayer};
pub use subscriber::TracedSubscriber;
// The types the root functions return, at the root too.
pub use model::SpanContext;
pub use report::Stats;
pub use setup::{
    builder, init, layer, shutdown, stats, try_init, Builder, InitError, ShutdownReport,
    TracingGuard,
};
pub use traced_macros::traced;
pub use value::{max_value_len, set_max_value_len};
