//! The core store on real SQLite files: the layout, summaries, replacing, paging,
//! deleting, the search blocks and their summarizer, the budget, and moving spans of the
//! previous layout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use otel_worker_core::models::TraceSummary;
use otel_worker_core::store::search::{BlockCache, Page, search};
use otel_worker_core::store::{
    Batch, Body, Cursor, ResourceRecord, ShapeRecord, Shards, SpanFilter, SpanRecord, Statement,
    Store, StoreError, TraceListQuery, sql, sweep,
};
use rusqlite::Connection;
use serde_json::Value;

use super::{MIGRATIONS, SqliteDatabase};

pub(super) fn resource(service: Option<&str>) -> ResourceRecord {
    let attributes = match service {
        Some(name) => serde_json::json!({"service.name": name}),
        None => serde_json::json!({}),
    };
    ResourceRecord::new(
        serde_json::json!({"attributes": attributes, "droppedAttributesCount": 0, "schemaUrl": ""})
            .to_string(),
        r#"{"name":"lib","version":"1","attributes":{},"droppedAttributesCount":0,"schemaUrl":""}"#
            .into(),
        service.map(str::to_owned),
    )
}

pub(super) fn shape() -> ShapeRecord {
    let mut attributes = serde_json::Map::new();
    attributes.insert("n".into(), Value::from(0));
    ShapeRecord::of(&attributes)
}

/// A span of trace `trace` (its id is that byte 16 times) with attribute `n` = `span`,
/// in service `svc-<span % 2>`.
fn record(trace: u8, span: u8, parent: Option<u8>, start_ns: u64, end_ns: u64) -> SpanRecord {
    let body = Body {
        values: vec![Value::from(span)],
        ..Body::default()
    };
    with_service(
        SpanRecord {
            trace_id: format!("{trace:02x}").repeat(16),
            span_id: format!("{span:02x}").repeat(8),
            parent_span_id: parent.map(|p| format!("{p:02x}").repeat(8)),
            name: format!("span {span}"),
            kind: 2,
            service_name: None,
            status_code: if span == 3 { 2 } else { 0 },
            start_ns,
            end_ns,
            resource_id: 0,
            shape_id: Some(shape().id),
            body: serde_json::to_string(&body).unwrap(),
        },
        Some(&format!("svc-{}", span % 2)),
    )
}

pub(super) fn with_service(record: SpanRecord, service: Option<&str>) -> SpanRecord {
    SpanRecord {
        service_name: service.map(str::to_owned),
        resource_id: resource(service).id,
        ..record
    }
}

/// One export of `spans`, with their resources and shape.
pub(super) fn batch(spans: Vec<SpanRecord>) -> Batch {
    let mut resources: Vec<ResourceRecord> = Vec::new();
    for span in &spans {
        let r = resource(span.service_name.as_deref());
        if !resources.iter().any(|known| known.id == r.id) {
            resources.push(r);
        }
    }
    Batch {
        resources,
        shapes: vec![shape()],
        spans,
        ..Batch::default()
    }
}

/// An export of log records through the real conversion: `(time_ns, severity, body,
/// trace byte)` each, in service `logs`; a trace byte `t` means the trace id of
/// [`record`]'s trace `t`.
fn log_batch(records: &[(u64, i32, &str, Option<u8>)]) -> Batch {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    let string = |text: &str| AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(string("logs")),
                    key_strindex: 0,
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records
                    .iter()
                    .map(|(time, severity, body, trace)| LogRecord {
                        time_unix_nano: *time,
                        severity_number: *severity,
                        body: Some(string(body)),
                        trace_id: trace.map(|t| vec![t; 16]).unwrap_or_default(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    let rows = otel_worker_core::ingest::to_log_rows(request, None);
    assert_eq!(rows.rejected, 0);
    rows.batch
}

pub(super) fn open(path: &Path) -> Store {
    Store::new(Arc::new(SqliteDatabase::open(path).unwrap()))
}

/// The statements that store `batches`, in the JSON form D1 runs: one JSON array of rows
/// per statement.
fn as_d1(batches: &[Batch]) -> Vec<Statement> {
    use otel_worker_core::store::Param;
    otel_worker_core::store::write::export_statements(batches)
        .into_iter()
        .map(|statement| match statement {
            Statement::Rows { as_json, rows, .. } => {
                let array: Vec<Vec<Value>> = rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|p| match p {
                                Param::Null => Value::Null,
                                Param::Int(i) => Value::from(*i),
                                Param::Text(t) => Value::from(t.as_str()),
                                Param::Blob(b) => Value::from(hex::encode(b)),
                            })
                            .collect()
                    })
                    .collect();
                Statement::new(as_json, vec![serde_json::to_string(&array).unwrap().into()])
            }
            other => other,
        })
        .collect()
}

pub(super) fn temp_store() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/test.db");
    let store = open(&path);
    (dir, path, store)
}

pub(super) fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

pub(super) fn query(limit: u32, before_ns: Option<u64>) -> TraceListQuery {
    TraceListQuery {
        limit,
        before: before_ns.map(|start_ns| Cursor {
            start_ns,
            trace_id: None,
        }),
        ..TraceListQuery::default()
    }
}

pub(super) async fn list(store: &Store, query: TraceListQuery) -> Vec<TraceSummary> {
    search(std::slice::from_ref(store), &query, None)
        .await
        .unwrap()
        .traces
}

