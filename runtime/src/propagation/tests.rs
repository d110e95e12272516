use std::collections::{BTreeMap, HashMap};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;
use crate::model::{Remote, Sampling, SpanContext, SpanId, TraceId};

const TRACE_128: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const TRACE_64: &str = "463ac35c9f6413ad";
const SPAN: &str = "e457b5a2e4d86bd1";
const PARENT: &str = "05e3ac9a4f6e3b90";

fn context(trace: &str, span: &str, parent: Option<&str>, sampling: Sampling) -> SpanContext {
    SpanContext {
        trace_id: TraceId(u128::from_str_radix(trace, 16).unwrap()),
        span_id: SpanId(u64::from_str_radix(span, 16).unwrap()),
        parent_id: parent.map(|parent| SpanId(u64::from_str_radix(parent, 16).unwrap())),
        sampling,
    }
}

fn remote(trace: &str, span: &str, parent: Option<&str>, sampling: Sampling) -> Option<Remote> {
    Some(Remote::Context(context(trace, span, parent, sampling)))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

#[test]
fn b3_single_valid_forms() {
    let cases: Vec<(String, Option<Remote>)> = vec![
        (
            format!("{TRACE_128}-{SPAN}"),
            remote(TRACE_128, SPAN, None, Sampling::Defer),
        ),
        (
            format!("{TRACE_128}-{SPAN}-1"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            format!("{TRACE_128}-{SPAN}-0"),
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        (
            format!("{TRACE_128}-{SPAN}-d"),
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        (
            format!("{TRACE_128}-{SPAN}-1-{PARENT}"),
            remote(TRACE_128, SPAN, Some(PARENT), Sampling::Accept),
        ),
        (
            format!("{TRACE_64}-{SPAN}-d-{PARENT}"),
            remote(TRACE_64, SPAN, Some(PARENT), Sampling::Debug),
        ),
        (
            format!("{TRACE_64}-{SPAN}-0"),
            remote(TRACE_64, SPAN, None, Sampling::Deny),
        ),
        // Optional whitespace around a field value is not part of it (RFC 9110).
        (
            format!(" {TRACE_64}-{SPAN}-1 "),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        ("0".into(), Some(Remote::DecisionOnly(Sampling::Deny))),
        ("1".into(), Some(Remote::DecisionOnly(Sampling::Accept))),
        ("d".into(), Some(Remote::DecisionOnly(Sampling::Debug))),
    ];
    for (value, expected) in cases {
        let extracted = Format::B3Single.extract(&headers(&[("b3", &value)]));
        assert_eq!(extracted, expected, "b3: {value}");
    }
}

#[test]
fn b3_single_invalid_forms_give_no_context() {
    let upper = TRACE_128.to_uppercase();
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("only whitespace", "  ".into()),
        ("trace id 15 chars", format!("{}-{SPAN}-1", &TRACE_64[1..])),
        ("trace id 17 chars", format!("a{TRACE_64}-{SPAN}-1")),
        ("trace id 31 chars", format!("{}-{SPAN}-1", &TRACE_128[1..])),
        ("trace id 33 chars", format!("a{TRACE_128}-{SPAN}-1")),
        ("span id 15 chars", format!("{TRACE_128}-{}-1", &SPAN[1..])),
        ("span id 32 chars", format!("{TRACE_128}-{TRACE_128}-1")),
        ("upper-case trace id", format!("{upper}-{SPAN}-1")),
        (
            "upper-case span id",
            format!("{TRACE_128}-{}-1", SPAN.to_uppercase()),
        ),
        ("non-hex trace id", format!("{}g-{SPAN}-1", &TRACE_128[1..])),
        ("non-hex span id", format!("{TRACE_128}-{}x-1", &SPAN[1..])),
        ("zero trace id", format!("{}-{SPAN}-1", "0".repeat(32))),
        (
            "zero 64-bit trace id",
            format!("{}-{SPAN}-1", "0".repeat(16)),
        ),
        ("zero span id", format!("{TRACE_128}-{}-1", "0".repeat(16))),
        (
            "zero parent id",
            format!("{TRACE_128}-{SPAN}-1-{}", "0".repeat(16)),
        ),
        ("bad sampling flag", format!("{TRACE_128}-{SPAN}-2")),
        ("sampling word", format!("{TRACE_128}-{SPAN}-true")),
        ("upper-case debug", format!("{TRACE_128}-{SPAN}-D")),
        ("empty sampling", format!("{TRACE_128}-{SPAN}-")),
        (
            "parent without sampling",
            format!("{TRACE_128}-{SPAN}-{PARENT}"),
        ),
        (
            "short parent",
            format!("{TRACE_128}-{SPAN}-1-{}", &PARENT[1..]),
        ),
        ("extra field", format!("{TRACE_128}-{SPAN}-1-{PARENT}-1")),
        ("trailing dash", format!("{TRACE_128}-{SPAN}-1-{PARENT}-")),
        ("no span id", TRACE_128.into()),
        ("trace id and dash", format!("{TRACE_128}-")),
        ("bad lone flag", "2".into()),
        ("lone upper-case debug", "D".into()),
        ("lone word", "true".into()),
        ("leading dash", format!("-{TRACE_128}-{SPAN}")),
        ("inner whitespace", format!("{TRACE_128} -{SPAN}")),
        ("signed hex", format!("+{}-{SPAN}", &TRACE_64[1..])),
    ];
    for (why, value) in cases {
        let extracted = Format::B3Single.extract(&headers(&[("b3", &value)]));
        assert_eq!(extracted, None, "{why}: b3: {value:?}");
    }
}

/// Headers sent, and what extraction should make of them.
type MultiCase<'a> = (Vec<(&'a str, &'a str)>, Option<Remote>);

#[test]
fn b3_multi_valid_forms() {
    let cases: Vec<MultiCase<'_>> = vec![
        (
            vec![("X-B3-TraceId", TRACE_128), ("X-B3-SpanId", SPAN)],
            remote(TRACE_128, SPAN, None, Sampling::Defer),
        ),
        (
            vec![
                ("X-B3-TraceId", TRACE_64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "1"),
            ],
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        (
            vec![
                ("X-B3-TraceId", TRACE_128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "0"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        (
            vec![
                ("x-b3-traceid", TRACE_128),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "true"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            vec![
                ("X-B3-TRACEID", TRACE_128),
                ("X-B3-SPANID", SPAN),
                ("X-B3-SAMPLED", "false"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        (
            vec![
                ("X-B3-TraceId", TRACE_128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Flags", "1"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        // Debug wins over a deny: debug implies sampled.
        (
            vec![
                ("X-B3-TraceId", TRACE_128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "0"),
                ("X-B3-Flags", "1"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        // The single-header debug flag copied into X-B3-Sampled.
        (
            vec![
                ("X-B3-TraceId", TRACE_128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "d"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        // Flags other than 1 carry nothing, as in Brave.
        (
            vec![
                ("X-B3-TraceId", TRACE_128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "1"),
                ("X-B3-Flags", "0"),
            ],
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            vec![
                ("X-B3-TraceId", TRACE_128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-ParentSpanId", PARENT),
                ("X-B3-Sampled", "1"),
            ],
            remote(TRACE_128, SPAN, Some(PARENT), Sampling::Accept),
        ),
        (
            vec![("X-B3-Sampled", "0")],
            Some(Remote::DecisionOnly(Sampling::Deny)),
        ),
        (
            vec![("X-B3-Sampled", "1")],
            Some(Remote::DecisionOnly(Sampling::Accept)),
        ),
        (
            vec![("X-B3-Flags", "1")],
            Some(Remote::DecisionOnly(Sampling::Debug)),
        ),
    ];
    for (pairs, expected) in cases {
        assert_eq!(
            Format::B3Multi.extract(&headers(&pairs)),
            expected,
            "{pairs:?}"
        );
    }
}

#[test]
fn b3_multi_invalid_forms_give_no_context() {
    let zero = "0".repeat(16);
    let upper = TRACE_128.to_uppercase();
    let single_in_multi = format!("{TRACE_64}-{SPAN}");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("nothing", vec![]),
        (
            "trace id only",
            vec![("X-B3-TraceId", TRACE_128), ("X-B3-Sampled", "1")],
        ),
        (
            "span id only",
            vec![("X-B3-SpanId", SPAN), ("X-B3-Sampled", "1")],
        ),
        ("parent only", vec![("X-B3-ParentSpanId", PARENT)]),
        ("flags 0 only", vec![("X-B3-Flags", "0")]),
        (
            "upper-case trace id",
            vec![("X-B3-TraceId", &upper), ("X-B3-SpanId", SPAN)],
        ),
        (
            "short trace id",
            vec![("X-B3-TraceId", &TRACE_64[1..]), ("X-B3-SpanId", SPAN)],
        ),
        (
            "zero trace id",
            vec![("X-B3-TraceId", &zero), ("X-B3-SpanId", SPAN)],
        ),
        (
            "zero span id",
            vec![("X-B3-TraceId", TRACE_64), ("X-B3-SpanId", &zero)],
        ),
        (
            "empty span id",
            vec![("X-B3-TraceId", TRACE_64), ("X-B3-SpanId", "")],
        ),
        (
            "bad parent",
            vec![
                ("X-B3-TraceId", TRACE_64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-ParentSpanId", "xyz"),
            ],
        ),
        (
            "zero parent",
            vec![
                ("X-B3-TraceId", TRACE_64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-ParentSpanId", &zero),
            ],
        ),
        (
            "bad sampled",
            vec![
                ("X-B3-TraceId", TRACE_64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "2"),
            ],
        ),
        (
            "sampled yes",
            vec![
                ("X-B3-TraceId", TRACE_64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "yes"),
            ],
        ),
        (
            "bad sampled despite debug",
            vec![
                ("X-B3-TraceId", TRACE_64),
                ("X-B3-SpanId", SPAN),
                ("X-B3-Sampled", "x"),
                ("X-B3-Flags", "1"),
            ],
        ),
        ("bad lone sampled", vec![("X-B3-Sampled", "maybe")]),
        (
            "single form in a multi header",
            vec![
                ("X-B3-TraceId", single_in_multi.as_str()),
                ("X-B3-SpanId", SPAN),
            ],
        ),
    ];
    for (why, pairs) in cases {
        assert_eq!(
            Format::B3Multi.extract(&headers(&pairs)),
            None,
            "{why}: {pairs:?}"
        );
    }
}

#[test]
fn traceparent_valid_forms() {
    let cases: Vec<(String, Option<Remote>)> = vec![
        (
            format!("00-{TRACE_128}-{SPAN}-01"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            format!("00-{TRACE_128}-{SPAN}-00"),
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        // Unknown flag bits are ignored; only the sampled bit counts.
        (
            format!("00-{TRACE_128}-{SPAN}-03"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            format!("00-{TRACE_128}-{SPAN}-fe"),
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        // A 64-bit id padded into the 128-bit field.
        (
            format!("00-0000000000000000{TRACE_64}-{SPAN}-01"),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        // Future versions: the version-00 prefix, then anything after a dash.
        (
            format!("01-{TRACE_128}-{SPAN}-01"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            format!("cc-{TRACE_128}-{SPAN}-01-what-the-future-holds"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            format!("fe-{TRACE_128}-{SPAN}-00-"),
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
    ];
    for (value, expected) in cases {
        let extracted = Format::TraceContext.extract(&headers(&[("traceparent", &value)]));
        assert_eq!(extracted, expected, "traceparent: {value}");
    }
}

#[test]
fn traceparent_invalid_forms_give_no_context() {
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("version ff", format!("ff-{TRACE_128}-{SPAN}-01")),
        (
            "version 00 with more fields",
            format!("00-{TRACE_128}-{SPAN}-01-00"),
        ),
        (
            "version 00 with a trailing dash",
            format!("00-{TRACE_128}-{SPAN}-01-"),
        ),
        ("future version glued", format!("01-{TRACE_128}-{SPAN}-01x")),
        ("upper-case version", format!("0A-{TRACE_128}-{SPAN}-01")),
        ("one-digit version", format!("0-{TRACE_128}-{SPAN}-01")),
        (
            "upper-case trace id",
            format!("00-{}-{SPAN}-01", TRACE_128.to_uppercase()),
        ),
        (
            "upper-case span id",
            format!("00-{TRACE_128}-{}-01", SPAN.to_uppercase()),
        ),
        ("upper-case flags", format!("00-{TRACE_128}-{SPAN}-0A")),
        ("64-bit trace id", format!("00-{TRACE_64}-{SPAN}-01")),
        ("zero trace id", format!("00-{}-{SPAN}-01", "0".repeat(32))),
        (
            "zero span id",
            format!("00-{TRACE_128}-{}-01", "0".repeat(16)),
        ),
        (
            "non-hex trace id",
            format!("00-{}z-{SPAN}-01", &TRACE_128[1..]),
        ),
        ("non-hex flags", format!("00-{TRACE_128}-{SPAN}-0g")),
        ("one-digit flags", format!("00-{TRACE_128}-{SPAN}-1")),
        ("missing flags", format!("00-{TRACE_128}-{SPAN}")),
        ("underscores", format!("00_{TRACE_128}_{SPAN}_01")),
        ("b3 form", format!("{TRACE_128}-{SPAN}-1")),
        (
            "multibyte at the boundary",
            format!("00-{TRACE_128}-{SPAN}-0é"),
        ),
        (
            "multibyte in the version",
            format!("0é{}-{SPAN}-01", &TRACE_128[1..]),
        ),
        (
            "multibyte in the trace id",
            format!("00-é{}-{SPAN}-01", &TRACE_128[2..]),
        ),
        (
            "multibyte across a dash",
            format!("00-{}é{SPAN}-01", &TRACE_128[..31]),
        ),
    ];
    for (why, value) in cases {
        let extracted = Format::TraceContext.extract(&vec![("traceparent", value.as_str())]);
        assert_eq!(extracted, None, "{why}: traceparent: {value:?}");
    }
}

#[test]
fn tracestate_keeps_valid_members_in_order_and_drops_the_rest() {
    let cases: Vec<(&str, &str)> = vec![
        (
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        ),
        (" rojo=1 ,\tcongo=2\t", "rojo=1,congo=2"),
        ("rojo=1,,  ,congo=2", "rojo=1,congo=2"),
        ("tenant@vendor=x,0tenant@v=y", "tenant@vendor=x,0tenant@v=y"),
        ("a*b/c_d-e=value with spaces", "a*b/c_d-e=value with spaces"),
        ("Upper=1,ok=2", "ok=2"),
        ("1abc=1,ok=2", "ok=2"),
        ("@vendor=1,tenant@=2,t@V=3,t@0v=4,ok=5", "ok=5"),
        ("t@toolongsystemid=1,ok=2", "ok=2"),
        ("novalue=,noequals,ok=2", "ok=2"),
        ("comma=a=b,ok=2", "ok=2"),
        ("dup=1,other=2,dup=3", "dup=1,other=2"),
        ("bad=caf\u{e9},ok=2", "ok=2"),
        ("", ""),
    ];
    for (input, expected) in cases {
        assert_eq!(
            TraceState::parse(input).header(),
            expected,
            "tracestate: {input:?}"
        );
    }
    let long_key = format!("{}=1", "k".repeat(257));
    let long_value = format!("k={}", "v".repeat(257));
    let max_key = format!("{}=1", "k".repeat(256));
    assert!(TraceState::parse(&long_key).is_empty());
    assert!(TraceState::parse(&long_value).is_empty());
    assert_eq!(TraceState::parse(&max_key).len(), 1);
}

#[test]
fn tracestate_holds_at_most_32_members() {
    let many: Vec<String> = (0..40).map(|index| format!("k{index}=v{index}")).collect();
    let state = TraceState::parse(&many.join(","));
    assert_eq!(state.len(), MAX_TRACE_STATE_MEMBERS);
    assert_eq!(state.get("k31"), Some("v31"));
    assert_eq!(state.get("k32"), None);
    // Invalid members do not use up the budget.
    let mut mixed: Vec<String> = (0..10).map(|index| format!("BAD{index}=x")).collect();
    mixed.extend((0..32).map(|index| format!("k{index}=v")));
    assert_eq!(TraceState::parse(&mixed.join(",")).len(), 32);
}

#[test]
fn tracestate_comes_with_a_valid_traceparent_only_and_repeats_combine() {
    let parent = format!("00-{TRACE_128}-{SPAN}-01");
    let propagator = Propagator::trace_context();
    let map = headers(&[
        ("traceparent", &parent),
        ("tracestate", "rojo=1"),
        ("tracestate", "congo=2,rojo=3"),
    ]);
    let incoming = propagator.extract_incoming(&map).unwrap();
    assert_eq!(incoming.format, Format::TraceContext);
    assert_eq!(incoming.trace_state.unwrap().header(), "rojo=1,congo=2");

    let broken = headers(&[("traceparent", "00-xyz"), ("tracestate", "rojo=1")]);
    assert_eq!(propagator.extract_incoming(&broken), None);

    let all_invalid = headers(&[("traceparent", &parent), ("tracestate", "BAD=1")]);
    assert_eq!(
        propagator
            .extract_incoming(&all_invalid)
            .unwrap()
            .trace_state,
        None
    );

    let huge = format!("rojo={}", "a".repeat(200)).repeat(1).clone() + &",x=1".repeat(2100);
    let oversized = headers(&[("traceparent", &parent), ("tracestate", &huge)]);
    let incoming = propagator.extract_incoming(&oversized).unwrap();
    assert_eq!(
        incoming.trace_state, None,
        "an 8 KiB tracestate is dropped whole"
    );
    assert!(
        incoming.remote.context().is_some(),
        "the traceparent still counts"
    );

    // B3 carries no tracestate even when one is present.
    let b3 = headers(&[
        ("b3", &format!("{TRACE_128}-{SPAN}-1")),
        ("tracestate", "rojo=1"),
    ]);
    let incoming = Propagator::default().extract_incoming(&b3).unwrap();
    assert_eq!(
        (incoming.format, incoming.trace_state),
        (Format::B3Single, None)
    );
}

#[test]
fn extraction_order_is_b3_then_multi_then_traceparent_and_configurable() {
    let single = format!("{TRACE_128}-{SPAN}-1");
    let traceparent = format!("00-{TRACE_128}-{PARENT}-00");
    let all = headers(&[
        ("b3", &single),
        ("X-B3-TraceId", TRACE_64),
        ("X-B3-SpanId", SPAN),
        ("traceparent", &traceparent),
    ]);
    let default = Propagator::default();
    assert_eq!(
        default.extract(&all),
        remote(TRACE_128, SPAN, None, Sampling::Accept)
    );

    let without_single = headers(&[
        ("X-B3-TraceId", TRACE_64),
        ("X-B3-SpanId", SPAN),
        ("traceparent", &traceparent),
    ]);
    assert_eq!(
        default.extract(&without_single),
        remote(TRACE_64, SPAN, None, Sampling::Defer)
    );

    // A malformed earlier format falls through to the next, as in Brave.
    let broken_single = headers(&[("b3", "garbage"), ("traceparent", &traceparent)]);
    assert_eq!(
        default.extract(&broken_single),
        remote(TRACE_128, PARENT, None, Sampling::Deny)
    );

    let w3c_first = Propagator::new([Format::TraceContext, Format::B3Single], [Format::B3Single]);
    assert_eq!(
        w3c_first.extract(&all),
        remote(TRACE_128, PARENT, None, Sampling::Deny)
    );

    let b3_only = Propagator::new([Format::B3Multi], [Format::B3Multi]);
    assert_eq!(
        b3_only.extract(&headers(&[("traceparent", &traceparent)])),
        None
    );
    assert_eq!(Propagator::new([], []).extract(&all), None);
}

#[test]
fn header_names_match_in_any_case_in_every_carrier() {
    let value = format!("{TRACE_64}-{SPAN}-1");
    let expected = remote(TRACE_64, SPAN, None, Sampling::Accept);
    let propagator = Propagator::default();
    let http_map = headers(&[("B3", &value)]);
    let mut hash: HashMap<String, String> = HashMap::new();
    hash.insert("B3".into(), value.clone());
    let mut btree = BTreeMap::new();
    btree.insert("b3".to_owned(), value.clone());
    let pairs = vec![("b3".to_owned(), value.clone())];
    assert_eq!(propagator.extract(&http_map), expected);
    assert_eq!(propagator.extract(&hash), expected);
    assert_eq!(propagator.extract(&btree), expected);
    assert_eq!(propagator.extract(&pairs), expected);
    assert_eq!(propagator.extract(pairs.as_slice()), expected);
}

#[test]
fn the_first_of_repeated_headers_wins() {
    let first = format!("{TRACE_64}-{SPAN}-1");
    let second = format!("{TRACE_128}-{SPAN}-0");
    let map = headers(&[("b3", &first), ("B3", &second)]);
    assert_eq!(
        Propagator::default().extract(&map),
        remote(TRACE_64, SPAN, None, Sampling::Accept)
    );
    // A bad first value does not let a second one through.
    let map = headers(&[("b3", "garbage"), ("b3", &second)]);
    assert_eq!(Format::B3Single.extract(&map), None);
    let multi = headers(&[
        ("X-B3-TraceId", TRACE_64),
        ("X-B3-TraceId", TRACE_128),
        ("X-B3-SpanId", SPAN),
        ("X-B3-Sampled", "0"),
        ("X-B3-Sampled", "1"),
    ]);
    assert_eq!(
        Format::B3Multi.extract(&multi),
        remote(TRACE_64, SPAN, None, Sampling::Deny)
    );
    let pairs = vec![("b3", "0"), ("b3", "1")];
    assert_eq!(
        Format::B3Single.extract(&pairs),
        Some(Remote::DecisionOnly(Sampling::Deny))
    );
}

#[test]
fn non_text_and_oversized_values_are_ignored() {
    let mut map = HeaderMap::new();
    map.insert("b3", HeaderValue::from_bytes(b"\xff\xfe-1").unwrap());
    map.insert(
        "traceparent",
        HeaderValue::from_str(&format!("00-{TRACE_128}-{SPAN}-01")).unwrap(),
    );
    assert_eq!(
        Propagator::default().extract(&map),
        remote(TRACE_128, SPAN, None, Sampling::Accept),
        "a non-text b3 counts as absent"
    );
    let padded = format!("{TRACE_64}-{SPAN}-1{}", " ".repeat(MAX_HEADER_LEN));
    assert_eq!(Format::B3Single.extract(&headers(&[("b3", &padded)])), None);
    let just_under = format!("{TRACE_64}-{SPAN}-1{}", " ".repeat(MAX_HEADER_LEN - 36));
    assert_eq!(just_under.len(), MAX_HEADER_LEN - 1);
    assert!(Format::B3Single
        .extract(&headers(&[("b3", &just_under)]))
        .is_some());
    let at_limit = format!("{just_under} ");
    assert_eq!(
        Format::B3Single.extract(&headers(&[("b3", &at_limit)])),
        None
    );
    let huge_parent = format!("00-{TRACE_128}-{SPAN}-01-{}", "x".repeat(MAX_HEADER_LEN));
    assert_eq!(
        Format::TraceContext.extract(&headers(&[("traceparent", &huge_parent)])),
        None
    );
}

fn injected(propagator: &Propagator, context: &SpanContext) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    propagator.inject(context, &mut out);
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn b3_single_injection_per_sampling_state() {
    let cases = [
        (Sampling::Defer, Some(PARENT), format!("{TRACE_128}-{SPAN}")),
        (Sampling::Deny, None, format!("{TRACE_128}-{SPAN}-0")),
        (Sampling::Accept, None, format!("{TRACE_128}-{SPAN}-1")),
        (Sampling::Debug, None, format!("{TRACE_128}-{SPAN}-d")),
        (
            Sampling::Accept,
            Some(PARENT),
            format!("{TRACE_128}-{SPAN}-1-{PARENT}"),
        ),
        (
            Sampling::Deny,
            Some(PARENT),
            format!("{TRACE_128}-{SPAN}-0-{PARENT}"),
        ),
    ];
    for (sampling, parent, expected) in cases {
        let sent = injected(
            &Propagator::default(),
            &context(TRACE_128, SPAN, parent, sampling),
        );
        assert_eq!(sent, pairs(&[("b3", &expected)]), "{sampling:?}");
    }
    // A 64-bit trace id goes out as it came: 16 characters.
    let sent = injected(
        &Propagator::b3(),
        &context(TRACE_64, SPAN, None, Sampling::Accept),
    );
    assert_eq!(sent, pairs(&[("b3", &format!("{TRACE_64}-{SPAN}-1"))]));
}

#[test]
fn b3_multi_injection_per_sampling_state() {
    let multi = Propagator::b3_multi();
    let ids = [("x-b3-traceid", TRACE_64), ("x-b3-spanid", SPAN)];
    let with = |extra: &[(&str, &str)]| {
        let mut all = ids.to_vec();
        all.extend_from_slice(extra);
        pairs(&all)
    };
    let cases = [
        (Sampling::Defer, with(&[])),
        (Sampling::Deny, with(&[("x-b3-sampled", "0")])),
        (Sampling::Accept, with(&[("x-b3-sampled", "1")])),
        (Sampling::Debug, with(&[("x-b3-flags", "1")])),
    ];
    for (sampling, expected) in cases {
        let sent = injected(&multi, &context(TRACE_64, SPAN, None, sampling));
        assert_eq!(sent, expected, "{sampling:?}");
    }
    let sent = injected(
        &multi,
        &context(TRACE_64, SPAN, Some(PARENT), Sampling::Accept),
    );
    assert_eq!(
        sent,
        with(&[("x-b3-parentspanid", PARENT), ("x-b3-sampled", "1")])
    );
}

#[test]
fn injection_replaces_stale_headers_of_a_forwarded_request() {
    let mut map = headers(&[
        ("X-B3-TraceId", TRACE_128),
        ("X-B3-SpanId", PARENT),
        ("X-B3-ParentSpanId", PARENT),
        ("X-B3-Sampled", "0"),
        ("b3", "0"),
        ("tracestate", "stale=1"),
        ("uber-trace-id", &format!("{TRACE_128}:{PARENT}:0:0")),
    ]);
    let ours = context(TRACE_64, SPAN, None, Sampling::Debug);
    let propagator = Propagator::new(Format::ALL, Format::ALL);
    propagator.inject(&ours, &mut map);
    assert_eq!(
        map["uber-trace-id"],
        format!("{TRACE_64}:{SPAN}:0:3").as_str()
    );
    assert_eq!(map.get_all("uber-trace-id").iter().count(), 1);
    assert_eq!(map["b3"], format!("{TRACE_64}-{SPAN}-d").as_str());
    assert_eq!(map["x-b3-traceid"], TRACE_64);
    assert_eq!(map["x-b3-spanid"], SPAN);
    assert_eq!(map["x-b3-flags"], "1");
    assert!(map.get("x-b3-sampled").is_none());
    assert!(map.get("x-b3-parentspanid").is_none());
    assert!(
        map.get("tracestate").is_none(),
        "another trace's tracestate must not leak"
    );
    assert_eq!(
        Propagator::default().extract(&map),
        Some(Remote::Context(ours))
    );
}

#[test]
fn w3c_injection_maps_sampling_to_the_sampled_flag() {
    let cases = [
        (Sampling::Defer, "00"),
        (Sampling::Deny, "00"),
        (Sampling::Accept, "01"),
        (Sampling::Debug, "01"),
    ];
    for (sampling, flags) in cases {
        let sent = injected(
            &Propagator::trace_context(),
            &context(TRACE_64, SPAN, Some(PARENT), sampling),
        );
        let expected = format!("00-0000000000000000{TRACE_64}-{SPAN}-{flags}");
        assert_eq!(sent, pairs(&[("traceparent", &expected)]), "{sampling:?}");
    }
}

#[test]
fn invalid_contexts_inject_nothing() {
    let propagator = Propagator::new(Format::ALL, Format::ALL);
    for sampling in [
        Sampling::Defer,
        Sampling::Deny,
        Sampling::Accept,
        Sampling::Debug,
    ] {
        let zero_trace = SpanContext {
            trace_id: TraceId(0),
            ..context(TRACE_64, SPAN, None, sampling)
        };
        let zero_span = SpanContext {
            span_id: SpanId(0),
            ..context(TRACE_64, SPAN, None, sampling)
        };
        assert!(injected(&propagator, &zero_trace).is_empty());
        assert!(injected(&propagator, &zero_span).is_empty());
    }
    // A zero parent id is no parent.
    let sent = injected(
        &Propagator::default(),
        &SpanContext {
            parent_id: Some(SpanId(0)),
            ..context(TRACE_64, SPAN, None, Sampling::Accept)
        },
    );
    assert_eq!(sent, pairs(&[("b3", &format!("{TRACE_64}-{SPAN}-1"))]));
}

#[test]
fn otel_propagators_names() {
    use Format::*;
    let cases: Vec<(&str, Vec<Format>, Vec<Format>)> = vec![
        (
            "",
            vec![B3Single, B3Multi, TraceContext, Jaeger],
            vec![B3Single],
        ),
        (
            " , ",
            vec![B3Single, B3Multi, TraceContext, Jaeger],
            vec![B3Single],
        ),
        ("jaeger", vec![Jaeger], vec![Jaeger]),
        (
            "tracecontext,jaeger",
            vec![TraceContext, Jaeger],
            vec![TraceContext, Jaeger],
        ),
        (
            "Jaeger, b3multi",
            vec![Jaeger, B3Single, B3Multi],
            vec![Jaeger, B3Multi],
        ),
        ("b3", vec![B3Single, B3Multi], vec![B3Single]),
        ("b3multi", vec![B3Single, B3Multi], vec![B3Multi]),
        ("tracecontext", vec![TraceContext], vec![TraceContext]),
        (
            "tracecontext,baggage",
            vec![TraceContext],
            vec![TraceContext],
        ),
        (
            "B3, TraceContext",
            vec![B3Single, B3Multi, TraceContext],
            vec![B3Single, TraceContext],
        ),
        (
            "b3,b3multi",
            vec![B3Single, B3Multi],
            vec![B3Single, B3Multi],
        ),
        ("none", vec![], vec![]),
        ("baggage", vec![], vec![]),
    ];
    for (text, extract, inject) in cases {
        let propagator = Propagator::from_otel_propagators(text).unwrap();
        assert_eq!(propagator.extract_order(), extract.as_slice(), "{text:?}");
        assert_eq!(propagator.inject_formats(), inject.as_slice(), "{text:?}");
    }
    for bad in ["b3,xray", "ottrace", "b3 multi", "jaeger-baggage", "uber"] {
        let error = Propagator::from_otel_propagators(bad).unwrap_err();
        assert!(
            error.to_string().contains("unsupported propagator"),
            "{bad}: {error}"
        );
        assert!(
            error.to_string().contains("jaeger"),
            "the supported names include jaeger: {error}"
        );
    }
}

#[test]
fn inject_sends_nothing_without_a_current_span() {
    let mut map = HeaderMap::new();
    inject(&mut map);
    assert!(map.is_empty());
    let capture = crate::testing::Capture::new();
    capture.in_scope(|| inject(&mut map));
    assert!(
        map.is_empty(),
        "a subscriber but no span: still no decision to send"
    );
}

#[test]
fn inject_sends_the_current_span_which_the_receiver_continues() {
    let capture = crate::testing::Capture::new();
    let mut map = HeaderMap::new();
    capture.in_scope(|| tracing::info_span!("client").in_scope(|| inject(&mut map)));
    let client = capture.span("client");
    let mut expected = String::new();
    client.trace_id.write_hex(&mut expected);
    expected.push('-');
    client.id.write_hex(&mut expected);
    expected.push_str("-1");
    assert_eq!(map["b3"], expected.as_str());

    capture.in_scope(|| {
        global()
            .continue_trace(&map, || tracing::info_span!("server"))
            .in_scope(|| {});
    });
    let server = capture.span("server");
    assert_eq!(server.trace_id, client.trace_id);
    assert_eq!(server.parent_id, Some(client.id));
}

#[test]
fn helpers_continue_the_caller_and_start_fresh_without_one() {
    let capture = crate::testing::Capture::new();
    let caller = format!("{TRACE_64}-{SPAN}-d-{PARENT}");
    // Parent-based, so the caller's decisions are what the layer follows.
    let dispatch =
        capture.dispatch_with_sampler(crate::sample::ParentBased::new(crate::sample::AlwaysOn));
    tracing::dispatcher::with_default(&dispatch, || {
        let propagator = Propagator::default();
        propagator
            .continue_trace(&vec![("b3", caller.as_str())], || {
                tracing::info_span!("debugged")
            })
            .in_scope(|| {});
        propagator
            .continue_trace(&HeaderMap::new(), || tracing::info_span!("fresh"))
            .in_scope(|| {});
        propagator
            .continue_trace(&vec![("b3", "0")], || tracing::info_span!("denied"))
            .in_scope(|| {});
    });
    let debugged = capture.span("debugged");
    assert_eq!(
        debugged.trace_id.to_string(),
        TRACE_64,
        "64-bit trace id kept"
    );
    assert_eq!(debugged.parent_id.unwrap().to_string(), SPAN);
    assert!(debugged.debug);
    let fresh = capture.span("fresh");
    assert_eq!(fresh.parent_id, None);
    assert_ne!(fresh.trace_id, debugged.trace_id);
    assert!(
        capture.spans().iter().all(|span| span.name != "denied"),
        "b3: 0 is obeyed"
    );
}

#[test]
fn continue_trace_runs_a_future_under_the_remote_parent() {
    let capture = crate::testing::Capture::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let remote_parent = format!("00-{TRACE_128}-{SPAN}-01");
    capture.in_scope(|| {
        let headers = vec![("traceparent", remote_parent.as_str())];
        let continuation = global().continue_trace(&headers, || tracing::info_span!("handle"));
        runtime.block_on(continuation.instrument(async {
            tokio::task::yield_now().await;
            tracing::info_span!("inner").in_scope(|| {});
        }));
    });
    let handle = capture.span("handle");
    assert_eq!(handle.trace_id.to_string(), TRACE_128);
    assert_eq!(handle.parent_id.unwrap().to_string(), SPAN);
    assert_eq!(capture.span("inner").parent_id, Some(handle.id));
}

#[test]
fn tracestate_flows_to_the_next_hop_of_the_same_trace_only() {
    let capture = crate::testing::Capture::new();
    let propagator = Propagator::trace_context();
    let incoming = vec![
        ("traceparent", format!("00-{TRACE_128}-{SPAN}-01")),
        (
            "tracestate",
            "congo=t61rcWkgMzE, BAD=1 ,rojo=00f067aa0ba902b7".to_owned(),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (same_trace, other_trace, after) = capture.in_scope(|| {
        let mut same_trace = HeaderMap::new();
        let mut other_trace = HeaderMap::new();
        propagator
            .continue_trace(&incoming, || tracing::info_span!("handle"))
            .in_scope(|| {
                tracing::info_span!("call").in_scope(|| {
                    propagator.inject(&crate::current_context().unwrap(), &mut same_trace)
                });
                tracing::info_span!(parent: None, "unrelated").in_scope(|| {
                    propagator.inject(&crate::current_context().unwrap(), &mut other_trace)
                });
            });
        let mut after = HeaderMap::new();
        let handle_context = context(TRACE_128, SPAN, None, Sampling::Accept);
        propagator.inject(&handle_context, &mut after);
        (same_trace, other_trace, after)
    });
    assert_eq!(
        same_trace["tracestate"],
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
    assert!(same_trace["traceparent"]
        .to_str()
        .unwrap()
        .starts_with(&format!("00-{TRACE_128}-")));
    assert!(other_trace.get("tracestate").is_none());
    assert!(
        after.get("tracestate").is_none(),
        "the state ends with the handler"
    );

    let sent = capture.in_scope(|| {
        let continuation = propagator.continue_trace(&incoming, || tracing::info_span!("h"));
        runtime.block_on(continuation.instrument(async {
            tokio::task::yield_now().await;
            let mut out = HeaderMap::new();
            propagator.inject(&crate::current_context().unwrap(), &mut out);
            out
        }))
    });
    assert_eq!(
        sent["tracestate"],
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
}

#[cfg(feature = "tower")]
#[test]
fn incoming_in_scope_keeps_tracestate_for_the_same_trace_only() {
    let propagator = Propagator::trace_context();
    let traceparent = format!("00-{TRACE_128}-{SPAN}-01");
    let incoming = propagator
        .extract_incoming(&vec![
            ("traceparent", traceparent.as_str()),
            ("tracestate", "rojo=1"),
        ])
        .unwrap();
    let same = context(TRACE_128, PARENT, None, Sampling::Accept);
    let other = context(TRACE_64, PARENT, None, Sampling::Accept);
    let (same_out, other_out) =
        incoming.in_scope(|| (injected(&propagator, &same), injected(&propagator, &other)));
    assert!(same_out.contains(&("tracestate".to_owned(), "rojo=1".to_owned())));
    assert!(other_out.iter().all(|(name, _)| name != "tracestate"));
    assert!(injected(&propagator, &same)
        .iter()
        .all(|(name, _)| name != "tracestate"));
}

#[test]
fn continued_futures_can_be_spawned() {
    fn assert_send<T: Send + 'static>(value: T) -> T {
        value
    }
    let headers = vec![("b3".to_owned(), format!("{TRACE_64}-{SPAN}-1"))];
    let capture = crate::testing::Capture::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let dispatch = capture.dispatch();
    let future = tracing::dispatcher::with_default(&dispatch, || {
        assert_send(
            global()
                .continue_trace(&headers, || tracing::info_span!("spawned"))
                .instrument(async { 7 }),
        )
    });
    // The span was created under the capture; it closes wherever the future is dropped.
    assert_eq!(runtime.block_on(runtime.spawn(future)).unwrap(), 7);
    drop(runtime);
    assert_eq!(capture.span("spawned").trace_id.to_string(), TRACE_64);
}

#[test]
fn jaeger_valid_forms() {
    let upper = TRACE_128.to_uppercase();
    let cases: Vec<(&str, String, Option<Remote>)> = vec![
        (
            "jaeger-client, 64-bit",
            format!("{TRACE_64}:{SPAN}:0:1"),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        (
            "128-bit with a parent",
            format!("{TRACE_128}:{SPAN}:{PARENT}:1"),
            remote(TRACE_128, SPAN, Some(PARENT), Sampling::Accept),
        ),
        (
            "short ids are left-padded",
            "abc:1f:2:1".into(),
            remote("abc", "1f", Some("2"), Sampling::Accept),
        ),
        (
            "a 17-digit trace id is 128-bit",
            format!("1{TRACE_64}:{SPAN}:0:1"),
            remote(&format!("1{TRACE_64}"), SPAN, None, Sampling::Accept),
        ),
        (
            "upper-case hex",
            format!("{upper}:{}:0:1", SPAN.to_uppercase()),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            "flags 0 is a no",
            format!("{TRACE_128}:{SPAN}:0:0"),
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        (
            "two-digit flags",
            format!("{TRACE_128}:{SPAN}:0:01"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            "debug and sampled",
            format!("{TRACE_128}:{SPAN}:0:3"),
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        (
            "debug implies sampled",
            format!("{TRACE_128}:{SPAN}:0:2"),
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        (
            "firehose with sampled",
            format!("{TRACE_128}:{SPAN}:0:9"),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
        ),
        (
            "firehose alone",
            format!("{TRACE_128}:{SPAN}:0:8"),
            remote(TRACE_128, SPAN, None, Sampling::Deny),
        ),
        (
            "every bit, upper case",
            format!("{TRACE_128}:{SPAN}:0:FF"),
            remote(TRACE_128, SPAN, None, Sampling::Debug),
        ),
        (
            "URL-encoded",
            format!("{TRACE_64}%3A{SPAN}%3a0%3A1"),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        (
            "URL-encoded digits",
            format!("%34{}:{SPAN}:0:%31", &TRACE_64[1..]),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        (
            "whitespace around the value",
            format!("\t{TRACE_64}:{SPAN}:0:1 "),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
        (
            "a zero-padded 64-bit id",
            format!("0000000000000000{TRACE_64}:{SPAN}:0:1"),
            remote(TRACE_64, SPAN, None, Sampling::Accept),
        ),
    ];
    for (why, value, expected) in cases {
        let extracted = Format::Jaeger.extract(&headers(&[("uber-trace-id", &value)]));
        assert_eq!(extracted, expected, "{why}: uber-trace-id: {value}");
    }
}

#[test]
fn jaeger_invalid_forms_give_no_context() {
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("only whitespace", "  ".into()),
        ("three fields", format!("{TRACE_64}:{SPAN}:0")),
        ("five fields", format!("{TRACE_64}:{SPAN}:0:1:1")),
        ("trailing colon", format!("{TRACE_64}:{SPAN}:0:1:")),
        ("empty trace id", format!(":{SPAN}:0:1")),
        ("empty span id", format!("{TRACE_64}::0:1")),
        ("empty parent", format!("{TRACE_64}:{SPAN}::1")),
        ("empty flags", format!("{TRACE_64}:{SPAN}:0:")),
        ("zero trace id", format!("{}:{SPAN}:0:1", "0".repeat(32))),
        ("zero span id", format!("{TRACE_64}:0:0:1")),
        ("trace id 33 digits", format!("1{TRACE_128}:{SPAN}:0:1")),
        ("span id 17 digits", format!("{TRACE_64}:1{SPAN}:0:1")),
        ("parent 17 digits", format!("{TRACE_64}:{SPAN}:1{PARENT}:1")),
        (
            "flags wider than a byte",
            format!("{TRACE_64}:{SPAN}:0:100"),
        ),
        (
            "non-hex trace id",
            format!("{}g:{SPAN}:0:1", &TRACE_64[1..]),
        ),
        ("non-hex flags", format!("{TRACE_64}:{SPAN}:0:x")),
        ("signed parent", format!("{TRACE_64}:{SPAN}:-1:1")),
        ("signed trace id", format!("+{}:{SPAN}:0:1", &TRACE_64[1..])),
        ("0x prefix", format!("0x{TRACE_64}:{SPAN}:0:1")),
        ("inner whitespace", format!("{TRACE_64} :{SPAN}:0:1")),
        ("B3 separators", format!("{TRACE_64}-{SPAN}-0-1")),
        ("broken escape", format!("{TRACE_64}%3G{SPAN}:0:1")),
        ("truncated escape", format!("{TRACE_64}:{SPAN}:0:1%3")),
        ("escape to non-UTF-8", format!("{TRACE_64}:{SPAN}:0:1%ff")),
        (
            "escaped garbage",
            format!("{TRACE_64}%3A{SPAN}%3A0%3A1%3A1"),
        ),
        ("a lone decision", "1".into()),
        ("multi-byte digit", format!("{TRACE_64}:{SPAN}:0:é")),
    ];
    for (why, value) in cases {
        let extracted = Format::Jaeger.extract(&headers(&[("uber-trace-id", &value)]));
        assert_eq!(extracted, None, "{why}: uber-trace-id: {value:?}");
    }
    // From a string map, any text reaches the parser.
    let pairs = vec![("uber-trace-id", "1:2:0:1\u{0}")];
    assert_eq!(Format::Jaeger.extract(&pairs), None);
}

#[test]
fn jaeger_injection_per_sampling_state() {
    let jaeger = Propagator::new(Format::ALL, [Format::Jaeger]);
    let cases = [
        (Sampling::Deny, format!("{TRACE_128}:{SPAN}:0:0")),
        (Sampling::Accept, format!("{TRACE_128}:{SPAN}:0:1")),
        (Sampling::Debug, format!("{TRACE_128}:{SPAN}:0:3")),
    ];
    for (sampling, expected) in cases {
        // The parent is informational in Jaeger and not sent, as current clients do.
        let sent = injected(&jaeger, &context(TRACE_128, SPAN, Some(PARENT), sampling));
        assert_eq!(sent, pairs(&[("uber-trace-id", &expected)]), "{sampling:?}");
        assert_eq!(
            jaeger.extract(&sent),
            remote(TRACE_128, SPAN, None, sampling),
            "{sampling:?} round trip"
        );
    }
    // Jaeger cannot say "undecided": such a context is not written, and a stale header goes.
    let mut forwarded = pairs(&[("uber-trace-id", &format!("{TRACE_64}:{PARENT}:0:1"))]);
    jaeger.inject(
        &context(TRACE_128, SPAN, None, Sampling::Defer),
        &mut forwarded,
    );
    assert!(forwarded.is_empty(), "{forwarded:?}");
    // Ids go out full width: a 64-bit trace id as 16 digits, a small span id padded.
    let sent = injected(&jaeger, &context(TRACE_64, "1f", None, Sampling::Accept));
    assert_eq!(
        sent,
        pairs(&[("uber-trace-id", &format!("{TRACE_64}:000000000000001f:0:1"))])
    );
}

#[test]
fn jaeger_is_read_last_by_default_and_uberctx_carries_no_context() {
    let jaeger = format!("{TRACE_64}:{SPAN}:{PARENT}:1");
    let only = headers(&[("Uber-Trace-Id", &jaeger)]);
    let expected = remote(TRACE_64, SPAN, Some(PARENT), Sampling::Accept);
    assert_eq!(Propagator::default().extract(&only), expected);

    let with_b3 = headers(&[
        ("uber-trace-id", &jaeger),
        ("b3", &format!("{TRACE_128}-{SPAN}-0")),
    ]);
    assert_eq!(
        Propagator::default().extract(&with_b3),
        remote(TRACE_128, SPAN, None, Sampling::Deny),
        "an earlier format wins"
    );
    let broken_b3 = headers(&[("b3", "garbage"), ("uber-trace-id", &jaeger)]);
    assert_eq!(Propagator::default().extract(&broken_b3), expected);
    let jaeger_first = Propagator::new([Format::Jaeger, Format::B3Single], []);
    assert_eq!(jaeger_first.extract(&with_b3), expected);
    let b3_only = Propagator::new([Format::B3Single, Format::B3Multi], []);
    assert_eq!(b3_only.extract(&only), None);

    // Jaeger baggage headers carry no context and change nothing.
    let baggage = [("uberctx-user", "alice"), ("UBERCTX-tenant", "a%2Cb")];
    let mut with_baggage = baggage.to_vec();
    with_baggage.push(("uber-trace-id", &jaeger));
    assert_eq!(Propagator::default().extract(&with_baggage), expected);
    assert_eq!(Propagator::default().extract(&baggage.to_vec()), None);
    for format in Format::ALL {
        assert!(!format
            .fields()
            .iter()
            .any(|name| name.starts_with("uberctx")));
    }

    // A Jaeger caller carries no tracestate, even when one is present.
    let with_state = headers(&[("uber-trace-id", &jaeger), ("tracestate", "rojo=1")]);
    let incoming = Propagator::default().extract_incoming(&with_state).unwrap();
    assert_eq!(
        (incoming.format, incoming.trace_state),
        (Format::Jaeger, None)
    );
}

fn baggage_pairs(baggage: &crate::baggage::Baggage) -> Vec<(String, String)> {
    baggage
        .iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

fn owned_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn jaeger_baggage_is_read_from_uberctx_headers_entry_by_entry() {
    let jaeger = Propagator::new([Format::Jaeger], [Format::Jaeger]).baggage(false);
    let incoming = headers(&[
        ("uber-trace-id", &format!("{TRACE_64}:{SPAN}:0:1")),
        ("uberctx-user.id", "42"),
        ("UBERCTX-Tenant", "acme%20corp%2C%20inc"),
        ("uberctx-broken", "%zz"),
        ("uberctx-not-utf8", "%ff"),
        ("uberctx-plus", "a+b"),
        ("uberctx-empty", ""),
        ("uberctx-", "no key"),
        ("x-uberctx-other", "not ours"),
    ]);
    assert_eq!(
        baggage_pairs(&jaeger.extract_baggage(&incoming)),
        owned_pairs(&[
            ("user.id", "42"),
            ("tenant", "acme corp, inc"),
            ("plus", "a+b"),
            ("empty", ""),
        ])
    );
    // The context is read as before, whatever the baggage headers hold.
    assert_eq!(
        jaeger.extract(&incoming),
        remote(TRACE_64, SPAN, None, Sampling::Accept)
    );

    // Every carrier of the crate lists its names; keys lose their case in each.
    let pairs_carrier = vec![("UberCtx-Region", "eu"), ("uberctx-region", "us")];
    assert_eq!(
        baggage_pairs(&jaeger.extract_baggage(&pairs_carrier)),
        owned_pairs(&[("region", "eu")]),
        "the first value of a name counts"
    );
    let map: HashMap<String, String> = [("uberctx-Region".to_owned(), "eu".to_owned())].into();
    assert_eq!(
        baggage_pairs(&jaeger.extract_baggage(&map)),
        owned_pairs(&[("region", "eu")])
    );
    let tree: BTreeMap<String, String> = [("uberctx-region".to_owned(), "eu".to_owned())].into();
    assert_eq!(
        baggage_pairs(&jaeger.extract_baggage(&tree)),
        owned_pairs(&[("region", "eu")])
    );

    // Only a propagator reading Jaeger reads them.
    let b3 = Propagator::new([Format::B3Single], [Format::B3Single]);
    assert!(b3.extract_baggage(&incoming).is_empty());

    // The W3C limits hold here too, whole entries at a time.
    let many: Vec<(String, String)> = (0..200)
        .map(|index| (format!("uberctx-k{index}"), "v".to_owned()))
        .collect();
    assert_eq!(
        jaeger.extract_baggage(&many).len(),
        crate::baggage::MAX_ENTRIES
    );
    let big = vec![
        ("uberctx-a", "x".repeat(5000)),
        ("uberctx-b", "y".repeat(5000)),
        ("uberctx-c", "z".to_owned()),
    ];
    assert_eq!(
        jaeger
            .extract_baggage(&big)
            .iter()
            .map(|(key, _)| key.to_owned())
            .collect::<Vec<_>>(),
        ["a", "c"]
    );
}

#[test]
fn jaeger_baggage_is_written_url_encoded_one_header_per_entry() {
    let jaeger = Propagator::new(Format::ALL, [Format::Jaeger]).baggage(false);
    let baggage: crate::baggage::Baggage = [
        ("user.id", "42"),
        ("Tenant", "acme corp, inc ✓"),
        ("path", "a/b~c"),
    ]
    .into_iter()
    .collect();
    let mut out = HeaderMap::new();
    jaeger.inject_baggage(&baggage, &mut out);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out["uberctx-user.id"], "42");
    assert_eq!(out["uberctx-tenant"], "acme%20corp%2C%20inc%20%E2%9C%93");
    assert_eq!(out["uberctx-path"], "a%2Fb~c");
    assert!(out.get("baggage").is_none());
    // What is written reads back (keys lower-cased).
    assert_eq!(
        baggage_pairs(&jaeger.extract_baggage(&out)),
        owned_pairs(&[
            ("user.id", "42"),
            ("tenant", "acme corp, inc ✓"),
            ("path", "a/b~c")
        ])
    );

    // W3C properties cannot ride in Jaeger headers; the value still does.
    let with_properties = Propagator::default().extract_baggage(&vec![("baggage", "k=v;ttl=60")]);
    let mut out = Vec::new();
    jaeger.inject_baggage(&with_properties, &mut out);
    assert_eq!(out, [("uberctx-k".to_owned(), "v".to_owned())]);

    // A propagator not writing Jaeger writes no `uberctx-*`.
    let mut out = Vec::new();
    Propagator::new(Format::ALL, [Format::B3Single])
        .baggage(false)
        .inject_baggage(&baggage, &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn baggage_travels_beside_every_context_format() {
    let baggage_header = ("baggage", "tenant=acme,user.id=42;private");
    for (propagator, context_headers) in [
        (
            Propagator::b3(),
            vec![("b3", format!("{TRACE_128}-{SPAN}-1"))],
        ),
        (
            Propagator::b3_multi(),
            vec![
                ("X-B3-TraceId", TRACE_128.to_owned()),
                ("X-B3-SpanId", SPAN.to_owned()),
                ("X-B3-Sampled", "1".to_owned()),
            ],
        ),
        (
            Propagator::trace_context(),
            vec![("traceparent", format!("00-{TRACE_128}-{SPAN}-01"))],
        ),
        (
            Propagator::new(Format::ALL, [Format::Jaeger]),
            vec![("uber-trace-id", format!("{TRACE_128}:{SPAN}:0:1"))],
        ),
    ] {
        let mut incoming: Vec<(&str, &str)> = context_headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        incoming.push(baggage_header);
        assert_eq!(
            propagator.extract(&incoming),
            remote(TRACE_128, SPAN, None, Sampling::Accept),
            "{propagator:?}"
        );
        let baggage = propagator.extract_baggage(&incoming);
        assert_eq!(
            baggage_pairs(&baggage),
            owned_pairs(&[("tenant", "acme"), ("user.id", "42")]),
            "{propagator:?}"
        );
        // Baggage without any context is still baggage; a broken context does not lose it.
        assert_eq!(propagator.extract_baggage(&vec![baggage_header]), baggage);
        assert_eq!(
            propagator.extract_baggage(&vec![
                ("b3", "garbage"),
                ("traceparent", "garbage"),
                baggage_header
            ]),
            baggage
        );

        let mut out = Vec::new();
        propagator.inject_baggage(&baggage, &mut out);
        let sent: HashMap<String, String> = out.into_iter().collect();
        assert_eq!(
            sent["baggage"], "tenant=acme,user.id=42;private",
            "{propagator:?}"
        );
    }

    // Both formats at once: W3C first, Jaeger for the keys W3C did not bring.
    let both = vec![
        ("baggage", "tenant=acme"),
        ("uberctx-tenant", "other"),
        ("uberctx-region", "eu"),
    ];
    assert_eq!(
        baggage_pairs(&Propagator::default().extract_baggage(&both)),
        owned_pairs(&[("tenant", "acme"), ("region", "eu")])
    );
    let mut out = HeaderMap::new();
    Propagator::new(Format::ALL, [Format::B3Single, Format::Jaeger])
        .inject_baggage(&Propagator::default().extract_baggage(&both), &mut out);
    assert_eq!(out["baggage"], "tenant=acme,region=eu");
    assert_eq!(out["uberctx-tenant"], "acme");
    assert_eq!(out["uberctx-region"], "eu");
}

#[test]
fn otel_propagators_name_w3c_baggage_and_jaeger_brings_its_own() {
    let headers = vec![("baggage", "a=1"), ("uberctx-b", "2")];
    let read = |text: &str| {
        baggage_pairs(
            &Propagator::from_otel_propagators(text)
                .unwrap()
                .extract_baggage(&headers),
        )
    };
    assert_eq!(read("tracecontext,baggage"), owned_pairs(&[("a", "1")]));
    assert_eq!(read("tracecontext"), owned_pairs(&[]));
    assert_eq!(read("jaeger"), owned_pairs(&[("b", "2")]));
    assert_eq!(
        read("baggage,jaeger"),
        owned_pairs(&[("a", "1"), ("b", "2")])
    );
    assert_eq!(read("baggage"), owned_pairs(&[("a", "1")]), "baggage alone");
    assert_eq!(read("none"), owned_pairs(&[]));
    assert_eq!(
        read(""),
        owned_pairs(&[("a", "1"), ("b", "2")]),
        "the default"
    );
}

#[test]
fn inject_sends_the_current_spans_baggage_and_continue_trace_receives_it() {
    let capture = crate::testing::Capture::new();
    let propagator = Propagator::new(Format::ALL, [Format::B3Single, Format::Jaeger]);
    let sent = capture.in_scope(|| {
        tracing::info_span!("outer").in_scope(|| {
            assert!(crate::baggage::set("tenant", "acme corp"));
            let mut out = HeaderMap::new();
            propagator.inject(&crate::current_context().unwrap(), &mut out);
            out
        })
    });
    assert_eq!(sent["baggage"], "tenant=acme%20corp");
    assert_eq!(sent["uberctx-tenant"], "acme%20corp");
    assert!(sent.contains_key("b3"));

    // Without baggage, no baggage header; a hand-made one is left alone.
    let mut out = headers(&[("baggage", "by.hand=1")]);
    capture.in_scope(|| {
        tracing::info_span!("plain").in_scope(|| {
            propagator.inject(&crate::current_context().unwrap(), &mut out);
        })
    });
    assert_eq!(out["baggage"], "by.hand=1");
    assert!(!out.keys().any(|name| name.as_str().starts_with("uberctx-")));

    // The receiving side: the continuing span and its children have the caller's baggage, even
    // when the context itself was unreadable.
    for context in [format!("{TRACE_128}-{SPAN}-1"), "garbage".to_owned()] {
        let mut incoming = sent.clone();
        incoming.insert("b3", context.parse().unwrap());
        let seen = capture.in_scope(|| {
            propagator
                .continue_trace(&incoming, || tracing::info_span!(parent: None, "handle"))
                .in_scope(|| {
                    let here = crate::baggage::get("tenant");
                    let child =
                        tracing::info_span!("child").in_scope(|| crate::baggage::get("tenant"));
                    (here, child)
                })
        });
        assert_eq!(
            seen,
            (Some("acme corp".to_owned()), Some("acme corp".to_owned())),
            "{context}"
        );
    }
}

/// A carrier that notes every name extraction asks it about.
struct Asked {
    headers: Vec<(&'static str, &'static str)>,
    names: std::cell::RefCell<Vec<String>>,
}

impl Asked {
    fn note(&self, name: &str) {
        self.names.borrow_mut().push(name.to_owned());
    }
}

impl Carrier for Asked {
    fn get(&self, name: &str) -> Option<&str> {
        self.note(name);
        self.headers.get(name)
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        self.note(name);
        self.headers.get_all(name)
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys()
    }

    fn has_name_starting_with(&self, prefix: &str) -> bool {
        self.note(prefix);
        self.headers.has_name_starting_with(prefix)
    }
}

#[test]
fn every_header_extraction_reads_is_one_the_server_span_looks_for() {
    // No format finds a context here, so every format asks for all of its headers; the Jaeger
    // baggage header makes the `uberctx-` names listed and read too.
    let carrier = Asked {
        headers: vec![("uberctx-tenant", "acme"), ("x-other", "1")],
        names: Default::default(),
    };
    let every_format = [
        Format::B3Single,
        Format::B3Multi,
        Format::TraceContext,
        Format::Jaeger,
    ];
    let propagator = Propagator::new(every_format, every_format).baggage(true);
    assert!(propagator.extract_incoming(&carrier).is_none());
    assert_eq!(propagator.extract_baggage(&carrier).len(), 1);
    let asked = carrier.names.into_inner();
    for name in [
        "b3",
        "x-b3-traceid",
        "traceparent",
        "uber-trace-id",
        "baggage",
        "uberctx-",
        "uberctx-tenant",
    ] {
        assert!(
            asked.iter().any(|asked| asked == name),
            "{name} in {asked:?}"
        );
    }
    for name in &asked {
        assert!(is_read_by_extraction(name), "extraction reads {name}");
    }
    // A B3 context asks for its parent too.
    let b3 = Asked {
        headers: vec![("x-b3-traceid", TRACE_64), ("x-b3-spanid", SPAN)],
        names: Default::default(),
    };
    assert!(propagator.extract_incoming(&b3).is_some());
    let asked = b3.names.into_inner();
    assert!(
        asked.iter().any(|name| name == "x-b3-parentspanid"),
        "{asked:?}"
    );
    for name in &asked {
        assert!(is_read_by_extraction(name), "extraction reads {name}");
    }
    assert!(!is_read_by_extraction("x-other"));
    assert!(!is_read_by_extraction("host"));
}
