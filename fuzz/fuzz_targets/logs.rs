//! Log exports through either decoder and the record-to-rows conversion: every record is
//! either stored or counted as rejected, and each stored one has a valid body, well-formed
//! ids and its resource in the batch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otel_worker_core::ingest::{Encoding, Export, decode_export, to_log_rows};
use otel_worker_core::store::logs::LogBody;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

fuzz_target!(|body: &[u8]| {
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let Ok(request) = decode_export::<ExportLogsServiceRequest>(encoding, body) else {
            continue;
        };
        let total = request.items();
        let rows = to_log_rows(request, Some(64 * 1024));
        assert_eq!(rows.batch.logs.len() as u64 + rows.rejected, total as u64);
        for log in &rows.batch.logs {
            assert!(
                rows.batch.resources.iter().any(|r| r.id == log.resource_id),
                "every record's resource is written"
            );
            let stored: LogBody = serde_json::from_str(&log.body).expect("the body reads back");
            let shape = log
                .shape_id
                .and_then(|id| rows.batch.shapes.iter().find(|s| s.id == id));
            assert_eq!(shape.is_some(), log.shape_id.is_some(), "its key set is written");
            let keys = shape.map_or(0, |s| {
                serde_json::from_str::<Vec<String>>(&s.keys).expect("keys").len()
            });
            assert_eq!(keys, stored.values.len(), "a value per key");
            if stored.body_is_json {
                let message = log.message.as_deref().expect("a JSON body has its text");
                // Empty: a record without a body (it reads back as none).
                if !message.is_empty() {
                    serde_json::from_str::<serde_json::Value>(message).expect("the value parses");
                }
            }
            assert!(log.trace_id.as_ref().is_none_or(|id| id.len() == 32));
            assert!(log.span_id.as_ref().is_none_or(|id| id.len() == 16));
        }
    }
});
