//! Request-to-rows conversion on everything either decoder accepts: every span is either
//! stored or counted as rejected, each stored span reads back as valid JSON with its ids,
//! and its resource and attribute shape are in the batch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otel_worker_core::ingest::{Encoding, Export, decode, to_rows};
use otel_worker_core::store::SpanRow;

fuzz_target!(|body: &[u8]| {
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let Ok(request) = decode(encoding, body) else {
            continue;
        };
        let total = request.items();
        let rows = to_rows(request, Some(64 * 1024));
        assert_eq!(rows.batch.spans.len() as u64 + rows.rejected, total as u64);
        for row in &rows.batch.spans {
            let resource = rows
                .batch
                .resources
                .iter()
                .find(|r| r.id == row.resource_id);
            assert!(resource.is_some(), "every span's resource is written");
            let shape = row
                .shape_id
                .and_then(|id| rows.batch.shapes.iter().find(|s| s.id == id));
            assert_eq!(
                shape.is_some(),
                row.shape_id.is_some(),
                "every span's attribute shape is written"
            );
            let json = SpanRow::from_record(row, resource, shape)
                .into_json()
                .expect("stored span reads back");
            let span: serde_json::Value =
                serde_json::from_str(json.get()).expect("stored JSON parses");
            assert_eq!(span["traceId"], row.trace_id.as_str());
            assert_eq!(span["spanId"], row.span_id.as_str());
            assert_eq!(row.trace_id.len(), 32);
            assert_eq!(row.span_id.len(), 16);
        }
    }
});
