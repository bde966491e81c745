//! Finding traces: a walk of the trace index newest first, one search block (a range of
//! trace start times) at a time. A block whose filter says no span in it can match is
//! skipped whole; in the others, each trace's spans are checked through its parts, and
//! the walk stops as soon as the page is full. Traces with spans not yet summarized are
//! checked wherever they fall.
//!
//! On the Worker a search must stay short (D1 runs one query at a time and resets one
//! that runs 30 s): a [`Budget`] caps the blocks one request may check, and the page then
//! ends early with a cursor that continues the walk. Several stores (D1 shards) are
//! searched side by side and merged newest first, with the same cursor rules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::bloom::Bloom;
use super::read::{SummaryRow, range_conditions, summaries};
use super::summary::{BlockRow, Plan, SPANS};
use super::{
    Cursor, Param, SpanFilter, Statement, Store, StoreError, TraceListQuery, first_number, sql,
};
use crate::models::TraceSummary;

/// The most unsummarized span rows whose traces a search checks one by one; with more
/// (the summaries lag far behind ingest), no block is skipped (slower, never wrong).
pub const TAIL_LIMIT: u32 = 20_000;

/// How much one request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Blocks whose traces are checked one by one.
    pub probes: usize,
    /// Block filters read from the database (the rest are cached).
    pub filters: usize,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// At most `limit`, newest first.
    pub traces: Vec<TraceSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// The budget ran out before the page was full: there may be more, older traces
    /// (continue with `next`).
    pub partial: bool,
}

/// How far one store's walk went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Nothing is left below what was returned.
    Exhausted,
    /// `limit + 1` traces were found; more may follow the last.
    Full,
    /// The budget ran out: every trace that started at or after this instant was checked.
    Stopped(u64),
}

/// Block filters already read, by block and its span count (a filter changes only as
/// spans are folded in, which moves the count).
#[derive(Debug, Default)]
pub struct BlockCache {
    filters: Mutex<HashMap<i64, (i64, Arc<Bloom>)>>,
}

impl BlockCache {
    fn get(&self, block: &BlockRow) -> Option<Arc<Bloom>> {
        let filters = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        filters
            .get(&block.block_id)
            .filter(|(spans, _)| *spans == block.spans)
            .map(|(_, bloom)| bloom.clone())
    }

    fn put(&self, block: &BlockRow, bloom: Arc<Bloom>) {
        let mut filters = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        filters.insert(block.block_id, (block.spans, bloom));
    }

    /// Drops blocks whose filters were rewritten here.
    pub fn forget(&self, blocks: impl IntoIterator<Item = i64>) {
        let mut filters = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        for block in blocks {
            filters.remove(&block);
        }
    }
}

/// One page of traces with a span that matches `query.span`, newest first, over every
/// store in `stores`.
pub async fn search(
    stores: &[Store],
    query: &TraceListQuery,
    budget: Option<Budget>,
) -> Result<Page, StoreError> {
    let limit = query.limit as usize;
    let mut ends = Vec::with_capacity(stores.len());
    let mut found = Vec::new();
    let walks = stores.iter().map(|store| store.walk(query, budget));
    for result in futures_util::future::join_all(walks).await {
        let (traces, end) = result?;
        found.extend(traces);
        ends.push(end);
    }
    found.sort_by(|a, b| {
        (b.start_time_unix_nano, &b.trace_id).cmp(&(a.start_time_unix_nano, &a.trace_id))
    });
    // A trace can only be shown if every store has checked everything newer than it.
    let floor = ends
        .iter()
        .filter_map(|end| match end {
            End::Stopped(instant) => Some(*instant),
            _ => None,
        })
        .max();
    let before_floor = |t: &TraceSummary| floor.is_some_and(|floor| t.start_time_unix_nano < floor);
    // A full store's unseen traces come after its last one: nothing beyond that is known.
    let full_limit = stores.len() > 1 && ends.contains(&End::Full);
    let mut traces: Vec<TraceSummary> = found.into_iter().filter(|t| !before_floor(t)).collect();
    if traces.len() > limit {
        traces.truncate(limit + 1);
        traces.pop();
        let next = traces.last().map(|last| Cursor {
            start_ns: last.start_time_unix_nano,
            trace_id: Some(last.trace_id.clone()),
        });
        return Ok(Page {
            traces,
            next,
            partial: false,
        });
    }
    if let Some(floor) = floor {
        return Ok(Page {
            traces,
            next: Some(Cursor {
                start_ns: floor,
                trace_id: None,
            }),
            partial: true,
        });
    }
    debug_assert!(!full_limit || traces.len() <= limit);
    Ok(Page {
        traces,
        next: None,
        partial: false,
    })
}

