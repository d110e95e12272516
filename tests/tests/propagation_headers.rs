//! Propagation as a service sees it: request headers in, a server span that continues (or
//! restarts) the trace, and headers out on the next call.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use tower::ServiceExt;
use traced::http::ServerLayer;
use traced::model::{Remote, Sampling, SpanContext, SpanId, SpanRecord, TraceId};
use traced::propagation::{self, Format, Propagator, MAX_HEADER_LEN};
use traced::sample::{AlwaysOn, ParentBased};
use traced::testing::Capture;

const TRACE_128: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const TRACE_64: &str = "463ac35c9f6413ad";
const SPAN: &str = "e457b5a2e4d86bd1";
const PARENT: &str = "05e3ac9a4f6e3b90";

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    map
}

/// One request through a service: the server span continues whatever the headers carry, and
/// inside it the service calls the next one, injecting with `propagator`.
fn serve(
    capture: &Capture,
    propagator: &Propagator,
    incoming: &HeaderMap,
) -> (SpanRecord, HeaderMap) {
    let dispatch = capture.dispatch_with_sampler(ParentBased::new(AlwaysOn));
    let outgoing = tracing::dispatcher::with_default(&dispatch, || {
        propagator
            .continue_trace(incoming, || {
                tracing::info_span!("server", otel.kind = "server")
            })
            .in_scope(|| {
                let mut outgoing = HeaderMap::new();
                let context = traced::current_context().expect("the server span is current");
                propagator.inject(&context, &mut outgoing);
                outgoing
            })
    });
    let server = capture
        .spans()
        .into_iter()
        .find(|span| span.name == "server");
    (server.unwrap_or_default(), outgoing)
}

fn hex<T: std::fmt::Display>(id: T) -> String {
    id.to_string()
}

/// Why, the headers, then the trace id, parent and debug flag the server span should have.
type StyleCase<'a> = (
    &'a str,
    Vec<(&'a str, String)>,
    &'a str,
    Option<&'a str>,
    bool,
);

#[test]
fn each_header_style_continues_the_callers_trace() {
    let cases: Vec<StyleCase<'_>> = vec![
        (
            "b3 128-bit",
            vec![("b3", format!("{TRACE_128}-{SPAN}-1-{PARENT}"))],
            TRACE_128,
            Some(SPAN),
            false,
        ),
        (
            "b3 64-bit",
            vec![("B3", format!("{TRACE_64}-{SPAN}-1"))],
            TRACE_64,
            Some(SPAN),
            false,
        ),
        (
            "b3 debug",
            vec![("b3", format!("{TRACE_128}-{SPAN}-d"))],
            TRACE_128,
            Some(SPAN),
            true,
        ),
        (
            "b3 undecided",
            vec![("b3", format!("{TRACE_128}-{SPAN}"))],
            TRACE_128,
            Some(SPAN),
            false,
        ),
        (
            "multi",
            vec![
                ("X-B3-TraceId", TRACE_64.to_owned()),
                ("X-B3-SpanId", SPAN.to_owned()),
                ("X-B3-ParentSpanId", PARENT.to_owned()),
                ("X-B3-Sampled", "1".to_owned()),
            ],
            TRACE_64,
            Some(SPAN),
            false,
        ),
        (
            "multi debug",
            vec![
                ("x-b3-traceid", TRACE_128.to_owned()),
                ("x-b3-spanid", SPAN.to_owned()),
                ("x-b3-flags", "1".to_owned()),
            ],
            TRACE_128,
            Some(SPAN),
            true,
        ),
        (
            "traceparent",
            vec![("traceparent", format!("00-{TRACE_128}-{SPAN}-01"))],
            TRACE_128,
            Some(SPAN),
            false,
        ),
        (
            "jaeger-client",
            vec![("uber-trace-id", format!("{TRACE_128}:{SPAN}:{PARENT}:1"))],
            TRACE_128,
            Some(SPAN),
            false,
        ),
        (
            "jaeger debug, 64-bit",
            vec![("Uber-Trace-Id", format!("{TRACE_64}:{SPAN}:0:3"))],
            TRACE_64,
            Some(SPAN),
            true,
        ),
        (
            "jaeger unpadded, upper case, URL-encoded",
            vec![(
                "uber-trace-id",
                format!("{}%3A{}%3A0%3A1", &TRACE_64[1..], SPAN.to_uppercase()),
            )],
            "063ac35c9f6413ad",
            Some(SPAN),
            false,
        ),
    ];
    for (why, pairs, trace, parent, debug) in cases {
        let capture = Capture::new();
        let pairs: Vec<(&str, &[u8])> = pairs
            .iter()
            .map(|(name, value)| (*name, value.as_bytes()))
            .collect();
        let (server, outgoing) = serve(&capture, &Propagator::default(), &headers(&pairs));
        assert_eq!(
            hex(server.trace_id),
            trace,
            "{why}: trace id kept as carried"
        );
        assert_eq!(
            server.parent_id.map(hex).as_deref(),
            parent,
            "{why}: parented to the caller"
        );
        assert_eq!(server.debug, debug, "{why}");
        assert!(server.local_root, "{why}");
        // The next hop gets the same trace id, in the same width, and our span as its parent.
        let flag = if debug { "d" } else { "1" };
        let expected = format!("{trace}-{}-{flag}-{SPAN}", hex(server.id));
        assert_eq!(outgoing["b3"], expected.as_str(), "{why}");
    }
}

