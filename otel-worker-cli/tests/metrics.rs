//! The black-box suite for metrics: a real server (the local one, or the Worker with
//! `OTEL_WORKER_TEST_URL`), HTTP and WebSocket only. Metric names are shared by every test
//! on a server, so each test reads through its own service name.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, any_value::Value as V};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PROTOBUF: &str = "application/x-protobuf";
const SECOND: u64 = 1_000_000_000;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn fresh_service(what: &str) -> String {
    format!("{what}-{}", hex::encode(random_span_id()))
}

fn export(service: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", V::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "app.meter".into(),
                    version: "3".into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        description: format!("the {name}"),
        data: Some(data),
        ..Default::default()
    }
}

fn number(start: u64, time: u64, value: number_data_point::Value, route: &str) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("route", V::StringValue(route.into()))],
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(value),
        ..Default::default()
    }
}

async fn send(
    server: &TestServer,
    request: &ExportMetricsServiceRequest,
) -> ExportMetricsServiceResponse {
    let response = post_to(
        server,
        "/v1/metrics",
        PROTOBUF,
        None,
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    ExportMetricsServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
}

async fn metric_of(server: &TestServer, name: &str, query: &str) -> Value {
    let (status, body) = get_json(server, &format!("/v1/metrics/{name}?{query}")).await;
    assert_eq!(status, StatusCode::OK, "/v1/metrics/{name}?{query}: {body}");
    body
}

/// The trace and span of the latency histogram's exemplar.
const EXEMPLAR_TRACE: [u8; 16] = [0xab; 16];
const EXEMPLAR_SPAN: [u8; 8] = [0xcd; 8];

/// Every kind of metric a real SDK sends, at `t` (and `t + 10 s` for the counter).
fn every_kind(service: &str, t: u64) -> ExportMetricsServiceRequest {
    use number_data_point::Value::{AsDouble, AsInt};
    let (trace_id, span_id) = (EXEMPLAR_TRACE.to_vec(), EXEMPLAR_SPAN.to_vec());
    export(
        service,
        vec![
            metric(
                "test.requests",
                "{request}",
                Data::Sum(Sum {
                    data_points: vec![
                        number(t - SECOND, t, AsInt(10), "/a"),
                        number(t - SECOND, t + 10 * SECOND, AsInt(i64::MAX), "/a"),
                        number(t - SECOND, t, AsInt(3), "/b"),
                    ],
                    aggregation_temporality: 2,
                    is_monotonic: true,
                }),
            ),
            metric(
                "test.queue",
                "{item}",
                Data::Sum(Sum {
                    data_points: vec![number(t - SECOND, t, AsInt(-4), "/a")],
                    aggregation_temporality: 1,
                    is_monotonic: false,
                }),
            ),
            metric(
                "test.temperature",
                "Cel",
                Data::Gauge(Gauge {
                    data_points: vec![number(0, t, AsDouble(21.25), "/a")],
                }),
            ),
            metric(
                "test.latency",
                "ms",
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: vec![kv("route", V::StringValue("/a".into()))],
                        start_time_unix_nano: t - SECOND,
                        time_unix_nano: t,
                        count: 4,
                        sum: Some(100.5),
                        bucket_counts: vec![1, 2, 1],
                        explicit_bounds: vec![10.0, 50.0],
                        exemplars: vec![Exemplar {
                            filtered_attributes: vec![kv("user", V::IntValue(7))],
                            time_unix_nano: t - 10,
                            span_id: span_id.clone(),
                            trace_id: trace_id.clone(),
                            value: Some(exemplar::Value::AsDouble(60.5)),
                        }],
                        flags: 0,
                        min: Some(5.0),
                        max: Some(60.5),
                    }],
                    aggregation_temporality: 1,
                }),
            ),
            metric(
                "test.sizes",
                "By",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        start_time_unix_nano: t - SECOND,
                        time_unix_nano: t,
                        count: 3,
                        sum: Some(7.0),
                        scale: 1,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: 2,
                            bucket_counts: vec![1, 1],
                        }),
                        negative: None,
                        flags: 1,
                        zero_threshold: 0.5,
                        ..Default::default()
                    }],
                    aggregation_temporality: 2,
                }),
            ),
            metric(
                "test.rpc",
                "s",
                Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        start_time_unix_nano: t - SECOND,
                        time_unix_nano: t,
                        count: 2,
                        sum: 3.5,
                        quantile_values: vec![
                            ValueAtQuantile {
                                quantile: 0.5,
                                value: 1.5,
                            },
                            ValueAtQuantile {
                                quantile: 1.0,
                                value: 2.0,
                            },
                        ],
                        ..Default::default()
                    }],
                }),
            ),
        ],
    )
}

