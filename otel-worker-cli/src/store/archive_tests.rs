//! The archive tier on real SQLite files and a real directory: what is read back does not
//! depend on which tier holds it, and compaction stopped at any step loses and doubles
//! nothing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use otel_worker_core::archive::Archive;
use otel_worker_core::archive::objects::{Listing, ObjectError, ObjectStore};
use otel_worker_core::models::TraceSummary;
use otel_worker_core::store::search::search;
use otel_worker_core::store::{Body, SpanFilter, SpanRecord, Store, StoreError, TraceListQuery};
use serde_json::Value;

use super::SqliteDatabase;
use super::tests::{
    all_pages, batch, block_searches, count, many_traces, now_ms, query, shape, spans, with_service,
};
use crate::archive_dir::DirectoryStore;

/// A store over `path` whose archive is `objects`.
pub(super) fn archived(path: &Path, objects: Arc<dyn ObjectStore>) -> Store {
    Store::new(Arc::new(SqliteDatabase::open(path).unwrap()))
        .with_archive(Arc::new(Archive::new(objects).within_budget()))
}

pub(super) fn directory(path: &Path) -> Arc<DirectoryStore> {
    Arc::new(DirectoryStore::open(path.with_file_name("archive")).unwrap())
}

/// Every search of [`block_searches`] and a few more (the plain list, a time range, a
/// status with a duration), all pages.
fn every_search() -> Vec<TraceListQuery> {
    let mut all = block_searches();
    all.push(query(100, None));
    all.push(TraceListQuery {
        limit: 40,
        start_ns: Some(3_000_000),
        end_ns: Some(9_000_000),
        ..TraceListQuery::default()
    });
    all.push(TraceListQuery {
        limit: 7,
        span: SpanFilter {
            status_code: Some(2),
            max_duration_ns: Some(200_000),
            service: Some("svc-db".into()),
            ..SpanFilter::default()
        },
        ..TraceListQuery::default()
    });
    all
}

/// What a user reads back: every search's traces (ids, in order), and the summaries and
/// spans of a sample of traces.
pub(super) async fn everything_read(
    store: &Store,
) -> (Vec<Vec<String>>, Vec<(TraceSummary, Vec<Value>)>) {
    let mut searches = Vec::new();
    for q in every_search() {
        searches.push(all_pages(store, &q).await);
    }
    let mut traces = Vec::new();
    for t in [0u32, 1, 13, 4_999, 5_000, 6_001, 11_999] {
        let id = format!("{t:032x}");
        let summary = store.trace_summary(&id).await.unwrap().expect("the trace");
        traces.push((summary, spans(store, &id).await));
    }
    (searches, traces)
}

