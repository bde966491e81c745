//! Storing an export: one transaction that appends its spans, replaces any stored copies
//! of them (a retried export is stored once), counts them, and writes the summary of
//! every trace they belong to.

use std::collections::HashSet;

use rustc_hash::FxHashSet;

use super::metrics::{PointRecord as MetricPoint, SeriesRecord as MetricSeries};
use super::{Batch, Param, SpanRecord, Statement, Store, StoreError, ns_param, sql};

impl Store {
    /// Stores one export in one transaction; a store at its budget makes room first.
    pub async fn insert(&self, mut batch: Batch) -> Result<(), StoreError> {
        self.make_room().await?;
        if let Some(hot) = self.hot()
            && !batch.spans.is_empty()
        {
            // The spans become segments of the hot tier (one row an export); log records
            // and metric points, if any, are stored as rows below.
            let spans = std::mem::take(&mut batch.spans);
            self.insert_segments(hot, spans, &batch.resources, &batch.shapes)
                .await?;
            batch.drop_unused_resources_and_shapes();
            if batch.logs.is_empty()
                && batch.series.is_empty()
                && batch.points.is_empty()
                && batch.sampled_out == 0
            {
                return Ok(());
            }
        }
        self.db.ingest(batch).await.map_err(named_collision)
    }
}

/// What a log record's insert reports when its time and identity belong to a different
/// stored record (see [`sql::INSERT_LOG`]): SQLite's words for it, and ours.
const LOG_COLLISION: (&str, &str) = (
    "NOT NULL constraint failed: logs.identity",
    "two different log records share one time and 53-bit identity; the export was refused \
     rather than one of them dropped",
);

/// Says which collision an export ran into, when SQLite's message is all there is.
fn named_collision(error: StoreError) -> StoreError {
    match error {
        StoreError::Other(message) if message.contains(LOG_COLLISION.0) => {
            StoreError::Other(format!("{} ({message})", LOG_COLLISION.1))
        }
        other => other,
    }
}

impl Batch {
    /// Leaves out the resources and attribute key sets none of the batch's spans, log
    /// records or series uses (after some of them were left out, by sampling).
    pub fn drop_unused_resources_and_shapes(&mut self) {
        let resources: FxHashSet<i64> = (self.spans.iter().map(|s| s.resource_id))
            .chain(self.logs.iter().map(|l| l.resource_id))
            .chain(self.series.iter().map(|s| s.resource_id))
            .collect();
        let shapes: FxHashSet<i64> = (self.spans.iter().filter_map(|s| s.shape_id))
            .chain(self.logs.iter().filter_map(|l| l.shape_id))
            .collect();
        self.resources.retain(|r| resources.contains(&r.id));
        self.shapes.retain(|s| shapes.contains(&s.id));
    }

    /// Several exports as one (for a home that commits them together).
    pub fn merge(batches: impl IntoIterator<Item = Batch>) -> Batch {
        let mut merged = Batch::default();
        let mut seen: FxHashSet<(u8, i64)> = FxHashSet::default();
        for batch in batches {
            for resource in batch.resources {
                if seen.insert((0, resource.id)) {
                    merged.resources.push(resource);
                }
            }
            for shape in batch.shapes {
                if seen.insert((1, shape.id)) {
                    merged.shapes.push(shape);
                }
            }
            merged.spans.extend(batch.spans);
            merged.logs.extend(batch.logs);
            for series in batch.series {
                if seen.insert((2, series.id)) {
                    merged.series.push(series);
                }
            }
            merged.points.extend(batch.points);
            merged.sampled_out += batch.sampled_out;
        }
        merged
    }
}

