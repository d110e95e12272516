//! `#[traced]` on synchronous functions: names, parents, typed tags, errors, panics, redaction.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use traced::model::{SpanRecord, TagValue};
use traced::testing::Capture;
use traced::traced;
use traced_tests::fixtures::text;

#[traced]
fn add(a: u64, b: i32, scale: f32, flag: bool, wide: u128, small: i8, size: usize) -> i64 {
    a as i64
        + b as i64
        + scale as i64
        + i64::from(flag)
        + wide as i64
        + i64::from(small)
        + size as i64
}

#[test]
fn numbers_and_bools_stay_typed() {
    let capture = Capture::new();
    let sum = capture.in_scope(|| add(2, -3, 1.5, true, 7, -1, 4));
    assert_eq!(sum, 11);
    let span = capture.span("add");
    assert_eq!(span.tag("a"), Some(&TagValue::U64(2)));
    assert_eq!(span.tag("b"), Some(&TagValue::I64(-3)));
    assert_eq!(span.tag("scale"), Some(&TagValue::F64(1.5)));
    assert_eq!(span.tag("flag"), Some(&TagValue::Bool(true)));
    assert_eq!(span.tag("wide"), Some(&TagValue::U128(7)));
    assert_eq!(span.tag("small"), Some(&TagValue::I64(-1)));
    assert_eq!(span.tag("size"), Some(&TagValue::U64(4)));
    assert_eq!(span.error(), None);
}

#[derive(Debug)]
struct Order {
    id: u32,
}

/// Implements neither `Debug` nor `AsRef<str>`.
struct Opaque;

#[traced]
fn describe(name: &str, owned: String, order: &Order, _opaque: Opaque, maybe: Option<u8>) -> usize {
    name.len() + owned.len() + order.id as usize + maybe.map_or(0, usize::from)
}

#[test]
fn strings_are_text_debug_values_are_formatted_and_the_rest_is_left_out() {
    let capture = Capture::new();
    capture.in_scope(|| describe("ab", "cd".to_owned(), &Order { id: 3 }, Opaque, Some(1)));
    let span = capture.span("describe");
    assert_eq!(span.tag("name"), Some(&text("ab")));
    assert_eq!(span.tag("owned"), Some(&text("cd")));
    assert_eq!(span.tag("order"), Some(&text("Order { id: 3 }")));
    assert_eq!(span.tag("maybe"), Some(&text("Some(1)")));
    assert_eq!(span.tag("_opaque"), None);
}

#[traced]
fn generic<T: fmt::Debug, S: AsRef<str>, N>(shown: T, label: S, hidden: N) -> usize {
    drop(hidden);
    label.as_ref().len() + format!("{shown:?}").len()
}

#[test]
fn generic_arguments_are_recorded_as_far_as_their_bounds_allow() {
    let capture = Capture::new();
    capture.in_scope(|| generic(vec![1, 2], "label", Opaque));
    let span = capture.span("generic");
    assert_eq!(span.tag("shown"), Some(&text("[1, 2]")));
    assert_eq!(span.tag("label"), Some(&text("label")));
    assert_eq!(span.tag("hidden"), None);
}

#[traced]
fn outer() -> u32 {
    inner() + 1
}

#[traced]
fn inner() -> u32 {
    1
}

#[test]
fn nested_calls_are_parent_and_child() {
    let capture = Capture::new();
    assert_eq!(capture.in_scope(outer), 2);
    let (outer, inner) = (capture.span("outer"), capture.span("inner"));
    assert_eq!(inner.parent_id, Some(outer.id));
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(outer.parent_id, None);
}

#[derive(Debug)]
struct NotFound(u32);

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no user {}", self.0)
    }
}

impl std::error::Error for NotFound {}

#[traced]
fn find(id: u32) -> Result<u32, NotFound> {
    if id == 0 {
        return Err(NotFound(id));
    }
    Ok(id)
}

#[test]
fn an_err_marks_the_span_with_display_and_type() {
    let capture = Capture::new();
    capture.in_scope(|| {
        assert!(find(0).is_err());
        assert_eq!(find(5).ok(), Some(5));
    });
    let spans = capture.spans();
    let failed = spans
        .iter()
        .find(|span| span.tag("id") == Some(&TagValue::U64(0)))
        .unwrap();
    assert_eq!(failed.error(), Some("no user 0"));
    assert_eq!(
        failed.tag("error.type").and_then(TagValue::as_str),
        Some(std::any::type_name::<NotFound>())
    );
    let fine = spans
        .iter()
        .find(|span| span.tag("id") == Some(&TagValue::U64(5)))
        .unwrap();
    assert_eq!(fine.error(), None);
    assert_eq!(fine.tag("error.type"), None);
}

#[derive(Debug)]
struct DebugOnly {
    code: i32,
}

