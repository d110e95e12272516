//! Hostile values recorded by instrumented code — control characters, text decoded from invalid
//! UTF-8, 1 MiB strings, endless `Debug` values — go through the real layer and reporter to the
//! strict receiver as valid JSON and valid proto3 (zero violations), short ones unchanged and long
//! ones cut while recorded to `max_value_len()` bytes plus `…`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use traced::encode::Encoding;
use traced::report::{ReporterConfig, ZipkinReporter};
use traced_tests::{ReceivedSpan, Receiver};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(20);
const MIB: usize = 1 << 20;

/// Text no encoder should trust: NUL, newlines, an ANSI escape, JSON's own quote and backslash,
/// the JavaScript line separators, DEL, a BOM, a C1 control, astral and combining characters.
const HOSTILE: &[&str] = &[
    "nul\0byte",
    "line\nbreak\r\ncarriage",
    "\u{1b}[31mred\u{1b}[0m",
    "quote\" backslash\\ slash/",
    "separators\u{2028}and\u{2029}",
    "del\u{7f} bom\u{feff} c1\u{85} tab\t bell\u{7}",
    "\u{1f600} e\u{301} \u{10ffff}",
    "",
];

/// The layer reporting to a reporter for `receiver` in `encoding`.
fn pipeline(receiver: &Receiver, encoding: Encoding, gzip: bool) -> (ZipkinReporter, Dispatch) {
    let reporter = ZipkinReporter::start(
        ReporterConfig::default()
            .endpoint(receiver.endpoint())
            .service_name("hostile")
            .encoding(encoding)
            .gzip(gzip)
            .schedule_delay(Duration::from_millis(50)),
    )
    .expect("reporter starts");
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(traced::TracedLayer::new(reporter.clone())),
    );
    (reporter, dispatch)
}

/// Every wire format the reporter can speak.
const FORMATS: [(Encoding, bool); 3] = [
    (Encoding::Json, false),
    (Encoding::Proto, false),
    (Encoding::Json, true),
];

/// Runs `record` under a fresh pipeline per wire format and returns what the receiver got,
/// after checking that every span arrived without a violation.
fn through_every_format(spans: usize, record: impl Fn()) -> Vec<(String, Vec<ReceivedSpan>)> {
    FORMATS
        .iter()
        .map(|&(encoding, gzip)| {
            let label = format!("{encoding:?}{}", if gzip { "+gzip" } else { "" });
            let receiver = Receiver::start();
            let (reporter, dispatch) = pipeline(&receiver, encoding, gzip);
            tracing::dispatcher::with_default(&dispatch, &record);
            let outcome = reporter.shutdown(WAIT);
            let received = receiver.wait_for_spans(spans, WAIT);
            receiver.assert_no_violations();
            assert_eq!(outcome.unsent, 0, "{label}");
            assert_eq!(received.len(), spans, "{label}");
            let stats = reporter.stats();
            assert_eq!((stats.sent, stats.dropped), (spans as u64, 0), "{label}");
            (label, received)
        })
        .collect()
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|span| span.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

#[test]
fn control_characters_and_invalid_utf8_arrive_unchanged_in_every_format() {
    // What a program holding bytes of unknown encoding records: the lossy decoding (U+FFFD for
    // each bad sequence) or the bytes' Debug form.
    let bytes: &[u8] = b"ok\xff\xfe\xc0\x80 \xed\xa0\x80 lone-surrogate \xf4\x90\x80\x80\0";
    let lossy = String::from_utf8_lossy(bytes).into_owned();
    assert!(lossy.contains('\u{fffd}'));

    let results = through_every_format(HOSTILE.len() + 1, || {
        // Control characters in span names (names are literals in tracing).
        let root = tracing::info_span!(
            "root\0with\ncontrol\u{1b}[1m\u{2028}",
            lossy = lossy.as_str(),
            bytes = ?bytes,
            display = %lossy,
        );
        root.in_scope(|| {
            tracing::info!(raw = ?bytes, "event\0with\nbreaks\u{1b}[0m\u{2029}");
            tracing::error!("failed:\u{0}\u{1b}\n{}", lossy);
            for (index, text) in HOSTILE.iter().enumerate() {
                let span = tracing::info_span!(
                    "child",
                    index,
                    text = *text,
                    debug = ?text,
                    recorded = tracing::field::Empty
                );
                span.record("recorded", *text);
                span.in_scope(|| tracing::info!("{text}"));
            }
        });
    });

    for (label, spans) in results {
        let root = by_name(&spans, "root\0with\ncontrol\u{1b}[1m\u{2028}");
        assert_eq!(root.tag("lossy"), Some(lossy.as_str()), "{label}");
        assert_eq!(root.tag("display"), Some(lossy.as_str()), "{label}");
        assert_eq!(
            root.tag("bytes"),
            Some(format!("{bytes:?}").as_str()),
            "{label}"
        );
        assert_eq!(
            root.annotation_values()[0],
            format!("event\0with\nbreaks\u{1b}[0m\u{2029} raw={bytes:?}"),
            "{label}"
        );
        let failed = format!("failed:\u{0}\u{1b}\n{lossy}");
        assert_eq!(root.tag("error"), Some(failed.as_str()), "{label}");
        assert_eq!(root.annotation_values()[1], failed, "{label}");

        let children: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|span| span.name.as_deref() == Some("child"))
            .collect();
        assert_eq!(children.len(), HOSTILE.len(), "{label}");
        for child in children {
            let index: usize = child.tag("index").unwrap().parse().unwrap();
            let text = HOSTILE[index];
            assert_eq!(
                child.parent_id.as_deref(),
                Some(root.id.as_str()),
                "{label}"
            );
            assert_eq!(child.tag("text"), Some(text), "{label} #{index}");
            assert_eq!(child.tag("recorded"), Some(text), "{label} #{index}");
            assert_eq!(
                child.tag("debug"),
                Some(format!("{text:?}").as_str()),
                "{label} #{index}"
            );
            assert_eq!(child.annotation_values(), [text], "{label} #{index}");
        }
    }
}

