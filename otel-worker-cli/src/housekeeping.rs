//! The local server's background work, off the request path: folding new spans into the
//! search blocks, keeping the database within its budget, deleting traces past the
//! retention, deleting shared rows nothing refers to, and moving spans stored by the
//! previous layout.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use otel_worker_core::retention;
use otel_worker_core::store::Store;
use otel_worker_core::store::summary::BLOCK_SPANS;
use otel_worker_core::store::sweep;

/// How often the housekeeper looks for work when there was none.
pub const IDLE_PAUSE: Duration = Duration::from_millis(200);

/// How often retention runs and the size warning is checked.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Span rows folded per summarizer step: a whole block. Each step reads and rewrites the
/// open block's filter and value counts, so under sustained ingest four times the
/// Worker's step took protobuf ingest from about 80,000 to 92,000 spans/s
/// (docs/performance.md).
pub const SUMMARY_STEP_ROWS: u32 = BLOCK_SPANS as u32;

/// Summarizer steps per round; a busy store gets another round at once.
const SUMMARY_STEPS: u32 = 8;

/// Prune steps per round while the database is over its budget.
const BUDGET_STEPS: u32 = 20;

/// How long after a sweep of unreferenced resources and key sets ended the next starts.
/// Reading the database costs nothing here, so hourly.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3_600);

/// What the housekeeper looks after.
pub struct Settings {
    pub store: Store,
    /// Delete traces that started longer ago than this.
    pub retention: Option<Duration>,
    /// Warn each time the database grows past another multiple of this many bytes.
    pub warn_past_each: Option<u64>,
    /// Archive traces that started longer ago than this (the store has an archive).
    pub archive_after: Option<Duration>,
}

/// How often the archive looks for traces old enough, when the last look found none
/// or too few for a block (or every `--archive-after`, if shorter).
pub const ARCHIVE_INTERVAL: Duration = Duration::from_secs(5);

/// Compaction steps (blocks) per round; a store with more to archive gets another round
/// at once.
const ARCHIVE_STEPS: u32 = 4;

/// How often objects left by a compaction that stopped midway are looked for.
pub const ORPHANS_EVERY: Duration = Duration::from_secs(24 * 3_600);

/// Runs until the process ends.
pub async fn run(settings: Settings) {
    let store = settings.store;
    // The first search after a start would otherwise read every block's filter itself.
    match store.warm_filters().await {
        Ok(read) => tracing::debug!(read, "search filters read into memory"),
        Err(e) => tracing::warn!("reading the search filters into memory failed: {e}"),
    }
    let mut last_retention: Option<Instant> = None;
    let mut warned_at = 0;
    let mut legacy_left = match store.has_legacy_spans().await {
        Ok(true) => {
            tracing::info!(
                "moving spans stored by the previous layout, in steps; searches cover them once moved"
            );
            true
        }
        _ => false,
    };
    let mut moved = 0u64;
    let mut last_archive: Option<Instant> = None;
    let mut last_orphans: Option<Instant> = None;
    loop {
        let mut busy = false;
        if let Some(after) = settings.archive_after
            && last_archive.is_none_or(|at| at.elapsed() >= ARCHIVE_INTERVAL.min(after))
        {
            last_archive = Some(Instant::now());
            let cutoff = crate::unix_nanos_ago(after);
            match store.archive_before(now_ms(), cutoff, ARCHIVE_STEPS).await {
                Ok(archived) if archived.spans > 0 => {
                    tracing::debug!(
                        traces = archived.traces,
                        spans = archived.spans,
                        bytes = archived.bytes,
                        "archived traces older than {}",
                        otel_worker_core::duration::spelled(after)
                    );
                    // Every step made a block: there may be more right away.
                    if archived.blocks >= u64::from(ARCHIVE_STEPS) {
                        last_archive = None;
                        busy = true;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("archiving old traces failed, will retry: {e}"),
            }
            match store
                .archive_logs_before(now_ms(), cutoff, ARCHIVE_STEPS)
                .await
            {
                Ok(archived) if archived.spans > 0 => {
                    tracing::debug!(
                        records = archived.spans,
                        bytes = archived.bytes,
                        "archived log records older than {}",
                        otel_worker_core::duration::spelled(after)
                    );
                    if archived.blocks >= u64::from(ARCHIVE_STEPS) {
                        last_archive = None;
                        busy = true;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("archiving old log records failed, will retry: {e}"),
            }
            if last_orphans.is_none_or(|at| at.elapsed() >= ORPHANS_EVERY) {
                last_orphans = Some(Instant::now());
                match store.delete_orphans().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        objects = n,
                        "deleted archive objects a stopped compaction left behind"
                    ),
                    Err(e) => tracing::warn!("looking for orphaned archive objects failed: {e}"),
                }
            }
        }
        match store.summarize(now_ms(), SUMMARY_STEPS).await {
            Ok(rows) => busy |= rows >= u64::from(SUMMARY_STEPS * SUMMARY_STEP_ROWS),
            Err(e) => {
                tracing::warn!("folding new spans into the search blocks failed, will retry: {e}")
            }
        }
        match store.keep_within_budget(BUDGET_STEPS).await {
            Ok(kept) if kept.traces_deleted > 0 => {
                tracing::info!(
                    traces = kept.traces_deleted,
                    spans = kept.spans_deleted,
                    bytes = kept.bytes,
                    "deleted the oldest traces to stay within the storage budget"
                );
                busy |= kept.over;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("keeping within the storage budget failed, will retry: {e}"),
        }
        // Legacy spans refer to resources the sweep does not read: it waits for them.
        if !legacy_left {
            match store
                .sweep_step(now_ms(), SWEEP_EVERY, sweep::DEFAULT_STEP_ROWS)
                .await
            {
                Ok(Some(swept)) if swept.ended => tracing::debug!(
                    series = swept.series,
                    key_sets = swept.shapes,
                    resources = swept.resources,
                    "swept shared rows nothing refers to"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("sweeping unreferenced rows failed, will retry: {e}"),
            }
        }
        if legacy_left {
            match store.move_legacy_step().await {
                Ok(0) => {
                    legacy_left = false;
                    tracing::info!(moved, "every span of the previous layout has been moved");
                }
                Ok(spans) => {
                    moved += spans;
                    busy = true;
                }
                Err(e) => {
                    tracing::warn!("moving spans of the previous layout failed, will retry: {e}")
                }
            }
        }
        if last_retention.is_none_or(|at| at.elapsed() >= RETENTION_INTERVAL) {
            last_retention = Some(Instant::now());
            if let Some(keep) = settings.retention {
                let cutoff = crate::unix_nanos_ago(keep);
                match retention::prune_before(&store, cutoff, None).await {
                    Ok(pruned) if pruned.traces > 0 => tracing::info!(
                        traces = pruned.traces,
                        spans = pruned.spans,
                        "retention deleted traces older than {}",
                        otel_worker_core::duration::spelled(keep)
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("retention failed, will retry: {e}"),
                }
            }
            if let Some(step) = settings.warn_past_each
                && let Ok(bytes) = store.database().size().await
                && bytes / step > warned_at
            {
                warned_at = bytes / step;
                tracing::warn!(
                    "the database has passed {:.1} GB and nothing is ever deleted: start with \
                     --max-storage 2GB or --retention 7d, or run `otel-worker-cli system prune --older-than 7d`",
                    (warned_at * step) as f64 / 1e9
                );
            }
        }
        if !busy {
            tokio::time::sleep(IDLE_PAUSE).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// The wall clock in unix milliseconds (the summarizer's lease is timed with it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