#[traced]
fn debug_only() -> Result<(), DebugOnly> {
    Err(DebugOnly { code: 7 })
}

#[traced]
fn read_config() -> std::io::Result<String> {
    let text = std::fs::read_to_string("/definitely/not/here/traced.toml")?;
    Ok(text)
}

#[traced]
fn with_anyhow(fail: bool) -> anyhow::Result<u8> {
    if fail {
        anyhow::bail!("went wrong");
    }
    Ok(1)
}

mod shadowed {
    /// A local `Result` with one parameter, shadowing the prelude's.
    pub(crate) type Result<T> = std::result::Result<T, String>;

    #[traced::traced]
    pub(crate) fn parse(input: &str) -> Result<u32> {
        input.parse::<u32>().map_err(|error| error.to_string())
    }
}

#[test]
fn errors_without_display_use_debug_and_aliases_work() {
    let capture = Capture::new();
    capture.in_scope(|| {
        let _ = debug_only();
        let _ = read_config();
        let _ = with_anyhow(true);
        let _ = with_anyhow(false);
        let _ = shadowed::parse("x1");
    });
    assert_eq!(
        capture.span("debug_only").error(),
        Some("DebugOnly { code: 7 }")
    );
    assert_eq!(debug_only().unwrap_err().code, 7);
    let io = capture.span("read_config");
    assert!(
        io.error().unwrap().contains("No such file"),
        "{:?}",
        io.error()
    );
    assert_eq!(
        io.tag("error.type").and_then(TagValue::as_str),
        Some("std::io::error::Error")
    );
    let spans = capture.spans();
    let anyhow_spans: Vec<&SpanRecord> = spans
        .iter()
        .filter(|span| span.name == "with_anyhow")
        .collect();
    assert_eq!(anyhow_spans.len(), 2);
    let failed = anyhow_spans
        .iter()
        .find(|span| span.tag("fail") == Some(&TagValue::Bool(true)))
        .unwrap();
    assert_eq!(failed.error(), Some("went wrong"));
    assert_eq!(
        failed.tag("error.type").and_then(TagValue::as_str),
        Some("anyhow::Error")
    );
    let fine = anyhow_spans
        .iter()
        .find(|span| span.tag("fail") == Some(&TagValue::Bool(false)))
        .unwrap();
    assert_eq!(fine.error(), None);
    assert_eq!(
        capture.span("parse").error(),
        Some("invalid digit found in string")
    );
}

#[traced]
fn explode(message: &str) -> u32 {
    if !message.is_empty() {
        panic!("exploded: {message}");
    }
    0
}

#[test]
fn a_panic_marks_the_span_and_continues_unchanged() {
    let capture = Capture::new();
    let caught = capture.in_scope(|| catch_unwind(AssertUnwindSafe(|| explode("boom"))));
    let payload = caught.expect_err("the panic goes on");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("exploded: boom")
    );
    let span = capture.span("explode");
    assert_eq!(span.error(), Some("exploded: boom"));
    assert_eq!(
        span.tag("error.type").and_then(TagValue::as_str),
        Some("panic")
    );
}

struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Runs while the panic below unwinds: this traced call itself succeeds.
        assert_eq!(inner(), 1);
    }
}

#[test]
fn a_traced_call_made_while_unwinding_is_not_marked_as_failed() {
    let capture = Capture::new();
    let _ = capture.in_scope(|| {
        catch_unwind(|| {
            let _cleanup = Cleanup;
            panic!("outer failure");
        })
    });
    assert_eq!(capture.span("inner").error(), None);
}

#[traced]
fn login(user: &str, password: &str, api_token: String, auth_header: u32, session_id: u64) -> bool {
    !user.is_empty()
        && !password.is_empty()
        && !api_token.is_empty()
        && auth_header > 0
        && session_id > 0
}

#[traced(record(user, password))]
fn login_recorded(user: &str, password: &str, session: u64) -> bool {
    !user.is_empty() && !password.is_empty() && session > 0
}

#[test]
fn secrets_are_redacted_unless_recorded_explicitly() {
    let capture = Capture::new();
    capture.in_scope(|| {
        login("ann", "hunter2", "t0k".to_owned(), 1, 77);
        login_recorded("bob", "pw", 9);
    });
    let span = capture.span("login");
    assert_eq!(span.tag("user"), Some(&text("ann")));
    assert_eq!(span.tag("password"), Some(&text("REDACTED")));
    assert_eq!(span.tag("api_token"), Some(&text("REDACTED")));
    assert_eq!(span.tag("auth_header"), Some(&text("REDACTED")));
    // The same rule and marker as a URL's query (`traced::http::redact_url`).
    assert_eq!(span.tag("session_id"), Some(&text("REDACTED")));
    let span = capture.span("login_recorded");
    assert_eq!(span.tag("password"), Some(&text("pw")));
    assert_eq!(
        span.tag("session"),
        None,
        "record(...) records only the arguments it names"
    );
}

