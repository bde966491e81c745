//! OTLP/JSON `ExportMetricsServiceRequest`, with the same leniencies as traces: camelCase
//! or snake_case names, 64-bit integers as numbers or strings, doubles as numbers or as
//! `"NaN"`/`"Infinity"`, enums as numbers or names, `null` for anything not set.

use opentelemetry_proto::tonic::collector::metrics::v1 as collector;
use opentelemetry_proto::tonic::metrics::v1 as metrics;
use serde::{Deserialize, Deserializer};

use super::{
    KeyValue, Resource, Scope, enum_value, hex_id, key_values, lenient_f64_opt, lenient_i64_opt,
    lenient_u32, lenient_u64, nullable, object,
};

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode(body: &[u8]) -> Result<collector::ExportMetricsServiceRequest, serde_json::Error> {
    let request: ExportRequest = object(body)?;
    Ok(collector::ExportMetricsServiceRequest {
        resource_metrics: request
            .resource_metrics
            .into_iter()
            .map(|r| metrics::ResourceMetrics {
                resource: r.resource.map(Into::into),
                scope_metrics: r
                    .scope_metrics
                    .into_iter()
                    .map(|s| metrics::ScopeMetrics {
                        scope: s.scope.map(Into::into),
                        metrics: s.metrics.into_iter().map(Into::into).collect(),
                        schema_url: s.schema_url,
                    })
                    .collect(),
                schema_url: r.schema_url,
            })
            .collect(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ExportRequest {
    #[serde(alias = "resource_metrics", deserialize_with = "nullable")]
    resource_metrics: Vec<ResourceMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ResourceMetrics {
    #[serde(deserialize_with = "nullable")]
    resource: Option<Resource>,
    #[serde(alias = "scope_metrics", deserialize_with = "nullable")]
    scope_metrics: Vec<ScopeMetrics>,
    #[serde(alias = "schema_url", deserialize_with = "nullable")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ScopeMetrics {
    #[serde(deserialize_with = "nullable")]
    scope: Option<Scope>,
    #[serde(deserialize_with = "nullable")]
    metrics: Vec<Metric>,
    #[serde(alias = "schema_url", deserialize_with = "nullable")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Metric {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    description: String,
    #[serde(deserialize_with = "nullable")]
    unit: String,
    #[serde(deserialize_with = "nullable")]
    gauge: Option<Numbers>,
    #[serde(deserialize_with = "nullable")]
    sum: Option<Numbers>,
    #[serde(deserialize_with = "nullable")]
    histogram: Option<Histograms>,
    #[serde(alias = "exponential_histogram", deserialize_with = "nullable")]
    exponential_histogram: Option<ExponentialHistograms>,
    #[serde(deserialize_with = "nullable")]
    summary: Option<Summaries>,
    #[serde(deserialize_with = "nullable")]
    metadata: Vec<KeyValue>,
}

/// A gauge's or a sum's points (a gauge has neither temporality nor monotonicity).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Numbers {
    #[serde(alias = "data_points", deserialize_with = "nullable")]
    data_points: Vec<NumberPoint>,
    #[serde(alias = "aggregation_temporality", deserialize_with = "temporality")]
    aggregation_temporality: i32,
    #[serde(alias = "is_monotonic", deserialize_with = "nullable")]
    is_monotonic: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Histograms {
    #[serde(alias = "data_points", deserialize_with = "nullable")]
    data_points: Vec<HistogramPoint>,
    #[serde(alias = "aggregation_temporality", deserialize_with = "temporality")]
    aggregation_temporality: i32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ExponentialHistograms {
    #[serde(alias = "data_points", deserialize_with = "nullable")]
    data_points: Vec<ExponentialPoint>,
    #[serde(alias = "aggregation_temporality", deserialize_with = "temporality")]
    aggregation_temporality: i32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Summaries {
    #[serde(alias = "data_points", deserialize_with = "nullable")]
    data_points: Vec<SummaryPoint>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct NumberPoint {
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "lenient_u64")]
    start_time_unix_nano: u64,
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(alias = "as_double", deserialize_with = "lenient_f64_opt")]
    as_double: Option<f64>,
    #[serde(alias = "as_int", deserialize_with = "lenient_i64_opt")]
    as_int: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    exemplars: Vec<Exemplar>,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct HistogramPoint {
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "lenient_u64")]
    start_time_unix_nano: u64,
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "lenient_u64")]
    count: u64,
    #[serde(deserialize_with = "lenient_f64_opt")]
    sum: Option<f64>,
    #[serde(alias = "bucket_counts", deserialize_with = "lenient_u64s")]
    bucket_counts: Vec<u64>,
    #[serde(alias = "explicit_bounds", deserialize_with = "lenient_f64s")]
    explicit_bounds: Vec<f64>,
    #[serde(deserialize_with = "nullable")]
    exemplars: Vec<Exemplar>,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
    #[serde(deserialize_with = "lenient_f64_opt")]
    min: Option<f64>,
    #[serde(deserialize_with = "lenient_f64_opt")]
    max: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ExponentialPoint {
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "lenient_u64")]
    start_time_unix_nano: u64,
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "lenient_u64")]
    count: u64,
    #[serde(deserialize_with = "lenient_f64_opt")]
    sum: Option<f64>,
    #[serde(deserialize_with = "lenient_i64_opt")]
    scale: Option<i64>,
    #[serde(alias = "zero_count", deserialize_with = "lenient_u64")]
    zero_count: u64,
    #[serde(deserialize_with = "nullable")]
    positive: Option<Buckets>,
    #[serde(deserialize_with = "nullable")]
    negative: Option<Buckets>,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
    #[serde(deserialize_with = "nullable")]
    exemplars: Vec<Exemplar>,
    #[serde(deserialize_with = "lenient_f64_opt")]
    min: Option<f64>,
    #[serde(deserialize_with = "lenient_f64_opt")]
    max: Option<f64>,
    #[serde(alias = "zero_threshold", deserialize_with = "lenient_f64_opt")]
    zero_threshold: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Buckets {
    #[serde(deserialize_with = "lenient_i64_opt")]
    offset: Option<i64>,
    #[serde(alias = "bucket_counts", deserialize_with = "lenient_u64s")]
    bucket_counts: Vec<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SummaryPoint {
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "lenient_u64")]
    start_time_unix_nano: u64,
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "lenient_u64")]
    count: u64,
    #[serde(deserialize_with = "lenient_f64_opt")]
    sum: Option<f64>,
    #[serde(alias = "quantile_values", deserialize_with = "nullable")]
    quantile_values: Vec<Quantile>,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Quantile {
    #[serde(deserialize_with = "lenient_f64_opt")]
    quantile: Option<f64>,
    #[serde(deserialize_with = "lenient_f64_opt")]
    value: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Exemplar {
    #[serde(alias = "filtered_attributes", deserialize_with = "nullable")]
    filtered_attributes: Vec<KeyValue>,
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(alias = "as_double", deserialize_with = "lenient_f64_opt")]
    as_double: Option<f64>,
    #[serde(alias = "as_int", deserialize_with = "lenient_i64_opt")]
    as_int: Option<i64>,
    #[serde(alias = "span_id", deserialize_with = "hex_id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_id", deserialize_with = "hex_id")]
    trace_id: Vec<u8>,
}

