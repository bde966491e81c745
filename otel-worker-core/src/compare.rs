//! Two traces side by side: spans matched by their path of (service, operation) from the
//! root, repeated calls matched in start order, with the duration and self-time change
//! of each matched span and the spans only one trace has.
//!
//! Self time is the part of a span no child covers (children clipped to the span, their
//! overlaps counted once): what the span spent itself, which is what moves when a
//! change makes one operation slower and everything above it slower with it.

pub mod groups;
pub mod stats;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::models::{StatusCode, u64_string};

/// What a comparison needs of a span: the API's span JSON read without its attributes,
/// events and links, so two traces of [`MAX_SPANS`] spans fit in a Worker's memory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default)]
    pub parent_span_id: Option<String>,
    pub name: String,
    #[serde(with = "u64_string")]
    pub start_time_unix_nano: u64,
    #[serde(with = "u64_string")]
    pub end_time_unix_nano: u64,
    pub duration_ns: u64,
    pub status: SpanStatus,
    #[serde(default)]
    pub resource: SpanResource,
}

impl Span {
    /// A span of service `service` in one trace, its ids given as numbers: what the
    /// comparisons' tests and measurements build.
    pub fn numbered(
        service: &str,
        (id, parent): (u64, Option<u64>),
        name: &str,
        (start, end): (u64, u64),
        error: bool,
    ) -> Self {
        Self {
            trace_id: "t".into(),
            span_id: format!("{id:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")),
            name: name.into(),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            duration_ns: end.saturating_sub(start),
            status: SpanStatus {
                code: if error {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                },
            },
            resource: SpanResource {
                attributes: ServiceAttribute {
                    service_name: Some(service.into()),
                },
            },
        }
    }
}

/// [`Span`]'s status: its code only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpanStatus {
    pub code: StatusCode,
}

/// [`Span`]'s resource: its service only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SpanResource {
    #[serde(default)]
    pub attributes: ServiceAttribute,
}

/// The one resource attribute a comparison reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ServiceAttribute {
    #[serde(rename = "service.name", default)]
    pub service_name: Option<serde_json::Value>,
}

/// Spans read of each trace: a comparison of larger traces covers their first spans by
/// start and says `truncated`.
pub const MAX_SPANS: usize = 20_000;

/// One span of a trace, where the comparison puts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    pub span_id: String,
    /// Nanoseconds after the trace's first span started.
    pub offset_ns: u64,
    pub duration_ns: u64,
    pub self_ns: u64,
    pub error: bool,
}

/// A position in the trees: the span there in each trace, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// `service: name` from the root down, ` > ` between levels, `#n` on the n-th
    /// repeat (from 2) of a call under the same parent.
    pub path: String,
    pub depth: u32,
    pub service: Option<String>,
    pub name: String,
    pub a: Option<Side>,
    pub b: Option<Side>,
    /// `b - a` when both have the span.
    pub duration_delta_ns: Option<i64>,
    pub self_delta_ns: Option<i64>,
    /// The span fails in one trace and not in the other.
    pub status_changed: bool,
}

/// What a whole trace is, for the comparison's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSide {
    pub trace_id: String,
    pub spans: u64,
    pub duration_ns: u64,
    pub errors: u64,
}

/// `GET /v1/compare/traces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceComparison {
    pub a: TraceSide,
    pub b: TraceSide,
    pub duration_delta_ns: i64,
    pub matched: u64,
    pub only_in_a: u64,
    pub only_in_b: u64,
    pub status_changes: u64,
    /// Depth first, children in start order (B's where both have them).
    pub positions: Vec<Position>,
    /// A trace had more spans than a comparison reads; the rest were left out.
    pub truncated: bool,
}

/// One trace's spans laid out by path.
struct Laid {
    side: TraceSide,
    /// By path key: each level's service, name and repeat, with their lengths, so no
    /// name can make two paths one (a name may hold " > ").
    at: HashMap<String, Placed>,
}

struct Placed {
    /// The path as [`Position::path`] shows it.
    display: String,
    parent: String,
    depth: u32,
    service: Option<String>,
    name: String,
    side: Side,
}

