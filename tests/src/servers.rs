//! Real servers the tests talk to, fetched from the package registries the project's machines
//! reach and started on loopback by the tests themselves, so no test depends on a server that
//! somebody started by hand.
//!
//! - [`maven_artifact`] resolves a jar through Maven (`mvn dependency:get`), which caches it in
//!   Maven's local repository (`~/.m2/repository`, or `$TRACED_MAVEN_REPO`): the first run on a
//!   machine downloads it, every later run reuses it.
//! - [`Watched`] runs a server process that cannot outlive the test process: it is started by a
//!   small shell that holds a pipe from us and kills the server when the pipe closes, which the
//!   kernel does when our process ends for any reason (a failed assertion, a panic, `SIGKILL`).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long resolving one artifact may take (a first download of a large jar on a slow link).
const RESOLVE_DEADLINE: Duration = Duration::from_secs(600);

/// Maven's local repository: `$TRACED_MAVEN_REPO`, else `~/.m2/repository`.
pub fn maven_repository() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRACED_MAVEN_REPO") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".m2").join("repository")
}

/// The local path of `group:artifact:version[:classifier]` (a jar), resolving it through Maven
/// when it is not in the local repository yet.
///
/// Panics with Maven's own output when the artifact cannot be had: a test that needs a server
/// fails loudly rather than skipping.
pub fn maven_artifact(group: &str, artifact: &str, version: &str, classifier: &str) -> PathBuf {
    // One resolution at a time in this process: tests of one binary run in parallel.
    static RESOLVING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = RESOLVING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let suffix = if classifier.is_empty() {
        String::new()
    } else {
        format!("-{classifier}")
    };
    let path = maven_repository()
        .join(group.replace('.', "/"))
        .join(artifact)
        .join(version)
        .join(format!("{artifact}-{version}{suffix}.jar"));
    if path.is_file() {
        return path;
    }
    let coordinates = if classifier.is_empty() {
        format!("{group}:{artifact}:{version}")
    } else {
        format!("{group}:{artifact}:{version}:jar:{classifier}")
    };
    let mut mvn = Command::new("mvn");
    mvn.args(["-B", "-q", "dependency:get", "-Dtransitive=false"])
        .arg(format!("-Dartifact={coordinates}"));
    if let Some(dir) = std::env::var_os("TRACED_MAVEN_REPO") {
        mvn.arg(format!("-Dmaven.repo.local={}", Path::new(&dir).display()));
    }
    let output = run_to_end(&mut mvn, RESOLVE_DEADLINE);
    assert!(
        output.success && path.is_file(),
        "cannot resolve {coordinates} with Maven (is `mvn` installed and Maven Central \
         reachable?):\n{}",
        output.text()
    );
    path
}