/// Why it is malformed, and the raw headers.
type MalformedCase<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>);

#[test]
fn malformed_headers_start_a_new_trace_and_never_fail_the_request() {
    let zero16 = "0".repeat(16);
    let zero32 = "0".repeat(32);
    let huge = format!("{TRACE_64}-{SPAN}-1{}", " ".repeat(MAX_HEADER_LEN));
    let cases: Vec<MalformedCase<'_>> = vec![
        ("empty b3", vec![("b3", b"".to_vec())]),
        (
            "short trace id",
            vec![("b3", format!("{}-{SPAN}-1", &TRACE_64[..15]).into_bytes())],
        ),
        (
            "long span id",
            vec![("b3", format!("{TRACE_64}-{SPAN}0-1").into_bytes())],
        ),
        (
            "upper-case hex",
            vec![(
                "b3",
                format!("{}-{SPAN}-1", TRACE_64.to_uppercase()).into_bytes(),
            )],
        ),
        (
            "non-hex",
            vec![("b3", format!("{}-{SPAN}-1", "z".repeat(16)).into_bytes())],
        ),
        (
            "zero trace id",
            vec![("b3", format!("{zero32}-{SPAN}-1").into_bytes())],
        ),
        (
            "zero span id",
            vec![("b3", format!("{TRACE_64}-{zero16}-1").into_bytes())],
        ),
        (
            "bad sampling flag",
            vec![("b3", format!("{TRACE_64}-{SPAN}-x").into_bytes())],
        ),
        (
            "extra field",
            vec![("b3", format!("{TRACE_64}-{SPAN}-1-{PARENT}-0").into_bytes())],
        ),
        (
            "non-UTF-8 bytes",
            vec![("b3", b"\xc3\x28\xa0\xa1-\xff".to_vec())],
        ),
        ("8 KiB value", vec![("b3", huge.into_bytes())]),
        (
            "multi missing span id",
            vec![
                ("X-B3-TraceId", TRACE_64.as_bytes().to_vec()),
                ("X-B3-Sampled", b"1".to_vec()),
            ],
        ),
        (
            "multi bad sampled",
            vec![
                ("X-B3-TraceId", TRACE_64.as_bytes().to_vec()),
                ("X-B3-SpanId", SPAN.as_bytes().to_vec()),
                ("X-B3-Sampled", b"yes".to_vec()),
            ],
        ),
        (
            "traceparent version ff",
            vec![(
                "traceparent",
                format!("ff-{TRACE_128}-{SPAN}-01").into_bytes(),
            )],
        ),
        (
            "traceparent 00 too long",
            vec![(
                "traceparent",
                format!("00-{TRACE_128}-{SPAN}-01-").into_bytes(),
            )],
        ),
        (
            "traceparent zero ids",
            vec![(
                "traceparent",
                format!("00-{zero32}-{zero16}-01").into_bytes(),
            )],
        ),
        ("tracestate alone", vec![("tracestate", b"rojo=1".to_vec())]),
        (
            "jaeger three fields",
            vec![("uber-trace-id", format!("{TRACE_64}:{SPAN}:1").into_bytes())],
        ),
        (
            "jaeger zero trace id",
            vec![("uber-trace-id", format!("{zero32}:{SPAN}:0:1").into_bytes())],
        ),
        (
            "jaeger trace id of 33 digits",
            vec![(
                "uber-trace-id",
                format!("0{TRACE_128}:{SPAN}:0:1").into_bytes(),
            )],
        ),
        (
            "jaeger non-hex flags",
            vec![(
                "uber-trace-id",
                format!("{TRACE_64}:{SPAN}:0:yes").into_bytes(),
            )],
        ),
        (
            "jaeger broken escape",
            vec![(
                "uber-trace-id",
                format!("{TRACE_64}%3{SPAN}:0:1").into_bytes(),
            )],
        ),
        (
            "jaeger baggage alone",
            vec![("uberctx-user", b"alice".to_vec())],
        ),
    ];
    for (why, pairs) in cases {
        let capture = Capture::new();
        let pairs: Vec<(&str, &[u8])> = pairs
            .iter()
            .map(|(name, value)| (*name, value.as_slice()))
            .collect();
        let incoming = headers(&pairs);
        assert_eq!(propagation::extract(&incoming), None, "{why}");
        let (server, outgoing) = serve(&capture, &Propagator::default(), &incoming);
        assert_eq!(server.parent_id, None, "{why}: a new trace");
        assert!(
            !server.trace_id.is_64_bit(),
            "{why}: new traces get 128-bit ids"
        );
        assert!(server.local_root);
        let expected = format!("{}-{}-1", hex(server.trace_id), hex(server.id));
        assert_eq!(outgoing["b3"], expected.as_str(), "{why}");
    }
}

