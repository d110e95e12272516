//! Python tracers as peers of our services: an interpreter that can import the tracer
//! (installed into a venv of its own on first use when the system Python lacks it), a peer
//! server run from a script under tests/py/, killed on drop. py_zipkin, the Python library of the
//! Zipkin tutorials (tests/py/zipkin_peer.py, with one call of its client here), is used by
//! `interop_py_zipkin.rs` (against the strict receiver) and `live_zipkin_py.rs` (against a real
//! Zipkin); jaeger-client (tests/py/jaeger_peer.py) by `interop_jaeger_client.rs`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use traced_tests::servers::run_to_end;

const PIP_DEADLINE: Duration = Duration::from_secs(300);
pub(crate) const PYTHON_DEADLINE: Duration = Duration::from_secs(30);

fn script() -> PathBuf {
    peer_script("zipkin_peer.py")
}

/// A peer script of tests/py/.
pub(crate) fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py").join(name)
}

/// A Python interpreter that can `import py_zipkin`, installing it into a venv if needed.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| python_with("py-venv", "py_zipkin", &["py_zipkin>=1.2,<2"]))
}

/// A Python interpreter that can `import module`: the system one (`$PYTHON`, else `python3`)
/// when it can, else the one of the venv `<target>/{venv}`, created and given `requirements`
/// from PyPI on first use. Fails the test, saying why, when that cannot be done: a peer that is
/// not there must never pass as a skipped test.
pub(crate) fn python_with(venv: &str, module: &str, requirements: &[&str]) -> PathBuf {
    let system = std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    if imports(&system, module) {
        return system;
    }
    // CARGO_TARGET_TMPDIR is `<target>/tmp`: the venv goes beside it, in `<target>/{venv}`.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let venv = target.join(venv);
    let venv_python = venv.join("bin").join("python");
    if imports(&venv_python, module) {
        return venv_python;
    }
    let created = run_to_end(
        Command::new(&system).arg("-m").arg("venv").arg(&venv),
        PIP_DEADLINE,
    );
    assert!(
        created.success,
        "cannot create a venv with {}: {}",
        system.display(),
        created.text()
    );
    let installed = run_to_end(
        Command::new(&venv_python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(requirements),
        PIP_DEADLINE,
    );
    let why = Command::new(&venv_python)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
        .unwrap_or_else(|error| error.to_string());
    assert!(
        installed.success && imports(&venv_python, module),
        "cannot install {requirements:?} from PyPI so that `import {module}` works: {}\n{why}",
        installed.text()
    );
    venv_python
}

fn imports(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A Python peer service, killed on drop.
pub(crate) struct PyServer {
    child: Child,
    // Held open: the script exits when its stdin closes, so it cannot outlive a crashed test.
    _stdin: ChildStdin,
    pub port: u16,
}

impl PyServer {
    /// Starts the py_zipkin server reporting to `zipkin` (a spans endpoint).
    pub(crate) fn start(zipkin: &str) -> PyServer {
        PyServer::spawn(python(), &script(), &["--zipkin", zipkin])
    }

    /// Runs `script server {args}` with `python`: the script prints `PORT <n>` first, and exits
    /// when its stdin closes.
    pub(crate) fn spawn(python: &Path, script: &Path, args: &[&str]) -> PyServer {
        let mut child = Command::new(python)
            .arg(script)
            .arg("server")
            .args(args)
            .args(["--lifetime", "120"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the Python server starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, ports) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = match ports.recv_timeout(PYTHON_DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the Python server did not report its port within {PYTHON_DEADLINE:?}");
            }
        };
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the Python server: {line:?}"));
        PyServer {
            child,
            _stdin: stdin,
            port,
        }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the py_zipkin client reports on stdout.
#[derive(Debug)]
pub(crate) struct PyCall {
    pub trace_id: String,
    pub root: String,
    pub client: String,
    pub sent_span_id: String,
    pub status: u64,
}

/// One py_zipkin client call of `url`, reporting to `zipkin`, with B3 `headers` made by
/// py_zipkin's `new-span`, `current` or `b3-single` helpers.
pub(crate) fn py_client(url: &str, zipkin: &str, headers: &str) -> PyCall {
    let output = run_to_end(
        Command::new(python()).arg(script()).args([
            "client",
            "--url",
            url,
            "--zipkin",
            zipkin,
            "--headers",
            headers,
        ]),
        PYTHON_DEADLINE,
    );
    assert!(output.success, "py_zipkin client failed: {}", output.text());
    let line: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON line from the py_zipkin client");
    let text = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
    let sent = &line["sent"];
    let sent_span_id = sent["X-B3-SpanId"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            let single = sent["b3"].as_str()?;
            single.split('-').nth(1).map(str::to_owned)
        })
        .expect("py_zipkin sent a span id");
    PyCall {
        trace_id: text("trace_id"),
        root: text("root"),
        client: text("client"),
        sent_span_id,
        status: line["status"].as_u64().unwrap_or_default(),
    }
}
