//! Compile tests live in tests/ui.rs.
