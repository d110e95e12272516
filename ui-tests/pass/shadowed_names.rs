//! The expansion uses absolute paths only: local items named like std's or ours change nothing.

#![allow(dead_code)]

use traced::traced;

/// A local `Result` with one parameter, shadowing the prelude's.
type Result<T> = std::result::Result<T, String>;

/// A local `Option` that is not `core::option::Option`.
enum Option {
    Some,
    None,
}

struct Box;
struct Span;
struct Pin;

mod core {}
mod tracing {}
mod std_like {
    pub mod future {}
}

#[traced(err)]
fn parse(text: &str) -> Result<u32> {
    text.parse::<u32>().map_err(|error| error.to_string())
}

#[traced]
fn local_option(flag: bool) -> Option {
    if flag { Option::Some } else { Option::None }
}

#[traced(parent = None)]
async fn async_shadowed(input: u8) -> Result<u8> {
    Ok(input)
}

mod inner {
    /// A module named like our crate: `::traced` still resolves to the crate.
    pub mod traced {}

    #[::traced::traced]
    pub fn works() -> u8 {
        1
    }
}

fn main() {
    assert_eq!(parse("4"), Ok(4));
    assert!(matches!(local_option(true), Option::Some));
    assert_eq!(inner::works(), 1);
    drop(async_shadowed(1));
}
