//! Parsing what a reader asks for: ids in paths and the parameters of the trace and log
//! lists.
//! Every mistake is a [`QueryError`] that says what was wrong and where; the API answers
//! it with a 400, the CLI prints it.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::models::StatusCode;
use crate::store::logs::{LogCursor, LogQuery};
use crate::store::read::{DEFAULT_SPAN_PAGE, SpanCursor};
use crate::store::{Cursor, TraceListQuery};

/// What was wrong with a reader's request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("trace id {0:?} is not 32 hexadecimal characters")]
    TraceId(String),
    #[error("span id {0:?} is not 16 hexadecimal characters")]
    SpanId(String),
    /// A parameter the endpoint does not take, with the list of those it does.
    #[error("unknown parameter {name:?}; this endpoint takes {}", known.join(", "))]
    UnknownParameter {
        name: String,
        known: &'static [&'static str],
    },
    /// A known parameter whose value cannot be read.
    #[error("{message}")]
    InvalidValue {
        parameter: &'static str,
        message: String,
    },
}

impl QueryError {
    /// The parameter at fault, when there is one.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Self::TraceId(_) | Self::SpanId(_) => None,
            Self::UnknownParameter { name, .. } => Some(name),
            Self::InvalidValue { parameter, .. } => Some(parameter),
        }
    }
}

/// Traces per page when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: u32 = 20;
/// The largest `limit` accepted.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A trace id from a path: 32 hex characters, returned in lower case.
pub fn trace_id(text: &str) -> Result<String, QueryError> {
    hex_id(text, 32).ok_or_else(|| QueryError::TraceId(text.to_owned()))
}

/// A span id from a path: 16 hex characters, returned in lower case.
pub fn span_id(text: &str) -> Result<String, QueryError> {
    hex_id(text, 16).ok_or_else(|| QueryError::SpanId(text.to_owned()))
}

fn hex_id(text: &str, len: usize) -> Option<String> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// The parameters of `GET /v1/compare/traces`.
pub const COMPARE_TRACES_PARAMETERS: &[&str] = &["a", "b"];

/// The two trace ids of `GET /v1/compare/traces?a=ID&b=ID`, both required.
pub fn trace_pair(raw: Option<&str>) -> Result<(String, String), QueryError> {
    let (mut a, mut b) = (None, None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "a" => a = Some(trace_id(&value)?),
            "b" => b = Some(trace_id(&value)?),
            _ => {
                return Err(QueryError::UnknownParameter {
                    name: key.into_owned(),
                    known: COMPARE_TRACES_PARAMETERS,
                });
            }
        }
    }
    match (a, b) {
        (Some(a), Some(b)) => Ok((a, b)),
        (None, _) => Err(invalid("a", "a=<trace id> is required".into())),
        (_, None) => Err(invalid("b", "b=<trace id> is required".into())),
    }
}

/// `GET /v1/export/traces`: the search's filters (as `GET /v1/traces` takes them, without
/// `limit` or `before`) and `maxTraces`.
pub fn export_search(raw: Option<&str>) -> Result<(Group, Option<u32>), QueryError> {
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut max_traces = None;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key == "maxTraces" {
            max_traces = Some(at_least_one("maxTraces", &value)?);
        } else {
            rest.append_pair(&key, &value);
        }
    }
    Ok((filters_only("search", &rest.finish())?, max_traces))
}

/// A whole number from 1 for a bound like `maxTraces`.
fn at_least_one(parameter: &'static str, value: &str) -> Result<u32, QueryError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            invalid(
                parameter,
                format!("{parameter} {value:?} must be a whole number from 1"),
            )
        })
}

/// `GET /v1/export/logs`: the filters of `GET /v1/logs` (without `limit` or `before`: an
/// export reads every page) and `maxRecords`.
pub fn export_logs(raw: Option<&str>) -> Result<(LogQuery, Option<u32>), QueryError> {
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut max_records = None;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "maxRecords" => max_records = Some(at_least_one("maxRecords", &value)?),
            "limit" | "before" => {
                return Err(invalid(
                    if key == "limit" { "limit" } else { "before" },
                    format!("an export reads every page: leave out {key} (maxRecords bounds it)"),
                ));
            }
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    Ok((log_list(Some(&rest.finish()))?, max_records))
}

