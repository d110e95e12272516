//! A real Jaeger v2 (the all-in-one `cmd/jaeger`, an OpenTelemetry Collector distribution), built
//! from the Go module proxy and run on loopback with in-memory storage, so tests can report to it
//! over OTLP/HTTP or Zipkin and read back through Jaeger's own query API, and so a Jaeger remote
//! sampler can poll a real sampling endpoint.
//!
//! ```no_run
//! let jaeger = traced_tests::JaegerServer::start();
//! // ... report spans to jaeger.zipkin_endpoint() or jaeger.otlp_http_endpoint() ...
//! assert!(jaeger.services().is_empty());
//! ```
//!
//! # The binary
//!
//! [`jaeger_binary`] builds `github.com/jaegertracing/jaeger/cmd/jaeger` at [`JAEGER_VERSION`]
//! (Jaeger v2's Go module keeps the v1.x tags; v1.75.0 is Jaeger 2.12) once per machine into
//! `$TRACED_SERVER_CACHE/jaeger-v1.75.0/jaeger`, else `~/.cache/traced-servers/…`, and later runs
//! reuse it. `go install …@v1.75.0` refuses the module (its `go.mod` has a `replace`
//! directive), so the module is fetched with `go mod download` and built inside its own source
//! tree: the exact dependency versions of its `go.mod` and `go.sum`. The build goes to a
//! temporary name and is renamed into place, so an interrupted build leaves no half binary. A
//! missing binary is built, a failed build panics with Go's output: no test is skipped.
//! Go comes from `$TRACED_GO`, else `go` on the `PATH`, else `/usr/local/go/bin/go`; the module
//! needs Go 1.24.6 or newer.
//!
//! # Measured (2026-12-07, the project's 2-core machine while other builds ran, load 7 to 14)
//!
//! - first build, empty Go module and build caches: 18 min 2 s wall, of which the build got 42 %
//!   of the CPU: 389 s user + 72 s system, so about 4 to 5 minutes on an idle 2-core machine;
//!   316 modules downloaded, 1.3 GB of Go module cache and 1.6 GB of Go build cache, 2.1 GB peak
//!   memory. Well inside CI's 45 minutes.
//! - a rebuild with Go's caches warm (the binary deleted): 19 s, mostly linking; with
//!   `-trimpath` the binary is byte-for-byte the same.
//! - the binary: 121,138,768 bytes (116 MiB), without the UI's assets (the Go module ships a
//!   placeholder page; the query API is complete).
//! - a start with the cached binary until the query API answers: 0.10 to 0.13 s (Jaeger's log
//!   says ready 30 ms after it starts).
//! - resident memory: 54 MB idle; 70 MB after 10,000 Zipkin spans, 83 MB after a search of
//!   them.
//!
//! # The configuration
//!
//! Written by [`JaegerServer::start`] into a scratch directory (Jaeger v2 reads an
//! OpenTelemetry-Collector YAML file, `--config`): in-memory trace storage, every listener on
//! `127.0.0.1` at a free port — the OTLP/HTTP receiver (no gRPC), the Zipkin receiver, the query
//! service (HTTP API and UI, and its gRPC API, which cannot be turned off), the remote-sampling
//! HTTP endpoint serving [`JAEGER_SAMPLING_STRATEGIES`] from a file — and no listener of its
//! own telemetry (metrics level `none`). Clock-skew adjustment is off, so the query API shows
//! timestamps as sent.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::servers::{self, get_json, run_to_end, Watched};

/// The Go module whose `cmd/jaeger` is Jaeger v2's all-in-one binary.
pub const JAEGER_MODULE: &str = "github.com/jaegertracing/jaeger";

/// The module version built: the approved release (Jaeger 2.12). Newer tags are served by the
/// proxy but are not approved.
pub const JAEGER_VERSION: &str = "v1.75.0";

