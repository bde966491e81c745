//! How the CLI shows traces, spans and log records to a person: tables, trees, readable
//! times.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use comfy_table::{ContentArrangement, Table, presets};
use otel_worker_core::duration::human as duration;
use otel_worker_core::models::{
    AttributeKey, AttributeValue, Log, Service, Span, Stats, StatusCode, StoreStats, TraceDetail,
    TraceSummary,
};
use otel_worker_core::size;
use otel_worker_core::store::logs::time_column;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// `1 span`, `2 spans`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A unix-nanosecond instant as UTC, to the millisecond.
pub fn instant(ns: u64) -> String {
    let format =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{ns}ns"))
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

/// `client traces list`.
pub fn trace_table(traces: &[TraceSummary]) -> String {
    if traces.is_empty() {
        return "no traces yet: send one with `otel-worker-cli client send examples/send-trace/trace.json`".into();
    }
    let mut t = table(&[
        "Trace ID",
        "Root span",
        "Service",
        "Start",
        "Duration",
        "Spans",
        "Errors",
    ]);
    for trace in traces {
        t.add_row(vec![
            trace.trace_id.clone(),
            trace
                .root_span_name
                .clone()
                .unwrap_or_else(|| "(missing root)".into()),
            trace.service_name.clone().unwrap_or_default(),
            instant(trace.start_time_unix_nano),
            duration(trace.duration_ns),
            trace.span_count.to_string(),
            trace.error_count.to_string(),
        ]);
    }
    t.to_string()
}

/// `client services`.
pub fn service_table(services: &[Service]) -> String {
    if services.is_empty() {
        return "no services yet: no span with a service.name has arrived".into();
    }
    let mut t = table(&["Service", "Spans", "Last seen"]);
    for service in services {
        t.add_row(vec![
            service.name.clone(),
            service.span_count.to_string(),
            instant(service.last_seen_unix_nano),
        ]);
    }
    t.to_string()
}

/// `client stats`: what the server holds, and each database's share when it has several.
pub fn stats(stats: &Stats) -> String {
    let mut t = table(&[
        "Store",
        "Spans",
        "Traces",
        "Logs",
        "Stored",
        "Oldest",
        "Newest",
        "Pruned traces",
        "Sampled out",
        "Not indexed yet",
        "Archived",
    ]);
    let row = |name: String, s: &StoreStats| {
        let stored = match s.budget_bytes {
            Some(budget) if budget > 0 => format!(
                "{} of {} ({:.0}%)",
                size::display(s.bytes),
                size::display(budget),
                s.bytes as f64 * 100.0 / budget as f64
            ),
            _ => size::display(s.bytes),
        };
        vec![
            name,
            s.spans.to_string(),
            s.traces.to_string(),
            s.logs.to_string(),
            stored,
            s.oldest_unix_nano.map(instant).unwrap_or_default(),
            s.newest_unix_nano.map(instant).unwrap_or_default(),
            s.pruned_traces.to_string(),
            s.sampled_out_spans.to_string(),
            s.unindexed_spans.to_string(),
            s.archive
                .as_ref()
                .map(|a| {
                    format!(
                        "{} spans, {} logs, {} in {} blocks",
                        a.spans,
                        a.records,
                        size::display(a.bytes),
                        a.blocks
                    )
                })
                .unwrap_or_default(),
        ]
    };
    t.add_row(row("all".into(), &stats.total));
    if stats.shards.len() > 1 {
        for (i, shard) in stats.shards.iter().enumerate() {
            t.add_row(row(format!("shard {i}"), shard));
        }
    }
    t.to_string()
}

/// `client attributes`.
pub fn attribute_table(keys: &[AttributeKey]) -> String {
    if keys.is_empty() {
        return "no attributes yet: spans are summarized for search a moment after they arrive"
            .into();
    }
    let mut t = table(&["Key", "Scope", "Types", "Spans"]);
    for key in keys {
        t.add_row(vec![
            key.key.clone(),
            key.scope.clone(),
            key.types.join(", "),
            key.count.to_string(),
        ]);
    }
    t.to_string()
}

/// `client attributes KEY`.
pub fn value_table(key: &str, values: &[AttributeValue]) -> String {
    if values.is_empty() {
        return format!("no values of {key} seen");
    }
    let mut t = table(&["Value", "Spans"]);
    for value in values {
        t.add_row(vec![value.value.clone(), value.count.to_string()]);
    }
    t.to_string()
}

/// `client spans list`.
pub fn span_table(spans: &[Span]) -> String {
    let start = spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let mut t = table(&[
        "Span ID", "Parent", "Name", "Service", "Kind", "Offset", "Duration", "Status",
    ]);
    for span in spans {
        t.add_row(vec![
            span.span_id.clone(),
            span.parent_span_id.clone().unwrap_or_default(),
            span.name.clone(),
            service(span),
            format!("{:?}", span.kind).to_lowercase(),
            duration(span.start_time_unix_nano.saturating_sub(start)),
            duration(span.duration_ns),
            format!("{:?}", span.status.code).to_lowercase(),
        ]);
    }
    t.to_string()
}

fn service(span: &Span) -> String {
    span.resource
        .attributes
        .get("service.name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// `client traces get`: the summary, then the spans as an indented tree, each followed by
/// the log records it emitted. Spans whose parent is missing are shown as roots; records
/// of no stored span come last.
pub fn trace_tree(trace: &TraceDetail, logs: &[Log]) -> String {
    let summary = &trace.summary;
    let mut out = format!(
        "trace {}  {}  {}  {}, {}\n",
        summary.trace_id,
        instant(summary.start_time_unix_nano),
        duration(summary.duration_ns),
        count(summary.span_count, "span"),
        count(summary.error_count, "error"),
    );
    let ids: HashSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut logs_of: HashMap<&str, Vec<&Log>> = HashMap::new();
    let mut loose = Vec::new();
    for log in logs {
        match log.span_id.as_deref().filter(|id| ids.contains(id)) {
            Some(span) => logs_of.entry(span).or_default().push(log),
            None => loose.push(log),
        }
    }
    let mut children: HashMap<&str, Vec<&Span>> = HashMap::new();
    let mut roots = Vec::new();
    for span in &trace.spans {
        match span.parent_span_id.as_deref().filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(span),
            None => roots.push(span),
        }
    }
    let mut stack: Vec<(&Span, usize)> = roots.into_iter().rev().map(|s| (s, 0)).collect();
    let mut shown = HashSet::new();
    while let Some((span, depth)) = stack.pop() {
        if !shown.insert(span.span_id.as_str()) {
            continue;
        }
        let error = if span.status.code == StatusCode::Error {
            let message = &span.status.message;
            if message.is_empty() {
                "  ERROR".to_owned()
            } else {
                format!("  ERROR: {message}")
            }
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{}{}  [{}]  {}  {}{error}",
            "  ".repeat(depth + 1),
            span.name,
            service(span),
            duration(span.duration_ns),
            span.span_id,
        );
        for log in logs_of.get(span.span_id.as_str()).into_iter().flatten() {
            let _ = writeln!(out, "{}{}", "  ".repeat(depth + 2), log_entry(log));
        }
        if let Some(kids) = children.get(span.span_id.as_str()) {
            stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
        }
    }
    if !loose.is_empty() {
        let _ = writeln!(out, "  logs of no span shown above");
        for log in loose {
            let _ = writeln!(out, "    {}", log_entry(log));
        }
    }
    out
}

/// A log record inside a trace tree: `log  WARN  body`.
/// `client traces diff`: a line about both traces, then the tree of positions with each
/// side's duration and the changes (`+` only in B, `-` only in A, `!` status changed).
pub fn trace_diff(c: &otel_worker_core::compare::TraceComparison) -> String {
    let signed = otel_worker_core::duration::human_change;
    let mut out = format!(
        "A {} ({}) → B {} ({}): {}; {} matched, {} only in A, {} only in B, {}\n",
        c.a.trace_id,
        duration(c.a.duration_ns),
        c.b.trace_id,
        duration(c.b.duration_ns),
        signed(c.duration_delta_ns),
        c.matched,
        c.only_in_a,
        c.only_in_b,
        count(c.status_changes, "status change"),
    );
    if c.truncated {
        out.push_str("(a trace has more spans than a comparison reads: the first ones by start are compared)\n");
    }
    let mut t = table(&["", "span", "A", "B", "Δ duration", "Δ self"]);
    for p in &c.positions {
        let mark = match (&p.a, &p.b) {
            (None, Some(_)) => "+",
            (Some(_), None) => "-",
            _ if p.status_changed => "!",
            _ => "",
        };
        let side = |s: &Option<otel_worker_core::compare::Side>| {
            s.as_ref().map_or(String::new(), |s| {
                format!(
                    "{}{}",
                    duration(s.duration_ns),
                    if s.error { " ✗" } else { "" }
                )
            })
        };
        t.add_row(vec![
            mark.to_owned(),
            format!(
                "{}{}: {}",
                "  ".repeat(p.depth as usize),
                p.service.as_deref().unwrap_or("?"),
                p.name
            ),
            side(&p.a),
            side(&p.b),
            p.duration_delta_ns.map_or(String::new(), signed),
            p.self_delta_ns.map_or(String::new(), signed),
        ]);
    }
    let _ = writeln!(out, "{t}");
    out
}

/// `client compare` and `check`: how each group was read, then every operation, the
/// changes first (`▲` regressed, `▼` improved).
pub fn group_comparison(c: &otel_worker_core::compare::groups::GroupComparison) -> String {
    let signed = otel_worker_core::duration::human_change;
    let mut out = String::new();
    for (label, side) in [("baseline ", &c.baseline), ("candidate", &c.candidate)] {
        let _ = writeln!(
            out,
            "{label} {}: {} read of {}{} matched, {}{}",
            side.query,
            count(side.traces, "trace"),
            side.matched,
            if side.matched_all { "" } else { "+" },
            count(side.spans, "span"),
            if side.truncated {
                " (stopped at the span limit)"
            } else {
                ""
            },
        );
    }
    let _ = writeln!(
        out,
        "{} at {} over the whole report; operations with fewer than {} calls in a group are not tested",
        count(c.regressions, "regression"),
        c.alpha,
        c.min_samples
    );
    let mut t = table(&[
        "",
        "operation",
        "calls",
        "p50",
        "p99",
        "Δ p50",
        "Δ p99",
        "Δ self p50",
        "errors",
        "p (adj.)",
    ]);
    let pair = |b: Option<String>, c: Option<String>| {
        format!(
            "{} → {}",
            b.unwrap_or_else(|| "-".into()),
            c.unwrap_or_else(|| "-".into())
        )
    };
    for o in &c.operations {
        let mark = if o.regressed {
            "▲"
        } else if o.improved {
            "▼"
        } else {
            ""
        };
        let (b, k) = (o.baseline.as_ref(), o.candidate.as_ref());
        let strongest = [&o.duration, &o.self_time, &o.errors]
            .into_iter()
            .flatten()
            .map(|t| t.adjusted_p_value)
            .reduce(f64::min);
        t.add_row(vec![
            mark.to_owned(),
            format!("{}: {}", o.service.as_deref().unwrap_or("?"), o.name),
            pair(
                b.map(|s| s.calls.to_string()),
                k.map(|s| s.calls.to_string()),
            ),
            pair(b.map(|s| duration(s.p50_ns)), k.map(|s| duration(s.p50_ns))),
            pair(b.map(|s| duration(s.p99_ns)), k.map(|s| duration(s.p99_ns))),
            o.p50_delta_ns.map_or(String::new(), signed),
            o.p99_change
                .map_or(String::new(), |c| format!("{:+.1}%", c * 100.0)),
            o.self_p50_delta_ns.map_or(String::new(), signed),
            pair(
                b.map(|s| format!("{:.1}%", s.error_rate * 100.0)),
                k.map(|s| format!("{:.1}%", s.error_rate * 100.0)),
            ),
            strongest.map_or_else(|| "not tested".into(), |p| format!("{p:.1e}")),
        ]);
    }
    let _ = writeln!(out, "{t}");
    out
}

fn log_entry(log: &Log) -> String {
    format!(
        "log  {:<5}  {}",
        severity(log.severity_number, &log.severity_text),
        one_line(&log.body, 100)
    )
}

/// A severity as a short upper-case word: the record's own text when it has one, else
/// the level of its number (`-` when unspecified).
pub fn severity(number: i32, text: &str) -> String {
    if !text.is_empty() {
        return text.to_ascii_uppercase();
    }
    otel_worker_core::query::severity_name(number)
        .map_or_else(|| "-".to_owned(), str::to_ascii_uppercase)
}

/// A body as one line of at most `max` characters: a string as it is, anything else as
/// JSON; line breaks become spaces.
pub fn one_line(body: &Value, max: usize) -> String {
    let text = match body {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `client logs list`.
pub fn log_table(logs: &[Log]) -> String {
    if logs.is_empty() {
        return "no log records match: SDKs send them to /v1/logs (OTLP/HTTP) or LogsService \
                (OTLP/gRPC)"
            .into();
    }
    let mut t = table(&["Time", "Severity", "Service", "Body", "Trace"]);
    for log in logs {
        t.add_row(vec![
            instant(time_column(log.time_unix_nano, log.observed_time_unix_nano)),
            severity(log.severity_number, &log.severity_text),
            log.service_name.clone().unwrap_or_default(),
            one_line(&log.body, 80),
            log.trace_id.clone().unwrap_or_default(),
        ]);
    }
    t.to_string()
}

/// `client spans get`: the span's fields, then its attributes, events and links.
pub fn span_detail(span: &Span) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  ({:?}, {})", span.name, span.kind, service(span));
    let _ = writeln!(out, "  trace     {}", span.trace_id);
    let _ = writeln!(out, "  span      {}", span.span_id);
    let _ = writeln!(
        out,
        "  parent    {}",
        span.parent_span_id.as_deref().unwrap_or("(root)")
    );
    let _ = writeln!(out, "  start     {}", instant(span.start_time_unix_nano));
    let _ = writeln!(out, "  duration  {}", duration(span.duration_ns));
    let _ = writeln!(
        out,
        "  status    {:?} {}",
        span.status.code, span.status.message
    );
    let section = |out: &mut String, title: &str, attributes: &serde_json::Map<String, Value>| {
        if !attributes.is_empty() {
            let _ = writeln!(out, "{title}");
            for (key, value) in attributes {
                let _ = writeln!(out, "  {key} = {value}");
            }
        }
    };
    section(&mut out, "attributes", &span.attributes);
    section(&mut out, "resource", &span.resource.attributes);
    for event in &span.events {
        let _ = writeln!(
            out,
            "event {} at {}",
            event.name,
            instant(event.time_unix_nano)
        );
        for (key, value) in &event.attributes {
            let _ = writeln!(out, "  {key} = {value}");
        }
    }
    for link in &span.links {
        let _ = writeln!(out, "link to {}/{}", link.trace_id, link.span_id);
    }
    out
}

/// `client metrics list`.
pub fn metric_table(metrics: &[otel_worker_core::models::MetricSummary]) -> String {
    if metrics.is_empty() {
        return "no metrics yet: point an SDK's metrics exporter at this server".into();
    }
    let mut t = table(&["name", "type", "unit", "services", "series", "last seen"]);
    for m in metrics {
        let mut kind = m.kind.clone();
        if let Some(temporality) = &m.temporality {
            kind.push_str(&format!(" ({temporality}"));
            if m.monotonic == Some(true) {
                kind.push_str(", monotonic");
            }
            kind.push(')');
        }
        t.add_row(vec![
            m.name.clone(),
            kind,
            m.unit.clone(),
            m.services.join(", "),
            m.series.to_string(),
            m.last_seen_unix_nano.map(instant).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

/// The number a point shows in a trend or as its latest value: the rate of a counter, the
/// value of a gauge, the p50 of a histogram, the median of a summary.
fn headline(point: &Value) -> Option<f64> {
    for key in ["rate", "value", "p50"] {
        if let Some(v) = point.get(key).and_then(Value::as_f64) {
            return Some(v);
        }
    }
    point["quantileValues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["quantile"].as_f64() == Some(0.5)))
        .and_then(|q| q["value"].as_f64())
}

/// A point's latest value as text, by what the point holds.
fn latest(point: &Value) -> String {
    if let Some(value) = point.get("value") {
        return value.to_string();
    }
    let mut parts = Vec::new();
    for key in ["count", "sum", "min", "max"] {
        if let Some(v) = point.get(key) {
            parts.push(format!("{key} {v}"));
        }
    }
    for q in point["quantileValues"].as_array().into_iter().flatten() {
        parts.push(format!("q{} {}", q["quantile"], q["value"]));
    }
    parts.join(", ")
}

/// `values` (one per step, `None` where a step had no point) as a line of block
/// characters scaled between their minimum and maximum.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (low, high) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => {
                let share = if high > low {
                    (v - low) / (high - low)
                } else {
                    0.5
                };
                BARS[((share * 7.0).round() as usize).min(7)]
            }
            _ => ' ',
        })
        .collect()
}

/// `client metrics get NAME`: per series its latest value and the trend over the steps
/// from `start_ns`.
pub fn metric_detail(
    latest_points: &otel_worker_core::models::MetricDetail,
    trend: &otel_worker_core::models::MetricDetail,
    start_ns: u64,
    step_ns: u64,
    steps: u32,
) -> String {
    let mut out = format!("{} ({}", latest_points.name, latest_points.kind);
    if let Some(temporality) = &latest_points.temporality {
        out.push_str(&format!(", {temporality}"));
    }
    if !latest_points.unit.is_empty() {
        out.push_str(&format!(", {}", latest_points.unit));
    }
    out.push(')');
    if !latest_points.description.is_empty() {
        out.push_str(&format!(": {}", latest_points.description));
    }
    out.push('\n');
    let trend_label = match (latest_points.kind.as_str(), latest_points.monotonic) {
        ("sum", Some(true)) => "rate/s",
        ("histogram" | "exponentialHistogram" | "summary", _) => "p50",
        _ => "value",
    };
    let span = otel_worker_core::duration::spelled(std::time::Duration::from_nanos(
        step_ns * u64::from(steps),
    ));
    let mut t = table(&[
        "service",
        "attributes",
        "latest",
        "at",
        &format!("{trend_label}, last {span}"),
    ]);
    let first_step = start_ns / step_ns;
    for series in &latest_points.series {
        let trend_points = trend
            .series
            .iter()
            .find(|s| s.attributes == series.attributes && s.service_name == series.service_name)
            .map(|s| s.points.as_slice())
            .unwrap_or_default();
        let mut values = vec![None; steps as usize + 1];
        for point in trend_points {
            let end = point["timeUnixNano"]
                .as_str()
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0);
            let index = (end / step_ns).saturating_sub(first_step + 1) as usize;
            if let Some(slot) = values.get_mut(index) {
                *slot = headline(point);
            }
        }
        let last = series.points.last();
        let attributes: Vec<String> = series
            .attributes
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        t.add_row(vec![
            series.service_name.clone().unwrap_or_default(),
            attributes.join(" "),
            last.map(latest).unwrap_or_default(),
            last.and_then(|p| p["timeUnixNano"].as_str())
                .and_then(|t| t.parse::<u64>().ok())
                .map(instant)
                .unwrap_or_default(),
            sparkline(&values),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_between_the_lowest_and_highest_value_and_leaves_gaps() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▅▅");
        assert_eq!(sparkline(&[None]), " ");
    }

    #[test]
    fn instants_are_utc_milliseconds() {
        assert_eq!(
            instant(1_739_872_800_500_000_000),
            "2025-02-18 10:00:00.500Z"
        );
    }
}