/// The spans of a trace as JSON, all pages.
pub(super) async fn spans(store: &Store, trace_id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .trace_spans(trace_id, after.as_ref(), 2)
            .await
            .unwrap();
        all.extend(
            page.spans
                .iter()
                .map(|s| serde_json::from_str(s.get()).unwrap()),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

pub(super) fn now_ms() -> u64 {
    crate::housekeeping::now_ms()
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
    drop(SqliteDatabase::open(&path).unwrap());
    // Opening again must not re-apply anything.
    drop(SqliteDatabase::open(&path).unwrap());
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
            "archive_blocks",
            "archive_blocks_by_start",
            "archive_tombstones",
            "archive_trace_filters",
            "archive_trace_filters_by_block",
            "attribute_hours",
            "attribute_shapes",
            "attribute_shapes_one_content_per_id",
            "block_attributes",
            "block_attributes_by_block",
            "block_values",
            "block_values_by_block",
            "counters",
            "d1_migrations",
            "hot_segments_0",
            "hot_segments_1",
            "hot_segments_2",
            "hot_segments_3",
            "legacy_spans",
            "logs",
            "logs_by_time",
            "logs_by_trace",
            "metric_points",
            "metric_series",
            "metric_series_by_name",
            "metric_series_one_content_per_id",
            "replaced_spans",
            "resources",
            "resources_one_content_per_id",
            "search_blocks",
            "search_blocks_by_start",
            "services",
            "share_revocations",
            "spans",
            "traces",
            "traces_by_start",
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
    let (_dir, _path, store) = temp_store();
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
    let traces = list(&store, query(20, None)).await;
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

    // A later export of the same trace: the summary covers every span.
    store
        .insert(batch(vec![record(1, 5, Some(1), 900, 2_500)]))
        .await
        .unwrap();
    let t = store
        .trace_summary(&"01".repeat(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (t.start_time_unix_nano, t.end_time_unix_nano, t.span_count),
        (900, 2_500, 4)
    );
    assert_eq!(t.root_span_name.as_deref(), Some("span 1"));
    let starts: Vec<String> = spans(&store, &"01".repeat(16))
        .await
        .iter()
        .map(|s| s["startTimeUnixNano"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        starts,
        ["900", "1000", "1100", "1200"],
        "in start order, across pages"
    );
}

#[tokio::test]
async fn nanoseconds_round_trip_exactly() {
    let (_dir, _path, store) = temp_store();
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
    // Past i64::MAX the column clamps; the stored span keeps the exact value.
    let mut late = record(2, 1, None, 5, u64::MAX);
    late.body = serde_json::to_string(&Body {
        values: vec![Value::from(1)],
        end_time_unix_nano: Body::exact_time(u64::MAX),
        ..Body::default()
    })
    .unwrap();
    store.insert(batch(vec![late])).await.unwrap();
    let summary = store
        .trace_summary(&"02".repeat(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.end_time_unix_nano, i64::MAX as u64);
    let read = spans(&store, &"02".repeat(16)).await;
    assert_eq!(read[0]["endTimeUnixNano"], u64::MAX.to_string());
}

#[tokio::test]
async fn re_ingest_replaces_instead_of_duplicating() {
    let (_dir, path, store) = temp_store();
    let sent = vec![record(1, 1, None, 10, 20), record(1, 2, Some(1), 11, 19)];
    store.insert(batch(sent.clone())).await.unwrap();
    let mut again = sent.clone();
    again[1].name = "renamed".into();
    again[1].end_ns = 30;
    store.insert(batch(again)).await.unwrap();
    // The same span twice in one export is stored once, too.
    store
        .insert(batch(vec![
            record(1, 7, Some(1), 12, 13),
            record(1, 7, Some(1), 12, 13),
        ]))
        .await
        .unwrap();
    assert_eq!(count(&path, "SELECT COUNT(*) FROM spans"), 3);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM traces"), 1);
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM spans WHERE name = 'renamed'"),
        1,
        "the later copy wins"
    );
    let summary = store
        .trace_summary(&"01".repeat(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((summary.end_time_unix_nano, summary.span_count), (30, 3));
    let held = store.holdings().await.unwrap();
    assert_eq!((held.spans, held.traces), (3, 1), "the counters agree");
    assert_eq!(spans(&store, &"01".repeat(16)).await.len(), 3);
}

#[tokio::test]
async fn an_export_is_stored_whole_or_not_at_all() {
    let (_dir, path, store) = temp_store();
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
    for table in ["spans", "traces", "services"] {
        assert_eq!(
            count(&path, &format!("SELECT COUNT(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM counters WHERE value != 0"),
        0
    );
}

#[tokio::test]
async fn a_database_locked_by_another_process_is_busy_not_broken() {
    let (_dir, path, store) = temp_store();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let result = store.insert(batch(vec![record(1, 1, None, 1, 2)])).await;
    assert!(matches!(result, Err(StoreError::Busy(_))), "{result:?}");
    // Reads still work while the write lock is held (WAL).
    assert!(list(&store, query(5, None)).await.is_empty());
    other.execute_batch("ROLLBACK").unwrap();
    store
        .insert(batch(vec![record(1, 1, None, 1, 2)]))
        .await
        .unwrap();
    assert_eq!(list(&store, query(5, None)).await.len(), 1);
}

#[tokio::test]
async fn paging_backwards_with_before_has_no_gaps_or_duplicates() {
    let (_dir, _path, store) = temp_store();
    let all: Vec<_> = (1..=25u8)
        .map(|t| record(t, 1, None, u64::from(t) * 100, u64::from(t) * 100 + 5))
        .collect();
    store.insert(batch(all)).await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = list(&store, query(10, before)).await;
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
async fn deletes_keep_the_trace_list_and_counters_in_step() {
    let (_dir, _path, store) = temp_store();
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
    assert!(list(&store, query(5, None)).await.is_empty());
    let held = store.holdings().await.unwrap();
    assert_eq!((held.spans, held.traces), (0, 0));

    store
        .insert(batch(vec![
            record(1, 1, None, 1, 2),
            record(1, 2, Some(1), 1, 2),
        ]))
        .await
        .unwrap();
    assert!(store.delete_trace(&trace).await.unwrap());
    assert!(!store.delete_trace(&trace).await.unwrap());
    assert!(spans(&store, &trace).await.is_empty());
    assert!(list(&store, query(5, None)).await.is_empty());
    let held = store.holdings().await.unwrap();
    assert_eq!((held.spans, held.traces), (0, 0));
}

#[tokio::test]
async fn in_memory_databases_work_the_same() {
    let store = Store::new(Arc::new(SqliteDatabase::in_memory().unwrap()));
    store
        .insert(batch(vec![record(1, 1, None, 1, 2)]))
        .await
        .unwrap();
    assert_eq!(list(&store, query(5, None)).await.len(), 1);
    assert!(
        store
            .span(&"01".repeat(16), &"01".repeat(8))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.summarize(now_ms(), 4).await.unwrap(), 1);
}

/// Every table as text rows, to compare two databases.
fn dump(path: &Path) -> Vec<Vec<String>> {
    let conn = Connection::open(path).unwrap();
    let mut rows = Vec::new();
    for table in [
        "SELECT * FROM spans ORDER BY span_row",
        "SELECT * FROM traces ORDER BY trace_id",
        "SELECT * FROM resources ORDER BY resource_id",
        "SELECT * FROM attribute_shapes",
        "SELECT * FROM services ORDER BY service_name",
        "SELECT * FROM counters ORDER BY name",
        "SELECT * FROM logs ORDER BY log_row",
        "SELECT * FROM metric_series ORDER BY series_id",
        "SELECT * FROM metric_points ORDER BY series_id, time_ns",
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
}

#[tokio::test]
async fn the_d1_json_statements_store_exactly_what_the_per_row_statements_store() {
    let sent = vec![
        record(1, 1, None, 1_700_000_000_123_456_789, i64::MAX as u64),
        record(
            1,
            2,
            Some(1),
            1_700_000_000_123_456_790,
            1_700_000_000_123_456_799,
        ),
        record(2, 3, Some(7), 5, 6),
    ];
    let logs = [
        (1_700_000_000_123_456_789, 9, "in trace 1", Some(1)),
        (i64::MAX as u64 + 1, 17, "past 2262", None),
    ];
    let export = || {
        Batch::merge([
            batch(sent.clone()),
            log_batch(&logs),
            point_batch("/a", &[5, 1_700_000_000_123_456_789]),
        ])
    };
    let (_native_dir, native_path, native) = temp_store();
    native.insert(export()).await.unwrap();
    // Sent twice, as a retried export would be: the second pass replaces, adds nothing.
    native.insert(export()).await.unwrap();

    // The same export through the statements' JSON form, as D1 runs them, one JSON
    // array per statement.
    let (_json_dir, json_path, json) = temp_store();
    for _ in 0..2 {
        json.database()
            .transaction(as_d1(&[export()]))
            .await
            .unwrap();
    }
    let native_rows = dump(&native_path);
    assert_eq!(
        native_rows.len(),
        3 + 2 + 4 + 1 + 2 + 17 + 2 + 1 + 2,
        "3 spans, 2 traces, 4 resources, 1 shape, 2 services, 17 counters (7 the sweep's, 2 the \
         archive's, 2 the hot tier's), 2 log records, \
         1 metric series, 2 points"
    );
    assert_eq!(dump(&json_path), native_rows);
}

#[tokio::test]
async fn concurrent_exports_are_committed_together_and_each_answered() {
    let (_dir, path, store) = temp_store();
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
    assert_eq!(count(&path, "SELECT COUNT(*) FROM resources"), 2);
    let held = store.holdings().await.unwrap();
    assert_eq!((held.spans, held.traces), (390, 39));
    // Each trace's spans are one range of rows, whichever group it was committed in.
    assert_eq!(
        count(
            &path,
            "SELECT COUNT(*) FROM traces WHERE json_array_length(parts) = 1"
        ),
        39
    );
}

/// A database as release 0005 left it, with spans in the old layout.
fn database_before_0006(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE,
         applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);",
    )
    .unwrap();
    for (name, sql) in &MIGRATIONS[..5] {
        conn.execute_batch(sql).unwrap();
        conn.execute("INSERT INTO d1_migrations (name) VALUES (?1)", [name])
            .unwrap();
    }
    let r = resource(Some("old"));
    conn.execute(
        "INSERT INTO resources (resource_id, resource, scope) VALUES (?1, ?2, ?3)",
        rusqlite::params![r.id, r.resource, r.scope],
    )
    .unwrap();
    for (trace, span, parent, start, end) in [
        (
            0xab_u8,
            1u8,
            None::<u8>,
            1_700_000_000_000_000_001u64,
            1_700_000_000_000_000_900u64,
        ),
        (
            0xab,
            2,
            Some(1),
            1_700_000_000_000_000_100,
            1_700_000_000_000_000_200,
        ),
        (0xcd, 3, None, 2_000, 3_000),
    ] {
        let body = serde_json::json!({
            "attributes": {"http.route": "/old", "n": 1.5},
            "events": [{"name": "e", "timeUnixNano": "7", "attributes": {}, "droppedAttributesCount": 0}],
            "statusMessage": "was here", "traceState": "k=v", "flags": 1,
        });
        conn.execute(
            "INSERT INTO spans VALUES (unhex(?1), unhex(?2), unhex(?3), ?4, 2, 'old', 2, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                format!("{trace:02x}").repeat(16),
                format!("{span:02x}").repeat(8),
                parent.map(|p| format!("{p:02x}").repeat(8)),
                format!("span {span}"),
                start as i64,
                end as i64,
                r.id,
                body.to_string()
            ],
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO traces SELECT trace_id, MIN(start_ns), MAX(end_ns) FROM spans GROUP BY trace_id",
    )
    .unwrap();
}

#[tokio::test]
async fn spans_of_the_previous_layout_read_back_the_same_before_and_after_they_move() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("old.db");
    database_before_0006(&path);
    let store = open(&path);
    assert!(store.has_legacy_spans().await.unwrap());
    let before = spans(&store, &"ab".repeat(16)).await;
    assert_eq!(before.len(), 2);
    assert_eq!(
        before[0]["attributes"],
        serde_json::json!({"http.route": "/old", "n": 1.5})
    );
    assert_eq!(before[0]["status"]["message"], "was here");
    let listed = list(&store, query(10, None)).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].trace_id.as_str(), listed[0].span_count),
        (&*"ab".repeat(16), 2)
    );
    let held = store.holdings().await.unwrap();
    assert_eq!((held.spans, held.traces), (3, 2));

    // A new span of an old trace joins it.
    store
        .insert(batch(vec![record(
            0xab,
            9,
            Some(1),
            1_700_000_000_000_000_300,
            1_700_000_000_000_000_400,
        )]))
        .await
        .unwrap();
    assert_eq!(spans(&store, &"ab".repeat(16)).await.len(), 3);

    // Moving, in steps, changes nothing a reader sees, and leaves nothing behind.
    let mut moved = 0;
    loop {
        let step = store.move_legacy_step().await.unwrap();
        if step == 0 {
            break;
        }
        moved += step;
    }
    assert_eq!(moved, 3);
    assert!(!store.has_legacy_spans().await.unwrap());
    assert_eq!(count(&path, "SELECT COUNT(*) FROM legacy_spans"), 0);
    let after = spans(&store, &"ab".repeat(16)).await;
    assert_eq!(after.len(), 3);
    for span in &before {
        assert!(after.contains(span), "{span} changed when it moved");
    }
    let listed = list(&store, query(10, None)).await;
    assert_eq!(listed[0].span_count, 3);
    let held = store.holdings().await.unwrap();
    assert_eq!((held.spans, held.traces), (4, 2));
    let services: Vec<(String, u64)> = store
        .services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.span_count))
        .collect();
    assert_eq!(services, [("old".into(), 3), ("svc-1".into(), 1)]);
    // Now searches find them too.
    store.summarize(now_ms(), 10).await.unwrap();
    let mut q = query(10, None);
    q.span.attributes = vec![("http.route".into(), "/old".into())];
    assert_eq!(list(&store, q).await.len(), 2);
}

/// Searches the plan test checks: each filter alone, all of them at once, with and
/// without a cursor.
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
    use otel_worker_core::store::search::{dense_statement, probe_statement};

    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("plan.db");
    drop(SqliteDatabase::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let text = |s: &str| otel_worker_core::store::Param::Text(s.into());
    let id = text(&"01".repeat(16));
    let mut queries: Vec<(String, Statement)> = Vec::new();
    for (what, query) in searches() {
        queries.push((
            format!("probe a block: {what}"),
            probe_statement(&query, 5, Some(10), 21),
        ));
        queries.push((
            format!("probe the rows not summarized: {what}"),
            probe_statement(&query, 11, None, 21),
        ));
        queries.push((
            format!("walk the newest traces: {what}"),
            dense_statement(
                &query,
                Some(&otel_worker_core::store::Cursor {
                    start_ns: 5,
                    trace_id: Some("01".repeat(16)),
                }),
                21,
            ),
        ));
    }
    let statement = |sql: String, params| Statement::new(sql, params);
    queries.extend([
        (
            "summary".into(),
            statement(sql::trace_summary(), vec![id.clone()]),
        ),
        (
            "summary and span ids".into(),
            statement(sql::trace_summary_and_span_ids(), vec![id.clone()]),
        ),
        (
            "trace spans".into(),
            statement(
                sql::trace_spans(),
                vec![id.clone(), text("5"), text(&"01".repeat(8)), text("10")],
            ),
        ),
        (
            "span".into(),
            statement(sql::span(), vec![id.clone(), text(&"01".repeat(8))]),
        ),
        ("services".into(), statement(sql::SERVICES.into(), vec![])),
        (
            "stats".into(),
            statement(sql::STATS.into(), vec![text("1")]),
        ),
        (
            "newest block".into(),
            statement(sql::NEWEST_BLOCK.into(), vec![text("1")]),
        ),
        (
            "search blocks and mark".into(),
            statement(sql::SEARCH_BLOCKS_AND_MARK.into(), vec![text("1")]),
        ),
        (
            "rows to summarize".into(),
            statement(sql::ROWS_TO_SUMMARIZE.into(), vec![text("5"), text("10")]),
        ),
        (
            "attribute values".into(),
            statement(
                sql::ATTRIBUTE_VALUES.into(),
                vec![
                    text("k"),
                    otel_worker_core::store::Param::Null,
                    text("a"),
                    text("5"),
                ],
            ),
        ),
    ]);
    {
        use otel_worker_core::store::logs::{
            LogCursor, LogQuery, list_statement, window_edge_statement,
        };
        let cursor = Some(LogCursor {
            time_ns: 5,
            identity: 7,
        });
        let log_queries = [
            ("newest", LogQuery::default()),
            (
                "a trace's",
                LogQuery {
                    trace_id: Some("01".repeat(16)),
                    cursor,
                    ..LogQuery::default()
                },
            ),
            (
                "every filter",
                LogQuery {
                    cursor,
                    start_ns: Some(1),
                    end_ns: Some(9),
                    service: Some("api".into()),
                    min_severity: Some(13),
                    span_id: Some("01".repeat(8)),
                    attributes: vec![("k".into(), "v".into())],
                    text: Some("boom".into()),
                    ..LogQuery::default()
                },
            ),
        ];
        for (what, query) in log_queries {
            queries.push((
                format!("log window edge: {what}"),
                window_edge_statement(&query),
            ));
            queries.push((
                format!("log list: {what}"),
                list_statement(&query, None, 10),
            ));
            queries.push((
                format!("log list in a window: {what}"),
                list_statement(&query, cursor, 10),
            ));
        }
        queries.push((
            "a trace's logs".into(),
            statement(
                sql::TRACE_LOGS.into(),
                vec![id.clone(), text("5"), text("7"), text("10")],
            ),
        ));
        for (i, sql) in sql::PRUNE_LOGS.iter().enumerate() {
            queries.push((
                format!("log prune statement {i}"),
                statement((*sql).into(), vec![text("5"), text("10")]),
            ));
        }
        for (i, sql) in sql::DELETE_TRACE_LOGS.iter().enumerate() {
            queries.push((
                format!("delete a trace's logs, statement {i}"),
                statement((*sql).into(), vec![id.clone()]),
            ));
        }
        for (what, sql) in [
            ("mark logs", sql::MARK_LOGS),
            ("count new logs", sql::COUNT_NEW_LOGS),
        ] {
            queries.push((what.into(), statement(sql.into(), vec![])));
        }
    }
    {
        let null = otel_worker_core::store::Param::Null;
        let point = vec![text("7"), text("5"), text("{}")];
        queries.extend([
            (
                "metric list".into(),
                statement(sql::METRIC_LIST.into(), vec![null.clone(), null.clone()]),
            ),
            (
                "metric list of a service".into(),
                statement(sql::METRIC_LIST.into(), vec![text("api"), text("req")]),
            ),
            (
                "a metric's series".into(),
                statement(sql::METRIC_SERIES.into(), vec![text("requests"), null]),
            ),
            (
                "a metric's points".into(),
                statement(
                    sql::METRIC_POINTS.into(),
                    vec![text("[\"7\",\"8\"]"), text("0"), text("99"), text("10")],
                ),
            ),
            (
                "count a new point".into(),
                statement(sql::COUNT_NEW_POINT.into(), point.clone()),
            ),
            (
                "count new points".into(),
                statement(
                    sql::COUNT_NEW_POINTS_JSON.into(),
                    vec![text("[[\"7\",\"5\",\"{}\"]]")],
                ),
            ),
        ]);
        for (i, sql) in sql::PRUNE_POINTS.iter().enumerate() {
            queries.push((
                format!("point prune statement {i}"),
                statement((*sql).into(), vec![text("5"), text("10")]),
            ));
        }
    }
    {
        // The archive: a small table of blocks (one row per 65,536 spans), read whole by
        // retention; every other statement goes through an index.
        let ids = text(&format!("[\"{}\"]", "01".repeat(16)));
        queries.extend([
            (
                "traces to archive".into(),
                statement(sql::TRACES_TO_ARCHIVE.into(), vec![text("5"), text("10")]),
            ),
            (
                "log records waiting to be archived".into(),
                statement(sql::LOGS_WAITING.into(), vec![text("5"), text("10")]),
            ),
            (
                "log records to archive".into(),
                statement(sql::LOGS_TO_ARCHIVE.into(), vec![text("5"), text("10")]),
            ),
            (
                "spans to archive".into(),
                statement(sql::SPANS_TO_ARCHIVE.into(), vec![ids.clone()]),
            ),
            (
                "archive guard".into(),
                statement(
                    sql::ARCHIVE_GUARD.into(),
                    vec![ids.clone(), text("1:5"), text("1")],
                ),
            ),
            (
                "archive blocks".into(),
                statement(sql::ARCHIVE_BLOCKS.into(), vec![text("1"), text("5")]),
            ),
            (
                "archive filters".into(),
                statement(sql::ARCHIVE_BLOOMS.into(), vec![text("[1,2]")]),
            ),
            (
                "a trace's blocks and segments".into(),
                statement(
                    sql::TRACE_SOURCES.into(),
                    vec![text("1048577"), text("16777217"), text(&"ab".repeat(16))],
                ),
            ),
            (
                "hot segments".into(),
                statement(sql::HOT_SEGMENTS.into(), vec![text("5")]),
            ),
            (
                "hot segment filters".into(),
                statement(sql::HOT_BLOOMS.into(), vec![text("[1,2]")]),
            ),
            (
                "hot tables".into(),
                statement(sql::HOT_TABLES_STATE.into(), vec![]),
            ),
            (
                "a hot table's segments".into(),
                statement(sql::segments_of_table(1), vec![]),
            ),
            (
                "a hot table's bodies".into(),
                statement(sql::segment_bodies(2), vec![text("[1,2]")]),
            ),
            (
                "expired segments".into(),
                statement(sql::HOT_EXPIRED.into(), vec![text("5")]),
            ),
            (
                "a segment's body".into(),
                statement(sql::segment_body(3), vec![text("1")]),
            ),
            (
                "archive stats".into(),
                statement(sql::ARCHIVE_STATS.into(), vec![text("1")]),
            ),
            (
                "archive resources".into(),
                statement(sql::ARCHIVE_RESOURCES.into(), vec![text("[\"5\"]")]),
            ),
        ]);
        for (i, sql) in sql::ARCHIVE_DELETE.iter().enumerate() {
            queries.push((
                format!("archive delete statement {i}"),
                statement((*sql).into(), vec![ids.clone()]),
            ));
        }
        for (i, sql) in sql::DROP_ARCHIVE_BLOCK.iter().enumerate() {
            queries.push((
                format!("drop an archive block, statement {i}"),
                statement((*sql).into(), vec![text("5")]),
            ));
        }
    }
    for (i, prune) in sql::PRUNE.iter().enumerate() {
        queries.push((
            format!("prune statement {i}"),
            statement((*prune).into(), vec![text("5"), text("10")]),
        ));
    }
    for (what, sql) in [
        ("note replaced", sql::NOTE_REPLACED),
        ("count export", sql::COUNT_EXPORT),
        ("count new spans", sql::COUNT_NEW_SPANS),
        ("delete replaced legacy", sql::DELETE_REPLACED_LEGACY),
        ("summarize touched traces", sql::SUMMARIZE_TOUCHED_TRACES),
    ] {
        queries.push((what.into(), statement(sql.into(), vec![])));
    }
    for (what, statement) in queries {
        let Statement::One { sql, params } = statement else {
            unreachable!("only single statements here")
        };
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let bind: Vec<rusqlite::types::Value> = params
            .iter()
            .map(|p| match p {
                otel_worker_core::store::Param::Null => rusqlite::types::Value::Null,
                otel_worker_core::store::Param::Int(i) => rusqlite::types::Value::Integer(*i),
                otel_worker_core::store::Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
                otel_worker_core::store::Param::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
            })
            .collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(bind), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for step in &plan {
            // Small tables read whole are fine: `resources` (a row per resource),
            // `attribute_shapes` (a row per key set), `services`, `counters`,
            // `replaced_spans` (empty between transactions), `search_blocks` (a row per
            // 16,384 spans), a search's `attribute_filters` (`f`, a row per filter),
            // `metric_series` (`ms`, a row per series: prune steps go through it); so
            // are `json_each` walks of one JSON value, and the new rows of an export (a
            // range above the ingest mark). The hot tier's tables (`h`) hold a few minutes
            // of exports, a row each, and are read whole by design.
            let small = [
                "SCAN f",
                "SCAN r",
                "SCAN resources",
                "SCAN sh",
                "SCAN attribute_shapes",
                "SCAN services",
                "SCAN counters",
                "SCAN replaced_spans",
                "SCAN x",
                "SCAN search_blocks",
                "SCAN ms",
                "SCAN archive_blocks",
                "SCAN h",
                "SCAN hot_segments_0",
                "SCAN hot_segments_1",
                "SCAN hot_segments_2",
                "SCAN hot_segments_3",
            ];
            let allowed = small
                .iter()
                .any(|s| step == s || step.starts_with(&format!("{s} ")))
                || step.contains("VIRTUAL TABLE")
                || step.contains("USING INTEGER PRIMARY KEY (rowid>?)")
                || step.starts_with("SCAN touched")
                || step.starts_with("SCAN rows")
                || step.starts_with("SCAN (subquery")
                || step.starts_with("SCAN CONSTANT");
            // A subquery's own rows may be walked.
            let coroutine = step.strip_prefix("SCAN ").is_some_and(|name| {
                plan.iter().any(|s| {
                    s == &format!("CO-ROUTINE {name}") || s == &format!("MATERIALIZE {name}")
                })
            });
            let full_scan = step.starts_with("SCAN") && !step.contains("USING");
            assert!(
                allowed || coroutine || !full_scan,
                "{what}: full scan in {plan:?}"
            );
            // `spans` is only ever reached by row number: through a trace's parts, or
            // the rows above a mark.
            for alias in ["spans", "m", "s", "old", "n"] {
                let prefix = format!("SEARCH {alias} ");
                let coroutine = plan.iter().any(|s| s == &format!("CO-ROUTINE {alias}"));
                if !coroutine && (step.starts_with(&prefix) || step == &format!("SCAN {alias}")) {
                    assert!(
                        step.contains("INTEGER PRIMARY KEY") || !touches_spans(&sql, alias),
                        "{what}: reaches spans without its row number: {plan:?}"
                    );
                }
            }
        }
        // A list comes out of the trace index in order: sorting would touch every trace.
        if what.starts_with("probe a block") {
            let outer = plan.iter().take_while(|s| !s.starts_with("CORRELATED"));
            for step in outer {
                assert!(
                    !step.contains("TEMP B-TREE"),
                    "{what}: sorts all traces: {plan:?}"
                );
            }
        }
    }
}

/// Whether `alias` names the `spans` table in `sql` (as opposed to `legacy_spans`).
fn touches_spans(sql: &str, alias: &str) -> bool {
    sql.contains(&format!("spans {alias} "))
        || sql.contains(&format!("spans {alias}\n"))
        || (alias == "spans" && sql.contains("FROM spans"))
}

#[tokio::test]
async fn retention_deletes_whole_traces_that_started_before_the_cutoff_in_steps() {
    use otel_worker_core::retention::{DEFAULT_BATCH_TRACES, prune_before};

    let (_dir, _path, store) = temp_store();
    // 2,500 traces of two spans, trace n starting at n * 1,000 ns; its child starts later.
    let traces = 2_500u64;
    for chunk in (0..traces).collect::<Vec<_>>().chunks(500) {
        let all = chunk
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
        store.insert(batch(all)).await.unwrap();
    }
    store.summarize(now_ms(), 10).await.unwrap();
    // Traces 0..=2,199 started before the cutoff; the one starting exactly at it stays.
    let cutoff = 2_200 * 1_000;
    let pruned = prune_before(&store, cutoff, None).await.unwrap();
    assert_eq!((pruned.traces, pruned.spans), (2_200, 4_400));
    assert!(
        pruned.traces > u64::from(DEFAULT_BATCH_TRACES),
        "took several steps"
    );
    let left = list(&store, query(1_000, None))
        .await
        .into_iter()
        .map(|t| t.start_time_unix_nano)
        .collect::<Vec<_>>();
    let expected: Vec<u64> = (2_200..traces).rev().map(|n| n * 1_000).collect();
    assert_eq!(left, expected);
    assert!(spans(&store, &format!("{:032x}", 2_199)).await.is_empty());
    assert_eq!(spans(&store, &format!("{:032x}", 2_200)).await.len(), 2);
    let held = store.holdings().await.unwrap();
    assert_eq!(
        (held.traces, held.spans, held.pruned_traces),
        (300, 600, 2_200)
    );
    // Nothing older is left: a second run deletes nothing.
    assert_eq!(prune_before(&store, cutoff, None).await.unwrap().traces, 0);
    // A step limit stops early.
    let limited = prune_before(&store, u64::MAX, Some(0)).await.unwrap();
    assert_eq!(limited.traces, 0);
}

#[tokio::test]
async fn services_count_spans_and_find_the_latest_end() {
    let (_dir, _path, store) = temp_store();
    store
        .insert(batch(vec![
            record(1, 1, None, 100, 900),
            record(1, 2, Some(1), 150, 300),
            record(2, 3, None, 1_000, 1_200),
            with_service(record(2, 5, Some(3), 1_000, 5_000), None),
        ]))
        .await
        .unwrap();
    let listed = || async {
        store
            .services()
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.span_count, s.last_seen_unix_nano))
            .collect::<Vec<(String, u64, u64)>>()
    };
    // svc-1: spans 1 and 3; svc-0: span 2; the span without a service is not listed.
    assert_eq!(
        listed().await,
        [("svc-0".into(), 1, 300), ("svc-1".into(), 2, 1_200)]
    );
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
        .insert(batch(vec![with_service(
            record(1, 2, Some(1), 150, 7_000),
            Some("svc-new"),
        )]))
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
    let (_dir, path, store) = temp_store();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    for t in 1..=20u8 {
        let all = (1..=50u8).map(|s| record(t, s, None, 1, 2)).collect();
        store.insert(batch(all)).await.unwrap();
    }
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // A few checkpoint intervals after the last write, the WAL is back to zero bytes and
    // every span is still there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(super::CHECKPOINT_INTERVAL).await;
    }
    assert_eq!(size(), 0, "the WAL was not truncated while idle");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM spans"), 20 * 50);
    store
        .insert(batch(vec![record(99, 1, None, 1, 2)]))
        .await
        .unwrap();
    assert_eq!(list(&store, query(100, None)).await.len(), 21);
}

