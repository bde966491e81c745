//! How a span is laid out in the database, and put back together for reads.
//!
//! A span is split three ways so a million of them fit in well under half a gigabyte:
//! the columns the API filters and sorts on; a compact JSON `body` with everything else
//! (attributes, events, links, ...) and no default values; and its resource and scope,
//! stored once per distinct pair in `resources` and shared by every span that has them.
//! [`SpanRow::into_json`] reassembles exactly the [`crate::models::Span`] JSON.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::StoreError;
use crate::models::{self, Attributes, SpanKind, StatusCode};

/// A resource and scope pair as stored in `resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRecord {
    /// A 53-bit hash of the two JSON texts (see [`resource_id`]).
    pub id: i64,
    /// [`models::Resource`] JSON.
    pub resource: String,
    /// [`models::Scope`] JSON.
    pub scope: String,
}

impl ResourceRecord {
    pub fn new(resource: String, scope: String) -> Self {
        Self {
            id: resource_id(&resource, &scope),
            resource,
            scope,
        }
    }
}

/// The key of a resource and scope pair: the low 53 bits of xxh3 of both texts. 53 bits
/// because the key is also the row id, which D1 reports to JavaScript as a double: larger
/// ones would come back inexact and fail to parse. Rows migrated from the first schema got
/// negative keys, so the two can never meet. Two distinct pairs sharing a key becomes
/// likely only around 100 million distinct pairs.
pub fn resource_id(resource: &str, scope: &str) -> i64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(resource.as_bytes());
    hasher.update(&[0xff]);
    hasher.update(scope.as_bytes());
    (hasher.digest() & ((1 << 53) - 1)) as i64
}

/// What `body` holds: the span minus its columns, resource and scope. Empty and zero
/// fields are left out; the exact timestamps appear only when a column had to clamp
/// them (past 2^63-1 ns).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    #[serde(skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
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
}

impl SpanRow {
    /// The row the database hands back for `record` stored with `resource`: what reads
    /// see, without a database (for tests and fuzzing of the write path).
    pub fn from_record(record: &super::SpanRecord, resource: Option<&ResourceRecord>) -> Self {
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
        }
    }

    /// The span as the API's JSON; a row that does not parse is a storage error.
    pub fn into_json(self) -> Result<Box<RawValue>, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Other(format!(
                "stored span {}/{} has a broken {what}: {e}",
                self.trace_id, self.span_id
            ))
        };
        let body: BodyRef = serde_json::from_str(&self.body).map_err(|e| corrupt("body", e))?;
        let resource =
            borrowed_json(self.resource.as_deref()).map_err(|e| corrupt("resource", e))?;
        let scope = borrowed_json(self.scope.as_deref()).map_err(|e| corrupt("scope", e))?;
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
            attributes: body.attributes.unwrap_or(&EMPTY_OBJECT),
            resource: resource.unwrap_or(&EMPTY_RESOURCE),
            scope: scope.unwrap_or(&EMPTY_SCOPE),
            events: body.events.unwrap_or(&EMPTY_ARRAY),
            links: body.links.unwrap_or(&EMPTY_ARRAY),
            dropped_attributes_count: body.dropped_attributes_count,
            dropped_events_count: body.dropped_events_count,
            dropped_links_count: body.dropped_links_count,
        };
        serde_json::value::to_raw_value(&out).map_err(|e| corrupt("span", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_keys_are_stable_distinct_and_exact_in_javascript() {
        let a = resource_id(r#"{"attributes":{"service.name":"a"}}"#, "{}");
        let b = resource_id(r#"{"attributes":{"service.name":"b"}}"#, "{}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            resource_id(r#"{"attributes":{"service.name":"a"}}"#, "{}")
        );
        for key in [a, b] {
            assert!((0..1 << 53).contains(&key), "{key}");
        }
    }
}
