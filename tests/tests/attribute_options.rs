//! `#[traced(...)]` options and function shapes.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use traced::layer::TracedLayer;
use traced::model::{Kind, Remote, Sampling, SpanContext, SpanId, TagValue, TraceId};
use traced::testing::Capture;
use traced::traced;
use traced_tests::fixtures::text;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct User {
    id: u64,
}

#[traced(name = "load user", skip(cache), fields(user.id = user.id, shown = %user.id, debugged = ?user, later, also_later = tracing::field::Empty, auth_header = "Bearer x"))]
fn load(user: &User, cache: &str, limit: u32) -> u64 {
    tracing::Span::current().record("later", 5u64);
    tracing::Span::current().record("also_later", true);
    user.id + cache.len() as u64 + u64::from(limit)
}

#[test]
fn name_skip_and_fields() {
    let capture = Capture::new();
    capture.in_scope(|| load(&User { id: 3 }, "c", 1));
    let span = capture.span("load user");
    assert_eq!(span.tag("cache"), None);
    assert_eq!(span.tag("limit"), Some(&TagValue::U64(1)));
    assert_eq!(span.tag("user"), Some(&text("User { id: 3 }")));
    assert_eq!(span.tag("user.id"), Some(&TagValue::U64(3)));
    assert_eq!(span.tag("shown"), Some(&text("3")));
    assert_eq!(span.tag("debugged"), Some(&text("User { id: 3 }")));
    assert_eq!(span.tag("later"), Some(&TagValue::U64(5)));
    assert_eq!(span.tag("also_later"), Some(&TagValue::Bool(true)));
    assert_eq!(span.tag("auth_header"), Some(&text("REDACTED")));
}

#[traced(skip_all, fields(kept = a * 2))]
fn skip_everything(a: u32, b: &str) -> usize {
    a as usize + b.len()
}

#[traced(record(b))]
fn record_only(a: u32, b: &str) -> usize {
    a as usize + b.len()
}

#[test]
fn skip_all_and_record() {
    let capture = Capture::new();
    capture.in_scope(|| {
        skip_everything(1, "x");
        record_only(1, "x");
    });
    let span = capture.span("skip_everything");
    assert_eq!((span.tag("a"), span.tag("b")), (None, None));
    assert_eq!(span.tag("kept"), Some(&TagValue::U64(2)));
    let span = capture.span("record_only");
    assert_eq!((span.tag("a"), span.tag("b")), (None, Some(&text("x"))));
}

#[derive(Debug, PartialEq)]
struct Point {
    x: i32,
}

#[traced(ret)]
fn doubled(x: i32) -> Point {
    Point { x: x * 2 }
}

#[traced(ret)]
fn count(items: &[u8]) -> usize {
    items.len()
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("displayed failure")
    }
}

#[traced(err(Debug))]
fn fail_debug() -> Result<(), Failure> {
    Err(Failure)
}

#[traced(err(Display), ret)]
fn fail_display(fail: bool) -> Result<u8, Failure> {
    if fail {
        Err(Failure)
    } else {
        Ok(4)
    }
}

#[traced(err)]
fn fail_plain() -> Result<(), Failure> {
    Err(Failure)
}

#[test]
fn ret_and_err_formats() {
    let capture = Capture::new();
    capture.in_scope(|| {
        doubled(2);
        count(&[1, 2, 3]);
        let _ = fail_debug();
        let _ = fail_display(true);
        let _ = fail_plain();
    });
    assert_eq!(
        capture.span("doubled").tag("return"),
        Some(&text("Point { x: 4 }"))
    );
    assert_eq!(capture.span("count").tag("return"), Some(&TagValue::U64(3)));
    assert_eq!(capture.span("fail_debug").error(), Some("Failure"));
    let display = capture.span("fail_display");
    assert_eq!(display.error(), Some("displayed failure"));
    assert_eq!(display.tag("return"), Some(&text("Err(Failure)")));
    assert_eq!(
        capture.span("fail_plain").error(),
        Some("displayed failure")
    );
    capture.clear();
    capture.in_scope(|| fail_display(false)).unwrap();
    let span = capture.span("fail_display");
    assert_eq!(span.tag("return"), Some(&text("Ok(4)")));
    assert_eq!(span.error(), None);
}

#[traced(level = "debug", target = "quiet::module")]
fn quiet() -> u8 {
    1
}

#[traced(level = "trace")]
fn very_quiet() -> u8 {
    2
}

#[traced(level = "error", kind = "producer")]
fn loud() -> u8 {
    3
}

#[test]
fn level_and_target_filter_the_span_but_never_the_call() {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;

    let capture = Capture::new();
    let subscriber = tracing_subscriber::registry()
        .with(TracedLayer::new(capture.clone()))
        .with(
            Targets::new()
                .with_target("quiet", LevelFilter::OFF)
                .with_default(LevelFilter::DEBUG),
        );
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!((quiet(), very_quiet(), loud()), (1, 2, 3));
    });
    let names: Vec<_> = capture.spans().into_iter().map(|span| span.name).collect();
    assert_eq!(names, ["loud"]);
    assert_eq!(capture.span("loud").kind, Some(Kind::Producer));

    let capture = Capture::new();
    capture.in_scope(quiet);
    assert_eq!(
        capture.span("quiet").name,
        "quiet",
        "no filter: the debug span is kept"
    );
}

