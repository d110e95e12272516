//! Our encoders checked by the strict receiver's checker (the official `zipkin2-api.yaml` and
//! `zipkin.proto`), for hostile text and ids at the edges, in both encodings.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use traced::encode::{encode_json, encode_proto, Encoding};
use traced::model::{Annotation, Endpoint, Kind, SpanId, SpanRecord, TagValue, TraceId};
use traced_tests::{check_json, check_proto, ReceivedSpan};

fn local() -> Endpoint {
    Endpoint {
        service_name: Some(Arc::from("conformance")),
        ipv4: Some(Ipv4Addr::new(192, 168, 1, 20)),
        ..Endpoint::default()
    }
}

/// Encodes `spans` both ways, checks both bodies, and returns what each decoded to.
fn both_ways(spans: &[SpanRecord]) -> [Vec<ReceivedSpan>; 2] {
    let mut json = Vec::new();
    encode_json(spans, &local(), &mut json);
    let mut proto = Vec::new();
    encode_proto(spans, &local(), &mut proto);
    [(Encoding::Json, json), (Encoding::Proto, proto)].map(|(encoding, body)| {
        let checked = match encoding {
            Encoding::Json => check_json(&body),
            Encoding::Proto => check_proto(&body),
            otlp => unreachable!("{otlp:?} is not a Zipkin encoding"),
        };
        let (received, violations) =
            checked.unwrap_or_else(|error| panic!("{encoding:?} body refused: {error}"));
        assert!(
            violations.is_empty(),
            "{encoding:?} violations:\n{}",
            violations.join("\n")
        );
        assert_eq!(received.len(), spans.len(), "{encoding:?}");
        received
    })
}

fn base(id: u64) -> SpanRecord {
    SpanRecord {
        trace_id: TraceId(0x4e44_1824_ec2b_6a44_ffdc_9bb9_a645_3df3),
        id: SpanId(id),
        parent_id: Some(SpanId(0xffff_ffff_ffff_ffff)),
        name: "base".into(),
        timestamp_us: 1_700_000_000_000_000,
        duration_us: 42,
        ..SpanRecord::default()
    }
}

#[test]
fn every_unicode_scalar_value_survives_both_encodings() {
    let scalars: Vec<char> = (0..=0x10ffffu32).filter_map(char::from_u32).collect();
    for (batch, chunks) in scalars
        .chunks(2048)
        .collect::<Vec<_>>()
        .chunks(16)
        .enumerate()
    {
        let spans: Vec<SpanRecord> = chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                let text: String = chunk.iter().collect();
                SpanRecord {
                    name: Cow::Owned(text.clone()),
                    service_name: Some(Arc::from(text.as_str())),
                    tags: vec![(
                        Cow::Owned(format!("k{index}{text}")),
                        TagValue::Str(Cow::Owned(text.clone())),
                    )]
                    .into(),
                    annotations: vec![Annotation::new(1_700_000_000_000_001, text)],
                    ..base((batch * 16 + index + 1) as u64)
                }
            })
            .collect();
        for received in both_ways(&spans) {
            for (span, got) in spans.iter().zip(&received) {
                let text = span.annotations[0].message.as_str();
                let expected_name = text.to_lowercase();
                assert_eq!(got.name.as_deref(), Some(expected_name.as_str()));
                assert_eq!(got.service(), Some(expected_name.as_str()));
                assert_eq!(got.tag(&span.tags[0].0), Some(text));
                assert_eq!(got.annotation_values(), [text]);
            }
        }
    }
}