#[test]
fn a_callers_deny_is_obeyed_and_passed_on_with_the_ids() {
    for incoming in [format!("{TRACE_64}-{SPAN}-0"), "0".to_owned()] {
        let capture = Capture::new();
        let (server, outgoing) = serve(
            &capture,
            &Propagator::default(),
            &headers(&[("b3", incoming.as_bytes())]),
        );
        assert_eq!(
            server,
            SpanRecord::default(),
            "b3: {incoming}: nothing reported"
        );
        let sent = outgoing["b3"].to_str().unwrap();
        assert!(
            sent.ends_with("-0") || sent.contains("-0-"),
            "b3: {incoming}: sent {sent}"
        );
        let remote = propagation::extract(&outgoing).unwrap();
        assert_eq!(remote.sampling(), Sampling::Deny);
        if incoming.len() > 1 {
            assert_eq!(hex(remote.context().unwrap().trace_id), TRACE_64);
        }
    }
}

#[test]
fn a_sampling_only_header_starts_a_trace_under_that_decision() {
    for (value, reported, debug) in [("1", true, false), ("d", true, true), ("0", false, false)] {
        let capture = Capture::new();
        let (server, outgoing) = serve(
            &capture,
            &Propagator::default(),
            &headers(&[("b3", value.as_bytes())]),
        );
        assert_eq!(capture.spans().len(), usize::from(reported), "b3: {value}");
        if reported {
            assert_eq!(server.parent_id, None);
            assert_eq!(server.debug, debug);
        }
        // The new trace's own ids go downstream with the decision.
        let remote = propagation::extract(&outgoing).unwrap();
        assert!(remote.context().is_some(), "b3: {value}");
    }
}