/// Many traces over several search blocks: traces `0..n`, trace `t` starting at `t` µs,
/// three spans each (a root of service `svc-<t % 3>` named `op <t % 7>`, two children),
/// attribute `n` = `t % 97` on every span, every 13th trace failing.
pub(super) async fn many_traces(store: &Store, n: u32) {
    traces_in(store, 0..n).await;
}

/// [`traces_in`], under the name the budget test reads best with.
async fn many_traces_from(store: &Store, range: std::ops::Range<u32>) {
    traces_in(store, range).await;
}

/// [`many_traces`] with ids (and starts) from `range`.
pub(super) async fn traces_in(store: &Store, range: std::ops::Range<u32>) {
    traces_at(store, range, |t| u64::from(t) * 1_000).await;
}

/// [`traces_in`] with trace `t` starting at `start_of(t)`.
pub(super) async fn traces_at(
    store: &Store,
    range: std::ops::Range<u32>,
    start_of: impl Fn(u32) -> u64,
) {
    let traces: Vec<u32> = range.collect();
    for chunk in traces.chunks(1_000) {
        let mut all = Vec::new();
        for &t in chunk {
            let trace_id = format!("{t:032x}");
            let start = start_of(t);
            for (i, parent) in [(1u8, None), (2, Some(1u8)), (3, Some(1))] {
                let body = Body {
                    values: vec![Value::from(t % 97)],
                    ..Body::default()
                };
                let mut span = with_service(
                    SpanRecord {
                        trace_id: trace_id.clone(),
                        span_id: format!("{t:08x}{i:08x}"),
                        parent_span_id: parent.map(|p| format!("{t:08x}{p:08x}")),
                        name: if i == 1 {
                            format!("op {}", t % 7)
                        } else {
                            format!("child {i}")
                        },
                        kind: 2,
                        service_name: None,
                        status_code: if i == 3 && t % 13 == 0 { 2 } else { 0 },
                        start_ns: start + u64::from(i),
                        end_ns: start + u64::from(i) * 50_000,
                        resource_id: 0,
                        shape_id: Some(shape().id),
                        body: serde_json::to_string(&body).unwrap(),
                    },
                    Some(&format!("svc-{}", t % 3)),
                );
                if i != 1 {
                    span = with_service(span, Some("svc-db"));
                }
                all.push(span);
            }
        }
        // Over a budget, an export may be refused until pruning catches up (the WAL
        // checkpoint that gives space back waits for readers): retried, as an exporter
        // retries the 503 it becomes.
        let batch = batch(all);
        let mut tries = 0;
        loop {
            match store.insert(batch.clone()).await {
                Err(StoreError::Full(_)) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => break other.unwrap(),
            }
        }
    }
}

