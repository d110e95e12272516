//! A Zipkin-compatible collector for tests: `POST /api/v2/spans` in JSON v2 and proto3, every span
//! checked against the official API definitions, plus fault modes that imitate a sick collector.
//! It is an OTLP/HTTP collector too: `POST /v1/traces` in protobuf and JSON, decoded with the
//! official generated types and checked by [`crate::otlp`], under the same fault modes.
//!
//! It is a std `TcpListener` with one thread per connection rather than a hyper server: the fault
//! modes need byte-level control of what the client sees (no answer, a TCP reset, non-HTTP bytes, a
//! slow read), and plain blocking sockets with read timeouts make shutdown on drop simple to
//! guarantee — every thread polls a stop flag and is joined before `drop` returns.

use std::borrow::Cow;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::check::{self, Checker};
use crate::http::{self, Conn, ReadError, Request};
use crate::span::ReceivedSpan;

/// The path Zipkin accepts spans on.
pub const SPANS_PATH: &str = "/api/v2/spans";

/// How the receiver misbehaves, to test an exporter against a sick collector.
///
/// ```
/// use traced_tests::{Fault, Receiver};
/// let receiver = Receiver::start_with(Fault::AlwaysStatus(503));
/// let answer = ureq::post(&receiver.endpoint())
///     .header("content-type", "application/json")
///     .send("[]");
/// assert!(matches!(answer, Err(ureq::Error::StatusCode(503))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A conformant Zipkin collector.
    Healthy,
    /// Answers this status to every request (nothing is stored).
    AlwaysStatus(u16),
    /// Answers 429 to every request, with `Retry-After: <secs>` when given.
    TooManyRequests {
        /// The `Retry-After` value in seconds; `None` sends no such header.
        retry_after_secs: Option<u64>,
    },
    /// Answers 503 to every request, with `Retry-After: <secs>` when given.
    Unavailable {
        /// The `Retry-After` value in seconds; `None` sends no such header.
        retry_after_secs: Option<u64>,
    },
    /// Answers `status` to the first `requests` requests, then behaves as [`Fault::Healthy`].
    FailFirst {
        /// How many requests fail.
        requests: usize,
        /// The status they get.
        status: u16,
    },
    /// Accepts connections and reads requests but never answers.
    Hang,
    /// Reads the request, then closes the connection with a TCP reset (SO_LINGER 0).
    Reset,
    /// Reads the request, then answers bytes that are not HTTP and closes.
    Garbage,
    /// Reads requests at about this many bytes per second (with a small socket receive buffer, so
    /// the client's writes really stall), then answers as [`Fault::Healthy`].
    SlowRead {
        /// The reading rate.
        bytes_per_sec: usize,
    },
    /// OTLP: accepts every request, but answers that it rejected this many of its spans (an
    /// OTLP "partial success"); the rest are kept.
    PartialSuccess {
        /// Spans rejected per request.
        rejected: u64,
    },
}

/// What the receiver saw of one HTTP request, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Header names lowercased, values as text, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Content-Encoding` header.
    pub content_encoding: Option<String>,
    /// Body bytes on the wire (after de-chunking, before gunzip).
    pub body_len: usize,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// The status answered; `None` when the fault mode sent no HTTP answer (hang, reset, garbage).
    pub status: Option<u16>,
    /// Spans accepted from this request.
    pub spans: usize,
    /// Which TCP connection carried the request (numbered from 0), to check keep-alive reuse.
    pub connection: u64,
}

impl RequestRecord {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn from_request(request: &Request, connection: u64) -> RequestRecord {
        RequestRecord {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers.clone(),
            content_type: request.header("content-type").map(str::to_owned),
            content_encoding: request.header("content-encoding").map(str::to_owned),
            body_len: request.body.len(),
            chunked: request.chunked,
            status: None,
            spans: 0,
            connection,
        }
    }
}

/// At most this many violation messages are kept (all are counted): a systematic bug under load
/// would otherwise produce one message per span.
const MAX_VIOLATIONS: usize = 1000;

