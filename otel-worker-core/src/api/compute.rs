//! Where an export's CPU work runs. Decompressing, decoding and converting a 10 MiB
//! export takes tens to hundreds of milliseconds; on the async threads that answer
//! requests it would hold up every other request for that long. A home with threads to
//! spare (the local server) runs heavy exports on a blocking pool; a home without (a
//! Worker isolate) runs them inline. An export of an SDK's usual size (a few hundred
//! spans, well under a millisecond of work) is converted where it is: moving it to
//! another thread and back cost about 4% of ingest's CPU (`scripts/perf-ab.sh`).

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::ApiError;
use crate::store::StoreError;

/// Runs CPU-heavy jobs away from the request threads.
pub trait Compute: Send + Sync + 'static {
    /// Runs `job`; the future ends when it has run (or failed to).
    fn run(&self, job: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()>;
}

/// An export body of more bytes than this (an eighth of it when compressed) is heavy.
pub const HEAVY_BODY_BYTES: usize = 256 * 1024;

/// An export of more spans, log records or points than this is heavy.
pub const HEAVY_ITEMS: usize = 2_048;

/// `f`'s result, computed by `compute` when the work is `heavy` and the home has a
/// `compute`, else right here.
pub(crate) async fn offload<T: Send + 'static>(
    compute: Option<&Arc<dyn Compute>>,
    heavy: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let Some(compute) = compute.filter(|_| heavy) else {
        return Ok(f());
    };
    let slot = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    compute
        .run(Box::new(move || {
            let value = f();
            if let Ok(mut out) = out.lock() {
                *out = Some(value);
            }
        }))
        .await;
    let value = slot.lock().ok().and_then(|mut v| v.take());
    value.ok_or_else(|| {
        ApiError::Store(StoreError::Other(
            "the export's conversion stopped before it finished".into(),
        ))
    })
}
