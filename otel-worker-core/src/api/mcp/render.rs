//! Text for a model to read: one line per trace, span or record, times in RFC 3339,
//! durations in the unit that reads best, long values cut with a note of how long they were.
//!
//! Everything reads the API's JSON as [`Value`]s instead of decoding it into the models
//! again: the Worker's bundle would otherwise carry a second decoder of every model.

pub(super) use crate::duration::human as duration;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The longest attribute value shown in text before it is cut.
pub(super) const MAX_VALUE_CHARS: usize = 300;

/// A string field of an API object; empty when absent.
pub(super) fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

/// A number field of an API object, whether written as a number or, for nanosecond
/// timestamps, as a decimal string; 0 when absent.
pub(super) fn number(value: &Value, key: &str) -> u64 {
    match &value[key] {
        Value::Number(n) => n.as_u64().unwrap_or_default(),
        Value::String(s) => s.parse().unwrap_or_default(),
        _ => 0,
    }
}

/// An attribute map field; empty when absent.
pub(super) fn map<'a>(value: &'a Value, key: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    value[key]
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// An instant in RFC 3339, UTC, to the microsecond; 0 (unknown) reads as `-`.
pub(super) fn instant(ns: u64) -> String {
    if ns == 0 {
        return "-".into();
    }
    // Whole microseconds keep the text short.
    let micros = i128::from(ns / 1_000) * 1_000;
    OffsetDateTime::from_unix_timestamp_nanos(micros)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ns.to_string())
}

/// A value as a model reads it: strings bare, everything else as JSON, cut when long.
pub(super) fn value(value: &Value) -> String {
    match value {
        Value::String(s) => cut(s, MAX_VALUE_CHARS),
        other => cut(&other.to_string(), MAX_VALUE_CHARS),
    }
}

/// `text`, or its first `max` characters and how many were left out.
pub(super) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!(
            "{}… ({} more characters)",
            &text[..at],
            text[at..].chars().count()
        ),
    }
}

/// `{k=v, k=v}` with keys in order; empty for no attributes.
pub(super) fn attributes(attributes: &Map<String, Value>) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = attributes
        .iter()
        .map(|(k, v)| format!("{k}={}", value(v)))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The `service.name` of a span's resource.
pub(super) fn service(span: &Value) -> &str {
    span["resource"]["attributes"]["service.name"]
        .as_str()
        .unwrap_or("?")
}

/// Whether a span's status is error.
pub(super) fn failed(span: &Value) -> bool {
    span["status"]["code"] == "error"
}

/// `n thing` or `n things`.
pub(super) fn count(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// One trace summary on one line.
pub(super) fn trace_line(trace: &Value) -> String {
    let mut line = format!(
        "{}  {}  {}  {}: {}  {}",
        text(trace, "traceId"),
        instant(number(trace, "startTimeUnixNano")),
        duration(number(trace, "durationNs")),
        trace["serviceName"].as_str().unwrap_or("?"),
        trace["rootSpanName"]
            .as_str()
            .unwrap_or("(root not received)"),
        count(number(trace, "spanCount") as usize, "span"),
    );
    let errors = number(trace, "errorCount") as usize;
    if errors > 0 {
        line.push_str(&format!(", {}", count(errors, "error")));
    }
    if let Some(services) = trace["services"].as_array().filter(|s| s.len() > 1) {
        let names: Vec<&str> = services.iter().filter_map(Value::as_str).collect();
        line.push_str(&format!("  services: {}", names.join(", ")));
    }
    line
}

/// One log record on one line: time, severity, service, where, body, attributes.
pub(super) fn log_line(log: &Value) -> String {
    let severity = match text(log, "severityText") {
        "" => crate::query::severity_name(number(log, "severityNumber") as i32).unwrap_or("-"),
        named => named,
    };
    let time = number(log, "timeUnixNano").max(number(log, "observedTimeUnixNano"));
    let mut line = format!(
        "{}  {severity}  {}",
        instant(time),
        log["serviceName"].as_str().unwrap_or("?"),
    );
    if let Some(trace) = log["traceId"].as_str() {
        line.push_str(&format!("  trace={trace}"));
    }
    if let Some(span) = log["spanId"].as_str() {
        line.push_str(&format!(" span={span}"));
    }
    line.push_str(&format!("  {}", value(&log["body"])));
    let attributes = attributes(map(log, "attributes"));
    if !attributes.is_empty() {
        line.push_str(&format!("  {attributes}"));
    }
    line
}

/// Every detail of one span, a few lines long.
pub(super) fn span_details(span: &Value) -> String {
    let start = number(span, "startTimeUnixNano");
    let mut out = format!(
        "span {} {:?} ({}, {}) in trace {}, parent {}\n  start {}  duration {}  status {}",
        text(span, "spanId"),
        text(span, "name"),
        service(span),
        text(span, "kind"),
        text(span, "traceId"),
        span["parentSpanId"].as_str().unwrap_or("none (root)"),
        instant(start),
        duration(number(span, "durationNs")),
        text(&span["status"], "code"),
    );
    let message = text(&span["status"], "message");
    if !message.is_empty() {
        out.push_str(&format!(": {message}"));
    }
    out.push_str(&format!(
        "\n  attributes {}",
        attributes(map(span, "attributes"))
    ));
    out.push_str(&format!(
        "\n  resource {}",
        attributes(map(&span["resource"], "attributes"))
    ));
    out.push_str(&format!(
        "\n  scope {} {}",
        text(&span["scope"], "name"),
        text(&span["scope"], "version")
    ));
    for event in span["events"].as_array().into_iter().flatten() {
        let offset = number(event, "timeUnixNano").saturating_sub(start);
        out.push_str(&format!(
            "\n  event +{} {} {}",
            duration(offset),
            text(event, "name"),
            attributes(map(event, "attributes"))
        ));
    }
    for link in span["links"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  link trace {} span {} {}",
            text(link, "traceId"),
            text(link, "spanId"),
            attributes(map(link, "attributes"))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_say_how_much_is_missing() {
        assert_eq!(cut("abcdef", 4), "abcd… (2 more characters)");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(
            instant(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456Z"
        );
    }

    #[test]
    fn numbers_are_read_from_json_numbers_and_decimal_strings() {
        let value = serde_json::json!({"a": 5, "b": "18446744073709551615", "c": "x"});
        assert_eq!(number(&value, "a"), 5);
        assert_eq!(number(&value, "b"), u64::MAX);
        assert_eq!(number(&value, "c"), 0);
        assert_eq!(number(&value, "missing"), 0);
    }
}