/// What a finished command printed, and whether it succeeded.
pub struct Finished {
    /// Exit status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

impl Finished {
    /// Standard output and standard error as text, in that order.
    pub fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

/// Runs `command` with no input, killing it if it outlives `deadline`.
pub fn run_to_end(command: &mut Command, deadline: Duration) -> Finished {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Why a server did not come up.
#[derive(Debug)]
pub enum NotReady {
    /// Another process bound one of the ports chosen for it first: start again on new ones.
    PortTaken(String),
    /// Anything else, with the server's log.
    Failed(String),
}

/// Runs `start` (which chooses free ports each time) until the server comes up, again when
/// another process took one of its ports first (a free port is only free until someone binds
/// it; CI once lost a Jaeger start this way), at most three times; panics otherwise.
pub fn start_on_free_ports<T>(mut start: impl FnMut() -> Result<T, NotReady>) -> T {
    let mut attempt = 1;
    loop {
        match start() {
            Ok(server) => return server,
            Err(NotReady::PortTaken(why)) if attempt < 3 => {
                eprintln!("starting again on other ports (attempt {attempt}): {why}");
                attempt += 1;
            }
            Err(NotReady::PortTaken(why) | NotReady::Failed(why)) => panic!("{why}"),
        }
    }
}

/// A loopback port nobody listens on right now (the OS's choice, released for the server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A directory for server logs and data, under the system's temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("traced-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A server process that dies with the test process (see the module docs); stopped on drop.
pub struct Watched {
    shell: Child,
    // Held open: when it closes (drop, or our process ending), the shell kills the server.
    watchdog: Option<ChildStdin>,
    log: PathBuf,
    name: String,
}

impl Watched {
    /// Starts `program` with `args` and `env`, its output appended to `log`.
    pub fn spawn(
        name: &str,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        log: &Path,
    ) -> Watched {
        // `$0` is the program, `$@` its arguments. The server gets no stdin; the shell waits for
        // ours to close, then stops the server (TERM, then KILL if it lingers).
        let script = r#"
            "$0" "$@" </dev/null >>"$TRACED_WATCHED_LOG" 2>&1 &
            server=$!
            trap 'kill -TERM $server 2>/dev/null' EXIT
            read _ignored
            kill -TERM $server 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                kill -0 $server 2>/dev/null || exit 0
                sleep 0.5
            done
            kill -KILL $server 2>/dev/null
        "#;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg(program)
            .args(args)
            .env("TRACED_WATCHED_LOG", log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut shell = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name} ({program}): {error}"));
        let watchdog = shell.stdin.take();
        Watched {
            shell,
            watchdog,
            log: log.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Whether the server (its watching shell) is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.shell.try_wait(), Ok(None))
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Polls `ready` every 250 ms until it says yes; panics with the log's tail if the server
    /// exits or `deadline` passes first.
    pub fn wait_until(&mut self, deadline: Duration, ready: impl FnMut() -> bool) {
        if let Err(NotReady::PortTaken(why) | NotReady::Failed(why)) =
            self.wait_ready(deadline, ready)
        {
            panic!("{why}");
        }
    }

    /// Polls `ready` every 250 ms until it says yes. A server whose log says one of its ports
    /// was taken (by another process, between `free_port` and its own bind) is stopped and
    /// reported as [`NotReady::PortTaken`], so that it can be started again on other ports.
    pub fn wait_ready(
        &mut self,
        deadline: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), NotReady> {
        let started = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.to_ascii_lowercase().contains("address already in use") {
                self.stop();
                return Err(NotReady::PortTaken(format!(
                    "{}: a port it was given was taken by another process; its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(60)
                )));
            }
            if !self.is_running() {
                return Err(NotReady::Failed(format!(
                    "{} exited while starting; its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(60)
                )));
            }
            if started.elapsed() > deadline {
                return Err(NotReady::Failed(format!(
                    "{} was not ready within {deadline:?}; its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(60)
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the server and waits until it is gone.
    pub fn stop(&mut self) {
        drop(self.watchdog.take());
        let _ = self.shell.wait();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Java to run servers with: `$JAVA_HOME/bin/java` when set, else `java` on the `PATH`.
pub fn java() -> String {
    static JAVA: OnceLock<String> = OnceLock::new();
    JAVA.get_or_init(|| match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").is_file() => {
            Path::new(&home).join("bin/java").display().to_string()
        }
        _ => "java".to_owned(),
    })
    .clone()
}

/// GETs `url` (10 s at most) and parses its JSON answer; any status but 200 is an error that
/// carries the body.
pub(crate) fn get_json(url: &str) -> Result<Value, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|error| format!("GET {url}: reading the body: {error}"))?;
    if status != 200 {
        return Err(format!("GET {url}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|error| format!("GET {url}: not JSON ({error}): {body}"))
}

#[cfg(test)]
mod start_tests {
    use super::*;

    #[test]
    fn a_taken_port_is_retried_and_other_failures_are_not() {
        let mut calls = 0;
        let started = start_on_free_ports(|| {
            calls += 1;
            if calls < 3 {
                Err(NotReady::PortTaken("taken".into()))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(started, 3);
        let always_taken = std::panic::catch_unwind(|| {
            start_on_free_ports(|| Err::<(), _>(NotReady::PortTaken("taken".into())))
        });
        assert!(always_taken.is_err(), "three attempts, then a failure");
        let mut failed_calls = 0;
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            start_on_free_ports(|| {
                failed_calls += 1;
                Err::<(), _>(NotReady::Failed("broken".into()))
            })
        }));
        assert!(failed.is_err());
        assert_eq!(
            failed_calls, 1,
            "a server that fails otherwise is not started again"
        );
    }
}
