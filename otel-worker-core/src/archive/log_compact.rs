//! Compaction of log records: the oldest records past `archive-after` become a block of
//! records ([`super::log_block`]), the way traces become blocks of spans: under the
//! archive's lease, the object first, then one transaction that records the block and
//! deletes the rows it holds, or changes nothing.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::compact::{Archived, BLOCK_WINDOW_NS, block_failed, number};
use super::matching::{self, Parsed};
use super::{log_block, object_key};
use crate::store::logs::LogRecord;
use crate::store::{Param, Statement, Store, StoreError, ns_param, sql};

/// The signal of a block of log records in `archive_blocks`.
pub const LOGS: i64 = 2;

/// A block of records built and not committed yet.
#[derive(Debug)]
pub struct PendingLogs {
    pub block_id: i64,
    pub key: String,
    pub bytes: Vec<u8>,
    /// The lease's expiry, given back by the commit.
    lease: u64,
    records: u64,
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
struct RecordToArchive {
    log_row: String,
    time_ns: String,
    identity: String,
    severity_number: i32,
    trace_id: Option<String>,
    span_id: Option<String>,
    resource_id: String,
    shape_id: Option<String>,
    message: Option<String>,
    body: String,
}

impl Store {
    /// Archives the log records stored before `cutoff_ns`, a block a step, at most
    /// `max_steps` blocks. Returns what the steps archived (`spans`: records).
    pub async fn archive_logs_before(
        &self,
        now_ms: u64,
        cutoff_ns: u64,
        max_steps: u32,
    ) -> Result<Archived, StoreError> {
        let mut total = Archived::default();
        for _ in 0..max_steps {
            let Some(step) = self.archive_logs_step(now_ms, cutoff_ns).await? else {
                break;
            };
            total.add(step);
        }
        Ok(total)
    }

    /// One block of the oldest records before `cutoff_ns`; `None` when there is none or
    /// another compactor holds the lease. The records are read before the lease is taken,
    /// so a run with nothing to archive writes nothing (D1 bills the lease's two writes);
    /// the commit's guard catches a compactor that took them meanwhile.
    pub async fn archive_logs_step(
        &self,
        now_ms: u64,
        cutoff_ns: u64,
    ) -> Result<Option<Archived>, StoreError> {
        let Some(pending) = self.prepare_log_block(now_ms, cutoff_ns).await? else {
            return Ok(None);
        };
        let lease = pending.lease;
        let result = async {
            self.put_block(&pending.key, &pending.bytes).await?;
            self.commit_log_block(pending).await
        }
        .await;
        if result.is_err() {
            // The next step, here or elsewhere, may start over at once.
            self.return_archive_lease(lease).await;
        }
        result.map(Some)
    }

    /// Step 1: the records, then the lease, a block id and the block built (its object
    /// is written next, under [`PendingLogs::key`]).
    pub async fn prepare_log_block(
        &self,
        now_ms: u64,
        cutoff_ns: u64,
    ) -> Result<Option<PendingLogs>, StoreError> {
        let rows = self.logs_to_archive(cutoff_ns).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let Some(lease) = self.take_archive_lease(now_ms).await? else {
            return Ok(None);
        };
        let built = self.build_log_block(lease, rows).await;
        if !matches!(built, Ok(Some(_))) {
            self.return_archive_lease(lease).await;
        }
        built
    }

    /// Step 3 (after the object is written): one transaction records the block and
    /// deletes the rows it holds, or changes nothing.
    pub async fn commit_log_block(&self, pending: PendingLogs) -> Result<Archived, StoreError> {
        self.db.transaction(pending.statements).await?;
        if let Some(archive) = self.archive() {
            archive.set_known_bytes(None);
        }
        Ok(Archived {
            block_id: pending.block_id,
            blocks: 1,
            traces: 0,
            spans: pending.records,
            bytes: pending.bytes.len() as u64,
        })
    }

