//! Log records in the archive, on real SQLite files and a real directory: every list and
//! every trace's records read the same whichever tier holds them, and retention drops
//! blocks of records whole.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otel_worker_core::archive::objects::ObjectStore;
use otel_worker_core::models::Log;
use otel_worker_core::store::Store;
use otel_worker_core::store::logs::{LogCursor, LogQuery};

use super::archive_tests::{archived, directory};
use super::tests::{count, now_ms};

const SERVICES: [&str; 3] = ["svc-a", "svc-b", "svc-c"];

fn string(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    }
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// Records `range` through the real conversion: record `i` at time `1_000 + i * 10` in
/// service `SERVICES[i % 3]` (svc-c's resource says `deployment.environment=prod`), with
/// severity `1 + i % 24`, trace `i % 50` for three records in four (span `i % 7`),
/// attributes `user=u{i % 7}` and `n={i % 100}`, and a body that says "needle" one time
/// in 97.
async fn many_logs(store: &Store, range: std::ops::Range<u64>) {
    many_logs_at(store, range, |i| 1_000 + i * 10).await;
}

/// [`many_logs`] with record `i` at `time(i)`.
async fn many_logs_at(store: &Store, range: std::ops::Range<u64>, time: impl Fn(u64) -> u64) {
    let mut request = ExportLogsServiceRequest::default();
    for (s, service) in SERVICES.iter().enumerate() {
        let mut attributes = vec![attribute(
            "service.name",
            any_value::Value::StringValue((*service).into()),
        )];
        if s == 2 {
            attributes.push(attribute(
                "deployment.environment",
                any_value::Value::StringValue("prod".into()),
            ));
        }
        let records = range
            .clone()
            .filter(|i| (*i % 3) as usize == s)
            .map(|i| LogRecord {
                time_unix_nano: time(i),
                severity_number: 1 + (i % 24) as i32,
                severity_text: format!("S{}", i % 24),
                body: Some(string(&if i % 97 == 0 {
                    format!("Needle number {i}")
                } else {
                    format!("hay {i}")
                })),
                attributes: vec![
                    attribute("user", any_value::Value::StringValue(format!("u{}", i % 7))),
                    attribute("n", any_value::Value::IntValue((i % 100) as i64)),
                ],
                trace_id: if i % 4 == 0 {
                    Vec::new()
                } else {
                    format!("{:032x}", i % 50 + 1)
                        .into_bytes()
                        .chunks(2)
                        .map(|h| u8::from_str_radix(std::str::from_utf8(h).unwrap(), 16).unwrap())
                        .collect()
                },
                span_id: if i % 4 == 0 {
                    Vec::new()
                } else {
                    vec![(i % 7) as u8 + 1; 8]
                },
                ..Default::default()
            })
            .collect();
        request.resource_logs.push(ResourceLogs {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            schema_url: String::new(),
        });
    }
    let rows = otel_worker_core::ingest::to_log_rows(request, None);
    assert_eq!(rows.rejected, 0);
    store.insert(rows.batch).await.unwrap();
}

fn trace(t: u64) -> String {
    format!("{t:032x}")
}

/// The lists a user makes: plain, by service, severity, trace, span, attribute (the
/// record's and the resource's), text, a time range, and several at once.
fn every_list() -> Vec<LogQuery> {
    let q = |f: &dyn Fn(&mut LogQuery)| {
        let mut query = LogQuery {
            limit: 37,
            ..LogQuery::default()
        };
        f(&mut query);
        query
    };
    vec![
        q(&|_| {}),
        q(&|q| q.limit = 500),
        q(&|q| q.service = Some("svc-b".into())),
        q(&|q| q.min_severity = Some(17)),
        q(&|q| q.trace_id = Some(trace(7))),
        q(&|q| q.span_id = Some("0303030303030303".into())),
        q(&|q| q.attributes = vec![("user".into(), "u3".into())]),
        q(&|q| q.attributes = vec![("n".into(), "42".into())]),
        q(&|q| q.attributes = vec![("deployment.environment".into(), "prod".into())]),
        q(&|q| q.text = Some("needle".into())),
        q(&|q| q.text = Some("NUMBER 97".into())),
        q(&|q| q.text = Some("nothing like this".into())),
        q(&|q| {
            q.start_ns = Some(50_000);
            q.end_ns = Some(90_000);
        }),
        q(&|q| {
            q.service = Some("svc-a".into());
            q.min_severity = Some(9);
            q.attributes = vec![("user".into(), "u1".into())];
        }),
    ]
}

