//! `#[tracing::instrument]`'s spellings mean under `#[traced]` what they mean there: the span's
//! level in every spelling, names and targets given as constants or a bare string, `err` and
//! `ret` recorded only when their own level is enabled, `%name` / `?name` field shorthands.
//! (That each spelling compiles is `ui-tests/pass/instrument_grammar.rs`.)
//!
//! One test: `level = ` of `err` and `ret`, like `tracing::instrument`'s events, follows the
//! process's maximum level, which concurrent tests with other subscribers would change.

use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use traced::model::{SpanRecord, TagValue};
use traced::testing::Capture;
use traced::{traced, TracedLayer};
use traced_tests::fixtures::text;

const QUIET: Level = Level::DEBUG;
const SPAN_NAME: &str = "named by a constant";
const SPAN_TARGET: &str = "grammar::muted";

#[traced(level = "DEBUG")]
fn debug_upper() {}

#[traced(level = "Debug")]
fn debug_capitalised() {}

#[traced(level = 2)]
fn debug_number() {}

#[traced(level = Level::DEBUG)]
fn debug_const() {}

#[traced(level = tracing::Level::DEBUG)]
fn debug_path() {}

#[traced(level = QUIET)]
fn debug_user_const() {}

#[traced(level = 3)]
fn info_number() {}

#[traced(level = "WARN")]
fn warn_upper() {}

#[traced(level = 4)]
fn warn_number() {}

#[traced(level = Level::WARN)]
fn warn_const() {}

fn every_level() {
    debug_upper();
    debug_capitalised();
    debug_number();
    debug_const();
    debug_path();
    debug_user_const();
    info_number();
    warn_upper();
    warn_number();
    warn_const();
}

#[traced(name = SPAN_NAME)]
fn const_named() {}

#[traced("named bare")]
fn bare_named() {}

#[traced(target = SPAN_TARGET)]
fn const_target() {}

#[traced(err(level = "debug"))]
fn err_at_debug() -> Result<(), String> {
    Err("quiet failure".to_owned())
}

#[traced(err(level = "warn", Debug))]
fn err_at_warn() -> Result<(), String> {
    Err("loud failure".to_owned())
}

#[traced(ret(level = "debug", Display))]
fn ret_at_debug() -> u8 {
    7
}

#[traced(ret(Debug, level = 4))]
fn ret_at_warn() -> &'static str {
    "seven"
}

fn outcomes() {
    let _ = err_at_debug();
    let _ = err_at_warn();
    let _ = ret_at_debug();
    let _ = ret_at_warn();
}

#[traced(fields(%label, ?point, label.len = label.len()))]
fn shorthands(label: &str, point: (u8, u8)) -> usize {
    label.len() + usize::from(point.0)
}

/// The spans `calls` records under a subscriber that keeps `filter`.
fn recorded(filter: LevelFilter, calls: impl FnOnce()) -> Vec<SpanRecord> {
    let capture = Capture::new();
    let subscriber = tracing_subscriber::registry()
        .with(TracedLayer::new(capture.clone()))
        .with(filter);
    tracing::subscriber::with_default(subscriber, calls);
    capture.spans()
}

fn names(spans: &[SpanRecord]) -> Vec<&str> {
    let mut names: Vec<&str> = spans.iter().map(|span| &*span.name).collect();
    names.sort_unstable();
    names
}

fn named<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn instrument_spellings_mean_what_they_mean_in_tracing() {
    // The span's level, in every spelling.
    let spans = recorded(LevelFilter::INFO, every_level);
    assert_eq!(
        names(&spans),
        ["info_number", "warn_const", "warn_number", "warn_upper"]
    );
    let spans = recorded(LevelFilter::WARN, every_level);
    assert_eq!(names(&spans), ["warn_const", "warn_number", "warn_upper"]);
    let spans = recorded(LevelFilter::DEBUG, every_level);
    assert_eq!(spans.len(), 10, "{:?}", names(&spans));

    // `err(level = ..)` and `ret(level = ..)`: recorded when that level is enabled.
    let spans = recorded(LevelFilter::INFO, outcomes);
    assert_eq!(named(&spans, "err_at_debug").error(), None);
    assert_eq!(
        named(&spans, "err_at_warn").error(),
        Some("\"loud failure\"")
    );
    assert_eq!(named(&spans, "ret_at_debug").tag("return"), None);
    assert_eq!(
        named(&spans, "ret_at_warn").tag("return"),
        Some(&text("\"seven\""))
    );
    let spans = recorded(LevelFilter::DEBUG, outcomes);
    assert_eq!(named(&spans, "err_at_debug").error(), Some("quiet failure"));
    assert_eq!(
        named(&spans, "ret_at_debug").tag("return"),
        Some(&text("7"))
    );

    // Names and targets as constants, or a bare string.
    let capture = Capture::new();
    let subscriber = tracing_subscriber::registry()
        .with(TracedLayer::new(capture.clone()))
        .with(
            Targets::new()
                .with_target(SPAN_TARGET, LevelFilter::OFF)
                .with_default(LevelFilter::TRACE),
        );
    tracing::subscriber::with_default(subscriber, || {
        const_named();
        bare_named();
        const_target();
    });
    assert_eq!(
        names(&capture.spans()),
        ["named bare", "named by a constant"],
        "the constant target is the one filtered out"
    );

    // `%name` and `?name`: the variable, formatted.
    let capture = Capture::new();
    assert_eq!(capture.in_scope(|| shorthands("ab", (3, 4))), 5);
    let span = capture.span("shorthands");
    assert_eq!(span.tag("label"), Some(&text("ab")));
    assert_eq!(span.tag("point"), Some(&text("(3, 4)")));
    assert_eq!(span.tag("label.len"), Some(&TagValue::U64(2)));
}
