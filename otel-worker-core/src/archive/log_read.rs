//! Log records in the archive, as lists read them: blocks newest first, each ruled out by
//! its filter when it cannot hold a match ([`Plan::of_logs`]), the rest read a
//! row group at a time, newest first, and checked record by record.

use super::Archive;
use super::lookup::Tombstone;
use super::matching::{LogMatcher, Parsed};
use super::read::OpenBlock;
use super::walk::{BlockRow, Deleted, Position};
use crate::models;
use crate::store::logs::{LogCursor, LogQuery, LogRecord, archived_log};
use crate::store::summary::Plan;
use crate::store::{Param, Statement, Store, StoreError, ns_param, sql};
use rustc_hash::FxHashMap;

/// What a list found in the archive.
#[derive(Debug, Default)]
pub struct ArchivedLogs {
    /// Newest first, at most the limit asked for.
    pub logs: Vec<(LogCursor, models::Log)>,
    /// Where the walk stopped before the blocks ran out (everything newer was looked at),
    /// when it had to.
    pub stopped_at: Option<LogCursor>,
}

/// Blocks listed per query, newest first.
const BLOCKS_PER_QUERY: u32 = 64;

/// Filters a bounded request may test per block it may read: most blocks of a selective
/// search are ruled out by their filter, which costs a cached read or a small one.
const FILTERS_PER_BLOCK: u32 = 48;

