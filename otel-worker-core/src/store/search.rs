//! Finding traces, in two phases. First the newest [`DENSE_TRACES`] traces are walked
//! newest first, each through its own spans, stopping when the page is full: a filter
//! that matches often is answered there. Past them, the spans not yet summarized are
//! checked, then the search blocks, latest start first: a block whose filter says
//! no span in it can match is skipped whole; in the others, every span row is checked
//! and the traces of the matching ones are ranked newest first. The walk stops once the
//! page is full and no block left can hold a newer trace than its last one (a block
//! knows the latest start of its traces).
//!
//! On the Worker a search must stay short (D1 runs one query at a time and resets one
//! that runs 30 s): a [`Budget`] caps the blocks one request may check, and the page then
//! ends early with a cursor that continues the walk. Several stores (D1 shards) are
//! searched side by side and merged newest first, with the same cursor rules.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use super::bloom::Bloom;
use super::read::{range_conditions, summaries};
use super::summary::{BlockRow, Plan, SPANS};
use super::{Cursor, Param, SpanFilter, Statement, Store, StoreError, TraceListQuery, sql};
use crate::models::TraceSummary;

/// How many of the newest traces a search walks one by one before it turns to the
/// blocks (at least; twice the page for a longer page): about as many spans as one block
/// holds.
pub const DENSE_TRACES: u32 = 1_000;

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
pub(crate) enum End {
    /// Nothing is left below what was returned.
    Exhausted,
    /// `limit + 1` traces were found; more may follow the last.
    Full,
    /// The budget ran out: every trace that started at or after this instant was checked.
    Stopped(u64),
}

/// Filters read from the database in one statement.
const FILTERS_PER_READ: usize = 8;

/// The most filters a store keeps in memory (64 KiB each: 64 MiB), enough for the blocks
/// of 16,000,000 spans. Past it the newest blocks stay cached: searches start there, and
/// a walk over more blocks than fit must not evict the ones every search reads first.
pub const CACHED_FILTERS: usize = 1_024;

/// Block filters already read or written here, by block and its span count (a filter
/// changes only as spans are folded in, which moves the count).
#[derive(Debug)]
pub struct BlockCache {
    filters: Mutex<BTreeMap<i64, (i64, Arc<Bloom>)>>,
    capacity: usize,
}

impl Default for BlockCache {
    fn default() -> Self {
        Self::with_capacity(CACHED_FILTERS)
    }
}

