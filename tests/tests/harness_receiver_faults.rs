//! Each fault mode is what a client actually observes, and none of them outlives the receiver.

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use traced_tests::raw::{self, RawConn};
use traced_tests::{unused_endpoint, Fault, Receiver, SPANS_PATH};

const WAIT: Duration = Duration::from_secs(10);

const BODY: &str = r#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get",
  "timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"backend"}}]"#;

fn spans_post() -> Vec<u8> {
    raw::post(SPANS_PATH, "application/json", BODY.as_bytes(), &[])
}

#[test]
fn always_status_answers_every_request_and_stores_nothing() {
    let receiver = Receiver::start_with(Fault::AlwaysStatus(500));
    for _ in 0..3 {
        let answer = ureq::post(&receiver.endpoint())
            .header("content-type", "application/json")
            .send(BODY);
        assert!(
            matches!(answer, Err(ureq::Error::StatusCode(500))),
            "{answer:?}"
        );
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.status == Some(500) && r.spans == 0));
    assert!(receiver.spans().is_empty());
    // Injected failures are the test's doing, not the exporter's.
    receiver.assert_no_violations();
}

#[test]
fn too_many_requests_with_and_without_retry_after() {
    let with = Receiver::start_with(Fault::TooManyRequests {
        retry_after_secs: Some(7),
    });
    for _ in 0..2 {
        let answer = raw::send(with.addr(), &spans_post()).unwrap();
        assert_eq!(answer.status, 429);
        assert_eq!(answer.header("retry-after"), Some("7"));
    }
    let without = Receiver::start_with(Fault::TooManyRequests {
        retry_after_secs: None,
    });
    let answer = raw::send(without.addr(), &spans_post()).unwrap();
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), None);
    assert!(with.spans().is_empty() && without.spans().is_empty());
}

#[test]
fn fail_first_then_healthy() {
    let receiver = Receiver::start_with(Fault::FailFirst {
        requests: 2,
        status: 503,
    });
    // On one kept-alive connection: the failures do not close it.
    let mut conn = RawConn::connect(receiver.addr()).unwrap();
    let statuses: Vec<u16> = (0..4)
        .map(|_| conn.send(&spans_post()).unwrap().status)
        .collect();
    assert_eq!(statuses, [503, 503, 202, 202]);
    let spans = receiver.wait_for_spans(2, WAIT);
    assert_eq!(spans.len(), 2, "only the accepted requests store spans");
    let recorded: Vec<(Option<u16>, usize)> = receiver
        .requests()
        .iter()
        .map(|r| (r.status, r.spans))
        .collect();
    assert_eq!(
        recorded,
        [
            (Some(503), 0),
            (Some(503), 0),
            (Some(202), 1),
            (Some(202), 1)
        ]
    );
    receiver.assert_no_violations();
}

#[test]
fn hang_reads_but_never_answers_and_drop_still_returns() {
    let receiver = Receiver::start_with(Fault::Hang);
    let mut conn =
        RawConn::connect_with_timeout(receiver.addr(), Duration::from_millis(300)).unwrap();
    let error = conn.send(&spans_post()).expect_err("no answer may come");
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error:?}"
    );
    let requests = receiver.wait_for_requests(1, WAIT);
    assert_eq!(requests[0].status, None);
    assert_eq!(requests[0].body_len, BODY.len());
    assert!(receiver.spans().is_empty());

    // The connection thread is parked in a read; dropping must still stop it, and the client then
    // sees the connection closed rather than hanging forever.
    drop(receiver);
    conn.stream().set_read_timeout(Some(WAIT)).unwrap();
    assert!(conn.read_to_end().unwrap().is_empty());
}

#[test]
fn reset_closes_with_a_tcp_reset() {
    let receiver = Receiver::start_with(Fault::Reset);
    let mut conn = RawConn::connect(receiver.addr()).unwrap();
    let error = conn
        .send(&spans_post())
        .expect_err("a reset, not a response");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error:?}");
    assert_eq!(receiver.wait_for_requests(1, WAIT)[0].status, None);

    let through_ureq = ureq::post(&receiver.endpoint())
        .header("content-type", "application/json")
        .send(BODY);
    assert!(through_ureq.is_err());
    assert!(receiver.spans().is_empty());
}

