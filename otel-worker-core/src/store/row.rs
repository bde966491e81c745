//! How a span is laid out in the database, and put back together for reads.
//!
//! A span is split four ways so a million of them fit in well under half a gigabyte:
//! the columns the API filters and sorts on; its resource and scope, stored once per
//! distinct pair in `resources`; the keys of its attributes, stored once per distinct key
//! set in `attribute_shapes`; and a compact JSON `body` with the attribute values (`"v"`,
//! in the order of the shape's keys) and everything else (events, links, ...) without
//! default values. [`SpanRow::into_json`] reassembles exactly the [`crate::models::Span`]
//! JSON.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::StoreError;
use crate::models::{self, Attributes, SpanKind, StatusCode};

/// A resource and scope pair as stored in `resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRecord {
    /// A 53-bit hash of the two JSON texts (see [`content_id`]).
    pub id: i64,
    /// [`models::Resource`] JSON.
    pub resource: String,
    /// [`models::Scope`] JSON.
    pub scope: String,
    /// The resource's `service.name`, when it is a string.
    pub service_name: Option<String>,
}

impl ResourceRecord {
    pub fn new(resource: String, scope: String, service_name: Option<String>) -> Self {
        Self {
            id: content_id(&[&resource, &scope]),
            resource,
            scope,
            service_name,
        }
    }
}

/// The sorted attribute keys of spans, as stored in `attribute_shapes`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeRecord {
    /// A 53-bit hash of `keys` (see [`content_id`]).
    pub id: i64,
    /// The keys as a JSON array of strings.
    pub keys: String,
}

impl ShapeRecord {
    /// The shape of `attributes` (keys in the map's order, which is sorted).
    pub fn of(attributes: &Attributes) -> Self {
        let keys: Vec<&String> = attributes.keys().collect();
        let keys = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".to_owned());
        Self {
            id: content_id(&[&keys]),
            keys,
        }
    }
}

/// The key of content stored once and shared (a resource and scope pair, a key set): the
/// low 53 bits of xxh3 of the texts. 53 bits because the key is also the row id, which
/// D1 reports to JavaScript as a double: larger ones would come back inexact and fail to
/// parse. Rows migrated from the first schema got negative keys, so the two can never
/// meet. Two distinct contents sharing a key becomes likely only around 100 million.
pub fn content_id(parts: &[&str]) -> i64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(&[0xff]);
        }
        hasher.update(part.as_bytes());
    }
    (hasher.digest() & ((1 << 53) - 1)) as i64
}

/// What `body` holds: the span minus its columns, resource, scope and attribute keys.
/// Empty and zero fields are left out; the exact timestamps appear only when a column had
/// to clamp them (past 2^63-1 ns).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    /// The attribute values, in the order of the span's shape.
    #[serde(rename = "v", skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<models::Event>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<models::Link>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub flags: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_events_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_links_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_unix_nano: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time_unix_nano: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Body {
    /// Keeps the exact value of a timestamp its column cannot hold.
    pub fn exact_time(ns: u64) -> Option<String> {
        (ns > i64::MAX as u64).then(|| ns.to_string())
    }
}

/// `body` as read back; large parts stay unparsed JSON and are copied through.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BodyRef<'a> {
    /// Attribute values of the current layout, in shape order.
    #[serde(borrow, rename = "v")]
    values: Option<Vec<&'a RawValue>>,
    /// The whole attribute object, as rows of `legacy_spans` keep it.
    #[serde(borrow)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow)]
    events: Option<&'a RawValue>,
    #[serde(borrow)]
    links: Option<&'a RawValue>,
    status_message: String,
    /// Rows migrated from the first schema keep the status object.
    status: Option<StatusRef>,
    trace_state: String,
    flags: u32,
    dropped_attributes_count: u32,
    dropped_events_count: u32,
    dropped_links_count: u32,
    start_time_unix_nano: Option<String>,
    end_time_unix_nano: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusRef {
    message: String,
}

/// The API's span JSON, written straight from a row without building a [`models::Span`].
/// Field order and names match [`models::Span`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpanOut<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    parent_span_id: Option<&'a str>,
    name: &'a str,
    kind: SpanKind,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    duration_ns: u64,
    trace_state: &'a str,
    flags: u32,
    status: StatusOut<'a>,
    attributes: &'a RawValue,
    resource: &'a RawValue,
    scope: &'a RawValue,
    events: &'a RawValue,
    links: &'a RawValue,
    dropped_attributes_count: u32,
    dropped_events_count: u32,
    dropped_links_count: u32,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    code: StatusCode,
    message: &'a str,
}

