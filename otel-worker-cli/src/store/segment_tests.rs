//! The Worker's hot tier of segments (an export a row), on real SQLite files and a real
//! directory: what is read back is what span rows give, before and after the tables are
//! rotated and compacted into blocks; a compaction that meets a late writer or a failing
//! object store loses and doubles nothing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use otel_worker_core::archive::Archive;
use otel_worker_core::archive::objects::ObjectStore;
use otel_worker_core::archive::rotate::{Compacted, SETTLE_MS};
use otel_worker_core::store::{
    Batch, Database, Rows, Statement, Store, StoreError, TraceListQuery,
};

use super::SqliteDatabase;
use super::archive_tests::{FlakyWrites, archived, directory, everything_read};
use super::tests::{all_pages, count, many_traces, now_ms, query, spans, traces_in};

fn clock() -> u64 {
    now_ms() * 1_000_000
}

/// A store over `path` whose spans go to segments, compacted into `objects`.
fn segmented(path: &Path, objects: Arc<dyn ObjectStore>) -> Store {
    segmented_over(Arc::new(SqliteDatabase::open(path).unwrap()), objects)
}

fn segmented_over(db: Arc<dyn Database>, objects: Arc<dyn ObjectStore>) -> Store {
    Store::new(db).with_archive(Arc::new(
        Archive::new(objects)
            .within_budget()
            .with_hot_segments(clock),
    ))
}

/// Housekeeping's clock, moved on a settling time per run, so each run may rotate and
/// compact what the previous one rotated.
struct Runs(u64);

impl Runs {
    fn new() -> Self {
        Self(now_ms())
    }

    async fn run(&mut self, store: &Store) -> Result<Compacted, StoreError> {
        self.0 += 2 * SETTLE_MS;
        store.compact_hot(self.0, 0, 4).await
    }

    /// Runs until the hot tables are empty.
    async fn compact_all(&mut self, store: &Store) -> Compacted {
        let mut total = Compacted::default();
        for _ in 0..4 {
            let done = self.run(store).await.unwrap();
            total.blocks += done.blocks;
            total.segments += done.segments;
            total.spans += done.spans;
        }
        total
    }
}

fn hot_rows(path: &Path) -> i64 {
    (0..4)
        .map(|t| count(path, &format!("SELECT count(*) FROM hot_segments_{t}")))
        .sum()
}

