//! A measurement run in a child process (this binary started again with a sub-command), whose
//! outcome is the last line of its stdout that parses: each cell of the export, thread and
//! service tables starts from a fresh process, so no cell inherits another's threads, queues or
//! allocator state.

use std::process::Command;

/// Runs `command` to its end and returns the last stdout line that `parse` accepts, or why there
/// is none (with the child's stderr).
pub fn outcome<T>(command: &mut Command, parse: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    let output = command.output().map_err(|error| error.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.lines().rev().find_map(parse).ok_or_else(|| {
        format!(
            "no outcome from the child; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
