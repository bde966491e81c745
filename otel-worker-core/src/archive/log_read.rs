//! Log records in the archive, as lists read them: blocks newest first, each ruled out by
//! its filter when it cannot hold a match ([`Plan::of_logs`]), the rest read a
//! row group at a time, newest first, and checked record by record.

use serde::Deserialize;

use super::Archive;
use super::lookup::Tombstone;
use super::matching::{LogMatcher, Parsed};
use super::read::OpenBlock;
use super::walk::{BlockRow, Deleted, Position};
use crate::models;
use crate::store::bloom::Bloom;
use crate::store::logs::{LogCursor, LogQuery, LogRecord, archived_log};
use crate::store::summary::Plan;
use crate::store::{Statement, Store, StoreError, ns_param, sql};

/// What a list found in the archive.
#[derive(Debug, Default)]
pub struct ArchivedLogs {
    /// Newest first, at most the limit asked for.
    pub logs: Vec<(LogCursor, models::Log)>,
    /// Where the walk stopped before the blocks ran out (everything newer was looked at),
    /// when it had to.
    pub stopped_at: Option<LogCursor>,
}

#[derive(Deserialize)]
struct LogBlockRow {
    #[serde(flatten)]
    block: BlockRow,
    bloom: String,
}

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
        let blocks: Vec<LogBlockRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_LOG_BLOCKS,
                vec![ns_param(start), ns_param(end.min(i64::MAX as u64))],
            ))
            .await?;
        if blocks.is_empty() {
            return Ok(out);
        }
        let plan = Plan::of_logs(query);
        let matcher = LogMatcher::new(query);
        let deleted = self.tombstones().await?;
        let mut found: Vec<(LogCursor, LogRecord, i64)> = Vec::new();
        let mut read = 0;
        let limit = limit.max(1);
        // The time below which a block cannot add to a full page.
        let floor = |found: &Vec<(LogCursor, LogRecord, i64)>| {
            (found.len() >= limit).then(|| found[limit - 1].0.time_ns)
        };
        for row in &blocks {
            let block = &row.block;
            if floor(&found).is_some_and(|floor| floor > block.max_start()) {
                break;
            }
            if !plan.is_empty()
                && hex::decode(&row.bloom)
                    .ok()
                    .and_then(Bloom::from_sized_bytes)
                    .is_some_and(|bloom| !plan.may_match(&bloom))
            {
                continue;
            }
            if max_blocks.is_some_and(|max| read >= max) {
                out.stopped_at = Some(LogCursor {
                    time_ns: block.max_start().saturating_add(1),
                    identity: i64::MIN,
                });
                break;
            }
            read += 1;
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
        }
        // A page's records are converted once they are known to be on it.
        for (cursor, record, block_id) in found {
            let open = self
                .open_log_block(
                    archive,
                    blocks
                        .iter()
                        .map(|r| &r.block)
                        .find(|b| b.block_id == block_id)
                        .ok_or_else(|| StoreError::Other("a block went missing".into()))?,
                )
                .await?;
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
