//! The `console` exporter: each finished trace as a waterfall on stderr.
//!
//! ```text
//! ── trace 5f3c8e0d2a9b41c7e3f6a8b9c0d1e2f3 · 4 spans · 12.4ms ──
//! hello  main                 [████████████████████████████████████████]  12.4ms
//! hello    load_user          [██████████                              ]   3.1ms  user_id=7
//! hello      query            [  ██████                                ]   1.9ms  db.rows=1
//! hello    parse              [          ████                          ] 812µs  error: bad input
//! ```
//!
//! Spans are grouped per trace: the exporter counts the open spans of each trace and prints the
//! trace when the last one closes (and anything left over when it is flushed).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::export::{Exporter, FlushOutcome};
use crate::model::{SpanId, SpanRecord, TraceId};

/// How [`render_trace`] draws.
///
/// ```
/// use traced::console::RenderOptions;
/// let mut options = RenderOptions::new("checkout");
/// options.max_events = 3;
/// assert_eq!(options.bar_width, 40);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderOptions {
    /// ANSI colours (error spans in red).
    pub color: bool,
    /// Columns of the duration bar; the whole trace spans them.
    pub bar_width: usize,
    /// The service shown for spans that name none of their own.
    pub service_name: String,
    /// The longest tag value shown, in characters, before it is cut with `…`.
    pub max_tag_len: usize,
    /// The most events shown under one span.
    pub max_events: usize,
}

impl RenderOptions {
    /// Plain text, 40 columns of bar, for `service_name`.
    pub fn new(service_name: &str) -> RenderOptions {
        RenderOptions {
            color: false,
            bar_width: 40,
            service_name: service_name.to_lowercase(),
            max_tag_len: 32,
            max_events: 5,
        }
    }

    /// Colour when stderr is a terminal, `NO_COLOR` is unset or empty, and `TERM` is not `dumb`.
    pub fn for_stderr(service_name: &str) -> RenderOptions {
        RenderOptions {
            color: wants_color(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
            ),
            ..RenderOptions::new(service_name)
        }
    }
}

