//! A small HTTP/1.1 server connection over a blocking `TcpStream`.
//!
//! Hand-written (with `httparse` for the request head) rather than hyper: the fault modes need to
//! decide byte by byte what the client sees (nothing, a reset, non-HTTP bytes, a slow read), which a
//! full server framework hides. Every read uses a short timeout and re-checks the receiver's stop
//! flag, so a connection thread never outlives the `Receiver` by more than one poll interval.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a blocked read wakes up to look at the stop flag.
pub(crate) const POLL: Duration = Duration::from_millis(50);
/// Larger request heads are answered 431, as most servers do at a few KiB to tens of KiB.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// A body this large cannot be a sane batch (the reporter caps batches at 5 MB); 413.
pub(crate) const MAX_BODY: usize = 64 * 1024 * 1024;

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub minor_version: u8,
    /// Lowercased names, values as (lossy) text, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking, before any content decoding.
    pub body: Vec<u8>,
    pub chunked: bool,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to keep the connection open after this exchange.
    pub(crate) fn keep_alive(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        let has = |token: &str| {
            connection
                .as_deref()
                .is_some_and(|c| c.split(',').any(|t| t.trim() == token))
        };
        if self.minor_version == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed (or reset) the connection, or the receiver is stopping.
    Closed,
    /// The bytes are not an acceptable HTTP request; answer `status` and close.
    Bad {
        status: u16,
        message: String,
        head: Option<Box<Request>>,
    },
}

fn bad(status: u16, message: impl Into<String>) -> ReadError {
    ReadError::Bad {
        status,
        message: message.into(),
        head: None,
    }
}

/// Buffered reading side of one connection.
pub(crate) struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Read buffer reused across reads.
    scratch: Vec<u8>,
    stop: Arc<AtomicBool>,
    /// Slow-reader mode: at most this many bytes per second are taken from the socket.
    bytes_per_sec: Option<usize>,
}

