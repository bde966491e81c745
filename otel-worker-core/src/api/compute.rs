//! Where an export's CPU work runs. Decompressing, decoding and converting a 10 MiB
//! export takes tens of milliseconds; on the async threads that answer requests it would
//! hold up every other request for that long. A home with threads to spare (the local
//! server) runs it on a blocking pool; a home without (a Worker isolate) runs it inline.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::ApiError;
use crate::store::StoreError;

/// Runs CPU-heavy jobs away from the request threads.
pub trait Compute: Send + Sync + 'static {
    /// Runs `job`; the future ends when it has run (or failed to).
    fn run(&self, job: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()>;
}

/// `f`'s result, computed by `compute` when the home has one, else right here.
pub(crate) async fn offload<T: Send + 'static>(
    compute: Option<&Arc<dyn Compute>>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let Some(compute) = compute else {
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