#[traced(parent = None)]
fn root() {}

#[traced(parent = parent)]
fn under(parent: &tracing::Span) {
    let _ = parent;
}

#[traced(parent = remote, kind = "server")]
fn handle(remote: Option<Remote>) {
    let _ = remote;
}

#[traced(parent = context)]
fn handle_context(context: SpanContext) {
    let _ = context;
}

#[test]
fn parents_local_and_remote() {
    let capture = Capture::new();
    let caller = SpanContext {
        trace_id: TraceId(0xabc),
        span_id: SpanId(0x11),
        parent_id: None,
        sampling: Sampling::Accept,
    };
    capture.in_scope(|| {
        let other = tracing::info_span!("other");
        tracing::info_span!("current").in_scope(|| {
            root();
            under(&other);
            handle(Some(Remote::Context(caller)));
            handle(None);
            handle_context(caller);
        });
    });
    assert_eq!(capture.span("root").parent_id, None);
    assert_eq!(
        capture.span("under").parent_id,
        Some(capture.span("other").id)
    );
    let handled: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|span| span.name == "handle")
        .collect();
    assert_eq!(handled.len(), 2);
    let continued = handled
        .iter()
        .find(|span| span.trace_id == TraceId(0xabc))
        .unwrap();
    assert_eq!(continued.parent_id, Some(SpanId(0x11)));
    assert_eq!(continued.kind, Some(Kind::Server));
    let fresh = handled
        .iter()
        .find(|span| span.trace_id != TraceId(0xabc))
        .unwrap();
    assert_eq!(fresh.parent_id, None);
    let context = capture.span("handle_context");
    assert_eq!(
        (context.trace_id, context.parent_id),
        (TraceId(0xabc), Some(SpanId(0x11)))
    );
}

/// Sees `follows_from` links, which Zipkin has no field for.
#[derive(Clone, Default)]
struct Links(Arc<Mutex<Vec<(String, String)>>>);

impl<S> tracing_subscriber::Layer<S> for Links
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let name = |id| {
            ctx.span(id)
                .map(|span| span.name().to_owned())
                .unwrap_or_default()
        };
        self.0.lock().unwrap().push((name(span), name(follows)));
    }
}

#[traced(follows_from = [cause])]
fn follow(cause: &tracing::Span) {
    let _ = cause;
}

#[traced(follows_from = causes, skip(causes))]
fn follow_all(causes: &[tracing::Id]) {
    let _ = causes;
}

#[test]
fn follows_from_links_the_span() {
    let links = Links::default();
    let subscriber = tracing_subscriber::registry().with(links.clone());
    tracing::subscriber::with_default(subscriber, || {
        let cause = tracing::info_span!("cause");
        follow(&cause);
        let first = tracing::info_span!("first");
        let second = tracing::info_span!("second");
        let ids: Vec<tracing::Id> = [&first, &second]
            .iter()
            .filter_map(|span| span.id())
            .collect();
        follow_all(&ids);
    });
    assert_eq!(
        *links.0.lock().unwrap(),
        [
            ("follow".to_owned(), "cause".to_owned()),
            ("follow_all".to_owned(), "first".to_owned()),
            ("follow_all".to_owned(), "second".to_owned())
        ]
    );
}

#[derive(Debug)]
struct Service {
    hits: u32,
}

impl Service {
    #[traced(record(self))]
    fn by_ref(&self) -> u32 {
        self.hits
    }

    #[traced]
    fn by_mut(&mut self) -> &mut u32 {
        self.hits += 1;
        &mut self.hits
    }

    #[traced]
    fn by_box(self: Box<Self>) -> u32 {
        self.hits
    }

    #[traced]
    fn by_arc(self: Arc<Self>) -> u32 {
        self.hits
    }

    #[traced]
    fn by_pin(self: Pin<&mut Self>) -> u32 {
        self.hits
    }

    #[traced]
    fn by_value(self) -> u32 {
        self.hits
    }
}

#[test]
fn every_receiver() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let mut service = Service { hits: 0 };
        *service.by_mut() += 10;
        assert_eq!(service.by_ref(), 11);
        assert_eq!(Pin::new(&mut service).by_pin(), 11);
        assert_eq!(Arc::new(Service { hits: 2 }).by_arc(), 2);
        assert_eq!(Box::new(Service { hits: 3 }).by_box(), 3);
        assert_eq!(service.by_value(), 11);
    });
    let names: Vec<_> = capture.spans().into_iter().map(|span| span.name).collect();
    assert_eq!(
        names,
        ["by_mut", "by_ref", "by_pin", "by_arc", "by_box", "by_value"]
    );
    assert_eq!(
        capture.span("by_ref").tag("self"),
        Some(&text("Service { hits: 11 }"))
    );
    assert_eq!(capture.span("by_mut").tag("self"), None);
}

