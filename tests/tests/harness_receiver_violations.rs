//! Every kind of non-conformant span is detected, whether it arrives as JSON or proto3, and a valid
//! one produces no violation at all.

use std::time::Duration;

use serde_json::{json, Value};
use traced_tests::raw;
use traced_tests::schema::Schema;
use traced_tests::{check_json, Receiver, SPANS_PATH};

fn valid_span() -> Value {
    json!({
        "traceId": "4e441824ec2b6a44ffdc9bb9a6453df3",
        "id": "352bff9a74ca9ad2",
        "parentId": "6b221d5bc9e6496c",
        "name": "get /api",
        "kind": "SERVER",
        "timestamp": 1556604172355737u64,
        "duration": 1431,
        "localEndpoint": { "serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306 },
        "remoteEndpoint": { "ipv4": "172.19.0.2", "port": 58648 },
        "annotations": [ { "timestamp": 1556604172355800u64, "value": "ws" } ],
        "tags": { "http.method": "GET" }
    })
}

/// Posts one span through a fresh receiver; returns the status and the violations.
fn post_span(span: &Value) -> (u16, Vec<String>) {
    let receiver = Receiver::start();
    let body = Value::Array(vec![span.clone()]).to_string();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", body.as_bytes(), &[]),
    )
    .expect("the receiver answers");
    (answer.status, receiver.violations())
}

/// Applies `change` to a valid span and asserts the receiver accepts it (as Zipkin would, or
/// stricter) but reports exactly one problem-kind containing `expected`.
fn assert_detects(change: impl FnOnce(&mut Value), expected: &str) {
    let mut span = valid_span();
    change(&mut span);
    let (status, violations) = post_span(&span);
    assert_eq!(status, 202, "{violations:#?}");
    assert!(
        violations.iter().any(|v| v.contains(expected)),
        "expected a violation containing {expected:?}, got {violations:#?}"
    );
    // Every message names the span it is about.
    assert!(
        violations.iter().all(|v| v.contains("in span {")),
        "{violations:#?}"
    );
}

