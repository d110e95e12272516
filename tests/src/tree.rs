//! Assertions on the shape of received traces: one tree per trace, parents that resolve, and a
//! compact text rendering for failure messages.
//!
//! A SERVER span with `shared: true` carries the id of the CLIENT span that called it (B3's
//! single-span RPC model). Both are one node here: the server side's children hang under the
//! same id, and Zipkin's UI shows them merged too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::span::ReceivedSpan;

/// Spans grouped by trace id (ordered by trace id).
///
/// ```
/// use traced_tests::{tree, ReceivedSpan};
/// let span = |t: &str, id: &str| ReceivedSpan { trace_id: t.into(), id: id.into(), ..Default::default() };
/// let groups = tree::by_trace(&[span("aa", "1"), span("bb", "2"), span("aa", "3")]);
/// assert_eq!(groups.len(), 2);
/// assert_eq!(groups["aa"].len(), 2);
/// ```
pub fn by_trace(spans: &[ReceivedSpan]) -> BTreeMap<String, Vec<ReceivedSpan>> {
    let mut groups: BTreeMap<String, Vec<ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        groups
            .entry(span.trace_id.clone())
            .or_default()
            .push(span.clone());
    }
    groups
}

/// One span id in the tree: the span, plus a shared SERVER span joined to it if any.
#[derive(Debug, Clone)]
struct Node {
    /// The span that owns the id (the non-shared one when both sides were received).
    main: ReceivedSpan,
    /// SERVER spans with `shared: true` and the same id.
    shared: Vec<ReceivedSpan>,
    children: Vec<String>,
}

/// A trace whose spans form exactly one tree.
#[derive(Debug, Clone)]
pub struct TraceTree {
    trace_id: String,
    root: String,
    nodes: BTreeMap<String, Node>,
}

/// Checks that `spans` form one tree and returns it; panics with a rendering of what was received
/// otherwise.
///
/// The rules: every span has the same trace id; exactly one root, which either has no `parentId`
/// or has a parent outside the set (a remote caller that reported elsewhere); every other
/// `parentId` resolves to a received span; no cycles; a span id appears once, except a CLIENT span
/// and the `shared` SERVER span that joined it.
///
/// ```
/// use traced_tests::{tree, ReceivedSpan};
/// let span = |id: &str, parent: Option<&str>, name: &str| ReceivedSpan {
///     trace_id: "aaaaaaaaaaaaaaaa".into(),
///     id: id.into(),
///     parent_id: parent.map(Into::into),
///     name: Some(name.into()),
///     ..Default::default()
/// };
/// let spans = [span("01", None, "root"), span("02", Some("01"), "a"), span("03", Some("02"), "b")];
/// let trace = tree::assert_single_tree(&spans);
/// assert_eq!(trace.find("b").unwrap().parent_id.as_deref(), Some("02"));
/// assert_eq!(trace.depth_of("03"), Some(2));
///
/// let orphan = [span("01", None, "root"), span("05", None, "other")];
/// assert!(tree::single_tree(&orphan).is_err());
/// ```
pub fn assert_single_tree(spans: &[ReceivedSpan]) -> TraceTree {
    match single_tree(spans) {
        Ok(tree) => tree,
        Err(message) => panic!("{message}"),
    }
}

/// Checks that the spans of every trace form one tree each; returns the trees ordered by their
/// root's start. Panics naming the first trace that does not.
///
/// ```
/// use traced_tests::{tree, ReceivedSpan};
/// let span = |trace: &str, id: &str, parent: Option<&str>, start: u64| ReceivedSpan {
///     trace_id: trace.into(),
///     id: id.into(),
///     parent_id: parent.map(Into::into),
///     timestamp: Some(start),
///     ..Default::default()
/// };
/// let spans = [span("bb", "03", None, 5), span("aa", "02", Some("01"), 2), span("aa", "01", None, 1)];
/// let trees = tree::assert_trees(&spans);
/// assert_eq!(trees.len(), 2);
/// assert_eq!(trees[0].trace_id(), "aa");
/// assert_eq!(trees[0].len(), 2);
/// ```
pub fn assert_trees(spans: &[ReceivedSpan]) -> Vec<TraceTree> {
    let mut trees: Vec<TraceTree> = by_trace(spans)
        .into_values()
        .map(|group| match single_tree(&group) {
            Ok(tree) => tree,
            Err(message) => panic!("trace {}: {message}", group[0].trace_id),
        })
        .collect();
    trees.sort_by(|a, b| {
        (a.root().timestamp, a.trace_id()).cmp(&(b.root().timestamp, b.trace_id()))
    });
    trees
}