/// A `Debug` value that would write forever, counting the bytes it was allowed to write.
struct Endless {
    written: Arc<AtomicUsize>,
}

impl fmt::Debug for Endless {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        loop {
            f.write_str("0123456789abcdef")?;
            self.written.fetch_add(16, Ordering::Relaxed);
        }
    }
}

/// `value` is `original` cut to the cap on a char boundary, marked with `…`.
fn assert_cut(value: &str, original: &str, what: &str) {
    let cap = traced::max_value_len();
    assert!(
        value.len() <= cap + '…'.len_utf8(),
        "{what}: {} bytes kept, cap {cap}",
        value.len()
    );
    let kept = value
        .strip_suffix('…')
        .unwrap_or_else(|| panic!("{what}: not marked as cut: {value:?}"));
    assert!(original.starts_with(kept), "{what}: not a prefix");
    // Cut at the last char boundary at or before the cap, not earlier.
    assert!(
        kept.len() + 4 > cap,
        "{what}: cut too short ({})",
        kept.len()
    );
}

#[test]
fn huge_values_are_cut_while_recorded() {
    // Multi-byte characters, so cuts must respect char boundaries.
    let big: String = "é\u{1f600}x\n".repeat(MIB / 8);
    assert!(big.len() >= MIB);
    let big_bytes = vec![0xffu8; MIB];
    let written = Arc::new(AtomicUsize::new(0));

    let results = through_every_format(1, || {
        let span = tracing::info_span!(
            "huge",
            text = big.as_str(),
            display = %big,
            bytes = ?big_bytes,
            endless = ?Endless { written: Arc::clone(&written) },
            recorded = tracing::field::Empty,
        );
        span.record("recorded", big.as_str());
        span.in_scope(|| {
            tracing::info!("{big}");
            tracing::info!(field = big.as_str());
            tracing::error!(?big_bytes);
        });
    });

    // The endless value was stopped once the cap was reached, once per format: formatting
    // costs the cap, not the value's size.
    let cap = traced::max_value_len();
    assert!(
        written.load(Ordering::Relaxed) <= FORMATS.len() * cap,
        "wrote {} bytes",
        written.load(Ordering::Relaxed)
    );
    let bytes_debug = format!("{big_bytes:?}");
    let endless_text = "0123456789abcdef".repeat(cap / 16 + 2);
    for (label, spans) in results {
        let span = &spans[0];
        assert_cut(span.tag("text").unwrap(), &big, &format!("{label} text"));
        assert_cut(
            span.tag("display").unwrap(),
            &big,
            &format!("{label} display"),
        );
        assert_cut(
            span.tag("recorded").unwrap(),
            &big,
            &format!("{label} recorded"),
        );
        assert_cut(
            span.tag("bytes").unwrap(),
            &bytes_debug,
            &format!("{label} bytes"),
        );
        assert_cut(
            span.tag("endless").unwrap(),
            &endless_text,
            &format!("{label} endless"),
        );
        let events = span.annotation_values();
        assert_eq!(events.len(), 3, "{label}");
        assert_cut(events[0], &big, &format!("{label} event message"));
        let field = events[1]
            .strip_prefix("field=")
            .unwrap_or_else(|| panic!("{label}: {:?}", &events[1][..40]));
        assert_cut(field, &big, &format!("{label} event field"));
        let error = span.tag("error").unwrap();
        let error_value = error.strip_prefix("big_bytes=").unwrap();
        assert_cut(error_value, &bytes_debug, &format!("{label} error"));
    }
}

#[test]
fn fields_that_become_the_name_service_or_peer_stay_valid() {
    // Lower case: Zipkin names are lower-cased on the wire.
    let big = "\u{2028}n\0".repeat(MIB / 4);
    let hostile_service = "Svc\n\u{1b}[31m\u{2028}\0";
    let results = through_every_format(2, || {
        tracing::info_span!(
            "renamed",
            otel.name = big.as_str(),
            peer.service = hostile_service,
            server.address = "::1\n\0not an address",
            server.port = 70000u64,
            otel.kind = "client\0",
        )
        .in_scope(|| {});
        tracing::info_span!("local", service.name = hostile_service).in_scope(|| {});
    });
    for (label, spans) in results {
        let renamed = spans
            .iter()
            .find(|span| span.name.as_deref() != Some("local"))
            .unwrap();
        assert_cut(
            renamed.name.as_deref().unwrap(),
            &big,
            &format!("{label} otel.name"),
        );
        assert_eq!(
            renamed.remote_service(),
            Some(hostile_service.to_lowercase().as_str()),
            "{label}"
        );
        let local = by_name(&spans, "local");
        assert_eq!(
            local.service(),
            Some(hostile_service.to_lowercase().as_str()),
            "{label}"
        );
    }
}