/// The parameters of `GET /v1/export/metrics`.
pub const EXPORT_METRICS_PARAMETERS: &[&str] = &["name", "service", "start", "end", "maxPoints"];

/// What `GET /v1/export/metrics` asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricExportQuery {
    /// Only this metric; every one when `None`.
    pub name: Option<String>,
    pub service: Option<String>,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    pub max_points: Option<u32>,
}

/// Reads the query string of `GET /v1/export/metrics`.
pub fn export_metrics(raw: Option<&str>) -> Result<MetricExportQuery, QueryError> {
    let mut found = parameters(raw, EXPORT_METRICS_PARAMETERS)?;
    Ok(MetricExportQuery {
        name: found.remove("name"),
        service: found.remove("service"),
        start_ns: found
            .get("start")
            .map(|t| instant("start", t))
            .transpose()?,
        end_ns: found.get("end").map(|t| instant("end", t)).transpose()?,
        max_points: found
            .get("maxPoints")
            .map(|t| at_least_one("maxPoints", t))
            .transpose()?,
    })
}

/// The parameters of `GET /v1/compare/groups`.
pub const COMPARE_GROUPS_PARAMETERS: &[&str] =
    &["baseline", "candidate", "maxTraces", "minSamples"];

/// One group of a comparison: its search as given, and as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub text: String,
    pub query: TraceListQuery,
}

/// `GET /v1/compare/groups`, read.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupsQuery {
    pub baseline: Group,
    pub candidate: Group,
    pub max_traces: Option<u32>,
    pub min_samples: Option<u64>,
}

/// Reads `baseline=<search>&candidate=<search>[&maxTraces=N][&minSamples=N]`, each search
/// the (URL-encoded) query string of `GET /v1/traces` without `limit` or `before`: a
/// group is every trace its filters match.
pub fn group_pair(raw: Option<&str>) -> Result<GroupsQuery, QueryError> {
    let (mut baseline, mut candidate, mut max_traces, mut min_samples) = (None, None, None, None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "baseline" => baseline = Some(filters_only("baseline", &value)?),
            "candidate" => candidate = Some(filters_only("candidate", &value)?),
            "maxTraces" => {
                max_traces = Some(value.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(
                    || {
                        invalid(
                            "maxTraces",
                            format!("maxTraces {value:?} must be a whole number from 1"),
                        )
                    },
                )?)
            }
            "minSamples" => {
                min_samples = Some(value.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(
                    || {
                        invalid(
                            "minSamples",
                            format!("minSamples {value:?} must be a whole number from 1"),
                        )
                    },
                )?)
            }
            _ => {
                return Err(QueryError::UnknownParameter {
                    name: key.into_owned(),
                    known: COMPARE_GROUPS_PARAMETERS,
                });
            }
        }
    }
    let missing = |name: &'static str| {
        invalid(
            name,
            format!("{name}=<search> is required: the query string of GET /v1/traces, URL-encoded"),
        )
    };
    Ok(GroupsQuery {
        baseline: baseline.ok_or_else(|| missing("baseline"))?,
        candidate: candidate.ok_or_else(|| missing("candidate"))?,
        max_traces,
        min_samples,
    })
}

/// A search of every trace its filters match (the query string of `GET /v1/traces`
/// without `limit` or `before`), named `name` in errors.
pub fn filters_only(name: &'static str, text: &str) -> Result<Group, QueryError> {
    for (key, _) in form_urlencoded::parse(text.as_bytes()) {
        if key == "limit" || key == "before" {
            return Err(invalid(
                name,
                format!(
                    "{name}: {key} has no place here: the search is every trace its filters match (maxTraces bounds how many are read)"
                ),
            ));
        }
    }
    let query = trace_list(Some(text)).map_err(|e| invalid(name, format!("{name}: {e}")))?;
    Ok(Group {
        text: text.to_owned(),
        query,
    })
}

/// The parameters `GET /v1/traces` understands; anything else is refused, so a typo
/// (`minduration`) cannot silently widen a search.
pub const LIST_PARAMETERS: &[&str] = &[
    "limit",
    "before",
    "start",
    "end",
    "service",
    "name",
    "root",
    "status",
    "minDuration",
    "maxDuration",
    "attr",
    "q",
];

