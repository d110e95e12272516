//! Benchmarks of `traced` against the anchor tracing stacks.
//!
//! `cargo run -p traced-benches --release --bin report` runs the whole comparison, prints one
//! table and writes `benches/RESULTS.md`; `cargo bench -p traced-benches` runs the criterion
//! suite alone.

pub mod child;
pub mod encode;
pub mod export;
pub mod growth;
pub mod http;
pub mod request_path;
pub mod service;
pub mod sink;
pub mod stacks;
pub mod steal;
pub mod suite;
pub mod threads;