/// The statements that store `batches` as one export, in order. A home that commits
/// several exports together passes them all: nothing is copied but the parameters.
pub fn export_statements(batches: &[Batch]) -> Vec<Statement> {
    let mut statements = Vec::with_capacity(12);
    let sampled_out: u64 = batches.iter().map(|b| b.sampled_out).sum();
    if sampled_out > 0 {
        statements.push(Statement::new(
            sql::ADD_TO_COUNTER,
            vec![
                sql::SAMPLED_OUT_SPANS.into(),
                Param::Text(sampled_out.to_string()),
            ],
        ));
    }
    let all = || batches.iter();
    if all().all(|b| b.spans.is_empty() && b.logs.is_empty() && b.points.is_empty()) {
        return statements;
    }
    let mut seen = HashSet::new();
    let resources: Vec<Vec<Param>> = all()
        .flat_map(|b| &b.resources)
        .filter(|r| seen.insert(r.id))
        .map(|r| {
            vec![
                Param::Text(r.id.to_string()),
                r.resource.as_str().into(),
                r.scope.as_str().into(),
                r.service_name.as_deref().into(),
            ]
        })
        .collect();
    if !resources.is_empty() {
        statements.push(Statement::Rows {
            per_row: sql::INSERT_RESOURCE,
            as_json: sql::INSERT_RESOURCES_JSON,
            rows: resources,
        });
    }
    let mut seen = HashSet::new();
    let shapes: Vec<Vec<Param>> = all()
        .flat_map(|b| &b.shapes)
        .filter(|s| seen.insert(s.id))
        .map(|s| vec![Param::Text(s.id.to_string()), s.keys.as_str().into()])
        .collect();
    if !shapes.is_empty() {
        statements.push(Statement::Rows {
            per_row: sql::INSERT_SHAPE,
            as_json: sql::INSERT_SHAPES_JSON,
            rows: shapes,
        });
    }
    let mut seen = HashSet::new();
    let series: Vec<&MetricSeries> = all()
        .flat_map(|b| &b.series)
        .filter(|s| seen.insert(s.id))
        .collect();
    // Points from exports merged together may repeat one another: the first copy counts.
    let mut seen = HashSet::new();
    let points: Vec<&MetricPoint> = all()
        .flat_map(|b| &b.points)
        .filter(|p| seen.insert((p.series_id, p.time_ns)))
        .collect();
    statements.extend(super::metrics::statements(&series, &points));
    if all().any(|b| !b.logs.is_empty()) {
        statements.push(Statement::new(sql::MARK_LOGS, vec![]));
        statements.push(Statement::Rows {
            per_row: sql::INSERT_LOG,
            as_json: sql::INSERT_LOGS_JSON,
            rows: all()
                .flat_map(|b| &b.logs)
                .map(super::logs::log_params)
                .collect(),
        });
        statements.push(Statement::new(sql::COUNT_NEW_LOGS, vec![]));
    }
    if all().all(|b| b.spans.is_empty()) {
        return statements;
    }
    statements.push(Statement::new(sql::MARK_INGEST, vec![]));
    // A span sent twice is stored once: the later copy wins.
    let mut seen = HashSet::new();
    let mut spans: Vec<&SpanRecord> = all()
        .rev()
        .flat_map(|b| b.spans.iter().rev())
        .filter(|s| seen.insert((s.trace_id.as_str(), s.span_id.as_str())))
        .collect();
    // Sorted by trace, so the export's spans of one trace are one range of rows.
    spans.sort_unstable_by(|a, b| (&a.trace_id, &a.span_id).cmp(&(&b.trace_id, &b.span_id)));
    statements.push(Statement::Rows {
        per_row: sql::INSERT_SPAN,
        as_json: sql::INSERT_SPANS_JSON,
        rows: spans.into_iter().map(span_params).collect(),
    });
    let after_insert = [
        sql::NOTE_REPLACED,
        sql::COUNT_EXPORT,
        sql::COUNT_NEW_SPANS,
        sql::UNCOUNT_REPLACED,
        sql::DELETE_REPLACED[0],
        sql::UNCOUNT_REPLACED_LEGACY,
        sql::DELETE_REPLACED_LEGACY,
        sql::SUMMARIZE_TOUCHED_TRACES,
        sql::SUMMARIZE_TRACES_IN_FULL,
        sql::DELETE_REPLACED[1],
    ];
    statements.extend(
        after_insert
            .into_iter()
            .map(|sql| Statement::new(sql, vec![])),
    );
    statements
}

/// The parameters of [`sql::INSERT_SPAN`] for one span.
fn span_params(s: &SpanRecord) -> Vec<Param> {
    vec![
        s.trace_id.as_str().into(),
        s.span_id.as_str().into(),
        s.parent_span_id.as_deref().into(),
        s.name.as_str().into(),
        Param::Int(i64::from(s.kind)),
        Param::Int(i64::from(s.status_code)),
        ns_param(s.start_ns),
        ns_param(s.end_ns),
        Param::Text(s.resource_id.to_string()),
        s.shape_id.map(|id| id.to_string()).into(),
        s.body.as_str().into(),
    ]
}