/// Reads the query string of `GET /v1/traces` into a [`TraceListQuery`]. Empty values
/// count as not given, so a search form can send every field.
pub fn trace_list(raw: Option<&str>) -> Result<TraceListQuery, QueryError> {
    let mut query = TraceListQuery {
        limit: DEFAULT_LIST_LIMIT,
        ..TraceListQuery::default()
    };
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !LIST_PARAMETERS.contains(&key.as_ref()) {
            return Err(QueryError::UnknownParameter {
                name: key.into_owned(),
                known: LIST_PARAMETERS,
            });
        }
        if value.is_empty() {
            continue;
        }
        let value = value.into_owned();
        let filter = &mut query.span;
        match key.as_ref() {
            "limit" => query.limit = limit(&value)?,
            "before" => query.before = Some(cursor(&value)?),
            "start" => query.start_ns = Some(instant("start", &value)?),
            "end" => query.end_ns = Some(instant("end", &value)?),
            "service" => filter.service = Some(value),
            "name" => filter.name = Some(value),
            "root" => filter.root_only = boolean("root", &value)?,
            "status" => filter.status_code = Some(status(&value)?),
            "minDuration" => filter.min_duration_ns = Some(duration_ns("minDuration", &value)?),
            "maxDuration" => filter.max_duration_ns = Some(duration_ns("maxDuration", &value)?),
            "attr" => filter.attributes.push(attribute(&value)?),
            "q" => filter.text = Some(value),
            other => {
                return Err(QueryError::UnknownParameter {
                    name: other.to_owned(),
                    known: LIST_PARAMETERS,
                });
            }
        }
    }
    Ok(query)
}

fn invalid(parameter: &'static str, message: String) -> QueryError {
    QueryError::InvalidValue { parameter, message }
}

fn limit(text: &str) -> Result<u32, QueryError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => Ok(n),
        _ => Err(invalid(
            "limit",
            format!("limit {text:?} must be a whole number from 1 to {MAX_LIST_LIMIT}"),
        )),
    }
}

fn boolean(name: &'static str, text: &str) -> Result<bool, QueryError> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(
            name,
            format!("{name} {text:?} must be true or false"),
        )),
    }
}

/// `error`, `ok` or `unset` as the OTLP status code number.
fn status(text: &str) -> Result<i32, QueryError> {
    match text.to_ascii_lowercase().as_str() {
        "unset" => Ok(StatusCode::Unset.as_otlp()),
        "ok" => Ok(StatusCode::Ok.as_otlp()),
        "error" => Ok(StatusCode::Error.as_otlp()),
        _ => Err(invalid(
            "status",
            format!("status {text:?} must be error, ok or unset"),
        )),
    }
}

fn duration_ns(name: &'static str, text: &str) -> Result<u64, QueryError> {
    let duration =
        crate::duration::parse(text).map_err(|e| invalid(name, format!("{name}: {e}")))?;
    Ok(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
}

/// `key=value`, split at the first `=`, so values may contain `=`.
fn attribute(text: &str) -> Result<(String, String), QueryError> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(invalid(
            "attr",
            format!("attr {text:?} must be key=value, e.g. attr=http.route=/users"),
        )),
    }
}

/// Separates the two halves of a [`Cursor`] in its text form; never part of an instant.
const CURSOR_SEPARATOR: char = '_';

/// The `before` parameter: a cursor from `nextCursor` (`<startNs>_<traceId>`), or an
/// instant (all traces that started before it).
fn cursor(text: &str) -> Result<Cursor, QueryError> {
    if let Some((start, id)) = text.split_once(CURSOR_SEPARATOR) {
        return match (start.parse::<u64>(), hex_id(id, 32)) {
            (Ok(start_ns), Some(trace_id)) => Ok(Cursor {
                start_ns,
                trace_id: Some(trace_id),
            }),
            _ => Err(invalid(
                "before",
                format!("before {text:?} is not a cursor from nextCursor"),
            )),
        };
    }
    Ok(Cursor {
        start_ns: instant("before", text)?,
        trace_id: None,
    })
}

/// The `nextCursor` text of `cursor`: `<startNs>_<traceId>`, or `<startNs>` for "every
/// trace that started before" (a page that stopped early).
pub fn cursor_text(cursor: &Cursor) -> String {
    match &cursor.trace_id {
        Some(id) => format!("{}{CURSOR_SEPARATOR}{id}", cursor.start_ns),
        None => cursor.start_ns.to_string(),
    }
}

