//! The API's span JSON written back as an OTLP/JSON `ExportTraceServiceRequest`: what an
//! exported file holds, readable by `import`, the Collector and any OTLP receiver.
//!
//! Spans are grouped by resource and then by scope, in the order they come (start order).
//! Attribute values take the OTLP type their JSON says (a number with a fraction is a
//! double, one without an integer); attributes come in key order. What the API's JSON
//! cannot tell apart is written one way, so a file exported, imported and exported again
//! is the same file: bytes (base64 in the API) and the doubles NaN and ±Infinity (strings
//! there) come back as strings.

use serde_json::{Value, json};

use crate::models::{SpanKind, StatusCode};

/// A scope (with its schema URL) and its spans, as OTLP/JSON.
type ScopeSpans = (Value, Vec<Value>);

/// The request holding `spans` (the API's span JSON).
pub fn trace_request(spans: &[Value]) -> Value {
    // Resources with their scopes, in first-seen order.
    let mut resources: Vec<(Value, Vec<ScopeSpans>)> = Vec::new();
    for span in spans {
        let resource = resource(&span["resource"]);
        let scope = scope(&span["scope"]);
        let scope_url = span["scope"]["schemaUrl"].clone();
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
        scopes[at].1.push(otlp_span(span));
    }
    let resource_spans: Vec<Value> = resources
        .into_iter()
        .map(|(resource, scopes)| {
            let schema_url = resource["schemaUrl"].clone();
            let mut resource = resource;
            if let Some(object) = resource.as_object_mut() {
                object.remove("schemaUrl");
            }
            json!({
                "resource": resource,
                "scopeSpans": scopes.into_iter().map(|(key, spans)| json!({
                    "scope": key["scope"],
                    "spans": spans,
                    "schemaUrl": text(&key["schemaUrl"]),
                })).collect::<Vec<_>>(),
                "schemaUrl": text(&schema_url),
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
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
