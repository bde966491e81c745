//! Metrics are not stored yet. An SDK exports them by default, and a `404` would make it
//! warn on every export; so an export is accepted, every data point is rejected in an
//! OTLP partial success, and its message says how to turn the exporter off.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::{Export, ExportReply, Signal, json};

/// What a metrics export carries, as far as this server reads it: how many data points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsExport {
    pub data_points: u64,
}

impl MetricsExport {
    /// Counts the data points of a decoded request (as gRPC hands it over).
    pub fn of(request: &ExportMetricsServiceRequest) -> Self {
        let data_points = request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
                None => 0,
            } as u64)
            .sum();
        Self { data_points }
    }
}

impl Export for MetricsExport {
    const SIGNAL: Signal = Signal::Metrics;
    fn from_protobuf(body: &[u8]) -> Result<Self, prost::DecodeError> {
        let request: ExportMetricsServiceRequest = prost::Message::decode(body)?;
        Ok(Self::of(&request))
    }
    fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        json::metrics::count_data_points(body).map(|data_points| Self { data_points })
    }
}

/// The environment variable that turns an SDK's metrics exporter off.
pub const EXPORTER_OFF: &str = "OTEL_METRICS_EXPORTER=none";

/// The answer to a metrics export: every data point rejected, and why.
pub fn refuse(export: MetricsExport) -> ExportReply {
    ExportReply {
        rejected: export.data_points,
        error_message: (export.data_points > 0).then(|| {
            format!(
                "otel-worker does not store metrics yet: {} data points were dropped; set \
                 {EXPORTER_OFF} in the application's environment to stop sending them",
                export.data_points
            )
        }),
    }
}
