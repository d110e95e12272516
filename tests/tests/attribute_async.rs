//! `#[traced]` on futures: `async fn`, async methods, `#[async_trait]`, async fn in traits, and
//! functions returning `impl Future` or a boxed future.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use traced::model::TagValue;
use traced::testing::Capture;
use traced::traced;
use traced_tests::fixtures::text;

/// A current-thread runtime without timers or I/O.
fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// Runs `future` on a worker of `runtime`, so every span of the test lives in the workers'
/// subscriber (the test thread's `Capture::in_scope` would be a second registry).
/// One test of this file at a time. `tracing` caches each callsite's interest for all
/// dispatchers at once and rebuilds it whenever one is created; a span started while another
/// test creates its dispatcher can find its callsite briefly disabled (seen as a missing
/// `boxed_work` span, about once in a hundred runs under load).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn on_workers<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    future: impl Future<Output = T> + Send + 'static,
) -> T {
    runtime
        .block_on(runtime.spawn(future))
        .expect("the test's task does not panic")
}

#[traced]
async fn fetch(id: u64, delay_ms: u64) -> Result<u64, String> {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no such id".to_owned());
    }
    let doubled = id.checked_mul(2).ok_or("overflow")?;
    Ok(doubled)
}

#[traced]
async fn handler() -> u64 {
    let spawned = tokio::spawn(fetch(21, 30));
    let local = fetch(0, 1).await;
    assert!(local.is_err());
    spawned
        .await
        .expect("the task finishes")
        .expect("21 is found")
}

#[test]
fn async_spans_cover_the_whole_future_across_spawn_on_a_multi_thread_runtime() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    assert_eq!(on_workers(&runtime, async { handler().await }), 42);
    drop(runtime);

    let handler = capture.span("handler");
    let fetches: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|span| span.name == "fetch")
        .collect();
    assert_eq!(fetches.len(), 2);
    for fetch in &fetches {
        assert_eq!(
            fetch.parent_id,
            Some(handler.id),
            "the caller's span is the parent, even when spawned"
        );
        assert_eq!(fetch.trace_id, handler.trace_id);
    }
    let spawned = fetches
        .iter()
        .find(|span| span.tag("id") == Some(&TagValue::U64(21)))
        .unwrap();
    assert!(
        spawned.duration_us >= 30_000,
        "the span covers the sleep inside the future: {} us",
        spawned.duration_us
    );
    assert_eq!(spawned.error(), None);
    // Inside the caller's span; start and duration are each rounded down to microseconds.
    assert!(spawned.timestamp_us >= handler.timestamp_us);
    assert!(
        spawned.timestamp_us + spawned.duration_us
            <= handler.timestamp_us + handler.duration_us + 2
    );
    let failed = fetches
        .iter()
        .find(|span| span.tag("id") == Some(&TagValue::U64(0)))
        .unwrap();
    assert_eq!(failed.error(), Some("no such id"));
    assert_eq!(
        failed.tag("error.type").and_then(TagValue::as_str),
        Some("alloc::string::String")
    );
}

#[traced]
async fn lazy() -> u8 {
    1
}

#[test]
fn the_span_starts_at_the_call_and_closes_when_an_unpolled_future_is_dropped() {
    let _serial = serial();
    let capture = Capture::new();
    capture.in_scope(|| {
        let parent = tracing::info_span!("parent");
        let future = parent.in_scope(lazy);
        // Created under `parent`, even though it is dropped outside of it, never polled.
        drop(parent);
        assert!(capture.spans().iter().all(|span| span.name != "lazy"));
        drop(future);
    });
    let parent = capture.span("parent");
    assert_eq!(capture.span("lazy").parent_id, Some(parent.id));
}

#[traced]
async fn explode(after: u32) -> u32 {
    tokio::task::yield_now().await;
    if after > 0 {
        panic!("exploded after {after}");
    }
    after
}

#[test]
fn a_panic_during_a_poll_marks_the_span() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    let result = on_workers(&runtime, async { tokio::spawn(explode(3)).await });
    assert!(result.unwrap_err().is_panic());
    drop(runtime);
    let span = capture.span("explode");
    assert_eq!(span.error(), Some("exploded after 3"));
    assert_eq!(
        span.tag("error.type").and_then(TagValue::as_str),
        Some("panic")
    );
}

