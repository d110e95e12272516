//! A byte-level HTTP/1.1 client for tests that must control or observe every byte (chunked
//! bodies, keep-alive reuse, fault modes), where a real client would hide the details.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client connection, kept open across requests.
///
/// ```
/// use traced_tests::{raw, Receiver};
/// let receiver = Receiver::start();
/// let mut conn = raw::RawConn::connect(receiver.addr()).unwrap();
/// let first = conn.send(&raw::post("/api/v2/spans", "application/json", b"[]", &[])).unwrap();
/// let second = conn.send(&raw::post("/api/v2/spans", "application/json", b"[]", &[])).unwrap();
/// assert_eq!((first.status, second.status), (202, 202));
/// let requests = receiver.requests();
/// assert_eq!(requests[0].connection, requests[1].connection); // kept alive
/// ```
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects with a 10 s read timeout, so a test against a silent server fails instead of
    /// hanging.
    pub fn connect(addr: SocketAddr) -> io::Result<RawConn> {
        RawConn::connect_with_timeout(addr, Duration::from_secs(10))
    }

    /// Connects with the given read timeout.
    pub fn connect_with_timeout(addr: SocketAddr, read_timeout: Duration) -> io::Result<RawConn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(read_timeout))?;
        stream.set_write_timeout(Some(read_timeout))?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
        })
    }

    /// The underlying stream, to write partial requests or read raw bytes.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Writes `request` and reads one response.
    pub fn send(&mut self, request: &[u8]) -> io::Result<RawResponse> {
        self.stream.write_all(request)?;
        self.read_response()
    }

    /// Reads one response (skipping `100 Continue` interim responses).
    pub fn read_response(&mut self) -> io::Result<RawResponse> {
        loop {
            let end = loop {
                if let Some(pos) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break pos + 4;
                }
                self.fill()?;
            };
            let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.buf.drain(..end);
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or("");
            let status = status_line
                .strip_prefix("HTTP/1.")
                .and_then(|rest| rest.get(2..5))
                .and_then(|code| code.parse().ok())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("not HTTP: {status_line:?}"),
                    )
                })?;
            let headers: Vec<(String, String)> = lines
                .filter(|l| !l.is_empty())
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            if status == 100 {
                continue;
            }
            let len: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            while self.buf.len() < len {
                self.fill()?;
            }
            let body = self.buf.drain(..len).collect();
            return Ok(RawResponse {
                status,
                headers,
                body,
            });
        }
    }

    /// Reads until the server closes the connection and returns what came.
    pub fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.buf);
        self.stream.read_to_end(&mut out)?;
        Ok(out)
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut tmp = [0u8; 8192];
        let n = self.stream.read(&mut tmp)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a full response",
            ));
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }
}

/// A `POST` request with a `Content-Length` body; `content_type` is left out when empty.
pub fn post(
    path: &str,
    content_type: &str,
    body: &[u8],
    extra_headers: &[(&str, &str)],
) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        out.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A `POST` request whose body is sent with `Transfer-Encoding: chunked`, cut into `chunk`-byte
/// pieces.
pub fn post_chunked(path: &str, content_type: &str, body: &[u8], chunk: usize) -> Vec<u8> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut bytes = head.into_bytes();
    for piece in body.chunks(chunk.max(1)) {
        bytes.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
        bytes.extend_from_slice(piece);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\nx-trailer: yes\r\n\r\n");
    bytes
}

/// Sends one request on a fresh connection and reads the response.
pub fn send(addr: SocketAddr, request: &[u8]) -> io::Result<RawResponse> {
    RawConn::connect(addr)?.send(request)
}