#[test]
fn a_valid_span_has_no_violation() {
    let (status, violations) = post_span(&valid_span());
    assert_eq!(status, 202);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_official_example_span_passes_the_official_schema() {
    let text = std::fs::read_to_string(Schema::api_dir().join("zipkin2-api.yaml")).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let example = serde_json::to_value(&yaml["definitions"]["Span"]["example"]).unwrap();
    assert_eq!(example["id"], "352bff9a74ca9ad2");
    let (_, violations) = check_json(Value::Array(vec![example]).to_string().as_bytes()).unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn uppercase_id() {
    assert_detects(
        |s| s["id"] = json!("352BFF9A74CA9AD2"),
        "$.id: \"352BFF9A74CA9AD2\" does not match",
    );
}

#[test]
fn uppercase_trace_id() {
    assert_detects(
        |s| s["traceId"] = json!("4E441824EC2B6A44FFDC9BB9A6453DF3"),
        "$.traceId",
    );
}

#[test]
fn twenty_character_trace_id() {
    assert_detects(
        |s| s["traceId"] = json!("4e441824ec2b6a44ffdc"),
        "traceId has 20 characters; must be 16 or 32",
    );
}

#[test]
fn twenty_character_span_id() {
    assert_detects(
        |s| s["id"] = json!("352bff9a74ca9ad2abcd"),
        "is longer than 16 characters",
    );
}

#[test]
fn pattern_is_anchored() {
    // 16 valid hex characters inside a longer id must not satisfy `[a-f0-9]{16}`.
    assert_detects(
        |s| s["parentId"] = json!("xx6b221d5bc9e6496c"),
        "$.parentId: \"xx6b221d5bc9e6496c\" does not match",
    );
}

#[test]
fn zeros_parent_id() {
    assert_detects(
        |s| s["parentId"] = json!("0000000000000000"),
        "parentId of zeros",
    );
}

#[test]
fn parent_id_equal_to_id() {
    assert_detects(|s| s["parentId"] = s["id"].clone(), "parentId equals id");
}

#[test]
fn zeros_ids() {
    assert_detects(|s| s["id"] = json!("0000000000000000"), "id is all zeros");
    assert_detects(
        |s| s["traceId"] = json!("0000000000000000"),
        "traceId is all zeros",
    );
}

#[test]
fn empty_tags() {
    assert_detects(|s| s["tags"] = json!({}), "empty tags object");
}

#[test]
fn empty_annotations() {
    assert_detects(|s| s["annotations"] = json!([]), "empty annotations array");
}

#[test]
fn duplicate_annotations() {
    assert_detects(
        |s| s["annotations"] = json!([{"timestamp": 1556604172355800u64, "value": "ws"}, {"timestamp": 1556604172355800u64, "value": "ws"}]),
        "$.annotations[1]: duplicate item",
    );
}

#[test]
fn empty_endpoint() {
    assert_detects(|s| s["remoteEndpoint"] = json!({}), "empty remoteEndpoint");
}

#[test]
fn missing_service_name() {
    assert_detects(
        |s| s["localEndpoint"] = json!({"ipv4": "10.0.0.1"}),
        "localEndpoint without serviceName",
    );
}

#[test]
fn missing_local_endpoint() {
    assert_detects(
        |s| drop(s.as_object_mut().unwrap().remove("localEndpoint")),
        "localEndpoint missing",
    );
}

#[test]
fn uppercase_service_name() {
    assert_detects(
        |s| s["localEndpoint"]["serviceName"] = json!("Backend"),
        "\"Backend\" is not lowercase",
    );
}

#[test]
fn zero_port() {
    assert_detects(
        |s| s["localEndpoint"]["port"] = json!(0),
        "localEndpoint.port 0",
    );
}

#[test]
fn port_out_of_range() {
    assert_detects(
        |s| s["remoteEndpoint"]["port"] = json!(70000),
        "remoteEndpoint.port 70000 is not a TCP port",
    );
}

#[test]
fn bad_ip_addresses() {
    assert_detects(
        |s| s["localEndpoint"]["ipv4"] = json!("192.168.99.300"),
        "is not an IPv4 address",
    );
    assert_detects(
        |s| s["localEndpoint"]["ipv6"] = json!("2001:db8::g"),
        "is not an IPv6 address",
    );
}

#[test]
fn zero_duration() {
    assert_detects(|s| s["duration"] = json!(0), "duration 0");
    assert_detects(
        |s| s["duration"] = json!(0),
        "$.duration: 0 is below the minimum 1",
    );
}

#[test]
fn missing_duration_and_timestamp() {
    assert_detects(
        |s| drop(s.as_object_mut().unwrap().remove("duration")),
        "duration missing",
    );
    assert_detects(
        |s| drop(s.as_object_mut().unwrap().remove("timestamp")),
        "timestamp missing",
    );
}

#[test]
fn timestamp_in_milliseconds() {
    assert_detects(
        |s| s["timestamp"] = json!(1556604172355u64),
        "is not epoch microseconds",
    );
}

#[test]
fn fractional_duration() {
    assert_detects(
        |s| s["duration"] = json!(12.5),
        "$.duration: expected integer, got number 12.5",
    );
}

#[test]
fn unknown_field() {
    assert_detects(
        |s| s["traceIdHigh"] = json!(1),
        "unknown property traceIdHigh",
    );
    assert_detects(
        |s| s["localEndpoint"]["hostname"] = json!("h"),
        "$.localEndpoint: unknown property hostname",
    );
}

#[test]
fn bad_kind() {
    assert_detects(
        |s| s["kind"] = json!("server"),
        "$.kind: \"server\" is not one of",
    );
}

#[test]
fn non_string_tag_value() {
    assert_detects(
        |s| s["tags"]["http.status_code"] = json!(200),
        "$.tags.http.status_code: expected string, got integer 200",
    );
}

#[test]
fn false_flags() {
    assert_detects(|s| s["debug"] = json!(false), "debug: false is sent");
    assert_detects(|s| s["shared"] = json!(false), "shared: false is sent");
}

#[test]
fn shared_on_a_client_span() {
    assert_detects(
        |s| {
            s["kind"] = json!("CLIENT");
            s["shared"] = json!(true);
        },
        "shared on a CLIENT span",
    );
}

#[test]
fn empty_name() {
    assert_detects(|s| s["name"] = json!(""), "empty name");
}

#[test]
fn malformed_json_is_a_400_and_a_violation() {
    let receiver = Receiver::start();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", b"[{\"traceId\": 4e4", &[]),
    )
    .unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.text().starts_with("malformed JSON"),
        "{}",
        answer.text()
    );
    assert!(receiver.spans().is_empty());
    let violations = receiver.violations();
    assert_eq!(violations.len(), 1);
    assert!(
        violations[0].contains("answered 400: malformed JSON"),
        "{violations:#?}"
    );
}

#[test]
fn a_span_without_ids_fails_the_whole_request() {
    let mut no_id = valid_span();
    no_id.as_object_mut().unwrap().remove("id");
    let body = Value::Array(vec![valid_span(), no_id]).to_string();
    let receiver = Receiver::start();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", body.as_bytes(), &[]),
    )
    .unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.text().contains("span [1]: span without a string id"),
        "{}",
        answer.text()
    );
    // Like Zipkin, nothing of a rejected list is stored.
    assert!(receiver
        .wait_for_spans(1, Duration::from_millis(100))
        .is_empty());
}

