//! Reading back: trace summaries, a trace's spans page by page, one span, the services,
//! and what is stored.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Param, SpanRow, Statement, Store, StoreError, TraceListQuery, ns_param, sql};
use crate::models::{AttributeKey, AttributeValue, Service, StoreStats, TraceSummary};

/// The most spans of one trace read at once, unless a page asks for fewer.
pub const DEFAULT_SPAN_PAGE: u32 = 1_000;

/// Where a page of a trace's spans starts: after the span that ended the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanCursor {
    pub start_ns: u64,
    pub span_id: String,
}

/// One page of a trace's spans, in start order, and where the next page starts.
#[derive(Debug)]
pub struct SpanPage {
    pub spans: Vec<Box<RawValue>>,
    pub next: Option<SpanCursor>,
}

impl Store {
    /// The summary of one trace, `None` when it has no spans.
    pub async fn trace_summary(&self, trace_id: &str) -> Result<Option<TraceSummary>, StoreError> {
        if self.archive().is_none() {
            let rows: Vec<SummaryRow> = self
                .rows(Statement::new(sql::trace_summary(), vec![trace_id.into()]))
                .await?;
            let summary = rows.into_iter().next().map(SummaryRow::into_summary);
            return Ok(summary.transpose()?.filter(|s| s.span_count > 0));
        }
        // The span rows first, then the archive: a trace archived in between is then read
        // twice, never missed, and its spans the rows held count once, as the rows'.
        #[derive(Deserialize)]
        struct WithIds {
            #[serde(flatten)]
            summary: SummaryRow,
            span_ids: Option<String>,
        }
        let row: Option<WithIds> = self
            .rows(Statement::new(
                sql::trace_summary_and_span_ids(),
                vec![trace_id.into()],
            ))
            .await?
            .pop();
        let (summary, hot) = match row {
            Some(row) => {
                let ids: std::collections::HashSet<String> =
                    serde_json::from_str(row.span_ids.as_deref().unwrap_or("[]")).map_err(|e| {
                        StoreError::Other(format!("stored span ids are not JSON: {e}"))
                    })?;
                let summary = row.summary.into_summary()?;
                (Some(summary).filter(|s| s.span_count > 0), ids)
            }
            None => (None, Default::default()),
        };
        let archived = self.archived_trace(trace_id).await?;
        if archived.records.is_empty() {
            return Ok(summary);
        }
        let parts = summary.into_iter().chain(archived.summary(&hot)).collect();
        Ok(crate::archive::lookup::merge_summaries(parts))
    }

    /// Summaries of the newest traces in the query's range and before its cursor,
    /// whatever their spans (the span filter is not applied here).
    pub async fn recent_traces(
        &self,
        query: &TraceListQuery,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let mut b = sql::Builder::default();
        let conditions = range_conditions(&mut b, query);
        summaries(
            self.rows(sql::traces_where(b, conditions, query.limit))
                .await?,
        )
    }

    /// One page of a trace's spans in start order: at most `limit`, after `after`.
    pub async fn trace_spans(
        &self,
        trace_id: &str,
        after: Option<&SpanCursor>,
        limit: u32,
    ) -> Result<SpanPage, StoreError> {
        let limit = limit.max(1);
        let rows: Vec<SpanRow> = self
            .rows(Statement::new(
                sql::trace_spans(),
                vec![
                    trace_id.into(),
                    after.map(|c| ns_param(c.start_ns)).unwrap_or(Param::Null),
                    after.map(|c| c.span_id.as_str()).into(),
                    // One more tells whether there is a next page.
                    Param::Int(i64::from(limit) + 1),
                ],
            ))
            .await?;
        let mut rows = rows;
        if self.archive().is_some() {
            // The archived spans after the cursor join the page in the same order; a span
            // also in the span rows (sent again after it was archived) is shown once.
            let hot: std::collections::HashSet<String> =
                rows.iter().map(|r| r.span_id.clone()).collect();
            let key = |r: &SpanRow| (r.start_ns.parse::<u64>().unwrap_or(0), r.span_id.clone());
            let cursor = after.map(|c| (c.start_ns, c.span_id.clone()));
            let archived = self.archived_trace(trace_id).await?.spans;
            rows.extend(
                archived
                    .into_iter()
                    .filter(|r| !hot.contains(&r.span_id))
                    .filter(|r| cursor.as_ref().is_none_or(|c| key(r) > *c)),
            );
            rows.sort_by_key(key);
        }
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more.then(|| rows.last()).flatten().map(|last| SpanCursor {
            start_ns: last.start_ns.parse().unwrap_or(0),
            span_id: last.span_id.clone(),
        });
        let spans = rows
            .into_iter()
            .map(SpanRow::into_json)
            .collect::<Result<_, _>>()?;
        Ok(SpanPage { spans, next })
    }