#[derive(Default)]
struct State {
    spans: Vec<ReceivedSpan>,
    otlp_requests: Vec<crate::otlp::ExportTraceServiceRequest>,
    span_count: usize,
    violations: Vec<String>,
    violation_count: usize,
    requests: Vec<RequestRecord>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: Arc<AtomicBool>,
    fault: Fault,
    requests_seen: AtomicUsize,
    connections_seen: AtomicU64,
    checker: &'static Checker,
    keep_spans: usize,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide what was received from the others.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn violation(&self, violation: String) {
        let mut state = self.lock();
        state.violation_count += 1;
        if state.violations.len() < MAX_VIOLATIONS {
            state.violations.push(violation);
        }
    }

    fn record(&self, record: RequestRecord, spans: Vec<ReceivedSpan>, violations: Vec<String>) {
        let mut state = self.lock();
        state.requests.push(record);
        state.span_count += spans.len();
        let room = self.keep_spans.saturating_sub(state.spans.len());
        state.spans.extend(spans.into_iter().take(room));
        state.violation_count += violations.len();
        let room = MAX_VIOLATIONS.saturating_sub(state.violations.len());
        state.violations.extend(violations.into_iter().take(room));
        drop(state);
        self.changed.notify_all();
    }
}

/// A Zipkin-compatible collector on `127.0.0.1`, stopped when dropped.
///
/// Every span is checked against `zipkin2-api.yaml` (JSON) or `zipkin.proto` (proto3) and the
/// prose rules of the Zipkin model; problems are collected in [`violations`](Self::violations)
/// rather than refused, so a test sees all of them at once. A request answered 4xx on the spans
/// path (unparsable body, wrong content type) is itself recorded as a violation.
///
/// ```
/// use std::time::Duration;
/// use traced_tests::Receiver;
///
/// let receiver = Receiver::start();
/// let body = r#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get",
///   "timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"backend"}}]"#;
/// let answer = ureq::post(&receiver.endpoint())
///     .header("content-type", "application/json")
///     .send(body)
///     .unwrap();
/// assert_eq!(answer.status(), 202);
/// let spans = receiver.wait_for_spans(1, Duration::from_secs(5));
/// assert_eq!(spans[0].service(), Some("backend"));
/// receiver.assert_no_violations();
/// ```
pub struct Receiver {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .field("fault", &self.shared.fault)
            .finish()
    }
}

impl Receiver {
    /// Starts a healthy receiver.
    pub fn start() -> Receiver {
        Receiver::start_with(Fault::Healthy)
    }

    /// Starts a receiver in the given fault mode.
    ///
    /// Panics when the Zipkin API definitions cannot be loaded or no loopback port can be bound:
    /// no test can mean anything without them.
    pub fn start_with(fault: Fault) -> Receiver {
        Receiver::start_keeping(fault, usize::MAX)
    }

