//! What the shop and chain examples share: their two modes, tracing setup, and serving a router.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use traced::config::ExporterKind;

/// How an example runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Start the services on ephemeral loopback ports, send a few requests, print their traces
    /// and exit.
    Scripted,
    /// Serve on fixed addresses until Ctrl-C.
    Serve,
}

impl Mode {
    /// The mode the command line asks for: nothing for [`Mode::Scripted`], `serve` for
    /// [`Mode::Serve`].
    ///
    /// ```
    /// use traced_examples::common::Mode;
    /// assert_eq!(Mode::parse(None::<String>), Ok(Mode::Scripted));
    /// assert_eq!(Mode::parse(Some("serve")), Ok(Mode::Serve));
    /// assert!(Mode::parse(Some("server")).is_err());
    /// ```
    pub fn parse(argument: Option<impl AsRef<str>>) -> Result<Mode, String> {
        match argument.as_ref().map(AsRef::as_ref) {
            None => Ok(Mode::Scripted),
            Some("serve") => Ok(Mode::Serve),
            Some(other) => Err(format!(
                "unknown argument {other:?}: run without arguments for the scripted scenario, \
                 or with `serve` to keep the services running"
            )),
        }
    }
}

/// An example's `main`: parses the mode, sets tracing up, runs `run`, flushes the spans, and
/// turns an error into a message on stderr and a failing exit code.
pub async fn main<F, Fut>(name: &str, run: F) -> ExitCode
where
    F: FnOnce(Mode) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mode = match Mode::parse(std::env::args().nth(1)) {
        Ok(mode) => mode,
        Err(error) => {
            eprintln!("{name}: {error}");
            return ExitCode::from(2);
        }
    };
    let tracing = init_tracing();
    let result = run(mode).await;
    tracing.finish();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The address in variable `name`, or `default` when it is unset.
///
/// ```
/// let addr = traced_examples::common::addr_from_env("SHOP_DOC_UNSET_ADDR", "127.0.0.1:8000");
/// assert_eq!(addr, Ok("127.0.0.1:8000".parse().unwrap()));
/// ```
pub fn addr_from_env(name: &str, default: &str) -> Result<SocketAddr, String> {
    let text = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    text.trim()
        .parse()
        .map_err(|error| format!("{name}={text:?} is not an address like {default}: {error}"))
}

/// Tracing for an example: the console waterfall always; Zipkin as well when
/// `OTEL_EXPORTER_ZIPKIN_ENDPOINT` (or `OTEL_TRACES_EXPORTER`) asks for it (the library's own
/// default, see [`traced::config::Config::exporters`]). Without a collector nothing waits on the
/// network, so the scripted run exits at once.
///
/// ```no_run
/// let tracing = traced_examples::common::init_tracing();
/// // ... serve ...
/// tracing.finish();
/// ```
pub fn init_tracing() -> ExampleTracing {
    // A collector that is down must not hold the example up for long at exit.
    let builder = traced::builder()
        .shutdown_timeout(Duration::from_secs(2))
        .exporter(ExporterKind::Console);
    let config = builder.config();
    let zipkin = config.exporters().contains(&ExporterKind::Zipkin);
    let endpoint = config.zipkin_endpoint.clone();
    ExampleTracing {
        guard: builder.init(),
        zipkin_endpoint: zipkin.then_some(endpoint),
    }
}

/// The installed tracing of an example; [`ExampleTracing::finish`] flushes it.
#[derive(Debug)]
#[must_use = "call `finish()` at the end of main so the spans are delivered"]
pub struct ExampleTracing {
    guard: traced::TracingGuard,
    zipkin_endpoint: Option<String>,
}

impl ExampleTracing {
    /// Flushes every exporter. When Zipkin is on, stderr says how many spans could not be
    /// delivered (the reporter's line, with the cause) or that all of them were.
    pub fn finish(self) {
        let report = self.guard.shutdown();
        // Losses are already reported by the reporter, with their cause.
        if let (Some(endpoint), 0) = (self.zipkin_endpoint, report.undelivered) {
            eprintln!(
                "traced: all {} span(s) delivered to {endpoint}",
                report.stats.sent
            );
        }
    }
}

/// A router served in the background until [`Served::stop`].
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl Served {
    /// Binds `addr` (port 0 picks a free port) and serves `router` on it, with each client's
    /// address available to the trace layer.
    pub async fn start(addr: SocketAddr, router: Router) -> io::Result<Served> {
        Served::on(TcpListener::bind(addr).await?, router)
    }

    /// Serves `router` on a listener that is already bound.
    pub fn on(listener: TcpListener, router: Router) -> io::Result<Served> {
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        });
        Ok(Served { addr, stop, task })
    }

    /// Stops accepting, lets requests under way finish, and returns how serving ended.
    pub async fn stop(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(io::Error::other(error)),
        }
    }
}

/// Waits for Ctrl-C.
pub async fn interrupted() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("cannot wait for Ctrl-C ({error}); stopping");
    }
}