/// The largest page of a trace's spans.
pub const MAX_SPAN_PAGE: u32 = 10_000;

/// A page of a trace's spans: `limit` (1 to [`MAX_SPAN_PAGE`], default
/// [`DEFAULT_SPAN_PAGE`]) and `cursor` (a `nextSpansCursor`), under the names the
/// endpoint uses for them.
pub fn span_page(
    raw: Option<&str>,
    names: (&'static str, &'static str),
    known: &'static [&'static str],
) -> Result<(Option<SpanCursor>, u32), QueryError> {
    let (limit_name, cursor_name) = names;
    let mut page = (None, DEFAULT_SPAN_PAGE);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !known.contains(&key.as_ref()) {
            return Err(QueryError::UnknownParameter {
                name: key.into_owned(),
                known,
            });
        }
        if value.is_empty() {
            continue;
        }
        if key == limit_name {
            page.1 = match value.parse::<u32>() {
                Ok(n) if (1..=MAX_SPAN_PAGE).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        limit_name,
                        format!(
                            "{limit_name} {value:?} must be a whole number from 1 to {MAX_SPAN_PAGE}"
                        ),
                    ));
                }
            };
        } else if key == cursor_name {
            page.0 = Some(span_cursor(cursor_name, &value)?);
        }
    }
    Ok(page)
}

/// A cursor of a trace's spans: `<startNs>_<spanId>`.
fn span_cursor(name: &'static str, text: &str) -> Result<SpanCursor, QueryError> {
    text.split_once(CURSOR_SEPARATOR)
        .and_then(|(start, id)| {
            Some(SpanCursor {
                start_ns: start.parse().ok()?,
                span_id: hex_id(id, 16)?,
            })
        })
        .ok_or_else(|| {
            invalid(
                name,
                format!("{name} {text:?} is not a cursor from nextSpansCursor"),
            )
        })
}

/// The text of a span cursor, as `nextSpansCursor` carries it.
pub fn span_cursor_text(cursor: &SpanCursor) -> String {
    format!("{}{CURSOR_SEPARATOR}{}", cursor.start_ns, cursor.span_id)
}

/// The parameters of `GET /v1/attributes`.
pub const ATTRIBUTE_PARAMETERS: &[&str] = &["service", "scope", "limit"];
/// The parameters of `GET /v1/attributes/{key}/values`.
pub const VALUE_PARAMETERS: &[&str] = &["service", "prefix", "limit"];
/// Values listed when `limit` is not given, and the most.
pub const DEFAULT_VALUE_LIMIT: u32 = 20;
pub const MAX_VALUE_LIMIT: u32 = 1_000;

/// Simple `name=value` parameters, each at most once, all known; empty values count as
/// not given.
pub fn parameters(
    raw: Option<&str>,
    known: &'static [&'static str],
) -> Result<std::collections::HashMap<String, String>, QueryError> {
    let mut found = std::collections::HashMap::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !known.contains(&key.as_ref()) {
            return Err(QueryError::UnknownParameter {
                name: key.into_owned(),
                known,
            });
        }
        if !value.is_empty() {
            found.insert(key.into_owned(), value.into_owned());
        }
    }
    Ok(found)
}

/// The parameters of `GET /v1/metrics`.
pub const METRIC_LIST_PARAMETERS: &[&str] = &["service", "q", "limit"];

/// The parameters of `GET /v1/metrics/{name}`.
pub const METRIC_PARAMETERS: &[&str] = &["service", "attr", "start", "end", "step", "limit"];

/// Points per series `GET /v1/metrics/{name}` returns unless told otherwise, and at most.
pub const DEFAULT_POINT_LIMIT: u32 = 1_000;
pub const MAX_POINT_LIMIT: u32 = 10_000;

/// What `GET /v1/metrics/{name}` asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricQuery {
    pub service: Option<String>,
    pub attributes: Vec<(String, String)>,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    /// Fold the points into steps this long.
    pub step_ns: Option<u64>,
    /// The text of `step`, echoed in the answer.
    pub step: Option<String>,
    pub limit: u32,
}