/// Whether to colour output: only on a terminal, and not when `NO_COLOR` is set to anything
/// non-empty (<https://no-color.org>) or `TERM` is `dumb`.
///
/// ```
/// use std::ffi::OsStr;
/// use traced::console::wants_color;
/// assert!(wants_color(true, None, Some(OsStr::new("xterm-256color"))));
/// assert!(!wants_color(false, None, None), "piped or redirected");
/// assert!(!wants_color(true, Some(OsStr::new("1")), None));
/// assert!(wants_color(true, Some(OsStr::new("")), None), "an empty NO_COLOR does not count");
/// assert!(!wants_color(true, None, Some(OsStr::new("dumb"))));
/// ```
pub fn wants_color(
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    let no_color = no_color.is_some_and(|value| !value.is_empty());
    let dumb = term.is_some_and(|term| term == "dumb");
    is_terminal && !no_color && !dumb
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// Indentation stops growing here, so deep trees keep their bars on screen.
const MAX_INDENT_DEPTH: usize = 16;
/// The name column never grows wider than this.
const MAX_NAME_COLUMN: usize = 48;

/// Draws one trace as a waterfall: a header, then one line per span in tree order (parents
/// before their children, children by start time, indented by depth) with the service, the
/// name, a bar on the trace's time axis, the duration, the kind, the error and the tags; events
/// follow their span as `· +offset text` lines.
///
/// Spans whose parent is not in `spans` are drawn as roots. Names and values are escaped, so
/// control characters in recorded data cannot drive the terminal.
///
/// ```
/// use traced::console::{render_trace, RenderOptions};
/// use traced::model::{SpanId, SpanRecord};
///
/// let root = SpanRecord { id: SpanId(1), name: "main".into(), timestamp_us: 0, duration_us: 100, ..Default::default() };
/// let child = SpanRecord { id: SpanId(2), parent_id: Some(SpanId(1)), name: "load".into(), timestamp_us: 50, duration_us: 50, ..Default::default() };
/// let text = render_trace(&[child, root], &RenderOptions::new("app"));
/// let lines: Vec<&str> = text.lines().collect();
/// assert!(lines[1].starts_with("app  main"));
/// assert!(lines[2].starts_with("app    load"));
/// ```
pub fn render_trace(spans: &[SpanRecord], options: &RenderOptions) -> String {
    let mut out = String::new();
    if spans.is_empty() {
        return out;
    }
    let order = tree_order(spans);
    let start = spans
        .iter()
        .map(|span| span.timestamp_us)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|span| span.timestamp_us.saturating_add(span.duration_us.max(1)))
        .max()
        .unwrap_or(start);
    let total = end.saturating_sub(start).max(1);

    let services: Vec<String> = order
        .iter()
        .map(|&(index, _)| {
            let span = &spans[index];
            escape(
                span.service_name
                    .as_deref()
                    .unwrap_or(&options.service_name),
            )
        })
        .collect();
    let names: Vec<String> = order
        .iter()
        .map(|&(index, depth)| {
            let indent = "  ".repeat(depth.min(MAX_INDENT_DEPTH));
            let name = escape(&spans[index].name);
            cut(&format!("{indent}{name}"), MAX_NAME_COLUMN)
        })
        .collect();
    let service_width = services.iter().map(|s| width(s)).max().unwrap_or(0);
    let name_width = names.iter().map(|s| width(s)).max().unwrap_or(0);

    let trace_id = spans[0].trace_id;
    let errors = spans.iter().filter(|span| span.error().is_some()).count();
    let paint = Paint(options.color);
    let _ = write!(
        out,
        "{}── trace {trace_id} · {} span{} · {}",
        paint.start(DIM),
        spans.len(),
        if spans.len() == 1 { "" } else { "s" },
        human_duration(total)
    );
    if errors > 0 {
        let _ = write!(
            out,
            " · {}{errors} error{}{}",
            paint.start(RED),
            if errors == 1 { "" } else { "s" },
            paint.start(DIM)
        );
    }
    let _ = writeln!(out, " ──{}", paint.end());

    for (row, &(index, depth)) in order.iter().enumerate() {
        let span = &spans[index];
        let error = span.error();
        let (from, to) = bar_columns(span, start, total, options.bar_width);

        let _ = write!(
            out,
            "{}{}{}  ",
            paint.start(CYAN),
            pad(&services[row], service_width),
            paint.end()
        );
        let name_style = if error.is_some() { RED } else { BOLD };
        let _ = write!(
            out,
            "{}{}{} ",
            paint.start(name_style),
            pad(&names[row], name_width),
            paint.end()
        );
        out.push('[');
        out.push_str(&" ".repeat(from));
        out.push_str(paint.start(if error.is_some() { RED } else { GREEN }));
        out.push_str(&"█".repeat(to - from));
        out.push_str(paint.end());
        out.push_str(&" ".repeat(options.bar_width - to));
        out.push(']');
        let _ = write!(
            out,
            " {}{:>6}{}",
            paint.start(YELLOW),
            human_duration(span.duration_us.max(1)),
            paint.end()
        );
        if let Some(kind) = span.kind {
            let _ = write!(
                out,
                "  {}{}{}",
                paint.start(DIM),
                kind.as_zipkin().to_lowercase(),
                paint.end()
            );
        }
        if let Some(error) = error {
            let _ = write!(
                out,
                "  {}error: {}{}",
                paint.start(RED),
                cut(&escape(error), options.max_tag_len * 2),
                paint.end()
            );
        }
        let tags = span
            .tags
            .iter()
            .filter(|(key, _)| key != "error")
            .map(|(key, value)| {
                let value = cut(&escape(&value.to_string()), options.max_tag_len);
                let value = if value.is_empty() || value.contains(' ') {
                    format!("\"{value}\"")
                } else {
                    value
                };
                format!("{}={value}", escape(key))
            })
            .collect::<Vec<_>>();
        if !tags.is_empty() {
            let _ = write!(
                out,
                "  {}{}{}",
                paint.start(DIM),
                tags.join(" "),
                paint.end()
            );
        }
        out.push('\n');

        let event_indent = " ".repeat(service_width + 2 + 2 * (depth.min(MAX_INDENT_DEPTH) + 1));
        for event in span.annotations.iter().take(options.max_events) {
            let offset = event.timestamp_us.saturating_sub(span.timestamp_us);
            let _ = writeln!(
                out,
                "{event_indent}{}· +{} {}{}",
                paint.start(DIM),
                human_duration(offset),
                cut(&escape(&event.text()), options.max_tag_len * 3),
                paint.end()
            );
        }
        if span.annotations.len() > options.max_events {
            let _ = writeln!(
                out,
                "{event_indent}{}· … {} more events{}",
                paint.start(DIM),
                span.annotations.len() - options.max_events,
                paint.end()
            );
        }
    }
    out
}