struct Store {
    prefix: String,
}

impl Store {
    #[traced]
    async fn get<'a>(&'a self, item: &str, mut retries: u8) -> &'a str {
        while retries > 0 {
            retries -= 1;
            tokio::task::yield_now().await;
        }
        if item.is_empty() {
            ""
        } else {
            &self.prefix
        }
    }

    #[traced(skip(self))]
    async fn consume(self, (left, right): (u32, u32), _: u8) -> String {
        format!("{}{}", self.prefix, left + right)
    }
}

#[test]
fn async_methods_keep_borrows_and_patterns() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    let (got, consumed) = on_workers(&runtime, async {
        let store = Store {
            prefix: "p".to_owned(),
        };
        let got = store.get("k", 2).await.to_owned();
        (got, store.consume((1, 2), 0).await)
    });
    assert_eq!(got, "p");
    assert_eq!(consumed, "p3");
    drop(runtime);
    let get = capture.span("get");
    assert_eq!(get.tag("item"), Some(&text("k")));
    assert_eq!(get.tag("retries"), Some(&TagValue::U64(2)));
    assert_eq!(get.tag("self"), None);
    let consume = capture.span("consume");
    assert_eq!(consume.tag("left"), Some(&TagValue::U64(1)));
    assert_eq!(consume.tag("right"), Some(&TagValue::U64(2)));
}

#[async_trait::async_trait]
trait Repository {
    async fn load(&self, id: u32) -> anyhow::Result<String>;

    #[traced]
    async fn load_default(&self, id: u32) -> anyhow::Result<String> {
        self.load(id).await
    }
}

struct Memory;

#[async_trait::async_trait]
impl Repository for Memory {
    #[traced(kind = "client")]
    async fn load(&self, id: u32) -> anyhow::Result<String> {
        tokio::task::yield_now().await;
        anyhow::ensure!(id != 0, "id 0 is reserved");
        Ok(format!("row {id}"))
    }
}

#[test]
fn async_trait_methods_are_traced() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    let rows = on_workers(&runtime, async {
        let repository: Box<dyn Repository + Send + Sync> = Box::new(Memory);
        let first = repository.load_default(4).await.unwrap();
        let second = repository.load(0).await.unwrap_err().to_string();
        (first, second)
    });
    drop(runtime);
    assert_eq!(rows, ("row 4".to_owned(), "id 0 is reserved".to_owned()));
    let default = capture.span("load_default");
    let loads: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|span| span.name == "load")
        .collect();
    assert_eq!(loads.len(), 2);
    let nested = loads
        .iter()
        .find(|span| span.tag("id") == Some(&TagValue::U64(4)))
        .unwrap();
    assert_eq!(nested.parent_id, Some(default.id));
    assert_eq!(nested.kind, Some(traced::model::Kind::Client));
    let failed = loads
        .iter()
        .find(|span| span.tag("id") == Some(&TagValue::U64(0)))
        .unwrap();
    assert_eq!(failed.error(), Some("id 0 is reserved"));
    assert_eq!(
        failed.tag("error.type").and_then(TagValue::as_str),
        Some("anyhow::Error")
    );
}

trait Native {
    fn base(&self) -> u32;

    #[traced]
    async fn scaled(&self, factor: u32) -> u32 {
        tokio::task::yield_now().await;
        self.base() * factor
    }

    async fn shifted(&self, by: u32) -> u32;
}

struct Seven;

impl Native for Seven {
    fn base(&self) -> u32 {
        7
    }

    #[traced]
    async fn shifted(&self, by: u32) -> u32 {
        self.scaled(1).await + by
    }
}

#[test]
fn native_async_fn_in_traits_is_traced() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    assert_eq!(on_workers(&runtime, async { Seven.shifted(3).await }), 10);
    drop(runtime);
    let shifted = capture.span("shifted");
    assert_eq!(capture.span("scaled").parent_id, Some(shifted.id));
    assert_eq!(shifted.tag("by"), Some(&TagValue::U64(3)));
}