#[test]
fn injection_formats_follow_configuration() {
    let context = SpanContext {
        trace_id: TraceId(u128::from_str_radix(TRACE_64, 16).unwrap()),
        span_id: SpanId(u64::from_str_radix(SPAN, 16).unwrap()),
        parent_id: Some(SpanId(u64::from_str_radix(PARENT, 16).unwrap())),
        sampling: Sampling::Accept,
    };
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("", vec![("b3", format!("{TRACE_64}-{SPAN}-1-{PARENT}"))]),
        ("b3", vec![("b3", format!("{TRACE_64}-{SPAN}-1-{PARENT}"))]),
        (
            "b3multi",
            vec![
                ("x-b3-traceid", TRACE_64.to_owned()),
                ("x-b3-spanid", SPAN.to_owned()),
                ("x-b3-parentspanid", PARENT.to_owned()),
                ("x-b3-sampled", "1".to_owned()),
            ],
        ),
        (
            "tracecontext",
            vec![(
                "traceparent",
                format!("00-0000000000000000{TRACE_64}-{SPAN}-01"),
            )],
        ),
        (
            "b3,b3multi",
            vec![
                ("b3", format!("{TRACE_64}-{SPAN}-1-{PARENT}")),
                ("x-b3-traceid", TRACE_64.to_owned()),
                ("x-b3-spanid", SPAN.to_owned()),
                ("x-b3-parentspanid", PARENT.to_owned()),
                ("x-b3-sampled", "1".to_owned()),
            ],
        ),
        (
            "jaeger",
            vec![("uber-trace-id", format!("{TRACE_64}:{SPAN}:0:1"))],
        ),
        (
            "tracecontext,jaeger",
            vec![
                (
                    "traceparent",
                    format!("00-0000000000000000{TRACE_64}-{SPAN}-01"),
                ),
                ("uber-trace-id", format!("{TRACE_64}:{SPAN}:0:1")),
            ],
        ),
        ("none", vec![]),
    ];
    for (otel_propagators, expected) in cases {
        let propagator = Propagator::from_otel_propagators(otel_propagators).unwrap();
        let mut map = HeaderMap::new();
        propagator.inject(&context, &mut map);
        let mut sent: Vec<(String, String)> = map
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        sent.sort();
        let mut expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        expected.sort();
        assert_eq!(sent, expected, "OTEL_PROPAGATORS={otel_propagators:?}");
        if !expected.is_empty() {
            assert_eq!(
                Propagator::default()
                    .extract(&map)
                    .unwrap()
                    .context()
                    .unwrap()
                    .trace_id,
                context.trace_id
            );
        }
    }
}

#[test]
fn no_current_span_means_no_headers() {
    let mut map = HeaderMap::new();
    Capture::new().in_scope(|| propagation::inject(&mut map));
    assert!(map.is_empty());
    let mut map = HeaderMap::new();
    Capture::new()
        .in_scope(|| tracing::info_span!("call").in_scope(|| propagation::inject(&mut map)));
    assert_eq!(map.len(), 1);
}