/// Searches whose answers do not depend on how far the summaries are.
pub(super) fn block_searches() -> Vec<TraceListQuery> {
    let with = |f: &dyn Fn(&mut SpanFilter), limit: u32| {
        let mut q = query(limit, None);
        f(&mut q.span);
        q
    };
    vec![
        with(&|f| f.service = Some("svc-2".into()), 250),
        with(&|f| f.service = Some("nobody".into()), 25),
        with(&|f| f.status_code = Some(2), 100),
        with(&|f| f.attributes = vec![("n".into(), "42".into())], 30),
        with(&|f| f.attributes = vec![("n".into(), "1000".into())], 30),
        with(
            &|f| {
                f.name = Some("op 3".into());
                f.root_only = true;
                f.service = Some("svc-1".into());
            },
            20,
        ),
        with(&|f| f.text = Some("OP 6".into()), 200),
        with(&|f| f.text = Some("no-such-text".into()), 20),
        with(&|f| f.min_duration_ns = Some(120_000), 500),
    ]
}

/// Every page of a search, following its cursors.
pub(super) async fn all_pages(store: &Store, q: &TraceListQuery) -> Vec<String> {
    let mut q = q.clone();
    let mut ids = Vec::new();
    loop {
        let page: Page = search(std::slice::from_ref(store), &q, None).await.unwrap();
        ids.extend(page.traces.iter().map(|t| t.trace_id.clone()));
        match page.next {
            Some(next) => q.before = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn searches_find_the_same_traces_before_during_and_after_the_summaries_are_built() {
    let (_dir, path, store) = temp_store();
    many_traces(&store, 12_000).await;
    let searches = block_searches();
    let mut expected = Vec::new();
    for q in &searches {
        // Nothing summarized yet: every trace is checked one by one.
        expected.push(all_pages(&store, q).await);
    }
    assert!(
        expected.iter().any(|ids| ids.len() > 100),
        "some searches find many"
    );
    assert!(expected[1].is_empty() && expected[4].is_empty() && expected[7].is_empty());
    // Part of the rows folded, then all of them: the answers stay the same.
    store.summarize_step(now_ms()).await.unwrap();
    for (q, ids) in searches.iter().zip(&expected) {
        assert_eq!(&all_pages(&store, q).await, ids, "half summarized: {q:?}");
    }
    store.summarize(now_ms(), 100).await.unwrap();
    assert!(
        count(&path, "SELECT COUNT(*) FROM search_blocks") >= 2,
        "several blocks"
    );
    for (q, ids) in searches.iter().zip(&expected) {
        assert_eq!(&all_pages(&store, q).await, ids, "summarized: {q:?}");
    }
    // A filter cache smaller than the block list (the Worker's, or past 1,024 blocks
    // locally) changes nothing either.
    let small = open(&path).with_block_cache(Arc::new(BlockCache::with_capacity(1)));
    for (q, ids) in searches.iter().zip(&expected) {
        assert_eq!(&all_pages(&small, q).await, ids, "a cache of one: {q:?}");
    }
    // A late root moves its trace into an older block: it is still found there.
    store
        .insert(batch(vec![with_service(
            SpanRecord {
                trace_id: format!("{:032x}", 11_999),
                span_id: "ffffffffffffffff".into(),
                parent_span_id: None,
                name: "late root".into(),
                kind: 2,
                service_name: None,
                status_code: 0,
                start_ns: 5,
                end_ns: 6,
                resource_id: 0,
                shape_id: Some(shape().id),
                body: serde_json::to_string(&Body {
                    values: vec![Value::from(5000)],
                    ..Body::default()
                })
                .unwrap(),
            },
            Some("svc-late"),
        )]))
        .await
        .unwrap();
    let late = |f: &dyn Fn(&mut SpanFilter)| {
        let mut q = query(5, None);
        f(&mut q.span);
        q
    };
    for summarized in [false, true] {
        if summarized {
            store.summarize(now_ms(), 100).await.unwrap();
        }
        for q in [
            late(&|f| f.service = Some("svc-late".into())),
            late(&|f| f.attributes = vec![("n".into(), (11_999 % 97).to_string())]),
        ] {
            let ids = all_pages(&store, &q).await;
            assert!(
                ids.contains(&format!("{:032x}", 11_999)),
                "summarized: {summarized}, {q:?}: {ids:?}"
            );
        }
    }
}

#[tokio::test]
async fn repeated_attribute_values_stay_findable_after_folding_in_steps_of_any_size() {
    // The summarizer adds a key and value's terms once per step: a value seen again in
    // the same step, or first seen in an earlier step or an earlier block, must still be
    // found in every block that holds it (17,000 spans: two blocks).
    for step in [1_000, 16_384] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repeated.db");
        let store =
            Store::new(Arc::new(SqliteDatabase::open(&path).unwrap())).with_summary_step(step);
        for chunk in (0..17_000u32).collect::<Vec<_>>().chunks(1_000) {
            let spans: Vec<SpanRecord> = chunk
                .iter()
                .map(|&t| {
                    let mut span =
                        record(1, 1, None, u64::from(t) * 1_000, u64::from(t) * 1_000 + 5);
                    span.trace_id = format!("{t:032x}");
                    span.body = serde_json::to_string(&Body {
                        values: vec![Value::from(format!("Checkout-{}", t % 5))],
                        ..Body::default()
                    })
                    .unwrap();
                    span
                })
                .collect();
            store.insert(batch(spans)).await.unwrap();
        }
        let searches: Vec<TraceListQuery> = vec![
            {
                let mut q = query(1_000, None);
                q.span.text = Some("CHECKOUT-3".into());
                q
            },
            {
                let mut q = query(1_000, None);
                q.span.attributes = vec![("n".into(), "Checkout-4".into())];
                q
            },
        ];
        let mut before = Vec::new();
        for q in &searches {
            before.push(all_pages(&store, q).await);
        }
        assert_eq!(before[0].len(), 3_400, "step {step}");
        assert_eq!(before[1].len(), 3_400, "step {step}");
        store.summarize(now_ms(), 1_000).await.unwrap();
        assert_eq!(
            count(&path, "SELECT COUNT(*) FROM search_blocks"),
            2,
            "step {step}"
        );
        assert_eq!(
            store.holdings().await.unwrap().unindexed_spans,
            0,
            "step {step}"
        );
        for (q, ids) in searches.iter().zip(&before) {
            let after = all_pages(&store, q).await;
            assert_eq!(
                after.len(),
                ids.len(),
                "found after folding, step {step}: {q:?}"
            );
            assert!(&after == ids, "the same traces, step {step}: {q:?}");
        }
    }
}

#[tokio::test]
async fn a_trace_whose_first_span_is_deleted_is_still_found_in_its_block() {
    let (_dir, _path, store) = temp_store();
    // The trace arrives first, so its rows are in the oldest block; its root starts
    // before everything, its child as late as trace 10,000.
    let id = format!("{:032x}", 999_999);
    let late = 10_000_500;
    let span = |span_id: &str, parent: Option<&str>, start: u64| {
        with_service(
            SpanRecord {
                trace_id: id.clone(),
                span_id: span_id.into(),
                parent_span_id: parent.map(str::to_owned),
                name: "needle".into(),
                kind: 2,
                service_name: None,
                status_code: 0,
                start_ns: start,
                end_ns: start + 10,
                resource_id: 0,
                shape_id: Some(shape().id),
                body: serde_json::to_string(&Body {
                    values: vec![Value::from(42)],
                    ..Body::default()
                })
                .unwrap(),
            },
            Some("svc-needle"),
        )
    };
    let (root, child) = ("00000000000000a1", "00000000000000a2");
    store
        .insert(batch(vec![
            span(root, None, 1),
            span(child, Some(root), late),
        ]))
        .await
        .unwrap();
    traces_in(&store, 0..12_000).await;
    store.summarize(now_ms(), 100).await.unwrap();
    // Deleting the root moves the trace's start to its child's, past the start of every
    // other trace of the oldest block.
    assert!(store.delete_span(&id, root).await.unwrap());
    let mut q = query(30, None);
    q.span.attributes = vec![("n".into(), "42".into())];
    let mut expected: Vec<(u64, String)> = (0..12_000u32)
        .filter(|t| t % 97 == 42)
        .map(|t| (u64::from(t) * 1_000 + 1, format!("{t:032x}")))
        .chain([(late, id.clone())])
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().take(30).map(|(_, id)| id).collect();
    assert!(
        expected.contains(&id),
        "the trace belongs on the first page"
    );
    let page: Page = search(std::slice::from_ref(&store), &q, None)
        .await
        .unwrap();
    let found: Vec<String> = page.traces.iter().map(|t| t.trace_id.clone()).collect();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn a_search_finds_new_spans_while_the_summaries_lag_far_behind() {
    // Many more spans than one block holds arrive after the last summary: the newest
    // trace among them is found.
    let (_dir, _path, store) = temp_store();
    many_traces(&store, 1_000).await;
    store.summarize(now_ms(), 100).await.unwrap();
    traces_in(&store, 1_000..21_000).await;
    let newest = format!("{:032x}", 1_000_000u32);
    let mut span = record(0, 1, None, 2_000_000_000, 2_000_000_100);
    span.trace_id = newest.clone();
    store
        .insert(batch(vec![with_service(span, Some("svc-newest"))]))
        .await
        .unwrap();
    let mut q = query(20, None);
    q.span.service = Some("svc-newest".into());
    assert_eq!(all_pages(&store, &q).await, [newest]);
}

#[tokio::test]
async fn a_summary_step_that_fails_midway_changes_nothing_and_is_done_again() {
    let (_dir, path, store) = temp_store();
    many_traces(&store, 3_000).await;
    let q = {
        let mut q = query(50, None);
        q.span.attributes = vec![("n".into(), "42".into())];
        q
    };
    let expected = all_pages(&store, &q).await;
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER fail_blocks BEFORE INSERT ON search_blocks
         BEGIN SELECT RAISE(ABORT, 'crashed while folding'); END;",
    )
    .unwrap();
    let failed = store.summarize_step(now_ms()).await;
    assert!(
        matches!(failed, Err(StoreError::Other(ref m)) if m.contains("crashed")),
        "{failed:?}"
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM search_blocks"), 0);
    assert_eq!(
        store.counter(sql::SUMMARY_MARK).await.unwrap(),
        0,
        "the mark did not move"
    );
    assert_eq!(all_pages(&store, &q).await, expected);
    conn.execute_batch("DROP TRIGGER fail_blocks").unwrap();
    // The lease was given back: the next step runs at once and folds everything.
    assert!(store.summarize(now_ms(), 100).await.unwrap() > 0);
    assert_eq!(all_pages(&store, &q).await, expected);
}

#[tokio::test]
async fn attribute_keys_and_values_are_counted_per_service() {
    let (_dir, _path, store) = temp_store();
    many_traces(&store, 970).await;
    store.summarize(now_ms(), 100).await.unwrap();
    let keys = store.attribute_keys(None, None).await.unwrap();
    let n = keys
        .iter()
        .find(|k| k.key == "n" && k.scope == "span")
        .unwrap();
    assert_eq!((n.count, n.types.clone()), (2_910, vec!["int".to_owned()]));
    let service = keys
        .iter()
        .find(|k| k.key == "service.name" && k.scope == "resource")
        .unwrap();
    assert_eq!(service.count, 2_910);
    let of_one = store
        .attribute_keys(Some("svc-db"), Some("span"))
        .await
        .unwrap();
    assert_eq!(of_one.len(), 1);
    assert_eq!(of_one[0].count, 1_940);
    let values = store.attribute_values("n", None, None, 5).await.unwrap();
    assert_eq!(values.len(), 5);
    assert!(values.iter().all(|v| v.count == 30), "{values:?}");
    let prefixed = store
        .attribute_values("service.name", None, Some("svc-d"), 10)
        .await
        .unwrap();
    assert_eq!(prefixed.len(), 1);
    assert_eq!(
        (prefixed[0].value.as_str(), prefixed[0].count),
        ("svc-db", 1_940)
    );
}

#[tokio::test]
async fn a_store_with_a_budget_deletes_its_oldest_traces_to_stay_under_it() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("budget.db");
    let budget = 8_000_000;
    let store = Store::new(Arc::new(
        SqliteDatabase::open_within(&path, Some(budget)).unwrap(),
    ))
    .with_budget(Some(budget));
    // About twice the budget, sent in exports of a twentieth of it: every one is stored.
    many_traces(&store, 90_000).await;
    let kept = store.keep_within_budget(1_000).await.unwrap();
    assert!(!kept.over, "{kept:?}");
    let bytes = store.database().size().await.unwrap();
    assert!(bytes <= budget, "{bytes} bytes");
    // The oldest went, the newest stayed, whole.
    let left = list(&store, query(1, None)).await;
    assert_eq!(left[0].trace_id, format!("{:032x}", 89_999));
    assert_eq!(left[0].span_count, 3);
    assert!(
        store
            .trace_summary(&format!("{:032x}", 0))
            .await
            .unwrap()
            .is_none()
    );
    let held = store.holdings().await.unwrap();
    assert!(held.pruned_traces > 30_000, "{held:?}");
    assert_eq!(held.traces, 90_000 - held.pruned_traces);
    assert_eq!(held.spans, held.traces * 3);
    // Down to 80% of the budget, not far past it: what a store at its budget keeps is
    // most of what fits.
    let data = store.database().data_size().await.unwrap();
    assert!(
        data as f64 >= budget as f64 * 0.6,
        "{data} bytes of data left"
    );

    // Over it again by a little, a little goes.
    let before = held.traces;
    many_traces_from(&store, 90_000..95_000).await;
    let kept = store.keep_within_budget(1_000).await.unwrap();
    let held = store.holdings().await.unwrap();
    assert!(!kept.over, "{kept:?}");
    assert!(
        held.traces as f64 >= before as f64 * 0.75,
        "{} of {} traces left",
        held.traces,
        before + 5_000
    );
}

#[tokio::test]
async fn a_small_budget_deletes_what_puts_it_back_under_its_target_not_everything() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("small.db");
    let store = Store::new(Arc::new(SqliteDatabase::open(&path).unwrap()));
    many_traces(&store, 2_500).await;
    let data = store.database().data_size().await.unwrap();
    let held = store.holdings().await.unwrap().traces;
    // A budget the store is just over: it must lose about a fifth, not all.
    let store = store.with_budget(Some(data * 100 / 95));
    let kept = store.keep_within_budget(40).await.unwrap();
    let left = store.holdings().await.unwrap().traces;
    assert!(kept.traces_deleted > 0, "{kept:?}");
    assert!(
        left as f64 >= held as f64 * 0.6,
        "{left} of {held} traces left ({kept:?})"
    );
}

#[tokio::test]
async fn prune_steps_delete_log_records_with_the_traces_of_their_time() {
    let (_dir, _path, store) = temp_store();
    // Traces 1..=4 start at 100, 200, 300, 400; log records at 50 to 450.
    let spans: Vec<SpanRecord> = (1..=4u8)
        .map(|t| record(t, t, None, u64::from(t) * 100, u64::from(t) * 100 + 5))
        .collect();
    store.insert(batch(spans)).await.unwrap();
    let logs: Vec<(u64, i32, &str, Option<u8>)> =
        (0..9u64).map(|i| (50 + i * 50, 9, "line", None)).collect();
    store.insert(log_batch(&logs)).await.unwrap();
    assert_eq!(store.holdings().await.unwrap().logs, 9);

    // Retention at 250: traces 1 and 2 go, and the records before 250 (50 to 200).
    let pruned = store.prune(250, 1_000).await.unwrap();
    assert_eq!((pruned.traces, pruned.logs), (2, 4));
    let held = store.holdings().await.unwrap();
    assert_eq!((held.traces, held.logs), (2, 5));

    // A budget step of one trace (cutoff: none) takes trace 3 and records before its
    // start only, never newer ones.
    let pruned = store.prune(u64::MAX, 1).await.unwrap();
    assert_eq!(
        (pruned.traces, pruned.logs),
        (1, 1),
        "250 is before 300, 300 is not"
    );
    let pruned = store.prune(u64::MAX, 1).await.unwrap();
    assert_eq!(
        (pruned.traces, pruned.logs),
        (1, 2),
        "300 and 350 are before 400"
    );

    // With no trace left, records go oldest first, ten per trace the step may take.
    let many: Vec<(u64, i32, &str, Option<u8>)> =
        (0..25u64).map(|i| (1_000 + i, 9, "more", None)).collect();
    store.insert(log_batch(&many)).await.unwrap();
    let pruned = store.prune(u64::MAX, 1).await.unwrap();
    assert_eq!((pruned.traces, pruned.logs), (0, 10));
    let held = store.holdings().await.unwrap();
    assert_eq!(held.logs, 2 + 25 - 10, "400, 450 and 1,000 to 1,007 went");
    let query = otel_worker_core::store::logs::LogQuery {
        limit: 100,
        ..Default::default()
    };
    let left = store.logs(&query, None).await.unwrap();
    let oldest = left.logs.last().unwrap().1.time_unix_nano;
    assert_eq!(oldest, 1_008);
}

/// Metric points of series `route` at `times`, through the real conversion.
fn point_batch(route: &str, times: &[u64]) -> Batch {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
        number_data_point,
    };
    let string = |text: &str| AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    };
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: times
                            .iter()
                            .map(|t| NumberDataPoint {
                                attributes: vec![KeyValue {
                                    key: "route".into(),
                                    value: Some(string(route)),
                                    ..Default::default()
                                }],
                                time_unix_nano: *t,
                                value: Some(number_data_point::Value::AsInt(*t as i64)),
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    otel_worker_core::ingest::metrics::to_metric_rows(request, None).batch
}

#[tokio::test]
async fn prune_steps_delete_metric_points_with_the_traces_of_their_time_series_by_series() {
    let (_dir, _path, store) = temp_store();
    let spans: Vec<SpanRecord> = (1..=2u8)
        .map(|t| record(t, t, None, u64::from(t) * 100, u64::from(t) * 100 + 5))
        .collect();
    store.insert(batch(spans)).await.unwrap();
    store
        .insert(point_batch("/a", &[50, 150, 250]))
        .await
        .unwrap();
    store
        .insert(point_batch("/b", &[60, 160, 260]))
        .await
        .unwrap();
    // The same points again: stored once, counted once.
    store
        .insert(point_batch("/b", &[60, 160, 260]))
        .await
        .unwrap();
    let held = store.holdings().await.unwrap();
    assert_eq!((held.metric_points, held.metric_series), (6, 2));

    // Retention at 200: trace 1 (started at 100) goes, and each series' points before 200.
    let pruned = store.prune(200, 1_000).await.unwrap();
    assert_eq!((pruned.traces, pruned.points), (1, 4));
    let held = store.holdings().await.unwrap();
    assert_eq!(held.metric_points, 2);
    let rows = store.metric_series("queue", None).await.unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.series_id.as_str()).collect();
    let left = store.metric_points(&ids, 0, u64::MAX, 10).await.unwrap();
    let mut times: Vec<&str> = left.iter().map(|p| p.time_ns.as_str()).collect();
    times.sort_unstable();
    assert_eq!(times, ["250", "260"]);

    // A budget step with no trace left trims the oldest points of every series alike
    // (ten each), not one series to nothing.
    let many: Vec<u64> = (1_000..1_025).collect();
    store.insert(point_batch("/a", &many)).await.unwrap();
    store.insert(point_batch("/b", &many)).await.unwrap();
    // The last trace (from 200) goes first, with nothing of its time left to take.
    let pruned = store.prune(u64::MAX, 1).await.unwrap();
    assert_eq!((pruned.traces, pruned.points), (1, 0));
    let pruned = store.prune(u64::MAX, 1).await.unwrap();
    assert_eq!((pruned.traces, pruned.points), (0, 20));
    let left = store.metric_points(&ids, 0, u64::MAX, 100).await.unwrap();
    for series in &ids {
        let mut times: Vec<u64> = left
            .iter()
            .filter(|p| p.series_id == *series)
            .map(|p| p.time_ns.parse().unwrap())
            .collect();
        times.sort_unstable();
        assert_eq!(times.len(), 26 - 10, "{series}");
        assert_eq!(times[0], 1_009, "the ten oldest of {series} went");
    }
}

