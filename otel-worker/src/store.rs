//! Spans in Cloudflare D1, with the SQL of `otel_worker_core::store::sql` and the schema of
//! `migrations/`.
//!
//! An export is written with ONE `D1Database::batch` call, which D1 runs as one
//! transaction: a few `INSERT ... SELECT ... FROM json_each(?1)` statements (each carrying
//! up to [`MAX_STATEMENT_JSON_BYTES`] of rows as one bound string) for the resources and
//! the spans, and one statement that refreshes the `traces` rows. Nanoseconds are bound and read as text, because D1 hands
//! numbers to JavaScript as doubles.

use std::sync::Arc;

use async_trait::async_trait;
use otel_worker_core::models::{Service, TraceSummary};
use otel_worker_core::store::{
    Batch, Pruned, SpanRow, Store, StoreError, TraceListQuery, ns_to_column, sql,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::d1::{D1Usage, Database};

/// Largest JSON text bound to one insert statement. D1's documented string/row limit has
/// been 1,000,000 bytes and later 2 MB; staying under the smaller fits both.
pub const MAX_STATEMENT_JSON_BYTES: usize = 900_000;

/// Spans in a D1 database.
pub struct D1Store {
    db: Database,
}

impl D1Store {
    /// A store on `db` that counts what it asks of D1 in `usage`.
    pub fn new(db: D1Database, usage: Arc<D1Usage>) -> Self {
        Self {
            db: Database::new(db, usage),
        }
    }

    fn statement(&self, sql: &str, params: &[JsValue]) -> Result<D1PreparedStatement, StoreError> {
        self.db.statement(sql, params)
    }

    async fn rows<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        params: &[JsValue],
    ) -> Result<Vec<T>, StoreError> {
        self.db.rows(sql, params).await
    }
}

fn spans_json(rows: Vec<SpanRow>) -> Result<Vec<Box<RawValue>>, StoreError> {
    rows.into_iter().map(SpanRow::into_json).collect()
}

fn summaries(rows: Vec<sql::SummaryRow>) -> Result<Vec<TraceSummary>, StoreError> {
    rows.into_iter()
        .map(sql::SummaryRow::into_summary)
        .collect()
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

/// The largest span row D1 takes, with room for the other columns (see above).
pub const MAX_SPAN_BYTES: usize = MAX_STATEMENT_JSON_BYTES - 4_096;

#[async_trait]
impl Store for D1Store {
    fn max_span_bytes(&self) -> Option<usize> {
        Some(MAX_SPAN_BYTES)
    }

    async fn insert(&self, batch: Batch) -> Result<(), StoreError> {
        let resources = sql::resource_rows_json(&batch.resources, MAX_STATEMENT_JSON_BYTES);
        let spans = sql::span_rows_json(&batch.spans, MAX_STATEMENT_JSON_BYTES);
        let trace_ids = sql::trace_ids_json(&batch.spans);
        self.db
            .batch(|| {
                let mut statements = Vec::new();
                for chunk in &resources {
                    statements.push(self.statement(sql::INSERT_RESOURCES_JSON, &[text(chunk)])?);
                }
                for chunk in &spans {
                    statements.push(self.statement(sql::INSERT_SPANS_JSON, &[text(chunk)])?);
                }
                statements.push(self.statement(sql::REFRESH_TRACES, &[text(&trace_ids)])?);
                Ok(statements)
            })
            .await?;
        Ok(())
    }

    async fn list_traces(&self, query: TraceListQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let statement = sql::list_traces(&query);
        let params: Vec<JsValue> = statement
            .params
            .iter()
            .map(|p| p.as_deref().map_or(JsValue::NULL, text))
            .collect();
        summaries(self.rows(&statement.sql, &params).await?)
    }

    async fn services(&self) -> Result<Vec<Service>, StoreError> {
        self.rows::<sql::ServiceRow>(sql::SERVICES, &[])
            .await?
            .into_iter()
            .map(sql::ServiceRow::into_service)
            .collect()
    }

    async fn trace_summary(&self, trace_id: &str) -> Result<Option<TraceSummary>, StoreError> {
        let rows = self.rows(&sql::trace_summary(), &[text(trace_id)]).await?;
        Ok(summaries(rows)?.pop())
    }

    async fn trace_spans(&self, trace_id: &str) -> Result<Vec<Box<RawValue>>, StoreError> {
        spans_json(self.rows(&sql::trace_spans(), &[text(trace_id)]).await?)
    }

    async fn span(
        &self,
        trace_id: &str,
        span_id: &str,
    ) -> Result<Option<Box<RawValue>>, StoreError> {
        Ok(spans_json(
            self.rows(&sql::span(), &[text(trace_id), text(span_id)])
                .await?,
        )?
        .pop())
    }

    async fn delete_trace(&self, trace_id: &str) -> Result<bool, StoreError> {
        let changes = self
            .db
            .batch(|| {
                Ok(vec![
                    self.statement(sql::DELETE_TRACE_SPANS, &[text(trace_id)])?,
                    self.statement(sql::DELETE_TRACE, &[text(trace_id)])?,
                ])
            })
            .await?;
        Ok(changes.first().is_some_and(|n| *n > 0))
    }

    async fn delete_span(&self, trace_id: &str, span_id: &str) -> Result<bool, StoreError> {
        let changes = self
            .db
            .batch(|| {
                Ok(vec![
                    self.statement(sql::DELETE_SPAN, &[text(trace_id), text(span_id)])?,
                    self.statement(sql::REFRESH_TRACES, &[text(&sql::json_array(&[trace_id]))])?,
                    self.statement(sql::FORGET_EMPTY_TRACE, &[text(trace_id)])?,
                ])
            })
            .await?;
        Ok(changes.first().is_some_and(|n| *n > 0))
    }

    async fn prune(&self, cutoff_ns: u64, max_traces: u32) -> Result<Pruned, StoreError> {
        let cutoff = text(&ns_to_column(cutoff_ns).to_string());
        let limit = JsValue::from(max_traces);
        let changes = self
            .db
            .batch(|| {
                Ok(vec![
                    self.statement(&sql::prune_spans(), &[cutoff.clone(), limit.clone()])?,
                    self.statement(&sql::prune_traces(), &[cutoff.clone(), limit.clone()])?,
                ])
            })
            .await?;
        let count = |i: usize| changes.get(i).copied().unwrap_or(0) as u64;
        Ok(Pruned {
            spans: count(0),
            traces: count(1),
        })
    }
}