/// Like [`assert_single_tree`], returning the failure message instead of panicking.
pub fn single_tree(spans: &[ReceivedSpan]) -> Result<TraceTree, String> {
    let fail = |problem: String| {
        Err(format!(
            "{problem}\nreceived spans:\n{}",
            render_spans(spans)
        ))
    };
    let Some(first) = spans.first() else {
        return fail("no spans received".into());
    };
    let traces: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    if traces.len() > 1 {
        return fail(format!(
            "expected one trace, got {}: {traces:?}",
            traces.len()
        ));
    }

    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for span in spans {
        match nodes.get_mut(&span.id) {
            None => {
                let node = Node {
                    main: span.clone(),
                    shared: Vec::new(),
                    children: Vec::new(),
                };
                if span.shared {
                    // Keep a shared server span as the node until its client side shows up.
                    nodes.insert(
                        span.id.clone(),
                        Node {
                            shared: vec![span.clone()],
                            ..node
                        },
                    );
                } else {
                    nodes.insert(span.id.clone(), node);
                }
            }
            Some(node) => {
                let main_is_shared = node.main.shared;
                if span.shared {
                    node.shared.push(span.clone());
                } else if main_is_shared {
                    node.main = span.clone();
                } else {
                    return fail(format!(
                        "span id {} appears twice without a shared SERVER side",
                        span.id
                    ));
                }
            }
        }
    }
    for (id, node) in &nodes {
        for server in &node.shared {
            if server.kind.as_deref() != Some("SERVER") {
                return fail(format!(
                    "span {id} is shared but its kind is {:?}, not SERVER",
                    server.kind
                ));
            }
            if !node.main.shared && server.parent_id != node.main.parent_id {
                return fail(format!(
                    "shared span {id} has parentId {:?} but its client side has {:?}",
                    server.parent_id, node.main.parent_id
                ));
            }
        }
    }

    let mut roots = Vec::new();
    let mut links = Vec::new();
    for (id, node) in &nodes {
        match &node.main.parent_id {
            Some(parent) if nodes.contains_key(parent) => links.push((parent.clone(), id.clone())),
            _ => roots.push(id.clone()),
        }
    }
    if roots.len() != 1 {
        let described: Vec<String> = roots
            .iter()
            .map(|id| {
                let span = &nodes[id].main;
                format!(
                    "{} {:?} (parentId {:?})",
                    id,
                    span.name_or_empty(),
                    span.parent_id
                )
            })
            .collect();
        return fail(format!(
            "expected exactly one root, found {}: {}",
            roots.len(),
            described.join(", ")
        ));
    }
    for (parent, child) in links {
        if let Some(node) = nodes.get_mut(&parent) {
            node.children.push(child);
        }
    }
    let mut tree = TraceTree {
        trace_id: first.trace_id.clone(),
        root: roots.remove(0),
        nodes,
    };
    // Children in start order, so renderings read like a waterfall.
    let order: BTreeMap<String, (Option<u64>, String)> = tree
        .nodes
        .iter()
        .map(|(id, n)| {
            (
                id.clone(),
                (n.main.timestamp, n.main.name_or_empty().to_owned()),
            )
        })
        .collect();
    for node in tree.nodes.values_mut() {
        node.children
            .sort_by(|a, b| order[a].cmp(&order[b]).then(a.cmp(b)));
    }
    let reachable = tree.walk().len();
    if reachable != tree.nodes.len() {
        // Every node has a resolved parent or is the root, so the unreachable ones form cycles.
        let seen: BTreeSet<String> = tree.walk().into_iter().map(|(id, _)| id).collect();
        let cyclic: Vec<&String> = tree.nodes.keys().filter(|id| !seen.contains(*id)).collect();
        return fail(format!(
            "parent links form a cycle among span ids {cyclic:?}"
        ));
    }
    Ok(tree)
}

impl TraceTree {
    /// The trace id.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The root span.
    pub fn root(&self) -> &ReceivedSpan {
        &self.nodes[&self.root].main
    }

    /// Number of distinct span ids (a client and its shared server count once).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree has no nodes (never true for a tree built from spans).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The span with this id (the client side when a shared server span has it too).
    pub fn get(&self, id: &str) -> Option<&ReceivedSpan> {
        self.nodes.get(id).map(|n| &n.main)
    }

    /// The shared SERVER span joined to span `id`, if one was received.
    pub fn shared_server(&self, id: &str) -> Option<&ReceivedSpan> {
        let node = self.nodes.get(id)?;
        node.shared
            .iter()
            .find(|s| *s != &node.main)
            .or(node.main.shared.then_some(&node.main))
    }

