//! A minimal, fast Zipkin-compatible HTTP sink on loopback that counts the spans it receives.
//!
//! It accepts `POST`s with a JSON array body (plain or gzip, `Content-Length` or chunked),
//! counts the array's top-level objects without building a document, and answers `202`, which is
//! what a Zipkin collector answers. A real collector would be the bottleneck of the export
//! benchmark; this one is cheap enough that the reporter under test is what gets measured.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;

/// Counts of what a [`Sink`] received so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Spans in the bodies of all requests.
    pub spans: u64,
    /// Requests answered.
    pub requests: u64,
    /// Body bytes as they came over the wire (compressed, if they were).
    pub wire_bytes: u64,
    /// Requests whose body could not be read or decompressed.
    pub bad_requests: u64,
}

#[derive(Default)]
struct Counters {
    spans: AtomicU64,
    requests: AtomicU64,
    wire_bytes: AtomicU64,
    bad_requests: AtomicU64,
    /// Nanoseconds since `Sink::started` at which the last request was answered.
    last_answer_ns: AtomicU64,
}

/// A counting HTTP sink listening on `127.0.0.1`, serving until dropped.
///
/// ```
/// use std::io::{Read, Write};
/// let sink = traced_benches::sink::Sink::start().unwrap();
/// let body = br#"[{"traceId":"1","id":"2"},{"traceId":"1","id":"3","tags":{"a":"{"}}]"#;
/// let mut stream = std::net::TcpStream::connect(sink.addr()).unwrap();
/// write!(stream, "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
/// stream.write_all(body).unwrap();
/// let mut answer = [0u8; 12];
/// stream.read_exact(&mut answer).unwrap();
/// assert_eq!(&answer, b"HTTP/1.1 202");
/// assert_eq!(sink.counts().spans, 2);
/// ```
pub struct Sink {
    addr: SocketAddr,
    counters: Arc<Counters>,
    started: Instant,
    stop: Arc<AtomicBool>,
}

impl Sink {
    /// Binds an ephemeral loopback port and serves each connection on its own thread.
    pub fn start() -> io::Result<Sink> {
        Sink::start_with(true)
    }

    /// A sink that answers every request without reading its spans (its span count stays 0):
    /// for the timed benchmarks, where the sink only has to be a collector that answers and
    /// the less it does on the machine's other core the less it disturbs the measured thread.
    pub fn start_discarding() -> io::Result<Sink> {
        Sink::start_with(false)
    }