static EMPTY_OBJECT: LazyLock<Box<RawValue>> = LazyLock::new(|| raw("{}"));
static EMPTY_ARRAY: LazyLock<Box<RawValue>> = LazyLock::new(|| raw("[]"));
static EMPTY_RESOURCE: LazyLock<Box<RawValue>> =
    LazyLock::new(|| raw(r#"{"attributes":{},"droppedAttributesCount":0,"schemaUrl":""}"#));
static EMPTY_SCOPE: LazyLock<Box<RawValue>> = LazyLock::new(|| {
    raw(r#"{"name":"","version":"","attributes":{},"droppedAttributesCount":0,"schemaUrl":""}"#)
});

/// Stored JSON text as a `RawValue` borrowed from the row, checked but not copied.
fn borrowed_json(text: Option<&str>) -> serde_json::Result<Option<&RawValue>> {
    text.map(serde_json::from_str).transpose()
}

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap_or_else(|_| unreachable!("constant JSON"))
}

/// One span as the span queries of [`super::sql`] return it, named as they name their
/// columns.
#[derive(Debug, Clone, Deserialize)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: i32,
    pub status_code: i32,
    /// Nanoseconds as text (D1 would turn larger integers into doubles).
    pub start_ns: String,
    pub end_ns: String,
    pub body: String,
    /// `None` only if the span's resource row went missing; the span is still shown.
    pub resource: Option<String>,
    pub scope: Option<String>,
    /// The JSON array of attribute keys; `None` for a span without attributes.
    #[serde(default)]
    pub shape: Option<String>,
}

impl SpanRow {
    /// The row the database hands back for `record` stored with `resource` and `shape`:
    /// what reads see, without a database (for tests and fuzzing of the write path).
    pub fn from_record(
        record: &super::SpanRecord,
        resource: Option<&ResourceRecord>,
        shape: Option<&ShapeRecord>,
    ) -> Self {
        Self {
            trace_id: record.trace_id.clone(),
            span_id: record.span_id.clone(),
            parent_span_id: record.parent_span_id.clone(),
            name: record.name.clone(),
            kind: record.kind,
            status_code: record.status_code,
            start_ns: super::ns_to_column(record.start_ns).to_string(),
            end_ns: super::ns_to_column(record.end_ns).to_string(),
            body: record.body.clone(),
            resource: resource.map(|r| r.resource.clone()),
            scope: resource.map(|r| r.scope.clone()),
            shape: shape.map(|s| s.keys.clone()),
        }
    }

    fn corrupt(&self, what: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Other(format!(
            "stored span {}/{} has a broken {what}: {e}",
            self.trace_id, self.span_id
        ))
    }

    /// The attribute object's JSON text: the shape's keys zipped with the body's values
    /// (or a legacy row's whole object); `None` when there are none.
    fn attribute_json(&self, body: &BodyRef) -> Result<Option<String>, StoreError> {
        if let Some(legacy) = body.attributes {
            return Ok(Some(legacy.get().to_owned()));
        }
        let Some(values) = body.values.as_ref().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let keys: Vec<String> = match self.shape.as_deref() {
            Some(shape) => serde_json::from_str(shape).map_err(|e| self.corrupt("shape", e))?,
            None => return Err(self.corrupt("shape", "the attribute keys are missing")),
        };
        if keys.len() != values.len() {
            return Err(self.corrupt(
                "shape",
                format!("{} keys for {} values", keys.len(), values.len()),
            ));
        }
        let mut out = String::with_capacity(values.iter().map(|v| v.get().len() + 24).sum());
        out.push('{');
        for (i, (key, value)) in keys.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key).map_err(|e| self.corrupt("shape", e))?);
            out.push(':');
            out.push_str(value.get());
        }
        out.push('}');
        Ok(Some(out))
    }

    /// The span as the API's JSON; a row that does not parse is a storage error.
    pub fn into_json(self) -> Result<Box<RawValue>, StoreError> {
        let body: BodyRef =
            serde_json::from_str(&self.body).map_err(|e| self.corrupt("body", e))?;
        let attributes = self.attribute_json(&body)?;
        let attributes = attributes
            .map(RawValue::from_string)
            .transpose()
            .map_err(|e| self.corrupt("attributes", e))?;
        let resource =
            borrowed_json(self.resource.as_deref()).map_err(|e| self.corrupt("resource", e))?;
        let scope = borrowed_json(self.scope.as_deref()).map_err(|e| self.corrupt("scope", e))?;
        let ns = |exact: &Option<String>, column: &str| -> Result<u64, StoreError> {
            let text = exact.as_deref().unwrap_or(column);
            text.parse::<u64>().map_err(|_| {
                StoreError::Other(format!("stored timestamp {text:?} is not a number"))
            })
        };
        let start = ns(&body.start_time_unix_nano, &self.start_ns)?;
        let end = ns(&body.end_time_unix_nano, &self.end_ns)?;
        let message = match &body.status {
            Some(status) if body.status_message.is_empty() => status.message.as_str(),
            _ => body.status_message.as_str(),
        };
        let out = SpanOut {
            trace_id: &self.trace_id,
            span_id: &self.span_id,
            parent_span_id: self.parent_span_id.as_deref(),
            name: &self.name,
            kind: SpanKind::from_otlp(self.kind),
            start_time_unix_nano: start.to_string(),
            end_time_unix_nano: end.to_string(),
            duration_ns: end.saturating_sub(start),
            trace_state: &body.trace_state,
            flags: body.flags,
            status: StatusOut {
                code: StatusCode::from_otlp(self.status_code),
                message,
            },
            attributes: attributes.as_deref().unwrap_or(&EMPTY_OBJECT),
            resource: resource.unwrap_or(&EMPTY_RESOURCE),
            scope: scope.unwrap_or(&EMPTY_SCOPE),
            events: body.events.unwrap_or(&EMPTY_ARRAY),
            links: body.links.unwrap_or(&EMPTY_ARRAY),
            dropped_attributes_count: body.dropped_attributes_count,
            dropped_events_count: body.dropped_events_count,
            dropped_links_count: body.dropped_links_count,
        };
        serde_json::value::to_raw_value(&out).map_err(|e| self.corrupt("span", e))
    }
}

