//! The API's span, log record and metric point JSON written back as OTLP/JSON export
//! requests: what an
//! exported file holds, readable by `import`, the Collector and any OTLP receiver.
//!
//! Items are grouped by resource and then by scope, in the order they come.
//! Attribute values take the OTLP type their JSON says (a number with a fraction is a
//! double, one without an integer); attributes come in key order. What the API's JSON
//! cannot tell apart is written one way, so a file exported, imported and exported again
//! is the same file: bytes (base64 in the API) and the doubles NaN and ±Infinity (strings
//! there) come back as strings.

use serde_json::{Value, json};

use crate::models::{SpanKind, StatusCode};

/// A scope (with its schema URL) and its items, as OTLP/JSON.
type ScopeItems = (Value, Vec<Value>);

/// How one signal's request names its levels: (`resourceSpans`, `scopeSpans`, `spans`).
type Levels = (&'static str, &'static str, &'static str);

/// The request holding `spans` (the API's span JSON).
pub fn trace_request(spans: &[Value]) -> Value {
    grouped(
        spans,
        |s| (&s["resource"], &s["scope"]),
        ("resourceSpans", "scopeSpans", "spans"),
        otlp_span,
    )
}

/// The request holding `logs` (the API's log record JSON).
pub fn logs_request(logs: &[Value]) -> Value {
    grouped(
        logs,
        |l| (&l["resource"], &l["scope"]),
        ("resourceLogs", "scopeLogs", "logRecords"),
        otlp_log,
    )
}

/// `items` grouped by resource and then by scope (the API's JSON of each, as `origin`
/// tells), in first-seen order, each converted.
fn grouped<T>(
    items: &[T],
    origin: impl Fn(&T) -> (&Value, &Value),
    (outer, middle, inner): Levels,
    convert: impl Fn(&T) -> Value,
) -> Value {
    let mut resources: Vec<(Value, Vec<ScopeItems>)> = Vec::new();
    for item in items {
        let (item_resource, item_scope) = origin(item);
        let resource = resource(item_resource);
        let scope = scope(item_scope);
        let scope_url = item_scope["schemaUrl"].clone();
        let at = match resources.iter().position(|(r, _)| *r == resource) {
            Some(at) => at,
            None => {
                resources.push((resource, Vec::new()));
                resources.len() - 1
            }
        };
        let scopes = &mut resources[at].1;
        let key = json!({"scope": scope, "schemaUrl": scope_url});
        let at = match scopes.iter().position(|(s, _)| *s == key) {
            Some(at) => at,
            None => {
                scopes.push((key, Vec::new()));
                scopes.len() - 1
            }
        };
        scopes[at].1.push(convert(item));
    }
    let groups: Vec<Value> = resources
        .into_iter()
        .map(|(resource, scopes)| {
            let schema_url = resource["schemaUrl"].clone();
            let mut resource = resource;
            if let Some(object) = resource.as_object_mut() {
                object.remove("schemaUrl");
            }
            let scopes: Vec<Value> = scopes
                .into_iter()
                .map(|(key, items)| {
                    json!({
                        "scope": key["scope"],
                        inner: items,
                        "schemaUrl": text(&key["schemaUrl"]),
                    })
                })
                .collect();
            json!({
                "resource": resource,
                middle: scopes,
                "schemaUrl": text(&schema_url),
            })
        })
        .collect();
    json!({ outer: groups })
}

/// What a metric's points share, as the store keeps it.
#[derive(Debug, Clone)]
pub struct MetricStream {
    pub name: String,
    /// 1 gauge, 2 sum, 3 histogram, 4 exponential histogram, 5 summary.
    pub kind: i64,
    pub unit: String,
    pub description: String,
    /// OTLP's `AggregationTemporality`.
    pub temporality: i64,
    pub monotonic: bool,
}

/// One series of a metric as stored: the API's resource and scope JSON, the point
/// attributes, and its points (time, the point JSON as the API writes it), oldest first.
#[derive(Debug, Clone)]
pub struct StoredSeries {
    pub resource: Value,
    pub scope: Value,
    pub attributes: Value,
    pub points: Vec<(u64, Value)>,
}

/// The request holding `series` of the metric `stream`: a metric per resource and scope.
pub fn metrics_request(stream: &MetricStream, series: &[StoredSeries]) -> Value {
    let convert: fn(&Value, u64, &Value) -> Value = match stream.kind {
        3 => histogram_point,
        4 => exponential_point,
        5 => summary_point,
        _ => number_point,
    };
    // Grouped a series at a time: each becomes the array of its points.
    let mut request = grouped(
        series,
        |s| (&s.resource, &s.scope),
        ("resourceMetrics", "scopeMetrics", "dataPoints"),
        |s| {
            let shared = Value::Array(attributes(&s.attributes));
            s.points
                .iter()
                .map(|(time_ns, point)| convert(&shared, *time_ns, point))
                .collect()
        },
    );
    // Each scope's series' points become the one metric of this stream there.
    for resource in request["resourceMetrics"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for scope in resource["scopeMetrics"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let points: Vec<Value> =
                match scope.as_object_mut().and_then(|s| s.remove("dataPoints")) {
                    Some(Value::Array(series)) => series
                        .into_iter()
                        .flat_map(|points| match points {
                            Value::Array(points) => points,
                            _ => Vec::new(),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
            scope["metrics"] = json!([metric(stream, Value::Array(points))]);
        }
    }
    request
}

fn metric(stream: &MetricStream, points: Value) -> Value {
    let mut data = json!({ "dataPoints": points });
    if matches!(stream.kind, 2..=4) {
        data["aggregationTemporality"] = stream.temporality.into();
    }
    if stream.kind == 2 {
        data["isMonotonic"] = stream.monotonic.into();
    }
    let field = match stream.kind {
        1 => "gauge",
        2 => "sum",
        3 => "histogram",
        4 => "exponentialHistogram",
        _ => "summary",
    };
    json!({
        "name": stream.name,
        "description": stream.description,
        "unit": stream.unit,
        field: data,
    })
}

/// What every point has: its series' attributes (as OTLP key-values), start and time,
/// flags, exemplars.
fn point_base(series_attributes: &Value, time_ns: u64, p: &Value) -> Value {
    let mut out = json!({
        "attributes": series_attributes,
        "startTimeUnixNano": text_or_number(&p["startTimeUnixNano"]),
        "timeUnixNano": time_ns.to_string(),
    });
    if let Some(flags) = p["flags"].as_u64() {
        out["flags"] = flags.into();
    }
    if let Some(exemplars) = p["exemplars"].as_array() {
        out["exemplars"] = exemplars
            .iter()
            .map(|e| {
                let mut exemplar = json!({
                    "filteredAttributes": attributes(&e["filteredAttributes"]),
                    "timeUnixNano": text_or_number(&e["timeUnixNano"]),
                    "traceId": text(&e["traceId"]),
                    "spanId": text(&e["spanId"]),
                });
                if let Some((key, value)) = number(&e["value"]) {
                    exemplar[key] = value;
                }
                exemplar
            })
            .collect();
    }
    out
}

/// A gauge's or sum's value as OTLP writes it: `asInt` (a string) or `asDouble`.
fn number(value: &Value) -> Option<(&'static str, Value)> {
    match value {
        Value::Number(n) if n.is_f64() => Some(("asDouble", value.clone())),
        Value::Number(n) => Some(("asInt", n.to_string().into())),
        // NaN and ±Infinity, spelled as OTLP/JSON spells them.
        Value::String(_) => Some(("asDouble", value.clone())),
        _ => None,
    }
}

fn number_point(series_attributes: &Value, time_ns: u64, p: &Value) -> Value {
    let mut out = point_base(series_attributes, time_ns, p);
    if let Some((key, value)) = number(&p["value"]) {
        out[key] = value;
    }
    out
}

/// `count` (a 64-bit integer, so a string) and `sum`, `min`, `max` when the point has them.
fn totals(out: &mut Value, p: &Value) {
    out["count"] = text_or_number(&p["count"]).into();
    for name in ["sum", "min", "max"] {
        if !p[name].is_null() {
            out[name] = p[name].clone();
        }
    }
}

/// A list of 64-bit counts as OTLP/JSON writes them: strings.
fn counts(list: &Value) -> Value {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| Value::from(text_or_number(c)))
                .collect()
        })
        .unwrap_or_else(|| json!([]))
}

fn histogram_point(series_attributes: &Value, time_ns: u64, p: &Value) -> Value {
    let mut out = point_base(series_attributes, time_ns, p);
    totals(&mut out, p);
    out["bucketCounts"] = counts(&p["bucketCounts"]);
    out["explicitBounds"] = p["explicitBounds"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into();
    out
}

fn exponential_point(series_attributes: &Value, time_ns: u64, p: &Value) -> Value {
    let mut out = point_base(series_attributes, time_ns, p);
    totals(&mut out, p);
    out["scale"] = p["scale"].as_i64().unwrap_or(0).into();
    out["zeroCount"] = text_or_number(&p["zeroCount"]).into();
    out["zeroThreshold"] = p["zeroThreshold"].clone();
    // A side without buckets is stored as offset 0 and no counts, as if absent: written
    // as absent.
    for side in ["positive", "negative"] {
        let offset = p[side]["offset"].as_i64().unwrap_or(0);
        let buckets = counts(&p[side]["bucketCounts"]);
        if offset != 0 || buckets.as_array().is_some_and(|b| !b.is_empty()) {
            out[side] = json!({ "offset": offset, "bucketCounts": buckets });
        }
    }
    out
}

fn summary_point(series_attributes: &Value, time_ns: u64, p: &Value) -> Value {
    let mut out = point_base(series_attributes, time_ns, p);
    totals(&mut out, p);
    out["quantileValues"] = p["quantileValues"].clone();
    out
}

fn resource(r: &Value) -> Value {
    json!({
        "attributes": attributes(&r["attributes"]),
        "droppedAttributesCount": count(&r["droppedAttributesCount"]),
        "schemaUrl": text(&r["schemaUrl"]),
    })
}

fn scope(s: &Value) -> Value {
    json!({
        "name": text(&s["name"]),
        "version": text(&s["version"]),
        "attributes": attributes(&s["attributes"]),
        "droppedAttributesCount": count(&s["droppedAttributesCount"]),
    })
}

fn otlp_span(s: &Value) -> Value {
    let kind =
        serde_json::from_value::<SpanKind>(s["kind"].clone()).unwrap_or(SpanKind::Unspecified);
    let code = serde_json::from_value::<StatusCode>(s["status"]["code"].clone())
        .unwrap_or(StatusCode::Unset);
    json!({
        "traceId": text(&s["traceId"]),
        "spanId": text(&s["spanId"]),
        "traceState": text(&s["traceState"]),
        "parentSpanId": text(&s["parentSpanId"]),
        "flags": count(&s["flags"]),
        "name": text(&s["name"]),
        "kind": kind as i32,
        "startTimeUnixNano": text_or_number(&s["startTimeUnixNano"]),
        "endTimeUnixNano": text_or_number(&s["endTimeUnixNano"]),
        "attributes": attributes(&s["attributes"]),
        "droppedAttributesCount": count(&s["droppedAttributesCount"]),
        "events": s["events"].as_array().map_or(Vec::new(), |events| events.iter().map(|e| json!({
            "timeUnixNano": text_or_number(&e["timeUnixNano"]),
            "name": text(&e["name"]),
            "attributes": attributes(&e["attributes"]),
            "droppedAttributesCount": count(&e["droppedAttributesCount"]),
        })).collect()),
        "droppedEventsCount": count(&s["droppedEventsCount"]),
        "links": s["links"].as_array().map_or(Vec::new(), |links| links.iter().map(|l| json!({
            "traceId": text(&l["traceId"]),
            "spanId": text(&l["spanId"]),
            "traceState": text(&l["traceState"]),
            "attributes": attributes(&l["attributes"]),
            "droppedAttributesCount": count(&l["droppedAttributesCount"]),
            "flags": count(&l["flags"]),
        })).collect()),
        "droppedLinksCount": count(&s["droppedLinksCount"]),
        "status": {"message": text(&s["status"]["message"]), "code": code as i32},
    })
}

fn otlp_log(l: &Value) -> Value {
    let mut record = json!({
        "timeUnixNano": text_or_number(&l["timeUnixNano"]),
        "observedTimeUnixNano": text_or_number(&l["observedTimeUnixNano"]),
        "severityNumber": l["severityNumber"].as_i64().unwrap_or(0),
        "severityText": text(&l["severityText"]),
        "attributes": attributes(&l["attributes"]),
        "droppedAttributesCount": count(&l["droppedAttributesCount"]),
        "flags": count(&l["flags"]),
        "traceId": text(&l["traceId"]),
        "spanId": text(&l["spanId"]),
        "eventName": text(&l["eventName"]),
    });
    // A record without a body has none in OTLP either (an empty AnyValue is a value).
    if !l["body"].is_null() {
        record["body"] = any_value(&l["body"]);
    }
    record
}

/// An attribute object as OTLP key-values, in key order.
fn attributes(object: &Value) -> Vec<Value> {
    let Some(map) = object.as_object() else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|key| json!({"key": key, "value": any_value(&map[key])}))
        .collect()
}

/// One value as an OTLP `AnyValue`.
fn any_value(value: &Value) -> Value {
    match value {
        Value::Null => json!({}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_f64() => json!({"doubleValue": n}),
        Value::Number(n) => json!({"intValue": n.to_string()}),
        Value::String(s) => json!({"stringValue": s}),
        Value::Array(items) => {
            json!({"arrayValue": {"values": items.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let values: Vec<Value> = keys
                .into_iter()
                .map(|key| json!({"key": key, "value": any_value(&map[key])}))
                .collect();
            json!({"kvlistValue": {"values": values}})
        }
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// A nanosecond time as OTLP/JSON writes a 64-bit integer: a string.
fn text_or_number(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".into(),
    }
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}
