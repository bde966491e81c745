//! SQLite store tests on real database files.

use std::path::Path;

use otel_worker_core::store::{
    Batch, Cursor, ResourceRecord, SpanFilter, SpanRecord, Store, StoreError, TraceListQuery,
};
use rusqlite::Connection;

use super::{MIGRATIONS, SqliteStore};

fn record(trace: u8, span: u8, parent: Option<u8>, start_ns: u64, end_ns: u64) -> SpanRecord {
    let trace_id = format!("{trace:02x}").repeat(16);
    let span_id = format!("{span:02x}").repeat(8);
    let parent_span_id = parent.map(|p| format!("{p:02x}").repeat(8));
    let body = serde_json::json!({ "attributes": { "n": span } }).to_string();
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
        resource_id: resource().id,
        body,
    }
}

fn resource() -> ResourceRecord {
    ResourceRecord::new(
        r#"{"attributes":{"service.name":"svc"},"droppedAttributesCount":0,"schemaUrl":""}"#.into(),
        r#"{"name":"lib","version":"1","attributes":{},"droppedAttributesCount":0,"schemaUrl":""}"#
            .into(),
    )
}

/// One export of `spans`, with their resource.
fn batch(spans: Vec<SpanRecord>) -> Batch {
    Batch {
        resources: vec![resource()],
        spans,
    }
}

fn query(limit: u32, before_ns: Option<u64>) -> TraceListQuery {
    TraceListQuery {
        limit,
        before: before_ns.map(|start_ns| Cursor {
            start_ns,
            trace_id: None,
        }),
        ..TraceListQuery::default()
    }
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
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        names,
        [
            "d1_migrations",
            "resources",
            "services",
            "services_count_delete",
            "services_count_insert",
            "services_count_update",
            "spans",
            "traces",
            "traces_by_start"
        ]
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
        .insert(batch(vec![
            record(1, 2, Some(1), 1_100, 1_500),
            record(1, 1, None, 1_000, 2_000),
            record(1, 3, Some(1), 1_200, 1_300),
            // A trace whose root never arrived.
            record(2, 4, Some(9), 5_000, 6_000),
        ]))
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
        .insert(batch(vec![record(1, 1, None, start, end)]))
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
        .insert(batch(vec![record(2, 1, None, 5, u64::MAX)]))
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
    store.insert(batch(spans.clone())).await.unwrap();
    let mut again = spans.clone();
    again[1].name = "renamed".into();
    again[1].end_ns = 30;
    store.insert(batch(again)).await.unwrap();
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
        .insert(batch(vec![
            record(1, 1, None, 1, 2),
            record(1, 2, Some(1), 1, 2),
            record(1, 3, Some(1), 1, 2),
        ]))
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
    let result = store.insert(batch(vec![record(1, 1, None, 1, 2)])).await;
    assert!(matches!(result, Err(StoreError::Busy(_))), "{result:?}");
    // Reads still work while the write lock is held (WAL).
    assert!(store.list_traces(query(5, None)).await.unwrap().is_empty());
    other.execute_batch("ROLLBACK").unwrap();
    store
        .insert(batch(vec![record(1, 1, None, 1, 2)]))
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
    store.insert(batch(spans)).await.unwrap();
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
        .insert(batch(vec![
            record(1, 1, None, 100, 900),
            record(1, 2, Some(1), 50, 60),
        ]))
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
        .insert(batch(vec![
            record(1, 1, None, 1, 2),
            record(1, 2, Some(1), 1, 2),
        ]))
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
        .insert(batch(vec![record(1, 1, None, 1, 2)]))
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
    native.insert(batch(spans.clone())).await.unwrap();

    let (json_dir, _store) = temp_store();
    let conn = Connection::open(json_dir.path().join("nested/dir/test.db")).unwrap();
    // Tiny chunks, so the rows are spread over several statements as a large export would be.
    let chunks = sql::span_rows_json(&spans, 10);
    assert_eq!(chunks.len(), 3);
    for chunk in sql::resource_rows_json(&[resource()], 10) {
        conn.execute(sql::INSERT_RESOURCES_JSON, [chunk]).unwrap();
    }
    // Sent twice, as a retried export would be: the second pass must change nothing.
    for chunk in chunks.iter().chain(&chunks) {
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
            "SELECT * FROM resources",
            "SELECT * FROM services ORDER BY service_name",
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
    assert_eq!(
        native_rows.len(),
        8,
        "3 spans, 2 traces, 1 resource, 2 services"
    );
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

#[tokio::test]
async fn concurrent_exports_are_committed_together_and_each_answered() {
    let (dir, store) = temp_store();
    let path = dir.path().join("nested/dir/test.db");
    // One export in the crowd fails in the database; it must not take the others down.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_one BEFORE INSERT ON spans WHEN NEW.trace_id = unhex('0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d')
             BEGIN SELECT RAISE(ABORT, 'rejected by trigger'); END;",
        )
        .unwrap();
    let tasks: Vec<_> = (1..=40u8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let spans = (1..=10u8).map(|s| record(t, s, None, 1, 2)).collect();
                (t, store.insert(batch(spans)).await)
            })
        })
        .collect();
    for task in tasks {
        let (t, result) = task.await.unwrap();
        if t == 13 {
            assert!(
                matches!(result, Err(StoreError::Other(ref m)) if m.contains("rejected by trigger")),
                "{result:?}"
            );
        } else {
            result.unwrap();
        }
    }
    assert_eq!(count(&path, "SELECT COUNT(*) FROM spans"), 39 * 10);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM traces"), 39);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM resources"), 1);
}