/// Every page of `query` in order, following the cursor, each request looking at no more
/// than `max_windows` windows and blocks.
async fn all_pages(store: &Store, query: &LogQuery, max_windows: Option<u32>) -> Vec<Log> {
    let mut query = query.clone();
    let mut logs = Vec::new();
    for _ in 0..10_000 {
        let page = store.logs(&query, max_windows).await.unwrap();
        logs.extend(page.logs.into_iter().map(|(_, log)| log));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return logs,
        }
    }
    panic!("a list that never ends");
}

async fn trace_pages(store: &Store, trace_id: &str) -> Vec<Log> {
    let mut after: Option<LogCursor> = None;
    let mut logs = Vec::new();
    loop {
        let page = store.trace_logs(trace_id, after, 3).await.unwrap();
        logs.extend(page.logs.into_iter().map(|(_, log)| log));
        match page.next {
            Some(next) => after = Some(next),
            None => return logs,
        }
    }
}

/// Everything a user reads back: every list, whole and a window at a time, and the
/// records of a few traces.
async fn everything_read(store: &Store) -> Vec<Vec<Log>> {
    everything_read_as(store, None).await
}

/// Asserts that `store` reads what `expected` says, naming the first list that differs.
async fn reads_the_same(store: &Store, expected: &[Vec<Log>], what: &str) {
    let read = everything_read(store).await;
    for (i, (got, want)) in read.iter().zip(expected).enumerate() {
        if got != want {
            let first = got.iter().zip(want).position(|(a, b)| a != b);
            panic!(
                "{what}: list {i} ({:?}) read {} records where {} were expected; first difference at {first:?}: {:?} / {:?}",
                every_list().get(i),
                got.len(),
                want.len(),
                first
                    .and_then(|f| got.get(f))
                    .map(|l| (&l.body, l.time_unix_nano)),
                first
                    .and_then(|f| want.get(f))
                    .map(|l| (&l.body, l.time_unix_nano)),
            );
        }
    }
}

async fn everything_read_as(store: &Store, _unused: Option<()>) -> Vec<Vec<Log>> {
    let mut read = Vec::new();
    for query in every_list() {
        let whole = all_pages(store, &query, None).await;
        let bounded = all_pages(store, &query, Some(1)).await;
        assert_eq!(whole, bounded, "{query:?}: a window at a time");
        read.push(whole);
    }
    for t in [1, 7, 50] {
        read.push(trace_pages(store, &trace(t)).await);
    }
    read
}

#[tokio::test]
async fn log_lists_and_a_traces_records_read_the_same_whichever_tier_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    for start in (0..6_000).step_by(1_000) {
        many_logs(&store, start..start + 1_000).await;
    }
    let before = everything_read(&store).await;
    assert_eq!(before[0].len(), 6_000);
    assert!(
        before
            .iter()
            .all(|list| list.len() < 6_000 || list == &before[0])
    );
    assert!(before[9].len() > 10, "text finds some");
    assert!(before[11].is_empty(), "and none");
    assert_eq!(before[14].len(), 60, "trace 1's records");

    // The older half (records before time 31,000) goes to the archive...
    let half = store
        .archive_logs_before(now_ms(), 31_000, 100)
        .await
        .unwrap();
    assert_eq!((half.blocks, half.spans), (1, 3_000));
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 3_000);
    reads_the_same(&store, &before, "half archived").await;
    let stats = store.holdings().await.unwrap();
    assert_eq!(stats.logs, 3_000, "the hot tier");
    let archive = stats.archive.expect("archive stats");
    assert_eq!((archive.records, archive.spans), (3_000, 0));
    assert!(
        archive.bytes < 3_000 * 60,
        "{} bytes a record",
        archive.bytes / 3_000
    );

    // ... then the rest, a block of a few records at a time; a new store over the same
    // files (nothing cached) reads the same.
    store
        .archive_logs_before(now_ms(), 41_000, 100)
        .await
        .unwrap();
    store
        .archive_logs_before(now_ms(), u64::MAX, 100)
        .await
        .unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 3);
    reads_the_same(&store, &before, "all archived").await;
    let reopened = archived(&path, directory(&path));
    reads_the_same(&reopened, &before, "reopened").await;
    assert_eq!(reopened.holdings().await.unwrap().logs, 0);

    // Records sent late with old times stay hot and join the lists in their place.
    many_logs_at(&store, 6_000..6_010, |i| 1_005 + (i - 6_000) * 1_000).await;
    let with_late = all_pages(&store, &every_list()[0], Some(1)).await;
    assert_eq!(with_late.len(), 6_010);
    assert!(
        with_late
            .windows(2)
            .all(|w| w[0].time_unix_nano >= w[1].time_unix_nano),
        "newest first"
    );
    let late: Vec<&Log> = with_late
        .iter()
        .filter(|l| l.time_unix_nano % 10 == 5)
        .collect();
    assert_eq!(late.len(), 10);
    assert_eq!(late[0].time_unix_nano, 10_005);
}