impl Store {
    /// The archive's records matching `query` below its cursor, newest first, at most
    /// `limit`, reading at most `max_blocks` blocks (`None`: as many as it takes).
    pub(crate) async fn archived_logs(
        &self,
        query: &LogQuery,
        limit: usize,
        max_blocks: Option<u32>,
    ) -> Result<ArchivedLogs, StoreError> {
        let mut out = ArchivedLogs::default();
        let Some(archive) = self.archive() else {
            return Ok(out);
        };
        let start = query.start_ns.unwrap_or(0);
        // Blocks with a record before the end and the cursor.
        let end = query.end_ns.unwrap_or(u64::MAX).min(
            query
                .cursor
                .map_or(u64::MAX, |c| c.time_ns.saturating_add(1)),
        );
        let plan = Plan::of_logs(query);
        let matcher = LogMatcher::new(query);
        let mut deleted: Option<Deleted> = None;
        let mut found: Vec<(LogCursor, LogRecord, i64)> = Vec::new();
        let mut opened: FxHashMap<i64, BlockRow> = FxHashMap::default();
        let (mut read, mut filtered) = (0u32, 0u32);
        let limit = limit.max(1);
        // The time below which a block cannot add to a full page.
        let floor = |found: &Vec<(LogCursor, LogRecord, i64)>| {
            (found.len() >= limit).then(|| found[limit - 1].0.time_ns)
        };
        // Where a walk stopping before `block` is complete down to: every block listed
        // before it ends later. `None` when that is not below the query's cursor (blocks
        // overlapping it were not all looked at): then the walk goes on, so every page
        // moves forward.
        let stop_at = |block: &BlockRow| {
            let at = LogCursor {
                time_ns: block.max_start().saturating_add(1),
                identity: i64::MIN,
            };
            query.cursor.is_none_or(|c| at < c).then_some(at)
        };
        // Blocks newest first, a page of the list at a time.
        let mut after: Option<(u64, i64)> = None;
        'list: loop {
            let blocks: Vec<BlockRow> = self
                .rows(Statement::new(
                    sql::ARCHIVE_LOG_BLOCKS,
                    vec![
                        ns_param(start),
                        ns_param(end.min(i64::MAX as u64)),
                        after.map_or(Param::Null, |(max, _)| ns_param(max)),
                        after.map_or(Param::Null, |(_, id)| id.to_string().into()),
                        Param::Int(i64::from(BLOCKS_PER_QUERY)),
                    ],
                ))
                .await?;
            for (at, block) in blocks.iter().enumerate() {
                if floor(&found).is_some_and(|floor| floor > block.max_start()) {
                    break 'list;
                }
                if !plan.is_empty() {
                    if max_blocks.is_some_and(|max| filtered >= max * FILTERS_PER_BLOCK)
                        && let Some(at) = stop_at(block)
                    {
                        out.stopped_at = Some(at);
                        break 'list;
                    }
                    filtered += 1;
                    if !self.block_may_match(archive, &blocks[at..], &plan).await? {
                        continue;
                    }
                }
                if max_blocks.is_some_and(|max| read >= max)
                    && let Some(at) = stop_at(block)
                {
                    out.stopped_at = Some(at);
                    break 'list;
                }
                read += 1;
                let deleted = match &deleted {
                    Some(deleted) => deleted,
                    None => deleted.insert(self.tombstones().await?),
                };
                let open = self.open_log_block(archive, block).await?;
                let parsed = Parsed::of(&open.dictionaries);
                for (index, group) in open.footer.row_groups.iter().enumerate().rev() {
                    if group.max_start_ns < start || group.min_start_ns >= end {
                        continue;
                    }
                    if floor(&found).is_some_and(|floor| floor > group.max_start_ns) {
                        break;
                    }
                    let records = archive.log_group(block.block_id, &open, index).await?;
                    for record in records.iter().rev() {
                        let cursor = LogCursor {
                            time_ns: record.time_ns,
                            identity: record.identity,
                        };
                        if query.cursor.is_some_and(|c| cursor >= c)
                            || !matcher.matches(record, &parsed).map_err(block_error)?
                            || record.trace_id.as_deref().is_some_and(|trace| {
                                deleted.hides_trace(trace, Position::Block(block.block_id))
                            })
                        {
                            continue;
                        }
                        found.push((cursor, record.clone(), block.block_id));
                    }
                    found.sort_by_key(|f| std::cmp::Reverse(f.0));
                    found.truncate(limit);
                }
                opened.insert(block.block_id, block.clone());
            }
            match blocks.last() {
                Some(last) if blocks.len() as u32 == BLOCKS_PER_QUERY => {
                    after = Some((last.max_start(), last.block_id));
                }
                _ => break,
            }
        }
        // A page's records are converted once they are known to be on it.
        for (cursor, record, block_id) in found {
            let block = opened
                .get(&block_id)
                .ok_or_else(|| StoreError::Other("a block went missing".into()))?;
            let open = self.open_log_block(archive, block).await?;
            out.logs
                .push((cursor, archived_log(record, &open.dictionaries)?));
        }
        Ok(out)
    }

    /// A trace's archived records after `after` in time order, at most `limit`.
    pub(crate) async fn archived_trace_logs(
        &self,
        trace_id: &str,
        after: Option<LogCursor>,
        limit: usize,
    ) -> Result<Vec<(LogCursor, models::Log)>, StoreError> {
        let query = LogQuery {
            trace_id: Some(trace_id.to_ascii_lowercase()),
            ..LogQuery::default()
        };
        let mut page = self.archived_logs(&query, usize::MAX, None).await?.logs;
        page.retain(|(cursor, _)| after.is_none_or(|after| *cursor > after));
        page.reverse();
        page.truncate(limit);
        Ok(page)
    }

    /// Whether the first of `blocks` may hold a record `plan` matches, by its filter
    /// (cached, or read with the next few uncached ones).
    async fn block_may_match(
        &self,
        archive: &Archive,
        blocks: &[BlockRow],
        plan: &Plan,
    ) -> Result<bool, StoreError> {
        let Some(block) = blocks.first() else {
            return Ok(false);
        };
        let bloom = match archive.cached_filter(block.block_id) {
            Some(bloom) => Some(bloom),
            None => self
                .read_archive_filters(blocks, false, |id| archive.cached_filter(id).is_some())
                .await?
                .into_iter()
                .find(|(id, _)| *id == block.block_id)
                .map(|(_, bloom)| bloom),
        };
        // A block without a filter is read.
        Ok(bloom.is_none_or(|bloom| plan.may_match(&bloom)))
    }

    async fn open_log_block(
        &self,
        archive: &Archive,
        block: &BlockRow,
    ) -> Result<std::sync::Arc<OpenBlock>, StoreError> {
        Ok(archive
            .open(archive.objects(), block.block_id, &block.object_key)
            .await?)
    }

    async fn tombstones(&self) -> Result<Deleted, StoreError> {
        let tombstones: Vec<Tombstone> = self
            .rows(Statement::new(sql::TRACE_TOMBSTONES_ALL, vec![]))
            .await?;
        Ok(Deleted::of(tombstones))
    }
}

fn block_error(error: super::block::BlockError) -> StoreError {
    StoreError::Other(format!("an archived log record: {error}"))
}
