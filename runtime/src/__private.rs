//! Support for the code `#[traced]` generates. Not a public API: it changes without notice.

pub use crate::panic::current_panic_message;
pub use ::core;
pub use ::tracing;
