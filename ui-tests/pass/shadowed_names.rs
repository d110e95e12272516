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

/// Generated code names nothing from the prelude.
mod bare {
    #![no_implicit_prelude]

    #[::traced::traced(err, ret, fields(twice = value * 2))]
    pub fn checked(value: u32) -> ::std::result::Result<u32, ::std::string::String> {
        ::std::result::Result::Ok(value)
    }

    #[::traced::traced(parent = ::std::option::Option::None::<::traced::model::Remote>)]
    pub async fn later(value: u32) -> u32 {
        value
    }
}

fn main() {
    assert_eq!(bare::checked(2), Ok(2));
    drop(bare::later(1));
    assert_eq!(parse("4"), Ok(4));
    assert!(matches!(local_option(true), Option::Some));
    assert_eq!(inner::works(), 1);
    drop(async_shadowed(1));
}