#[traced]
fn spawn_work(input: u32) -> impl Future<Output = Result<u32, std::num::TryFromIntError>> + Send {
    let prepared = input + 1;
    async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let small = u8::try_from(prepared)?;
        Ok(u32::from(small))
    }
}

#[traced(name = "boxed_work")]
fn boxed(input: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        input * 3
    })
}

#[test]
fn functions_returning_futures_trace_the_future_they_return() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(2);
    let (ok, failed, tripled) = on_workers(&runtime, async {
        let ok = tokio::spawn(spawn_work(5)).await.unwrap();
        let failed = spawn_work(300).await;
        (ok, failed, boxed(2).await)
    });
    drop(runtime);
    assert_eq!(ok, Ok(6));
    assert!(failed.is_err());
    assert_eq!(tripled, 6);
    let spans = capture.spans();
    let work: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "spawn_work")
        .collect();
    assert_eq!(work.len(), 2);
    let good = work
        .iter()
        .find(|span| span.tag("input") == Some(&TagValue::U64(5)))
        .unwrap();
    assert!(
        good.duration_us >= 20_000,
        "covers the sleep: {} us",
        good.duration_us
    );
    assert_eq!(good.error(), None);
    let bad = work
        .iter()
        .find(|span| span.tag("input") == Some(&TagValue::U64(300)))
        .unwrap();
    assert_eq!(
        bad.error(),
        Some("out of range integral type conversion attempted")
    );
    assert_eq!(
        capture.span("boxed_work").tag("input"),
        Some(&TagValue::U64(2))
    );
}

/// A tower-style service: synchronous work on `&mut self`, then a `'static` boxed future.
struct Counter {
    calls: u32,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl Counter {
    #[traced(kind = "server")]
    fn call(&mut self, request: String) -> BoxFuture<Result<usize, String>> {
        self.calls += 1;
        let calls = self.calls;
        Box::pin(async move {
            tokio::task::yield_now().await;
            if request.is_empty() {
                return Err(format!("empty request #{calls}"));
            }
            Ok(request.len())
        })
    }
}

#[test]
fn service_call_traces_the_sync_part_and_the_returned_future() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    let (first, second) = on_workers(&runtime, async {
        let mut service = Counter { calls: 0 };
        // Both calls happen before either future runs, as a tower server may do.
        let (first, second) = (service.call("abc".to_owned()), service.call(String::new()));
        let second = tokio::spawn(second);
        (first.await, second.await.unwrap())
    });
    assert_eq!(first, Ok(3));
    assert_eq!(second, Err("empty request #2".to_owned()));
    drop(runtime);
    let spans = capture.spans();
    assert_eq!(spans.len(), 2);
    assert!(spans
        .iter()
        .all(|span| span.kind == Some(traced::model::Kind::Server)));
    let failed = spans
        .iter()
        .find(|span| span.tag("request") == Some(&text("")))
        .unwrap();
    assert_eq!(failed.error(), Some("empty request #2"));
}

#[test]
fn without_a_subscriber_futures_behave_the_same() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(fetch(2, 0)), Ok(4));
    assert_eq!(runtime.block_on(fetch(0, 0)), Err("no such id".to_owned()));
    assert_eq!(runtime.block_on(spawn_work(1)), Ok(2));
    assert_eq!(runtime.block_on(boxed(1)), 3);
    let panicked = runtime.block_on(async { tokio::spawn(explode(1)).await });
    assert!(panicked.unwrap_err().is_panic());
    let unwound = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(explode(2))));
    assert!(unwound.is_err());
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[traced(fields(label_len = label.as_ref().len()))]
async fn generic_work<T, L>(value: T, label: L, _guard: DropFlag, extra: impl Into<u64>) -> String
where
    T: std::fmt::Debug + Send,
    L: AsRef<str> + Send,
{
    tokio::task::yield_now().await;
    format!("{}:{value:?}:{}", label.as_ref(), extra.into())
}

#[derive(Debug)]
struct Session {
    id: u64,
}

impl Session {
    #[traced(fields(owner = self.id))]
    async fn boxed(self: Box<Self>, step: u8) -> u64 {
        tokio::task::yield_now().await;
        self.id + u64::from(step)
    }