#[tokio::test]
async fn searches_and_traces_read_the_same_whichever_tier_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    many_traces(&store, 12_000).await;
    store.summarize(now_ms(), 100).await.unwrap();
    let before = everything_read(&store).await;
    let discovered = (
        store.attribute_keys(None, None).await.unwrap(),
        store.attribute_values("n", None, None, 50).await.unwrap(),
        store.attribute_keys(Some("svc-db"), None).await.unwrap(),
    );
    assert!(!discovered.0.is_empty() && !discovered.1.is_empty());
    assert!(
        before.0.iter().any(|ids| ids.len() > 1_000),
        "some find many"
    );
    assert!(before.0[1].is_empty(), "some find none");
    let hot_spans = count(&path, "SELECT count(*) FROM spans");
    assert_eq!(hot_spans, 36_000);

    // Half of the traces (those that started before trace 6,000's) go to the archive...
    let half = store
        .archive_before(now_ms(), 6_000_000, 100)
        .await
        .unwrap();
    assert_eq!((half.traces, half.spans), (6_000, 18_000));
    assert_eq!(count(&path, "SELECT count(*) FROM spans"), 18_000);
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 6_000);
    assert_eq!(everything_read(&store).await, before, "half archived");
    let stats = store.holdings().await.unwrap();
    assert_eq!((stats.spans, stats.traces), (18_000, 6_000), "the hot tier");
    let archive = stats.archive.expect("archive stats");
    assert_eq!(archive.spans, 18_000);
    assert_eq!(archive.oldest_unix_nano, Some(1));
    assert!(archive.blocks >= 1 && archive.bytes > 0, "{archive:?}");
    assert!(
        archive.bytes < 18_000 * 100,
        "{} bytes a span",
        archive.bytes / 18_000
    );

    // ... then the rest; a new store over the same files (nothing cached) reads the same.
    store.archive_before(now_ms(), u64::MAX, 100).await.unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM spans"), 0);
    assert_eq!(everything_read(&store).await, before, "all archived");
    // Attribute discovery counts the archived spans as it counted them in the rows.
    let archived_discovery = (
        store.attribute_keys(None, None).await.unwrap(),
        store.attribute_values("n", None, None, 50).await.unwrap(),
        store.attribute_keys(Some("svc-db"), None).await.unwrap(),
    );
    assert_eq!(archived_discovery.0, discovered.0);
    assert_eq!(archived_discovery.2, discovered.2);
    // Values are counted per block up to a number of distinct ones: a block of the
    // archive holds more spans than a search block, so its counts are the exact ones.
    assert_eq!(archived_discovery.1.len(), 50);
    for value in &archived_discovery.1 {
        let n: u32 = value.value.parse().unwrap();
        let traces = (0..12_000u32).filter(|t| t % 97 == n).count() as u64;
        assert_eq!(value.count, traces * 3, "{value:?}");
    }
    let reopened = archived(&path, directory(&path));
    assert_eq!(everything_read(&reopened).await, before, "reopened");
    // The services still count every span.
    let services = store.services().await.unwrap();
    assert_eq!(services.iter().map(|s| s.span_count).sum::<u64>(), 36_000);
}

#[tokio::test]
async fn spans_that_arrive_after_their_trace_was_archived_join_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    many_traces(&store, 10).await;
    store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
    let id = format!("{:032x}", 4);
    let archived_summary = store.trace_summary(&id).await.unwrap().unwrap();
    assert_eq!(archived_summary.span_count, 3);
    // A late span, and one span sent again (same id, new name).
    let late = |span_id: &str, name: &str, start: u64| {
        with_service(
            SpanRecord {
                trace_id: id.clone(),
                span_id: span_id.into(),
                parent_span_id: Some(format!("{:08x}{:08x}", 4, 1)),
                name: name.into(),
                kind: 2,
                service_name: None,
                status_code: 2,
                start_ns: start,
                end_ns: start + 1_000_000,
                resource_id: 0,
                shape_id: Some(shape().id),
                body: serde_json::to_string(&Body {
                    values: vec![Value::from(7)],
                    ..Body::default()
                })
                .unwrap(),
            },
            Some("svc-late"),
        )
    };
    store
        .insert(batch(vec![
            late("00000000000000ff", "late", 4_500),
            late(&format!("{:08x}{:08x}", 4, 2), "sent again", 4_002),
        ]))
        .await
        .unwrap();
    let all = spans(&store, &id).await;
    let names: Vec<&str> = all.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["op 4", "sent again", "child 3", "late"], "{all:#?}");
    let summary = store.trace_summary(&id).await.unwrap().unwrap();
    assert_eq!(summary.root_span_name.as_deref(), Some("op 4"));
    assert_eq!(summary.end_time_unix_nano, 4_500 + 1_000_000);
    assert!(summary.services.contains(&"svc-late".to_owned()));
    // The span sent again counts once; both late spans fail.
    assert_eq!((summary.span_count, summary.error_count), (4, 2));
    let mut q = query(20, None);
    q.span.name = Some("late".into());
    let page = search(std::slice::from_ref(&store), &q, None)
        .await
        .unwrap();
    assert_eq!(
        page.traces,
        std::slice::from_ref(&summary),
        "listed as read"
    );
    // Found by what only the late span carries, and listed once.
    let mut q = query(20, None);
    q.span.service = Some("svc-late".into());
    assert_eq!(all_pages(&store, &q).await, std::slice::from_ref(&id));
    let listed = all_pages(&store, &query(20, None)).await;
    assert_eq!(listed.iter().filter(|t| **t == id).count(), 1, "{listed:?}");
    assert_eq!(listed.len(), 10);
    // One span by id, from either tier.
    for span_id in ["00000000000000ff", &format!("{:08x}{:08x}", 4, 3)] {
        let one = store.span(&id, span_id).await.unwrap().expect("the span");
        assert!(one.get().contains(span_id));
    }
    // Archived in turn, the late spans make a second block of the trace: it still reads
    // and lists whole, once.
    store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 2);
    assert_eq!(spans(&store, &id).await, all);
    assert_eq!(store.trace_summary(&id).await.unwrap().unwrap(), summary);
    for q in [query(20, None), {
        let mut q = query(20, None);
        q.span.status_code = Some(2);
        q
    }] {
        let page = search(std::slice::from_ref(&store), &q, None)
            .await
            .unwrap();
        let mine: Vec<&TraceSummary> = page.traces.iter().filter(|t| t.trace_id == id).collect();
        assert_eq!(mine, [&summary], "{q:?}");
    }
}

