//! The healthy receiver speaks HTTP/1.1 and Zipkin's spans API the way exporters expect.

use std::io::Write;
use std::time::Duration;

use traced_tests::raw::{self, RawConn};
use traced_tests::{proto::ProtoCodec, Receiver, SPANS_PATH};

const WAIT: Duration = Duration::from_secs(10);

/// Two valid spans of one trace, in the exact form a conformant exporter sends.
fn valid_body() -> &'static str {
    r#"[
      {"traceId":"4e441824ec2b6a44ffdc9bb9a6453df3","id":"352bff9a74ca9ad2","name":"get /api",
       "timestamp":1556604172355737,"duration":1431,"kind":"SERVER",
       "localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},
       "remoteEndpoint":{"ipv4":"172.19.0.2","port":58648},
       "annotations":[{"timestamp":1556604172355800,"value":"ws"}],
       "tags":{"http.method":"GET","http.path":"/api"}},
      {"traceId":"4e441824ec2b6a44ffdc9bb9a6453df3","id":"6b221d5bc9e6496c","parentId":"352bff9a74ca9ad2",
       "name":"query","timestamp":1556604172356000,"duration":1,"kind":"CLIENT","debug":true,
       "localEndpoint":{"serviceName":"backend","ipv6":"2001:db8::c001"},
       "remoteEndpoint":{"serviceName":"mysql"}}
    ]"#
}

#[test]
fn valid_json_spans_are_accepted_without_violations() {
    let receiver = Receiver::start();
    let answer = ureq::post(&receiver.endpoint())
        .header("content-type", "application/json")
        .send(valid_body())
        .expect("202");
    assert_eq!(answer.status(), 202);

    let spans = receiver.wait_for_spans(2, WAIT);
    receiver.assert_no_violations();
    assert_eq!(spans.len(), 2);
    let server = &spans[0];
    assert_eq!(server.trace_id, "4e441824ec2b6a44ffdc9bb9a6453df3");
    assert_eq!(server.kind.as_deref(), Some("SERVER"));
    assert_eq!(server.service(), Some("backend"));
    assert_eq!(server.tag("http.path"), Some("/api"));
    assert_eq!(server.annotation_values(), ["ws"]);
    assert_eq!(
        server.remote_endpoint.as_ref().and_then(|e| e.port),
        Some(58648)
    );
    let client = &spans[1];
    assert_eq!(client.parent_id.as_deref(), Some("352bff9a74ca9ad2"));
    assert!(client.debug);
    assert_eq!(client.remote_service(), Some("mysql"));

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, SPANS_PATH);
    assert_eq!(requests[0].status, Some(202));
    assert_eq!(requests[0].spans, 2);
    assert_eq!(
        requests[0].content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(requests[0].body_len, valid_body().len());
}

#[test]
fn gzip_bodies_are_decompressed() {
    let receiver = Receiver::start();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(valid_body().as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    let request = raw::post(
        SPANS_PATH,
        "application/json",
        &compressed,
        &[("Content-Encoding", "gzip")],
    );
    let answer = raw::send(receiver.addr(), &request).unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(receiver.wait_for_spans(2, WAIT).len(), 2);
    receiver.assert_no_violations();
    let record = &receiver.requests()[0];
    assert_eq!(record.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(record.body_len, compressed.len());
}

#[test]
fn broken_gzip_is_a_400() {
    let receiver = Receiver::start();
    let request = raw::post(
        SPANS_PATH,
        "application/json",
        b"not gzip at all",
        &[("Content-Encoding", "gzip")],
    );
    let answer = raw::send(receiver.addr(), &request).unwrap();
    assert_eq!(answer.status, 400);
    assert!(answer.text().contains("gunzip"), "{}", answer.text());
}

#[test]
fn chunked_bodies_are_reassembled() {
    let receiver = Receiver::start();
    let request = raw::post_chunked(SPANS_PATH, "application/json", valid_body().as_bytes(), 7);
    let answer = raw::send(receiver.addr(), &request).unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text());
    let spans = receiver.wait_for_spans(2, WAIT);
    assert_eq!(spans[1].name.as_deref(), Some("query"));
    receiver.assert_no_violations();
    let record = &receiver.requests()[0];
    assert!(record.chunked);
    assert_eq!(record.body_len, valid_body().len());
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let receiver = Receiver::start();
    let mut conn = RawConn::connect(receiver.addr()).unwrap();
    for _ in 0..3 {
        let answer = conn
            .send(&raw::post(
                SPANS_PATH,
                "application/json",
                valid_body().as_bytes(),
                &[],
            ))
            .unwrap();
        assert_eq!(answer.status, 202);
        assert_eq!(answer.header("connection"), None);
    }
    // A client closing explicitly gets its answer, then the server closes too.
    let last = raw::post(
        SPANS_PATH,
        "application/json",
        b"[]",
        &[("Connection", "close")],
    );
    let answer = conn.send(&last).unwrap();
    assert_eq!(answer.status, 202);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(conn.read_to_end().unwrap().is_empty());

    let requests = receiver.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests
        .iter()
        .all(|r| r.connection == requests[0].connection));
    assert_eq!(receiver.spans().len(), 6);
}

