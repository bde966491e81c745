//! The hot paths of ingest and reads, on the same synthetic spans `generate` sends
//! (100 spans per request in traces of 10, 10 attributes each).
//!
//! cargo bench -p otel-worker-cli --bench hot_paths
//!
//! The trace-list benchmark reads a database of 1,000,000 spans / 100,000 traces, built
//! on first use under `target/bench-data/` (about a minute) and reused afterwards.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use otel_worker_cli::generate::{Shape, Template};
use otel_worker_cli::store::SqliteDatabase;
use otel_worker_core::ingest::{self, Encoding, Signal, to_rows};
use otel_worker_core::store::{Store, TraceListQuery};
use rand::SeedableRng;

const SHAPE: Shape = Shape {
    traces: 10,
    spans_per_trace: 10,
    attributes: 10,
};

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn body(encoding: Encoding, rng: &mut rand::rngs::StdRng) -> Vec<u8> {
    let template = Template::new(SHAPE, Signal::Traces, encoding, rng).expect("template");
    let mut body = Vec::new();
    template.render(rng, now_ns(), &mut body);
    body
}

fn decoding(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let protobuf = body(Encoding::Protobuf, &mut rng);
    let json = body(Encoding::Json, &mut rng);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(100));
    group.bench_function("decode protobuf (100 spans)", |b| {
        b.iter(|| ingest::decode(Encoding::Protobuf, &protobuf).expect("decodes"))
    });
    group.bench_function("decode OTLP/JSON (100 spans)", |b| {
        b.iter(|| ingest::decode(Encoding::Json, &json).expect("decodes"))
    });
    let request = ingest::decode(Encoding::Protobuf, &protobuf).expect("decodes");
    group.bench_function("request to rows (100 spans)", |b| {
        b.iter_batched(
            || request.clone(),
            |request| to_rows(request, None),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn template() -> (Template, rand::rngs::StdRng) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let template =
        Template::new(SHAPE, Signal::Traces, Encoding::Protobuf, &mut rng).expect("template");
    (template, rng)
}

fn rows(template: &Template, rng: &mut rand::rngs::StdRng) -> otel_worker_core::store::Batch {
    let mut body = Vec::new();
    template.render(rng, now_ns(), &mut body);
    to_rows(
        ingest::decode(Encoding::Protobuf, &body).expect("decodes"),
        None,
    )
    .batch
}

fn sqlite_insert(c: &mut Criterion) {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("insert.db"));
    let (template, mut rng) = template();
    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(100));
    group.bench_function("insert one export (100 spans, committed)", |b| {
        b.iter_batched(
            || rows(&template, &mut rng),
            |batch| runtime.block_on(store.insert(batch)).expect("insert"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A database of 1,000,000 spans in 100,000 traces, built once.
fn open(path: &std::path::Path) -> Store {
    Store::new(std::sync::Arc::new(
        SqliteDatabase::open(path).expect("open the database"),
    ))
}

fn million_span_store(runtime: &tokio::runtime::Runtime) -> Store {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    let path = dir.join("list-1m-v6.db");
    let done = dir.join("list-1m-v6.done");
    if !done.exists() {
        let _ = std::fs::remove_file(&path);
        let store = open(&path);
        let (template, mut rng) = template();
        runtime.block_on(async {
            for _ in 0..10_000 {
                store
                    .insert(rows(&template, &mut rng))
                    .await
                    .expect("insert");
            }
        });
        std::fs::write(&done, "1,000,000 spans\n").expect("marker");
    }
    open(&path)
}

fn list_at_a_million(c: &mut Criterion) {
    let runtime = runtime();
    let store = million_span_store(&runtime);
    let first = runtime
        .block_on(store.recent_traces(&TraceListQuery {
            limit: 20,
            ..TraceListQuery::default()
        }))
        .expect("list");
    let trace_id = first[10].trace_id.clone();
    let mut group = c.benchmark_group("reads at 1M spans");
    group.bench_function("list 20 newest traces", |b| {
        b.iter(|| {
            runtime
                .block_on(store.recent_traces(&TraceListQuery {
                    limit: 20,
                    ..TraceListQuery::default()
                }))
                .expect("list")
        })
    });
    group.bench_function("one trace (10 spans)", |b| {
        b.iter(|| {
            runtime
                .block_on(store.trace_spans(&trace_id, None, 1_000))
                .expect("trace")
        })
    });
    group.finish();
}

criterion_group!(benches, decoding, sqlite_insert, list_at_a_million);
criterion_main!(benches);