/// Reads the query string of `GET /v1/metrics/{name}`.
pub fn metric(raw: Option<&str>) -> Result<MetricQuery, QueryError> {
    let mut query = MetricQuery {
        limit: DEFAULT_POINT_LIMIT,
        ..MetricQuery::default()
    };
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !METRIC_PARAMETERS.contains(&key.as_ref()) {
            return Err(QueryError::UnknownParameter {
                name: key.into_owned(),
                known: METRIC_PARAMETERS,
            });
        }
        if value.is_empty() {
            continue;
        }
        let value = value.into_owned();
        match key.as_ref() {
            "service" => query.service = Some(value),
            "attr" => query.attributes.push(attribute(&value)?),
            "start" => query.start_ns = Some(instant("start", &value)?),
            "end" => query.end_ns = Some(instant("end", &value)?),
            "step" => {
                let ns = duration_ns("step", &value)?;
                if ns < 1_000_000 {
                    return Err(invalid(
                        "step",
                        format!("step {value:?} must be at least 1ms"),
                    ));
                }
                query.step_ns = Some(ns);
                query.step = Some(value);
            }
            _ => {
                query.limit = match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_POINT_LIMIT).contains(&n) => n,
                    _ => {
                        return Err(invalid(
                            "limit",
                            format!(
                                "limit {value:?} must be a whole number from 1 to {MAX_POINT_LIMIT}"
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(query)
}

/// Whether an attribute value reads as `text` the way `attr` filters compare: a string
/// equal to it, or a number or boolean written the same.
pub fn attribute_matches(value: &serde_json::Value, text: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s == text,
        serde_json::Value::Number(n) => n.to_string() == text,
        serde_json::Value::Bool(b) => b.to_string() == text,
        _ => false,
    }
}

/// The parameters `GET /v1/logs` understands.
pub const LOG_PARAMETERS: &[&str] = &[
    "limit", "before", "start", "end", "service", "severity", "traceId", "spanId", "attr", "q",
];

/// The parameters of `GET /v1/traces/{traceId}/logs`.
pub const TRACE_LOG_PARAMETERS: &[&str] = &["limit", "cursor"];

/// Log records per page when `limit` is not given; a trace's records per page.
pub const DEFAULT_LOG_LIMIT: u32 = 100;
pub const DEFAULT_TRACE_LOG_LIMIT: u32 = 1_000;

/// Reads the query string of `GET /v1/logs` into a [`LogQuery`].
pub fn log_list(raw: Option<&str>) -> Result<LogQuery, QueryError> {
    let mut query = LogQuery {
        limit: DEFAULT_LOG_LIMIT,
        ..LogQuery::default()
    };
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !LOG_PARAMETERS.contains(&key.as_ref()) {
            return Err(QueryError::UnknownParameter {
                name: key.into_owned(),
                known: LOG_PARAMETERS,
            });
        }
        if value.is_empty() {
            continue;
        }
        let value = value.into_owned();
        match key.as_ref() {
            "limit" => query.limit = limit(&value)?,
            "before" => query.cursor = Some(log_cursor("before", &value)?),
            "start" => query.start_ns = Some(instant("start", &value)?),
            "end" => query.end_ns = Some(instant("end", &value)?),
            "service" => query.service = Some(value),
            "severity" => query.min_severity = Some(severity(&value)?),
            "traceId" => query.trace_id = Some(trace_id(&value)?),
            "spanId" => query.span_id = Some(span_id(&value)?),
            "attr" => query.attributes.push(attribute(&value)?),
            _ => query.text = Some(value),
        }
    }
    Ok(query)
}

/// A page of a trace's log records: `limit` (1 to [`MAX_SPAN_PAGE`], default
/// [`DEFAULT_TRACE_LOG_LIMIT`]) and `cursor` (a `nextCursor`).
pub fn trace_log_page(raw: Option<&str>) -> Result<(Option<LogCursor>, u32), QueryError> {
    let params = parameters(raw, TRACE_LOG_PARAMETERS)?;
    let limit = match params.get("limit") {
        None => DEFAULT_TRACE_LOG_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_SPAN_PAGE).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "limit",
                    format!("limit {text:?} must be a whole number from 1 to {MAX_SPAN_PAGE}"),
                ));
            }
        },
    };
    let cursor = params
        .get("cursor")
        .map(|text| log_cursor("cursor", text))
        .transpose()?;
    Ok((cursor, limit))
}

