//! The Worker's background work: folding new spans into the search blocks, keeping each
//! database within its budget, retention, archiving old traces to R2, sweeping shared
//! rows nothing refers to, and moving spans of the previous layout. It
//! runs from the cron trigger every minute, and (all but retention, which can wait for
//! the cron) after answering a request (`Context::wait_until`), at most once per
//! [`AFTER_REQUEST_EVERY_MS`] per isolate, so a busy Worker keeps up between cron runs.

use std::cell::Cell;

use crate::d1::D1Usage;
use otel_worker_core::archive::rotate;
use otel_worker_core::retention;
use otel_worker_core::store::Shards;
use otel_worker_core::store::sweep;
use serde_json::json;
use worker::{Date, console_error, console_log};

/// How long after a sweep of unreferenced resources and key sets ended the next starts:
/// a sweep reads every stored span and record, billed as D1 rows read, so daily (a
/// shard of 27 million spans: about 0.8 billion rows a month of the 25 billion included).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// How often one isolate does housekeeping after a request.
pub const AFTER_REQUEST_EVERY_MS: f64 = 5_000.0;

thread_local! {
    static LAST_RUN: Cell<f64> = const { Cell::new(0.0) };
}

/// How much one run may do.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    pub summary_steps: u32,
    pub budget_steps: u32,
    pub legacy_steps: u32,
    /// Steps of [`sweep::DEFAULT_STEP_ROWS`] spans and records each.
    pub sweep_steps: u32,
    /// Archive blocks written from span rows (one a step, [`crate::config::ARCHIVE_LIMITS`]
    /// spans at most): spans stored before the hot tier of segments.
    pub archive_steps: u32,
    /// Hot tables of segments compacted into blocks.
    pub hot_tables: u32,
    /// Whether this run may look for objects a stopped compaction left (once a day).
    pub orphans: bool,
}

/// The minute of the (UTC) day whose cron run deletes orphaned archive objects: a
/// listing of the bucket is Class A, so once a day, at a quiet hour.
pub const ORPHANS_MINUTE_OF_DAY: u64 = 3 * 60 + 17;

/// After a request: a small run, unless this isolate ran one recently.
pub const AFTER_REQUEST: Effort = Effort {
    summary_steps: 2,
    budget_steps: 5,
    legacy_steps: 1,
    sweep_steps: 1,
    archive_steps: 1,
    hot_tables: 1,
    orphans: false,
};

/// From the cron trigger, every minute: enough to keep up with thousands of spans a
/// second, well within a scheduled run's 30 s.
pub const FROM_CRON: Effort = Effort {
    summary_steps: 30,
    budget_steps: 40,
    legacy_steps: 20,
    sweep_steps: 10,
    archive_steps: 8,
    hot_tables: 3,
    orphans: true,
};

/// Whether this isolate should run housekeeping after the current request.
pub fn due_after_request() -> bool {
    let now = Date::now().as_millis() as f64;
    let due = now - LAST_RUN.get() >= AFTER_REQUEST_EVERY_MS;
    if due {
        LAST_RUN.set(now);
    }
    due
}

/// What a run is told besides its effort.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// How long traces are kept (zero: always); `None` leaves retention to another run.
    pub retention: Option<std::time::Duration>,
    /// Traces older than this move to the archive; `None`: no archiving.
    pub archive_after: Option<std::time::Duration>,
}

