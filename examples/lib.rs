//! The services behind `cargo run --example shop` and `cargo run --example chain`.
//!
//! They live in a library so that the integration tests (`tests/tests/shop_*.rs`,
//! `tests/tests/chain_*.rs`) drive exactly the code the examples run; the example files
//! themselves only choose a mode, set tracing up and print.

pub mod common;

// `#[path]` because `shop.rs` and `chain.rs` next to this file are the examples' `main`s.
#[path = "chain/mod.rs"]
pub mod chain;
#[path = "shop/mod.rs"]
pub mod shop;
