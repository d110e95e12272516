//! `zipkin.proto3.ListOfSpans`, written by hand.
//!
//! Why not prost + codegen: the schema is four small messages that will not change (Zipkin's
//! proto3 format is frozen), and the proto3 wire format needs only varints, fixed64 and
//! length-delimited fields. Writing them here keeps a build script, `protoc` and a codegen
//! dependency out of every user's build, and lets us encode straight from `SpanRecord` without
//! first copying each span into generated structs. The unit tests decode the output with prost
//! messages declared from `zipkin.proto`'s field numbers, and the test receiver decodes it
//! against the official `.proto` file itself.

use crate::model::{Endpoint, Kind, SpanRecord};

use super::protobuf::{nested, put_bytes, put_key, put_varint, FIXED64, VARINT};
use super::{live_annotations, live_tags, tag_text, wire_duration, WireEndpoint};
use crate::value::lowercase;

/// Appends `spans` to `out` as a proto3 `zipkin.proto3.ListOfSpans` (`application/x-protobuf`).
///
/// `local` is the process's endpoint; a span's own `service_name` and `local_port` replace its
/// name and port. Default values (empty strings, zero, false) are left out, as proto3 does.
///
/// ```
/// use traced::encode::encode_proto;
/// use traced::model::{Endpoint, SpanId, SpanRecord, TraceId};
///
/// let span = SpanRecord { trace_id: TraceId(1), id: SpanId(2), duration_us: 3, ..Default::default() };
/// let mut body = Vec::new();
/// encode_proto(&[span], &Endpoint::default(), &mut body);
/// // ListOfSpans.spans (field 1, 22 bytes): trace_id (1), id (3), duration (7).
/// assert_eq!(body[..2], [0x0a, 22]);
/// assert_eq!(body[2..4], [0x0a, 8]);
/// assert_eq!(body[12..14], [0x1a, 8]);
/// assert_eq!(body[22..], [0x38, 3]);
/// ```
pub fn encode_proto(spans: &[SpanRecord], local: &Endpoint, out: &mut Vec<u8>) {
    for span in spans {
        write_list_entry(span, local, out);
    }
}

/// Appends one `ListOfSpans.spans` entry (field 1). A list is just these entries in a row.
pub(crate) fn write_list_entry(span: &SpanRecord, local: &Endpoint, out: &mut Vec<u8>) {
    nested(out, 1, |out| write_span(span, local, out));
}

fn write_span(span: &SpanRecord, local: &Endpoint, out: &mut Vec<u8>) {
    // Ids are big-endian bytes: 8 for a 64-bit trace id, else 16.
    if span.trace_id.is_64_bit() {
        put_bytes(out, 1, &(span.trace_id.0 as u64).to_be_bytes());
    } else {
        put_bytes(out, 1, &span.trace_id.0.to_be_bytes());
    }
    if let Some(parent) = span.parent_id {
        put_bytes(out, 2, &parent.0.to_be_bytes());
    }
    put_bytes(out, 3, &span.id.0.to_be_bytes());
    if let Some(kind) = span.kind {
        let number = match kind {
            Kind::Client => 1,
            Kind::Server => 2,
            Kind::Producer => 3,
            Kind::Consumer => 4,
        };
        put_key(out, 4, VARINT);
        put_varint(out, number);
    }
    if !span.name.is_empty() {
        put_bytes(out, 5, lowercase(&span.name).as_bytes());
    }
    if span.timestamp_us != 0 {
        put_key(out, 6, FIXED64);
        out.extend_from_slice(&span.timestamp_us.to_le_bytes());
    }
    put_key(out, 7, VARINT);
    put_varint(out, wire_duration(span));
    if let Some(endpoint) = WireEndpoint::local(span, local) {
        nested(out, 8, |out| write_endpoint(&endpoint, out));
    }
    if let Some(endpoint) = span.remote_endpoint.as_ref().and_then(WireEndpoint::new) {
        nested(out, 9, |out| write_endpoint(&endpoint, out));
    }
    for annotation in live_annotations(&span.annotations) {
        nested(out, 10, |out| {
            put_key(out, 1, FIXED64);
            out.extend_from_slice(&annotation.timestamp_us.to_le_bytes());
            let text = annotation.text();
            if !text.is_empty() {
                put_bytes(out, 2, text.as_bytes());
            }
        });
    }
    // A map<string, string> is a repeated entry message with key = 1 and value = 2.
    let mut scratch = String::new();
    for (key, value) in live_tags(&span.tags) {
        let text = tag_text(value, &mut scratch);
        nested(out, 11, |out| {
            if !key.is_empty() {
                put_bytes(out, 1, key.as_bytes());
            }
            if !text.is_empty() {
                put_bytes(out, 2, text.as_bytes());
            }
        });
    }
    if span.debug {
        put_key(out, 12, VARINT);
        out.push(1);
    }
    if span.shared {
        put_key(out, 13, VARINT);
        out.push(1);
    }
}

