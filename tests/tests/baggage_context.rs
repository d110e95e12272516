//! Baggage in one process: set on the current span, seen by the spans started under it — nested
//! `#[traced]` calls, across `.await`s, in spawned tasks and on other threads — never by spans
//! outside it, whether `#[traced]` calls are frames (the fast path) or tracing spans; carried
//! by unsampled traces too; copied onto spans as tags with secrets redacted.

use std::time::Duration;

use traced::model::SpanRecord;
use traced::sample::AlwaysOff;
use traced::testing::Capture;
use traced::traced;
use tracing::{Dispatch, Instrument};

/// Both ways `#[traced]` calls are recorded: frames (what `init()` sets up) and tracing spans.
fn dispatches(capture: &Capture) -> [(&'static str, Dispatch); 2] {
    [
        ("fast path", capture.dispatch_with_layer(|layer| layer)),
        (
            "tracing spans",
            capture.dispatch_with_layer(|layer| layer.fast_path(false)),
        ),
    ]
}

fn tag<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    span.tag(key).and_then(|value| value.as_str())
}

#[traced]
fn request() -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let before = lookup();
    assert!(traced::baggage::set("tenant", "acme"));
    let nested = outer();
    assert!(traced::baggage::set("tenant", "globex"));
    let replaced = lookup();
    assert!(traced::baggage::remove("tenant"));
    let removed = lookup();
    (before, nested, replaced, removed)
}

#[traced]
fn outer() -> Option<String> {
    middle()
}

#[traced]
fn middle() -> Option<String> {
    lookup()
}

#[traced]
fn lookup() -> Option<String> {
    traced::baggage::get("tenant")
}

#[test]
fn nested_traced_calls_see_their_ancestors_baggage_and_nothing_else_does() {
    for (mode, dispatch) in dispatches(&Capture::new()) {
        let seen = tracing::dispatcher::with_default(&dispatch, || {
            let seen = request();
            // A new trace after the request: its baggage stayed with its spans.
            (seen, lookup(), traced::baggage::current())
        });
        let ((before, nested, replaced, removed), after, outside) = seen;
        assert_eq!(before, None, "{mode}: not set yet");
        assert_eq!(nested.as_deref(), Some("acme"), "{mode}: three levels down");
        assert_eq!(replaced.as_deref(), Some("globex"), "{mode}");
        assert_eq!(removed, None, "{mode}");
        assert_eq!(after, None, "{mode}: a later root has none");
        assert!(outside.is_empty(), "{mode}");
    }
}

#[test]
fn spans_under_baggage_are_reported_as_always() {
    for fast_path in [true, false] {
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_layer(|layer| layer.fast_path(fast_path));
        tracing::dispatcher::with_default(&dispatch, request);
        let spans = capture.spans();
        let names: Vec<&str> = spans.iter().map(|span| &*span.name).collect();
        assert_eq!(
            names,
            ["lookup", "lookup", "middle", "outer", "lookup", "lookup", "request"],
            "fast path {fast_path}"
        );
        let root = capture.span("request");
        let outer = capture.span("outer");
        let middle = capture.span("middle");
        assert_eq!(outer.parent_id, Some(root.id));
        assert_eq!(middle.parent_id, Some(outer.id));
        assert!(spans.iter().all(|span| span.trace_id == root.trace_id));
        assert!(
            spans.iter().all(|span| span.tags.is_empty()),
            "no baggage tag unless asked"
        );
    }
}

#[traced]
async fn handle_async() -> Vec<Option<String>> {
    traced::baggage::set("user.id", "42");
    let mut seen = vec![traced::baggage::get("user.id")];
    tokio::time::sleep(Duration::from_millis(5)).await;
    // After an await, possibly on another worker thread.
    seen.push(traced::baggage::get("user.id"));
    seen.push(read_async().await);
    // A task spawned with a #[traced] future: its span was made here, under the baggage.
    seen.push(tokio::spawn(read_async()).await.unwrap());
    // A task spawned with a future instrumented with a child span.
    let span = tracing::info_span!("spawned");
    seen.push(
        tokio::spawn(async { traced::baggage::get("user.id") }.instrument(span))
            .await
            .unwrap(),
    );
    // A plain thread entering a child span.
    let span = tracing::info_span!("on a thread");
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    seen.push(
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                span.in_scope(|| traced::baggage::get("user.id"))
            })
        })
        .join()
        .unwrap(),
    );
    // Set in a child: the child's, not ours.
    child_sets().await;
    seen.push(traced::baggage::get("child.only"));
    seen
}

#[traced]
async fn read_async() -> Option<String> {
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    traced::baggage::get("user.id")
}

#[traced]
async fn child_sets() {
    traced::baggage::set("child.only", "x");
    tokio::task::yield_now().await;
    assert_eq!(traced::baggage::get("child.only").as_deref(), Some("x"));
}

