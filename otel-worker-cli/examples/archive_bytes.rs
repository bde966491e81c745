//! Measures what the archive's block format makes of stored spans: reads every span of a
//! local database (as `dev` stored them), builds blocks of up to 65,536 spans in arrival
//! order as compaction will, and prints the bytes per span, beside what the same spans
//! take in SQLite, and the time to encode and decode them.
//!
//! cargo run --release -p otel-worker-cli --example archive_bytes -- <database path>

use std::time::Instant;

use otel_worker_core::archive::block;
use otel_worker_core::store::{ResourceRecord, ShapeRecord, SpanRecord};
use rusqlite::{Connection, OpenFlags};

/// Spans per block, as the design sets it (docs/architecture.md, "The archive tier").
const BLOCK_SPANS: usize = 65_536;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: archive_bytes <database path>"))?;
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let resources: Vec<ResourceRecord> = conn
        .prepare("SELECT resource, scope, service_name FROM resources")?
        .query_map([], |r| {
            Ok(ResourceRecord::new(r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let shapes: Vec<ShapeRecord> = conn
        .prepare("SELECT shape_id, keys FROM attribute_shapes")?
        .query_map([], |r| {
            Ok(ShapeRecord {
                id: r.get(0)?,
                keys: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let spans: Vec<SpanRecord> = conn
        .prepare(
            "SELECT lower(hex(s.trace_id)), lower(hex(s.span_id)), nullif(lower(hex(s.parent_span_id)), ''),
                    s.name, s.kind, r.service_name, s.status_code, CAST(s.start_ns AS TEXT),
                    CAST(s.end_ns AS TEXT), s.resource_id, s.shape_id, s.body
             FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id ORDER BY s.span_row",
        )?
        .query_map([], |r| {
            Ok(SpanRecord {
                trace_id: r.get(0)?,
                span_id: r.get(1)?,
                parent_span_id: r.get(2)?,
                name: r.get(3)?,
                kind: r.get(4)?,
                service_name: r.get(5)?,
                status_code: r.get(6)?,
                start_ns: r.get::<_, String>(7)?.parse().unwrap_or(0),
                end_ns: r.get::<_, String>(8)?.parse().unwrap_or(0),
                resource_id: r.get(9)?,
                shape_id: r.get(10)?,
                body: r.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!spans.is_empty(), "no spans in {path}");
    // The page size times the pages of the database, for comparison (the file's bytes
    // per span, search blocks and all).
    let sqlite_bytes: i64 = conn.query_row(
        "SELECT page_size * page_count FROM pragma_page_size, pragma_page_count",
        [],
        |r| r.get(0),
    )?;

    let (mut bytes, mut encode_s, mut decode_s, mut blocks) = (0usize, 0f64, 0f64, 0);
    for chunk in spans.chunks(BLOCK_SPANS) {
        let started = Instant::now();
        let encoded = block::encode(chunk.to_vec(), &resources, &shapes)?;
        encode_s += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let decoded = block::decode(&encoded)?;
        decode_s += started.elapsed().as_secs_f64();
        anyhow::ensure!(decoded.spans.len() == chunk.len(), "a block lost spans");
        bytes += encoded.len();
        blocks += 1;
    }
    let n = spans.len() as f64;
    println!(
        "{} spans in {blocks} blocks: {bytes} bytes, {:.1} bytes per span (the SQLite database: \
         {:.1}); encode {:.1} ms and decode {:.1} ms per 10,000 spans",
        spans.len(),
        bytes as f64 / n,
        sqlite_bytes as f64 / n,
        encode_s * 1e3 / n * 1e4,
        decode_s * 1e3 / n * 1e4,
    );
    Ok(())
}
