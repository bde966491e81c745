//! Retention and the storage budget in the archive: whole blocks go, oldest first. A
//! block's row goes first (reads stop seeing it at that commit), its object after; a
//! crash between the two leaves an orphan object for [`Store::delete_orphans`].

use super::walk::BlockRow;
use crate::store::{Param, Pruned, Statement, Store, StoreError, ns_param, sql};

impl Store {
    /// Drops up to `max_blocks` blocks whose every item started before `cutoff_ns`,
    /// oldest first. Returns what they held.
    pub async fn drop_blocks_before(
        &self,
        cutoff_ns: u64,
        max_blocks: u32,
    ) -> Result<Pruned, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(Pruned::default());
        };
        let blocks: Vec<BlockRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_EXPIRED,
                vec![ns_param(cutoff_ns), Param::Int(i64::from(max_blocks))],
            ))
            .await?;
        let mut pruned = Pruned::default();
        for block in blocks {
            let id: Param = block.block_id.to_string().into();
            let logs = block.signal == Some(super::log_compact::LOGS);
            let mut statements = vec![
                Statement::new(
                    sql::UNCOUNT_ARCHIVE_SERVICES,
                    vec![block.services.as_str().into()],
                ),
                Statement::new(
                    sql::ADD_TO_COUNTER,
                    vec![sql::PRUNED_TRACES.into(), block.traces.to_string().into()],
                ),
            ];
            statements.extend(
                sql::DROP_ARCHIVE_BLOCK
                    .iter()
                    .map(|sql| Statement::new(*sql, vec![id.clone()])),
            );
            statements.push(Statement::new(sql::FORGET_TOMBSTONES, vec![]));
            self.db.transaction(statements).await?;
            archive.forget(block.block_id);
            archive
                .objects()
                .delete(std::slice::from_ref(&block.object_key))
                .await?;
            pruned.traces += block.traces.max(0) as u64;
            if logs {
                pruned.logs += block.items.max(0) as u64;
            } else {
                pruned.spans += block.items.max(0) as u64;
            }
        }
        Ok(pruned)
    }

    /// Retention's part in the hot tier and what comes from it: the segments whose every
    /// span started before `cutoff_ns` ([`Store::drop_segments_before`]) and the attribute
    /// counts of the hours before it. Not for the storage budget, which deletes the
    /// oldest data: segments are the newest.
    pub async fn prune_hot_before(&self, cutoff_ns: u64) -> Result<Pruned, StoreError> {
        let segments = self.drop_segments_before(cutoff_ns).await?;
        let hour = i64::try_from(cutoff_ns / 3_600_000_000_000).unwrap_or(i64::MAX);
        let ids = || {
            vec![
                Param::Int(sql::attribute_hour_id(0)),
                Param::Int(sql::attribute_hour_id(hour)),
            ]
        };
        let mut statements: Vec<Statement> = sql::DROP_ATTRIBUTE_HOUR_ROWS
            .iter()
            .map(|sql| Statement::new(*sql, ids()))
            .collect();
        statements.push(Statement::new(
            sql::DROP_ATTRIBUTE_HOURS,
            vec![Param::Int(hour)],
        ));
        self.db.transaction(statements).await?;
        Ok(segments)
    }

    /// Deletes the segments of the hot tier whose every span started before `cutoff_ns`
    /// (old traces sent late: one row written each), so retention does not wait for
    /// their compaction. A segment that also holds newer spans stays; its block is
    /// dropped in its turn.
    pub async fn drop_segments_before(&self, cutoff_ns: u64) -> Result<Pruned, StoreError> {
        #[derive(serde::Deserialize)]
        struct Expired {
            spans: Option<String>,
            traces: Option<String>,
        }
        let expired: Option<Expired> = self
            .rows(Statement::new(sql::HOT_EXPIRED, vec![ns_param(cutoff_ns)]))
            .await?
            .pop();
        let number = |text: Option<String>| text.and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        let (spans, traces) = expired.map_or((0, 0), |e| (number(e.spans), number(e.traces)));
        if spans == 0 {
            return Ok(Pruned::default());
        }
        let mut statements: Vec<Statement> = (0..sql::HOT_TABLES)
            .map(|table| {
                Statement::new(sql::drop_expired_segments(table), vec![ns_param(cutoff_ns)])
            })
            .collect();
        statements.push(Statement::new(
            sql::ADD_TO_COUNTER,
            vec![sql::PRUNED_TRACES.into(), traces.to_string().into()],
        ));
        self.db.transaction(statements).await?;
        Ok(Pruned {
            spans,
            traces,
            ..Pruned::default()
        })
    }

    /// The bytes of the archive's blocks that count against the budget (0 without an
    /// archive, or one that does not share the database's budget).
    pub async fn budgeted_archive_bytes(&self) -> Result<u64, StoreError> {
        let Some(archive) = self.archive().filter(|a| a.is_budgeted()) else {
            return Ok(0);
        };
        if let Some(bytes) = archive.known_bytes() {
            return Ok(bytes);
        }
        let bytes = self.archive_stats().await?.map_or(0, |a| a.bytes);
        archive.set_known_bytes(Some(bytes));
        Ok(bytes)
    }
}
