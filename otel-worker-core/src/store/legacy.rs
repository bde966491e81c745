//! Moving spans stored by the layout before migration 0006 (`legacy_spans`) into the
//! current one, whole traces at a time, in short steps: the migration itself copies
//! nothing, so it runs in bounded time on a full database. Each step stores the spans
//! again through the ingest path (which replaces nothing, counts them and summarizes
//! their traces) and deletes what it moved, in one transaction.

use super::row::{Body, ResourceRecord, ShapeRecord, SpanRow};
use super::{Batch, SpanRecord, Statement, Store, StoreError, decode, sql, write};
use crate::models::{self, Span};

/// Traces moved per step.
pub const TRACES_PER_STEP: u32 = 200;

impl Store {
    /// Whether spans of the old layout are left to move.
    pub async fn has_legacy_spans(&self) -> Result<bool, StoreError> {
        let rows = self
            .db
            .query(Statement::new(sql::ANY_LEGACY, vec![]))
            .await?;
        Ok(super::first_number::<i64>(&rows, "any").is_some_and(|any| any != 0))
    }

    /// Moves the spans of up to [`TRACES_PER_STEP`] traces; returns how many spans
    /// moved (0: none are left).
    pub async fn move_legacy_step(&self) -> Result<u64, StoreError> {
        let rows: Vec<SpanRow> = decode(
            &self
                .db
                .query(Statement::new(
                    sql::LEGACY_ROWS,
                    vec![super::Param::Int(i64::from(TRACES_PER_STEP))],
                ))
                .await?,
        )?;
        if rows.is_empty() {
            return Ok(0);
        }
        let moved = rows.len() as u64;
        let mut batch = Batch::default();
        for row in rows {
            let (record, resource, shape) = current_layout(row)?;
            if !batch.resources.iter().any(|r| r.id == resource.id) {
                batch.resources.push(resource);
            }
            if let Some(shape) = shape.filter(|s| !batch.shapes.iter().any(|b| b.id == s.id)) {
                batch.shapes.push(shape);
            }
            batch.spans.push(record);
        }
        // The ingest path deletes the legacy copies of what it stores, in the same
        // transaction: nothing is ever in both places, or in neither.
        let statements = write::export_statements(&[batch]);
        self.db.transaction(statements).await?;
        Ok(moved)
    }
}

/// A legacy row as the current layout stores it: read through the same code that
/// answers the API, then split again.
fn current_layout(
    row: SpanRow,
) -> Result<(SpanRecord, ResourceRecord, Option<ShapeRecord>), StoreError> {
    let span: Span = serde_json::from_str(row.into_json()?.get())
        .map_err(|e| StoreError::Other(format!("a legacy span does not read back: {e}")))?;
    let service_name = span
        .resource
        .attributes
        .get("service.name")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let resource = ResourceRecord::new(
        json_text(&span.resource),
        json_text(&span.scope),
        service_name.clone(),
    );
    let shape = (!span.attributes.is_empty()).then(|| ShapeRecord::of(&span.attributes));
    let body = Body {
        values: span.attributes.values().cloned().collect(),
        events: span.events,
        links: span.links,
        status_message: span.status.message,
        trace_state: span.trace_state,
        flags: span.flags,
        dropped_attributes_count: span.dropped_attributes_count,
        dropped_events_count: span.dropped_events_count,
        dropped_links_count: span.dropped_links_count,
        start_time_unix_nano: Body::exact_time(span.start_time_unix_nano),
        end_time_unix_nano: Body::exact_time(span.end_time_unix_nano),
    };
    let record = SpanRecord {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        name: span.name,
        kind: kind_number(span.kind),
        service_name,
        status_code: span.status.code.as_otlp(),
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        resource_id: resource.id,
        shape_id: shape.as_ref().map(|s| s.id),
        body: serde_json::to_string(&body).unwrap_or_default(),
    };
    Ok((record, resource, shape))
}

fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn kind_number(kind: models::SpanKind) -> i32 {
    match kind {
        models::SpanKind::Unspecified => 0,
        models::SpanKind::Internal => 1,
        models::SpanKind::Server => 2,
        models::SpanKind::Client => 3,
        models::SpanKind::Producer => 4,
        models::SpanKind::Consumer => 5,
    }
}
