//! The storage budget: a store that passes its budget deletes its oldest traces, whole,
//! until it is comfortably under again, so it never fills up and the newest data is
//! always kept. An export that arrives while the store is still over its budget (a burst
//! larger than the headroom) is refused with a retryable error naming the budget.

use super::{Pruned, Store, StoreError};

/// Pruning starts once a store passes this share of its budget...
pub const PRUNE_ABOVE: f64 = 0.90;
/// ...and stops once it is back under this share.
pub const PRUNE_DOWN_TO: f64 = 0.80;
/// Traces deleted per prune step.
pub const TRACES_PER_STEP: u32 = 1_000;
/// At most this share of the budget is deleted per prune step (1/32): a step's deletes
/// pass through the write-ahead log, which counts against the budget until it restarts
/// after the step, so a step must fit in the headroom above [`PRUNE_ABOVE`].
pub const STEP_SHARE: f64 = 1.0 / 32.0;

/// What one call to [`Store::keep_within_budget`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kept {
    pub traces_deleted: u64,
    pub spans_deleted: u64,
    pub logs_deleted: u64,
    /// The size measured last.
    pub bytes: u64,
    /// Whether the store is still over its budget (more steps are needed).
    pub over: bool,
}

impl Store {
    /// Sets the budget in bytes (`None`: unlimited).
    pub fn with_budget(mut self, limit_bytes: Option<u64>) -> Self {
        self.budget = limit_bytes;
        self
    }

    pub fn budget(&self) -> Option<u64> {
        self.budget
    }

    /// Whether the store has passed the share of its budget where pruning starts.
    pub async fn needs_pruning(&self) -> Result<bool, StoreError> {
        let Some(limit) = self.budget else {
            return Ok(false);
        };
        Ok(self.used_bytes().await? as f64 > limit as f64 * PRUNE_ABOVE)
    }

    /// What counts against the budget: the database, and the archive's blocks when they
    /// share its disk.
    pub async fn used_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.db.size().await? + self.budgeted_archive_bytes().await?)
    }

    /// Deletes the oldest traces, at most [`TRACES_PER_STEP`] (and [`STEP_SHARE`] of the
    /// budget) at a time, while the store is over
    /// [`PRUNE_ABOVE`] of its budget and until it is under [`PRUNE_DOWN_TO`], at most
    /// `max_steps` steps.
    pub async fn keep_within_budget(&self, max_steps: u32) -> Result<Kept, StoreError> {
        let mut kept = Kept::default();
        let Some(limit) = self.budget else {
            return Ok(kept);
        };
        kept.bytes = self.used_bytes().await?;
        if kept.bytes as f64 <= limit as f64 * PRUNE_ABOVE {
            return Ok(kept);
        }
        let target = limit as f64 * PRUNE_DOWN_TO;
        // Measured afresh before and after each step, without the write-ahead log the
        // deletes themselves grow: a stale or log-inflated size deleted far past the
        // target (every trace, each time a small budget filled).
        let mut data = self.db.data_size().await? + self.budgeted_archive_bytes().await?;
        for _ in 0..max_steps {
            if data as f64 <= target {
                break;
            }
            // An archive on the same disk holds the oldest data: its blocks go first,
            // one a step.
            let mut pruned = Pruned::default();
            if self.archive().is_some_and(|a| a.is_budgeted()) {
                pruned = self.drop_blocks_before(u64::MAX, 1).await?;
            }
            if pruned == Pruned::default() {
                // As many of the oldest traces as the excess is of the whole, and a tenth
                // more, at most a step's.
                let held = self.counter("traces").await? as f64;
                let excess = (data as f64 - target).min(limit as f64 * STEP_SHARE);
                let share = excess / data as f64;
                let traces = ((held * share * 1.1).ceil() as u32).clamp(1, TRACES_PER_STEP);
                pruned = self.prune(u64::MAX, traces).await?;
            }
            kept.traces_deleted += pruned.traces;
            kept.spans_deleted += pruned.spans;
            kept.logs_deleted += pruned.logs;
            data = self.db.data_size().await? + self.budgeted_archive_bytes().await?;
            if pruned.traces == 0 && pruned.logs == 0 && pruned.points == 0 {
                break;
            }
        }
        // What the deletes wrote to the log is given back, then the whole is measured.
        self.db.reclaim().await?;
        kept.bytes = self.used_bytes().await?;
        kept.over = kept.bytes as f64 > target;
        Ok(kept)
    }

    /// Before an export: a store past the share of its budget where pruning starts prunes
    /// right away (a few steps), so the export and whatever is in flight beside it land
    /// in the last tenth; the export is refused only if the store is still at its budget.
    pub(super) async fn make_room(&self) -> Result<(), StoreError> {
        let Some(limit) = self.budget else {
            return Ok(());
        };
        if !self.needs_pruning().await? {
            return Ok(());
        }
        let kept = self.keep_within_budget(20).await?;
        if kept.bytes >= limit {
            return Err(StoreError::Full(format!(
                "storage is full: {} of the {limit}-byte budget is used and deleting the \
                 oldest traces has not freed enough yet; retry shortly",
                kept.bytes
            )));
        }
        Ok(())
    }
}
