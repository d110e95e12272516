//! Hostile bytes never take the receiver down: every connection ends cleanly, nothing panics, and
//! the next well-formed request is served as usual.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use proptest::prelude::*;
use traced_tests::raw::{self, RawConn};
use traced_tests::{Receiver, SPANS_PATH};

const VALID: &[u8] = br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get","timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"backend"}}]"#;

/// Sends `bytes`, half-closes, and reads until the receiver closes (bounded by a timeout).
fn throw_at(receiver: &Receiver, bytes: &[u8]) {
    let mut conn = RawConn::connect_with_timeout(receiver.addr(), Duration::from_secs(10)).unwrap();
    // The receiver may answer and close before reading everything; that is allowed.
    let _ = conn.stream().write_all(bytes);
    let _ = conn.stream().shutdown(Shutdown::Write);
    let mut sink = Vec::new();
    let read = conn.stream().read_to_end(&mut sink);
    if let Err(e) = read {
        assert_ne!(
            e.kind(),
            std::io::ErrorKind::WouldBlock,
            "the receiver neither answered nor closed"
        );
        assert_ne!(
            e.kind(),
            std::io::ErrorKind::TimedOut,
            "the receiver neither answered nor closed"
        );
    }
}

fn still_serves(receiver: &Receiver) {
    let answer = raw::send(
        receiver.addr(),
        &raw::post(SPANS_PATH, "application/json", VALID, &[]),
    )
    .unwrap();
    assert_eq!(answer.status, 202);
    let bugs: Vec<String> = receiver
        .violations()
        .into_iter()
        .filter(|v| v.starts_with("receiver bug"))
        .collect();
    assert!(bugs.is_empty(), "{bugs:#?}");
}

/// Requests that are almost right: a valid one with bytes flipped, cut or inserted.
fn mutated_request() -> impl Strategy<Value = Vec<u8>> {
    let base = raw::post(
        SPANS_PATH,
        "application/json",
        VALID,
        &[("Content-Encoding", "identity")],
    );
    let chunked = raw::post_chunked(SPANS_PATH, "application/json", VALID, 16);
    (
        prop::bool::ANY,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    )
        .prop_map(move |(use_chunked, edits)| {
            let mut bytes = if use_chunked {
                chunked.clone()
            } else {
                base.clone()
            };
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, byte),
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let receiver = Receiver::start();
        throw_at(&receiver, &bytes);
        still_serves(&receiver);
    }

    #[test]
    fn almost_valid_requests(bytes in mutated_request()) {
        let receiver = Receiver::start();
        throw_at(&receiver, &bytes);
        still_serves(&receiver);
    }
}

#[test]
fn many_connections_at_once() {
    let receiver = Receiver::start();
    std::thread::scope(|scope| {
        for _ in 0..32 {
            scope.spawn(|| {
                let mut conn = RawConn::connect(receiver.addr()).unwrap();
                for _ in 0..10 {
                    let answer = conn
                        .send(&raw::post(SPANS_PATH, "application/json", VALID, &[]))
                        .unwrap();
                    assert_eq!(answer.status, 202);
                }
            });
        }
    });
    assert_eq!(receiver.span_count(), 320);
    assert_eq!(receiver.requests().len(), 320);
    receiver.assert_no_violations();
}