/// The sampling strategies the remote-sampling endpoint serves (Jaeger's file format): by
/// default probabilistic at 0.25 with `GET /health` never sampled; `catalog` probabilistic at
/// 0.5 with `GET /available` always sampled; `inventory` rate-limited to 5 traces a second.
pub const JAEGER_SAMPLING_STRATEGIES: &str = r#"{
  "default_strategy": {
    "type": "probabilistic",
    "param": 0.25,
    "operation_strategies": [
      { "operation": "GET /health", "type": "probabilistic", "param": 0.0 }
    ]
  },
  "service_strategies": [
    {
      "service": "catalog",
      "type": "probabilistic",
      "param": 0.5,
      "operation_strategies": [
        { "operation": "GET /available", "type": "probabilistic", "param": 1.0 }
      ]
    },
    { "service": "inventory", "type": "ratelimiting", "param": 5 }
  ]
}
"#;

/// How long the first build may take: the measured build (see the module docs) with room for a
/// busier machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(45 * 60);

/// How long a start may take until every listener answers (0.1 s measured, see the module docs).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running Jaeger v2 on loopback; stopped when dropped or when the test process ends.
pub struct JaegerServer {
    process: Watched,
    query: String,
    sampling: String,
    otlp_http: String,
    zipkin: String,
}

impl JaegerServer {
    /// Builds the binary if this machine has none yet, starts Jaeger and waits until its query
    /// API, sampling endpoint and both receivers answer. Panics, with Jaeger's log, if it does not
    /// come up.
    pub fn start() -> JaegerServer {
        let binary = jaeger_binary();
        servers::start_on_free_ports(|| JaegerServer::try_start(&binary))
    }

    fn try_start(binary: &std::path::Path) -> Result<JaegerServer, servers::NotReady> {
        let dir = servers::scratch_dir("jaeger");
        let strategies = dir.join("sampling-strategies.json");
        std::fs::write(&strategies, JAEGER_SAMPLING_STRATEGIES).expect("the strategies file");
        let ports = Ports {
            otlp_http: servers::free_port(),
            zipkin: servers::free_port(),
            query_http: servers::free_port(),
            query_grpc: servers::free_port(),
            sampling_http: servers::free_port(),
        };
        let config = dir.join("jaeger.yaml");
        std::fs::write(&config, config_yaml(&ports, &strategies)).expect("the config file");
        let mut process = Watched::spawn(
            "jaeger",
            &binary.display().to_string(),
            &["--config".to_owned(), config.display().to_string()],
            &[],
            &dir.join("jaeger.log"),
        );
        let jaeger = |port: u16| format!("http://127.0.0.1:{port}");
        let (query, sampling) = (jaeger(ports.query_http), jaeger(ports.sampling_http));
        let services = format!("{query}/api/services");
        let strategy = format!("{sampling}/api/sampling?service=readiness");
        let listening = |port: u16| {
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
                .is_ok()
        };
        process.wait_ready(START_DEADLINE, || {
            get_json(&services).is_ok()
                && get_json(&strategy).is_ok()
                && listening(ports.otlp_http)
                && listening(ports.zipkin)
        })?;
        Ok(JaegerServer {
            process,
            query,
            sampling,
            otlp_http: jaeger(ports.otlp_http),
            zipkin: jaeger(ports.zipkin),
        })
    }