#[tokio::test]
async fn a_filtered_log_list_reads_only_the_blocks_its_filter_allows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    for start in (0..4_000).step_by(1_000) {
        many_logs(&store, start..start + 1_000).await;
        let cutoff = 1_000 + (start + 1_000) * 10;
        store
            .archive_logs_before(now_ms(), cutoff, 10)
            .await
            .unwrap();
    }
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 4);
    // Only the first block holds "needle number 970"; a one-block-a-request walk finds it
    // without stopping at the three newer blocks the filter rules out.
    let query = LogQuery {
        limit: 10,
        text: Some("needle number 970".into()),
        ..LogQuery::default()
    };
    let page = store.logs(&query, Some(1)).await.unwrap();
    assert_eq!(page.logs.len(), 1, "{:?}", page.next);
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn retention_and_deleting_a_trace_reach_archived_log_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let objects = directory(&path);
    let store = archived(&path, objects.clone());
    many_logs(&store, 0..2_000).await;
    // Two blocks: times before 11,000, then the rest.
    store
        .archive_logs_before(now_ms(), 11_000, 10)
        .await
        .unwrap();
    store
        .archive_logs_before(now_ms(), u64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 2);

    // Deleting a trace hides its archived records.
    let before = trace_pages(&store, &trace(3)).await;
    assert!(!before.is_empty());
    store.delete_trace(&trace(3)).await.unwrap();
    assert!(trace_pages(&store, &trace(3)).await.is_empty());
    let listed = all_pages(
        &store,
        &LogQuery {
            limit: 100,
            ..LogQuery::default()
        },
        None,
    )
    .await;
    assert_eq!(listed.len(), 2_000 - before.len());

    // Retention at time 15,000 drops only the block whose every record is older.
    let pruned = store.prune(15_000, 1_000).await.unwrap();
    assert_eq!(pruned.logs, 1_000);
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 1);
    assert_eq!(
        objects
            .list("blocks/", None, 10)
            .await
            .unwrap()
            .objects
            .len(),
        1
    );
    let stats = store.holdings().await.unwrap();
    assert_eq!(stats.archive.expect("archive").records, 1_000);
}

#[tokio::test]
async fn a_log_compaction_stopped_at_any_step_loses_and_doubles_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::archive_tests::FlakyWrites;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let objects = directory(&path);
    let flaky = Arc::new(FlakyWrites {
        inner: objects.clone(),
        failing: AtomicU32::new(0),
    });
    let store = archived(&path, flaky.clone());
    many_logs(&store, 0..1_000).await;
    let everything = LogQuery {
        limit: 100,
        ..LogQuery::default()
    };
    let before = all_pages(&store, &everything, None).await;
    let now = now_ms();

    // Stopped after the object was written, before the commit: an orphan nobody reads.
    let pending = store
        .prepare_log_block(now, u64::MAX)
        .await
        .unwrap()
        .unwrap();
    flaky
        .put(&pending.key, pending.bytes.clone())
        .await
        .unwrap();
    let orphan = pending.key.clone();
    drop(pending);
    assert_eq!(all_pages(&store, &everything, None).await, before);
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);
    // The lease keeps other compactors out until it expires.
    assert!(
        store
            .archive_logs_step(now, u64::MAX)
            .await
            .unwrap()
            .is_none()
    );

    // The object store fails: nothing changes, the failure is counted, the rows stay.
    let later = now + 61_000;
    flaky.failing.store(1, Ordering::SeqCst);
    assert!(store.archive_logs_step(later, u64::MAX).await.is_err());
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 1_000);
    let stats = store.holdings().await.unwrap();
    assert_eq!(stats.archive.unwrap().failed_writes, 1);
    assert_eq!(all_pages(&store, &everything, None).await, before);

    // A record with a time inside the block's range arrives between the build and the
    // commit: the commit changes nothing, and the next step takes it too.
    let pending = store
        .prepare_log_block(later, u64::MAX)
        .await
        .unwrap()
        .unwrap();
    flaky
        .put(&pending.key, pending.bytes.clone())
        .await
        .unwrap();
    many_logs_at(&store, 5_000..5_001, |_| 1_505).await;
    assert!(store.commit_log_block(pending).await.is_err());
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 1_001);

    // The next step archives everything, once.
    let done = store
        .archive_logs_before(later + 61_000, u64::MAX, 10)
        .await
        .unwrap();
    assert_eq!((done.blocks, done.spans), (1, 1_001));
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 0);
    let after = all_pages(&store, &everything, None).await;
    assert_eq!(after.len(), 1_001);
    assert!(after.iter().any(|l| l.time_unix_nano == 1_505));
    let stats = store.holdings().await.unwrap();
    assert_eq!((stats.logs, stats.archive.unwrap().records), (0, 1_001));

    // The orphans (written before the stop, and refused at the commit) are deleted; the
    // block in use is not.
    assert!(objects.get_suffix(&orphan, 8).await.unwrap().is_some());
    assert_eq!(store.delete_orphans().await.unwrap(), 2);
    assert!(objects.get_suffix(&orphan, 8).await.unwrap().is_none());
    assert_eq!(all_pages(&store, &everything, None).await.len(), 1_001);
}