fn columns(path: &Path, table: &str) -> Vec<(String, String, bool)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn exports_stored_as_segments_read_as_span_rows_do_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let rows_path = dir.path().join("rows.db");
    let rows = archived(&rows_path, directory(&rows_path));
    many_traces(&rows, 12_000).await;
    rows.summarize(now_ms(), 100).await.unwrap();
    let expected = everything_read(&rows).await;
    let expected_keys = rows.attribute_keys(None, None).await.unwrap();
    let expected_db_keys = rows.attribute_keys(Some("svc-db"), None).await.unwrap();
    let expected_services = rows.services().await.unwrap();

    let seg_dir = tempfile::tempdir().unwrap();
    let path = seg_dir.path().join("segments.db");
    let pristine_path = path.with_file_name("pristine.db");
    drop(SqliteDatabase::open(&pristine_path).unwrap());
    let pristine = columns(&pristine_path, "hot_segments_0");
    let store = segmented(&path, directory(&path));
    assert_eq!(pristine, columns(&path, "hot_segments_0"));
    many_traces(&store, 12_000).await;
    // One row an export, no span row, no trace row.
    assert_eq!(hot_rows(&path), 12);
    assert_eq!(count(&path, "SELECT count(*) FROM spans"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM traces"), 0);

    assert_eq!(everything_read(&store).await, expected, "in segments");
    let stats = store.holdings().await.unwrap();
    assert_eq!((stats.spans, stats.traces), (36_000, 12_000));
    assert_eq!(stats.oldest_unix_nano, Some(1));
    assert_eq!(store.services().await.unwrap(), expected_services);
    assert_eq!(
        store.attribute_keys(None, None).await.unwrap(),
        expected_keys
    );
    assert_eq!(
        store.attribute_keys(Some("svc-db"), None).await.unwrap(),
        expected_db_keys
    );
    let values = store.attribute_values("n", None, None, 50).await.unwrap();
    assert_eq!(values.len(), 50);
    for value in &values {
        let n: u32 = value.value.parse().unwrap();
        let traces = (0..12_000u32).filter(|t| t % 97 == n).count() as u64;
        assert_eq!(value.count, traces * 3, "{value:?}");
    }

    let mut runs = Runs::new();
    let compacted = runs.compact_all(&store).await;
    assert_eq!((compacted.segments, compacted.spans), (12, 36_000));
    assert_eq!(hot_rows(&path), 0);
    assert!(count(&path, "SELECT count(*) FROM archive_blocks") >= 1);
    // The table is created again as the migration created it.
    assert_eq!(columns(&path, "hot_segments_0"), pristine);
    assert_eq!(everything_read(&store).await, expected, "compacted");
    let reopened = segmented(&path, directory(&path));
    assert_eq!(everything_read(&reopened).await, expected, "reopened");
    let stats = store.holdings().await.unwrap();
    assert_eq!((stats.spans, stats.traces), (0, 0), "the hot tier is empty");
    assert_eq!(stats.archive.map(|a| a.spans), Some(36_000));
    assert_eq!(store.services().await.unwrap(), expected_services);
    assert_eq!(
        store.attribute_keys(None, None).await.unwrap(),
        expected_keys
    );
    assert_eq!(
        store.attribute_values("n", None, None, 50).await.unwrap(),
        values
    );
    // The blocks' attribute counts are the hour's, one row, not rows of their own.
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM block_values WHERE block_id < 0"
        ),
        0
    );
    assert_eq!(count(&path, "SELECT count(*) FROM attribute_hours"), 1);

    // Exports keep coming to the next table.
    traces_in(&store, 12_000..12_010).await;
    assert_eq!(hot_rows(&path), 1);
    assert_eq!(all_pages(&store, &query(100, None)).await.len(), 12_010);
}

#[tokio::test]
async fn a_trace_sent_in_several_exports_and_an_export_sent_twice_read_whole_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = segmented(&path, directory(&path));
    let mut runs = Runs::new();
    many_traces(&store, 10).await;
    let whole = |store: Store| async move {
        let id = format!("{:032x}", 4);
        let summary = store.trace_summary(&id).await.unwrap().unwrap();
        assert_eq!(summary.span_count, 3);
        assert_eq!(spans(&store, &id).await.len(), 3);
        let listed = all_pages(&store, &query(100, None)).await;
        assert_eq!(listed.len(), 10, "each trace once");
        let page = otel_worker_core::store::search::search(
            std::slice::from_ref(&store),
            &query(100, None),
            None,
        )
        .await
        .unwrap();
        let four = page.traces.iter().find(|t| t.trace_id == id).unwrap();
        assert_eq!(four.span_count, 3);
    };
    // Sent again: two segments hold the same spans.
    many_traces(&store, 10).await;
    assert_eq!(hot_rows(&path), 2);
    whole(store.clone()).await;
    runs.compact_all(&store).await;
    whole(store.clone()).await;
    assert_eq!(store.holdings().await.unwrap().archive.unwrap().spans, 30);
    // Sent a third time, after its first copies were compacted: a block and a segment.
    many_traces(&store, 10).await;
    whole(store.clone()).await;
    runs.compact_all(&store).await;
    whole(store.clone()).await;
}