/// The attribute values of a body of the current layout, in shape order (the search
/// summaries zip them with the shape's keys themselves).
pub(crate) fn attribute_values(body: &str) -> Result<Vec<Value>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Values {
        #[serde(default, rename = "v")]
        values: Vec<Value>,
    }
    serde_json::from_str::<Values>(body).map(|b| b.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_keys_are_stable_distinct_and_exact_in_javascript() {
        let a = content_id(&[r#"{"attributes":{"service.name":"a"}}"#, "{}"]);
        let b = content_id(&[r#"{"attributes":{"service.name":"b"}}"#, "{}"]);
        assert_ne!(a, b);
        assert_eq!(
            a,
            content_id(&[r#"{"attributes":{"service.name":"a"}}"#, "{}"])
        );
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(content_id(&["ab", "c"]), content_id(&["a", "bc"]));
        for key in [a, b] {
            assert!((0..1 << 53).contains(&key), "{key}");
        }
    }

    #[test]
    fn a_shape_zips_back_into_the_attribute_object() {
        let mut attributes = Attributes::new();
        attributes.insert("z.last".into(), Value::from(1));
        attributes.insert("a \"quoted\" key".into(), Value::from("x"));
        let shape = ShapeRecord::of(&attributes);
        assert_eq!(shape.keys, r#"["a \"quoted\" key","z.last"]"#);
        let body = Body {
            values: attributes.values().cloned().collect(),
            ..Body::default()
        };
        let row = SpanRow {
            trace_id: "t".into(),
            span_id: "s".into(),
            parent_span_id: None,
            name: "n".into(),
            kind: 1,
            status_code: 0,
            start_ns: "1".into(),
            end_ns: "2".into(),
            body: serde_json::to_string(&body).unwrap(),
            resource: None,
            scope: None,
            shape: Some(shape.keys),
        };
        let keys: Vec<String> = serde_json::from_str(row.shape.as_deref().unwrap()).unwrap();
        let zipped: Attributes = keys
            .into_iter()
            .zip(attribute_values(&row.body).unwrap())
            .collect();
        assert_eq!(zipped, attributes);
        let span: models::Span = serde_json::from_str(row.into_json().unwrap().get()).unwrap();
        assert_eq!(span.attributes, attributes);
    }
}