#[tokio::test]
async fn a_list_over_more_blocks_than_one_query_lists_reads_them_all_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = archived(&path, directory(&path));
    // 150 blocks of 20 records each.
    for block in 0..150u64 {
        let range = block * 20..block * 20 + 20;
        many_logs(&store, range.clone()).await;
        let cutoff = 1_000 + range.end * 10;
        store
            .archive_logs_before(now_ms(), cutoff, 1)
            .await
            .unwrap();
    }
    assert_eq!(count(&path, "SELECT count(*) FROM archive_blocks"), 150);
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 0);
    let plain = LogQuery {
        limit: 37,
        ..LogQuery::default()
    };
    let all = all_pages(&store, &plain, None).await;
    assert_eq!(all.len(), 3_000);
    assert!(
        all.windows(2)
            .all(|w| w[0].time_unix_nano > w[1].time_unix_nano)
    );
    assert_eq!(all_pages(&store, &plain, Some(1)).await, all);
    let needles = LogQuery {
        limit: 5,
        text: Some("needle".into()),
        ..LogQuery::default()
    };
    let found = all_pages(&store, &needles, None).await;
    assert_eq!(found.len(), 31, "every 97th record");
    assert_eq!(all_pages(&store, &needles, Some(1)).await, found);

    // A search that matches nothing tests at most 48 filters a request, then says where
    // to go on: four requests for 150 blocks, and nothing found.
    let mut nothing = LogQuery {
        limit: 10,
        text: Some("nothing like this".into()),
        ..LogQuery::default()
    };
    let mut requests = 0;
    loop {
        let page = store.logs(&nothing, Some(1)).await.unwrap();
        requests += 1;
        assert!(page.logs.is_empty());
        match page.next {
            Some(next) => nothing.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(requests, 4);
}

/// Records wait past the cutoff for a full block as spans do, five minutes at most.
#[tokio::test]
async fn records_past_the_cutoff_wait_for_a_full_block_then_go_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = Store::new(std::sync::Arc::new(
        super::SqliteDatabase::open(&path).unwrap(),
    ))
    .with_archive(std::sync::Arc::new(
        otel_worker_core::archive::Archive::new(directory(&path))
            .with_limits(otel_worker_core::archive::Limits {
                block_spans: 40,
                ..Default::default()
            })
            .waiting_for_full_blocks(std::time::Duration::from_secs(3_600)),
    ));
    let second = 1_000_000_000u64;
    let base = 1_000 * second;
    many_logs_at(&store, 0..100, |i| base + i * second).await;
    let expected = everything_read(&store).await;
    let cutoff = base + 200 * second;
    let done = store
        .archive_logs_before(now_ms(), cutoff, 10)
        .await
        .unwrap();
    assert_eq!((done.blocks, done.spans), (2, 80));
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 20);

    let done = store
        .archive_logs_before(now_ms(), base + 379 * second, 10)
        .await
        .unwrap();
    assert_eq!(
        done.blocks, 0,
        "the oldest left is 80 s old: 299 s past the cutoff"
    );
    let done = store
        .archive_logs_before(now_ms(), base + 381 * second, 10)
        .await
        .unwrap();
    assert_eq!((done.blocks, done.spans), (1, 20));
    assert_eq!(count(&path, "SELECT count(*) FROM logs"), 0);
    reads_the_same(&store, &expected, "after the blocks, full and short").await;
}