/// `(index, depth)` of each span, parents before children, siblings by start time; every span
/// appears exactly once even when parent links are missing or form a cycle.
fn tree_order(spans: &[SpanRecord]) -> Vec<(usize, usize)> {
    let ids: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| (span.id, index))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (index, span) in spans.iter().enumerate() {
        match span.parent_id.and_then(|parent| ids.get(&parent)) {
            // A shared server span carries its client's id, so it cannot be its own parent.
            Some(&parent) if parent != index => children.entry(parent).or_default().push(index),
            _ => roots.push(index),
        }
    }
    let by_start = |list: &mut Vec<usize>| {
        list.sort_by_key(|&index| (spans[index].timestamp_us, spans[index].id));
    };
    by_start(&mut roots);
    for list in children.values_mut() {
        by_start(list);
    }

    let mut order = Vec::with_capacity(spans.len());
    let mut seen = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut next_roots = roots.into_iter();
    while let Some((index, depth)) = stack.pop().or_else(|| {
        next_roots
            .by_ref()
            .find(|&root| !seen[root])
            .map(|root| (root, 0))
            .or_else(|| seen.iter().position(|done| !done).map(|left| (left, 0)))
    }) {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        order.push((index, depth));
        if let Some(list) = children.get(&index) {
            stack.extend(list.iter().rev().map(|&child| (child, depth + 1)));
        }
    }
    order
}

/// The bar's first and one-past-last column: proportional to the span's place in the trace,
/// and at least one column wide.
fn bar_columns(span: &SpanRecord, start: u64, total: u64, width: usize) -> (usize, usize) {
    let width_u = width as u128;
    let total = u128::from(total);
    let offset = u128::from(span.timestamp_us.saturating_sub(start));
    let finish = offset + u128::from(span.duration_us.max(1));
    let from = ((offset * width_u) / total).min(width_u.saturating_sub(1)) as usize;
    let to = (finish * width_u).div_ceil(total).min(width_u) as usize;
    (from, to.max(from + 1).min(width.max(1)))
}

/// `812µs`, `3.14ms`, `12.4ms`, `2.50s`: three significant digits.
pub(crate) fn human_duration(micros: u64) -> String {
    fn three_digits(value: f64, unit: &str) -> String {
        if value < 10.0 {
            format!("{value:.2}{unit}")
        } else if value < 100.0 {
            format!("{value:.1}{unit}")
        } else {
            format!("{value:.0}{unit}")
        }
    }
    if micros < 1_000 {
        format!("{micros}µs")
    } else if micros < 1_000_000 {
        three_digits(micros as f64 / 1e3, "ms")
    } else {
        three_digits(micros as f64 / 1e6, "s")
    }
}

/// Escapes control characters (`\n`, `\u{1b}`…) so recorded text cannot move the cursor or
/// change colours.
fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, columns: usize) -> String {
    let mut padded = text.to_owned();
    padded.extend(std::iter::repeat_n(
        ' ',
        columns.saturating_sub(width(text)),
    ));
    padded
}

fn cut(text: &str, max_chars: usize) -> String {
    if width(text) <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn start(self, code: &'static str) -> &'static str {
        if self.0 {
            code
        } else {
            ""
        }
    }

    fn end(self) -> &'static str {
        self.start(RESET)
    }
}

/// Traces held at most, in spans, while waiting for their last span; past it the oldest open
/// trace is printed as it is, so a trace that never finishes cannot grow memory without bound.
const MAX_BUFFERED_SPANS: usize = 100_000;

/// Prints each finished trace as a waterfall on stderr (see [`render_trace`]).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use traced::console::{ConsoleExporter, RenderOptions};
///
/// let console = ConsoleExporter::new(RenderOptions::new("demo"));
/// let subscriber = tracing_subscriber::registry().with(traced::TracedLayer::new(console));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("work").in_scope(|| {});
/// }); // prints "── trace … · 1 span · …" and the span's line on stderr
/// ```
pub struct ConsoleExporter {
    options: RenderOptions,
    state: Mutex<Pending>,
    sink: Sink,
}

type Sink = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct Pending {
    traces: HashMap<TraceId, OpenTrace>,
    buffered: usize,
    sequence: u64,
}

struct OpenTrace {
    open: usize,
    spans: Vec<SpanRecord>,
    first_seen: u64,
}

impl ConsoleExporter {
    /// Prints to stderr with `options`.
    pub fn new(options: RenderOptions) -> ConsoleExporter {
        ConsoleExporter::with_sink(
            options,
            Arc::new(|text: &str| {
                // One write per trace, so concurrent traces do not interleave line by line.
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }),
        )
    }

