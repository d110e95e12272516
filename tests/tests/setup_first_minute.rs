//! The first minute with the library, as a newcomer lives it: the README's first Rust code
//! block, pasted into a new binary crate that depends on `traced`, built, and run with no
//! collector and no configuration. It must exit promptly (well under 3 s: nothing retries
//! `localhost:9411`) and show its spans as the terminal waterfall.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use traced_tests::servers::run_to_end;

/// How long building the scratch crate may take (it compiles `traced` and its dependencies
/// into a target directory of its own on the first run).
const BUILD_DEADLINE: Duration = Duration::from_secs(900);
const EXIT_WITHIN: Duration = Duration::from_secs(3);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

/// The first ```` ```rust ```` block of the README, as a newcomer would copy it.
fn first_rust_block() -> String {
    let readme =
        std::fs::read_to_string(workspace().join("README.md")).expect("the README is readable");
    let start = readme
        .find("```rust\n")
        .expect("the README has a Rust code block")
        + 8;
    let length = readme[start..].find("```").expect("the block is closed");
    readme[start..start + length].to_owned()
}

#[test]
fn the_readme_example_runs_with_nothing_configured_and_shows_its_trace() {
    let code = first_rust_block();
    assert!(
        code.contains("traced::init()") && code.contains("fn main()"),
        "the README's first block is a whole program that calls traced::init():\n{code}"
    );

    // A new binary crate depending on traced by path, with the workspace's lock file so the
    // build takes the versions (and the downloaded crates) this workspace already uses.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("first-minute");
    let crate_dir = target.join("newcomer");
    std::fs::create_dir_all(crate_dir.join("src")).expect("a crate directory");
    let runtime = workspace().join("runtime");
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"newcomer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ntraced = {{ path = {:?} }}\n\n[workspace]\n",
            runtime.display().to_string()
        ),
    )
    .expect("Cargo.toml");
    std::fs::write(crate_dir.join("src/main.rs"), &code).expect("main.rs");
    std::fs::copy(workspace().join("Cargo.lock"), crate_dir.join("Cargo.lock"))
        .expect("the workspace's lock file");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = run_to_end(
        Command::new(cargo)
            .args(["build", "--quiet", "--offline"])
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", target.join("target"))
            .env_remove("RUSTFLAGS"),
        BUILD_DEADLINE,
    );
    assert!(built.success, "the README's code builds:\n{}", built.text());

    // Run it as a newcomer would: no OTEL_* variable, no RUST_LOG, no collector anywhere.
    let binary = target.join("target/debug/newcomer");
    let mut command = Command::new(&binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key == "RUST_LOG" || key.starts_with("TRACED_") {
            command.env_remove(key);
        }
    }
    let started = Instant::now();
    let ran = run_to_end(command.stdin(Stdio::null()), Duration::from_secs(30));
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.success, "it exits cleanly:\n{}", ran.text());
    assert!(
        took < EXIT_WITHIN,
        "it exits in {took:?}, not within {EXIT_WITHIN:?}:\n{stderr}"
    );

    // The waterfall: the checkout trace with its two price calls, the failed one in red text.
    assert!(
        !stderr.contains("9411"),
        "no collector was tried:\n{stderr}"
    );
    let headers = stderr
        .lines()
        .filter(|line| line.starts_with("── trace "))
        .count();
    assert_eq!(headers, 2, "two traces, one per checkout call:\n{stderr}");
    assert!(
        stderr.contains("3 spans"),
        "checkout and its two price calls:\n{stderr}"
    );
    let prices = stderr
        .lines()
        .filter(|line| line.contains(" price ") && line.contains("item=apples"))
        .count();
    assert_eq!(prices, 1, "{stderr}");
    assert!(stderr.contains("error: empty cart"), "{stderr}");
}