impl BlockCache {
    /// A cache of at most `capacity` filters (64 KiB each).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            filters: Mutex::default(),
            capacity,
        }
    }

    fn get(&self, block: &BlockRow) -> Option<Arc<Bloom>> {
        let filters = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        filters
            .get(&block.block_id)
            .filter(|(spans, _)| *spans == block.spans)
            .map(|(_, bloom)| bloom.clone())
    }

    /// Keeps the filter of `block_id` as it is with `spans` spans, unless the cache is
    /// full of newer blocks (ids grow with arrival).
    pub fn put(&self, block_id: i64, spans: i64, bloom: Arc<Bloom>) {
        let mut filters = self.filters.lock().unwrap_or_else(|p| p.into_inner());
        if filters.len() >= self.capacity && !filters.contains_key(&block_id) {
            match filters.first_key_value() {
                Some((oldest, _)) if *oldest < block_id => {
                    let oldest = *oldest;
                    filters.remove(&oldest);
                }
                _ => return,
            }
        }
        filters.insert(block_id, (spans, bloom));
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
    // Each store's span rows and its archive are walked side by side, like shards.
    let walks = stores.iter().map(|store| async move {
        let (hot, hot_end) = store.walk(query, budget).await?;
        // A full page of the span rows' traces leaves the archive only what started no
        // earlier than the page's last trace.
        let floor = match hot_end {
            End::Full => hot.last().map(|t| t.start_time_unix_nano),
            _ => None,
        };
        let (archived, archived_end, split) = store.archive_walk(query, budget, floor).await?;
        Ok::<_, StoreError>(([(hot, hot_end), (archived, archived_end)], split))
    });
    let mut split = HashSet::new();
    for (i, result) in futures_util::future::join_all(walks)
        .await
        .into_iter()
        .enumerate()
    {
        let (walked, split_here) = result?;
        split.extend(split_here);
        for (traces, end) in walked {
            found.extend(traces.into_iter().map(|t| (i, t)));
            ends.push(end);
        }
    }
    let mut found = merge_parts(stores, found, &split).await?;
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
    let full_limit = ends.len() > 1 && ends.contains(&End::Full);
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
        let (blocks, mark) = self.blocks_and_mark().await?;
        let (mut probes, mut filters) = (0, 0);
        // Phase one, the newest traces one by one, when matches may be common: when the
        // newest block may hold one.
        let dense = match blocks.first() {
            Some(_) if !plan.is_empty() => {
                match self.filter_of(&blocks, 0, &mut filters, budget).await? {
                    Some(bloom) => plan.may_match(&bloom),
                    None => true,
                }
            }
            _ => true,
        };
        let mut found = Vec::new();
        let narrowed;
        let query = if dense {
            probes += 1;
            // A long page walks twice its length: a filter most traces match then fills
            // it here, not by probing every block newer than the query's end.
            let dense_traces = DENSE_TRACES.max(query.limit.saturating_mul(2));
            let boundary = self.trace_at(query, dense_traces).await?;
            found = summaries(
                self.rows(dense_statement(query, boundary.as_ref(), wanted))
                    .await?,
            )?;
            if found.len() >= wanted {
                return Ok((found, End::Full));
            }
            let Some(boundary) = boundary else {
                // Every trace of the query's range was walked.
                return Ok((found, End::Exhausted));
            };
            // Phase two covers the traces older than the boundary.
            narrowed = TraceListQuery {
                before: Some(boundary),
                ..query.clone()
            };
            &narrowed
        } else {
            query
        };
        let bottom = query.start_ns.unwrap_or(0);
        // The rows above the mark are in no block: always checked, and whole (they may
        // hold the newest traces).
        let mut seen: HashSet<String> = found.iter().map(|t| t.trace_id.clone()).collect();
        let tail = probe_statement(query, mark + 1, None, wanted);
        add_new(&mut found, &mut seen, summaries(self.rows(tail).await?)?);
        for (i, block) in blocks.iter().enumerate() {
            let newest_left = block.max_start();
            if newest_left < bottom {
                break;
            }
            if found.len() >= wanted {
                rank(&mut found);
                if found[wanted - 1].start_time_unix_nano > newest_left {
                    found.truncate(wanted);
                    return Ok((found, End::Full));
                }
            }
            if !plan.is_empty() {
                let Some(bloom) = self.filter_of(&blocks, i, &mut filters, budget).await? else {
                    return Ok(stopped(found, newest_left));
                };
                if !plan.may_match(&bloom) {
                    continue;
                }
            }
            if budget.is_some_and(|b| probes >= b.probes) {
                return Ok(stopped(found, newest_left));
            }
            probes += 1;
            let statement = probe_statement(query, block.first_row, Some(block.last_row), wanted);
            add_new(
                &mut found,
                &mut seen,
                summaries(self.rows(statement).await?)?,
            );
        }
        rank(&mut found);
        if found.len() >= wanted {
            found.truncate(wanted);
            return Ok((found, End::Full));
        }
        Ok((found, End::Exhausted))
    }
}

impl Store {
    /// Reads the filters of the newest blocks (as many as the cache keeps) into the cache,
    /// so that the first search after a start need not: a long-running home calls it once,
    /// in the background. Returns how many were read.
    pub async fn warm_filters(&self) -> Result<usize, StoreError> {
        let (mut blocks, _) = self.blocks_and_mark().await?;
        blocks.sort_by_key(|b| std::cmp::Reverse(b.block_id));
        blocks.truncate(CACHED_FILTERS);
        let pending: Vec<&BlockRow> = blocks
            .iter()
            .filter(|b| self.cache.get(b).is_none())
            .collect();
        for chunk in pending.chunks(FILTERS_PER_READ) {
            self.read_filters(chunk).await?;
        }
        Ok(pending.len())
    }

