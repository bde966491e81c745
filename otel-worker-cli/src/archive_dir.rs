//! The local archive's object store: a directory (by default `.otel-worker/archive/`
//! beside the database). A write goes to a temporary file, is synced, and is renamed
//! into place, so a crash leaves the old object or the new one, never half of one.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use otel_worker_core::archive::objects::{
    Listing, ObjectError, ObjectInfo, ObjectStore, valid_key,
};

/// Where writes wait before they are renamed into place; never listed.
const TEMPORARY: &str = ".tmp";

/// Objects as files under one directory, keys as relative paths.
pub struct DirectoryStore {
    root: PathBuf,
    /// Names temporary files uniquely within this process.
    writes: AtomicU64,
}

impl DirectoryStore {
    /// Opens (creating) the directory, and removes temporary files a crash left behind.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join(TEMPORARY))?;
        for entry in fs::read_dir(root.join(TEMPORARY))? {
            let _ = fs::remove_file(entry?.path());
        }
        Ok(Self {
            root,
            writes: AtomicU64::new(0),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, ObjectError> {
        if !valid_key(key) || key.split('/').next() == Some(TEMPORARY) {
            return Err(ObjectError::Refused(format!(
                "{key:?} is not an object key"
            )));
        }
        Ok(self.root.join(key))
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ObjectError::Unavailable(e.to_string()))?
        .map_err(|e| ObjectError::Unavailable(e.to_string()))
}

/// `None` for a missing file, the error otherwise.
fn existing<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_at(file: &mut File, start: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut out = Vec::new();
    file.take(len).read_to_end(&mut out)?;
    Ok(out)
}

#[async_trait]
impl ObjectStore for DirectoryStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        let path = self.path(key)?;
        let temporary = self.root.join(TEMPORARY).join(format!(
            "{}-{}",
            std::process::id(),
            self.writes.fetch_add(1, Ordering::Relaxed)
        ));
        blocking(move || {
            let parent = path.parent().unwrap_or(Path::new("."));
            fs::create_dir_all(parent)?;
            let mut file = File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            // The rename itself must survive a crash too.
            File::open(parent)?.sync_all()
        })
        .await
    }

    async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<Vec<u8>>, ObjectError> {
        let path = self.path(key)?;
        blocking(move || match existing(File::open(&path))? {
            Some(mut file) => read_at(
                &mut file,
                range.start,
                range.end.saturating_sub(range.start),
            )
            .map(Some),
            None => Ok(None),
        })
        .await
    }