#[tokio::test]
async fn every_metric_kind_comes_back_point_by_point() {
    let server = TestServer::start();
    let service = fresh_service("kinds");
    let t = now_ns();
    let reply = send(&server, &every_kind(&service, t)).await;
    assert_eq!(reply.partial_success, None);
    let ts = |ns: u64| ns.to_string();

    let (_, list) = get_json(&server, &format!("/v1/metrics?service={service}")).await;
    let metrics = list["metrics"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = metrics.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "test.latency",
            "test.queue",
            "test.requests",
            "test.rpc",
            "test.sizes",
            "test.temperature"
        ]
    );
    let requests = &metrics[2];
    assert_eq!(
        *requests,
        json!({"name": "test.requests", "type": "sum", "unit": "{request}",
               "description": "the test.requests", "temporality": "cumulative", "monotonic": true,
               "services": [service], "series": 2, "lastSeenUnixNano": ts(t + 10 * SECOND)})
    );
    assert_eq!(metrics[1]["temporality"], "delta");
    assert_eq!(metrics[1]["monotonic"], false);
    assert_eq!(metrics[5]["type"], "gauge");
    assert_eq!(metrics[5]["temporality"], Value::Null);

    let detail = metric_of(&server, "test.requests", &format!("service={service}")).await;
    assert_eq!(detail["type"], "sum");
    assert_eq!(detail["partial"], false);
    let series = detail["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["attributes"], json!({"route": "/a"}));
    assert_eq!(series[0]["serviceName"], service.as_str());
    assert_eq!(series[0]["resource"], json!({"service.name": service}));
    // Integer points come back as integers, exactly (i64::MAX is not a double).
    assert_eq!(
        series[0]["points"],
        json!([
            {"timeUnixNano": ts(t), "startTimeUnixNano": ts(t - SECOND), "value": 10},
            {"timeUnixNano": ts(t + 10 * SECOND), "startTimeUnixNano": ts(t - SECOND), "value": i64::MAX},
        ])
    );
    let latency = metric_of(&server, "test.latency", &format!("service={service}")).await;
    assert_eq!(
        latency["series"][0]["points"],
        json!([{
            "timeUnixNano": ts(t), "startTimeUnixNano": ts(t - SECOND), "count": 4, "sum": 100.5,
            "min": 5.0, "max": 60.5, "bucketCounts": [1, 2, 1], "explicitBounds": [10.0, 50.0],
            "exemplars": [{"timeUnixNano": ts(t - 10), "value": 60.5,
                "traceId": hex::encode(EXEMPLAR_TRACE), "spanId": hex::encode(EXEMPLAR_SPAN),
                "filteredAttributes": {"user": 7}}],
        }])
    );
    let sizes = metric_of(&server, "test.sizes", &format!("service={service}")).await;
    assert_eq!(
        sizes["series"][0]["points"],
        json!([{
            "timeUnixNano": ts(t), "startTimeUnixNano": ts(t - SECOND), "count": 3, "sum": 7.0,
            "scale": 1, "zeroCount": 1, "zeroThreshold": 0.5, "flags": 1,
            "positive": {"offset": 2, "bucketCounts": [1, 1]},
            "negative": {"offset": 0, "bucketCounts": []},
        }])
    );
    let rpc = metric_of(&server, "test.rpc", &format!("service={service}")).await;
    assert_eq!(
        rpc["series"][0]["points"],
        json!([{
            "timeUnixNano": ts(t), "startTimeUnixNano": ts(t - SECOND), "count": 2, "sum": 3.5,
            "quantileValues": [{"quantile": 0.5, "value": 1.5}, {"quantile": 1.0, "value": 2.0}],
        }])
    );
    let gauge = metric_of(&server, "test.temperature", &format!("service={service}")).await;
    assert_eq!(gauge["series"][0]["points"][0]["value"], json!(21.25));
}