fn write_endpoint(endpoint: &WireEndpoint<'_>, out: &mut Vec<u8>) {
    if let Some(name) = &endpoint.service_name {
        put_bytes(out, 1, name.as_bytes());
    }
    if let Some(ip) = endpoint.ipv4 {
        put_bytes(out, 2, &ip.octets());
    }
    if let Some(ip) = endpoint.ipv6 {
        put_bytes(out, 3, &ip.octets());
    }
    if let Some(port) = endpoint.port {
        put_key(out, 4, VARINT);
        put_varint(out, u64::from(port));
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use prost::Message;

    use super::*;
    use crate::model::{Annotation, SpanId, TagValue, TraceId};

    // The messages of zipkin.proto, declared from its field numbers (a decoder independent of
    // the encoder above).
    #[derive(Clone, PartialEq, prost::Message)]
    struct ListOfSpans {
        #[prost(message, repeated, tag = "1")]
        spans: Vec<ProtoSpan>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoSpan {
        #[prost(bytes = "vec", tag = "1")]
        trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        parent_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        id: Vec<u8>,
        #[prost(int32, tag = "4")]
        kind: i32,
        #[prost(string, tag = "5")]
        name: String,
        #[prost(fixed64, tag = "6")]
        timestamp: u64,
        #[prost(uint64, tag = "7")]
        duration: u64,
        #[prost(message, optional, tag = "8")]
        local_endpoint: Option<ProtoEndpoint>,
        #[prost(message, optional, tag = "9")]
        remote_endpoint: Option<ProtoEndpoint>,
        #[prost(message, repeated, tag = "10")]
        annotations: Vec<ProtoAnnotation>,
        #[prost(map = "string, string", tag = "11")]
        tags: HashMap<String, String>,
        #[prost(bool, tag = "12")]
        debug: bool,
        #[prost(bool, tag = "13")]
        shared: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoEndpoint {
        #[prost(string, tag = "1")]
        service_name: String,
        #[prost(bytes = "vec", tag = "2")]
        ipv4: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        ipv6: Vec<u8>,
        #[prost(int32, tag = "4")]
        port: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoAnnotation {
        #[prost(fixed64, tag = "1")]
        timestamp: u64,
        #[prost(string, tag = "2")]
        value: String,
    }

    fn decode(spans: &[SpanRecord], local: &Endpoint) -> ListOfSpans {
        let mut out = Vec::new();
        encode_proto(spans, local, &mut out);
        ListOfSpans::decode(out.as_slice()).expect("valid ListOfSpans")
    }

    fn process() -> Endpoint {
        Endpoint {
            service_name: Some(Arc::from("shop")),
            ipv4: Some(Ipv4Addr::new(10, 1, 2, 3)),
            ..Endpoint::default()
        }
    }

    fn full_span() -> SpanRecord {
        SpanRecord {
            trace_id: TraceId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
            id: SpanId(0xffff_0000_0000_0001),
            parent_id: Some(SpanId(0xa)),
            name: "Checkout".into(),
            kind: Some(Kind::Consumer),
            timestamp_us: 1_502_787_600_000_000,
            duration_us: 1431,
            service_name: Some(Arc::from("Payments")),
            remote_endpoint: Some(Endpoint {
                service_name: Some(Arc::from("bank")),
                ipv6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xc001)),
                port: Some(443),
                ..Endpoint::default()
            }),
            local_port: Some(8080),
            tags: vec![
                ("amount".into(), TagValue::F64(12.5)),
                ("amount".into(), TagValue::F64(13.5)),
                ("ok".into(), TagValue::Bool(true)),
            ]
            .into(),
            annotations: vec![Annotation::new(1_502_787_600_000_100, "card checked")],
            debug: true,
            shared: true,
            local_root: false,
            ..SpanRecord::default()
        }
    }

    #[test]
    fn every_field_has_its_proto_number_and_type() {
        let list = decode(&[full_span()], &process());
        let expected = ProtoSpan {
            trace_id: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128
                .to_be_bytes()
                .to_vec(),
            parent_id: 0xau64.to_be_bytes().to_vec(),
            id: 0xffff_0000_0000_0001u64.to_be_bytes().to_vec(),
            kind: 4,
            name: "checkout".into(),
            timestamp: 1_502_787_600_000_000,
            duration: 1431,
            local_endpoint: Some(ProtoEndpoint {
                service_name: "payments".into(),
                ipv4: vec![10, 1, 2, 3],
                ipv6: vec![],
                port: 8080,
            }),
            remote_endpoint: Some(ProtoEndpoint {
                service_name: "bank".into(),
                ipv4: vec![],
                ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xc001)
                    .octets()
                    .to_vec(),
                port: 443,
            }),
            annotations: vec![ProtoAnnotation {
                timestamp: 1_502_787_600_000_100,
                value: "card checked".into(),
            }],
            tags: HashMap::from([
                ("amount".to_string(), "13.5".to_string()),
                ("ok".to_string(), "true".to_string()),
            ]),
            debug: true,
            shared: true,
        };
        assert_eq!(list.spans, vec![expected]);
    }

    #[test]
    fn roots_and_64_bit_ids_have_the_right_lengths() {
        let span = SpanRecord {
            trace_id: TraceId(0x1234),
            id: SpanId(0x2),
            ..SpanRecord::default()
        };
        let list = decode(&[span], &Endpoint::default());
        let span = &list.spans[0];
        assert_eq!(span.trace_id, 0x1234u64.to_be_bytes().to_vec());
        assert!(span.parent_id.is_empty());
        assert_eq!(span.duration, 1);
        assert_eq!(span.kind, 0);
        assert!(span.local_endpoint.is_none() && span.remote_endpoint.is_none());
    }

    #[test]
    fn any_text_stays_valid_utf8_and_round_trips() {
        let hostile: String = "\u{0}\u{1f}\"\\ é 日本 🎉 \u{2028}".repeat(50);
        let span = SpanRecord {
            tags: vec![(
                Cow::Owned(hostile.clone()),
                TagValue::Str(hostile.clone().into()),
            )]
            .into(),
            annotations: vec![Annotation::new(9, hostile.clone())],
            ..full_span()
        };
        let list = decode(&[span], &process());
        assert_eq!(list.spans[0].tags[&hostile], hostile);
        assert_eq!(list.spans[0].annotations[0].value, hostile);
    }

    #[test]
    fn many_spans_and_long_messages_keep_their_lengths() {
        let spans: Vec<SpanRecord> = (0..300u64)
            .map(|index| SpanRecord {
                id: SpanId(index + 1),
                name: Cow::Owned("n".repeat(index as usize * 10)),
                ..full_span()
            })
            .collect();
        let list = decode(&spans, &process());
        assert_eq!(list.spans.len(), 300);
        for (index, span) in list.spans.iter().enumerate() {
            assert_eq!(span.name.len(), index * 10);
            assert_eq!(span.id, (index as u64 + 1).to_be_bytes().to_vec());
        }
    }

    #[test]
    fn nested_lengths_around_the_one_byte_boundary() {
        for len in [0, 1, 127, 128, 129, 16_383, 16_384, 70_000] {
            let mut expected_bytes = vec![0xaa, 3 << 3 | super::super::protobuf::LEN];
            put_varint(&mut expected_bytes, len as u64);
            expected_bytes.extend(std::iter::repeat_n(7u8, len));
            let mut out = vec![0xaa];
            nested(&mut out, 3, |out| out.extend(std::iter::repeat_n(7u8, len)));
            assert_eq!(out, expected_bytes, "body of {len} bytes");
            for expected in [0, 100, 200, 20_000, 3_000_000] {
                let mut out = vec![0xaa];
                super::super::protobuf::nested_expecting(&mut out, 3, expected, |out| {
                    out.extend(std::iter::repeat_n(7u8, len))
                });
                assert_eq!(
                    out, expected_bytes,
                    "body of {len} bytes, {expected} expected"
                );
            }
        }
    }

    #[test]
    fn varints_match_the_protobuf_examples() {
        let mut out = Vec::new();
        put_varint(&mut out, 150);
        assert_eq!(out, [0x96, 0x01]);
        out.clear();
        put_varint(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
    }
}