    async fn get_suffix(&self, key: &str, len: u64) -> Result<Option<(Vec<u8>, u64)>, ObjectError> {
        let path = self.path(key)?;
        blocking(move || match existing(File::open(&path))? {
            Some(mut file) => {
                let size = file.metadata()?.len();
                let start = size.saturating_sub(len);
                Ok(Some((read_at(&mut file, start, size - start)?, size)))
            }
            None => Ok(None),
        })
        .await
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ObjectError> {
        let paths = keys
            .iter()
            .map(|key| self.path(key))
            .collect::<Result<Vec<_>, _>>()?;
        blocking(move || {
            for path in paths {
                existing(fs::remove_file(path))?;
            }
            Ok(())
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Listing, ObjectError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let after = after.map(str::to_owned);
        blocking(move || {
            let mut all = Vec::new();
            walk(&root, &root, &mut all)?;
            all.retain(|object| {
                object.key.starts_with(&prefix)
                    && after
                        .as_deref()
                        .is_none_or(|after| object.key.as_str() > after)
            });
            all.sort_by(|a, b| a.key.cmp(&b.key));
            let truncated = all.len() > limit as usize;
            all.truncate(limit as usize);
            Ok(Listing {
                objects: all,
                truncated,
            })
        })
        .await
    }
}

/// Every object file under `dir`, keyed by its path from `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<ObjectInfo>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let key = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if key == TEMPORARY {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() && valid_key(&key) {
            out.push(ObjectInfo {
                size: entry.metadata()?.len(),
                key,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use otel_worker_core::archive::block;
    use otel_worker_core::archive::read::OpenBlock;
    use otel_worker_core::store::{ResourceRecord, ShapeRecord, SpanRecord};

    fn store() -> (tempfile::TempDir, DirectoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = DirectoryStore::open(dir.path().join("archive")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn objects_are_written_whole_read_by_range_and_from_the_end_and_replaced() {
        let (_dir, store) = store();
        let bytes: Vec<u8> = (0..=255).collect();
        store.put("blocks/0/1.owb", bytes.clone()).await.unwrap();
        let read = |range| store.get_range("blocks/0/1.owb", range);
        assert_eq!(read(10..20).await.unwrap().unwrap(), bytes[10..20]);
        assert_eq!(read(250..1_000).await.unwrap().unwrap(), bytes[250..]);
        assert_eq!(read(300..400).await.unwrap().unwrap(), Vec::<u8>::new());
        let (tail, size) = store
            .get_suffix("blocks/0/1.owb", 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((tail.as_slice(), size), (&bytes[248..], 256));
        let (all, _) = store
            .get_suffix("blocks/0/1.owb", 1_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(all, bytes);
        store.put("blocks/0/1.owb", vec![7; 3]).await.unwrap();
        assert_eq!(read(0..100).await.unwrap().unwrap(), vec![7; 3]);
    }

    #[tokio::test]
    async fn a_missing_object_is_none_and_deleting_it_is_no_error() {
        let (_dir, store) = store();
        assert_eq!(store.get_range("nothing", 0..10).await.unwrap(), None);
        assert_eq!(store.get_suffix("nothing", 10).await.unwrap(), None);
        store.delete(&["nothing".to_owned()]).await.unwrap();
    }

    #[tokio::test]
    async fn listings_are_in_key_order_by_prefix_in_pages_and_never_show_unfinished_writes() {
        let (dir, store) = store();
        for key in ["b/2", "a/1", "b/10", "b/1", "c"] {
            store.put(key, key.as_bytes().to_vec()).await.unwrap();
        }
        // A write a crash interrupted.
        fs::write(dir.path().join("archive/.tmp/999-0"), b"half").unwrap();
        let keys = |listing: Listing| -> Vec<String> {
            listing.objects.into_iter().map(|o| o.key).collect()
        };
        let page = store.list("b/", None, 2).await.unwrap();
        assert!(page.truncated);
        assert_eq!(keys(page), ["b/1", "b/10"]);
        let rest = store.list("b/", Some("b/10"), 2).await.unwrap();
        assert!(!rest.truncated);
        assert_eq!(keys(rest), ["b/2"]);
        assert_eq!(keys(store.list("", None, 100).await.unwrap()).len(), 5);
        store
            .delete(&["b/1".to_owned(), "c".to_owned()])
            .await
            .unwrap();
        assert_eq!(
            keys(store.list("", None, 100).await.unwrap()),
            ["a/1", "b/10", "b/2"]
        );
        // Reopening clears what crashed writes left.
        drop(store);
        DirectoryStore::open(dir.path().join("archive")).unwrap();
        assert!(
            fs::read_dir(dir.path().join("archive/.tmp"))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[tokio::test]
    async fn keys_that_would_leave_the_directory_are_refused() {
        let (_dir, store) = store();
        for key in ["../escape", "/etc/passwd", "a/../../b", ".tmp/x", ""] {
            assert!(
                matches!(store.put(key, vec![1]).await, Err(ObjectError::Refused(_))),
                "{key}"
            );
        }
    }

    /// Counts the reads that reach the directory.
    struct Counted {
        inner: DirectoryStore,
        reads: AtomicU64,
    }

    #[async_trait]
    impl ObjectStore for Counted {
        async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
            self.inner.put(key, bytes).await
        }
        async fn get_range(
            &self,
            key: &str,
            range: Range<u64>,
        ) -> Result<Option<Vec<u8>>, ObjectError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.inner.get_range(key, range).await
        }
        async fn get_suffix(
            &self,
            key: &str,
            len: u64,
        ) -> Result<Option<(Vec<u8>, u64)>, ObjectError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.inner.get_suffix(key, len).await
        }
        async fn delete(&self, keys: &[String]) -> Result<(), ObjectError> {
            self.inner.delete(keys).await
        }
        async fn list(
            &self,
            prefix: &str,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Listing, ObjectError> {
            self.inner.list(prefix, after, limit).await
        }
    }

    /// `n` spans of traces of 8 spans each, trace ids from `first_trace` on.
    fn spans(first_trace: u64, n: u64) -> (Vec<SpanRecord>, ResourceRecord, ShapeRecord) {
        let resource = ResourceRecord::new(
            r#"{"attributes":{"service.name":"svc"}}"#.into(),
            "{}".into(),
            Some("svc".into()),
        );
        let shape = ShapeRecord {
            id: otel_worker_core::store::row::content_id(&[r#"["n"]"#]),
            keys: r#"["n"]"#.into(),
        };
        let spans = (0..n)
            .map(|i| SpanRecord {
                trace_id: format!("{:032x}", first_trace + i / 8),
                span_id: format!("{:016x}", i + 1),
                parent_span_id: (i % 8 != 0).then(|| format!("{:016x}", i - i % 8 + 1)),
                name: format!("op {}", i % 8),
                kind: 2,
                service_name: Some("svc".into()),
                status_code: 0,
                start_ns: 1_000 + i,
                end_ns: 2_000 + i,
                resource_id: resource.id,
                shape_id: Some(shape.id),
                body: format!(r#"{{"v":[{i}]}}"#),
            })
            .collect();
        (spans, resource, shape)
    }

    #[tokio::test]
    async fn a_trace_is_read_from_a_stored_block_in_three_reads_and_absent_ones_cost_none() {
        let (_dir, inner) = store();
        let store = Counted {
            inner,
            reads: AtomicU64::new(0),
        };
        let (spans, resource, shape) = spans(0, 40_000);
        let encoded = block::encode(spans.clone(), &[resource], &[shape]).unwrap();
        store.put("blocks/1.owb", encoded).await.unwrap();

        let block = OpenBlock::open(&store, "blocks/1.owb").await.unwrap();
        assert_eq!(
            store.reads.load(Ordering::Relaxed),
            2,
            "the end, then the dictionaries"
        );
        assert_eq!(block.footer.spans, 40_000);
        assert_eq!(block.footer.row_groups.len(), 10);
        let wanted = format!("{:032x}", 3_000);
        let found = block.trace_spans(&store, &wanted).await.unwrap();
        assert_eq!(found, spans[24_000..24_008]);
        assert_eq!(store.reads.load(Ordering::Relaxed), 3, "one row group");
        // Beyond the block's last trace id: the footer alone says so.
        let absent = block
            .trace_spans(&store, &format!("{:032x}", 9_999_999))
            .await
            .unwrap();
        assert!(absent.is_empty());
        assert_eq!(store.reads.load(Ordering::Relaxed), 3);
        let traces = block.traces(&store).await.unwrap();
        assert_eq!(traces.len(), 5_000);
        assert_eq!(traces[3_000].trace_id, wanted);
        assert_eq!(
            (traces[3_000].spans, traces[3_000].root_name.as_deref()),
            (8, Some("op 0"))
        );
    }

    #[tokio::test]
    async fn a_missing_or_foreign_object_is_an_error_that_says_which() {
        let (_dir, store) = store();
        let missing = OpenBlock::open(&store, "blocks/none.owb")
            .await
            .unwrap_err();
        assert!(missing.to_string().contains("blocks/none.owb"), "{missing}");
        store
            .put("blocks/text", b"not a block at all".to_vec())
            .await
            .unwrap();
        let foreign = OpenBlock::open(&store, "blocks/text").await.unwrap_err();
        assert!(
            foreign.to_string().contains("not an otel-worker block"),
            "{foreign}"
        );
    }
}