#[tokio::test]
async fn a_filtered_log_list_reads_in_windows_and_a_bounded_one_says_where_it_stopped() {
    use otel_worker_core::store::logs::{LOG_WINDOW, LogQuery};

    let (_dir, _path, store) = temp_store();
    // Two and a half windows of records; only the oldest and one in the middle match.
    let n = u64::from(LOG_WINDOW) * 5 / 2;
    let lines: Vec<String> = (0..n)
        .map(|i| {
            if i == 0 || i == n / 2 {
                format!("needle {i}")
            } else {
                format!("hay {i}")
            }
        })
        .collect();
    let logs: Vec<(u64, i32, &str, Option<u8>)> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| (1_000 + i as u64, 9, line.as_str(), None))
        .collect();
    for chunk in logs.chunks(5_000) {
        store.insert(log_batch(chunk)).await.unwrap();
    }
    let mut query = LogQuery {
        limit: 10,
        text: Some("needle".into()),
        ..Default::default()
    };
    let all = store.logs(&query, None).await.unwrap();
    let found: Vec<&serde_json::Value> = all.logs.iter().map(|(_, l)| &l.body).collect();
    assert_eq!(
        found,
        [
            &Value::from(format!("needle {}", n / 2)),
            &Value::from("needle 0")
        ]
    );
    assert_eq!(all.next, None, "everything was looked at");

    // One window at a time: the first finds nothing and says where to go on.
    let mut seen = Vec::new();
    let mut requests = 0;
    loop {
        let page = store.logs(&query, Some(1)).await.unwrap();
        requests += 1;
        seen.extend(page.logs.into_iter().map(|(_, l)| l.body));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(requests, 3);
    assert_eq!(
        seen,
        [
            Value::from(format!("needle {}", n / 2)),
            Value::from("needle 0")
        ]
    );
}