    #[traced]
    async fn shared(self: Arc<Self>) -> u64 {
        self.id
    }

    #[traced]
    async fn advance(mut self, by: u64) -> Self {
        self.id += by;
        self
    }
}

#[test]
fn async_generics_receivers_and_argument_lifetimes() {
    let _serial = serial();
    let capture = Capture::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let (output, before_poll, total) = capture.in_scope(move || {
        let future = generic_work(vec![1u8], "lbl", DropFlag(Arc::clone(&flag)), 7u32);
        // An `async fn` keeps every argument, used or not, until it completes.
        let before_poll = flag.load(Ordering::SeqCst);
        let runtime = current_thread_runtime();
        let output = runtime.block_on(future);
        let total = runtime.block_on(async {
            let boxed = Box::new(Session { id: 1 }).boxed(2).await;
            let shared = Arc::new(Session { id: 10 }).shared().await;
            let advanced = Session { id: 100 }.advance(5).await;
            boxed + shared + advanced.id
        });
        (output, before_poll, total)
    });
    assert_eq!(output, "lbl:[1]:7");
    assert!(!before_poll, "the unused argument lives in the future");
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(total, 3 + 10 + 105);
    let span = capture.span("generic_work");
    assert_eq!(span.tag("value"), Some(&text("[1]")));
    assert_eq!(span.tag("label"), Some(&text("lbl")));
    assert_eq!(span.tag("label_len"), Some(&TagValue::U64(3)));
    assert_eq!(
        span.tag("extra"),
        None,
        "`impl Into<u64>` allows no formatting"
    );
    assert_eq!(capture.span("boxed").tag("owner"), Some(&TagValue::U64(1)));
    assert_eq!(capture.span("advance").tag("by"), Some(&TagValue::U64(5)));
    assert_eq!(capture.span("shared").error(), None);
}

/// Like `futures::FutureExt::boxed`.
trait Boxed: Future + Sized + Send + 'static {
    fn boxed(self) -> BoxFuture<Self::Output> {
        Box::pin(self)
    }
}

impl<F: Future + Send + 'static> Boxed for F {}

#[traced]
fn via_boxed(x: u8) -> BoxFuture<u8> {
    async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        x + 1
    }
    .boxed()
}

#[test]
fn an_async_block_boxed_with_a_method_is_traced_too() {
    let _serial = serial();
    let capture = Capture::new();
    let runtime = capture.multi_thread_runtime(1);
    assert_eq!(on_workers(&runtime, async { via_boxed(1).await }), 2);
    drop(runtime);
    let span = capture.span("via_boxed");
    assert!(
        span.duration_us >= 5_000,
        "covers the sleep: {} us",
        span.duration_us
    );
}

#[traced(ret, err(Debug), parent = None, fields(request.id = id))]
async fn answer(id: u64) -> Result<u64, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("zero".to_owned());
    }
    Ok(id * 10)
}

#[test]
fn options_on_async_functions() {
    let _serial = serial();
    let capture = Capture::new();
    capture.in_scope(|| {
        let runtime = current_thread_runtime();
        let _outer = tracing::info_span!("outer").entered();
        assert_eq!(runtime.block_on(answer(4)), Ok(40));
        assert!(runtime.block_on(answer(0)).is_err());
    });
    let spans: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|span| span.name == "answer")
        .collect();
    assert_eq!(spans.len(), 2);
    assert!(
        spans.iter().all(|span| span.parent_id.is_none()),
        "parent = None makes roots"
    );
    let ok = spans
        .iter()
        .find(|span| span.tag("request.id") == Some(&TagValue::U64(4)))
        .unwrap();
    assert_eq!(ok.tag("return"), Some(&text("Ok(40)")));
    let failed = spans
        .iter()
        .find(|span| span.tag("request.id") == Some(&TagValue::U64(0)))
        .unwrap();
    assert_eq!(
        failed.error(),
        Some("\"zero\""),
        "err(Debug) formats with Debug"
    );
}

#[traced]
async fn two_numbers(a: u64, b: i32) -> u64 {
    a + b as u64
}

#[traced]
async fn numbers_around_text(a: u64, name: &str, b: bool) -> usize {
    tokio::task::yield_now().await;
    a as usize + name.len() + usize::from(b)
}

