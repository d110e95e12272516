//! A real browser for tests that check what a person sees: Debian's headless Chromium driven
//! through ChromeDriver's W3C WebDriver protocol (plain JSON over HTTP, spoken here with `ureq`,
//! so no Node.js or browser download is involved).
//!
//! Chromium is started with the flags this machine's closed network needs (no background
//! networking, component updates, sync or QUIC) and an empty profile; ChromeDriver runs on a free
//! loopback port as a [`Watched`] process, so neither outlives the test.
//!
//! ```no_run
//! let browser = traced_tests::browser::Browser::start();
//! browser.open("http://127.0.0.1:9411/zipkin/");
//! let text = browser.wait_for_text("Find a trace", std::time::Duration::from_secs(30));
//! browser.screenshot(std::path::Path::new("/tmp/zipkin.png"));
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::servers::{self, Watched};

/// The browser window's size: wide enough for Zipkin's waterfall and span detail side by side.
pub const WINDOW: (u32, u32) = (1400, 820);

/// A headless Chromium session.
pub struct Browser {
    _driver: Watched,
    base: String,
    session: String,
}

fn program(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: install Debian's `chromium` and `chromium-driver` packages (.ci/run \
         does), or set {variable}",
        path.display()
    );
    path
}

impl Browser {
    /// Starts ChromeDriver and a Chromium session; panics with the reason when they are missing
    /// or do not come up.
    pub fn start() -> Browser {
        let chromium = program("TRACED_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("TRACED_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = servers::free_port();
        let dir = servers::scratch_dir("browser");
        let mut driver = Watched::spawn(
            "chromedriver",
            &chromedriver.display().to_string(),
            &[
                format!("--port={port}"),
                "--allowed-ips=127.0.0.1".to_owned(),
            ],
            &[],
            &dir.join("chromedriver.log"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let status = format!("{base}/status");
        driver.wait_until(Duration::from_secs(60), || {
            request("GET", &status, None).is_ok_and(|answer| answer["value"]["ready"] == true)
        });
        let profile = dir.join("profile");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium.display().to_string(),
                        "args": args,
                    }
                }
            }
        });
        let created = request("POST", &format!("{base}/session"), Some(&capabilities))
            .unwrap_or_else(|error| {
                panic!("no Chromium session: {error}\n{}", driver.log_tail(40))
            });
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_owned();
        Browser {
            _driver: driver,
            base,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        match request(method, &url, body) {
            Ok(answer) => answer["value"].clone(),
            Err(error) => panic!("WebDriver {method} {path}: {error}"),
        }
    }

    /// Navigates to `url` and waits for the page's load event.
    pub fn open(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The text the page shows (`document.body.innerText`).
    pub fn text(&self) -> String {
        let script =
            json!({ "script": "return document.body ? document.body.innerText : '';", "args": [] });
        self.call("POST", "/execute/sync", Some(&script))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page's text contains `needle` (a page rendered by JavaScript fills in
    /// after load) and returns that text; panics with what it shows at the deadline.
    pub fn wait_for_text(&self, needle: &str, deadline: Duration) -> String {
        let started = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < deadline,
                "the page never showed {needle:?} within {deadline:?}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Clicks the first button whose text contains `label` (case-insensitive).
    pub fn click_button(&self, label: &str) {
        let script = json!({
            "script": "const wanted = arguments[0].toLowerCase();\
                       const button = [...document.querySelectorAll('button')]\
                           .find(b => b.innerText.toLowerCase().includes(wanted));\
                       if (!button) { return false; }\
                       button.click(); return true;",
            "args": [label],
        });
        let clicked = self.call("POST", "/execute/sync", Some(&script));
        assert_eq!(
            clicked,
            json!(true),
            "no button labelled {label:?}:\n{}",
            self.text()
        );
    }

    /// Saves what the window shows as a PNG at `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot's directory");
        }
        std::fs::write(path, png).expect("the screenshot is written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            "DELETE",
            &format!("{}/session/{}", self.base, self.session),
            None,
        );
    }
}

/// One WebDriver exchange; an answer whose `value` holds an `error` is an `Err`.
fn request(method: &str, url: &str, body: Option<&Value>) -> Result<Value, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = match (method, body) {
        ("POST", Some(body)) => agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.to_string()),
        ("POST", None) => agent
            .post(url)
            .header("content-type", "application/json")
            .send("{}"),
        ("DELETE", _) => agent.delete(url).call(),
        _ => agent.get(url).call(),
    };
    let mut response = response.map_err(|error| error.to_string())?;
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|error| error.to_string())?;
    let answer: Value = serde_json::from_str(&text).map_err(|error| format!("{error}: {text}"))?;
    match answer["value"].get("error") {
        Some(error) => Err(format!("{error}: {}", answer["value"]["message"])),
        None => Ok(answer),
    }
}
