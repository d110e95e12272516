//! The console exporter: the waterfall's rendering (tree order, proportional bars, errors,
//! colour or plain text) and the grouping of spans into whole traces.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use traced::console::{render_trace, ConsoleExporter, RenderOptions};
use traced::export::Exporter;
use traced::model::{Annotation, Kind, SpanId, SpanRecord, TagValue, TraceId};
use tracing_subscriber::layer::SubscriberExt;

const TRACE: TraceId = TraceId(0x5f3c_8e0d_2a9b_41c7_e3f6_a8b9_c0d1_e2f3);

fn span(id: u64, parent: Option<u64>, name: &'static str, start: u64, duration: u64) -> SpanRecord {
    SpanRecord {
        trace_id: TRACE,
        id: SpanId(id),
        parent_id: parent.map(SpanId),
        name: Cow::Borrowed(name),
        timestamp_us: 1_000_000 + start,
        duration_us: duration,
        ..SpanRecord::default()
    }
}

fn plain() -> RenderOptions {
    RenderOptions::new("hello")
}

/// The span lines (without the header), as `(service, name with indentation, rest)`.
fn rows(text: &str) -> Vec<String> {
    text.lines().skip(1).map(str::to_owned).collect()
}

/// The bar between `[` and `]` on a line.
fn bar(line: &str) -> &str {
    let open = line.find('[').unwrap();
    let close = line.find(']').unwrap();
    &line[open + 1..close]
}

fn filled(bar: &str) -> (usize, usize) {
    let chars: Vec<char> = bar.chars().collect();
    let first = chars.iter().position(|c| *c == '█').unwrap();
    let last = chars.iter().rposition(|c| *c == '█').unwrap();
    (first, last + 1)
}