#[traced]
async fn three_numbers(a: u64, b: u64, c: f64) -> f64 {
    (a + b) as f64 * c
}

/// The span's argument tags, in order.
fn argument_tags(span: &traced::model::SpanRecord, names: &[&str]) -> Vec<(String, TagValue)> {
    span.tags
        .iter()
        .filter(|(key, _)| names.contains(&key.as_ref()))
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect()
}

#[test]
fn async_arguments_are_tags_in_order_whatever_their_kind_and_whenever_the_future_ends() {
    let _serial = serial();
    let capture = Capture::new();
    capture.in_scope(|| {
        let runtime = current_thread_runtime();
        let _outer = tracing::info_span!("outer").entered();
        assert_eq!(runtime.block_on(two_numbers(40, 2)), 42);
        // Never polled: the span still closes, with its arguments.
        drop(two_numbers(7, -1));
        assert_eq!(runtime.block_on(numbers_around_text(1, "four", true)), 6);
        assert_eq!(runtime.block_on(three_numbers(1, 2, 0.5)), 1.5);
    });
    let spans = capture.spans();
    let named = |name: &str| -> Vec<&traced::model::SpanRecord> {
        spans.iter().filter(|span| span.name == name).collect()
    };
    let two = named("two_numbers");
    assert_eq!(
        two.len(),
        2,
        "the polled and the dropped future each close their span"
    );
    assert_eq!(
        argument_tags(two[0], &["a", "b"]),
        vec![
            ("a".into(), TagValue::U64(40)),
            ("b".into(), TagValue::I64(2))
        ]
    );
    assert_eq!(
        argument_tags(two[1], &["a", "b"]),
        vec![
            ("a".into(), TagValue::U64(7)),
            ("b".into(), TagValue::I64(-1))
        ]
    );
    assert_eq!(
        argument_tags(named("numbers_around_text")[0], &["a", "name", "b"]),
        vec![
            ("a".into(), TagValue::U64(1)),
            ("name".into(), text("four")),
            ("b".into(), TagValue::Bool(true)),
        ]
    );
    assert_eq!(
        argument_tags(named("three_numbers")[0], &["a", "b", "c"]),
        vec![
            ("a".into(), TagValue::U64(1)),
            ("b".into(), TagValue::U64(2)),
            ("c".into(), TagValue::F64(0.5)),
        ]
    );
    let outer = capture.span("outer");
    assert!(
        spans
            .iter()
            .filter(|span| span.name != "outer")
            .all(|span| span.parent_id == Some(outer.id)),
        "every future is a child of the span it was called in"
    );
}

#[traced]
async fn sign_in(id: u64, password: &str, session_id: u64, tries: u8) -> bool {
    tokio::task::yield_now().await;
    id > 0 && !password.is_empty() && session_id > 0 && tries > 0
}

#[traced(fields(api_key = %"k-1", region = "eu"))]
async fn call_partner(token: String) -> usize {
    tokio::task::yield_now().await;
    token.len()
}

#[test]
fn futures_redact_secrets_as_synchronous_calls_do() {
    let _serial = serial();
    let capture = Capture::new();
    let (signed_in, length) = capture.in_scope(|| {
        let runtime = current_thread_runtime();
        (
            runtime.block_on(sign_in(7, "hunter2", 99, 3)),
            runtime.block_on(call_partner("t0k".to_owned())),
        )
    });
    assert!(signed_in);
    assert_eq!(length, 3);
    // Two typed arguments kept inline beside the redacted ones, which are text.
    let span = capture.span("sign_in");
    assert_eq!(span.tag("id"), Some(&TagValue::U64(7)));
    assert_eq!(span.tag("password"), Some(&text("REDACTED")));
    assert_eq!(span.tag("session_id"), Some(&text("REDACTED")));
    assert_eq!(span.tag("tries"), Some(&TagValue::U64(3)));
    let span = capture.span("call_partner");
    assert_eq!(span.tag("token"), Some(&text("REDACTED")));
    assert_eq!(span.tag("api_key"), Some(&text("REDACTED")));
    assert_eq!(span.tag("region"), Some(&text("eu")));
}