/// The OTLP severity numbers where each named level starts.
pub const SEVERITY_LEVELS: &[(&str, i32)] = &[
    ("trace", 1),
    ("debug", 5),
    ("info", 9),
    ("warn", 13),
    ("error", 17),
    ("fatal", 21),
];

/// `severity`: a level name (that level and above) or a severity number from 1 to 24.
pub fn severity(text: &str) -> Result<i32, QueryError> {
    let lower = text.to_ascii_lowercase();
    let named = match lower.as_str() {
        "warning" => Some(13),
        name => SEVERITY_LEVELS
            .iter()
            .find(|(level, _)| *level == name)
            .map(|(_, n)| *n),
    };
    named
        .or_else(|| text.parse::<i32>().ok().filter(|n| (1..=24).contains(n)))
        .ok_or_else(|| {
            invalid(
                "severity",
                format!(
                    "severity {text:?} must be trace, debug, info, warn, error, fatal or a \
                     number from 1 to 24"
                ),
            )
        })
}

/// The name of the level a severity number belongs to (`None` for 0, unspecified).
pub fn severity_name(number: i32) -> Option<&'static str> {
    SEVERITY_LEVELS
        .iter()
        .rev()
        .find(|(_, start)| number >= *start && number <= 24)
        .map(|(name, _)| *name)
}

/// A log cursor: `<timeNs>_<identity>`.
fn log_cursor(name: &'static str, text: &str) -> Result<LogCursor, QueryError> {
    text.split_once(CURSOR_SEPARATOR)
        .and_then(|(time, identity)| {
            Some(LogCursor {
                time_ns: time.parse().ok()?,
                identity: identity.parse().ok()?,
            })
        })
        .ok_or_else(|| {
            invalid(
                name,
                format!("{name} {text:?} is not a cursor from nextCursor"),
            )
        })
}

/// The text of a log cursor, as `nextCursor` carries it.
pub fn log_cursor_text(cursor: &LogCursor) -> String {
    format!("{}{CURSOR_SEPARATOR}{}", cursor.time_ns, cursor.identity)
}

/// The `scope` of attribute discovery: `span` or `resource`.
pub fn attribute_scope(text: &str) -> Result<&'static str, QueryError> {
    match text {
        "span" => Ok("span"),
        "resource" => Ok("resource"),
        _ => Err(invalid(
            "scope",
            format!("scope {text:?} must be span or resource"),
        )),
    }
}

/// The `limit` of attribute values.
pub fn value_limit(text: Option<&String>) -> Result<u32, QueryError> {
    let Some(text) = text else {
        return Ok(DEFAULT_VALUE_LIMIT);
    };
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_VALUE_LIMIT).contains(&n) => Ok(n),
        _ => Err(invalid(
            "limit",
            format!("limit {text:?} must be a whole number from 1 to {MAX_VALUE_LIMIT}"),
        )),
    }
}

/// Attribute keys (`GET /v1/attributes`) or metrics (`GET /v1/metrics`) listed when
/// `limit` is not given, and the most: an answer stays a few hundred KB however many a
/// store holds.
pub const DEFAULT_CATALOG_LIMIT: u32 = 1_000;
pub const MAX_CATALOG_LIMIT: u32 = 10_000;

/// The `limit` of a list of attribute keys or metrics.
pub fn catalog_limit(text: Option<&String>) -> Result<usize, QueryError> {
    let Some(text) = text else {
        return Ok(DEFAULT_CATALOG_LIMIT as usize);
    };
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_CATALOG_LIMIT).contains(&n) => Ok(n as usize),
        _ => Err(invalid(
            "limit",
            format!("limit {text:?} must be a whole number from 1 to {MAX_CATALOG_LIMIT}"),
        )),
    }
}

/// An instant as RFC 3339 (`2025-02-18T10:00:00Z`) or unix nanoseconds, given as
/// `parameter`.
fn instant(parameter: &'static str, text: &str) -> Result<u64, QueryError> {
    if let Ok(ns) = text.parse::<u64>() {
        return Ok(ns);
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos()).ok())
        .ok_or_else(|| {
            invalid(
                parameter,
                format!("{text:?} is neither an RFC 3339 time nor unix nanoseconds"),
            )
        })
}

/// The parameters of `POST /v1/traces/{traceId}/share`.
pub const SHARE_PARAMETERS: &[&str] = &["expires"];