    /// Starts a receiver that keeps only the first `keep_spans` spans in memory, for load tests:
    /// every span is still checked and counted ([`span_count`](Self::span_count)).
    ///
    /// ```
    /// use traced_tests::{Fault, Receiver};
    /// let receiver = Receiver::start_keeping(Fault::Healthy, 0);
    /// let body = r#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":1556604172355737,
    ///   "duration":1,"localEndpoint":{"serviceName":"a"}}]"#;
    /// ureq::post(&receiver.endpoint()).header("content-type", "application/json").send(body).unwrap();
    /// assert_eq!(receiver.wait_for_span_count(1, std::time::Duration::from_secs(5)), 1);
    /// assert!(receiver.spans().is_empty());
    /// ```
    pub fn start_keeping(fault: Fault, keep_spans: usize) -> Receiver {
        let checker = check::global().unwrap_or_else(|e| panic!("traced-tests receiver: {e}"));
        let listener =
            bind(fault).unwrap_or_else(|e| panic!("traced-tests receiver: cannot bind: {e}"));
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop: Arc::new(AtomicBool::new(false)),
            fault,
            requests_seen: AtomicUsize::new(0),
            connections_seen: AtomicU64::new(0),
            checker,
            keep_spans,
            workers: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("receiver-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn receiver thread")
        };
        Receiver {
            shared,
            addr,
            acceptor: Some(acceptor),
        }
    }

    /// The URL to export to: `http://127.0.0.1:PORT/api/v2/spans`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{SPANS_PATH}", self.addr)
    }

    /// The OTLP/HTTP traces URL to export to: `http://127.0.0.1:PORT/v1/traces`.
    pub fn otlp_endpoint(&self) -> String {
        format!("http://{}{}", self.addr, crate::otlp::TRACES_PATH)
    }

    /// Every OTLP request accepted so far, decoded, in arrival order.
    pub fn otlp_requests(&self) -> Vec<crate::otlp::ExportTraceServiceRequest> {
        self.shared.lock().otlp_requests.clone()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault mode it runs in.
    pub fn fault(&self) -> Fault {
        self.shared.fault
    }

    /// Every span accepted so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.shared.lock().spans.clone()
    }

    /// Waits until at least `count` spans arrived or `timeout` passed, and returns all of them.
    pub fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let state = self.wait_until(timeout, |s| s.span_count >= count);
        state.spans.clone()
    }

    /// How many spans were accepted so far, including any not kept (see
    /// [`start_keeping`](Self::start_keeping)); cheaper than `spans().len()`.
    pub fn span_count(&self) -> usize {
        self.shared.lock().span_count
    }

    /// Waits until at least `count` spans were accepted or `timeout` passed; returns the count.
    pub fn wait_for_span_count(&self, count: usize, timeout: Duration) -> usize {
        self.wait_until(timeout, |s| s.span_count >= count)
            .span_count
    }

    /// Waits until at least `count` requests were received or `timeout` passed, and returns all.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<RequestRecord> {
        let state = self.wait_until(timeout, |s| s.requests.len() >= count);
        state.requests.clone()
    }

    fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while !done(&state) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = match self.shared.changed.wait_timeout(state, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state
    }

    /// Every schema or spec violation seen so far; each message ends with the offending span.
    pub fn violations(&self) -> Vec<String> {
        let state = self.shared.lock();
        let mut violations = state.violations.clone();
        if state.violation_count > violations.len() {
            let more = state.violation_count - violations.len();
            violations.push(format!(
                "... and {more} more violations (only the first {MAX_VIOLATIONS} are kept)"
            ));
        }
        violations
    }

    /// Panics listing every violation, if there is any.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            panic!(
                "the Zipkin receiver saw {} violation(s):\n{}",
                violations.len(),
                violations
                    .iter()
                    .map(|v| format!("- {v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Wake the blocking accept() so the acceptor sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let workers = std::mem::take(
            &mut *self
                .shared
                .workers
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// An endpoint URL with nothing listening: a port bound and released at once.
///
/// Another process could take the port in between; on loopback within a test run that is rare
/// enough, and the port is fresh, unlike a fixed "surely unused" number.
///
/// ```
/// let endpoint = traced_tests::unused_endpoint();
/// assert!(ureq::post(&endpoint).send("[]").is_err());
/// ```
pub fn unused_endpoint() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    let port = listener
        .local_addr()
        .expect("bound listener has an address")
        .port();
    drop(listener);
    format!("http://127.0.0.1:{port}{SPANS_PATH}")
}

fn bind(fault: Fault) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Fault::SlowRead { .. } = fault {
        // Set before listen() so accepted sockets inherit it and the advertised window is small:
        // otherwise the kernel would swallow a whole batch at once and the client never stalls.
        socket.set_recv_buffer_size(4096)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else {
            // EMFILE and friends: back off instead of spinning.
            std::thread::sleep(http::POLL);
            continue;
        };
        let connection = shared.connections_seen.fetch_add(1, Ordering::Relaxed);
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("receiver-conn-{connection}"))
                .spawn(move || {
                    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        serve(stream, connection, &shared)
                    }));
                    // A bug here must fail the test that met it, not vanish with the thread.
                    if let Err(panic) = served {
                        let message = panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("(no message)");
                        shared.violation(format!(
                            "receiver bug: connection {connection} panicked: {message}"
                        ));
                    }
                })
        };
        if let Ok(worker) = worker {
            let mut workers = shared.workers.lock().unwrap_or_else(|p| p.into_inner());
            workers.retain(|w| !w.is_finished());
            workers.push(worker);
        }
    }
}