    fn start_with(count_spans: bool) -> io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let (accept_counters, accept_stop) = (counters.clone(), stop.clone());
        thread::Builder::new()
            .name("bench-sink".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let counters = accept_counters.clone();
                    let _ = thread::Builder::new()
                        .name("bench-sink-conn".into())
                        .spawn(move || serve(stream, &counters, started, count_spans));
                }
            })?;
        Ok(Sink {
            addr,
            counters,
            started,
            stop,
        })
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Zipkin v2 spans URL of this sink.
    pub fn url(&self) -> String {
        format!("http://{}/api/v2/spans", self.addr)
    }

    /// What arrived so far.
    pub fn counts(&self) -> SinkCounts {
        SinkCounts {
            spans: self.counters.spans.load(Ordering::Acquire),
            requests: self.counters.requests.load(Ordering::Acquire),
            wire_bytes: self.counters.wire_bytes.load(Ordering::Acquire),
            bad_requests: self.counters.bad_requests.load(Ordering::Acquire),
        }
    }

    /// When the last request was answered, if any was.
    pub fn last_answer(&self) -> Option<Instant> {
        match self.counters.last_answer_ns.load(Ordering::Acquire) {
            0 => None,
            ns => Some(self.started + Duration::from_nanos(ns)),
        }
    }

    /// Waits until no span has arrived for `quiet`, or until `deadline`; returns the counts.
    pub fn settle(&self, quiet: Duration, deadline: Duration) -> SinkCounts {
        let give_up = Instant::now() + deadline;
        let mut last = self.counts();
        let mut since = Instant::now();
        while Instant::now() < give_up {
            thread::sleep(Duration::from_millis(20));
            let now = self.counts();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                break;
            }
        }
        last
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, counters: &Counters, started: Instant, count_spans: bool) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut body = Vec::new();
    let mut inflated = Vec::new();
    loop {
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) | Err(_) => return,
        };
        body.clear();
        let read = if head.chunked {
            read_chunked(&mut reader, &mut body)
        } else {
            (&mut reader)
                .take(head.content_length)
                .read_to_end(&mut body)
                .and_then(|n| {
                    if n as u64 == head.content_length {
                        Ok(())
                    } else {
                        Err(io::ErrorKind::UnexpectedEof.into())
                    }
                })
        };
        if read.is_err() {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let spans = if !count_spans {
            Some(0)
        } else if head.gzip {
            inflated.clear();
            match GzDecoder::new(&body[..]).read_to_end(&mut inflated) {
                Ok(_) => Some(count_top_level_objects(&inflated)),
                Err(_) => None,
            }
        } else {
            Some(count_top_level_objects(&body))
        };
        let answer: &[u8] = match spans {
            Some(spans) => {
                counters.spans.fetch_add(spans, Ordering::AcqRel);
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
            }
            None => {
                counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
            }
        };
        counters
            .wire_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        counters.requests.fetch_add(1, Ordering::AcqRel);
        let now_ns = (started.elapsed().as_nanos() as u64).max(1);
        counters.last_answer_ns.store(now_ns, Ordering::Release);
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

struct Head {
    content_length: u64,
    chunked: bool,
    gzip: bool,
}

/// Reads a request line and headers; `None` on a clean end of the connection.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut line = String::new();
    let mut head = Head {
        content_length: 0,
        chunked: false,
        gzip: false,
    };
    let mut first = true;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return if first {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let trimmed = line.trim_end();
        if first {
            first = false;
            continue;
        }
        if trimmed.is_empty() {
            return Ok(Some(head));
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-encoding") {
            head.gzip = value.eq_ignore_ascii_case("gzip");
        }
    }
}

fn read_chunked(reader: &mut impl BufRead, body: &mut Vec<u8>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        if size == 0 {
            // Trailers, then the blank line that ends the message.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        reader.take(size).read_to_end(body)?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

/// Counts the objects directly inside a top-level JSON array, skipping string contents.
///
/// It jumps from one quote or brace to the next (`memchr`) instead of looking at every byte:
/// the sink runs on the same two cores as what it measures, and at two million spans a second
/// a byte-by-byte scan took enough CPU to slow the generators it was counting for.
///
/// ```
/// use traced_benches::sink::count_top_level_objects;
/// assert_eq!(count_top_level_objects(br#"[{"a":{"b":1}},{"c":"}{\"{"}]"#), 2);
/// assert_eq!(count_top_level_objects(br#"[{"a":[{"b":"\\"},{}]},{"c":"x\\\"y"}]"#), 2);
/// assert_eq!(count_top_level_objects(b"[]"), 0);
/// ```
pub fn count_top_level_objects(json: &[u8]) -> u64 {
    let mut depth = 0u32;
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr3(b'"', b'{', b'}', &json[at..]) {
        let index = at + found;
        match json[index] {
            b'"' => {
                // Skip the string: to the next quote that no backslash escapes.
                let mut end = index + 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &json[end..]) {
                        Some(offset) if json[end + offset] == b'\\' => end += offset + 2,
                        Some(offset) => {
                            end += offset;
                            break;
                        }
                        None => return count,
                    }
                    if end >= json.len() {
                        return count;
                    }
                }
                at = end + 1;
                continue;
            }
            b'{' => {
                if depth == 0 {
                    count += 1;
                }
                depth += 1;
            }
            _ => depth = depth.saturating_sub(1),
        }
        at = index + 1;
    }
    count
}