/// How long a share link lasts (`expires`, a duration from a minute to 90 days; 7 days
/// unless asked), in seconds.
pub fn share_expiry(raw: Option<&str>) -> Result<u64, QueryError> {
    let found = parameters(raw, SHARE_PARAMETERS)?;
    let Some(text) = found.get("expires") else {
        return Ok(crate::share::DEFAULT_EXPIRY_SECONDS);
    };
    let invalid = |message: String| QueryError::InvalidValue {
        parameter: "expires",
        message,
    };
    let seconds = crate::duration::parse(text).map_err(invalid)?.as_secs();
    if !(60..=crate::share::MAX_EXPIRY_SECONDS).contains(&seconds) {
        return Err(invalid(format!(
            "expires={text} is out of range: a link lasts from 1m to 90d"
        )));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_normalised_to_lower_case_and_checked() {
        assert_eq!(trace_id(&"AB".repeat(16)).unwrap(), "ab".repeat(16));
        assert!(trace_id("xyz").is_err());
        assert!(trace_id(&"g".repeat(32)).is_err());
        assert!(span_id(&"0".repeat(15)).is_err());
        assert_eq!(span_id("00F067AA0BA902B7").unwrap(), "00f067aa0ba902b7");
    }

    #[test]
    fn list_parameters() {
        let parse = |query: &str| trace_list(Some(query));
        assert_eq!(parse("").unwrap().limit, DEFAULT_LIST_LIMIT);
        assert_eq!(parse("limit=1000").unwrap().limit, 1000);
        for bad in ["0", "1001", "-1", "ten"] {
            assert!(
                parse(&format!("limit={bad}")).is_err(),
                "limit {bad} passed"
            );
        }
        let before = |q: &str| parse(q).unwrap().before.unwrap();
        assert_eq!(
            before("before=2025-02-18T10:00:00.5Z"),
            Cursor {
                start_ns: 1_739_872_800_500_000_000,
                trace_id: None
            }
        );
        assert_eq!(before("before=17").start_ns, 17);
        let id = "ab".repeat(16);
        assert_eq!(
            before(&format!("before=17_{}", id.to_uppercase())),
            Cursor {
                start_ns: 17,
                trace_id: Some(id)
            }
        );
        for bad in [
            "before=yesterday",
            "before=17_xyz",
            "before=x_",
            "status=failed",
        ] {
            assert!(parse(bad).is_err(), "{bad} passed");
        }
    }

    #[test]
    fn every_filter_is_read_and_typos_are_refused() {
        let query = trace_list(Some(
            "service=checkout&name=GET%20%2Fusers&root=true&status=ERROR&minDuration=250ms\
             &maxDuration=1.5s&attr=http.route%3D%2Fusers&attr=q%3Da%3Db&q=timeout\
             &start=1000&end=2000&service=",
        ))
        .unwrap();
        assert_eq!(query.start_ns, Some(1000));
        assert_eq!(query.end_ns, Some(2000));
        assert_eq!(
            query.span,
            crate::store::SpanFilter {
                service: Some("checkout".into()),
                name: Some("GET /users".into()),
                root_only: true,
                status_code: Some(2),
                min_duration_ns: Some(250_000_000),
                max_duration_ns: Some(1_500_000_000),
                attributes: vec![
                    ("http.route".into(), "/users".into()),
                    ("q".into(), "a=b".into())
                ],
                text: Some("timeout".into()),
            }
        );
        let error = trace_list(Some("minduration=1s")).unwrap_err().to_string();
        assert!(
            error.contains("unknown parameter \"minduration\""),
            "{error}"
        );
        assert_eq!(
            trace_list(Some("minduration=1s")).unwrap_err().parameter(),
            Some("minduration")
        );
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("start=yesterday", "start"),
            ("end=x", "end"),
            ("before=x_", "before"),
            ("root=yes", "root"),
            ("status=bad", "status"),
            ("maxDuration=fast", "maxDuration"),
            ("attr=novalue", "attr"),
        ] {
            let error = trace_list(Some(query)).unwrap_err();
            assert_eq!(error.parameter(), Some(parameter), "{query}: {error}");
        }
        assert!(trace_list(Some("attr=novalue")).is_err());
        assert!(trace_list(Some("attr==x")).is_err());
        assert!(trace_list(Some("minDuration=fast")).is_err());
        assert!(trace_list(Some("root=yes")).is_err());
    }
}