/// One run over every database; failures are logged (the next run retries).
/// `usage` counts the D1 work of `shards`; each shard's line says what its run read and
/// wrote.
pub async fn run(shards: &Shards, usage: &D1Usage, effort: Effort, settings: Settings) {
    let now_ms = Date::now().as_millis();
    let retention_kept = settings.retention;
    for (index, store) in shards.all().iter().enumerate() {
        let started = Date::now().as_millis();
        let (read_before, written_before) = usage.rows();
        let mut line = json!({"event": "housekeeping", "shard": index});
        match store.keep_within_budget(effort.budget_steps).await {
            Ok(kept) => {
                line["budgetDeletedTraces"] = kept.traces_deleted.into();
                line["budgetDeletedSpans"] = kept.spans_deleted.into();
                line["bytes"] = kept.bytes.into();
            }
            Err(e) => console_error!("keeping shard {index} within its budget failed: {e}"),
        }
        if let Some(keep) = retention_kept.filter(|keep| !keep.is_zero()) {
            let now_ns = now_ms.saturating_mul(1_000_000);
            let cutoff = retention::cutoff(now_ns, keep);
            match retention::prune_before(store, cutoff, Some(effort.budget_steps)).await {
                Ok(pruned) => {
                    line["retentionSeconds"] = keep.as_secs().into();
                    line["deletedTraces"] = pruned.traces.into();
                    line["deletedSpans"] = pruned.spans.into();
                }
                Err(e) => console_error!("retention on shard {index} failed: {e}"),
            }
        }
        if let Some(after) = settings.archive_after
            && store.archive().is_some()
        {
            archive(store, index, now_ms, after, effort, &mut line).await;
        }
        match store.summarize(now_ms, effort.summary_steps).await {
            Ok(rows) => line["summarizedSpans"] = rows.into(),
            Err(e) => console_error!("summarizing shard {index} failed: {e}"),
        }
        for _ in 0..effort.legacy_steps {
            match store.move_legacy_step().await {
                Ok(0) => break,
                Ok(moved) => {
                    let before = line["movedLegacySpans"].as_u64().unwrap_or(0);
                    line["movedLegacySpans"] = (before + moved).into();
                }
                Err(e) => {
                    console_error!("moving legacy spans on shard {index} failed: {e}");
                    break;
                }
            }
        }
        for _ in 0..effort.sweep_steps {
            match store
                .sweep_step(now_ms, SWEEP_EVERY, sweep::DEFAULT_STEP_ROWS)
                .await
            {
                Ok(Some(swept)) if swept.ended => {
                    line["sweptSeries"] = swept.series.into();
                    line["sweptKeySets"] = swept.shapes.into();
                    line["sweptResources"] = swept.resources.into();
                    break;
                }
                Ok(Some(_)) => {}
                // Nothing to sweep until the next is due: no more reads this run.
                Ok(None) => break,
                Err(e) => {
                    console_error!("sweeping shard {index} failed: {e}");
                    break;
                }
            }
        }
        line["durationMs"] = Date::now().as_millis().saturating_sub(started).into();
        line["wasmMemoryBytes"] = wasm_memory_bytes().into();
        let (read, written) = usage.rows();
        line["d1RowsRead"] = read.saturating_sub(read_before).into();
        line["d1RowsWritten"] = written.saturating_sub(written_before).into();
        console_log!("{line}");
    }
}

/// The isolate's WebAssembly memory. It grows to the most the Worker has needed at once
/// and never shrinks, so each line shows the isolate's peak so far (an isolate has
/// 128 MB, JavaScript's heap included).
fn wasm_memory_bytes() -> u64 {
    (core::arch::wasm32::memory_size(0) as u64).saturating_mul(65_536)
}

/// Rotates the hot tables and compacts those no isolate writes to any more; moves traces
/// stored as span rows, and log records, older than `after` to the archive, up to the
/// effort's steps each; and once a day deletes the objects a stopped step left.
async fn archive(
    store: &otel_worker_core::store::Store,
    index: usize,
    now_ms: u64,
    after: std::time::Duration,
    effort: Effort,
    line: &mut serde_json::Value,
) {
    if store.hot().is_some() {
        let max_age_ms = u64::try_from(after.as_millis())
            .unwrap_or(u64::MAX)
            .min(rotate::DEFAULT_MAX_AGE_MS);
        match store
            .compact_hot(now_ms, max_age_ms, effort.hot_tables)
            .await
        {
            Ok(done) => {
                if done.rotated {
                    line["rotatedHotTable"] = true.into();
                }
                if done.tables > 0 {
                    line["compactedSegments"] = done.segments.into();
                    line["compactedBlocks"] = done.blocks.into();
                    line["compactedSpans"] = done.spans.into();
                    line["compactedBytes"] = done.bytes.into();
                }
            }
            Err(e) => {
                console_error!("compacting the hot tier of shard {index} failed, will retry: {e}")
            }
        }
    }
    let cutoff = retention::cutoff(now_ms.saturating_mul(1_000_000), after);
    match store
        .archive_before(now_ms, cutoff, effort.archive_steps)
        .await
    {
        Ok(archived) if archived.blocks > 0 => {
            line["archivedBlocks"] = archived.blocks.into();
            line["archivedTraces"] = archived.traces.into();
            line["archivedSpans"] = archived.spans.into();
            line["archivedBytes"] = archived.bytes.into();
        }
        Ok(_) => {}
        Err(e) => console_error!("archiving old traces of shard {index} failed, will retry: {e}"),
    }
    match store
        .archive_logs_before(now_ms, cutoff, effort.archive_steps)
        .await
    {
        Ok(archived) if archived.blocks > 0 => {
            line["archivedLogBlocks"] = archived.blocks.into();
            line["archivedRecords"] = archived.spans.into();
            line["archivedLogBytes"] = archived.bytes.into();
        }
        Ok(_) => {}
        Err(e) => {
            console_error!("archiving old log records of shard {index} failed, will retry: {e}")
        }
    }
    if effort.orphans && (now_ms / 60_000) % 1_440 == ORPHANS_MINUTE_OF_DAY {
        match store.delete_orphans().await {
            Ok(deleted) => line["deletedOrphans"] = deleted.into(),
            Err(e) => {
                console_error!("deleting orphaned archive objects of shard {index} failed: {e}")
            }
        }
    }
}