#[traced]
fn shapes<'a, T: Into<u64> + Copy + std::fmt::Debug, F, const N: usize>(
    items: &'a [T; N],
    (first, second): (u8, u8),
    mut counter: u32,
    _: u8,
    closure: F,
    label: impl AsRef<str>,
) -> u64
where
    F: Fn(u64) -> u64,
{
    // An explicit lifetime is one of the shapes under test; clippy sees through `#[traced]`.
    #![allow(clippy::needless_range_loop, clippy::needless_lifetimes)]
    const OFFSET: u64 = 1;
    fn helper(value: u64) -> u64 {
        value + OFFSET
    }
    counter += 1;
    let sum: u64 = items.iter().map(|item| (*item).into()).sum();
    let total = sum + u64::from(first) + u64::from(second) + u64::from(counter);
    closure(helper(total)) + label.as_ref().len() as u64
}

/// # Safety
/// `pointer` must be valid to read.
#[traced]
unsafe fn read(pointer: *const u32) -> u32 {
    // SAFETY: the caller guarantees `pointer` is valid to read.
    unsafe { *pointer }
}

#[traced]
extern "C" fn exported(value: i32) -> i32 {
    value + 1
}

#[traced]
#[track_caller]
fn caller_location() -> u32 {
    std::panic::Location::caller().line()
}

#[traced]
#[track_caller]
fn checked_parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[traced]
fn diverges(message: &str) -> ! {
    panic!("{message}")
}

#[test]
fn other_shapes() {
    let capture = Capture::new();
    capture.in_scope(|| {
        assert_eq!(
            shapes(&[1u8, 2], (3, 4), 0, 9, |x| x * 2, "ab"),
            (3 + 7 + 1 + 1) * 2 + 2
        );
        let value = 7;
        // SAFETY: `&value` points at a live `u32`.
        assert_eq!(unsafe { read(&value) }, 7);
        assert_eq!(exported(1), 2);
        let (line, reported) = (line!(), caller_location());
        assert_eq!(reported, line, "#[track_caller] still reports the caller");
        let _ = std::panic::catch_unwind(|| diverges("never returns"));
        assert!(checked_parse("x").is_err());
    });
    let span = capture.span("shapes");
    assert_eq!(span.tag("items"), Some(&text("[1, 2]")));
    assert_eq!(span.tag("first"), Some(&TagValue::U64(3)));
    assert_eq!(span.tag("second"), Some(&TagValue::U64(4)));
    assert_eq!(span.tag("counter"), Some(&TagValue::U64(0)));
    assert_eq!(span.tag("label"), Some(&text("ab")));
    assert_eq!(span.tag("closure"), None);
    let pointer = capture.span("read").tag("pointer").cloned();
    assert!(
        pointer
            .as_ref()
            .and_then(TagValue::as_str)
            .is_some_and(|text| text.starts_with("0x")),
        "{pointer:?}"
    );
    assert_eq!(
        capture.span("exported").tag("value"),
        Some(&TagValue::I64(1))
    );
    assert_eq!(capture.span("caller_location").error(), None);
    assert_eq!(capture.span("diverges").error(), Some("never returns"));
    assert_eq!(
        capture.span("checked_parse").error(),
        Some("invalid digit found in string"),
        "#[track_caller] functions record their errors too"
    );
}

#[traced]
fn configured(#[cfg(not(test))] never: u8, #[cfg(test)] always: u8) -> u8 {
    always
}

#[traced]
async fn configured_async(#[cfg(not(test))] never: u8, #[cfg(test)] always: u8) -> u8 {
    always
}

#[test]
fn parameters_under_cfg_are_kept_out_of_the_span() {
    let capture = Capture::new();
    capture.in_scope(|| {
        assert_eq!(configured(1), 1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(configured_async(2)), 2);
    });
    assert_eq!(capture.span("configured").tag("always"), None);
    assert_eq!(capture.span("configured_async").tag("always"), None);
}

const COMPUTED_NAME: &str = "order.id";

#[traced(fields({COMPUTED_NAME} = 42_u64, otel.kind = "server"))]
fn computed_and_conventional() {}

#[traced(fields(error = tracing::field::Empty))]
fn fails_by_hand() {
    tracing::Span::current().record("error", "failed by hand");
}

#[test]
fn computed_names_and_the_names_tracing_users_give_their_fields() {
    let capture = traced::testing::Capture::new();
    capture.in_scope(|| {
        computed_and_conventional();
        fails_by_hand();
    });
    let span = capture.span("computed_and_conventional");
    assert_eq!(span.tag("order.id"), Some(&TagValue::U64(42)));
    assert_eq!(span.kind, Some(traced::model::Kind::Server));
    assert_eq!(
        capture.span("fails_by_hand").error(),
        Some("failed by hand")
    );
}