#[tokio::test]
async fn sampled_out_log_records_are_neither_stored_nor_announced() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use otel_worker_core::ingest::{Sampling, commit, prepare_logs};
    use otel_worker_core::models::ServerMessage;

    let (_dir, _path, store) = temp_store();
    let record = |body: &str, severity: i32, trace: Option<u8>| LogRecord {
        time_unix_nano: 1_000,
        severity_number: severity,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        // A trace id ending in 0xff…: far above any small sampling threshold.
        trace_id: trace.map(|t| vec![t; 16]).unwrap_or_default(),
        ..Default::default()
    };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record("dropped with its trace", 9, Some(0xff)),
                    record("kept: an error", 17, Some(0xff)),
                    record("kept: no trace", 9, None),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let sampling = Sampling::new(0.001).unwrap();
    let shards = Shards::one(store.clone());
    let prepared = prepare_logs(request, shards.max_span_bytes(), Some(sampling));
    let stored = commit(&shards, prepared).await.unwrap();
    assert_eq!(stored.stored, 2);
    let Some(ServerMessage::LogAdded { logs }) = stored.announcement else {
        panic!("the kept records are announced");
    };
    let announced: Vec<&Value> = logs.iter().map(|l| &l.body).collect();
    assert_eq!(announced, ["kept: an error", "kept: no trace"]);
    assert_eq!(store.holdings().await.unwrap().logs, 2);
}

