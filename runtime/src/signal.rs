//! Flushing traces when the process is told to stop (Unix, the `signal` feature).
//!
//! A process ended by SIGTERM or SIGINT runs no destructors, so the [`TracingGuard`] never drops
//! and the spans still queued are lost. [`flush_on_signal`] starts a thread that waits for those
//! signals; on the first one it calls [`crate::shutdown`] — which sends what is queued within the
//! shutdown deadline and says on stderr how many spans it could not deliver — and then ends the
//! process the way the signal would have (the default action is re-raised), so supervisors still
//! see "terminated by SIGTERM".
//!
//! ```no_run
//! let _guard = traced::init();
//! // From here on SIGTERM / SIGINT flush the finished spans before the process ends.
//! traced::signal::flush_on_signal().expect("signal handlers");
//! // ... serve until killed ...
//! ```
//!
//! Spans still open when the signal arrives are not finished, so they are not sent. A program
//! that already shuts down gracefully on signals (an axum server with
//! `with_graceful_shutdown(tokio::signal::ctrl_c())`, say) should not use this helper, which
//! ends the process without waiting for that shutdown: returning from `main` drops the guard,
//! and that flushes (see [`crate::setup`]).
//!
//! [`TracingGuard`]: crate::TracingGuard

use std::io;
use std::sync::Mutex;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Whether the waiting thread runs; a second call must not start another one.
static STARTED: Mutex<bool> = Mutex::new(false);

/// On the first SIGTERM or SIGINT, flushes the installed exporters within their shutdown
/// deadline (see [`crate::shutdown`]), then lets the signal end the process as it would have.
///
/// Call it once after [`crate::init`]; later calls do nothing. Fails only when the signal
/// handlers or the waiting thread cannot be set up.
///
/// ```
/// // Safe to call more than once; nothing happens until a signal arrives.
/// traced::signal::flush_on_signal().unwrap();
/// traced::signal::flush_on_signal().unwrap();
/// ```
pub fn flush_on_signal() -> io::Result<()> {
    let mut started = STARTED.lock().unwrap_or_else(|poison| poison.into_inner());
    if *started {
        return Ok(());
    }
    // The handlers only write to a pipe (async-signal-safe); the flushing happens on our thread.
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("traced-signal".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                eprintln!("traced: {name} received, flushing traces");
                crate::shutdown();
                // Restores the default action and re-raises, so the process ends "killed by
                // SIGTERM" as supervisors expect; it does not return for these signals.
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        })?;
    *started = true;
    Ok(())
}
