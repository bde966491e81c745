//! Deleting the shared rows nothing refers to any more: resources, attribute key sets and
//! metric series are stored once for every span, record or point that uses them, so
//! deleting those never deletes them (migration 0010 says how a sweep finds them).
//!
//! A sweep reads `spans` and `logs` in steps of a bounded number of rows, one short
//! transaction each, so ingest waits at most one step behind it; it must read faster
//! than rows arrive to end, which a few steps per housekeeping run do at any rate the
//! homes ingest. Reading every row has a price on D1 (rows read), so each home says how
//! often a sweep may start.

use std::time::Duration;

use super::{Param, Statement, Store, StoreError, sql};

/// Rows of `spans` and of `logs` one step reads: tens of milliseconds on SQLite.
pub const DEFAULT_STEP_ROWS: u32 = 20_000;

/// What one step of a sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Whether this step ended a sweep (the deletions happen then).
    pub ended: bool,
    pub series: u64,
    pub shapes: u64,
    pub resources: u64,
}

impl Store {
    /// Runs one step of the sweep, starting one first when none runs and the last ended
    /// at least `every` before `now_ms`; `None` (after one small read) when there is
    /// nothing to do until then.
    pub async fn sweep_step(
        &self,
        now_ms: u64,
        every: Duration,
        rows: u32,
    ) -> Result<Option<Swept>, StoreError> {
        let every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        // Reading the state first spares an idle step the rows its statements would read.
        let state = self
            .db
            .query(Statement::new(sql::SWEEP_STATE, vec![]))
            .await?;
        let running = super::first_number::<i64>(&state, "running").unwrap_or(0) != 0;
        let ended_ms = super::first_number::<u64>(&state, "ended_ms").unwrap_or(0);
        if !running && ended_ms.saturating_add(every_ms) > now_ms {
            return Ok(None);
        }
        let params = [
            Param::Int(i64::from(rows)),
            Param::Text(now_ms.to_string()),
            Param::Text(every_ms.min(i64::MAX as u64).to_string()),
        ];
        let statements = sql::SWEEP
            .iter()
            .map(|sql| {
                // Each statement binds only the parameters it names.
                let used = (1..=3).filter(|i| sql.contains(&format!("?{i}"))).max();
                Statement::new(*sql, params[..used.unwrap_or(0)].to_vec())
            })
            .collect();
        let changes = self.db.transaction(statements).await?;
        let count = |sql: &str| {
            sql::SWEEP
                .iter()
                .position(|s| *s == sql)
                .and_then(|i| changes.get(i).copied())
                .unwrap_or(0)
        };
        Ok(Some(Swept {
            ended: count(sql::SWEEP_ENDED) > 0,
            series: count(sql::SWEEP_DELETED_SERIES),
            shapes: count(sql::SWEEP_DELETED_SHAPES),
            resources: count(sql::SWEEP_DELETED_RESOURCES),
        }))
    }
}