#[test]
fn assert_no_violations_lists_them() {
    let receiver = Receiver::start();
    let mut span = valid_span();
    span["duration"] = json!(0);
    let body = Value::Array(vec![span]).to_string();
    raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", body.as_bytes(), &[]),
    )
    .unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        receiver.assert_no_violations()
    }))
    .expect_err("violations must fail the assertion");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("2 violation(s)"), "{message}");
    assert!(
        message.contains("duration 0") && message.contains("\"duration\":0"),
        "{message}"
    );
}

// proto3: bodies written byte by byte with the field numbers of zipkin.proto, so the decoder is
// checked against the official numbering rather than against our own encoder.

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes_field(number: u64, data: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn varint_field(number: u64, value: u64, out: &mut Vec<u8>) {
    varint(number << 3, out);
    varint(value, out);
}

fn fixed64_field(number: u64, value: u64, out: &mut Vec<u8>) {
    varint(number << 3 | 1, out);
    out.extend_from_slice(&value.to_le_bytes());
}

/// A proto3 span; `edit` may append or replace fields.
fn proto_span(
    trace_id: &[u8],
    id: &[u8],
    edit: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>),
) -> Vec<u8> {
    let mut endpoint = Vec::new();
    bytes_field(1, b"backend", &mut endpoint);
    bytes_field(2, &[192, 168, 99, 1], &mut endpoint);
    varint_field(4, 3306, &mut endpoint);
    let mut span = Vec::new();
    bytes_field(1, trace_id, &mut span);
    bytes_field(3, id, &mut span);
    varint_field(4, 2, &mut span); // SERVER
    bytes_field(5, b"get /api", &mut span);
    fixed64_field(6, 1556604172355737, &mut span);
    varint_field(7, 1431, &mut span);
    edit(&mut span, &mut endpoint);
    bytes_field(8, &endpoint, &mut span);
    let mut list = Vec::new();
    bytes_field(1, &span, &mut list);
    list
}

fn post_proto(body: &[u8]) -> (Receiver, u16) {
    let receiver = Receiver::start();
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/x-protobuf", body, &[]),
    )
    .unwrap();
    (receiver, answer.status)
}

const TRACE: [u8; 16] = [
    0x4e, 0x44, 0x18, 0x24, 0xec, 0x2b, 0x6a, 0x44, 0xff, 0xdc, 0x9b, 0xb9, 0xa6, 0x45, 0x3d, 0xf3,
];
const ID: [u8; 8] = [0x35, 0x2b, 0xff, 0x9a, 0x74, 0xca, 0x9a, 0xd2];