/// Two stores fed the same spans of a long trace, one in a single export and one a span
/// per export (with other traces' spans in between, the root last, and a retried span),
/// hold the same summary and the same spans; the trace's parts stay few.
#[tokio::test]
async fn a_trace_fed_one_span_per_export_is_summarized_as_if_sent_at_once() {
    let sent: Vec<SpanRecord> = (1..=200u8)
        .map(|i| {
            // Span 1 is the root; it arrives last below. Some children start before it.
            let parent = (i != 1).then_some(1);
            let start = 10_000 + u64::from(i) * 37 % 1_000;
            record(7, i, parent, start, start + 500 + u64::from(i))
        })
        .collect();
    let (_dir_a, _path_a, at_once) = temp_store();
    at_once.insert(batch(sent.clone())).await.unwrap();

    let (_dir_b, path_b, one_by_one) = temp_store();
    let mut order: Vec<SpanRecord> = sent[1..].to_vec();
    order.push(sent[0].clone());
    for (n, span) in order.iter().enumerate() {
        one_by_one.insert(batch(vec![span.clone()])).await.unwrap();
        if n % 3 == 0 {
            // Another trace's spans between two exports of this one.
            let other = record(8 + (n % 5) as u8, n as u8, None, 1, 2);
            one_by_one.insert(batch(vec![other])).await.unwrap();
        }
        if n == 150 {
            // An exporter retrying an earlier export.
            one_by_one
                .insert(batch(vec![order[148].clone()]))
                .await
                .unwrap();
        }
    }
    let trace = "07".repeat(16);
    let a = at_once.trace_summary(&trace).await.unwrap().unwrap();
    let b = one_by_one.trace_summary(&trace).await.unwrap().unwrap();
    assert_eq!(a, b);
    assert_eq!((b.span_count, b.error_count), (200, 1));
    assert_eq!(b.root_span_name.as_deref(), Some("span 1"));
    assert_eq!(
        spans(&at_once, &trace).await,
        spans(&one_by_one, &trace).await
    );
    let parts = count(
        &path_b,
        "SELECT json_array_length(parts) FROM traces WHERE trace_id = unhex('07070707070707070707070707070707')",
    );
    assert!(parts < 10, "{parts} parts for 200 exports a few rows apart");
    // Deleting the root and sending it again: the summary is kept right through it.
    one_by_one
        .delete_span(&trace, &"01".repeat(8))
        .await
        .unwrap();
    one_by_one
        .insert(batch(vec![sent[0].clone()]))
        .await
        .unwrap();
    let c = one_by_one.trace_summary(&trace).await.unwrap().unwrap();
    assert_eq!(a, c);
}