#[tokio::test]
async fn deleting_traces_and_spans_held_in_segments_hides_them_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = segmented(&path, directory(&path));
    let mut runs = Runs::new();
    many_traces(&store, 30).await;
    let trace = |t: u32| format!("{t:032x}");
    let span = |t: u32, i: u32| format!("{t:08x}{i:08x}");
    let check = |store: Store| async move {
        assert!(store.trace_summary(&trace(7)).await.unwrap().is_none());
        assert!(spans(&store, &trace(7)).await.is_empty());
        assert!(store.span(&trace(7), &span(7, 1)).await.unwrap().is_none());
        let listed = all_pages(&store, &query(100, None)).await;
        assert_eq!(listed.len(), 29);
        assert!(!listed.contains(&trace(7)));
        let left = spans(&store, &trace(13)).await;
        assert_eq!(left.len(), 2);
        let summary = store.trace_summary(&trace(13)).await.unwrap().unwrap();
        assert_eq!((summary.span_count, summary.error_count), (2, 0));
        let mut failing = query(100, None);
        failing.span.status_code = Some(2);
        assert_eq!(all_pages(&store, &failing).await, [trace(26), trace(0)]);
    };
    assert!(store.delete_trace(&trace(7)).await.unwrap());
    assert!(store.delete_span(&trace(13), &span(13, 3)).await.unwrap());
    assert!(
        !store.delete_trace(&trace(7)).await.unwrap(),
        "already gone"
    );
    check(store.clone()).await;
    runs.compact_all(&store).await;
    check(store.clone()).await;
    // The compacted block does not hold them at all.
    assert_eq!(store.holdings().await.unwrap().archive.unwrap().spans, 86);

    // Spans of the deleted trace sent afterwards are kept, in a segment and compacted.
    traces_in(&store, 7..8).await;
    assert_eq!(spans(&store, &trace(7)).await.len(), 3);
    runs.compact_all(&store).await;
    assert_eq!(spans(&store, &trace(7)).await.len(), 3);
    assert_eq!(all_pages(&store, &query(100, None)).await.len(), 30);
}

/// The SQLite database, letting a late writer store an export (through a store whose
/// idea of the current table is stale) just before a compaction commits.
struct LateWriterBeforeCommit {
    inner: Arc<SqliteDatabase>,
    late: tokio::sync::Mutex<Option<(Store, Batch)>>,
}

#[async_trait]
impl Database for LateWriterBeforeCommit {
    async fn query(&self, statement: Statement) -> Result<Rows, StoreError> {
        self.inner.query(statement).await
    }
    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        let commits_compaction = matches!(
            statements.first(),
            Some(Statement::One { sql, .. }) if sql.contains("hot_compactions")
        );
        if commits_compaction && let Some((late, batch)) = self.late.lock().await.take() {
            late.insert(batch).await?;
        }
        self.inner.transaction(statements).await
    }
    async fn size(&self) -> Result<u64, StoreError> {
        self.inner.size().await
    }
}

#[tokio::test]
async fn an_export_stored_in_a_table_being_compacted_makes_the_compaction_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let objects = directory(&path);
    let sqlite = Arc::new(SqliteDatabase::open(&path).unwrap());
    let wrapped = Arc::new(LateWriterBeforeCommit {
        inner: sqlite.clone(),
        late: tokio::sync::Mutex::new(None),
    });
    let store = segmented_over(wrapped.clone(), objects.clone());
    // An isolate that read the current table (0) before the rotation.
    let stale = segmented_over(sqlite.clone(), objects.clone());
    traces_in(&stale, 0..5).await;
    traces_in(&store, 5..10).await;
    let mut runs = Runs::new();
    let rotated = runs.run(&store).await.unwrap();
    assert!(rotated.rotated && rotated.tables == 0, "{rotated:?}");
    // The late export (trace 10, as `traces_in` builds it), written to table 0 as the
    // compaction of table 0 is about to commit.
    let recorder = Arc::new(Recorder::default());
    traces_in(&Store::new(recorder.clone()), 10..11).await;
    let batch = recorder.batches.lock().await.pop();
    *wrapped.late.lock().await = Some((stale.clone(), batch.expect("the export")));
    let failed = runs.run(&store).await;
    assert!(failed.is_err(), "{failed:?}");
    // Nothing lost, nothing doubled: all eleven traces, three spans each.
    let check = |store: Store| async move {
        let listed = all_pages(&store, &query(100, None)).await;
        assert_eq!(listed.len(), 11);
        for t in 0..11u32 {
            assert_eq!(spans(&store, &format!("{t:032x}")).await.len(), 3, "{t}");
        }
    };
    check(store.clone()).await;
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);
    // The next run starts over with the late export and succeeds.
    let done = runs.compact_all(&store).await;
    assert_eq!(done.spans, 33);
    assert_eq!(hot_rows(&path), 0);
    check(store.clone()).await;
    // The objects of the failed step are orphans, deleted by the daily listing.
    assert_eq!(store.delete_orphans().await.unwrap(), 1);
    check(store).await;
}

