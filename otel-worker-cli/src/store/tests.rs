//! SQLite store tests on real database files.

use std::path::Path;

use otel_worker_core::store::{SpanRecord, Store, StoreError, TraceListQuery};
use rusqlite::Connection;

use super::{MIGRATIONS, SqliteStore};

fn record(trace: u8, span: u8, parent: Option<u8>, start_ns: u64, end_ns: u64) -> SpanRecord {
    let trace_id = format!("{trace:02x}").repeat(16);
    let span_id = format!("{span:02x}").repeat(8);
    let parent_span_id = parent.map(|p| format!("{p:02x}").repeat(8));
    let json = serde_json::json!({
        "traceId": trace_id, "spanId": span_id, "parentSpanId": parent_span_id,
        "startTimeUnixNano": start_ns.to_string(),
    })
    .to_string();
    SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        name: format!("span {span}"),
        kind: 2,
        service_name: Some(format!("svc-{}", span % 2)),
        status_code: if span == 3 { 2 } else { 0 },
        start_ns,
        end_ns,
        json,
    }
}

fn query(limit: u32, before_ns: Option<u64>) -> TraceListQuery {
    TraceListQuery { limit, before_ns }
}

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("nested/dir/test.db")).unwrap();
    (dir, store)
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn every_migration_file_is_embedded_and_applied_in_full() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let embedded: Vec<&str> = MIGRATIONS.iter().map(|(name, _)| *name).collect();
    assert_eq!(files, embedded, "migrations/ and MIGRATIONS differ");

    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("m.db");
    drop(SqliteStore::open(&path).unwrap());
    // Opening again must not re-apply anything.
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        names,
        ["d1_migrations", "spans", "traces", "traces_by_start"]
    );
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM d1_migrations"),
        MIGRATIONS.len() as i64
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn summaries_are_computed_from_the_spans() {
    let (_dir, store) = temp_store();
    store
        .insert_spans(vec![
            record(1, 2, Some(1), 1_100, 1_500),
            record(1, 1, None, 1_000, 2_000),
            record(1, 3, Some(1), 1_200, 1_300),
            // A trace whose root never arrived.
            record(2, 4, Some(9), 5_000, 6_000),
        ])
        .await
        .unwrap();
    let traces = store.list_traces(query(20, None)).await.unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].trace_id, "02".repeat(16), "newest first");
    assert_eq!(traces[0].root_span_name, None);
    assert_eq!(traces[0].service_name.as_deref(), Some("svc-0"));
    let t = &traces[1];
    assert_eq!(t.root_span_name.as_deref(), Some("span 1"));
    assert_eq!(
        t.service_name.as_deref(),
        Some("svc-1"),
        "the root's service"
    );
    assert_eq!(
        (t.start_time_unix_nano, t.end_time_unix_nano, t.duration_ns),
        (1_000, 2_000, 1_000)
    );
    assert_eq!((t.span_count, t.error_count), (3, 1));
    assert_eq!(t.services, ["svc-0", "svc-1"]);

    let spans = store.trace_spans(&"01".repeat(16)).await.unwrap();
    let starts: Vec<String> = spans
        .iter()
        .map(|s| {
            serde_json::from_str::<serde_json::Value>(s.get()).unwrap()["startTimeUnixNano"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(starts, ["1000", "1100", "1200"], "spans in start order");
}

#[tokio::test]
async fn nanoseconds_round_trip_exactly() {
    let (_dir, store) = temp_store();
    let start = 1_700_000_000_123_456_789;
    let end = i64::MAX as u64;
    store
        .insert_spans(vec![record(1, 1, None, start, end)])
        .await
        .unwrap();
    let summary = store
        .trace_summary(&"01".repeat(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (summary.start_time_unix_nano, summary.end_time_unix_nano),
        (start, end)
    );
    // Past i64::MAX the index clamps; the stored span JSON keeps the exact value.
    store
        .insert_spans(vec![record(2, 1, None, 5, u64::MAX)])
        .await
        .unwrap();
    let summary = store
        .trace_summary(&"02".repeat(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.end_time_unix_nano, i64::MAX as u64);
}

#[tokio::test]
async fn re_ingest_replaces_instead_of_duplicating() {
    let (dir, store) = temp_store();
    let spans = vec![record(1, 1, None, 10, 20), record(1, 2, Some(1), 11, 19)];
    store.insert_spans(spans.clone()).await.unwrap();
    let mut again = spans.clone();
    again[1].name = "renamed".into();
    again[1].end_ns = 30;
    store.insert_spans(again).await.unwrap();
    let path = dir.path().join("nested/dir/test.db");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM spans"), 2);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM traces"), 1);
    let names: i64 = count(&path, "SELECT COUNT(*) FROM spans WHERE name = 'renamed'");
    assert_eq!(names, 1, "the later copy wins");
    let summary = store
        .trace_summary(&"01".repeat(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.end_time_unix_nano, 30);
}

#[tokio::test]
async fn an_export_is_stored_whole_or_not_at_all() {
    let (dir, store) = temp_store();
    let path = dir.path().join("nested/dir/test.db");
    // A real failure in the middle of the batch: SQLite aborts on the third span.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_third BEFORE INSERT ON spans WHEN NEW.name = 'span 3'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let result = store
        .insert_spans(vec![
            record(1, 1, None, 1, 2),
            record(1, 2, Some(1), 1, 2),
            record(1, 3, Some(1), 1, 2),
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::Other(ref m)) if m.contains("disk on fire")),
        "{result:?}"
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM spans"), 0);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM traces"), 0);
}

#[tokio::test]
async fn a_database_locked_by_another_process_is_busy_not_broken() {
    let (dir, store) = temp_store();
    let path = dir.path().join("nested/dir/test.db");
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let result = store.insert_spans(vec![record(1, 1, None, 1, 2)]).await;
    assert!(matches!(result, Err(StoreError::Busy(_))), "{result:?}");
    // Reads still work while the write lock is held (WAL).
    assert!(store.list_traces(query(5, None)).await.unwrap().is_empty());
    other.execute_batch("ROLLBACK").unwrap();
    store
        .insert_spans(vec![record(1, 1, None, 1, 2)])
        .await
        .unwrap();
    assert_eq!(store.list_traces(query(5, None)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn paging_backwards_with_before_has_no_gaps_or_duplicates() {
    let (_dir, store) = temp_store();
    let spans: Vec<_> = (1..=25u8)
        .map(|t| record(t, 1, None, u64::from(t) * 100, u64::from(t) * 100 + 5))
        .collect();
    store.insert_spans(spans).await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.list_traces(query(10, before)).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|t| t.start_time_unix_nano);
        seen.extend(page.into_iter().map(|t| t.start_time_unix_nano));
    }
    let expected: Vec<u64> = (1..=25u64).rev().map(|t| t * 100).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn deletes_keep_the_trace_list_in_step() {
    let (_dir, store) = temp_store();
    let trace = "01".repeat(16);
    store
        .insert_spans(vec![
            record(1, 1, None, 100, 900),
            record(1, 2, Some(1), 50, 60),
        ])
        .await
        .unwrap();
    assert!(store.delete_span(&trace, &"02".repeat(8)).await.unwrap());
    assert!(!store.delete_span(&trace, &"02".repeat(8)).await.unwrap());
    let summary = store.trace_summary(&trace).await.unwrap().unwrap();
    assert_eq!((summary.start_time_unix_nano, summary.span_count), (100, 1));
    assert!(store.delete_span(&trace, &"01".repeat(8)).await.unwrap());
    assert!(store.trace_summary(&trace).await.unwrap().is_none());
    assert!(store.list_traces(query(5, None)).await.unwrap().is_empty());

    store
        .insert_spans(vec![record(1, 1, None, 1, 2), record(1, 2, Some(1), 1, 2)])
        .await
        .unwrap();
    assert!(store.delete_trace(&trace).await.unwrap());
    assert!(!store.delete_trace(&trace).await.unwrap());
    assert!(store.trace_spans(&trace).await.unwrap().is_empty());
    assert!(store.list_traces(query(5, None)).await.unwrap().is_empty());
}

#[tokio::test]
async fn in_memory_databases_work_the_same() {
    let store = SqliteStore::in_memory().unwrap();
    store
        .insert_spans(vec![record(1, 1, None, 1, 2)])
        .await
        .unwrap();
    assert_eq!(store.list_traces(query(5, None)).await.unwrap().len(), 1);
    assert!(
        store
            .span(&"01".repeat(16), &"01".repeat(8))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_d1_insert_statement_stores_exactly_what_the_native_path_stores() {
    use otel_worker_core::store::sql;

    let spans = vec![
        record(1, 1, None, 1_700_000_000_123_456_789, u64::MAX),
        record(
            1,
            2,
            Some(1),
            1_700_000_000_123_456_790,
            1_700_000_000_123_456_799,
        ),
        record(2, 3, Some(7), 5, 6),
    ];
    let (native_dir, native) = temp_store();
    native.insert_spans(spans.clone()).await.unwrap();

    let (json_dir, _store) = temp_store();
    let conn = Connection::open(json_dir.path().join("nested/dir/test.db")).unwrap();
    // Tiny chunks, so the rows are spread over several statements as a large export would be.
    let chunks = sql::span_rows_json(&spans, 10);
    assert_eq!(chunks.len(), 3);
    for chunk in &chunks {
        conn.execute(sql::INSERT_SPANS_JSON, [chunk]).unwrap();
    }
    conn.execute(sql::REFRESH_TRACES, [sql::trace_ids_json(&spans)])
        .unwrap();

    let dump = |path: &Path| -> Vec<Vec<String>> {
        let conn = Connection::open(path).unwrap();
        let mut rows = Vec::new();
        for table in [
            "SELECT * FROM spans ORDER BY span_id",
            "SELECT * FROM traces ORDER BY trace_id",
        ] {
            let mut stmt = conn.prepare(table).unwrap();
            let columns = stmt.column_count();
            let mut result = stmt.query([]).unwrap();
            while let Some(row) = result.next().unwrap() {
                rows.push(
                    (0..columns)
                        .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                        .collect(),
                );
            }
        }
        rows
    };
    let native_rows = dump(&native_dir.path().join("nested/dir/test.db"));
    assert_eq!(native_rows.len(), 5);
    assert_eq!(
        dump(&json_dir.path().join("nested/dir/test.db")),
        native_rows
    );
}

#[test]
fn rows_are_chunked_under_the_size_limit() {
    use otel_worker_core::store::sql;

    let spans: Vec<_> = (0..100u8).map(|i| record(1, i, None, 1, 2)).collect();
    let one = sql::span_rows_json(&spans, usize::MAX);
    assert_eq!(one.len(), 1);
    let chunks = sql::span_rows_json(&spans, one[0].len() / 3);
    assert!(chunks.len() >= 3);
    let mut rows = 0;
    for chunk in &chunks {
        assert!(chunk.len() <= one[0].len() / 3, "{} bytes", chunk.len());
        rows += serde_json::from_str::<Vec<serde_json::Value>>(chunk)
            .unwrap()
            .len();
    }
    assert_eq!(rows, 100);
    assert!(sql::span_rows_json(&[], 100).is_empty());
}
