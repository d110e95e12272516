//! The counting sink counts what real clients send: several requests on one keep-alive
//! connection, gzip and chunked bodies; and it refuses what it cannot read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use traced_benches::sink::Sink;

/// Writes one request and reads the status line and the (empty) rest of the answer head.
fn exchange(stream: &mut TcpStream, head: &str, body: &[u8]) -> String {
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
        line.clear();
    }
    status.trim_end().to_owned()
}

fn spans_json(n: usize) -> Vec<u8> {
    let spans: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"traceId":"{i:016x}","id":"{i:016x}","tags":{{"q":"a}}\"{{"}}}}"#))
        .collect();
    format!("[{}]", spans.join(",")).into_bytes()
}

#[test]
fn counts_plain_gzip_and_chunked_bodies_on_one_connection() {
    let sink = Sink::start().unwrap();
    let mut stream = TcpStream::connect(sink.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    let plain = spans_json(3);
    let status = exchange(
        &mut stream,
        &format!(
            "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            plain.len()
        ),
        &plain,
    );
    assert_eq!(status, "HTTP/1.1 202 Accepted");

    let mut gzip = GzEncoder::new(Vec::new(), Compression::fast());
    gzip.write_all(&spans_json(5)).unwrap();
    let gzip = gzip.finish().unwrap();
    let status = exchange(
        &mut stream,
        &format!(
            "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            gzip.len()
        ),
        &gzip,
    );
    assert_eq!(status, "HTTP/1.1 202 Accepted");

    let body = spans_json(2);
    let (first, second) = body.split_at(7);
    let mut chunked = Vec::new();
    write!(chunked, "{:x}\r\n", first.len()).unwrap();
    chunked.extend_from_slice(first);
    write!(chunked, "\r\n{:x};ext=1\r\n", second.len()).unwrap();
    chunked.extend_from_slice(second);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let status = exchange(
        &mut stream,
        "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        &chunked,
    );
    assert_eq!(status, "HTTP/1.1 202 Accepted");

    let counts = sink.counts();
    assert_eq!(counts.spans, 10);
    assert_eq!(counts.requests, 3);
    assert_eq!(counts.bad_requests, 0);
    assert_eq!(
        counts.wire_bytes,
        (plain.len() + gzip.len() + body.len()) as u64
    );
    assert!(sink.last_answer().is_some());
}

#[test]
fn a_body_that_does_not_decompress_is_refused_and_counted() {
    let sink = Sink::start().unwrap();
    let mut stream = TcpStream::connect(sink.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let body = b"[{\"not\":\"gzip\"}]";
    let status = exchange(
        &mut stream,
        &format!(
            "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ),
        body,
    );
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let counts = sink.counts();
    assert_eq!((counts.spans, counts.bad_requests), (0, 1));
}

#[test]
fn settle_returns_once_nothing_more_arrives() {
    let sink = Sink::start().unwrap();
    let mut stream = TcpStream::connect(sink.addr()).unwrap();
    let body = spans_json(4);
    write!(
        stream,
        "POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    let counts = sink.settle(Duration::from_millis(100), Duration::from_secs(10));
    assert_eq!(counts.spans, 4);
}