    /// The OTLP/HTTP receiver's base URL, `http://127.0.0.1:{port}`: an exporter appends
    /// `/v1/traces` (as with `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn otlp_http_endpoint(&self) -> &str {
        &self.otlp_http
    }

    /// Where Zipkin spans are POSTed: `http://127.0.0.1:{port}/api/v2/spans`.
    pub fn zipkin_endpoint(&self) -> String {
        format!("{}/api/v2/spans", self.zipkin)
    }

    /// The query service (HTTP API and UI): `http://127.0.0.1:{port}`.
    pub fn query_url(&self) -> &str {
        &self.query
    }

    /// The remote-sampling endpoint's base URL: a sampler GETs `{this}/api/sampling?service=…`
    /// (Jaeger's JSON strategy response).
    pub fn sampling_url(&self) -> &str {
        &self.sampling
    }

    /// GETs `path_and_query` of the query API (`/api/services`, `/api/traces?…`) as JSON.
    pub fn get(&self, path_and_query: &str) -> Result<Value, String> {
        get_json(&format!("{}{path_and_query}", self.query))
    }

    /// The strategy the sampling endpoint answers for `service`.
    pub fn sampling_strategy(&self, service: &str) -> Result<Value, String> {
        get_json(&format!("{}/api/sampling?service={service}", self.sampling))
    }

    /// `/api/traces/{id}`: the trace Jaeger holds (`spans`, `processes`), or `None` while it
    /// holds no span of it.
    pub fn trace(&self, id: &str) -> Option<Value> {
        let mut answer = self.get(&format!("/api/traces/{id}")).ok()?;
        answer.pointer_mut("/data/0").map(Value::take)
    }

    /// Waits until Jaeger holds at least `count` spans of trace `id` and returns the trace;
    /// panics with what it holds and its log after `deadline`.
    pub fn wait_for_trace(&self, id: &str, count: usize, deadline: Duration) -> Value {
        let started = Instant::now();
        loop {
            let trace = self.trace(id);
            let spans = trace
                .as_ref()
                .and_then(|trace| trace["spans"].as_array())
                .map_or(0, Vec::len);
            if spans >= count {
                return trace.unwrap_or_default();
            }
            if started.elapsed() > deadline {
                panic!(
                    "Jaeger holds {spans} span(s) of trace {id} after {deadline:?}, not {count}: \
                     {trace:#?}\nits log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `/api/services`, sorted.
    pub fn services(&self) -> Vec<String> {
        let answer = self
            .get("/api/services")
            .unwrap_or_else(|error| panic!("{error}\n{}", self.log_tail()));
        let mut services: Vec<String> = answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|service| service.as_str().map(str::to_owned))
            .collect();
        services.sort();
        services
    }

    /// The traces a search finds (`/api/traces?{query}`, e.g. `service=catalog&operation=...`,
    /// over the last ten minutes), once it finds at least `minimum`; panics with Jaeger's log if
    /// it never does within `deadline`.
    pub fn search(&self, query: &str, minimum: usize, deadline: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_micros())
                .unwrap_or_default();
            // Jaeger's search window is in microseconds.
            let path = format!(
                "/api/traces?{query}&start={}&end={}&limit=100",
                now - 600_000_000,
                now + 60_000_000
            );
            let answer = self.get(&path);
            if let Some(traces) = answer
                .as_ref()
                .ok()
                .and_then(|body| body["data"].as_array())
                .filter(|traces| traces.len() >= minimum)
            {
                return traces.clone();
            }
            if started.elapsed() > deadline {
                panic!(
                    "{path} found fewer than {minimum} trace(s): {answer:#?}\nJaeger's log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of Jaeger's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail(40)
    }

    /// Stops Jaeger now (dropping it does the same).
    pub fn stop(mut self) {
        self.process.stop();
    }
}

struct Ports {
    otlp_http: u16,
    zipkin: u16,
    query_http: u16,
    query_grpc: u16,
    sampling_http: u16,
}

fn config_yaml(ports: &Ports, strategies: &Path) -> String {
    let Ports {
        otlp_http,
        zipkin,
        query_http,
        query_grpc,
        sampling_http,
    } = ports;
    let strategies = strategies.display().to_string();
    format!(
        r#"service:
  extensions: [jaeger_storage, jaeger_query, remote_sampling]
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    max_clock_skew_adjust: 0s
    http:
      endpoint: 127.0.0.1:{query_http}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  remote_sampling:
    file:
      path: {strategies:?}
      reload_interval: 0s
    http:
      endpoint: 127.0.0.1:{sampling_http}

receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp_http}
  zipkin:
    endpoint: 127.0.0.1:{zipkin}

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"#
    )
}

/// The one span of `trace` (a trace as Jaeger's query API returns it) with this operation name
/// in this service; panics, showing the trace, when there is none or more than one.
pub fn jaeger_span<'a>(trace: &'a Value, operation: &str, service: &str) -> &'a Value {
    let matching: Vec<&Value> = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|span| {
            let process = span["processID"].as_str().unwrap_or_default();
            span["operationName"] == operation
                && trace["processes"][process]["serviceName"] == service
        })
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one {operation:?} span in {service}: {trace:#}"
    );
    matching[0]
}