impl Conn {
    pub(crate) fn new(
        stream: TcpStream,
        stop: Arc<AtomicBool>,
        bytes_per_sec: Option<usize>,
    ) -> io::Result<Conn> {
        stream.set_read_timeout(Some(POLL))?;
        // A client that stops reading must not pin this thread; our answers are small anyway.
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            scratch: Vec::new(),
            stop,
            bytes_per_sec,
        })
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Reads more bytes into the buffer. `Ok(false)` on end of stream or when stopping.
    fn fill(&mut self) -> Result<bool, ReadError> {
        let (chunk, pause) = match self.bytes_per_sec {
            // Twenty small reads a second approximate the rate without long sleeps.
            Some(rate) => ((rate / 20).max(1), Some(Duration::from_millis(50))),
            None => (64 * 1024, None),
        };
        if self.scratch.len() < chunk {
            self.scratch.resize(chunk, 0);
        }
        loop {
            if self.stopping() {
                return Err(ReadError::Closed);
            }
            match self.stream.read(&mut self.scratch[..chunk]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    if let Some(pause) = pause {
                        std::thread::sleep(pause);
                    }
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadError::Closed),
            }
        }
    }

    /// Reads and discards everything until the peer closes or the receiver stops.
    pub(crate) fn drain(&mut self) {
        self.buf.clear();
        while let Ok(true) = self.fill() {
            self.buf.clear();
        }
    }

    /// Closes after an error answer without resetting: discarding what the client is still
    /// sending for a moment, so the answer is read before the close (a close with unread data
    /// makes the kernel send a reset, which can destroy the answer in flight).
    pub(crate) fn lingering_close(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let until = std::time::Instant::now() + Duration::from_secs(2);
        self.buf.clear();
        while std::time::Instant::now() < until {
            match self.fill() {
                Ok(true) => self.buf.clear(),
                _ => return,
            }
        }
    }

    /// Reads one whole request. `send_continue` answers `Expect: 100-continue` before the body.
    pub(crate) fn read_request(&mut self, send_continue: bool) -> Result<Request, ReadError> {
        // Tolerate the empty lines RFC 9112 §2.2 allows before a request line.
        let head_end = loop {
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            let found = find(&self.buf[..self.buf.len().min(MAX_HEAD + 4)], b"\r\n\r\n");
            if let Some(pos) = found {
                break pos + 4;
            }
            if self.buf.len() >= MAX_HEAD + 4 {
                return Err(bad(431, "request head larger than 64 KiB"));
            }
            if !self.fill()? {
                return Err(ReadError::Closed);
            }
        };
        let mut request = parse_head(&self.buf[..head_end])?;
        self.buf.drain(..head_end);

        if send_continue
            && request.minor_version >= 1
            && request
                .header("expect")
                .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        {
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }

        let transfer_encoding = request
            .header("transfer-encoding")
            .map(str::to_ascii_lowercase);
        let content_lengths: Vec<&str> = request
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| v.trim())
            .collect();
        let body = if let Some(te) = transfer_encoding {
            // RFC 9112 §6.1: with Transfer-Encoding, chunked must be the final coding.
            if te.rsplit(',').next().map(str::trim) != Some("chunked") {
                return Err(with_head(
                    501,
                    format!("unsupported Transfer-Encoding: {te}"),
                    request,
                ));
            }
            if !content_lengths.is_empty() {
                return Err(with_head(
                    400,
                    "both Transfer-Encoding and Content-Length",
                    request,
                ));
            }
            request.chunked = true;
            match self.read_chunked() {
                Ok(body) => body,
                Err(ReadError::Bad {
                    status, message, ..
                }) => return Err(with_head(status, message, request)),
                Err(closed) => return Err(closed),
            }
        } else if let Some(first) = content_lengths.first() {
            if content_lengths.iter().any(|v| v != first) {
                return Err(with_head(
                    400,
                    "conflicting Content-Length headers",
                    request,
                ));
            }
            let len: usize = match first.parse() {
                Ok(len) if first.bytes().all(|b| b.is_ascii_digit()) => len,
                _ => {
                    return Err(with_head(
                        400,
                        format!("bad Content-Length: {first}"),
                        request,
                    ))
                }
            };
            if len > MAX_BODY {
                return Err(with_head(
                    413,
                    format!("body of {len} bytes exceeds {MAX_BODY}"),
                    request,
                ));
            }
            self.take(len)?
        } else {
            Vec::new()
        };
        request.body = body;
        Ok(request)
    }

    fn take(&mut self, len: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < len {
            if !self.fill()? {
                return Err(ReadError::Closed);
            }
        }
        let rest = self.buf.split_off(len);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(bad(400, "chunk line too long"));
            }
            if !self.fill()? {
                return Err(ReadError::Closed);
            }
        }
    }

    /// RFC 9112 §7.1 chunked body: size line (extensions ignored), data, CRLF; then trailers.
    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad(400, format!("bad chunk size line: {line:?}")))?;
            if size == 0 {
                // Trailer section ends with an empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY {
                return Err(bad(413, format!("chunked body exceeds {MAX_BODY} bytes")));
            }
            let data = self.take(size)?;
            body.extend_from_slice(&data);
            if !self.read_line()?.is_empty() {
                return Err(bad(400, "chunk data not followed by CRLF"));
            }
        }
    }
}

fn with_head(status: u16, message: impl Into<String>, head: Request) -> ReadError {
    ReadError::Bad {
        status,
        message: message.into(),
        head: Some(Box::new(head)),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(bytes: &[u8]) -> Result<Request, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad(400, "incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(bad(431, format!("more than {MAX_HEADERS} headers")))
        }
        Err(e) => return Err(bad(400, format!("malformed request head: {e}"))),
    }
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Request {
        method: parsed.method.unwrap_or_default().to_owned(),
        path: parsed.path.unwrap_or_default().to_owned(),
        minor_version: parsed.version.unwrap_or(1),
        headers,
        body: Vec::new(),
        chunked: false,
    })
}

/// The reason phrase for the statuses this receiver sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes a complete response with a `Content-Length` body.
pub(crate) fn write_response(
    stream: &mut TcpStream,
    status: u16,
    extra_headers: &[(&str, String)],
    body: &str,
    close: bool,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    stream.write_all(out.as_bytes())?;
    stream.flush()
}