#[test]
fn a_hand_encoded_proto_span_decodes_without_violations() {
    let body = proto_span(&TRACE, &ID, |span, _| {
        let mut annotation = Vec::new();
        fixed64_field(1, 1556604172355800, &mut annotation);
        bytes_field(2, b"ws", &mut annotation);
        bytes_field(10, &annotation, span);
        let mut tag = Vec::new();
        bytes_field(1, b"http.method", &mut tag);
        bytes_field(2, b"GET", &mut tag);
        bytes_field(11, &tag, span);
    });
    let (receiver, status) = post_proto(&body);
    assert_eq!(status, 202);
    receiver.assert_no_violations();
    let span = &receiver.spans()[0];
    assert_eq!(span.trace_id, "4e441824ec2b6a44ffdc9bb9a6453df3");
    assert_eq!(span.id, "352bff9a74ca9ad2");
    assert_eq!(span.parent_id, None);
    assert_eq!(span.kind.as_deref(), Some("SERVER"));
    assert_eq!(span.timestamp, Some(1556604172355737));
    assert_eq!(span.duration, Some(1431));
    let local = span.local_endpoint.as_ref().unwrap();
    assert_eq!(
        (
            local.service_name.as_deref(),
            local.ipv4.as_deref(),
            local.port
        ),
        (Some("backend"), Some("192.168.99.1"), Some(3306))
    );
    assert_eq!(span.annotation_values(), ["ws"]);
    assert_eq!(span.tag("http.method"), Some("GET"));
}

fn assert_proto_detects(body: &[u8], expected: &str) {
    let (receiver, status) = post_proto(body);
    assert_eq!(status, 202);
    let violations = receiver.violations();
    assert!(
        violations
            .iter()
            .any(|v| v.contains(expected) && v.contains("in proto3 span {")),
        "expected a violation containing {expected:?}, got {violations:#?}"
    );
}

#[test]
fn proto_id_lengths() {
    assert_proto_detects(
        &proto_span(&TRACE[..12], &ID, |_, _| {}),
        "trace_id has 12 bytes; must be 8 or 16",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID[..7], |_, _| {}),
        "id has 7 bytes; must be 8",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |s, _| bytes_field(2, &[0; 8], s)),
        "parentId of zeros",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |s, _| bytes_field(2, &[1; 4], s)),
        "parent_id has 4 bytes",
    );
}

#[test]
fn proto_model_rules() {
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |s, _| varint_field(7, 0, s)),
        "duration missing",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |s, _| varint_field(4, 9, s)),
        "kind 9 is not a Span.Kind value",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |_, e| bytes_field(1, b"Backend", e)),
        "is not lowercase",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |_, e| bytes_field(2, &[10, 0, 0, 1, 1], e)),
        "local_endpoint.ipv4 has 5 bytes",
    );
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |_, e| varint_field(4, 70000, e)),
        "local_endpoint.port 70000 is not a TCP port",
    );
}

#[test]
fn proto_unknown_fields_are_violations() {
    assert_proto_detects(
        &proto_span(&TRACE, &ID, |s, _| varint_field(99, 1, s)),
        "Span has unknown field number 99",
    );
}

#[test]
fn proto_shared_on_a_client_span() {
    let body = proto_span(&TRACE, &ID, |s, _| {
        varint_field(4, 1, s); // CLIENT, overriding SERVER (last one wins)
        varint_field(13, 1, s);
    });
    assert_proto_detects(&body, "shared on a CLIENT span");
}

#[test]
fn malformed_proto_is_a_400() {
    let (receiver, status) = post_proto(b"\x0a\x10\x01");
    assert_eq!(status, 400);
    assert!(receiver.spans().is_empty());
    assert!(
        receiver.violations()[0].contains("malformed proto3 ListOfSpans"),
        "{:#?}",
        receiver.violations()
    );
}