#[tokio::test]
async fn spans_stored_before_the_compact_schema_read_back_the_same() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("old.db");
    // A database as the first release left it: schema 0001 and whole spans as JSON.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE,
         applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);",
    )
    .unwrap();
    conn.execute_batch(MIGRATIONS[0].1).unwrap();
    conn.execute(
        "INSERT INTO d1_migrations (name) VALUES (?1)",
        [MIGRATIONS[0].0],
    )
    .unwrap();
    let resource = serde_json::json!({"attributes": {"service.name": "old"}, "droppedAttributesCount": 0, "schemaUrl": ""});
    let scope = serde_json::json!({"name": "lib", "version": "1", "attributes": {}, "droppedAttributesCount": 0, "schemaUrl": ""});
    let old_span = |span_id: &str, start: u64, end: u64, message: &str| {
        serde_json::json!({
            "traceId": "ab".repeat(16), "spanId": span_id, "parentSpanId": null,
            "name": "GET /", "kind": "server",
            "startTimeUnixNano": start.to_string(), "endTimeUnixNano": end.to_string(),
            "durationNs": end.saturating_sub(start), "traceState": "k=v", "flags": 1,
            "status": {"code": "error", "message": message},
            "attributes": {"http.route": "/", "n": 1.5},
            "resource": resource, "scope": scope,
            "events": [{"name": "e", "timeUnixNano": "7", "attributes": {}, "droppedAttributesCount": 0}],
            "links": [], "droppedAttributesCount": 1, "droppedEventsCount": 2, "droppedLinksCount": 3,
        })
    };
    let spans = [
        old_span(
            &"01".repeat(8),
            1_700_000_000_000_000_001,
            1_700_000_000_000_000_900,
            "boom",
        ),
        old_span(&"02".repeat(8), 5, u64::MAX, ""),
    ];
    for span in &spans {
        let start = span["startTimeUnixNano"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        let end = span["endTimeUnixNano"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        conn.execute(
            "INSERT INTO spans VALUES (?1, ?2, NULL, 'GET /', 2, 'old', 2, ?3, ?4, ?5)",
            rusqlite::params![
                span["traceId"].as_str().unwrap(),
                span["spanId"].as_str().unwrap(),
                otel_worker_core::store::ns_to_column(start),
                otel_worker_core::store::ns_to_column(end),
                span.to_string()
            ],
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO traces SELECT trace_id, MIN(start_ns), MAX(end_ns) FROM spans GROUP BY trace_id",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    let read = store.trace_spans(&"ab".repeat(16)).await.unwrap();
    let read: Vec<serde_json::Value> = read
        .iter()
        .map(|s| serde_json::from_str(s.get()).unwrap())
        .collect();
    assert_eq!(read.len(), 2);
    // In start order: the second span starts first.
    for (before, after) in spans.iter().rev().zip(&read) {
        assert_eq!(after, before, "a migrated span reads back unchanged");
    }
    assert_eq!(
        count(
            &path,
            "SELECT COUNT(*) FROM resources WHERE resource_id < 0"
        ),
        1
    );
    // Ids are now stored as bytes, the trace is still listed, and the service list was
    // filled from the spans already stored.
    assert_eq!(
        count(
            &path,
            "SELECT COUNT(*) FROM spans WHERE typeof(trace_id) = 'blob' AND length(trace_id) = 16
             AND typeof(span_id) = 'blob' AND length(span_id) = 8"
        ),
        2
    );
    let listed = store.list_traces(query(10, None)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].trace_id, "ab".repeat(16));
    let services = store.services().await.unwrap();
    assert_eq!(
        services
            .iter()
            .map(|s| (s.name.as_str(), s.span_count))
            .collect::<Vec<_>>(),
        [("old", 2)]
    );
}

/// Every search the API can run, as the plan test checks them: each filter alone, all of
/// them at once, with and without a cursor.
fn searches() -> Vec<(&'static str, TraceListQuery)> {
    let cursor = Some(Cursor {
        start_ns: 1_000,
        trace_id: Some("01".repeat(16)),
    });
    let span = |f: fn(&mut SpanFilter)| {
        let mut filter = SpanFilter::default();
        f(&mut filter);
        TraceListQuery {
            limit: 21,
            span: filter,
            ..TraceListQuery::default()
        }
    };
    let everything = TraceListQuery {
        limit: 21,
        before: cursor.clone(),
        start_ns: Some(1),
        end_ns: Some(2),
        span: SpanFilter {
            service: Some("a".into()),
            name: Some("b".into()),
            root_only: true,
            status_code: Some(2),
            min_duration_ns: Some(1),
            max_duration_ns: Some(2),
            attributes: vec![("k".into(), "v".into()), ("n".into(), "5".into())],
            text: Some("t".into()),
        },
    };
    vec![
        ("newest", query(21, None)),
        ("before an instant", query(21, Some(5))),
        (
            "after a cursor",
            TraceListQuery {
                limit: 21,
                before: cursor,
                ..TraceListQuery::default()
            },
        ),
        (
            "time range",
            TraceListQuery {
                limit: 21,
                start_ns: Some(1),
                end_ns: Some(2),
                ..TraceListQuery::default()
            },
        ),
        ("service", span(|f| f.service = Some("a".into()))),
        ("name", span(|f| f.name = Some("a".into()))),
        ("root", span(|f| f.root_only = true)),
        ("status", span(|f| f.status_code = Some(2))),
        ("duration", span(|f| f.min_duration_ns = Some(5))),
        (
            "attribute",
            span(|f| f.attributes.push(("k".into(), "v".into()))),
        ),
        ("text", span(|f| f.text = Some("a".into()))),
        ("everything", everything),
    ]
}

#[test]
fn every_read_query_is_served_by_an_index() {
    use otel_worker_core::store::sql;

    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("plan.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let ids = || vec![Some("01".repeat(16)), Some("01".repeat(8))];
    let mut queries: Vec<(String, sql::Statement)> = searches()
        .into_iter()
        .map(|(what, query)| (format!("list: {what}"), sql::list_traces(&query)))
        .collect();
    let statement = |sql: String, params: Vec<Option<String>>| sql::Statement { sql, params };
    queries.extend([
        (
            "summary".into(),
            statement(sql::trace_summary(), ids()[..1].to_vec()),
        ),
        (
            "trace spans".into(),
            statement(sql::trace_spans(), ids()[..1].to_vec()),
        ),
        ("span".into(), statement(sql::span(), ids())),
        ("services".into(), statement(sql::SERVICES.into(), vec![])),
        (
            "prune spans".into(),
            statement(
                sql::prune_spans(),
                vec![Some("5".into()), Some("10".into())],
            ),
        ),
        (
            "prune traces".into(),
            statement(
                sql::prune_traces(),
                vec![Some("5".into()), Some("10".into())],
            ),
        ),
    ]);
    for (what, statement) in queries {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(&statement.params), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for step in &plan {
            // `resources` holds one row per distinct resource and scope (a handful), read
            // once per query for resource attribute filters; `services` one row per
            // service; `json_each` walks one JSON value (a span's attributes). Everything
            // else must be an index search or an in-order index walk.
            let allowed_scan = step == "SCAN r"
                || step == "SCAN services"
                || step.starts_with("SCAN a VIRTUAL TABLE");
            let full_scan = step.starts_with("SCAN") && !step.contains("USING");
            assert!(allowed_scan || !full_scan, "{what}: full scan in {plan:?}");
            // A trace's spans are reached through the primary key, whatever the filter.
            if step.starts_with("SEARCH m ") {
                assert_eq!(
                    step, "SEARCH m USING INDEX sqlite_autoindex_spans_1 (trace_id=?)",
                    "{what}: probes spans through another index in {plan:?}"
                );
            }
            let walks_spans = ["SCAN m", "SCAN s", "SCAN spans"]
                .iter()
                .any(|scan| step == scan || step.starts_with(&format!("{scan} ")));
            assert!(!walks_spans, "{what}: walks spans in {plan:?}");
        }
        // The list must come out of the index in order: sorting would touch every trace.
        // (Sorts inside the per-trace subqueries only see one trace's spans.)
        let outer = plan.iter().take_while(|s| !s.starts_with("CORRELATED"));
        for step in outer.filter(|_| what.starts_with("list")) {
            assert!(
                !step.contains("TEMP B-TREE"),
                "{what}: sorts all traces: {plan:?}"
            );
        }
    }
}

#[tokio::test]
async fn retention_deletes_whole_traces_that_started_before_the_cutoff_in_steps() {
    use otel_worker_core::retention::{DEFAULT_BATCH_TRACES, prune_before};

    let (_dir, store) = temp_store();
    // 2,500 traces of two spans, trace n starting at n * 1,000 ns; its child starts later.
    let traces = 2_500u64;
    for chunk in (0..traces).collect::<Vec<_>>().chunks(500) {
        let spans = chunk
            .iter()
            .flat_map(|&n| {
                let trace_id = format!("{n:032x}");
                let root = SpanRecord {
                    trace_id: trace_id.clone(),
                    ..record(0, 1, None, n * 1_000, n * 1_000 + 10)
                };
                let child = SpanRecord {
                    trace_id,
                    ..record(0, 2, Some(1), n * 1_000 + 5_000_000, n * 1_000 + 5_000_010)
                };
                [root, child]
            })
            .collect();
        store.insert(batch(spans)).await.unwrap();
    }
    // Traces 0..=2,199 started before the cutoff; the one starting exactly at it stays.
    let cutoff = 2_200 * 1_000;
    let pruned = prune_before(&store, cutoff, None).await.unwrap();
    assert_eq!((pruned.traces, pruned.spans), (2_200, 4_400));
    assert!(
        pruned.traces > u64::from(DEFAULT_BATCH_TRACES),
        "took several steps"
    );
    let left = store
        .list_traces(query(1_000, None))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.start_time_unix_nano)
        .collect::<Vec<_>>();
    let expected: Vec<u64> = (2_200..traces).rev().map(|n| n * 1_000).collect();
    assert_eq!(left, expected);
    assert!(
        store
            .trace_spans(&format!("{:032x}", 2_199))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .trace_spans(&format!("{:032x}", 2_200))
            .await
            .unwrap()
            .len(),
        2
    );
    // Nothing older is left: a second run deletes nothing.
    assert_eq!(prune_before(&store, cutoff, None).await.unwrap().traces, 0);
    // A step limit stops early.
    let limited = prune_before(&store, u64::MAX, Some(0)).await.unwrap();
    assert_eq!(limited.traces, 0);
}

#[tokio::test]
async fn services_count_spans_and_find_the_latest_end() {
    let (_dir, store) = temp_store();
    store
        .insert(batch(vec![
            record(1, 1, None, 100, 900),
            record(1, 2, Some(1), 150, 300),
            record(2, 3, None, 1_000, 1_200),
            SpanRecord {
                service_name: None,
                ..record(2, 5, Some(3), 1_000, 5_000)
            },
        ]))
        .await
        .unwrap();
    let services: Vec<(String, u64, u64)> = store
        .services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.span_count, s.last_seen_unix_nano))
        .collect();
    // svc-1: spans 1 and 3; svc-0: span 2; the span without a service is not listed.
    assert_eq!(
        services,
        [("svc-0".into(), 1, 300), ("svc-1".into(), 2, 1_200)]
    );

    // The counts stay exact through every way spans change.
    let listed = || async {
        store
            .services()
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.span_count, s.last_seen_unix_nano))
            .collect::<Vec<(String, u64, u64)>>()
    };
    // A retried export: nothing is counted twice.
    let retry = batch(vec![
        record(1, 1, None, 100, 900),
        record(1, 2, Some(1), 150, 300),
    ]);
    store.insert(retry.clone()).await.unwrap();
    store.insert(retry).await.unwrap();
    assert_eq!(
        listed().await,
        [("svc-0".into(), 1, 300), ("svc-1".into(), 2, 1_200)]
    );
    // A span sent again under another service moves its count, and a later end moves
    // last seen.
    store
        .insert(batch(vec![SpanRecord {
            service_name: Some("svc-new".into()),
            ..record(1, 2, Some(1), 150, 7_000)
        }]))
        .await
        .unwrap();
    assert_eq!(
        listed().await,
        [("svc-1".into(), 2, 1_200), ("svc-new".into(), 1, 7_000)]
    );
    // Deleting a span and a trace takes their counts away; a service with no spans left
    // is not listed.
    assert!(
        store
            .delete_span(&"01".repeat(16), &"02".repeat(8))
            .await
            .unwrap()
    );
    assert_eq!(listed().await, [("svc-1".into(), 2, 1_200)]);
    assert!(store.delete_trace(&"02".repeat(16)).await.unwrap());
    assert_eq!(listed().await, [("svc-1".into(), 1, 1_200)]);
    // So does retention.
    let pruned = otel_worker_core::retention::prune_before(&store, u64::MAX, None)
        .await
        .unwrap();
    assert_eq!(pruned.spans, 1);
    assert_eq!(listed().await, []);
}

#[tokio::test]
async fn the_wal_is_emptied_once_ingest_pauses() {
    let (dir, store) = temp_store();
    let wal = dir.path().join("nested/dir/test.db-wal");
    for t in 1..=20u8 {
        let spans = (1..=50u8).map(|s| record(t, s, None, 1, 2)).collect();
        store.insert(batch(spans)).await.unwrap();
    }
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // A few checkpoint intervals after the last write, the WAL is back to zero bytes and
    // every span is still there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(super::CHECKPOINT_INTERVAL).await;
    }
    assert_eq!(size(), 0, "the WAL was not truncated while idle");
    assert_eq!(
        count(
            &dir.path().join("nested/dir/test.db"),
            "SELECT COUNT(*) FROM spans"
        ),
        20 * 50
    );
    // And writing afterwards works as before.
    store
        .insert(batch(vec![record(99, 1, None, 1, 2)]))
        .await
        .unwrap();
    assert_eq!(store.list_traces(query(100, None)).await.unwrap().len(), 21);
}