/// `AggregationTemporality` as a number or a name.
fn temporality<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    const NAMES: &[&str] = &["UNSPECIFIED", "DELTA", "CUMULATIVE"];
    enum_value(d, "AGGREGATION_TEMPORALITY_", NAMES)
}

/// A list of 64-bit counts, each a number or a string; `null` is an empty list.
fn lenient_u64s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Count(#[serde(deserialize_with = "lenient_u64")] u64);
    Ok(Option::<Vec<Count>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|Count(n)| n)
        .collect())
}

/// A list of doubles, each as [`lenient_f64_opt`] reads it; `null` is an empty list.
fn lenient_f64s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    struct Double(#[serde(deserialize_with = "lenient_f64_opt")] Option<f64>);
    Ok(Option::<Vec<Double>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|Double(v)| v.unwrap_or(f64::NAN))
        .collect())
}

fn number_value(
    as_double: Option<f64>,
    as_int: Option<i64>,
) -> Option<metrics::number_data_point::Value> {
    use metrics::number_data_point::Value;
    match (as_int, as_double) {
        (Some(i), _) => Some(Value::AsInt(i)),
        (None, Some(d)) => Some(Value::AsDouble(d)),
        (None, None) => None,
    }
}

fn exemplars(list: Vec<Exemplar>) -> Vec<metrics::Exemplar> {
    use metrics::exemplar::Value;
    list.into_iter()
        .map(|e| metrics::Exemplar {
            filtered_attributes: key_values(e.filtered_attributes),
            time_unix_nano: e.time_unix_nano,
            span_id: e.span_id,
            trace_id: e.trace_id,
            value: match (e.as_int, e.as_double) {
                (Some(i), _) => Some(Value::AsInt(i)),
                (None, Some(d)) => Some(Value::AsDouble(d)),
                (None, None) => None,
            },
        })
        .collect()
}