    /// The children of `span` (by its id), in start order.
    pub fn children_of(&self, span: &ReceivedSpan) -> Vec<&ReceivedSpan> {
        self.children_of_id(&span.id)
    }

    /// The children of span `id`, in start order.
    pub fn children_of_id(&self, id: &str) -> Vec<&ReceivedSpan> {
        self.nodes
            .get(id)
            .map(|n| n.children.iter().map(|c| &self.nodes[c].main).collect())
            .unwrap_or_default()
    }

    /// The parent of `span` within this trace.
    pub fn parent_of(&self, span: &ReceivedSpan) -> Option<&ReceivedSpan> {
        self.get(span.parent_id.as_deref()?)
    }

    /// How many links separate span `id` from the root (the root is 0).
    pub fn depth_of(&self, id: &str) -> Option<usize> {
        self.walk()
            .into_iter()
            .find(|(node, _)| node == id)
            .map(|(_, depth)| depth)
    }

    /// Every span, the root first, then depth-first in start order (shared servers included).
    pub fn spans(&self) -> Vec<&ReceivedSpan> {
        let mut out = Vec::new();
        for (id, _) in self.walk() {
            let node = &self.nodes[&id];
            out.push(&node.main);
            out.extend(node.shared.iter().filter(|s| *s != &node.main));
        }
        out
    }

    /// The first span (in [`spans`](Self::spans) order) named `name`.
    pub fn find(&self, name: &str) -> Option<&ReceivedSpan> {
        self.spans()
            .into_iter()
            .find(|s| s.name.as_deref() == Some(name))
    }

    /// The span named `name`; panics with the rendered tree when there is none.
    pub fn expect(&self, name: &str) -> &ReceivedSpan {
        match self.find(name) {
            Some(span) => span,
            None => panic!("no span named {name:?} in\n{}", self.render()),
        }
    }

    /// Every span named `name`.
    pub fn find_all(&self, name: &str) -> Vec<&ReceivedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name.as_deref() == Some(name))
            .collect()
    }

    /// Every span reported by service `service`.
    pub fn by_service(&self, service: &str) -> Vec<&ReceivedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.service() == Some(service))
            .collect()
    }

    /// Node ids depth-first from the root with their depth.
    fn walk(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), 0)];
        let mut seen = BTreeSet::new();
        while let Some((id, depth)) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(node) = self.nodes.get(&id) {
                for child in node.children.iter().rev() {
                    stack.push((child.clone(), depth + 1));
                }
            }
            out.push((id, depth));
        }
        out
    }

    /// A compact indented rendering, one line per span:
    /// `name [service] KIND 12µs id=… tags…`.
    pub fn render(&self) -> String {
        let mut out = format!("trace {} ({} spans)\n", self.trace_id, self.spans().len());
        for (id, depth) in self.walk() {
            let node = &self.nodes[&id];
            let _ = writeln!(out, "{}{}", "  ".repeat(depth + 1), line(&node.main));
            for server in node.shared.iter().filter(|s| *s != &node.main) {
                let _ = writeln!(out, "{}+ {}", "  ".repeat(depth + 1), line(server));
            }
        }
        out
    }
}

impl std::fmt::Display for TraceTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// One line per span, in the order given, for failure messages about spans that form no tree.
pub fn render_spans(spans: &[ReceivedSpan]) -> String {
    spans
        .iter()
        .map(|s| format!("  {}  (trace {})\n", line(s), s.trace_id))
        .collect()
}

fn line(span: &ReceivedSpan) -> String {
    let mut out = format!(
        "{} [{}]",
        span.name_or_empty(),
        span.service().unwrap_or("?")
    );
    if let Some(kind) = &span.kind {
        let _ = write!(out, " {kind}");
    }
    if span.shared {
        out.push_str(" shared");
    }
    match span.duration {
        Some(d) => {
            let _ = write!(out, " {d}µs");
        }
        None => out.push_str(" no-duration"),
    }
    let _ = write!(out, " id={}", span.id);
    if let Some(parent) = &span.parent_id {
        let _ = write!(out, " parent={parent}");
    }
    for (k, v) in &span.tags {
        let v = if v.chars().count() > 40 {
            format!("{}…", v.chars().take(40).collect::<String>())
        } else {
            v.clone()
        };
        let _ = write!(out, " {k}={v}");
    }
    if !span.annotations.is_empty() {
        let _ = write!(out, " ({} annotations)", span.annotations.len());
    }
    out
}
