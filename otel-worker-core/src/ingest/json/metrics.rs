//! OTLP/JSON `ExportMetricsServiceRequest`, read only as far as counting its data points
//! (metrics are not stored yet; see [`crate::ingest::metrics`]).

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{nullable, object};

/// How many data points an OTLP/JSON metrics export carries.
pub fn count_data_points(body: &[u8]) -> Result<u64, serde_json::Error> {
    let request: ExportRequest = object(body)?;
    Ok(request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| {
            [
                &m.gauge,
                &m.sum,
                &m.histogram,
                &m.exponential_histogram,
                &m.summary,
            ]
            .into_iter()
            .flatten()
            .map(|points| points.data_points.len() as u64)
            .sum::<u64>()
        })
        .sum())
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
    #[serde(alias = "scope_metrics", deserialize_with = "nullable")]
    scope_metrics: Vec<ScopeMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScopeMetrics {
    #[serde(deserialize_with = "nullable")]
    metrics: Vec<Metric>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Metric {
    #[serde(deserialize_with = "nullable")]
    gauge: Option<Points>,
    #[serde(deserialize_with = "nullable")]
    sum: Option<Points>,
    #[serde(deserialize_with = "nullable")]
    histogram: Option<Points>,
    #[serde(alias = "exponential_histogram", deserialize_with = "nullable")]
    exponential_histogram: Option<Points>,
    #[serde(deserialize_with = "nullable")]
    summary: Option<Points>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Points {
    #[serde(alias = "data_points", deserialize_with = "nullable")]
    data_points: Vec<IgnoredAny>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn data_points_of_every_type_are_counted() {
        let body = br#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "a", "sum": {"dataPoints": [{"asInt": "1"}, {"asInt": "2"}], "isMonotonic": true}},
            {"name": "b", "histogram": {"data_points": [{"count": "3"}]}},
            {"name": "c", "gauge": {"dataPoints": null}},
            {"name": "d", "exponentialHistogram": {"dataPoints": [{}]}, "unit": "ms"},
            {"name": "e", "summary": {"dataPoints": [{}, {}]}}]}]}]}"#;
        assert_eq!(super::count_data_points(body).unwrap(), 6);
        assert_eq!(super::count_data_points(b"{}").unwrap(), 0);
        assert!(super::count_data_points(br#"{"resourceMetrics": 5}"#).is_err());
    }

    #[test]
    fn a_point_nested_deeper_than_any_stack_is_skipped_without_overflow() {
        let depth = 200_000;
        let body = format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"gauge":{{"dataPoints":[{}{}]}}}}]}}]}}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        // serde_json skips an ignored value without recursing: one point, no crash.
        assert_eq!(super::count_data_points(body.as_bytes()).unwrap(), 1);
    }
}
