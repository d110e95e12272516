//! The global propagator: what `extract` and `inject` use, replaced by setup from
//! `OTEL_PROPAGATORS`. One test in its own binary, since it changes process-wide state.

use http::HeaderMap;
use traced::model::{Remote, Sampling, SpanContext, SpanId, TraceId};
use traced::propagation::{self, Format, Propagator};
use traced::testing::Capture;

fn names(map: &HeaderMap) -> Vec<&str> {
    let mut names: Vec<&str> = map.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    names
}

#[test]
fn the_global_propagator_decides_what_extract_and_inject_do() {
    let context = SpanContext {
        trace_id: TraceId(0x463a_c35c_9f64_13ad),
        span_id: SpanId(0xe457_b5a2_e4d8_6bd1),
        parent_id: None,
        sampling: Sampling::Accept,
    };
    let b3 = vec![("b3", "463ac35c9f6413ad-e457b5a2e4d86bd1-1")];
    let traceparent = vec![(
        "traceparent",
        "00-0000000000000000463ac35c9f6413ad-e457b5a2e4d86bd1-01",
    )];

    assert_eq!(*propagation::global(), Propagator::default());
    let mut map = HeaderMap::new();
    propagation::global().inject(&context, &mut map);
    assert_eq!(names(&map), ["b3"]);
    assert_eq!(propagation::extract(&b3), Some(Remote::Context(context)));

    propagation::set_global(Propagator::from_otel_propagators("tracecontext").unwrap());
    assert_eq!(
        propagation::global().inject_formats(),
        &[Format::TraceContext]
    );
    assert_eq!(propagation::extract(&b3), None, "b3 is no longer read");
    assert_eq!(
        propagation::extract(&traceparent),
        Some(Remote::Context(context))
    );
    let capture = Capture::new();
    let mut map = HeaderMap::new();
    capture.in_scope(|| tracing::info_span!("call").in_scope(|| propagation::inject(&mut map)));
    assert_eq!(names(&map), ["traceparent"]);
    let call = capture.span("call");
    let sent = propagation::extract(&map).unwrap();
    assert_eq!(sent.context().map(|sent| sent.span_id), Some(call.id));

    propagation::set_global(Propagator::from_otel_propagators("b3multi, tracecontext").unwrap());
    let mut map = HeaderMap::new();
    propagation::global().inject(&context, &mut map);
    assert_eq!(
        names(&map),
        ["traceparent", "x-b3-sampled", "x-b3-spanid", "x-b3-traceid"]
    );
    assert_eq!(propagation::extract(&b3), Some(Remote::Context(context)));
}