#[test]
fn spans_appear_in_tree_order_parents_first_children_by_start_and_indented() {
    // Given in closing order, as the layer exports them.
    let spans = vec![
        span(4, Some(2), "query", 20, 30),
        span(3, Some(1), "parse", 60, 40),
        span(2, Some(1), "load_user", 10, 45),
        span(1, None, "main", 0, 100),
    ];
    let text = render_trace(&spans, &plain());
    let names: Vec<String> = rows(&text)
        .iter()
        .map(|row| {
            let name_part = row.split('[').next().unwrap();
            name_part.trim_start_matches("hello").trim_end().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["  main", "    load_user", "      query", "    parse"],
        "\n{text}"
    );
}

#[test]
fn bars_are_proportional_on_the_trace_time_axis() {
    let spans = vec![
        span(1, None, "root", 0, 1_000),
        span(2, Some(1), "first_half", 0, 500),
        span(3, Some(1), "last_quarter", 750, 250),
        span(4, Some(1), "tiny", 100, 1),
    ];
    let text = render_trace(&spans, &plain());
    let rows = rows(&text);
    let bars: Vec<&str> = rows.iter().map(|row| bar(row)).collect();
    for bar in &bars {
        assert_eq!(
            bar.chars().count(),
            40,
            "every bar spans the same axis\n{text}"
        );
    }
    assert_eq!(filled(bars[0]), (0, 40), "\n{text}");
    assert_eq!(filled(bars[1]), (0, 20), "\n{text}");
    assert_eq!(
        filled(bars[2]),
        (4, 5),
        "a 1 µs span still shows one column\n{text}"
    );
    assert_eq!(filled(bars[3]), (30, 40), "\n{text}");
}

#[test]
fn durations_tags_kind_and_service_are_shown_compactly() {
    let mut root = span(1, None, "GET /items", 0, 12_400);
    root.kind = Some(Kind::Server);
    root.tags = vec![
        ("http.status_code".into(), TagValue::U64(200)),
        ("user".into(), TagValue::Str("Ada Lovelace".into())),
        ("blob".into(), TagValue::Str("x".repeat(500).into())),
    ]
    .into();
    let mut remote = span(2, Some(1), "stocks", 2_000, 812);
    remote.service_name = Some(Arc::from("inventory"));
    let text = render_trace(&[root, remote], &plain());
    let rows = rows(&text);
    assert!(rows[0].starts_with("hello      GET /items"), "\n{text}");
    assert!(
        rows[1].starts_with("inventory    stocks"),
        "another service shows its own name\n{text}"
    );
    assert!(rows[0].contains("12.4ms"), "\n{text}");
    assert!(rows[1].contains("812µs"), "\n{text}");
    assert!(rows[0].contains("server"), "\n{text}");
    assert!(rows[0].contains("http.status_code=200"), "\n{text}");
    assert!(rows[0].contains("user=\"Ada Lovelace\""), "\n{text}");
    assert!(
        rows[0].contains(&format!("blob={}…", "x".repeat(31))),
        "long values are cut\n{text}"
    );
    assert!(!rows[0].contains(&"x".repeat(33)), "\n{text}");
    assert!(
        text.lines().next().unwrap().contains("2 spans · 12.4ms"),
        "\n{text}"
    );
}

#[test]
fn errors_are_marked_with_their_text_and_red_only_in_colour() {
    let mut failing = span(2, Some(1), "parse", 10, 10);
    failing
        .tags
        .push(("error".into(), TagValue::Str("bad input".into())));
    let spans = vec![span(1, None, "main", 0, 100), failing];

    let text = render_trace(&spans, &plain());
    assert!(
        !text.contains('\x1b'),
        "plain text has no escape codes\n{text}"
    );
    let rows = rows(&text);
    assert!(rows[1].contains("error: bad input"), "\n{text}");
    assert!(!rows[0].contains("error"), "\n{text}");
    assert!(text.lines().next().unwrap().contains("1 error"), "\n{text}");

    let mut options = plain();
    options.color = true;
    let coloured = render_trace(&spans, &options);
    let lines: Vec<&str> = coloured.lines().collect();
    assert!(
        lines[2].contains("\x1b[31m  parse"),
        "the failing span's name is red\n{coloured:?}"
    );
    assert!(
        lines[2].contains("\x1b[31merror: bad input"),
        "{coloured:?}"
    );
    assert!(
        !lines[1].contains("\x1b[31m"),
        "the healthy span is not red\n{coloured:?}"
    );
    assert!(coloured.contains("\x1b[0m"), "colours are reset");
    // Without the escape codes, colour and plain text say the same.
    let stripped = strip_ansi(&coloured);
    assert_eq!(stripped, text);
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for end in chars.by_ref() {
                if end == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn events_follow_their_span_with_their_offset() {
    let mut root = span(1, None, "main", 0, 5_000);
    root.annotations = (0..7)
        .map(|i| Annotation::new(1_000_000 + 1_500 + i, format!("step {i} done rows=3")))
        .collect();
    let text = render_trace(&[root], &plain());
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[2]
            .trim_start()
            .starts_with("· +1.50ms step 0 done rows=3"),
        "\n{text}"
    );
    assert_eq!(
        text.matches("· +").count(),
        5,
        "at most five events per span\n{text}"
    );
    assert!(text.contains("… 2 more events"), "\n{text}");
}

#[test]
fn control_characters_in_recorded_data_cannot_reach_the_terminal() {
    let mut evil = span(1, None, "name\x1b[2Jclear", 0, 10);
    evil.tags
        .push(("k".into(), TagValue::Str("line\nbreak\x07".into())));
    evil.service_name = Some(Arc::from("svc\r"));
    let text = render_trace(&[evil], &plain());
    assert!(
        !text.contains('\x1b') && !text.contains('\x07') && !text.contains('\r'),
        "{text:?}"
    );
    assert_eq!(
        text.lines().count(),
        2,
        "one header, one span line: {text:?}"
    );
    assert!(text.contains("name\\u{1b}[2Jclear"), "{text:?}");
}

#[test]
fn orphans_and_cycles_are_still_printed_once_each() {
    let spans = vec![
        span(1, None, "root", 0, 100),
        span(2, Some(99), "orphan", 10, 10),
        span(3, Some(4), "cycle_a", 20, 10),
        span(4, Some(3), "cycle_b", 30, 10),
        span(5, Some(5), "own_parent", 40, 10),
    ];
    let text = render_trace(&spans, &plain());
    for name in ["root", "orphan", "cycle_a", "cycle_b", "own_parent"] {
        assert_eq!(text.matches(name).count(), 1, "{name}\n{text}");
    }
    assert_eq!(rows(&text).len(), 5);
}

/// A console exporter whose output the test can read.
fn recording_console() -> (ConsoleExporter, Arc<Mutex<Vec<String>>>) {
    let printed = Arc::new(Mutex::new(Vec::new()));
    let sink = printed.clone();
    let console = ConsoleExporter::with_sink(
        plain(),
        Arc::new(move |text: &str| sink.lock().unwrap().push(text.to_owned())),
    );
    (console, printed)
}

#[test]
fn a_trace_prints_once_when_its_last_open_span_closes() {
    let (console, printed) = recording_console();
    let other = TraceId(2);
    for _ in 0..3 {
        console.span_started(TRACE);
    }
    console.span_started(other);
    console.export(span(3, Some(1), "child", 5, 5));
    console.export(SpanRecord {
        trace_id: other,
        id: SpanId(9),
        name: "other".into(),
        duration_us: 3,
        ..Default::default()
    });
    assert_eq!(
        printed.lock().unwrap().len(),
        1,
        "the other trace is complete"
    );
    console.export(span(2, Some(1), "child2", 6, 5));
    assert_eq!(printed.lock().unwrap().len(), 1, "the root is still open");
    console.export(span(1, None, "root", 0, 20));
    let printed = printed.lock().unwrap();
    assert_eq!(printed.len(), 2);
    assert!(printed[1].contains("3 spans"), "{}", printed[1]);
}

#[test]
fn flush_prints_what_is_left_of_unfinished_traces() {
    let (console, printed) = recording_console();
    console.span_started(TRACE);
    console.span_started(TRACE);
    console.export(span(2, Some(1), "finished_child", 5, 5));
    assert!(printed.lock().unwrap().is_empty());
    console.flush(Duration::from_secs(1));
    {
        let printed = printed.lock().unwrap();
        assert_eq!(printed.len(), 1);
        assert!(printed[0].contains("finished_child"));
    }
    // The root closes later and is printed on its own, not lost.
    console.export(span(1, None, "late_root", 0, 20));
    let printed = printed.lock().unwrap();
    assert_eq!(printed.len(), 2);
    assert!(printed[1].contains("late_root"));
}

#[test]
fn through_the_layer_concurrent_traces_each_print_whole() {
    let (console, printed) = recording_console();
    let subscriber = tracing_subscriber::registry().with(traced::TracedLayer::new(console));
    let dispatch = tracing::Dispatch::new(subscriber);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let dispatch = dispatch.clone();
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for round in 0..5 {
                        let root = tracing::info_span!("root", thread, round);
                        root.in_scope(|| {
                            tracing::info_span!("child_a").in_scope(|| {
                                tracing::info_span!("grandchild").in_scope(|| {});
                            });
                            tracing::info_span!("child_b").in_scope(|| {
                                tracing::error!(reason = "test", "went wrong");
                            });
                        });
                    }
                });
            });
        }
    });
    let printed = printed.lock().unwrap();
    assert_eq!(printed.len(), 20, "one waterfall per trace");
    for trace in printed.iter() {
        assert!(trace.contains("4 spans · "), "{trace}");
        let order: Vec<&str> = ["root", "child_a", "grandchild", "child_b"]
            .into_iter()
            .filter(|name| trace.contains(name))
            .collect();
        assert_eq!(order.len(), 4, "{trace}");
        let position = |name: &str| trace.find(&format!(" {name} ")).unwrap();
        assert!(position("root") < position("child_a"));
        assert!(position("child_a") < position("grandchild"));
        assert!(position("grandchild") < position("child_b"));
        assert!(trace.contains("error: went wrong reason=test"), "{trace}");
    }
}

