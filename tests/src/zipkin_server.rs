//! The official `zipkin-server`, run for real: the exec jar from Maven Central (cached in Maven's
//! local repository), started on a free loopback port with in-memory storage, ready once its
//! `/health` says `UP`, and stopped when the [`ZipkinServer`] is dropped or the test process ends.
//!
//! Tests report to [`ZipkinServer::spans_endpoint`] and read back through Zipkin's own query API
//! ([`ZipkinServer::get`], [`ZipkinServer::trace`], …), so what they check is what a user sees.
//!
//! ```no_run
//! let zipkin = traced_tests::ZipkinServer::start();
//! // ... report spans to zipkin.spans_endpoint() ...
//! let services = zipkin.get("/api/v2/services").expect("the service list");
//! assert!(services.as_array().is_some());
//! ```

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::servers::{self, get_json, Watched};

/// The `zipkin-server` release the tests run (`io.zipkin:zipkin-server`, classifier `exec`).
pub const ZIPKIN_VERSION: &str = "3.5.1";

/// How long the JVM may take to start and report healthy (about 10 s on an idle 2-core machine).
const START_DEADLINE: Duration = Duration::from_secs(180);

/// A running `zipkin-server` on loopback.
pub struct ZipkinServer {
    process: Watched,
    base: String,
}

/// How to start a [`ZipkinServer`]: extra environment such as `AUTOCOMPLETE_KEYS` or
/// `KAFKA_BOOTSTRAP_SERVERS`.
#[derive(Default, Clone, Debug)]
pub struct ZipkinOptions {
    env: Vec<(String, String)>,
}

impl ZipkinOptions {
    /// Sets an environment variable of the server (its documented configuration).
    pub fn env(mut self, key: &str, value: &str) -> ZipkinOptions {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

impl ZipkinServer {
    /// Starts a server with default options; panics if it cannot be had or does not come up.
    pub fn start() -> ZipkinServer {
        ZipkinServer::start_with(ZipkinOptions::default())
    }

    /// Starts a server with `options`.
    pub fn start_with(options: ZipkinOptions) -> ZipkinServer {
        let jar = servers::maven_artifact("io.zipkin", "zipkin-server", ZIPKIN_VERSION, "exec");
        servers::start_on_free_ports(|| ZipkinServer::try_start(&jar, options.clone()))
    }

    fn try_start(
        jar: &std::path::Path,
        options: ZipkinOptions,
    ) -> Result<ZipkinServer, servers::NotReady> {
        let port = servers::free_port();
        let dir = servers::scratch_dir("zipkin");
        let args = [
            // A short-lived test server: fast start beats peak throughput, and a small heap.
            "-XX:TieredStopAtLevel=1".to_owned(),
            "-XX:+UseSerialGC".to_owned(),
            "-Xmx512m".to_owned(),
            "-jar".to_owned(),
            jar.display().to_string(),
            // Loopback only: nothing outside this machine can reach the test server.
            format!("--armeria.ports[0].port={port}"),
            "--armeria.ports[0].ip=127.0.0.1".to_owned(),
            "--armeria.ports[0].protocols=http".to_owned(),
        ];
        let mut env = vec![
            ("STORAGE_TYPE".to_owned(), "mem".to_owned()),
            // No collector but HTTP unless asked (e.g. Kafka); no self-tracing.
            ("SELF_TRACING_ENABLED".to_owned(), "false".to_owned()),
            ("JAVA_TOOL_OPTIONS".to_owned(), String::new()),
        ];
        env.extend(options.env);
        let mut process = Watched::spawn(
            "zipkin-server",
            &servers::java(),
            &args,
            &env,
            &dir.join("zipkin.log"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let health = format!("{base}/health");
        process.wait_ready(START_DEADLINE, || {
            get_json(&health).is_ok_and(|body| body["status"] == "UP")
        })?;
        Ok(ZipkinServer { process, base })
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Where spans are POSTed: `{base}/api/v2/spans`.
    pub fn spans_endpoint(&self) -> String {
        format!("{}/api/v2/spans", self.base)
    }

    /// GETs `path_and_query` of the query API and parses the JSON answer.
    pub fn get(&self, path_and_query: &str) -> Result<Value, String> {
        get_json(&format!("{}{path_and_query}", self.base))
    }

    /// `/api/v2/trace/{id}`: the spans Zipkin holds for trace `id` (empty when none).
    pub fn trace(&self, id: &str) -> Vec<Value> {
        match self.get(&format!("/api/v2/trace/{id}")) {
            Ok(Value::Array(spans)) => spans,
            _ => Vec::new(),
        }
    }

    /// Waits until Zipkin holds at least `count` spans of trace `id` and returns them.
    pub fn wait_for_trace(&self, id: &str, count: usize, deadline: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let spans = self.trace(id);
            if spans.len() >= count || started.elapsed() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `/api/v2/spans`-style query `path_and_query` answers an array of at least
    /// `count` items, and returns it.
    pub fn wait_for_list(&self, path_and_query: &str, count: usize, deadline: Duration) -> Value {
        let started = Instant::now();
        loop {
            let answer = self.get(path_and_query).unwrap_or(Value::Null);
            let enough = answer.as_array().is_some_and(|items| items.len() >= count);
            if enough || started.elapsed() > deadline {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail(40)
    }

    /// Stops the server now (dropping it does the same).
    pub fn stop(mut self) {
        self.process.stop();
    }
}

/// Milliseconds since the epoch now: the unit of the `endTs` and `lookback` query parameters.
pub fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default()
}