/// A stored resource, key set or series whose id an export's different one shares (a
/// 53-bit hash collision, made here by writing the row by hand) refuses the export whole
/// instead of merging the two.
#[tokio::test]
async fn an_id_shared_by_different_content_refuses_the_export_instead_of_merging() {
    let span = record(9, 1, None, 1_000, 2_000);
    let (_dir, path, store) = temp_store();
    let resource = resource(Some("svc-1"));
    // The first span's resource id, holding another resource.
    store
        .insert(batch(vec![record(10, 1, None, 1, 2)]))
        .await
        .unwrap();
    let changed = Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE resources SET resource = '{\"attributes\":{\"service.name\":\"someone else\"}}'
             WHERE resource_id = ?1",
            [resource.id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let refused = store.insert(batch(vec![span.clone()])).await.unwrap_err();
    assert!(refused.to_string().contains("53-bit id"), "{refused}");
    assert!(
        store
            .trace_summary(&"09".repeat(16))
            .await
            .unwrap()
            .is_none()
    );
    // The same check in the statements D1 runs.
    let db = SqliteDatabase::open(&path).unwrap();
    let refused = otel_worker_core::store::Database::transaction(&db, as_d1(&[batch(vec![span])]))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("53-bit id"), "{refused}");
}

/// Resources, key sets and series are shared by every row that uses them, so deleting
/// spans, records and points leaves them behind; a sweep deletes those nothing uses any
/// more, in steps, and never one an export stored or used again while it ran.
#[tokio::test]
async fn shared_rows_nothing_refers_to_are_swept_and_rows_in_use_never_are() {
    let (_dir, path, store) = temp_store();
    let shape_of = |key: &str| {
        let mut attributes = serde_json::Map::new();
        attributes.insert(key.into(), Value::from(0));
        ShapeRecord::of(&attributes)
    };
    // A span of trace `trace` whose resource (service `service`) and key set (`key`) no
    // other trace uses.
    let alone = |trace: u8, start_ns: u64, service: &str, key: &str| {
        let mut span = with_service(
            record(trace, trace, None, start_ns, start_ns + 5),
            Some(service),
        );
        span.shape_id = Some(shape_of(key).id);
        Batch {
            resources: vec![resource(Some(service))],
            shapes: vec![shape_of(key)],
            spans: vec![span],
            ..Batch::default()
        }
    };
    store
        .insert(alone(2, 100, "gone", "old-key"))
        .await
        .unwrap();
    store
        .insert(alone(5, 110, "reused", "reused-key"))
        .await
        .unwrap();
    store
        .insert(batch(vec![record(1, 1, None, 10_000, 10_005)]))
        .await
        .unwrap();
    store
        .insert(log_batch(&[(50, 9, "old line", None)]))
        .await
        .unwrap();
    store.insert(point_batch("old", &[60])).await.unwrap();
    let held = |sql: &str| count(&path, sql);
    let all = || {
        (
            held("SELECT count(*) FROM resources"),
            held("SELECT count(*) FROM attribute_shapes"),
            held("SELECT count(*) FROM metric_series"),
        )
    };
    // Spans of `gone`, `reused` and `svc-1`, records of `logs`, the series' own resource.
    assert_eq!(all(), (5, 3, 1));
    let sweep_to_the_end = |rows: u32| {
        let store = &store;
        async move {
            for _ in 0..50 {
                let swept = store
                    .sweep_step(now_ms(), Duration::ZERO, rows)
                    .await
                    .unwrap()
                    .expect("a sweep is due at once");
                if swept.ended {
                    return swept;
                }
            }
            panic!("a sweep of a handful of rows did not end in 50 steps");
        }
    };
    // While everything is in use, a sweep deletes nothing.
    let swept = sweep_to_the_end(sweep::DEFAULT_STEP_ROWS).await;
    assert_eq!((swept.resources, swept.shapes, swept.series), (0, 0, 0));
    assert_eq!(all(), (5, 3, 1));

    // Retention takes the old traces, record and point; their shared rows stay behind.
    let pruned = store.prune(5_000, 1_000).await.unwrap();
    assert_eq!((pruned.traces, pruned.logs, pruned.points), (2, 1, 1));
    assert_eq!(all(), (5, 3, 1));

    // A sweep of one row per step. After its first step come an export with a resource
    // and a key set of its own, and one that uses `reused` and `reused-key` again: the
    // sweep does not read them (it reads the rows there were when it began), they mark
    // what they use themselves.
    let first = store
        .sweep_step(now_ms(), Duration::ZERO, 1)
        .await
        .unwrap()
        .expect("a sweep is due at once");
    assert!(!first.ended);
    store
        .insert(alone(3, 20_000, "new", "new-key"))
        .await
        .unwrap();
    store
        .insert(alone(6, 20_100, "reused", "reused-key"))
        .await
        .unwrap();
    let swept = sweep_to_the_end(1).await;
    assert_eq!((swept.resources, swept.shapes, swept.series), (3, 1, 1));
    assert_eq!(all(), (3, 3, 0));
    for (sql, expected) in [
        (
            "SELECT count(*) FROM resources WHERE service_name IN ('svc-1', 'new', 'reused')",
            3,
        ),
        (
            "SELECT count(*) FROM resources WHERE service_name IN ('gone', 'logs')",
            0,
        ),
        (
            "SELECT count(*) FROM attribute_shapes WHERE keys = '[\"old-key\"]'",
            0,
        ),
    ] {
        assert_eq!(held(sql), expected, "{sql}");
    }
    for (trace, service, key, value) in [(3, "new", "new-key", 3), (6, "reused", "reused-key", 6)] {
        let spans = spans(&store, &format!("{trace:02x}").repeat(16)).await;
        assert_eq!(spans[0]["attributes"][key], value, "{spans:?}");
        assert_eq!(spans[0]["resource"]["attributes"]["service.name"], service);
    }

    // The next sweep waits as long as it is told to: nothing runs, nothing is read.
    let idle = store
        .sweep_step(now_ms(), Duration::from_secs(3_600), 1)
        .await
        .unwrap();
    assert_eq!(idle, None);
    assert_eq!(
        held("SELECT value FROM counters WHERE name = 'sweep_running'"),
        0
    );

    // What was swept is stored again by the next export that uses it.
    store
        .insert(alone(2, 30_000, "gone", "old-key"))
        .await
        .unwrap();
    let again = spans(&store, &"02".repeat(16)).await;
    assert_eq!(again[0]["attributes"]["old-key"], 2, "{again:?}");
    assert_eq!(again[0]["resource"]["attributes"]["service.name"], "gone");
}

/// Two log records of one nanosecond whose 53-bit identities are equal (a collision,
/// made here by storing another body under the record's pair) refuse the export instead
/// of the second being dropped as a retried copy; the same record again is still a retry.
#[tokio::test]
async fn a_log_record_sharing_a_time_and_identity_with_a_different_one_refuses_the_export() {
    let (_dir, path, store) = temp_store();
    let line = log_batch(&[(1_000, 9, "the line", None)]);
    store.insert(line.clone()).await.unwrap();
    store.insert(line.clone()).await.unwrap();
    assert_eq!(
        store.holdings().await.unwrap().logs,
        1,
        "a retry is stored once"
    );
    // The collision: another body text under the record's time and identity.
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE logs SET message = 'another line' WHERE time_ns = 1000",
            [],
        )
        .unwrap();
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM logs WHERE message = 'another line'"
        ),
        1
    );
    let refused = store.insert(line.clone()).await.unwrap_err();
    assert!(refused.to_string().contains("53-bit identity"), "{refused}");
    // D1 runs the same statements (their JSON form) through the same `Store::insert`;
    // SQLite's own words, before the store names the collision:
    let db = SqliteDatabase::open(&path).unwrap();
    let refused = otel_worker_core::store::Database::transaction(&db, as_d1(&[line]))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("NOT NULL constraint failed: logs.identity"),
        "{refused}"
    );
    assert_eq!(store.holdings().await.unwrap().logs, 1);
}

/// An export retried many times (an exporter in a retry loop, or a file imported again and
/// again) leaves its trace as it was: the same summary and spans, and no more parts than
/// one export gives, so the next retry costs what the first did.
#[tokio::test]
async fn an_export_retried_many_times_leaves_its_trace_as_one_export_leaves_it() {
    let (_dir, path, store) = temp_store();
    let spans: Vec<SpanRecord> = (1..=5u8)
        .map(|i| record(9, i, (i != 1).then_some(1), 1_000 + u64::from(i), 2_000))
        .collect();
    store.insert(batch(spans.clone())).await.unwrap();
    let trace = "09".repeat(16);
    let first = store.trace_summary(&trace).await.unwrap().unwrap();
    for _ in 0..50 {
        store.insert(batch(spans.clone())).await.unwrap();
    }
    assert_eq!(store.trace_summary(&trace).await.unwrap().unwrap(), first);
    assert_eq!(self::spans(&store, &trace).await.len(), 5);
    let parts = count(
        &path,
        "SELECT json_array_length(parts) FROM traces WHERE trace_id = unhex('09090909090909090909090909090909')",
    );
    assert_eq!(parts, 1, "parts of rows that are gone are forgotten");
}
