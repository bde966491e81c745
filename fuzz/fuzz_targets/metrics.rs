//! Metric exports through either decoder, the point-to-rows conversion and the step folding:
//! every point is either stored or counted as rejected, each stored one belongs to a
//! series of the batch whose resource is written, its body is a JSON object, and folding a
//! series' points into steps never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use otel_worker_core::ingest::metrics::to_metric_rows;
use otel_worker_core::ingest::{Encoding, Export, decode_export};
use otel_worker_core::steps::{SeriesKind, fold};
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let Ok(request) = decode_export::<ExportMetricsServiceRequest>(encoding, body) else {
            continue;
        };
        let total = request.items();
        let rows = to_metric_rows(request, Some(64 * 1024));
        let batch = &rows.batch;
        assert_eq!(batch.points.len() as u64 + rows.rejected, total as u64);
        for series in &batch.series {
            assert!(
                batch.resources.iter().any(|r| r.id == series.resource_id),
                "every series' resource is written"
            );
            let attributes: Value = serde_json::from_str(&series.attributes).expect("attributes");
            assert!(attributes.is_object());
            let mut points: Vec<Value> = batch
                .points
                .iter()
                .filter(|p| p.series_id == series.id)
                .map(|p| {
                    let mut point: Value = serde_json::from_str(&p.body).expect("the body reads back");
                    assert!(point.is_object());
                    point["timeUnixNano"] = p.time_ns.to_string().into();
                    point
                })
                .collect();
            points.sort_by_key(|p| p["timeUnixNano"].as_str().and_then(|t| t.parse::<u64>().ok()));
            let kind = SeriesKind {
                kind: series.kind,
                temporality: i64::from(series.temporality),
                monotonic: series.monotonic,
            };
            for step in [1_000_000, 60_000_000_000] {
                let steps = fold(kind, &points, step);
                assert!(steps.len() <= points.len());
            }
        }
        for point in &batch.points {
            assert!(batch.series.iter().any(|s| s.id == point.series_id), "its series is written");
        }
    }
});