/// The directory store, failing every `put` while `failing` is above zero.
pub(super) struct FlakyWrites {
    pub(super) inner: Arc<DirectoryStore>,
    pub(super) failing: AtomicU32,
}

#[async_trait]
impl ObjectStore for FlakyWrites {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        if self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ObjectError::Unavailable("the disk is full".into()));
        }
        self.inner.put(key, bytes).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Option<Vec<u8>>, ObjectError> {
        self.inner.get_range(key, range).await
    }
    async fn get_suffix(&self, key: &str, len: u64) -> Result<Option<(Vec<u8>, u64)>, ObjectError> {
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

#[tokio::test]
async fn a_compaction_stopped_at_any_step_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let objects = directory(&path);
    let flaky = Arc::new(FlakyWrites {
        inner: objects.clone(),
        failing: AtomicU32::new(0),
    });
    let store = archived(&path, flaky.clone());
    many_traces(&store, 300).await;
    let before = all_pages(&store, &query(50, None)).await;
    let whole = |store: &Store| {
        let store = store.clone();
        let before = before.clone();
        async move {
            assert_eq!(all_pages(&store, &query(50, None)).await, before);
            for t in [0u32, 150, 299] {
                let id = format!("{t:032x}");
                let summary = store.trace_summary(&id).await.unwrap().unwrap();
                assert_eq!(summary.span_count, 3, "{id}");
                assert_eq!(spans(&store, &id).await.len(), 3, "{id}");
            }
        }
    };
    let now = now_ms();

    // Stopped after taking the lease and building the block (the process died): the
    // lease keeps other compactors out until it expires; then the next one starts over.
    let pending = store.prepare_block(now, u64::MAX).await.unwrap().unwrap();
    let lost_id = pending.block_id;
    drop(pending);
    whole(&store).await;
    assert!(store.archive_step(now, u64::MAX).await.unwrap().is_none());

    // Stopped after the object was written, before the commit: an orphan nobody reads.
    let later = now + 61_000;
    let pending = store.prepare_block(later, u64::MAX).await.unwrap().unwrap();
    assert!(pending.block_id > lost_id, "an id is never reused");
    store.write_block(&pending).await.unwrap();
    let orphan = pending.key.clone();
    drop(pending);
    whole(&store).await;
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);

    // The object store fails: nothing changes, the failure is counted, the rows stay.
    flaky.failing.store(1, Ordering::SeqCst);
    let failed = store.archive_step(later + 61_000, u64::MAX).await;
    assert!(matches!(failed, Err(StoreError::Busy(_))), "{failed:?}");
    assert_eq!(count(&path, "SELECT count(*) FROM spans"), 900);
    let stats = store.holdings().await.unwrap();
    assert_eq!(stats.archive.unwrap().failed_writes, 1);
    whole(&store).await;

    // A span arrives for a trace being archived between the build and the commit: the
    // commit changes nothing, and the next step takes the span too.
    let pending = store
        .prepare_block(later + 61_000, u64::MAX)
        .await
        .unwrap()
        .unwrap();
    store.write_block(&pending).await.unwrap();
    let mut extra = with_service(
        SpanRecord {
            trace_id: format!("{:032x}", 0),
            span_id: "00000000000000ee".into(),
            parent_span_id: None,
            name: "arrived meanwhile".into(),
            kind: 1,
            service_name: None,
            status_code: 0,
            start_ns: 10,
            end_ns: 20,
            resource_id: 0,
            shape_id: None,
            body: "{}".into(),
        },
        Some("svc-0"),
    );
    extra.shape_id = None;
    store.insert(batch(vec![extra])).await.unwrap();
    let refused = store.commit_block(pending).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM spans"), 901);

    // The next steps archive everything, once.
    let done = store
        .archive_before(later + 122_000, u64::MAX, 10)
        .await
        .unwrap();
    assert_eq!((done.traces, done.spans), (300, 901));
    assert_eq!(count(&path, "SELECT count(*) FROM spans"), 0);
    assert_eq!(
        spans(&store, &format!("{:032x}", 0)).await.len(),
        4,
        "the span that arrived meanwhile"
    );
    assert_eq!(all_pages(&store, &query(50, None)).await, before);

    // The orphans (the object written before the stop, the one refused at the commit)
    // are deleted; the block in use is not.
    assert!(objects.get_suffix(&orphan, 8).await.unwrap().is_some());
    assert_eq!(store.delete_orphans().await.unwrap(), 2);
    assert!(objects.get_suffix(&orphan, 8).await.unwrap().is_none());
    assert_eq!(all_pages(&store, &query(50, None)).await, before);
}

