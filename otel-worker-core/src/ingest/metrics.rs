//! Metrics are not stored yet. An SDK exports them by default, and a `404` would make it
//! warn on every export; so an export is accepted, every data point is rejected in an
//! OTLP partial success, and its message says how to turn the exporter off.

use super::{Export, ExportReply, Signal, json};

/// What a metrics export carries, as far as this server reads it: how many data points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsExport {
    pub data_points: u64,
}

#[cfg(feature = "grpc")]
impl MetricsExport {
    /// Counts the data points of a decoded request (as gRPC hands it over).
    pub fn of(
        request: &opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
    ) -> Self {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
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
        let request: counted::Request = prost::Message::decode(body)?;
        Ok(Self {
            data_points: request.data_points(),
        })
    }
    fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        json::metrics::count_data_points(body).map(|data_points| Self { data_points })
    }
}

/// `ExportMetricsServiceRequest` down to its data points, which are kept as bytes: the
/// request's structure is checked and its points counted without decoding every metric
/// type (which would add tens of kilobytes to the Worker for answers that store nothing).
/// Field numbers as in `opentelemetry/proto/metrics/v1/metrics.proto`.
mod counted {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        #[prost(message, repeated, tag = "1")]
        pub resource_metrics: Vec<ResourceMetrics>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceMetrics {
        #[prost(message, repeated, tag = "2")]
        pub scope_metrics: Vec<ScopeMetrics>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeMetrics {
        #[prost(message, repeated, tag = "2")]
        pub metrics: Vec<Metric>,
    }

    /// A metric's five data kinds (a oneof in the proto; at most one is set).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, optional, tag = "5")]
        pub gauge: Option<Points>,
        #[prost(message, optional, tag = "7")]
        pub sum: Option<Points>,
        #[prost(message, optional, tag = "9")]
        pub histogram: Option<Points>,
        #[prost(message, optional, tag = "10")]
        pub exponential_histogram: Option<Points>,
        #[prost(message, optional, tag = "11")]
        pub summary: Option<Points>,
    }

    /// Every data kind keeps its points in field 1.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Points {
        #[prost(bytes = "vec", repeated, tag = "1")]
        pub data_points: Vec<Vec<u8>>,
    }

    impl Request {
        pub fn data_points(&self) -> u64 {
            self.resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .flat_map(|m| {
                    [
                        &m.gauge,
                        &m.sum,
                        &m.histogram,
                        &m.exponential_histogram,
                        &m.summary,
                    ]
                })
                .flatten()
                .map(|points| points.data_points.len() as u64)
                .sum()
        }
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

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, Gauge, Histogram, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, Sum, Summary, metric::Data,
    };
    use prost::Message;

    use super::{Export, MetricsExport};

    #[test]
    fn the_points_of_every_metric_type_are_counted_from_protobuf() {
        let metric = |data| Metric {
            name: "m".into(),
            data: Some(data),
            ..Default::default()
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        metric(Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint::default(); 2],
                        })),
                        metric(Data::Sum(Sum {
                            data_points: vec![NumberDataPoint::default(); 3],
                            ..Default::default()
                        })),
                        metric(Data::Histogram(Histogram {
                            data_points: vec![Default::default(); 1],
                            ..Default::default()
                        })),
                        metric(Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![Default::default(); 4],
                            ..Default::default()
                        })),
                        metric(Data::Summary(Summary {
                            data_points: vec![Default::default(); 5],
                        })),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let counted = MetricsExport::from_protobuf(&request.encode_to_vec()).unwrap();
        assert_eq!(counted.data_points, 15);
        assert!(MetricsExport::from_protobuf(&[0x0a, 0x05, 0x12]).is_err());
    }
}