#[test]
fn control_characters_quotes_and_escapes_stay_valid() {
    let nasty = "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1b}[31m\u{1f}\u{7f}\u{80}\u{9f}\"\\/\\u0000\u{2028}\u{2029}\u{feff}\u{fffd}";
    let span = SpanRecord {
        name: nasty.into(),
        tags: vec![
            (nasty.into(), TagValue::Str(nasty.into())),
            ("n".into(), TagValue::F64(f64::NAN)),
        ]
        .into(),
        annotations: vec![Annotation::new(1_700_000_000_000_001, nasty)],
        remote_endpoint: Some(Endpoint {
            service_name: Some(Arc::from(nasty)),
            ..Endpoint::default()
        }),
        ..base(1)
    };
    for received in both_ways(&[span]) {
        assert_eq!(received[0].tag(nasty), Some(nasty));
        assert_eq!(received[0].tag("n"), Some("NaN"));
        assert_eq!(received[0].annotation_values(), [nasty]);
        assert_eq!(
            received[0].remote_service(),
            Some(nasty.to_lowercase().as_str())
        );
    }
}

#[test]
fn ids_numbers_and_endpoints_at_their_edges() {
    let spans = vec![
        SpanRecord {
            trace_id: TraceId(1),
            id: SpanId(1),
            parent_id: None,
            duration_us: 0,
            ..base(1)
        },
        SpanRecord {
            trace_id: TraceId(u128::MAX),
            id: SpanId(u64::MAX),
            parent_id: Some(SpanId(1)),
            kind: Some(Kind::Server),
            // The receiver accepts timestamps up to the year 2100.
            timestamp_us: 4_070_000_000_000_000,
            duration_us: i64::MAX as u64,
            local_port: Some(65535),
            remote_endpoint: Some(Endpoint {
                ipv4: Some(Ipv4Addr::new(255, 255, 255, 255)),
                ipv6: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
                port: Some(1),
                ..Endpoint::default()
            }),
            tags: vec![
                ("i128".into(), TagValue::I128(i128::MIN)),
                ("u64".into(), TagValue::U64(u64::MAX)),
                ("empty".into(), TagValue::Str("".into())),
            ]
            .into(),
            debug: true,
            shared: true,
            ..base(2)
        },
        SpanRecord {
            trace_id: TraceId(u128::from(u64::MAX)),
            name: "".into(),
            kind: Some(Kind::Consumer),
            ..base(3)
        },
    ];
    for received in both_ways(&spans) {
        let [root, edge, nameless] = &received[..] else {
            unreachable!()
        };
        assert_eq!(
            (root.trace_id.as_str(), root.id.as_str()),
            ("0000000000000001", "0000000000000001")
        );
        assert_eq!((root.parent_id.as_deref(), root.duration), (None, Some(1)));
        assert_eq!(edge.trace_id, "ffffffffffffffffffffffffffffffff");
        assert_eq!(edge.id, "ffffffffffffffff");
        assert_eq!(edge.kind.as_deref(), Some("SERVER"));
        assert_eq!(
            (edge.timestamp, edge.duration),
            (Some(4_070_000_000_000_000), Some(i64::MAX as u64))
        );
        assert_eq!(
            edge.local_endpoint.as_ref().and_then(|local| local.port),
            Some(65535)
        );
        let remote = edge.remote_endpoint.as_ref().unwrap();
        assert_eq!(remote.ipv4.as_deref(), Some("255.255.255.255"));
        assert_eq!(remote.ipv6.as_deref(), Some("fe80::1"));
        assert_eq!(edge.tag("i128"), Some(i128::MIN.to_string().as_str()));
        assert_eq!(edge.tag("u64"), Some("18446744073709551615"));
        assert_eq!(edge.tag("empty"), Some(""));
        assert!(edge.debug && edge.shared);
        assert_eq!(nameless.trace_id, "ffffffffffffffff");
        assert_eq!(nameless.name, None);
        assert!(!nameless.debug && !nameless.shared);
    }
}

#[test]
fn large_batches_decode_completely() {
    let spans: Vec<SpanRecord> = (1..=2_000)
        .map(|id| SpanRecord {
            tags: (0..10)
                .map(|tag| (Cow::Owned(format!("tag{tag}")), TagValue::U64(id * tag)))
                .collect(),
            ..base(id)
        })
        .collect();
    for received in both_ways(&spans) {
        assert_eq!(received.len(), 2_000);
        assert_eq!(
            received[1_999].tag("tag9"),
            Some((2_000 * 9).to_string().as_str())
        );
    }
}