#[test]
fn garbage_is_not_http() {
    let receiver = Receiver::start_with(Fault::Garbage);
    let mut conn = RawConn::connect(receiver.addr()).unwrap();
    conn.stream().write_all(&spans_post()).unwrap();
    let bytes = conn.read_to_end().unwrap();
    assert!(!bytes.is_empty());
    assert!(!bytes.starts_with(b"HTTP/"), "{bytes:?}");

    let through_ureq = ureq::post(&receiver.endpoint())
        .header("content-type", "application/json")
        .send(BODY);
    assert!(
        matches!(through_ureq, Err(ref e) if !matches!(e, ureq::Error::StatusCode(_))),
        "{through_ureq:?}"
    );
    assert_eq!(receiver.wait_for_requests(2, WAIT).len(), 2);
    assert!(receiver.spans().is_empty());
}

#[test]
fn slow_read_takes_time_then_accepts() {
    let rate = 10_000;
    let receiver = Receiver::start_with(Fault::SlowRead {
        bytes_per_sec: rate,
    });
    // A request of ~5 KB at 10 KB/s cannot be read in much under half a second, however fast the
    // machine; a slower one only takes longer.
    let padding = "x".repeat(5000);
    let body = BODY.replace(
        "\"get\"",
        &format!("\"get\",\"tags\":{{\"pad\":\"{padding}\"}}"),
    );
    let started = Instant::now();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", body.as_bytes(), &[]),
    )
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 202);
    assert!(
        elapsed >= Duration::from_millis(350),
        "read {} bytes in {elapsed:?}",
        body.len()
    );
    assert_eq!(receiver.spans()[0].tag("pad").map(str::len), Some(5000));
    receiver.assert_no_violations();
}

#[test]
fn slow_read_stalls_the_writer() {
    let receiver = Receiver::start_with(Fault::SlowRead {
        bytes_per_sec: 2000,
    });
    let stream = std::net::TcpStream::connect(receiver.addr()).unwrap();
    // A small send buffer on our side too, so the kernel cannot absorb the body for us.
    socket2::SockRef::from(&stream)
        .set_send_buffer_size(4096)
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let request = raw::post(SPANS_PATH, "application/json", &vec![b' '; 1 << 20], &[]);
    let mut written = 0;
    let mut writer = &stream;
    while written < request.len() {
        match writer.write(&request[written..]) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        written < 256 * 1024,
        "a slow reader took {written} bytes at once"
    );
    drop(stream);
    drop(receiver);
}

#[test]
fn unused_endpoint_refuses_connections() {
    let endpoint = unused_endpoint();
    let port: u16 = endpoint
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix(SPANS_PATH))
        .and_then(|p| p.parse().ok())
        .expect("http://127.0.0.1:PORT/api/v2/spans");
    let error = std::net::TcpStream::connect(("127.0.0.1", port)).expect_err("nothing listens");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
    assert!(ureq::post(&endpoint).send(BODY).is_err());
}

#[test]
fn every_fault_mode_stops_on_drop_with_a_connection_open() {
    let modes = [
        Fault::Healthy,
        Fault::AlwaysStatus(500),
        Fault::TooManyRequests {
            retry_after_secs: None,
        },
        Fault::FailFirst {
            requests: 1,
            status: 503,
        },
        Fault::Hang,
        Fault::Reset,
        Fault::Garbage,
        Fault::SlowRead { bytes_per_sec: 100 },
    ];
    for fault in modes {
        let receiver = Receiver::start_with(fault);
        assert_eq!(receiver.fault(), fault);
        let mut conn = RawConn::connect(receiver.addr()).unwrap();
        // Half a request: every connection thread is now blocked mid-read.
        conn.stream()
            .write_all(b"POST /api/v2/spans HTTP/1.1\r\nContent-Length: 100\r\n\r\n[")
            .unwrap();
        drop(receiver);
        conn.stream().set_read_timeout(Some(WAIT)).unwrap();
        // The server side is gone: end of stream (or a reset), never a timeout.
        match conn.read_to_end() {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{fault:?}: {e:?}"),
        }
    }
}