/// A database that keeps the exports it is given and stores nothing.
#[derive(Default)]
struct Recorder {
    batches: tokio::sync::Mutex<Vec<Batch>>,
}

#[async_trait]
impl Database for Recorder {
    async fn query(&self, _statement: Statement) -> Result<Rows, StoreError> {
        Ok(Rows("[]".into()))
    }
    async fn transaction(&self, _statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        Ok(Vec::new())
    }
    async fn ingest(&self, batch: Batch) -> Result<(), StoreError> {
        self.batches.lock().await.push(batch);
        Ok(())
    }
    async fn size(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[tokio::test]
async fn a_compaction_whose_object_store_fails_loses_nothing_and_is_done_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let flaky = Arc::new(FlakyWrites {
        inner: directory(&path),
        failing: AtomicU32::new(1),
    });
    let store = segmented(&path, flaky.clone());
    many_traces(&store, 300).await;
    let before = all_pages(&store, &query(50, None)).await;
    let mut runs = Runs::new();
    runs.run(&store).await.unwrap();
    assert!(runs.run(&store).await.is_err(), "the write fails");
    assert_eq!(flaky.failing.load(Ordering::SeqCst), 0);
    assert_eq!(hot_rows(&path), 1);
    assert_eq!(all_pages(&store, &query(50, None)).await, before);
    runs.compact_all(&store).await;
    assert_eq!(hot_rows(&path), 0);
    assert_eq!(all_pages(&store, &query(50, None)).await, before);
    let q = TraceListQuery {
        limit: 10,
        ..TraceListQuery::default()
    };
    assert_eq!(all_pages(&store, &q).await.len(), 300);
}

#[tokio::test]
async fn a_search_over_more_segments_than_the_caches_hold_finds_every_match_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    // The Worker's caches, smaller still: 4 filters, 2 opened blocks, 2 decoded groups.
    let limits = otel_worker_core::archive::Limits {
        block_spans: 16_384,
        opened_blocks: 2,
        decoded_groups: 2,
        cached_filters: 4,
    };
    let store = Store::new(Arc::new(SqliteDatabase::open(&path).unwrap())).with_archive(Arc::new(
        Archive::new(directory(&path))
            .with_limits(limits)
            .with_hot_segments(clock),
    ));
    // Sixty exports of one trace each: sixty segments.
    for t in 0..60 {
        traces_in(&store, t..t + 1).await;
    }
    assert_eq!(hot_rows(&path), 60);
    let op = |n: u32| {
        let mut q = query(4, None);
        q.span.name = Some(format!("op {n}"));
        q
    };
    let expected: Vec<String> = (0..60u32)
        .rev()
        .filter(|t| t % 7 == 3)
        .map(|t| format!("{t:032x}"))
        .collect();
    assert_eq!(all_pages(&store, &op(3)).await, expected);
    // With a budget of one probe (sixteen segments) a request, pages are partial and
    // continue where they stopped.
    let budget = otel_worker_core::store::search::Budget {
        probes: 1,
        filters: 1,
    };
    let mut q = query(20, None);
    q.span.min_duration_ns = Some(1);
    let mut ids = Vec::new();
    let mut partial = 0;
    loop {
        let page =
            otel_worker_core::store::search::search(std::slice::from_ref(&store), &q, Some(budget))
                .await
                .unwrap();
        partial += usize::from(page.partial);
        ids.extend(page.traces.iter().map(|t| t.trace_id.clone()));
        match page.next {
            Some(next) => q.before = Some(next),
            None => break,
        }
    }
    let all: Vec<String> = (0..60u32).rev().map(|t| format!("{t:032x}")).collect();
    assert_eq!(ids, all);
    assert!(partial > 0);
    // Compacted, the same.
    Runs::new().compact_all(&store).await;
    assert_eq!(all_pages(&store, &op(3)).await, expected);
}