/// Asserts that each `(child, parent)` of `trace` is Jaeger's one `CHILD_OF` reference from the
/// child to the parent.
pub fn assert_children_of(trace: &Value, pairs: &[(&Value, &Value)]) {
    for (child, parent) in pairs {
        assert_eq!(
            child["references"],
            serde_json::json!([{
                "refType": "CHILD_OF",
                "traceID": trace["traceID"],
                "spanID": parent["spanID"],
            }]),
            "{} under {}",
            child["operationName"],
            parent["operationName"]
        );
    }
}

/// The Jaeger binary of [`JAEGER_VERSION`], built with Go into the cache directory when this
/// machine has none yet (see the module docs). Panics with Go's output if the build fails.
pub fn jaeger_binary() -> PathBuf {
    // One build at a time in this process: the tests of one binary run in parallel.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = server_cache().join(format!("jaeger-{JAEGER_VERSION}"));
    let binary = dir.join("jaeger");
    if binary.is_file() {
        return binary;
    }
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    let go = go_tool();
    let module = format!("{JAEGER_MODULE}@{JAEGER_VERSION}");
    let download = run_to_end(
        Command::new(&go).args(["mod", "download", "-json", &module]),
        BUILD_DEADLINE,
    );
    let source = serde_json::from_slice::<Value>(&download.stdout)
        .ok()
        .and_then(|answer| answer["Dir"].as_str().map(PathBuf::from))
        .filter(|_| download.success)
        .unwrap_or_else(|| {
            panic!(
                "`{go} mod download {module}` failed (is the Go module proxy reachable?):\n{}",
                download.text()
            )
        });
    // A name of our own next to the binary, renamed into place once complete.
    let partial = dir.join(format!("jaeger.partial-{}", std::process::id()));
    let started = Instant::now();
    let build = run_to_end(
        Command::new(&go)
            .current_dir(&source)
            // Exactly the module's own go.mod and go.sum, whatever the caller's Go settings.
            .env("GOFLAGS", "-mod=readonly")
            .env("GOWORK", "off")
            .args(["build", "-trimpath", "-buildvcs=false", "-o"])
            .arg(&partial)
            .arg("./cmd/jaeger"),
        BUILD_DEADLINE,
    );
    let log = build.text();
    let _ = std::fs::write(dir.join("build.log"), &log);
    if !build.success || !partial.is_file() {
        let _ = std::fs::remove_file(&partial);
        let lines: Vec<&str> = log.lines().collect();
        panic!(
            "building {module}/cmd/jaeger with {go} failed after {:?} (Go 1.24.6 or newer is \
             needed); the end of Go's output:\n{}",
            started.elapsed(),
            lines[lines.len().saturating_sub(80)..].join("\n")
        );
    }
    std::fs::rename(&partial, &binary).unwrap_or_else(|error| {
        panic!(
            "cannot move {} to {}: {error}",
            partial.display(),
            binary.display()
        )
    });
    binary
}

/// Where built servers are kept between runs: `$TRACED_SERVER_CACHE`, else
/// `~/.cache/traced-servers`.
fn server_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRACED_SERVER_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache").join("traced-servers")
}

/// `$TRACED_GO`, else `go` when it is on the `PATH`, else Go's default install location.
fn go_tool() -> String {
    if let Some(go) = std::env::var_os("TRACED_GO") {
        return go.to_string_lossy().into_owned();
    }
    let on_path = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    if on_path || !Path::new("/usr/local/go/bin/go").is_file() {
        "go".to_owned()
    } else {
        "/usr/local/go/bin/go".to_owned()
    }
}