    /// The search blocks, latest start first, and the summary mark, read together (a
    /// summarizer step committing between two reads could hide rows from a search).
    async fn blocks_and_mark(&self) -> Result<(Vec<BlockRow>, i64), StoreError> {
        let listed: Vec<ListedBlock> = self
            .rows(Statement::new(
                sql::SEARCH_BLOCKS_AND_MARK,
                vec![Param::Int(SPANS)],
            ))
            .await?;
        let mark = listed
            .first()
            .and_then(|b| b.mark.parse().ok())
            .unwrap_or(0);
        Ok((listed.into_iter().map(|b| b.block).collect(), mark))
    }

    /// Reads the filters of `blocks` in one statement, in their order, and offers them to
    /// the cache (a full cache may keep newer blocks instead: they are returned all the
    /// same).
    async fn read_filters(&self, blocks: &[&BlockRow]) -> Result<Vec<Arc<Bloom>>, StoreError> {
        let ids: Vec<i64> = blocks.iter().map(|b| b.block_id).collect();
        let mut read = Vec::with_capacity(blocks.len());
        for (row, bloom) in blocks.iter().zip(self.blooms(&ids).await?) {
            let bloom = Arc::new(bloom);
            self.cache.put(row.block_id, row.spans, bloom.clone());
            read.push(bloom);
        }
        Ok(read)
    }

    /// The filter of `blocks[i]`, from the cache or read with the next few uncached ones
    /// (counted in `filters`); `None` when the budget allows no more reads.
    async fn filter_of(
        &self,
        blocks: &[BlockRow],
        i: usize,
        filters: &mut usize,
        budget: Option<Budget>,
    ) -> Result<Option<Arc<Bloom>>, StoreError> {
        if let Some(bloom) = self.cache.get(&blocks[i]) {
            return Ok(Some(bloom));
        }
        if budget.is_some_and(|b| *filters >= b.filters) {
            return Ok(None);
        }
        // `blocks[i]` is not cached, so it comes first.
        let pending: Vec<&BlockRow> = blocks[i..]
            .iter()
            .filter(|b| self.cache.get(b).is_none())
            .take(FILTERS_PER_READ)
            .collect();
        *filters += pending.len();
        Ok(Some(
            self.read_filters(&pending)
                .await?
                .into_iter()
                .next()
                .unwrap_or_default(),
        ))
    }

    /// The position of the `n`-th newest trace of the query's range (`None` when it has
    /// fewer), as a cursor.
    async fn trace_at(&self, query: &TraceListQuery, n: u32) -> Result<Option<Cursor>, StoreError> {
        #[derive(serde::Deserialize)]
        struct At {
            start_ns: String,
            trace_id: String,
        }
        let mut b = sql::Builder::default();
        let conditions = range_conditions(&mut b, query);
        let at: Option<At> = self.rows(sql::trace_at(b, conditions, n)).await?.pop();
        Ok(at.map(|at| Cursor {
            start_ns: at.start_ns.parse().unwrap_or(0),
            trace_id: Some(at.trace_id),
        }))
    }
}

/// The newest traces of the query's range down to `boundary` (inclusive; all of them
/// without one) with a span that matches, checked one by one through their own spans,
/// newest first, at most `limit`.
pub fn dense_statement(
    query: &TraceListQuery,
    boundary: Option<&Cursor>,
    limit: usize,
) -> Statement {
    let mut b = sql::Builder::default();
    let mut conditions = range_conditions(&mut b, query);
    if let Some(Cursor {
        start_ns,
        trace_id: Some(id),
    }) = boundary
    {
        let start = b.bind(super::ns_param(*start_ns));
        let id = b.bind(id.as_str().into());
        conditions.push(format!(
            "(t.start_ns, t.trace_id) >= (CAST({start} AS INTEGER), unhex({id}))"
        ));
    }
    let span = span_conditions(&mut b, &query.span);
    if !span.is_empty() {
        conditions.push(sql::some_own_span(&span));
    }
    sql::traces_where(b, conditions, u32::try_from(limit).unwrap_or(u32::MAX))
}

