//! From a decoded export to rows: validates each span and renders it as the API's JSON.
//!
//! Validation is per span, as OTLP asks: a span that can never be valid is rejected and
//! counted, and the rest of the export is still stored.

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as otlp;
use rustc_hash::FxHashSet;
use serde_json::{Map, Number, Value};

use super::Bounds;
use crate::models::{self, Attributes, StatusCode};
use crate::store::{Batch, Body, ResourceRecord, ShapeRecord, SpanRecord};

/// What an export turns into: the rows to store and what was rejected.
#[derive(Debug, Default)]
pub struct Rows {
    pub batch: Batch,
    pub rejected: u64,
    /// The first rejection, for the response's `error_message`.
    pub first_error: Option<String>,
}

/// Validates and converts every span of an export; spans outside `bounds` (too large as
/// stored, dated too far ahead) are rejected. Each resource and scope is written once, not per span.
pub fn to_rows(request: ExportTraceServiceRequest, bounds: impl Into<Bounds>) -> Rows {
    let bounds = bounds.into();
    let mut rows = Rows::default();
    let (mut shapes_seen, mut resources_seen) = (FxHashSet::default(), FxHashSet::default());
    for resource_spans in request.resource_spans {
        let resource = ResourceText::of(
            &resource_spans.resource.unwrap_or_default(),
            resource_spans.schema_url,
        );
        for scope_spans in resource_spans.scope_spans {
            let pair = resource.with_scope(
                scope_spans.scope.unwrap_or_default(),
                scope_spans.schema_url,
            );
            let resource_id = pair.id;
            let mut used = false;
            let too_large = bounds.resource_too_large(&pair);
            for span in scope_spans.spans {
                let record = match &too_large {
                    Some(problem) => Err(format!("span {:?}: {problem}", span.name)),
                    None => span_record(span, resource_id, &resource.service_name, &bounds),
                };
                match record {
                    Ok((record, shape)) => {
                        used = true;
                        if let Some(shape) = shape.filter(|s| shapes_seen.insert(s.id)) {
                            rows.batch.shapes.push(shape);
                        }
                        rows.batch.spans.push(record);
                    }
                    Err(problem) => {
                        rows.rejected += 1;
                        rows.first_error.get_or_insert(problem);
                    }
                }
            }
            if used && resources_seen.insert(resource_id) {
                rows.batch.resources.push(pair);
            }
        }
    }
    rows
}

/// A resource as stored: its JSON and its `service.name`, when that is a string.
pub(super) struct ResourceText {
    json: String,
    service_name: Option<String>,
}

impl ResourceText {
    pub(super) fn of(resource: &Resource, schema_url: String) -> Self {
        let service_name = resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.clone()),
                _ => None,
            });
        let json = json_text(&models::Resource {
            attributes: attributes(&resource.attributes),
            dropped_attributes_count: resource.dropped_attributes_count,
            schema_url,
        });
        Self { json, service_name }
    }

    /// The stored pair of this resource and `scope`.
    pub(super) fn with_scope(
        &self,
        scope: InstrumentationScope,
        schema_url: String,
    ) -> ResourceRecord {
        let scope_json = json_text(&models::Scope {
            name: scope.name,
            version: scope.version,
            attributes: attributes(&scope.attributes),
            dropped_attributes_count: scope.dropped_attributes_count,
            schema_url,
        });
        ResourceRecord::new(self.json.clone(), scope_json, self.service_name.clone())
    }
}

/// Resource and scope models always serialize (string keys, finite numbers).
fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Most attribute values one span, event, link, log record or metric point may carry,
/// the entries of array and map values included. OpenTelemetry SDKs keep 128 by default;
/// the cap stops an export of a few megabytes of empty attributes from becoming
/// hundreds of megabytes stored.
pub const MAX_ATTRIBUTES: usize = 10_000;

/// Most events one span may carry (SDKs keep 128 by default).
pub const MAX_EVENTS: usize = 10_000;

/// Most links one span may carry (SDKs keep 128 by default).
pub const MAX_LINKS: usize = 10_000;

/// Why `attributes` cannot be stored: more values than [`MAX_ATTRIBUTES`].
pub(super) fn too_many_attributes(attributes: &[KeyValue], of: &str) -> Option<String> {
    let mut count = 0;
    for kv in attributes {
        count_value(kv.value.as_ref(), &mut count);
    }
    (count > MAX_ATTRIBUTES).then(|| {
        format!(
            "{of} has more than {MAX_ATTRIBUTES} attribute values (this server's limit, \
             nested values included)"
        )
    })
}

/// Counts a value and the values nested in it, stopping once past [`MAX_ATTRIBUTES`].
fn count_value(value: Option<&AnyValue>, count: &mut usize) {
    *count += 1;
    if *count > MAX_ATTRIBUTES {
        return;
    }
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::ArrayValue(array)) => {
            for item in &array.values {
                count_value(Some(item), count);
            }
        }
        Some(any_value::Value::KvlistValue(list)) => {
            for kv in &list.values {
                count_value(kv.value.as_ref(), count);
            }
        }
        _ => {}
    }
}

