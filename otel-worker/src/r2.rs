//! R2 as the archive's [`ObjectStore`]: the blocks of every database in one bucket, each
//! database's under its own prefix (its binding's name), so one database's orphan listing
//! never sees another's blocks.

use std::ops::Range;

use async_trait::async_trait;
use otel_worker_core::archive::objects::{Listing, ObjectError, ObjectInfo, ObjectStore};
use worker::send::SendFuture;
use worker::{Bucket, Range as R2Range};

/// One database's part of the archive bucket.
pub struct R2 {
    bucket: Bucket,
    /// `<binding>/`: prepended to every key, taken off every listed one.
    prefix: String,
}

// The bucket is a JavaScript object: Workers run one thread per isolate.
unsafe impl Send for R2 {}
unsafe impl Sync for R2 {}

impl R2 {
    pub fn new(bucket: Bucket, database: &str) -> Self {
        Self {
            bucket,
            prefix: format!("{database}/"),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// R2's failures are transient as far as we can tell from here (its errors carry text
/// only): the next compaction step or request tries again.
fn failed(what: &str, key: &str, error: worker::Error) -> ObjectError {
    ObjectError::Unavailable(format!("R2 {what} of {key}: {error}"))
}

#[async_trait]
impl ObjectStore for R2 {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        let full = self.key(key);
        SendFuture::new(async { self.bucket.put(&full, bytes).execute().await })
            .await
            .map(drop)
            .map_err(|e| failed("put", &full, e))
    }

    async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<Vec<u8>>, ObjectError> {
        let full = self.key(key);
        if range.is_empty() {
            return Ok(Some(Vec::new()));
        }
        SendFuture::new(async {
            let object = self
                .bucket
                .get(&full)
                .range(R2Range::OffsetWithLength {
                    offset: range.start,
                    length: range.end - range.start,
                })
                .execute()
                .await?;
            match object.as_ref().and_then(|o| o.body()) {
                Some(body) => body.bytes().await.map(Some),
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| failed("read", &full, e))
    }

    async fn get_suffix(&self, key: &str, len: u64) -> Result<Option<(Vec<u8>, u64)>, ObjectError> {
        let full = self.key(key);
        SendFuture::new(async {
            let object = self
                .bucket
                .get(&full)
                .range(R2Range::Suffix { suffix: len })
                .execute()
                .await?;
            let Some(object) = object else {
                return Ok(None);
            };
            let size = object.size();
            match object.body() {
                Some(body) => body.bytes().await.map(|bytes| Some((bytes, size))),
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| failed("read of the end", &full, e))
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ObjectError> {
        // R2 deletes at most 1,000 keys a call.
        for chunk in keys.chunks(1_000) {
            let full: Vec<String> = chunk.iter().map(|k| self.key(k)).collect();
            let first = full.first().cloned().unwrap_or_default();
            SendFuture::new(self.bucket.delete_multiple(full))
                .await
                .map_err(|e| failed("delete", &first, e))?;
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Listing, ObjectError> {
        let full = self.key(prefix);
        let listed = SendFuture::new(async {
            let mut request = self
                .bucket
                .list()
                .prefix(&full)
                .limit(limit.clamp(1, 1_000));
            if let Some(after) = after {
                request = request.start_after(self.key(after));
            }
            request.execute().await
        })
        .await
        .map_err(|e| failed("listing", &full, e))?;
        Ok(Listing {
            objects: listed
                .objects()
                .into_iter()
                .filter_map(|o| {
                    let key = o.key().strip_prefix(&self.prefix)?.to_owned();
                    Some(ObjectInfo {
                        key,
                        size: o.size(),
                    })
                })
                .collect(),
            truncated: listed.truncated(),
        })
    }
}