/// Compares trace `a` with trace `b` (each all of its spans, in any order).
pub fn traces(a: &[Span], b: &[Span], truncated: bool) -> TraceComparison {
    let a = lay_out(a);
    let b = lay_out(b);
    // The union of both trees: children by parent path, each once.
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut listed: HashSet<&str> = HashSet::new();
    for laid in [&b, &a] {
        for (path, placed) in &laid.at {
            if listed.insert(path.as_str()) {
                children
                    .entry(placed.parent.as_str())
                    .or_default()
                    .push(path.as_str());
            }
        }
    }
    // Siblings in start order (B's where both have them), then by path.
    let order = |path: &str| {
        b.at.get(path)
            .or_else(|| a.at.get(path))
            .map_or((0, ""), |p| (p.side.offset_ns, p.display.as_str()))
    };
    for list in children.values_mut() {
        list.sort_by(|x, y| (order(x), *x).cmp(&(order(y), *y)));
    }
    let mut positions = Vec::new();
    let mut stack: Vec<&str> = children
        .get("")
        .map_or(Vec::new(), |roots| roots.iter().rev().copied().collect());
    while let Some(path) = stack.pop() {
        let (pa, pb) = (a.at.get(path), b.at.get(path));
        let Some(placed) = pb.or(pa) else { continue };
        let (sa, sb) = (pa.map(|p| p.side.clone()), pb.map(|p| p.side.clone()));
        let delta = |f: fn(&Side) -> u64| match (&sa, &sb) {
            (Some(x), Some(y)) => Some(difference(f(x), f(y))),
            _ => None,
        };
        positions.push(Position {
            path: placed.display.clone(),
            depth: placed.depth,
            service: placed.service.clone(),
            name: placed.name.clone(),
            duration_delta_ns: delta(|s| s.duration_ns),
            self_delta_ns: delta(|s| s.self_ns),
            status_changed: matches!((&sa, &sb), (Some(x), Some(y)) if x.error != y.error),
            a: sa,
            b: sb,
        });
        if let Some(kids) = children.get(path) {
            stack.extend(kids.iter().rev().copied());
        }
    }
    let count = |f: fn(&Position) -> bool| positions.iter().filter(|p| f(p)).count() as u64;
    TraceComparison {
        duration_delta_ns: difference(a.side.duration_ns, b.side.duration_ns),
        matched: count(|p| p.a.is_some() && p.b.is_some()),
        only_in_a: count(|p| p.b.is_none()),
        only_in_b: count(|p| p.a.is_none()),
        status_changes: count(|p| p.status_changed),
        a: a.side,
        b: b.side,
        positions,
        truncated,
    }
}

/// `to - from`, held to what an `i64` can say (a span may claim to last 2^64 ns).
pub(crate) fn difference(from: u64, to: u64) -> i64 {
    (i128::from(to) - i128::from(from)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

pub(crate) fn service_of(span: &Span) -> Option<String> {
    span.resource
        .attributes
        .service_name
        .as_ref()
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn lay_out(spans: &[Span]) -> Laid {
    let start = spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|s| s.end_time_unix_nano)
        .max()
        .unwrap_or(0);
    let side = TraceSide {
        trace_id: spans
            .first()
            .map(|s| s.trace_id.clone())
            .unwrap_or_default(),
        spans: spans.len() as u64,
        duration_ns: end.saturating_sub(start),
        errors: spans
            .iter()
            .filter(|s| s.status.code == StatusCode::Error)
            .count() as u64,
    };
    let by_id: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    // Children of each span, and the roots (no parent, or a parent not in the trace),
    // under "".
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        let parent = span
            .parent_span_id
            .as_deref()
            .and_then(|p| by_id.get(p).copied())
            .filter(|p| *p != i);
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by(|x, y| {
            (spans[*x].start_time_unix_nano, &spans[*x].span_id)
                .cmp(&(spans[*y].start_time_unix_nano, &spans[*y].span_id))
        });
    }
    let mut at = HashMap::new();
    let mut placed = vec![false; spans.len()];
    // Repeats among the roots are counted across every group of roots below.
    let mut root_repeats = HashMap::new();
    let roots = children.get(&None).cloned().unwrap_or_default();
    place(
        spans,
        &children,
        roots,
        start,
        &mut placed,
        &mut root_repeats,
        &mut at,
    );
    // Spans no root reaches, because their parents form a cycle: the earliest of them
    // becomes a root, until every span has its place.
    while let Some(first) = (0..spans.len())
        .filter(|i| !placed[*i])
        .min_by_key(|i| (spans[*i].start_time_unix_nano, &spans[*i].span_id))
    {
        place(
            spans,
            &children,
            vec![first],
            start,
            &mut placed,
            &mut root_repeats,
            &mut at,
        );
    }
    Laid { side, at }
}

/// Places `roots` and everything under them, depth first, in `at`.
fn place(
    spans: &[Span],
    children: &HashMap<Option<usize>, Vec<usize>>,
    roots: Vec<usize>,
    trace_start: u64,
    placed: &mut [bool],
    root_repeats: &mut HashMap<(Option<String>, String), u32>,
    at: &mut HashMap<String, Placed>,
) {
    // (spans under one parent, the parent's key and display path, their depth)
    let mut stack = vec![(roots, String::new(), String::new(), 0u32)];
    while let Some((kids, parent_key, parent_display, depth)) = stack.pop() {
        let mut own_repeats = HashMap::new();
        let repeats = if depth == 0 {
            &mut *root_repeats
        } else {
            &mut own_repeats
        };
        for i in kids {
            if std::mem::replace(&mut placed[i], true) {
                continue;
            }
            let span = &spans[i];
            let service = service_of(span);
            let n = *repeats
                .entry((service.clone(), span.name.clone()))
                .and_modify(|n| *n += 1)
                .or_insert(1);
            let label = format!(
                "{}: {}{}",
                service.as_deref().unwrap_or("?"),
                span.name,
                if n > 1 {
                    format!("#{n}")
                } else {
                    String::new()
                }
            );
            let display = if parent_display.is_empty() {
                label
            } else {
                format!("{parent_display} > {label}")
            };
            // Lengths first, so no service or name can pass for another level.
            let key = match &service {
                Some(service) => format!(
                    "{parent_key}/{}:{service}{}:{}#{n}",
                    service.len(),
                    span.name.len(),
                    span.name
                ),
                None => format!("{parent_key}/-{}:{}#{n}", span.name.len(), span.name),
            };
            let mine = children.get(&Some(i)).map_or(&[][..], Vec::as_slice);
            at.insert(
                key.clone(),
                Placed {
                    display: display.clone(),
                    parent: parent_key.clone(),
                    depth,
                    service,
                    name: span.name.clone(),
                    side: Side {
                        span_id: span.span_id.clone(),
                        offset_ns: span.start_time_unix_nano.saturating_sub(trace_start),
                        duration_ns: span.duration_ns,
                        self_ns: self_time(span, mine, spans),
                        error: span.status.code == StatusCode::Error,
                    },
                },
            );
            if !mine.is_empty() {
                stack.push((mine.to_vec(), key, display, depth + 1));
            }
        }
    }
}

/// The part of `span` none of `children` covers.
/// Each span's self time, in the order given (children found by parent id within
/// `spans`).
pub fn self_times(spans: &[Span]) -> Vec<u64> {
    let by_id: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, span) in spans.iter().enumerate() {
        if let Some(parent) = span
            .parent_span_id
            .as_deref()
            .and_then(|p| by_id.get(p).copied())
            .filter(|p| *p != i)
        {
            children[parent].push(i);
        }
    }
    spans
        .iter()
        .zip(&children)
        .map(|(span, kids)| self_time(span, kids, spans))
        .collect()
}