#[tokio::test]
async fn retention_and_the_budget_drop_whole_blocks_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let objects = directory(&path);
    let store = archived(&path, objects.clone());
    many_traces(&store, 100).await;
    // Two blocks: traces 0-49, then 50-99.
    store.archive_before(now_ms(), 50_000, 10).await.unwrap();
    store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 2);
    let keys = objects.list("blocks/", None, 10).await.unwrap().objects;
    assert_eq!(keys.len(), 2);

    // Retention at trace 60's start drops only the block whose every trace is older.
    let pruned = store.prune(60_000, 1_000).await.unwrap();
    assert_eq!((pruned.traces, pruned.spans), (50, 150));
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 1);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM archive_trace_filters WHERE block_id NOT IN (SELECT block_id FROM archive_blocks)"
        ),
        0
    );
    assert_eq!(
        objects
            .list("blocks/", None, 10)
            .await
            .unwrap()
            .objects
            .len(),
        1
    );
    let listed = all_pages(&store, &query(100, None)).await;
    assert_eq!(listed.len(), 50);
    assert!(
        store
            .trace_summary(&format!("{:032x}", 10))
            .await
            .unwrap()
            .is_none()
    );
    let services = store.services().await.unwrap();
    assert_eq!(services.iter().map(|s| s.span_count).sum::<u64>(), 150);
    let stats = store.holdings().await.unwrap();
    assert_eq!(stats.pruned_traces, 50);

    // Over a budget, the archive's oldest block goes before any hot trace.
    many_traces_from(&store, 100..110).await;
    let tiny = store.clone().with_budget(Some(1));
    tiny.keep_within_budget(1).await.unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 10);
}

#[tokio::test]
async fn a_block_spans_at_most_an_hour_so_retention_is_exact_to_the_hour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    // A backlog of ten traces ten minutes apart, archived at once.
    let minute = 60_000_000_000;
    super::tests::traces_at(&store, 1..11, |t| u64::from(t) * 10 * minute).await;
    store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 2);
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 0);

    // Retention at 75 minutes: the traces of the first hour (10 to 70 minutes) go, the
    // rest stay.
    let pruned = store.prune(75 * minute, 1_000).await.unwrap();
    assert_eq!(pruned.traces, 7);
    let left = all_pages(&store, &query(100, None)).await;
    let expected: Vec<String> = (8..11u32).rev().map(|t| format!("{t:032x}")).collect();
    assert_eq!(left, expected);
}

async fn many_traces_from(store: &Store, range: std::ops::Range<u32>) {
    super::tests::traces_in(store, range).await;
}