    /// One span as the API's JSON.
    pub async fn span(
        &self,
        trace_id: &str,
        span_id: &str,
    ) -> Result<Option<Box<RawValue>>, StoreError> {
        let rows: Vec<SpanRow> = self
            .rows(Statement::new(
                sql::span(),
                vec![trace_id.into(), span_id.into()],
            ))
            .await?;
        if let Some(row) = rows.into_iter().next() {
            return row.into_json().map(Some);
        }
        if self.archive().is_none() {
            return Ok(None);
        }
        let archived = self.archived_trace(trace_id).await?;
        archived
            .spans
            .into_iter()
            .find(|r| r.span_id == span_id)
            .map(SpanRow::into_json)
            .transpose()
    }

    /// Every service name seen, with its span count and latest span end, by name.
    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows: Vec<ServiceRow> = self.rows(Statement::new(sql::SERVICES, vec![])).await?;
        rows.into_iter().map(ServiceRow::into_service).collect()
    }

    /// What this store holds, against its budget.
    pub async fn holdings(&self) -> Result<StoreStats, StoreError> {
        let rows: Vec<HoldingsRow> = self
            .rows(Statement::new(
                sql::STATS,
                vec![Param::Int(crate::archive::compact::SPANS)],
            ))
            .await?;
        let row = rows.into_iter().next().unwrap_or_default();
        let failed_writes = match self.archive() {
            Some(_) => self.counter("archive_failed_writes").await?,
            None => 0,
        };
        let number = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<u64>().ok());
        // The hot tier is the span rows and, on the Worker, the segments: a trace whose
        // spans came in several exports counts once per export until compacted.
        let hot: HotRow = row
            .hot
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let hot_number = |text: &str| text.parse::<u64>().unwrap_or(0);
        let earliest = [number(&row.oldest), number(&hot.oldest)]
            .into_iter()
            .flatten()
            .min();
        let latest = [number(&row.newest), number(&hot.newest)]
            .into_iter()
            .flatten()
            .max();
        Ok(StoreStats {
            spans: number(&row.spans).unwrap_or(0) + hot_number(&hot.spans),
            traces: number(&row.traces).unwrap_or(0) + hot_number(&hot.traces),
            logs: number(&row.logs).unwrap_or(0),
            metric_points: number(&row.metric_points).unwrap_or(0),
            metric_series: number(&row.metric_series).unwrap_or(0),
            bytes: self.db.size().await?,
            budget_bytes: self.budget(),
            oldest_unix_nano: earliest,
            newest_unix_nano: latest,
            pruned_traces: number(&row.pruned_traces).unwrap_or(0),
            sampled_out_spans: number(&row.sampled_out_spans).unwrap_or(0),
            unindexed_spans: number(&row.unindexed_spans).unwrap_or(0),
            archive: self.archive().map(|archive| {
                let held: ArchiveRow = row
                    .archive
                    .as_deref()
                    .and_then(|json| serde_json::from_str(json).ok())
                    .unwrap_or_default();
                held.into_stats(archive.is_budgeted(), failed_writes)
            }),
        })
    }
}

impl Store {
    /// What the archive holds; `None` without one.
    pub async fn archive_stats(&self) -> Result<Option<crate::models::ArchiveStats>, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(None);
        };
        let row: ArchiveRow = self
            .rows(Statement::new(
                sql::ARCHIVE_STATS,
                vec![Param::Int(crate::archive::compact::SPANS)],
            ))
            .await?
            .pop()
            .unwrap_or_default();
        let failed_writes = self.counter("archive_failed_writes").await?;
        Ok(Some(row.into_stats(archive.is_budgeted(), failed_writes)))
    }

    /// Attribute keys seen in the search blocks, with their types and how many spans
    /// carry them, most common first.
    pub async fn attribute_keys(
        &self,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Vec<AttributeKey>, StoreError> {
        #[derive(Deserialize)]
        struct KeyRow {
            key: String,
            scope: String,
            count: i64,
            types: Option<String>,
        }
        let rows: Vec<KeyRow> = self
            .rows(Statement::new(
                sql::ATTRIBUTE_KEYS,
                vec![service.into(), scope.into()],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let bits = row
                    .types
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|t| t.trim().parse::<i64>().ok())
                    .fold(0, |all, t| all | t);
                AttributeKey {
                    key: row.key,
                    scope: row.scope,
                    types: super::summary::type_names(bits)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    count: u64::try_from(row.count).unwrap_or(0),
                }
            })
            .collect())
    }

    /// The most frequent values of `key`, as a search filter takes them.
    pub async fn attribute_values(
        &self,
        key: &str,
        service: Option<&str>,
        prefix: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AttributeValue>, StoreError> {
        #[derive(Deserialize)]
        struct ValueRow {
            value: String,
            count: i64,
        }
        let rows: Vec<ValueRow> = self
            .rows(Statement::new(
                sql::ATTRIBUTE_VALUES,
                vec![
                    key.into(),
                    service.into(),
                    prefix.into(),
                    Param::Int(i64::from(limit)),
                ],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| AttributeValue {
                value: row
                    .value
                    .strip_prefix('#')
                    .map_or(row.value.clone(), str::to_owned),
                count: u64::try_from(row.count).unwrap_or(0),
            })
            .collect())
    }
}