fn serve(stream: TcpStream, connection: u64, shared: &Shared) {
    let rate = match shared.fault {
        Fault::SlowRead { bytes_per_sec } => Some(bytes_per_sec),
        _ => None,
    };
    let Ok(mut conn) = Conn::new(stream, Arc::clone(&shared.stop), rate) else {
        return;
    };
    let answers = !matches!(shared.fault, Fault::Hang | Fault::Reset | Fault::Garbage);
    loop {
        let request = match conn.read_request(answers) {
            Ok(request) => request,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad {
                status,
                message,
                head,
            }) => {
                let violation = format!("request rejected with {status}: {message}");
                match head {
                    Some(head) => {
                        let mut record = RequestRecord::from_request(&head, connection);
                        record.status = answers.then_some(status);
                        shared.record(record, Vec::new(), vec![violation]);
                    }
                    // Not even a request line and headers: nothing to list among the requests,
                    // but the sender still spoke broken HTTP.
                    None => shared.violation(violation),
                }
                if answers {
                    let _ = http::write_response(&mut conn.stream, status, &[], &message, true);
                    conn.lingering_close();
                } else if shared.fault == Fault::Hang {
                    conn.drain();
                }
                return;
            }
        };
        let index = shared.requests_seen.fetch_add(1, Ordering::Relaxed);
        let mut record = RequestRecord::from_request(&request, connection);
        match shared.fault {
            Fault::Hang => {
                shared.record(record, Vec::new(), Vec::new());
                conn.drain();
                return;
            }
            Fault::Reset => {
                shared.record(record, Vec::new(), Vec::new());
                let _ = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO));
                return;
            }
            Fault::Garbage => {
                shared.record(record, Vec::new(), Vec::new());
                let _ = conn
                    .stream
                    .write_all(b"\x00\x16\x03\x01 this is not HTTP \xff\xfe\r\n\r\n");
                let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                return;
            }
            _ => {}
        }
        let keep_alive = request.keep_alive();
        let injected = match shared.fault {
            Fault::AlwaysStatus(status) => Some((status, Vec::new())),
            Fault::TooManyRequests { retry_after_secs } => {
                let headers = retry_after_secs
                    .map(|s| vec![("Retry-After", s.to_string())])
                    .unwrap_or_default();
                Some((429, headers))
            }
            Fault::Unavailable { retry_after_secs } => {
                let headers = retry_after_secs
                    .map(|s| vec![("Retry-After", s.to_string())])
                    .unwrap_or_default();
                Some((503, headers))
            }
            Fault::FailFirst { requests, status } if index < requests => Some((status, Vec::new())),
            _ => None,
        };
        let (status, headers, body) = match injected {
            Some((status, headers)) => {
                shared.record(
                    RequestRecord {
                        status: Some(status),
                        ..record
                    },
                    Vec::new(),
                    Vec::new(),
                );
                (status, headers, format!("injected fault: {status}"))
            }
            None => {
                let outcome = handle(&request, shared.checker, shared.fault);
                record.status = Some(outcome.status);
                record.spans = outcome.spans.len();
                let mut violations = outcome.violations;
                if (400..500).contains(&outcome.status) && outcome.status != 404 {
                    violations.push(format!(
                        "{} {} answered {}: {}",
                        request.method, request.path, outcome.status, outcome.message
                    ));
                }
                if let Some(otlp) = outcome.otlp {
                    let mut state = shared.lock();
                    if state.otlp_requests.len() < shared.keep_spans {
                        state.otlp_requests.push(otlp);
                    }
                }
                shared.record(record, outcome.spans, violations);
                (outcome.status, outcome.headers, outcome.message)
            }
        };
        if http::write_response(&mut conn.stream, status, &headers, &body, !keep_alive).is_err()
            || !keep_alive
        {
            return;
        }
    }
}