/// The whole waterfall of a small two-service trace, character for character: fixed ids,
/// timestamps and durations, so any change to the layout shows here as a diff.
#[test]
fn golden_rendering_of_a_two_service_trace() {
    let mut root = span(1, None, "GET /available", 0, 4_620);
    root.kind = Some(Kind::Server);
    root.tags = vec![
        ("http.method".into(), TagValue::Str("GET".into())),
        ("http.route".into(), TagValue::Str("/available".into())),
        ("http.status_code".into(), TagValue::U64(200)),
    ]
    .into();
    root.service_name = Some(Arc::from("catalog"));
    let mut query = span(2, Some(1), "list_items", 100, 479);
    query.kind = Some(Kind::Client);
    query.tags = vec![("db.system".into(), TagValue::Str("sqlite".into()))].into();
    query.service_name = Some(Arc::from("catalog"));
    let mut call = span(3, Some(1), "GET", 700, 3_830);
    call.kind = Some(Kind::Client);
    call.tags = vec![("http.status_code".into(), TagValue::U64(503))].into();
    call.service_name = Some(Arc::from("catalog"));
    let mut served = span(4, Some(3), "GET /stocks", 2_900, 1_060);
    served.kind = Some(Kind::Server);
    served.tags = vec![
        ("error".into(), TagValue::Str("database is locked".into())),
        ("retries".into(), TagValue::I64(-1)),
    ]
    .into();
    served.annotations = vec![Annotation::new(1_000_000 + 3_400, "lock wait".to_owned())];
    served.service_name = Some(Arc::from("inventory"));
    // In closing order, as the layer exports them.
    let text = render_trace(&[query, served, call, root], &plain());
    let expected = "\
── trace 5f3c8e0d2a9b41c7e3f6a8b9c0d1e2f3 · 4 spans · 4.62ms · 1 error ──
catalog    GET /available  [████████████████████████████████████████] 4.62ms  server  http.method=GET http.route=/available http.status_code=200
catalog      list_items    [██████                                  ]  479µs  client  db.system=sqlite
catalog      GET           [      ██████████████████████████████████] 3.83ms  client  http.status_code=503
inventory      GET /stocks [                         ██████████     ] 1.06ms  server  error: database is locked  retries=-1
                 · +500µs lock wait
";
    assert_eq!(text, expected, "\n{text}");
}