    /// Prints to stderr, with colour when stderr is a terminal (see
    /// [`RenderOptions::for_stderr`]).
    pub fn stderr(service_name: &str) -> ConsoleExporter {
        ConsoleExporter::new(RenderOptions::for_stderr(service_name))
    }

    /// Hands each rendered trace to `sink` instead of stderr (for tests, or another stream).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use traced::console::{ConsoleExporter, RenderOptions};
    ///
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let printed = Arc::new(Mutex::new(String::new()));
    /// let into = printed.clone();
    /// let sink = Arc::new(move |text: &str| into.lock().unwrap().push_str(text));
    /// let console = ConsoleExporter::with_sink(RenderOptions::new("demo"), sink);
    /// let subscriber = tracing_subscriber::registry().with(traced::TracedLayer::new(console));
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info_span!("outer").in_scope(|| tracing::info_span!("inner").in_scope(|| {}));
    /// });
    /// let printed = printed.lock().unwrap();
    /// assert_eq!(printed.matches("── trace").count(), 1, "one trace, printed once");
    /// assert!(printed.contains("demo  outer"));
    /// assert!(printed.contains("demo    inner"));
    /// ```
    pub fn with_sink(options: RenderOptions, sink: Arc<dyn Fn(&str) + Send + Sync>) -> Self {
        ConsoleExporter {
            options,
            state: Mutex::new(Pending::default()),
            sink,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn print(&self, spans: &[SpanRecord]) {
        let text = render_trace(spans, &self.options);
        if !text.is_empty() {
            (self.sink)(&text);
        }
    }
}

impl Exporter for ConsoleExporter {
    fn span_started(&self, trace: TraceId) {
        let mut pending = self.lock();
        pending.sequence += 1;
        let sequence = pending.sequence;
        pending
            .traces
            .entry(trace)
            .or_insert_with(|| OpenTrace {
                open: 0,
                spans: Vec::new(),
                first_seen: sequence,
            })
            .open += 1;
    }

    fn export(&self, span: SpanRecord) {
        let mut ready = Vec::new();
        {
            let mut pending = self.lock();
            let trace_id = span.trace_id;
            pending.buffered += 1;
            let finished = match pending.traces.get_mut(&trace_id) {
                Some(trace) => {
                    trace.spans.push(span);
                    trace.open = trace.open.saturating_sub(1);
                    trace.open == 0
                }
                // Started before this exporter saw it: nothing to wait for.
                None => {
                    ready.push(vec![span]);
                    pending.buffered -= 1;
                    false
                }
            };
            if finished {
                if let Some(trace) = pending.traces.remove(&trace_id) {
                    pending.buffered -= trace.spans.len();
                    ready.push(trace.spans);
                }
            }
            while pending.buffered > MAX_BUFFERED_SPANS {
                let oldest = pending
                    .traces
                    .iter()
                    .filter(|(_, trace)| !trace.spans.is_empty())
                    .min_by_key(|(_, trace)| trace.first_seen)
                    .map(|(id, _)| *id);
                let Some(oldest) = oldest else { break };
                let spans = pending
                    .traces
                    .get_mut(&oldest)
                    .map(|trace| std::mem::take(&mut trace.spans))
                    .unwrap_or_default();
                pending.buffered -= spans.len();
                ready.push(spans);
            }
        }
        // Rendering and writing happen outside the lock, so other threads are not held up.
        for spans in ready {
            self.print(&spans);
        }
    }

    fn flush(&self, _timeout: Duration) -> FlushOutcome {
        let leftovers: Vec<Vec<SpanRecord>> = {
            let mut pending = self.lock();
            pending.buffered = 0;
            let mut leftovers: Vec<(u64, Vec<SpanRecord>)> = pending
                .traces
                .values_mut()
                .filter(|trace| !trace.spans.is_empty())
                .map(|trace| (trace.first_seen, std::mem::take(&mut trace.spans)))
                .collect();
            // Traces still open keep their count, so their later spans still print.
            pending.traces.retain(|_, trace| trace.open > 0);
            leftovers.sort_by_key(|(first_seen, _)| *first_seen);
            leftovers.into_iter().map(|(_, spans)| spans).collect()
        };
        for spans in leftovers {
            self.print(&spans);
        }
        FlushOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn human_durations() {
        let cases = [
            (1, "1µs"),
            (999, "999µs"),
            (1_000, "1.00ms"),
            (12_345, "12.3ms"),
            (123_456, "123ms"),
            (1_500_000, "1.50s"),
            (75_000_000, "75.0s"),
            (7_200_000_000, "7200s"),
        ];
        for (micros, text) in cases {
            assert_eq!(human_duration(micros), text);
        }
    }
}