/// The result of handling one request as a healthy Zipkin would.
struct Outcome {
    status: u16,
    headers: Vec<(&'static str, String)>,
    message: String,
    spans: Vec<ReceivedSpan>,
    violations: Vec<String>,
    otlp: Option<crate::otlp::ExportTraceServiceRequest>,
}

impl Outcome {
    fn error(status: u16, message: impl Into<String>) -> Outcome {
        Outcome {
            status,
            headers: Vec::new(),
            message: message.into(),
            spans: Vec::new(),
            violations: Vec::new(),
            otlp: None,
        }
    }
}

fn handle(request: &Request, checker: &Checker, fault: Fault) -> Outcome {
    let path = request.path.split('?').next().unwrap_or("");
    if path != SPANS_PATH && path != crate::otlp::TRACES_PATH {
        return Outcome::error(404, format!("no such path: {path}"));
    }
    if request.method != "POST" {
        let mut outcome =
            Outcome::error(405, format!("{} is not allowed on {path}", request.method));
        outcome.headers.push(("Allow", "POST".into()));
        return outcome;
    }
    let mut violations = Vec::new();
    let body = match request
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
    {
        None => Cow::Borrowed(&request.body[..]),
        Some(e) if e.is_empty() || e == "identity" => Cow::Borrowed(&request.body[..]),
        Some(e) if e == "gzip" || e == "x-gzip" => match gunzip(&request.body) {
            Ok(body) => Cow::Owned(body),
            Err(e) => return Outcome::error(400, format!("cannot gunzip the body: {e}")),
        },
        Some(e) => return Outcome::error(415, format!("unsupported Content-Encoding: {e}")),
    };
    if body.is_empty() {
        return Outcome::error(400, "empty POST body");
    }
    let media_type = request.header("content-type").map(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if path == crate::otlp::TRACES_PATH {
        return handle_otlp(media_type.as_deref(), &body, fault);
    }
    let decoded = match media_type.as_deref() {
        Some("application/json") => checker.json(&body),
        Some("application/x-protobuf") => checker.proto(&body),
        None => {
            // Zipkin reads a body without Content-Type as JSON; an exporter should still say it.
            violations.push(format!("POST {SPANS_PATH} without a Content-Type header"));
            checker.json(&body)
        }
        Some(other) => return Outcome::error(415, format!("unsupported Content-Type: {other}")),
    };
    match decoded {
        Ok((spans, found)) => {
            violations.extend(found);
            Outcome {
                status: 202,
                headers: Vec::new(),
                message: String::new(),
                spans,
                violations,
                otlp: None,
            }
        }
        Err(message) => Outcome {
            violations,
            ..Outcome::error(400, message)
        },
    }
}

/// An OTLP/HTTP export, answered as the specification says: 200 with an
/// `ExportTraceServiceResponse` in the request's encoding (empty, or with a partial success).
fn handle_otlp(media_type: Option<&str>, body: &[u8], fault: Fault) -> Outcome {
    let Some(media_type) = media_type else {
        return Outcome::error(415, "an OTLP request without Content-Type");
    };
    let request = match crate::otlp::decode(media_type, body) {
        Ok(request) => request,
        Err(message) => return Outcome::error(400, message),
    };
    let rejected = match fault {
        Fault::PartialSuccess { rejected } => rejected,
        _ => 0,
    };
    let message = match (media_type, rejected) {
        ("application/json", 0) => "{}".to_owned(),
        ("application/json", rejected) => format!(
            r#"{{"partialSuccess":{{"rejectedSpans":"{rejected}","errorMessage":"over quota"}}}}"#
        ),
        (_, 0) => String::new(),
        (_, rejected) => {
            // partial_success (1) { rejected_spans (1): varint, error_message (2): "over quota" }
            let mut inner = vec![0x08];
            let mut rest = rejected;
            while rest >= 0x80 {
                inner.push(rest as u8 | 0x80);
                rest >>= 7;
            }
            inner.push(rest as u8);
            inner.extend_from_slice(b"\x12\x0aover quota");
            let mut answer = vec![0x0a, inner.len() as u8];
            answer.extend(inner);
            String::from_utf8(answer).expect("an ASCII answer for small counts")
        }
    };
    let mut spans = crate::otlp::received_spans(&request);
    spans.truncate(spans.len().saturating_sub(rejected as usize));
    Outcome {
        status: 200,
        headers: vec![("Content-Type", media_type.to_owned())],
        message,
        spans,
        violations: crate::otlp::violations(&request),
        otlp: Some(request),
    }
}

fn gunzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    // Bounded so a gzip bomb fails this request instead of the test process.
    flate2::read::GzDecoder::new(body)
        .take(http::MAX_BODY as u64 * 4)
        .read_to_end(&mut out)?;
    Ok(out)
}
