//! What the archive needs of an object store, so block writing, compaction and reading
//! are core code tested natively and under workerd alike: R2 on the Worker, a directory
//! locally.

use std::ops::Range;

use async_trait::async_trait;

/// Why an object store call failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Worth retrying later: a timeout, a rate limit, an I/O error.
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
    /// Retrying will not help (a malformed key, a refused request).
    #[error("the object store refused: {0}")]
    Refused(String),
}

/// One stored object, as a listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// A page of a listing, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<ObjectInfo>,
    /// Whether more objects follow the last one listed.
    pub truncated: bool,
}

/// Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments ([`valid_key`]).
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `bytes` under `key`, replacing what was there. Readers see the old object
    /// or the new one whole, never a part.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError>;

    /// The bytes of `range` (cut to the object's end); `None` if there is no object.
    async fn get_range(&self, key: &str, range: Range<u64>)
    -> Result<Option<Vec<u8>>, ObjectError>;

    /// The last `len` bytes (all of a shorter object) and the object's size; `None` if
    /// there is no object. How a block's footer is read without knowing its size.
    async fn get_suffix(&self, key: &str, len: u64) -> Result<Option<(Vec<u8>, u64)>, ObjectError>;

    /// Deletes the objects; missing ones are not an error.
    async fn delete(&self, keys: &[String]) -> Result<(), ObjectError>;

    /// Up to `limit` objects whose key starts with `prefix`, after `after` in key order.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Listing, ObjectError>;
}

/// Whether `key` is a key every store accepts the same way: non-empty segments of ASCII
/// letters, digits, `.`, `_` and `-` (never only dots), joined by `/`, at most 512 bytes.
pub fn valid_key(key: &str) -> bool {
    key.len() <= 512
        && !key.is_empty()
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment.bytes().any(|b| b != b'.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_are_plain_relative_paths() {
        for ok in ["blocks/0/00000001.owb", "a", "a-b_c.d/e"] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/..", ".", "a b", "a\\b", "ü",
        ] {
            assert!(!valid_key(bad), "{bad}");
        }
        assert!(!valid_key(&"a".repeat(513)));
    }
}