#[test]
fn async_calls_carry_baggage_across_awaits_tasks_and_threads() {
    for (mode, dispatch) in dispatches(&Capture::new()) {
        let on_workers = dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                std::mem::forget(tracing::dispatcher::set_default(&on_workers));
            })
            .build()
            .unwrap();
        let seen = tracing::dispatcher::with_default(&dispatch, || {
            runtime.block_on(async { tokio::spawn(handle_async()).await.unwrap() })
        });
        let expected = [Some("42"); 6]
            .into_iter()
            .chain([None])
            .map(|value| value.map(str::to_owned))
            .collect::<Vec<_>>();
        assert_eq!(seen, expected, "{mode}");
    }
}

#[traced]
fn unsampled_request() -> (Option<String>, Option<String>, http::HeaderMap) {
    traced::baggage::set("tenant", "acme");
    let nested = outer();
    let mut headers = http::HeaderMap::new();
    traced::propagation::inject(&mut headers);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let awaited = runtime.block_on(read_tenant_after_await());
    (nested, awaited, headers)
}

#[traced]
async fn read_tenant_after_await() -> Option<String> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    traced::baggage::get("tenant")
}

#[test]
fn unsampled_traces_carry_baggage_too() {
    let capture = Capture::new();
    for dispatch in [
        capture.dispatch_with_layer(|layer| layer.sampler(AlwaysOff)),
        capture.dispatch_with_layer(|layer| layer.sampler(AlwaysOff).fast_path(false)),
    ] {
        let (nested, awaited, headers) =
            tracing::dispatcher::with_default(&dispatch, unsampled_request);
        assert_eq!(nested.as_deref(), Some("acme"));
        assert_eq!(awaited.as_deref(), Some("acme"));
        assert_eq!(headers["baggage"], "tenant=acme");
        assert!(
            headers["b3"].to_str().unwrap().ends_with("-0"),
            "{headers:?}"
        );
    }
    assert!(capture.spans().is_empty());
}

#[traced(fields(tenant = "from the span"))]
fn tagged() {
    traced::baggage::set("user.id", "42");
    traced::baggage::set("session_token", "s3cr3t");
    traced::baggage::set("tenant", "acme");
    traced::baggage::set("not.configured", "x");
    under_tagged();
}

#[traced]
fn under_tagged() {}

#[traced]
fn without_baggage() {}

#[test]
fn configured_keys_become_tags_with_secrets_redacted() {
    for fast_path in [true, false] {
        let capture = Capture::new();
        let dispatch = capture.dispatch_with_layer(|layer| {
            layer.fast_path(fast_path).baggage_tags([
                "user.id",
                "session_token",
                "tenant",
                "absent",
            ])
        });
        tracing::dispatcher::with_default(&dispatch, || {
            tagged();
            without_baggage();
        });
        let root = capture.span("tagged");
        let child = capture.span("under_tagged");
        for span in [&root, &child] {
            assert_eq!(tag(span, "user.id"), Some("42"), "{}", span.name);
            assert_eq!(
                tag(span, "session_token"),
                Some("REDACTED"),
                "{}",
                span.name
            );
            assert_eq!(span.tag("not.configured"), None);
            assert_eq!(span.tag("absent"), None);
        }
        // The span's own field wins over the baggage; its child has only the baggage.
        assert_eq!(tag(&root, "tenant"), Some("from the span"));
        assert_eq!(tag(&child, "tenant"), Some("acme"));
        assert!(capture.span("without_baggage").tags.is_empty());
        assert!(!format!("{:?}", capture.spans()).contains("s3cr3t"));
    }
}

#[test]
fn baggage_tags_come_from_the_environment_or_the_builder() {
    let capture = Capture::new();
    let (layer, _guard) = traced::setup::Builder::from_vars([
        ("TRACED_BAGGAGE_TAGS", "tenant, api_key"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ])
    .custom_exporter(capture.clone())
    .build_layer()
    .expect("the layer builds");
    let dispatch = Dispatch::new(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        layer,
    ));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("request").in_scope(|| {
            traced::baggage::set("tenant", "acme");
            traced::baggage::set("api_key", "k-123");
        })
    });
    let span = capture.span("request");
    assert_eq!(tag(&span, "tenant"), Some("acme"));
    assert_eq!(tag(&span, "api_key"), Some("REDACTED"));

    let builder = traced::setup::Builder::from_vars([("TRACED_BAGGAGE_TAGS", "bad key")]);
    assert_eq!(builder.config_errors()[0].variable, "TRACED_BAGGAGE_TAGS");
    let builder = builder.baggage_tags(["tenant"]);
    assert!(
        builder.config_errors().is_empty(),
        "the builder overrides it"
    );
    assert_eq!(builder.config().baggage_tags, ["tenant"]);
}