impl Store {
    /// Walks this store's traces newest first until `query.limit + 1` match, nothing is
    /// left, or the budget runs out.
    async fn walk(
        &self,
        query: &TraceListQuery,
        budget: Option<Budget>,
    ) -> Result<(Vec<TraceSummary>, End), StoreError> {
        let wanted = query.limit as usize + 1;
        if query.span.is_empty() {
            let mut q = query.clone();
            q.limit += 1;
            let traces = self.recent_traces(&q).await?;
            let end = if traces.len() >= wanted {
                End::Full
            } else {
                End::Exhausted
            };
            return Ok((traces, end));
        }
        let plan = Plan::of(&query.span);
        let listed: Vec<ListedBlock> = self
            .rows(Statement::new(
                sql::SEARCH_BLOCKS_AND_MARK,
                vec![Param::Int(SPANS)],
            ))
            .await?;
        let mark = listed.first().map(|b| b.mark.clone()).unwrap_or_default();
        let blocks: Vec<BlockRow> = listed.into_iter().map(|b| b.block).collect();
        // Traces with unsummarized spans, read the first time a block is skipped.
        let mut tail: Option<Vec<(String, u64)>> = None;
        let mut skipping = !plan.is_empty();
        // Ranges newest first: block i covers [start_lo, the next newer block's start_lo).
        let mut ranges: Vec<(Option<&BlockRow>, u64, Option<u64>)> = Vec::new();
        let mut upper = None;
        for block in &blocks {
            ranges.push((Some(block), block.start_lo(), upper));
            upper = Some(block.start_lo());
        }
        if blocks.last().is_none_or(|oldest| oldest.start_lo() > 0) {
            ranges.push((None, 0, upper));
        }
        let top = query_top(query);
        let bottom = query.start_ns.unwrap_or(0);
        let mut found: Vec<TraceSummary> = Vec::new();
        let (mut probes, mut filters) = (0, 0);
        let mut pending_filters: Vec<&BlockRow> = Vec::new();
        for (i, &(block, lo, hi)) in ranges.iter().enumerate() {
            if top.is_some_and(|top| lo > top) {
                continue;
            }
            if hi.is_some_and(|hi| hi <= bottom) {
                break;
            }
            let candidate = match (block, skipping) {
                (Some(block), true) => {
                    let bloom = match self.cache.get(block) {
                        Some(bloom) => bloom,
                        None => {
                            if budget.is_some_and(|b| filters >= b.filters) {
                                return Ok((found, End::Stopped(hi.unwrap_or(u64::MAX))));
                            }
                            // Read this filter and the next few uncached ones together.
                            pending_filters.clear();
                            pending_filters.extend(
                                ranges[i..]
                                    .iter()
                                    .filter_map(|(b, _, _)| *b)
                                    .filter(|b| self.cache.get(b).is_none())
                                    .take(8),
                            );
                            let ids: Vec<i64> =
                                pending_filters.iter().map(|b| b.block_id).collect();
                            filters += ids.len();
                            for (row, bloom) in pending_filters.iter().zip(self.blooms(&ids).await?)
                            {
                                self.cache.put(row, Arc::new(bloom));
                            }
                            self.cache.get(block).unwrap_or_default()
                        }
                    };
                    plan.may_match(&bloom)
                }
                _ => true,
            };
            let candidate = candidate || {
                if tail.is_none() {
                    let lag: u64 = first_number(
                        &self
                            .db
                            .query(Statement::new(sql::ROWS_ABOVE, vec![mark.as_str().into()]))
                            .await?,
                        "rows",
                    )
                    .unwrap_or(u64::MAX);
                    // Too many to check one by one: no block is skipped (slower, never wrong).
                    skipping = lag <= u64::from(TAIL_LIMIT);
                    let rows: Vec<TailRow> = if skipping {
                        self.rows(Statement::new(
                            sql::UNSUMMARIZED_TRACES,
                            vec![mark.as_str().into(), Param::Int(i64::from(TAIL_LIMIT))],
                        ))
                        .await?
                    } else {
                        Vec::new()
                    };
                    tail = Some(
                        rows.into_iter()
                            .map(|r| (r.trace_id, r.start_ns.parse().unwrap_or(0)))
                            .collect(),
                    );
                }
                !skipping
            };
            let inside: Vec<String> = if candidate {
                Vec::new()
            } else {
                tail.iter()
                    .flatten()
                    .filter(|(_, start)| *start >= lo && hi.is_none_or(|hi| *start < hi))
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            if !candidate && inside.is_empty() {
                continue;
            }
            let inside: Vec<&String> = inside.iter().collect();
            let ids = (!candidate).then_some(inside.as_slice());
            if candidate {
                if budget.is_some_and(|b| probes >= b.probes) {
                    return Ok((found, End::Stopped(hi.unwrap_or(u64::MAX))));
                }
                probes += 1;
            }
            let statement = probe_statement(query, lo, hi, ids, wanted - found.len());
            let rows: Vec<SummaryRow> = self.rows(statement).await?;
            found.extend(summaries(rows)?);
            if found.len() >= wanted {
                return Ok((found, End::Full));
            }
        }
        Ok((found, End::Exhausted))
    }
}

/// A row of [`sql::SEARCH_BLOCKS_AND_MARK`].
#[derive(serde::Deserialize)]
struct ListedBlock {
    #[serde(flatten)]
    block: BlockRow,
    mark: String,
}

#[derive(serde::Deserialize)]
struct TailRow {
    trace_id: String,
    start_ns: String,
}

/// The latest start a trace of the query may have.
fn query_top(query: &TraceListQuery) -> Option<u64> {
    let cursor = query.before.as_ref().map(|c| match c.trace_id {
        Some(_) => c.start_ns,
        None => c.start_ns.saturating_sub(1),
    });
    let end = query.end_ns.map(|end| end.saturating_sub(1));
    match (cursor, end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The traces of one range (`[lo, hi)`, or only `ids` in it) with a span matching the
/// query's filter, newest first, at most `limit`.
pub fn probe_statement(
    query: &TraceListQuery,
    lo: u64,
    hi: Option<u64>,
    ids: Option<&[&String]>,
    limit: usize,
) -> Statement {
    let mut b = sql::Builder::default();
    let mut conditions = range_conditions(&mut b, query);
    if lo > 0 {
        let lo = b.bind(super::ns_param(lo));
        conditions.push(format!("t.start_ns >= CAST({lo} AS INTEGER)"));
    }
    if let Some(hi) = hi {
        let hi = b.bind(super::ns_param(hi));
        conditions.push(format!("t.start_ns < CAST({hi} AS INTEGER)"));
    }
    if let Some(ids) = ids {
        let ids = b.bind(serde_json::to_string(ids).unwrap_or_default().into());
        conditions.push(format!(
            "t.trace_id IN (SELECT unhex(value) FROM json_each({ids}))"
        ));
    }
    let span = span_conditions(&mut b, &query.span);
    if !span.is_empty() {
        conditions.push(sql::some_span(&span));
    }
    sql::traces_where(b, conditions, u32::try_from(limit).unwrap_or(u32::MAX))
}

/// The conditions on span `m` of a trace for `filter`, each value bound in `b`.
pub fn span_conditions(b: &mut sql::Builder, filter: &SpanFilter) -> Vec<String> {
    let mut all = Vec::new();
    if let Some(service) = &filter.service {
        let service = b.bind(service.as_str().into());
        all.push(format!(
            "m.resource_id IN (SELECT resource_id FROM resources WHERE service_name = {service})"
        ));
    }
    if let Some(name) = &filter.name {
        all.push(format!("m.name = {}", b.bind(name.as_str().into())));
    }
    if filter.root_only {
        all.push("m.parent_span_id IS NULL".to_owned());
    }
    if let Some(code) = filter.status_code {
        all.push(format!(
            "m.status_code = {}",
            b.bind(Param::Int(i64::from(code)))
        ));
    }
    if let Some(min) = filter.min_duration_ns {
        let min = b.bind(super::ns_param(min));
        all.push(format!("m.end_ns - m.start_ns >= CAST({min} AS INTEGER)"));
    }
    if let Some(max) = filter.max_duration_ns {
        let max = b.bind(super::ns_param(max));
        all.push(format!("m.end_ns - m.start_ns <= CAST({max} AS INTEGER)"));
    }
    if !filter.attributes.is_empty() {
        // All filters travel as one JSON parameter: D1 binds at most 100 per query.
        let list: Vec<serde_json::Value> = filter
            .attributes
            .iter()
            .map(|(key, text)| {
                let number = text
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(|_| text.as_str());
                serde_json::json!([key, text, number, needle(text)])
            })
            .collect();
        let list = b.bind(serde_json::Value::from(list).to_string().into());
        b.with(sql::attribute_filters(&list));
        b.with(sql::attribute_resources());
        all.push(sql::has_attributes());
    }
    if let Some(text) = &filter.text {
        let text = b.bind(text.to_ascii_lowercase().into());
        all.push(sql::has_text(&text));
    }
    all
}

/// Text that must appear as is in a span's body for it to carry the value `text`, when
/// there is one: the value as JSON writes it (a string between quotes, an integer or bool
/// as typed). `None` when JSON may spell it otherwise (escapes, a double's other forms).
fn needle(text: &str) -> Option<&str> {
    let escaped = text.chars().any(|c| c == '"' || c == '\\' || c < ' ');
    let other_form = text.parse::<f64>().is_ok() && text.parse::<i64>().is_err();
    (!escaped && !other_form && !text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_is_only_given_when_the_body_must_contain_it() {
        assert_eq!(needle("GET"), Some("GET"));
        assert_eq!(needle("500"), Some("500"));
        assert_eq!(needle("-3"), Some("-3"));
        assert_eq!(needle("true"), Some("true"));
        assert_eq!(needle("1.5"), None);
        assert_eq!(needle("1e3"), None);
        assert_eq!(needle("a\"b"), None);
        assert_eq!(needle("a\\b"), None);
        assert_eq!(needle(""), None);
    }

    #[test]
    fn the_largest_search_fits_d1s_limits() {
        // D1 refuses statements over 100 KB, more than 100 bound parameters, values over
        // 2 MB and LIKE patterns over 50 bytes; `wrangler dev` enforces none of them, so
        // the statement itself is checked: every filter at once, 40 attribute filters, a
        // 200-byte text search, and the ids of 20 traces to probe.
        let ids: Vec<String> = (0..20).map(|i| format!("{i:032x}")).collect();
        let ids: Vec<&String> = ids.iter().collect();
        let query = TraceListQuery {
            limit: 1000,
            before: Some(Cursor {
                start_ns: u64::MAX,
                trace_id: Some("ab".repeat(16)),
            }),
            start_ns: Some(1),
            end_ns: Some(u64::MAX),
            span: SpanFilter {
                service: Some("s".repeat(200)),
                name: Some("n".repeat(200)),
                root_only: true,
                status_code: Some(2),
                min_duration_ns: Some(1),
                max_duration_ns: Some(u64::MAX),
                attributes: (0..40)
                    .map(|i| (format!("key.{i}"), format!("value {i}")))
                    .collect(),
                text: Some("t".repeat(200)),
            },
        };
        let Statement::One { sql, params } =
            probe_statement(&query, 1, Some(u64::MAX), Some(&ids), 1000)
        else {
            panic!("a probe is one statement");
        };
        assert!(sql.len() < 100_000, "{} bytes of SQL", sql.len());
        assert!(params.len() <= 100, "{} parameters", params.len());
        for param in &params {
            if let Param::Text(text) = param {
                assert!(text.len() < 2_000_000);
            }
        }
        assert!(!sql.to_ascii_uppercase().contains(" LIKE "), "{sql}");
    }

    #[test]
    fn the_top_of_a_query_is_its_cursor_or_end() {
        let mut query = TraceListQuery::default();
        assert_eq!(query_top(&query), None);
        query.end_ns = Some(100);
        assert_eq!(query_top(&query), Some(99));
        query.before = Some(Cursor {
            start_ns: 50,
            trace_id: Some("ab".into()),
        });
        assert_eq!(query_top(&query), Some(50));
        query.before = Some(Cursor {
            start_ns: 50,
            trace_id: None,
        });
        assert_eq!(query_top(&query), Some(49));
    }
}
