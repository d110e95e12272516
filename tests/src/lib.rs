//! Test support for traced.
