//! py_zipkin, the Python library of the Zipkin tutorials, as a peer of our services: its
//! interpreter (installed into a venv on first use when the system Python lacks it), the
//! py_zipkin server of tests/py/zipkin_peer.py, and one call of its client. Used by
//! `interop_py_zipkin.rs` (against the strict receiver) and `live_zipkin_py.rs` (against a real
//! Zipkin).
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py/zipkin_peer.py")
}

/// A Python interpreter that can `import py_zipkin`, installing it into a venv if needed.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let system =
            std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
        if imports_py_zipkin(&system) {
            return system;
        }
        // CARGO_TARGET_TMPDIR is `<target>/tmp`: the venv goes beside it, in `<target>/py-venv`.
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory");
        let venv = target.join("py-venv");
        let venv_python = venv.join("bin").join("python");
        if imports_py_zipkin(&venv_python) {
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
            Command::new(&venv_python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "py_zipkin>=1.2,<2",
            ]),
            PIP_DEADLINE,
        );
        assert!(
            installed.success && imports_py_zipkin(&venv_python),
            "cannot install py_zipkin from PyPI: {}",
            installed.text()
        );
        venv_python
    })
}

fn imports_py_zipkin(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import py_zipkin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The py_zipkin service, killed on drop.
pub(crate) struct PyServer {
    child: Child,
    // Held open: the script exits when its stdin closes, so it cannot outlive a crashed test.
    _stdin: ChildStdin,
    pub port: u16,
}

impl PyServer {
    /// Starts the py_zipkin server reporting to `zipkin` (a spans endpoint).
    pub(crate) fn start(zipkin: &str) -> PyServer {
        let mut child = Command::new(python())
            .arg(script())
            .args(["server", "--zipkin", zipkin, "--lifetime", "120"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the py_zipkin server starts");
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
                panic!("the py_zipkin server did not report its port within {PYTHON_DEADLINE:?}");
            }
        };
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the py_zipkin server: {line:?}"));
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