#[tokio::test]
async fn a_search_over_many_blocks_pages_in_order_with_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    many_traces(&store, 2_000).await;
    let expected = all_pages(&store, &query(30, None)).await;
    // Twenty blocks, by start.
    for cut in 1..=20u64 {
        store
            .archive_before(now_ms(), cut * 100_000, 1)
            .await
            .unwrap();
    }
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 20);
    assert_eq!(all_pages(&store, &query(30, None)).await, expected);
    // With a budget of two probes a request, the pages are partial and continue.
    // Failing traces with n = 42: two of them (624 and 1,885), in blocks every filter
    // lets through.
    let mut q = query(30, None);
    q.span.status_code = Some(2);
    q.span.attributes = vec![("n".into(), "42".into())];
    let full = all_pages(&store, &q).await;
    assert_eq!(full, [format!("{:032x}", 1_885), format!("{:032x}", 624)]);
    let budget = otel_worker_core::store::search::Budget {
        probes: 2,
        filters: 48,
    };
    let mut ids = Vec::new();
    let mut partial = 0;
    loop {
        let page = search(std::slice::from_ref(&store), &q, Some(budget))
            .await
            .unwrap();
        partial += usize::from(page.partial);
        ids.extend(page.traces.iter().map(|t| t.trace_id.clone()));
        match page.next {
            Some(next) => q.before = Some(next),
            None => break,
        }
    }
    assert_eq!(ids, full);
    assert!(partial > 0);
}

#[tokio::test]
async fn deleting_an_archived_trace_or_span_hides_it_from_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    many_traces(&store, 30).await;
    store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
    let trace = |t: u32| format!("{t:032x}");
    let span = |t: u32, i: u32| format!("{t:08x}{i:08x}");

    // A whole trace.
    assert!(store.delete_trace(&trace(7)).await.unwrap());
    assert!(store.trace_summary(&trace(7)).await.unwrap().is_none());
    assert!(spans(&store, &trace(7)).await.is_empty());
    assert!(store.span(&trace(7), &span(7, 1)).await.unwrap().is_none());
    let listed = all_pages(&store, &query(100, None)).await;
    assert_eq!(listed.len(), 29);
    assert!(!listed.contains(&trace(7)));
    let mut q = query(100, None);
    q.span.name = Some("op 0".into());
    assert_eq!(
        all_pages(&store, &q).await,
        [trace(28), trace(21), trace(14), trace(0)]
    );
    assert!(
        !store.delete_trace(&trace(7)).await.unwrap(),
        "already gone"
    );

    // One span of another: the trace loses it and its count.
    assert!(store.delete_span(&trace(13), &span(13, 3)).await.unwrap());
    let left = spans(&store, &trace(13)).await;
    assert_eq!(left.len(), 2);
    let summary = store.trace_summary(&trace(13)).await.unwrap().unwrap();
    assert_eq!((summary.span_count, summary.error_count), (2, 0));
    // Its only failing span is gone: a search for failing spans no longer finds it.
    let mut failing = query(100, None);
    failing.span.status_code = Some(2);
    assert_eq!(all_pages(&store, &failing).await, [trace(26), trace(0)]);
    assert!(!store.delete_span(&trace(13), &span(13, 3)).await.unwrap());

    // Spans of the deleted trace sent afterwards are kept, in either tier.
    super::tests::traces_in(&store, 7..8).await;
    assert_eq!(spans(&store, &trace(7)).await.len(), 3);
    store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
    assert_eq!(spans(&store, &trace(7)).await.len(), 3);
    assert_eq!(all_pages(&store, &query(100, None)).await.len(), 30);

    // Retention takes the tombstones with the blocks they cover.
    store.prune(u64::MAX, 1_000).await.unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM archive_tombstones"), 0);
}

/// The SQLite database, letting another store archive everything once `countdown` reads
/// have run: an archive step committing between any two reads of a lookup.
struct ArchivesMidRead {
    inner: SqliteDatabase,
    other: Store,
    countdown: std::sync::atomic::AtomicI64,
}

#[async_trait]
impl otel_worker_core::store::Database for ArchivesMidRead {
    async fn query(
        &self,
        statement: otel_worker_core::store::Statement,
    ) -> Result<otel_worker_core::store::Rows, StoreError> {
        let rows = self.inner.query(statement).await;
        if self.countdown.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.other
                .archive_before(now_ms(), u64::MAX, 10)
                .await
                .unwrap();
        }
        rows
    }
    async fn transaction(
        &self,
        statements: Vec<otel_worker_core::store::Statement>,
    ) -> Result<Vec<u64>, StoreError> {
        self.inner.transaction(statements).await
    }
    async fn size(&self) -> Result<u64, StoreError> {
        self.inner.size().await
    }
}