    /// A block's worth of the oldest records before `cutoff_ns`: as many as the
    /// archive's blocks take spans ([`super::Limits::block_spans`]), and at most an hour
    /// of their times ([`BLOCK_WINDOW_NS`]); none while fewer wait for a block to fill
    /// ([`super::Archive::waiting_for_full_blocks`]).
    async fn logs_to_archive(&self, cutoff_ns: u64) -> Result<Vec<RecordToArchive>, StoreError> {
        let archive = self.archive_or_fail()?;
        let block_records = archive.limits().block_spans;
        let limit = Param::Int(i64::try_from(block_records).unwrap_or(i64::MAX));
        // Whether a block goes now, before its records are read: a housekeeping run every
        // few seconds would otherwise read a block's worth of them, to leave them waiting.
        #[derive(Deserialize)]
        struct Waiting {
            oldest: Option<String>,
            records: u64,
        }
        let waiting: Option<Waiting> = self
            .rows(Statement::new(
                sql::LOGS_WAITING,
                vec![ns_param(cutoff_ns), limit.clone()],
            ))
            .await?
            .pop();
        let Some((oldest, records)) =
            waiting.and_then(|w| w.oldest.map(|oldest| (oldest, w.records)))
        else {
            return Ok(Vec::new());
        };
        // Records that wait all came within five minutes: an hour's window cuts none of
        // them, so a short block is a block of fewer records than a block takes.
        let oldest = number(&oldest, "log time")?.max(0) as u64;
        if records < block_records && !archive.partial_block_due(oldest, cutoff_ns) {
            return Ok(Vec::new());
        }
        let rows: Vec<RecordToArchive> = self
            .rows(Statement::new(
                sql::LOGS_TO_ARCHIVE,
                vec![ns_param(cutoff_ns), limit],
            ))
            .await?;
        let Some(first) = rows.first() else {
            return Ok(rows);
        };
        // An hour of records at most, so retention drops blocks close to their time.
        let window_end = number(&first.time_ns, "log time")?
            .max(0)
            .saturating_add(BLOCK_WINDOW_NS as i64);
        let mut taken = Vec::with_capacity(rows.len());
        for row in rows {
            if number(&row.time_ns, "log time")? >= window_end {
                break;
            }
            taken.push(row);
        }
        Ok(taken)
    }

    async fn build_log_block(
        &self,
        lease: u64,
        taken: Vec<RecordToArchive>,
    ) -> Result<Option<PendingLogs>, StoreError> {
        let mut row_sum: i64 = 0;
        let mut resource_ids = BTreeMap::new();
        let mut shape_ids = BTreeMap::new();
        for row in &taken {
            row_sum = row_sum.wrapping_add(number(&row.log_row, "log row")?);
            resource_ids.insert(row.resource_id.clone(), ());
            if let Some(shape) = &row.shape_id {
                shape_ids.insert(shape.clone(), ());
            }
        }
        let (resources, shapes) = self.load_dictionaries(&resource_ids, &shape_ids).await?;
        let service_of: BTreeMap<i64, Option<&str>> = resources
            .iter()
            .map(|r| (r.id, r.service_name.as_deref()))
            .collect();
        let mut records = Vec::with_capacity(taken.len());
        for row in taken {
            let resource_id = number(&row.resource_id, "resource id")?;
            records.push(LogRecord {
                time_ns: number(&row.time_ns, "log time")?.max(0) as u64,
                identity: number(&row.identity, "log identity")?,
                severity_number: row.severity_number,
                trace_id: row.trace_id.filter(|id| !id.is_empty()),
                span_id: row.span_id.filter(|id| !id.is_empty()),
                resource_id,
                shape_id: row
                    .shape_id
                    .as_deref()
                    .map(|s| number(s, "shape"))
                    .transpose()?,
                service_name: service_of
                    .get(&resource_id)
                    .copied()
                    .flatten()
                    .map(str::to_owned),
                message: row.message,
                body: row.body,
            });
        }
        let count = records.len() as u64;
        let (Some(oldest), Some(newest)) = (
            records.iter().map(|r| (r.time_ns, r.identity)).min(),
            records.iter().map(|r| (r.time_ns, r.identity)).max(),
        ) else {
            return Ok(None);
        };
        self.db
            .transaction(vec![Statement::new(sql::NEXT_ARCHIVE_BLOCK, vec![])])
            .await?;
        let block_id = self.counter("last_archive_block").await? as i64;
        let key = object_key(0, block_id);
        let (bytes, dictionaries) =
            log_block::encode(&mut records, &resources, &shapes).map_err(block_failed)?;
        // The filter of the records as the block's readers decode them, built from the
        // records themselves: decoding the block would hold a second copy of them, on the
        // Worker beside other requests.
        let bloom =
            matching::summarize_logs(&records, &Parsed::of(&dictionaries)).map_err(block_failed)?;
        drop(records);
        let range = || {
            vec![
                ns_param(oldest.0),
                oldest.1.to_string().into(),
                ns_param(newest.0),
                newest.1.to_string().into(),
            ]
        };
        let mut guard = range();
        guard.push(format!("{count}:{row_sum}").into());
        guard.push(count.to_string().into());
        let statements = vec![
            Statement::new(sql::LOG_ARCHIVE_GUARD, guard),
            Statement::new(sql::LOG_ARCHIVE_DELETE, range()),
            Statement::new(
                sql::INSERT_ARCHIVE_BLOCK,
                vec![
                    block_id.to_string().into(),
                    Param::Int(0),
                    Param::Int(LOGS),
                    key.as_str().into(),
                    ns_param(oldest.0),
                    ns_param(newest.0),
                    Param::Int(count as i64),
                    Param::Int(0),
                    Param::Int(bytes.len() as i64),
                    // Services count spans; records are not among them.
                    "{}".into(),
                    hex::encode(bloom.as_bytes()).into(),
                ],
            ),
            Statement::new(sql::RETURN_ARCHIVE_LEASE, vec![lease.to_string().into()]),
        ];
        Ok(Some(PendingLogs {
            block_id,
            key,
            bytes,
            lease,
            records: count,
            statements,
        }))
    }
}
