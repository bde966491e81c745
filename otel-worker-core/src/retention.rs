//! Retention: deleting traces older than a cutoff, in bounded steps.
//!
//! Each step is one short transaction deleting at most [`DEFAULT_BATCH_TRACES`] whole
//! traces (oldest first, by trace start), so ingest waits at most one step's length
//! behind a prune, never the whole cleanup. Traces go as a whole: a trace never loses
//! half its spans to retention.

use std::time::Duration;

use crate::store::{Pruned, Store, StoreError};

/// Traces deleted per transaction. About 10,000 spans of typical traces: tens of
/// milliseconds on SQLite, well inside one D1 call.
pub const DEFAULT_BATCH_TRACES: u32 = 1_000;

/// The instant `keep` before `now_ns`: traces that started earlier are pruned.
pub fn cutoff(now_ns: u64, keep: Duration) -> u64 {
    now_ns.saturating_sub(u64::try_from(keep.as_nanos()).unwrap_or(u64::MAX))
}

/// Deletes every trace that started before `cutoff_ns` (and every log record of before
/// it), one step after another, until
/// none is left or `max_steps` steps ran (`None`: no limit).
pub async fn prune_before(
    store: &Store,
    cutoff_ns: u64,
    max_steps: Option<u32>,
) -> Result<Pruned, StoreError> {
    let mut total = Pruned::default();
    let mut steps = 0;
    while max_steps.is_none_or(|max| steps < max) {
        let step = store.prune(cutoff_ns, DEFAULT_BATCH_TRACES).await?;
        steps += 1;
        total.traces += step.traces;
        total.spans += step.spans;
        total.logs += step.logs;
        // A full step of traces or of log records: more may be left.
        if step.traces < u64::from(DEFAULT_BATCH_TRACES)
            && step.logs < u64::from(DEFAULT_BATCH_TRACES) * 10
        {
            break;
        }
    }
    let hot = store.prune_hot_before(cutoff_ns).await?;
    total.traces += hot.traces;
    total.spans += hot.spans;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_saturates() {
        assert_eq!(
            cutoff(10_000_000_000, Duration::from_secs(4)),
            6_000_000_000
        );
        assert_eq!(cutoff(5, Duration::from_secs(1)), 0);
    }
}