/// The cursor and time range of `query` as conditions on trace `t`.
pub fn range_conditions(b: &mut sql::Builder, query: &TraceListQuery) -> Vec<String> {
    let mut conditions = Vec::new();
    if let Some(cursor) = &query.before {
        let start = b.bind(ns_param(cursor.start_ns));
        match &cursor.trace_id {
            Some(id) => {
                let id = b.bind(id.as_str().into());
                conditions.push(format!(
                    "(t.start_ns, t.trace_id) < (CAST({start} AS INTEGER), unhex({id}))"
                ));
            }
            None => conditions.push(format!("t.start_ns < CAST({start} AS INTEGER)")),
        }
    }
    if let Some(start) = query.start_ns {
        let start = b.bind(ns_param(start));
        conditions.push(format!("t.start_ns >= CAST({start} AS INTEGER)"));
    }
    if let Some(end) = query.end_ns {
        let end = b.bind(ns_param(end));
        conditions.push(format!("t.start_ns < CAST({end} AS INTEGER)"));
    }
    conditions
}

#[derive(Debug, Default, Deserialize)]
struct HoldingsRow {
    spans: Option<String>,
    traces: Option<String>,
    logs: Option<String>,
    metric_points: Option<String>,
    metric_series: Option<String>,
    oldest: Option<String>,
    newest: Option<String>,
    pruned_traces: Option<String>,
    sampled_out_spans: Option<String>,
    unindexed_spans: Option<String>,
    /// [`ArchiveRow`] as JSON.
    archive: Option<String>,
    /// [`HotRow`] as JSON.
    hot: Option<String>,
}

/// What the segments of the hot tier hold, as [`sql::STATS`] reads it.
#[derive(Debug, Default, Deserialize)]
struct HotRow {
    spans: String,
    traces: String,
    oldest: Option<String>,
    newest: Option<String>,
}

/// What the archive holds, as [`sql::STATS`] and [`sql::ARCHIVE_STATS`] read it.
#[derive(Debug, Default, Deserialize)]
struct ArchiveRow {
    blocks: u64,
    items: String,
    #[serde(default)]
    records: Option<String>,
    bytes: String,
    oldest: Option<String>,
}

impl ArchiveRow {
    fn into_stats(self, within_budget: bool, failed_writes: u64) -> crate::models::ArchiveStats {
        crate::models::ArchiveStats {
            spans: self.items.parse().unwrap_or(0),
            records: self.records.and_then(|r| r.parse().ok()).unwrap_or(0),
            bytes: self.bytes.parse().unwrap_or(0),
            blocks: self.blocks,
            oldest_unix_nano: self.oldest.and_then(|o| o.parse().ok()),
            failed_writes,
            within_budget,
        }
    }
}

/// One row of [`sql::SERVICES`].
#[derive(Debug, Clone, Deserialize)]
struct ServiceRow {
    name: String,
    span_count: i64,
    last_seen: String,
}

impl ServiceRow {
    fn into_service(self) -> Result<Service, StoreError> {
        Ok(Service {
            span_count: u64::try_from(self.span_count).unwrap_or(0),
            last_seen_unix_nano: self.last_seen.parse().map_err(|_| {
                StoreError::Other(format!(
                    "stored timestamp {:?} is not a number",
                    self.last_seen
                ))
            })?,
            name: self.name,
        })
    }
}

/// One row of the summary queries, named as the SQL names its columns.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryRow {
    pub trace_id: String,
    pub start_ns: String,
    pub end_ns: String,
    pub span_count: i64,
    pub error_count: i64,
    pub root_span_name: Option<String>,
    pub service_name: Option<String>,
    /// A JSON array of distinct service names.
    pub services: Option<String>,
}

/// Decodes summary rows.
pub fn summaries(rows: Vec<SummaryRow>) -> Result<Vec<TraceSummary>, StoreError> {
    rows.into_iter().map(SummaryRow::into_summary).collect()
}

impl SummaryRow {
    /// Turns the row into the API's summary; a malformed row is a storage error.
    pub fn into_summary(self) -> Result<TraceSummary, StoreError> {
        let parse_ns = |text: &str| {
            text.parse::<u64>().map_err(|_| {
                StoreError::Other(format!("stored timestamp {text:?} is not a number"))
            })
        };
        let start = parse_ns(&self.start_ns)?;
        let end = parse_ns(&self.end_ns)?;
        let mut services: Vec<String> = match self.services.as_deref() {
            None | Some("") => Vec::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| StoreError::Other(format!("stored service list is not JSON: {e}")))?,
        };
        services.sort();
        services.dedup();
        Ok(TraceSummary {
            trace_id: self.trace_id,
            root_span_name: self.root_span_name,
            service_name: self.service_name,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            duration_ns: end.saturating_sub(start),
            span_count: u64::try_from(self.span_count).unwrap_or(0),
            error_count: u64::try_from(self.error_count).unwrap_or(0),
            services,
        })
    }
}