fn number_points(points: Vec<NumberPoint>) -> Vec<metrics::NumberDataPoint> {
    points
        .into_iter()
        .map(|p| metrics::NumberDataPoint {
            attributes: key_values(p.attributes),
            start_time_unix_nano: p.start_time_unix_nano,
            time_unix_nano: p.time_unix_nano,
            exemplars: exemplars(p.exemplars),
            flags: p.flags,
            value: number_value(p.as_double, p.as_int),
        })
        .collect()
}

fn buckets(b: Option<Buckets>) -> Option<metrics::exponential_histogram_data_point::Buckets> {
    b.map(|b| metrics::exponential_histogram_data_point::Buckets {
        offset: b.offset.and_then(|o| i32::try_from(o).ok()).unwrap_or(0),
        bucket_counts: b.bucket_counts,
    })
}

impl From<Metric> for metrics::Metric {
    fn from(m: Metric) -> Self {
        use metrics::metric::Data;
        let data = if let Some(g) = m.gauge {
            Some(Data::Gauge(metrics::Gauge {
                data_points: number_points(g.data_points),
            }))
        } else if let Some(s) = m.sum {
            Some(Data::Sum(metrics::Sum {
                data_points: number_points(s.data_points),
                aggregation_temporality: s.aggregation_temporality,
                is_monotonic: s.is_monotonic,
            }))
        } else if let Some(h) = m.histogram {
            Some(Data::Histogram(metrics::Histogram {
                aggregation_temporality: h.aggregation_temporality,
                data_points: h
                    .data_points
                    .into_iter()
                    .map(|p| metrics::HistogramDataPoint {
                        attributes: key_values(p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count: p.count,
                        sum: p.sum,
                        bucket_counts: p.bucket_counts,
                        explicit_bounds: p.explicit_bounds,
                        exemplars: exemplars(p.exemplars),
                        flags: p.flags,
                        min: p.min,
                        max: p.max,
                    })
                    .collect(),
            }))
        } else if let Some(h) = m.exponential_histogram {
            Some(Data::ExponentialHistogram(metrics::ExponentialHistogram {
                aggregation_temporality: h.aggregation_temporality,
                data_points: h
                    .data_points
                    .into_iter()
                    .map(|p| metrics::ExponentialHistogramDataPoint {
                        attributes: key_values(p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count: p.count,
                        sum: p.sum,
                        scale: p.scale.and_then(|s| i32::try_from(s).ok()).unwrap_or(0),
                        zero_count: p.zero_count,
                        positive: buckets(p.positive),
                        negative: buckets(p.negative),
                        flags: p.flags,
                        exemplars: exemplars(p.exemplars),
                        min: p.min,
                        max: p.max,
                        zero_threshold: p.zero_threshold.unwrap_or(0.0),
                    })
                    .collect(),
            }))
        } else {
            m.summary.map(|s| {
                Data::Summary(metrics::Summary {
                    data_points: s
                        .data_points
                        .into_iter()
                        .map(|p| metrics::SummaryDataPoint {
                            attributes: key_values(p.attributes),
                            start_time_unix_nano: p.start_time_unix_nano,
                            time_unix_nano: p.time_unix_nano,
                            count: p.count,
                            sum: p.sum.unwrap_or(0.0),
                            quantile_values: p
                                .quantile_values
                                .into_iter()
                                .map(|q| metrics::summary_data_point::ValueAtQuantile {
                                    quantile: q.quantile.unwrap_or(0.0),
                                    value: q.value.unwrap_or(0.0),
                                })
                                .collect(),
                            flags: p.flags,
                        })
                        .collect(),
                })
            })
        };
        Self {
            name: m.name,
            description: m.description,
            unit: m.unit,
            metadata: key_values(m.metadata),
            data,
        }
    }
}