#[test]
fn expect_continue_is_answered_before_the_body() {
    let receiver = Receiver::start();
    let body = valid_body().as_bytes();
    let mut conn = RawConn::connect(receiver.addr()).unwrap();
    let head = format!(
        "POST {SPANS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.stream().write_all(head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    std::io::Read::read_exact(conn.stream(), &mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.stream().write_all(body).unwrap();
    assert_eq!(conn.read_response().unwrap().status, 202);
}

#[test]
fn proto_body_decodes_to_the_same_spans_as_json() {
    let receiver = Receiver::start();
    ureq::post(&receiver.endpoint())
        .header("content-type", "application/json")
        .send(valid_body())
        .unwrap();
    let from_json = receiver.wait_for_spans(2, WAIT);

    let codec = ProtoCodec::load_default().unwrap();
    let body = codec.encode(&from_json).unwrap();
    let answer = ureq::post(&receiver.endpoint())
        .header("content-type", "application/x-protobuf")
        .send(&body[..])
        .unwrap();
    assert_eq!(answer.status(), 202);
    let all = receiver.wait_for_spans(4, WAIT);
    receiver.assert_no_violations();
    assert_eq!(all[2..], from_json[..]);
    assert_eq!(receiver.requests()[1].spans, 2);
}

#[test]
fn answers_like_zipkin_to_wrong_requests() {
    let receiver = Receiver::start();
    let addr = receiver.addr();
    let not_found = raw::send(
        addr,
        &raw::post("/api/v1/spans", "application/json", b"[]", &[]),
    )
    .unwrap();
    assert_eq!(not_found.status, 404);
    let get = raw::send(
        addr,
        format!("GET {SPANS_PATH} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));
    let thrift = raw::send(
        addr,
        &raw::post(SPANS_PATH, "application/x-thrift", b"\x0c\x00", &[]),
    )
    .unwrap();
    assert_eq!(thrift.status, 415);
    let malformed = raw::send(
        addr,
        &raw::post(SPANS_PATH, "application/json", b"[{\"traceId\":", &[]),
    )
    .unwrap();
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.text().contains("malformed JSON"),
        "{}",
        malformed.text()
    );
    let not_a_list =
        raw::send(addr, &raw::post(SPANS_PATH, "application/json", b"{}", &[])).unwrap();
    assert_eq!(not_a_list.status, 400);
    let bad_proto = raw::send(
        addr,
        &raw::post(SPANS_PATH, "application/x-protobuf", b"\x0a\xff\xff", &[]),
    )
    .unwrap();
    assert_eq!(bad_proto.status, 400);
    let empty = raw::send(addr, &raw::post(SPANS_PATH, "application/json", b"", &[])).unwrap();
    assert_eq!(empty.status, 400);

    assert!(receiver.spans().is_empty());
    let statuses: Vec<Option<u16>> = receiver.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Some(404),
            Some(405),
            Some(415),
            Some(400),
            Some(400),
            Some(400),
            Some(400)
        ]
    );
    // Each refusal of a spans POST is an exporter bug worth failing a test over; the 404 is not
    // about spans at all.
    assert_eq!(
        receiver.violations().len(),
        6,
        "{:#?}",
        receiver.violations()
    );
}

#[test]
fn a_missing_content_type_is_read_as_json_but_flagged() {
    let receiver = Receiver::start();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "", valid_body().as_bytes(), &[]),
    )
    .unwrap();
    assert_eq!(answer.status, 202);
    assert_eq!(receiver.spans().len(), 2);
    let violations = receiver.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].contains("without a Content-Type"));
}

#[test]
fn wait_for_spans_returns_what_arrived_when_the_timeout_passes() {
    let receiver = Receiver::start();
    let spans = receiver.wait_for_spans(1, Duration::from_millis(50));
    assert!(spans.is_empty());
}

#[test]
fn dropping_the_receiver_stops_listening_and_closes_idle_connections() {
    let receiver = Receiver::start();
    let addr = receiver.addr();
    let mut idle = RawConn::connect(addr).unwrap();
    assert_eq!(
        idle.send(&raw::post(SPANS_PATH, "application/json", b"[]", &[]))
            .unwrap()
            .status,
        202
    );
    drop(receiver);
    // The kept-alive connection was closed by the server, and nothing accepts new ones.
    assert!(idle.read_to_end().unwrap().is_empty());
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn broken_http_gets_an_error_status_and_is_flagged() {
    let receiver = Receiver::start();
    let addr = receiver.addr();
    let no_version = raw::send(addr, b"POST /api/v2/spans\r\n\r\n").unwrap();
    assert_eq!(no_version.status, 400);
    let huge_header = format!(
        "POST {SPANS_PATH} HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    assert_eq!(raw::send(addr, huge_header.as_bytes()).unwrap().status, 431);
    let bad_chunk = format!(
        "POST {SPANS_PATH} HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    );
    assert_eq!(raw::send(addr, bad_chunk.as_bytes()).unwrap().status, 400);
    let two_lengths =
        format!("POST {SPANS_PATH} HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]");
    assert_eq!(raw::send(addr, two_lengths.as_bytes()).unwrap().status, 400);

    let violations = receiver.violations();
    assert_eq!(violations.len(), 4, "{violations:#?}");
    assert!(
        violations
            .iter()
            .all(|v| v.starts_with("request rejected with 4")),
        "{violations:#?}"
    );
    // The two whose head could be parsed are listed among the requests.
    let statuses: Vec<Option<u16>> = receiver.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(400), Some(400)]);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let receiver = Receiver::start();
    let mut conn = RawConn::connect(receiver.addr()).unwrap();
    let mut both = raw::post(SPANS_PATH, "application/json", valid_body().as_bytes(), &[]);
    both.extend(raw::post("/elsewhere", "application/json", b"[]", &[]));
    conn.stream().write_all(&both).unwrap();
    assert_eq!(conn.read_response().unwrap().status, 202);
    assert_eq!(conn.read_response().unwrap().status, 404);
    assert_eq!(receiver.spans().len(), 2);
}