#[tokio::test]
async fn json_and_protobuf_exports_store_the_same_points() {
    let server = TestServer::start();
    let t = now_ns();
    let (by_proto, by_json) = (fresh_service("proto"), fresh_service("json"));
    send(&server, &every_kind(&by_proto, t)).await;
    // The same export in OTLP/JSON, as the specification spells it (strings for 64-bit).
    let body = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": by_json}}]},
        "scopeMetrics": [{"scope": {"name": "app.meter", "version": "3"}, "metrics": [
            {"name": "test.requests", "unit": "{request}", "description": "the test.requests",
             "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE", "isMonotonic": true,
                     "dataPoints": [
                {"attributes": [{"key": "route", "value": {"stringValue": "/a"}}],
                 "startTimeUnixNano": (t - SECOND).to_string(), "timeUnixNano": t.to_string(), "asInt": "10"},
                {"attributes": [{"key": "route", "value": {"stringValue": "/a"}}],
                 "startTimeUnixNano": (t - SECOND).to_string(), "timeUnixNano": (t + 10 * SECOND).to_string(),
                 "asInt": i64::MAX.to_string()},
                {"attributes": [{"key": "route", "value": {"stringValue": "/b"}}],
                 "startTimeUnixNano": (t - SECOND).to_string(), "timeUnixNano": t.to_string(), "asInt": 3}]}},
            {"name": "test.sizes", "unit": "By", "description": "the test.sizes",
             "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
                {"startTimeUnixNano": (t - SECOND).to_string(), "timeUnixNano": t.to_string(), "count": "3",
                 "sum": 7, "scale": 1, "zeroCount": "1", "positive": {"offset": 2, "bucketCounts": ["1", 1]},
                 "flags": 1, "zeroThreshold": 0.5}]}}]}]}]});
    let response = post_to(
        &server,
        "/v1/metrics",
        "application/json",
        Some("gzip"),
        gzip(body.to_string().as_bytes()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
    for name in ["test.requests", "test.sizes"] {
        let mut a = metric_of(&server, name, &format!("service={by_proto}")).await;
        let mut b = metric_of(&server, name, &format!("service={by_json}")).await;
        for detail in [&mut a, &mut b] {
            for series in detail["series"].as_array_mut().into_iter().flatten() {
                series["serviceName"] = Value::Null;
                series["resource"] = Value::Null;
            }
        }
        assert_eq!(a, b, "{name}");
    }
}

#[tokio::test]
async fn a_retried_export_is_stored_once_and_stats_count_points() {
    let server = TestServer::start();
    let service = fresh_service("retry");
    let t = now_ns();
    let (_, before) = get_json(&server, "/v1/stats").await;
    send(&server, &every_kind(&service, t)).await;
    send(&server, &every_kind(&service, t)).await;
    let (_, after) = get_json(&server, "/v1/stats").await;
    let points = |stats: &Value| stats["metricPoints"].as_u64().unwrap_or(0);
    // Other tests may store points at the same time: at least this export's 8, and the
    // repeat added nothing of its own.
    assert!(points(&after) >= points(&before) + 8, "{before} {after}");
    let detail = metric_of(&server, "test.requests", &format!("service={service}")).await;
    assert_eq!(
        detail["series"][0]["points"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(after["metricSeries"].as_u64().unwrap_or(0) >= 7, "{after}");
}

#[tokio::test]
async fn invalid_points_are_rejected_one_by_one_and_the_rest_stored() {
    let server = TestServer::start();
    let service = fresh_service("invalid");
    let t = now_ns();
    use number_data_point::Value::AsInt;
    let request = export(
        &service,
        vec![
            metric(
                "test.checked",
                "1",
                Data::Gauge(Gauge {
                    data_points: vec![
                        number(0, t, AsInt(1), "/ok"),
                        number(0, 0, AsInt(2), "/no-time"),
                        NumberDataPoint {
                            time_unix_nano: t,
                            ..Default::default()
                        },
                    ],
                }),
            ),
            metric(
                "test.checked.histogram",
                "1",
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: t,
                        count: 1,
                        bucket_counts: vec![1, 0, 0],
                        explicit_bounds: vec![1.0],
                        ..Default::default()
                    }],
                    aggregation_temporality: 1,
                }),
            ),
        ],
    );
    let reply = send(&server, &request).await;
    let partial = reply.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_data_points, 3);
    assert!(
        partial.error_message.contains("test.checked"),
        "{}",
        partial.error_message
    );
    let kept = metric_of(&server, "test.checked", &format!("service={service}")).await;
    assert_eq!(kept["series"].as_array().map(Vec::len), Some(1));
    assert_eq!(kept["series"][0]["attributes"], json!({"route": "/ok"}));
    let (status, _) = get_json(
        &server,
        &format!("/v1/metrics/test.checked.histogram?service={service}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn steps_turn_counters_into_rates_and_histograms_into_percentiles() {
    let server = TestServer::start();
    let service = fresh_service("steps");
    // Whole minutes, so the points fall into known steps.
    let t = now_ns() / (60 * SECOND) * (60 * SECOND);
    send(&server, &every_kind(&service, t + SECOND)).await;
    let rates = metric_of(
        &server,
        "test.requests",
        &format!("service={service}&step=60s&attr=route=/b"),
    )
    .await;
    assert_eq!(rates["step"], "60s");
    assert_eq!(rates["series"].as_array().map(Vec::len), Some(1));
    // 3 requests since the counter started a second before: 3 per 60 s.
    assert_eq!(
        rates["series"][0]["points"],
        json!([{"timeUnixNano": (t + 60 * SECOND).to_string(), "rate": 0.05}])
    );
    let latency = metric_of(
        &server,
        "test.latency",
        &format!("service={service}&step=60s"),
    )
    .await;
    let step = &latency["series"][0]["points"][0];
    assert_eq!(step["count"], json!(4));
    assert_eq!(step["sum"], json!(100.5));
    // 4 observations: 1 in [5, 10], 2 in (10, 50], 1 in (50, 60.5]: the median is at 30.
    assert_eq!(step["p50"], json!(30.0));
    assert_eq!(step["exemplars"][0]["value"], json!(60.5));
}

#[tokio::test]
async fn filters_ranges_and_limits_narrow_the_points() {
    let server = TestServer::start();
    let service = fresh_service("filters");
    let t = now_ns();
    use number_data_point::Value::AsInt;
    let points = (0..5)
        .map(|i| number(t, t + i * SECOND, AsInt(i as i64), "/a"))
        .collect();
    send(
        &server,
        &export(
            &service,
            vec![metric(
                "test.filtered",
                "1",
                Data::Gauge(Gauge {
                    data_points: points,
                }),
            )],
        ),
    )
    .await;
    let values = |detail: &Value| -> Vec<Value> {
        detail["series"][0]["points"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["value"].clone())
            .collect()
    };
    let q = format!("service={service}");
    let limited = metric_of(&server, "test.filtered", &format!("{q}&limit=2")).await;
    assert_eq!(values(&limited), [json!(3), json!(4)]);
    assert_eq!(limited["partial"], true);
    let ranged = metric_of(
        &server,
        "test.filtered",
        &format!("{q}&start={}&end={}", t + SECOND, t + 3 * SECOND),
    )
    .await;
    assert_eq!(values(&ranged), [json!(1), json!(2)]);
    assert_eq!(ranged["partial"], false);
    let none = metric_of(&server, "test.filtered", &format!("{q}&attr=route=/b")).await;
    assert_eq!(none["series"], json!([]));
    let (_, list) = get_json(&server, &format!("/v1/metrics?service={service}&q=FILTER")).await;
    assert_eq!(list["metrics"].as_array().map(Vec::len), Some(1));

    for (query, status, code) in [
        (
            "/v1/metrics/test.nothing-here".to_owned(),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            format!("/v1/metrics/test.filtered?{q}&step=fast"),
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            format!("/v1/metrics/test.filtered?{q}&limit=0"),
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            "/v1/metrics?servce=x".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
    ] {
        let (got, body) = get_json(&server, &query).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn new_points_are_announced_on_the_live_feed() {
    let server = TestServer::start();
    let service = fresh_service("live");
    let (mut socket, _) =
        tokio_tungstenite::connect_async(server.ws_request(&server.ws_protocols()))
            .await
            .expect("the live feed opens");
    // The feed is ready once an export sent after connecting is announced.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        send(&server, &every_kind(&service, now_ns())).await;
        let heard = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(message)) = socket.next().await {
                let Ok(text) = message.into_text() else {
                    continue;
                };
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if value["type"] == "metricAdded" {
                    let ours: Vec<Value> = value["details"]["metrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|m| m["serviceName"] == service.as_str())
                        .cloned()
                        .collect();
                    if !ours.is_empty() {
                        return ours;
                    }
                }
            }
            Vec::new()
        })
        .await;
        if let Ok(ours) = heard
            && !ours.is_empty()
        {
            let requests = ours.iter().find(|m| m["name"] == "test.requests");
            assert!(
                requests.is_some_and(|m| m["points"].as_u64() >= Some(3)),
                "{ours:?}"
            );
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no metricAdded for {service}"
        );
    }
}

/// A request's metrics as comparable text: per metric its name, unit, description, kind
/// and its points in a fixed order, attributes in key order.
fn metrics_by_name(requests: &[ExportMetricsServiceRequest]) -> Vec<(String, String)> {
    fn sorted(attributes: &mut [opentelemetry_proto::tonic::common::v1::KeyValue]) {
        attributes.sort_by(|a, b| a.key.cmp(&b.key));
    }
    let mut found: Vec<(String, String)> = Vec::new();
    for request in requests {
        for resource in &request.resource_metrics {
            for scope in &resource.scope_metrics {
                for metric in &scope.metrics {
                    let mut metric = metric.clone();
                    let mut points: Vec<String> = match metric.data.take() {
                        Some(Data::Gauge(g)) => g
                            .data_points
                            .into_iter()
                            .map(|mut p| {
                                sorted(&mut p.attributes);
                                format!("gauge {p:?}")
                            })
                            .collect(),
                        Some(Data::Sum(s)) => s
                            .data_points
                            .into_iter()
                            .map(|mut p| {
                                sorted(&mut p.attributes);
                                format!(
                                    "sum {} {} {p:?}",
                                    s.aggregation_temporality, s.is_monotonic
                                )
                            })
                            .collect(),
                        Some(Data::Histogram(h)) => h
                            .data_points
                            .into_iter()
                            .map(|mut p| {
                                sorted(&mut p.attributes);
                                format!("histogram {} {p:?}", h.aggregation_temporality)
                            })
                            .collect(),
                        Some(Data::ExponentialHistogram(h)) => h
                            .data_points
                            .into_iter()
                            .map(|mut p| {
                                sorted(&mut p.attributes);
                                format!("exponential {} {p:?}", h.aggregation_temporality)
                            })
                            .collect(),
                        Some(Data::Summary(s)) => s
                            .data_points
                            .into_iter()
                            .map(|mut p| {
                                sorted(&mut p.attributes);
                                format!("summary {p:?}")
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    points.sort();
                    let scope = scope.scope.clone().unwrap_or_default();
                    found.push((
                        metric.name.clone(),
                        format!(
                            "{} {} {} {} {points:?}",
                            metric.unit, metric.description, scope.name, scope.version
                        ),
                    ));
                }
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn metrics_export_as_otlp_that_holds_every_point_sent() {
    use otel_worker_core::ingest::{Encoding, decode_export};
    let server = TestServer::start();
    let service = fresh_service("export");
    let sent = every_kind(&service, now_ns());
    send(&server, &sent).await;
    let response = get(&server, &format!("/v1/export/metrics?service={service}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!says_truncated(&response));
    let text = response.text().await.unwrap();
    let exported: Vec<ExportMetricsServiceRequest> = text
        .lines()
        .map(|line| decode_export(Encoding::Json, line.as_bytes()).expect("an OTLP/JSON line"))
        .collect();
    assert_eq!(
        metrics_by_name(&exported),
        metrics_by_name(std::slice::from_ref(&sent)),
        "every metric and point, field by field"
    );
    for request in &exported {
        let resource = request.resource_metrics[0]
            .resource
            .clone()
            .unwrap_or_default();
        assert_eq!(
            resource.attributes,
            [kv("service.name", V::StringValue(service.clone()))]
        );
    }

    // One metric, bounded: each series keeps its newest point, and the file says so.
    let response = get(
        &server,
        &format!("/v1/export/metrics?service={service}&name=test.requests&maxPoints=1"),
    )
    .await;
    assert!(says_truncated(&response));
    let text = response.text().await.unwrap();
    let one: ExportMetricsServiceRequest =
        decode_export(Encoding::Json, text.trim().as_bytes()).unwrap();
    let metrics = &one.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].name, "test.requests");
    for bad in ["maxPoints=0", "start=yesterday", "limit=3"] {
        let (status, body) = get_json(&server, &format!("/v1/export/metrics?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
