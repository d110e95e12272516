//! The small test runner of the test binaries that are their own `main` (`harness = false` in
//! `tests/Cargo.toml`): they start themselves again as child processes to run a scenario in a
//! real `main`, so libtest's runner cannot be theirs. It runs each test in turn, filters by the
//! first free argument as libtest does, and prints libtest's lines, closing line included.
//!
//! ```no_run
//! fn passes() {}
//! traced_tests::harness::run(&[("passes", passes)]);
//! ```

/// A named test.
pub type Test = (&'static str, fn());

/// Runs `tests` (those whose name contains the first free command-line argument, if any) and
/// exits with 101 if one failed.
pub fn run(tests: &[Test]) {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|(name, _)| {
            filter
                .as_ref()
                .is_none_or(|filter| name.contains(filter.as_str()))
        })
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let outcome = std::panic::catch_unwind(*test);
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    let passed = selected.len() - failed.len();
    let filtered = tests.len() - selected.len();
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:\n    {}", failed.join("\n    "));
    }
    println!(
        "\ntest result: {verdict}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered} filtered out",
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}