/// The traces found (with the index of the store that found them), each once: a trace
/// with spans in both tiers (spans that arrived after the rest was archived) or in
/// several blocks is found in each, and shown once, summarized from all its spans; so is
/// one found without its root where there is an archive (the rest may be there).
async fn merge_parts(
    stores: &[Store],
    found: Vec<(usize, TraceSummary)>,
    split: &HashSet<String>,
) -> Result<Vec<TraceSummary>, StoreError> {
    let mut by_id: std::collections::HashMap<String, (usize, Vec<TraceSummary>)> =
        std::collections::HashMap::with_capacity(found.len());
    for (store, trace) in found {
        by_id
            .entry(trace.trace_id.clone())
            .or_insert_with(|| (store, Vec::new()))
            .1
            .push(trace);
    }
    let mut out = Vec::with_capacity(by_id.len());
    for (id, (store, mut parts)) in by_id {
        // A trace without its root in one tier may have it in the other (spans that came
        // after the rest of their trace was archived): read it whole.
        let whole_here = parts.len() == 1
            && !split.contains(&id)
            && (parts[0].root_span_name.is_some()
                || stores.get(store).is_none_or(|s| s.archive().is_none()));
        if whole_here {
            out.extend(parts.pop());
            continue;
        }
        let whole = match stores.get(store) {
            Some(store) => store.trace_summary(&id).await?,
            None => None,
        };
        out.extend(whole.or_else(|| crate::archive::lookup::merge_summaries(parts)));
    }
    Ok(out)
}

/// Adds the traces not found before (a trace with matching spans in several blocks is
/// found in each).
fn add_new(found: &mut Vec<TraceSummary>, seen: &mut HashSet<String>, more: Vec<TraceSummary>) {
    for trace in more {
        if seen.insert(trace.trace_id.clone()) {
            found.push(trace);
        }
    }
}

/// Newest first, as pages are.
pub(crate) fn rank(found: &mut [TraceSummary]) {
    found.sort_by(|a, b| {
        (b.start_time_unix_nano, &b.trace_id).cmp(&(a.start_time_unix_nano, &a.trace_id))
    });
}

/// The walk's answer when the budget ran out before a block whose traces started at or
/// before `newest_left`: every trace that started later has been checked.
pub(crate) fn stopped(mut found: Vec<TraceSummary>, newest_left: u64) -> (Vec<TraceSummary>, End) {
    rank(&mut found);
    (found, End::Stopped(newest_left.saturating_add(1)))
}

/// A row of [`sql::SEARCH_BLOCKS_AND_MARK`].
#[derive(serde::Deserialize)]
struct ListedBlock {
    #[serde(flatten)]
    block: BlockRow,
    mark: String,
}

/// The traces with a span among rows `first..=last` (or from `first` on) that matches
/// the query's filter, newest first, at most `limit`.
pub fn probe_statement(
    query: &TraceListQuery,
    first: i64,
    last: Option<i64>,
    limit: usize,
) -> Statement {
    let mut b = sql::Builder::default();
    let mut conditions = range_conditions(&mut b, query);
    let mut span = vec![format!("m.span_row >= {}", b.bind(Param::Int(first)))];
    if let Some(last) = last {
        span.push(format!("m.span_row <= {}", b.bind(Param::Int(last))));
    }
    span.extend(span_conditions(&mut b, &query.span));
    conditions.push(sql::some_span_in_rows(&span));
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
    fn a_walk_over_more_blocks_than_fit_keeps_the_newest_cached() {
        let cache = BlockCache::default();
        let row = |block_id| BlockRow {
            block_id,
            first_row: 0,
            last_row: 0,
            spans: 1,
            max_start: "0".into(),
        };
        let bloom = Arc::new(Bloom::default());
        let blocks = CACHED_FILTERS as i64 + 100;
        // Written as they fill, oldest first.
        for id in 1..=blocks {
            cache.put(id, 1, bloom.clone());
        }
        // Then a search reads every filter, newest first, and must not thrash.
        for id in (1..=blocks).rev() {
            if cache.get(&row(id)).is_none() {
                cache.put(id, 1, bloom.clone());
            }
        }
        let cached: Vec<i64> = (1..=blocks)
            .filter(|id| cache.get(&row(*id)).is_some())
            .collect();
        assert_eq!(cached.len(), CACHED_FILTERS);
        assert_eq!(cached.first(), Some(&101), "the 100 oldest are left out");
        assert!(
            cache
                .get(&BlockRow {
                    spans: 2,
                    ..row(blocks)
                })
                .is_none(),
            "a filter that grew is read again"
        );
    }

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
        // 200-byte text search, and a block's range of rows.
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
        let Statement::One { sql, params } = probe_statement(&query, 1, Some(i64::MAX), 1000)
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
}