#[test]
fn repeated_headers_keep_the_first_and_many_repeats_are_harmless() {
    let first = format!("{TRACE_64}-{SPAN}-1");
    let mut map = headers(&[("b3", first.as_bytes())]);
    for index in 0..5_000u64 {
        let value = format!("{:032x}-{SPAN}-0", u128::from(index) + 1);
        map.append("b3", HeaderValue::from_str(&value).unwrap());
        map.append(
            "tracestate",
            HeaderValue::from_str(&format!("k{index}=v")).unwrap(),
        );
        map.append("traceparent", HeaderValue::from_static("garbage"));
    }
    let remote = propagation::extract(&map).unwrap();
    assert_eq!(remote.sampling(), Sampling::Accept);
    assert_eq!(hex(remote.context().unwrap().trace_id), TRACE_64);
    // Thousands of tracestate values add up past 8 KiB: dropped whole, never parsed.
    let mut w3c = map.clone();
    w3c.insert(
        "traceparent",
        HeaderValue::from_str(&format!("00-{TRACE_128}-{SPAN}-01")).unwrap(),
    );
    let propagator = Propagator::trace_context();
    let context = *propagator.extract(&w3c).unwrap().context().unwrap();
    let mut sent = HeaderMap::new();
    propagator
        .continue_trace(&w3c, tracing::Span::none)
        .in_scope(|| propagator.inject(&context, &mut sent));
    assert!(sent.get("traceparent").is_some());
    assert!(sent.get("tracestate").is_none(), "no state is kept");
}

#[test]
fn async_handlers_continue_the_trace_across_awaits() {
    let capture = Capture::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let incoming = headers(&[("b3", format!("{TRACE_64}-{SPAN}-1").as_bytes())]);
    let outgoing = capture.in_scope(|| {
        let continuation =
            propagation::global().continue_trace(&incoming, || tracing::info_span!("handler"));
        runtime.block_on(continuation.instrument(async {
            tokio::task::yield_now().await;
            let mut outgoing = HeaderMap::new();
            tracing::info_span!("client").in_scope(|| propagation::inject(&mut outgoing));
            outgoing
        }))
    });
    let handler = capture.span("handler");
    let client = capture.span("client");
    assert_eq!(hex(handler.trace_id), TRACE_64);
    assert_eq!(client.parent_id, Some(handler.id));
    assert_eq!(
        propagation::extract(&outgoing),
        Some(Remote::Context(SpanContext {
            trace_id: handler.trace_id,
            span_id: client.id,
            parent_id: Some(handler.id),
            sampling: Sampling::Accept,
        }))
    );
}

#[traced::traced(parent = propagation::extract(headers), kind = "server", skip(headers))]
fn handle_request(headers: &HeaderMap) -> HeaderMap {
    let mut outgoing = HeaderMap::new();
    propagation::inject(&mut outgoing);
    outgoing
}

#[test]
fn extract_feeds_a_traced_function_parent_by_hand() {
    let capture = Capture::new();
    let incoming = headers(&[("b3", format!("{TRACE_64}-{SPAN}-d").as_bytes())]);
    let garbage = headers(&[("b3", b"not-a-context")]);
    let (continued, fresh) =
        capture.in_scope(|| (handle_request(&incoming), handle_request(&garbage)));
    let spans = capture.spans();
    assert_eq!(spans.len(), 2);
    let server = spans
        .iter()
        .find(|span| hex(span.trace_id) == TRACE_64)
        .unwrap();
    assert_eq!(server.parent_id.map(hex).as_deref(), Some(SPAN));
    assert!(server.debug);
    assert_eq!(
        continued["b3"],
        format!("{TRACE_64}-{}-d-{SPAN}", hex(server.id)).as_str()
    );
    let restarted = spans
        .iter()
        .find(|span| hex(span.trace_id) != TRACE_64)
        .unwrap();
    assert_eq!(restarted.parent_id, None);
    assert!(fresh["b3"]
        .to_str()
        .unwrap()
        .starts_with(&hex(restarted.trace_id)));
}