#[tokio::test]
async fn a_trace_archived_between_two_reads_of_a_lookup_is_read_once_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let objects = directory(&path);
    let other = archived(&path, objects.clone());
    let db = Arc::new(ArchivesMidRead {
        inner: SqliteDatabase::open(&path).unwrap(),
        other,
        countdown: 0.into(),
    });
    let store =
        Store::new(db.clone()).with_archive(Arc::new(Archive::new(objects).within_budget()));
    let mut failing = query(100, None);
    failing.span.status_code = Some(2);
    // Trace t is the only one in the span rows while it is read; the archive step
    // comes after read number `after` (1 to 20: every point of each lookup, and after it).
    for after in 1..=20 {
        let t = after * 13;
        let id = format!("{t:032x}");
        super::tests::traces_in(&store, t..t + 1).await;
        let arm = |reads: i64| db.countdown.store(reads, Ordering::SeqCst);

        arm(after.into());
        let summary = store.trace_summary(&id).await.unwrap();
        let summary = summary.expect("the trace is found");
        assert_eq!(
            (summary.span_count, summary.error_count),
            (3, 1),
            "after {after}"
        );
        store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();

        super::tests::traces_in(&store, t..t + 1).await;
        arm(after.into());
        let read = spans(&store, &id).await;
        assert_eq!(read.len(), 3, "after {after}: {read:?}");
        store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();

        super::tests::traces_in(&store, t..t + 1).await;
        arm(after.into());
        let found = all_pages(&store, &failing).await;
        let expected: Vec<String> = (1..=after)
            .rev()
            .map(|a| format!("{:032x}", a * 13))
            .collect();
        assert_eq!(found, expected, "after {after}");
        store.archive_before(now_ms(), u64::MAX, 10).await.unwrap();
        arm(0);
    }
}

/// Under steady ingest a housekeeping run every few seconds finds only a few seconds of
/// traces past the cutoff: they wait (up to five minutes) for a block to fill rather
/// than making a small block each run, and a full block goes at once.
#[tokio::test]
async fn traces_past_the_cutoff_wait_for_a_full_block_then_go_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = Store::new(Arc::new(SqliteDatabase::open(&path).unwrap())).with_archive(Arc::new(
        Archive::new(directory(&path))
            .with_limits(otel_worker_core::archive::Limits {
                block_spans: 30,
                ..Default::default()
            })
            .waiting_for_full_blocks(std::time::Duration::from_secs(3_600)),
    ));
    let second = 1_000_000_000u64;
    let base = 1_000 * second;
    // 25 traces of 3 spans, a second apart: two full blocks of 10 traces, 5 left over.
    super::tests::traces_at(&store, 1..26, |t| base + u64::from(t - 1) * second).await;
    let cutoff = base + 200 * second;
    let done = store.archive_before(now_ms(), cutoff, 10).await.unwrap();
    assert_eq!((done.blocks, done.traces), (2, 20));
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 5);

    // The 5 left wait while their oldest is less than five minutes past the cutoff...
    let cutoff = base + 319 * second;
    let done = store.archive_before(now_ms(), cutoff, 10).await.unwrap();
    assert_eq!(done.blocks, 0);
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 5);
    // ...and then go as a short block.
    let cutoff = base + 321 * second;
    let done = store.archive_before(now_ms(), cutoff, 10).await.unwrap();
    assert_eq!((done.blocks, done.traces), (1, 5));
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 0);
    let all = all_pages(&store, &query(100, None)).await;
    assert_eq!(all.len(), 25);
}

/// `--archive-after 0s` archives at once: the wait is never longer than the cutoff's age.
#[tokio::test]
async fn with_no_wait_before_archiving_a_short_block_goes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = Store::new(Arc::new(SqliteDatabase::open(&path).unwrap())).with_archive(Arc::new(
        Archive::new(directory(&path)).waiting_for_full_blocks(std::time::Duration::ZERO),
    ));
    super::tests::traces_at(&store, 1..4, |t| 5_000 + u64::from(t)).await;
    let done = store.archive_before(now_ms(), 6_000, 10).await.unwrap();
    assert_eq!((done.blocks, done.traces), (1, 3));
}