#[tokio::test]
async fn retention_deletes_the_segments_that_hold_only_older_traces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = segmented(&path, directory(&path));
    let second = 1_000_000_000u64;
    // Three exports: old traces, new ones, and one export of both.
    super::tests::traces_at(&store, 0..5, |t| u64::from(t) * second).await;
    super::tests::traces_at(&store, 5..10, |t| 100 * second + u64::from(t)).await;
    super::tests::traces_at(
        &store,
        10..12,
        |t| {
            if t == 10 { second } else { 100 * second }
        },
    )
    .await;
    assert_eq!(hot_rows(&path), 3);
    // The storage budget's step (the oldest traces, whatever their age) leaves segments
    // alone: they hold the newest data.
    store.prune(u64::MAX, 1_000).await.unwrap();
    assert_eq!(hot_rows(&path), 3);
    let pruned = otel_worker_core::retention::prune_before(&store, 50 * second, None)
        .await
        .unwrap();
    assert_eq!((pruned.traces, pruned.spans), (5, 15));
    assert_eq!(hot_rows(&path), 2);
    let listed = all_pages(&store, &query(100, None)).await;
    let expected: Vec<String> = (5..12u32).rev().map(|t| format!("{t:032x}")).collect();
    let mut sorted = listed.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sorted, expected);
    assert_eq!(store.holdings().await.unwrap().pruned_traces, 5);
}

#[tokio::test]
async fn the_attribute_counts_of_an_hour_become_rows_once_it_is_over_and_go_with_retention() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = segmented(&path, directory(&path));
    many_traces(&store, 100).await;
    let mut runs = Runs::new();
    runs.compact_all(&store).await;
    let keys = store.attribute_keys(None, None).await.unwrap();
    let values = store.attribute_values("n", None, None, 200).await.unwrap();
    assert_eq!(values.iter().map(|v| v.count).sum::<u64>(), 300);
    // Two hours later, the next compaction writes the first hour's counts as rows and
    // starts the current hour's.
    runs.0 += 2 * 3_600_000;
    traces_in(&store, 100..110).await;
    runs.compact_all(&store).await;
    assert_eq!(count(&path, "SELECT count(*) FROM attribute_hours"), 1);
    let hour_rows = format!(
        "SELECT count(*) FROM block_values WHERE block_id <= {}",
        otel_worker_core::store::sql::attribute_hour_id(0)
    );
    assert!(count(&path, &hour_rows) > 0);
    let after = store.attribute_values("n", None, None, 200).await.unwrap();
    assert_eq!(after.iter().map(|v| v.count).sum::<u64>(), 330);
    assert_eq!(
        store.attribute_keys(None, None).await.unwrap().len(),
        keys.len()
    );
    // Retention past the first hour takes its counts; the second hour's stay.
    let first_hour = (runs.0 - 2 * 3_600_000) / 3_600_000;
    store
        .prune_hot_before((first_hour + 1) * 3_600_000_000_000)
        .await
        .unwrap();
    assert_eq!(count(&path, &hour_rows), 0);
    let left = store.attribute_values("n", None, None, 200).await.unwrap();
    assert_eq!(left.iter().map(|v| v.count).sum::<u64>(), 30);
}