/// Asks for the current span, so the call gets a `tracing` span rather than a frame: the
/// redaction holds on that path too.
#[traced(fields(cookie = ?("a", 1), page = 2u64))]
fn login_with_span(user: &str, password: &str) -> bool {
    tracing::Span::current().is_disabled() || !user.is_empty() && !password.is_empty()
}

#[test]
fn secrets_are_redacted_in_tracing_spans_too() {
    let capture = Capture::new();
    assert!(capture.in_scope(|| login_with_span("ann", "hunter2")));
    let span = capture.span("login_with_span");
    assert_eq!(span.tag("user"), Some(&text("ann")));
    assert_eq!(span.tag("password"), Some(&text("REDACTED")));
    assert_eq!(span.tag("cookie"), Some(&text("REDACTED")));
    assert_eq!(span.tag("page"), Some(&TagValue::U64(2)));
}

#[derive(Debug)]
struct Huge(Vec<u64>);

#[traced]
fn huge(value: Huge, long: String) -> usize {
    value.0.len() + long.len()
}

#[test]
fn huge_values_are_cut_at_the_cap() {
    let capture = Capture::new();
    capture.in_scope(|| huge(Huge(vec![7; 100_000]), "é".repeat(10_000)));
    let span = capture.span("huge");
    let cap = traced::max_value_len();
    for key in ["value", "long"] {
        let value = span.tag(key).and_then(TagValue::as_str).unwrap();
        assert!(value.ends_with('…'), "{key} is cut: {value}");
        assert!(
            value.len() <= cap + '…'.len_utf8(),
            "{key} has {} bytes",
            value.len()
        );
    }
}

#[traced]
fn early(n: u32) -> Result<u32, String> {
    let checked = n.checked_sub(1).ok_or_else(|| "underflow".to_owned())?;
    if checked > 10 {
        return Ok(10);
    }
    Ok(checked)
}

#[test]
fn spans_close_on_return_and_question_mark() {
    let capture = Capture::new();
    capture.in_scope(|| {
        assert_eq!(early(0), Err("underflow".to_owned()));
        assert_eq!(early(50), Ok(10));
        assert_eq!(early(3), Ok(2));
    });
    let spans = capture.spans();
    assert_eq!(spans.len(), 3, "every exit closes the span");
    assert_eq!(spans[0].error(), Some("underflow"));
    assert_eq!(spans[1].error(), None);
}

#[test]
fn without_a_subscriber_functions_behave_the_same() {
    assert_eq!(add(2, -3, 1.5, true, 7, -1, 4), 11);
    assert_eq!(find(0).unwrap_err().0, 0);
    assert_eq!(early(50), Ok(10));
    assert_eq!(outer(), 2);
    let payload = catch_unwind(|| explode("quiet")).unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("exploded: quiet")
    );
}

/// Field values that are temporaries (a call's result, a reference to a fresh value, a sum
/// formatted with `%`), under names that may or may not be sensitive: they compile and are
/// recorded, or redacted, in both a frame and a tracing span.
#[traced(fields(
    label_len = label.len(),
    owned = &label.to_uppercase(),
    next = %(label.len() + 1),
    type_name = std::any::type_name::<u8>(),
    token_len = label.len(),
    session = &label.to_uppercase(),
    cookie = %(label.len() + 1),
))]
fn temporaries(label: &str, current: bool) -> bool {
    current && !tracing::Span::current().is_disabled() || !label.is_empty()
}

#[traced(fields(label_len = label.len(), owned = &label.to_uppercase(), secret = %(label.len() + 1)))]
fn temporaries_in_a_frame(label: &str) -> usize {
    label.len()
}

#[test]
fn field_values_may_be_temporaries() {
    let capture = Capture::new();
    capture.in_scope(|| {
        temporaries("abc", true);
        temporaries_in_a_frame("abc");
    });
    let span = capture.span("temporaries");
    assert_eq!(span.tag("label_len"), Some(&TagValue::U64(3)));
    assert_eq!(span.tag("owned"), Some(&text("ABC")));
    assert_eq!(span.tag("next"), Some(&text("4")));
    assert_eq!(span.tag("type_name"), Some(&text("u8")));
    assert_eq!(span.tag("token_len"), Some(&text("REDACTED")));
    assert_eq!(span.tag("session"), Some(&text("REDACTED")));
    assert_eq!(span.tag("cookie"), Some(&text("REDACTED")));
    let span = capture.span("temporaries_in_a_frame");
    assert_eq!(span.tag("label_len"), Some(&TagValue::U64(3)));
    assert_eq!(span.tag("owned"), Some(&text("ABC")));
    assert_eq!(span.tag("secret"), Some(&text("REDACTED")));
}