/// Why a span can never be stored, or `None` when it can.
fn invalid_reason(span: &otlp::Span) -> Option<String> {
    let describe = |what: &str, id: &[u8], len: usize| {
        if id.len() != len {
            Some(format!(
                "{what} must be {len} bytes ({} hex characters), got {} bytes",
                len * 2,
                id.len()
            ))
        } else if id.iter().all(|b| *b == 0) {
            Some(format!("{what} must not be all zeros"))
        } else {
            None
        }
    };
    if let Some(problem) = describe("trace id", &span.trace_id, 16) {
        return Some(problem);
    }
    if let Some(problem) = describe("span id", &span.span_id, 8) {
        return Some(problem);
    }
    if !span.parent_span_id.is_empty() && span.parent_span_id.len() != 8 {
        return Some(format!(
            "parent span id must be empty or 8 bytes (16 hex characters), got {} bytes",
            span.parent_span_id.len()
        ));
    }
    if span.events.len() > MAX_EVENTS {
        return Some(format!(
            "it has {} events, more than this server's limit of {MAX_EVENTS}",
            span.events.len()
        ));
    }
    if span.links.len() > MAX_LINKS {
        return Some(format!(
            "it has {} links, more than this server's limit of {MAX_LINKS}",
            span.links.len()
        ));
    }
    too_many_attributes(&span.attributes, "it")
        .or_else(|| {
            span.events
                .iter()
                .find_map(|e| too_many_attributes(&e.attributes, "an event"))
        })
        .or_else(|| {
            span.links
                .iter()
                .find_map(|l| too_many_attributes(&l.attributes, "a link"))
        })
}

fn span_record(
    span: otlp::Span,
    resource_id: i64,
    service_name: &Option<String>,
    bounds: &Bounds,
) -> Result<(SpanRecord, Option<ShapeRecord>), String> {
    if let Some(problem) = invalid_reason(&span)
        .or_else(|| bounds.too_late(span.start_time_unix_nano.max(span.end_time_unix_nano)))
    {
        return Err(format!("span {:?}: {problem}", span.name));
    }
    // An all-zero parent is how some SDKs spell "no parent".
    let parent_span_id =
        (!span.parent_span_id.iter().all(|b| *b == 0)).then(|| hex::encode(&span.parent_span_id));
    let status = span.status.unwrap_or_default();
    let status_code = StatusCode::from_otlp(status.code);
    let span_attributes = attributes(&span.attributes);
    let shape = (!span_attributes.is_empty()).then(|| ShapeRecord::of(&span_attributes));
    let body = Body {
        values: span_attributes
            .into_iter()
            .map(|(_, value)| value)
            .collect(),
        events: span
            .events
            .into_iter()
            .map(|e| models::Event {
                name: e.name,
                time_unix_nano: e.time_unix_nano,
                attributes: attributes(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        links: span
            .links
            .into_iter()
            .map(|l| models::Link {
                trace_id: hex::encode(&l.trace_id),
                span_id: hex::encode(&l.span_id),
                trace_state: l.trace_state,
                attributes: attributes(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        status_message: status.message,
        trace_state: span.trace_state,
        flags: span.flags,
        dropped_attributes_count: span.dropped_attributes_count,
        dropped_events_count: span.dropped_events_count,
        dropped_links_count: span.dropped_links_count,
        start_time_unix_nano: Body::exact_time(span.start_time_unix_nano),
        end_time_unix_nano: Body::exact_time(span.end_time_unix_nano),
    };
    let body = serde_json::to_string(&body)
        .map_err(|e| format!("span {:?} cannot be written as JSON: {e}", span.name))?;
    if let Some(limit) = bounds.max_item_bytes.filter(|limit| body.len() > *limit) {
        return Err(format!(
            "span {:?} is {} bytes as stored, more than this server's limit of {limit}",
            span.name,
            body.len()
        ));
    }
    let record = SpanRecord {
        trace_id: hex::encode(&span.trace_id),
        span_id: hex::encode(&span.span_id),
        parent_span_id,
        name: span.name,
        kind: span.kind,
        service_name: service_name.clone(),
        status_code: status_code.as_otlp(),
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        resource_id,
        shape_id: shape.as_ref().map(|s| s.id),
        body,
    };
    Ok((record, shape))
}

/// OTLP attributes as a JSON object; of repeated keys the last one wins.
pub fn attributes(list: &[KeyValue]) -> Attributes {
    list.iter()
        .map(|kv| (kv.key.clone(), any_value(kv.value.as_ref())))
        .collect()
}

/// One OTLP value as natural JSON: exact i64 integers, doubles that stay doubles, bytes as
/// base64, kvlists as objects, no value as `null`.
pub fn any_value(value: Option<&AnyValue>) -> Value {
    let Some(value) = value.and_then(|v| v.value.as_ref()) else {
        return Value::Null;
    };
    match value {
        any_value::Value::StringValue(s) => Value::String(s.clone()),
        any_value::Value::BoolValue(b) => Value::Bool(*b),
        any_value::Value::IntValue(i) => Value::Number((*i).into()),
        // JSON has no NaN or infinities: they are written as OTLP/JSON spells them.
        any_value::Value::DoubleValue(d) => match Number::from_f64(*d) {
            Some(n) => Value::Number(n),
            None if d.is_nan() => Value::String("NaN".into()),
            None if *d > 0.0 => Value::String("Infinity".into()),
            None => Value::String("-Infinity".into()),
        },
        any_value::Value::ArrayValue(list) => {
            Value::Array(list.values.iter().map(|v| any_value(Some(v))).collect())
        }
        any_value::Value::KvlistValue(list) => Value::Object(
            list.values
                .iter()
                .map(|kv| (kv.key.clone(), any_value(kv.value.as_ref())))
                .collect::<Map<_, _>>(),
        ),
        any_value::Value::BytesValue(bytes) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        // An index into a profiles string table; traces have no such table.
        any_value::Value::StringValueStrindex(_) => Value::Null,
    }
}