/// A handler that calls on with the Jaeger propagator: it answers the `uber-trace-id` it would
/// send to the next service.
async fn next_hop_jaeger() -> String {
    let mut outgoing = HeaderMap::new();
    if let Some(context) = traced::current_context() {
        Propagator::new(Format::ALL, [Format::Jaeger]).inject(&context, &mut outgoing);
    }
    outgoing
        .get("uber-trace-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// One request with `incoming` headers through an axum app behind our `ServerLayer` (default
/// propagator, parent-based sampling): the status, the body and the spans recorded.
fn through_server_layer(incoming: &[(&str, &str)]) -> (u16, String, Vec<SpanRecord>) {
    let app = Router::new()
        .route("/", get(next_hop_jaeger))
        .layer(ServerLayer::new().service_name("ours"));
    let mut request = Request::get("/");
    for (name, value) in incoming {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::empty()).expect("a request");
    let capture = Capture::new();
    let dispatch = capture.dispatch_with_sampler(ParentBased::new(AlwaysOn));
    let response = tracing::dispatcher::with_default(&dispatch, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let response = app.oneshot(request).await.expect("answered");
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .expect("a body");
            (status, String::from_utf8(body.to_vec()).expect("text"))
        })
    });
    (response.0, response.1, capture.spans())
}

#[test]
fn a_jaeger_client_caller_is_continued_by_the_server_layer() {
    // As jaeger-client-python sends it: unpadded ids, the caller's parent, flags in hex.
    let trace = "3ac35c9f6413ad";
    let cases = [
        ("1", Some(false), "1"),
        ("3", Some(true), "3"),
        ("2", Some(true), "3"),
        ("0", None, "0"),
        ("8", None, "0"),
    ];
    for (flags, reported, sent_flags) in cases {
        let value = format!("{trace}:{SPAN}:{PARENT}:{flags}");
        let (status, next_hop, spans) = through_server_layer(&[
            ("uber-trace-id", &value),
            ("uberctx-user", "alice"),
            ("uberctx-bad", "%zz"),
        ]);
        assert_eq!(status, 200, "{value}");
        let padded = format!("00{trace}");
        match reported {
            Some(debug) => {
                assert_eq!(spans.len(), 1, "{value}: {spans:#?}");
                let server = &spans[0];
                assert_eq!(hex(server.trace_id), padded, "{value}: the caller's trace");
                assert_eq!(
                    server.parent_id.map(hex).as_deref(),
                    Some(SPAN),
                    "{value}: a child of the caller's span"
                );
                assert_eq!(server.debug, debug, "{value}");
                assert!(
                    server.tags.iter().all(|(key, value)| {
                        !key.contains("uberctx") && value.as_str() != Some("alice")
                    }),
                    "{value}: baggage headers are not carried"
                );
                assert_eq!(
                    next_hop,
                    format!("{padded}:{}:0:{sent_flags}", hex(server.id)),
                    "{value}: the trace goes on from our span"
                );
            }
            None => {
                assert!(spans.is_empty(), "{value}: the caller's no is honoured");
                let (sent_trace, rest) = next_hop.split_once(':').expect("sent on");
                assert_eq!(sent_trace, padded, "{value}: same trace downstream");
                assert!(
                    rest.ends_with(":0:0"),
                    "{value}: not sampled downstream: {rest}"
                );
            }
        }
    }
}

#[test]
fn a_malformed_uber_trace_id_starts_a_new_trace_and_is_served() {
    for value in [
        format!("{TRACE_64}:{SPAN}:0"),
        format!("{TRACE_64}:0:0:1"),
        format!("{TRACE_64}:{SPAN}:0:1:1"),
        format!("{TRACE_64}-{SPAN}-0-1"),
        format!("{TRACE_64}:{SPAN}:0:%"),
        "garbage".to_owned(),
    ] {
        let (status, next_hop, spans) = through_server_layer(&[("uber-trace-id", &value)]);
        assert_eq!(status, 200, "{value}");
        assert_eq!(spans.len(), 1, "{value}");
        let server = &spans[0];
        assert_eq!(server.parent_id, None, "{value}: a new trace");
        assert_ne!(hex(server.trace_id), TRACE_64, "{value}");
        assert_eq!(
            next_hop,
            format!("{}:{}:0:1", hex(server.trace_id), hex(server.id)),
            "{value}"
        );
    }
}