fn self_time(span: &Span, children: &[usize], spans: &[Span]) -> u64 {
    let (start, end) = (span.start_time_unix_nano, span.end_time_unix_nano);
    if end <= start {
        return 0;
    }
    let mut covered: Vec<(u64, u64)> = children
        .iter()
        .map(|&c| {
            let child = &spans[c];
            (
                child.start_time_unix_nano.max(start),
                child.end_time_unix_nano.min(end),
            )
        })
        .filter(|(s, e)| s < e)
        .collect();
    covered.sort_unstable();
    let mut total = 0;
    let mut reach = start;
    for (s, e) in covered {
        let s = s.max(reach);
        if e > s {
            total += e - s;
            reach = e;
        }
    }
    (end - start) - total
}

#[cfg(test)]
mod tests {
    use super::*;
    fn span(id: &str, parent: Option<&str>, name: &str, start: u64, end: u64) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: name.into(),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            duration_ns: end.saturating_sub(start),
            status: SpanStatus {
                code: StatusCode::Unset,
            },
            resource: SpanResource {
                attributes: ServiceAttribute {
                    service_name: Some("svc".into()),
                },
            },
        }
    }

    #[test]
    fn self_time_counts_overlapping_children_once_and_clips_those_that_outlive_the_parent() {
        let spans = [
            span("r", None, "root", 0, 100),
            span("a", Some("r"), "a", 10, 40),
            span("b", Some("r"), "b", 30, 50),
            // Ends after its parent: only 90..100 is covered.
            span("c", Some("r"), "c", 90, 130),
        ];
        let compared = traces(&spans, &spans, false);
        let root = &compared.positions[0];
        assert_eq!(root.a.as_ref().map(|s| s.self_ns), Some(100 - 40 - 10));
        assert_eq!(root.self_delta_ns, Some(0));
        assert_eq!(compared.matched, 4);
    }

    #[test]
    fn a_root_with_fifty_thousand_children_and_spans_of_any_length_compare_in_linear_time() {
        let mut a = vec![span("r", None, "root", 0, u64::MAX)];
        a.extend((0..50_000u64).map(|i| span(&format!("c{i}"), Some("r"), "call", i, i + 10)));
        let mut b = a.clone();
        b[0].end_time_unix_nano = 5;
        b[0].duration_ns = 5;
        let compared = traces(&a, &b, false);
        assert_eq!(compared.matched, 50_001);
        assert_eq!(compared.positions[0].duration_delta_ns, Some(i64::MIN));
        assert_eq!(
            compared.positions[50_000].path,
            "svc: root > svc: call#50000"
        );
    }

    #[test]
    fn orphans_are_roots_and_a_cycle_of_parents_is_broken_at_its_earliest_span() {
        let spans = [
            span("x", Some("missing"), "orphan", 0, 10),
            span("p", Some("q"), "p", 0, 10),
            span("q", Some("p"), "q", 0, 10),
        ];
        let compared = traces(&spans, &[], false);
        // The orphan is a root; of the two spans that are each other's parent, the
        // earliest becomes one (ties: by span id), with the other under it.
        let paths: Vec<&str> = compared.positions.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["svc: orphan", "svc: p", "svc: p > svc: q"]);
        assert_eq!((compared.only_in_a, compared.only_in_b), (3, 0));
    }
}
