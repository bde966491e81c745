//! The black-box suite for log records: a real server (the local
//! one, or the Worker with `OTEL_WORKER_TEST_URL`), HTTP and WebSocket only.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValueList, any_value::Value as V,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PROTOBUF: &str = "application/x-protobuf";

/// A service name no other test uses, so tests can share one server.
fn fresh_service(what: &str) -> String {
    format!("{what}-{}", hex::encode(random_span_id()))
}

fn record(time_ns: u64, severity: i32, body: V) -> LogRecord {
    LogRecord {
        time_unix_nano: time_ns,
        observed_time_unix_nano: time_ns + 5,
        severity_number: severity,
        severity_text: String::new(),
        body: Some(AnyValue { value: Some(body) }),
        ..Default::default()
    }
}

fn log_export(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", V::StringValue(service.into())),
                    kv("deployment.environment", V::StringValue("test".into())),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "app.logger".into(),
                    version: "1.2".into(),
                    ..Default::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

async fn send_logs(server: &TestServer, export: &ExportLogsServiceRequest) {
    let response = post_to(server, "/v1/logs", PROTOBUF, None, export.encode_to_vec()).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
}

async fn list(server: &TestServer, query: &str) -> Value {
    let (status, body) = get_json(server, &format!("/v1/logs?{query}")).await;
    assert_eq!(status, StatusCode::OK, "/v1/logs?{query}: {body}");
    body
}

fn bodies(list: &Value) -> Vec<Value> {
    list["logs"]
        .as_array()
        .expect("a logs array")
        .iter()
        .map(|l| l["body"].clone())
        .collect()
}

#[tokio::test]
async fn a_log_record_comes_back_value_by_value() {
    let server = TestServer::start();
    let service = fresh_service("values");
    let trace_id = random_trace_id();
    let span_id = random_span_id();
    let start = now_ns();
    let bodies_sent = [
        V::StringValue("user 42 signed in".into()),
        V::IntValue(-9_007_199_254_740_993),
        V::DoubleValue(2.5),
        V::BoolValue(true),
        V::BytesValue(vec![0, 1, 254, 255]),
        V::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(V::StringValue("a".into())),
            }],
        }),
        V::KvlistValue(KeyValueList {
            values: vec![kv("user", V::IntValue(42))],
        }),
    ];
    let mut records: Vec<LogRecord> = bodies_sent
        .iter()
        .enumerate()
        .map(|(i, body)| record(start + i as u64, 9, body.clone()))
        .collect();
    records[0].trace_id = trace_id.clone();
    records[0].span_id = span_id.clone();
    records[0].severity_text = "INFO".into();
    records[0].event_name = "user.login".into();
    records[0].flags = 1;
    records[0].dropped_attributes_count = 2;
    records[0].attributes = vec![
        kv("user.id", V::IntValue(42)),
        kv("ok", V::BoolValue(true)),
        kv("big", V::IntValue(4_611_686_018_427_387_905)),
    ];
    send_logs(&server, &log_export(&service, records)).await;

    let page = list(&server, &format!("service={service}")).await;
    assert_eq!(
        bodies(&page),
        [
            json!({"user": 42}),
            json!(["a"]),
            json!("AAH+/w=="),
            json!(true),
            json!(2.5),
            json!(-9_007_199_254_740_993i64),
            json!("user 42 signed in"),
        ],
        "newest first, every body type as plain JSON"
    );
    let first = &page["logs"][6];
    let trace_hex = hex::encode(&trace_id);
    assert_eq!(first["timeUnixNano"], start.to_string());
    assert_eq!(first["observedTimeUnixNano"], (start + 5).to_string());
    assert_eq!(first["severityNumber"], 9);
    assert_eq!(first["severityText"], "INFO");
    assert_eq!(first["traceId"], trace_hex);
    assert_eq!(first["spanId"], hex::encode(&span_id));
    assert_eq!(first["flags"], 1);
    assert_eq!(first["eventName"], "user.login");
    assert_eq!(first["droppedAttributesCount"], 2);
    assert_eq!(first["serviceName"], service.as_str());
    assert_eq!(
        first["attributes"],
        json!({"user.id": 42, "ok": true, "big": 4_611_686_018_427_387_905i64})
    );
    assert_eq!(
        first["resource"]["attributes"]["service.name"],
        service.as_str()
    );
    assert_eq!(first["scope"]["name"], "app.logger");
    assert_eq!(first["scope"]["version"], "1.2");
    assert_eq!(page["logs"][0]["traceId"], Value::Null);
    assert_eq!(page["logs"][0]["spanId"], Value::Null);

    let (status, of_trace) = get_json(&server, &format!("/v1/traces/{trace_hex}/logs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(of_trace["logs"].as_array().unwrap().len(), 1);
    assert_eq!(of_trace["logs"][0], *first);
}

#[tokio::test]
async fn a_traces_logs_come_in_time_order_and_a_trace_without_any_has_none() {
    let server = TestServer::start();
    let service = fresh_service("order");
    let trace_id = random_trace_id();
    let start = now_ns();
    // Sent out of order, over two exports.
    let mut late = record(start + 30, 13, V::StringValue("third".into()));
    late.trace_id = trace_id.clone();
    let mut early = record(start + 10, 9, V::StringValue("first".into()));
    early.trace_id = trace_id.clone();
    let mut middle = record(start + 20, 17, V::StringValue("second".into()));
    middle.trace_id = trace_id.clone();
    send_logs(&server, &log_export(&service, vec![late, early])).await;
    send_logs(&server, &log_export(&service, vec![middle])).await;
    let trace_hex = hex::encode(&trace_id);
    let (_, page) = get_json(&server, &format!("/v1/traces/{trace_hex}/logs")).await;
    assert_eq!(
        bodies(&page),
        [json!("first"), json!("second"), json!("third")]
    );
    let (_, page) = get_json(&server, &format!("/v1/traces/{trace_hex}/logs?limit=2")).await;
    assert_eq!(bodies(&page), [json!("first"), json!("second")]);
    let cursor = page["nextCursor"].as_str().expect("a cursor to the rest");
    let (_, rest) = get_json(
        &server,
        &format!("/v1/traces/{trace_hex}/logs?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(bodies(&rest), [json!("third")]);
    assert_eq!(rest["nextCursor"], Value::Null);

    let other = hex::encode(random_trace_id());
    let (status, none) = get_json(&server, &format!("/v1/traces/{other}/logs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["logs"], json!([]));
}

#[tokio::test]
async fn json_and_gzip_log_exports_are_stored_and_a_retry_is_stored_once() {
    let server = TestServer::start();
    let service = fresh_service("json");
    let trace = hex::encode(random_trace_id());
    let body = json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
    "scopeLogs": [{"scope": {"name": "py"}, "logRecords": [
        {"timeUnixNano": now_ns().to_string(), "severityNumber": "SEVERITY_NUMBER_ERROR",
         "severityText": "ERROR", "body": {"stringValue": "boom"}, "traceId": trace,
         "attributes": [{"key": "exception.type", "value": {"stringValue": "ValueError"}}]},
        {"observedTimeUnixNano": now_ns().to_string(), "severityNumber": 5,
         "body": {"stringValue": "no time, only observed"}}
    ]}]}]})
    .to_string();
    for _ in 0..2 {
        let response = post_to(
            &server,
            "/v1/logs",
            "application/json",
            Some("gzip"),
            gzip(body.as_bytes()),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "{}");
    }
    let page = list(&server, &format!("service={service}")).await;
    assert_eq!(
        bodies(&page).len(),
        2,
        "the retried export is stored once: {page}"
    );
    let error = list(&server, &format!("service={service}&severity=error")).await;
    assert_eq!(bodies(&error), [json!("boom")]);
    assert_eq!(error["logs"][0]["traceId"], trace);
    assert_eq!(
        error["logs"][0]["attributes"]["exception.type"],
        "ValueError"
    );
    let untimed = list(
        &server,
        &format!("service={service}&severity=debug&q=only+observed"),
    )
    .await;
    assert_eq!(untimed["logs"][0]["timeUnixNano"], "0");
}

#[tokio::test]
async fn invalid_log_records_are_rejected_one_by_one_and_the_rest_is_stored() {
    let server = TestServer::start();
    let service = fresh_service("partial");
    let now = now_ns();
    let mut bad = record(now, 9, V::StringValue("bad".into()));
    bad.trace_id = vec![1, 2, 3];
    let good = record(now + 1, 9, V::StringValue("good".into()));
    let mut zero_ids = record(now + 2, 9, V::StringValue("zero ids mean none".into()));
    zero_ids.trace_id = vec![0; 16];
    zero_ids.span_id = vec![0; 8];
    let export = log_export(&service, vec![bad, good, zero_ids]);
    let response = post_to(&server, "/v1/logs", PROTOBUF, None, export.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply = ExportLogsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = reply.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("trace id"),
        "{}",
        partial.error_message
    );
    let page = list(&server, &format!("service={service}")).await;
    assert_eq!(bodies(&page), [json!("zero ids mean none"), json!("good")]);
    assert_eq!(page["logs"][0]["traceId"], Value::Null);

    // A body that is not a log export at all is refused whole, in its encoding.
    let response = post_to(&server, "/v1/logs", PROTOBUF, None, vec![0xff, 0xff, 0xff]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = post_to(
        &server,
        "/v1/logs",
        "application/json",
        None,
        b"[1]".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ExportLogsServiceRequest"),
        "{error}"
    );
    let response = post_to(&server, "/v1/logs", "text/plain", None, b"hi".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn log_filters_find_exactly_the_matching_records() {
    let server = TestServer::start();
    let service = fresh_service("filters");
    let other = fresh_service("filters-other");
    let trace_id = random_trace_id();
    let span_id = random_span_id();
    let now = now_ns();
    let mut records = vec![
        record(now, 5, V::StringValue("debug detail".into())),
        record(now + 1, 9, V::StringValue("Cache MISS for key".into())),
        record(now + 2, 13, V::StringValue("slow query".into())),
        record(now + 3, 17, V::StringValue("payment failed".into())),
        record(now + 4, 21, V::StringValue("out of memory".into())),
    ];
    records[1].attributes = vec![kv("cache.hit", V::BoolValue(false))];
    records[2].attributes = vec![
        kv("db.rows", V::IntValue(500)),
        kv("db.system", V::StringValue("postgresql".into())),
    ];
    records[3].trace_id = trace_id.clone();
    records[3].span_id = span_id.clone();
    send_logs(&server, &log_export(&service, records)).await;
    send_logs(
        &server,
        &log_export(
            &other,
            vec![record(now, 17, V::StringValue("payment failed".into()))],
        ),
    )
    .await;

    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "out of memory",
                "payment failed",
                "slow query",
                "Cache MISS for key",
                "debug detail",
            ],
        ),
        (
            "&severity=warn",
            &["out of memory", "payment failed", "slow query"],
        ),
        (
            "&severity=WARNING",
            &["out of memory", "payment failed", "slow query"],
        ),
        ("&severity=17", &["out of memory", "payment failed"]),
        ("&severity=fatal", &["out of memory"]),
        ("&q=cache+miss", &["Cache MISS for key"]),
        ("&q=postgres", &["slow query"]),
        ("&attr=db.rows=500", &["slow query"]),
        (
            "&attr=db.system=postgresql&attr=db.rows=500",
            &["slow query"],
        ),
        ("&attr=db.rows=501", &[]),
        ("&attr=cache.hit=false", &["Cache MISS for key"]),
        (
            "&attr=deployment.environment=test&severity=fatal",
            &["out of memory"],
        ),
        (
            &format!("&traceId={}", hex::encode(&trace_id)),
            &["payment failed"],
        ),
        (
            &format!("&spanId={}", hex::encode(&span_id)),
            &["payment failed"],
        ),
        ("&limit=2", &["out of memory", "payment failed"]),
    ];
    for (filter, expected) in cases {
        let page = list(&server, &format!("service={service}{filter}")).await;
        let expected: Vec<Value> = expected.iter().map(|b| json!(b)).collect();
        assert_eq!(bodies(&page), expected, "filter {filter:?}");
    }
    let both = list(&server, &format!("traceId={}", hex::encode(&trace_id))).await;
    assert_eq!(both["logs"].as_array().unwrap().len(), 1);

    for (query, named) in [
        ("severity=loud", "loud"),
        ("severity=25", "25"),
        ("traceId=xyz", "xyz"),
        ("limit=0", "limit"),
        ("before=yesterday", "yesterday"),
        ("sevrity=warn", "sevrity"),
    ] {
        let (status, body) = get_json(&server, &format!("/v1/logs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{query}: {body}");
    }
}

#[tokio::test]
async fn log_pages_continue_with_the_cursor_without_gaps_or_repeats() {
    let server = TestServer::start();
    let service = fresh_service("pages");
    let now = now_ns();
    // Five records share a nanosecond: the cursor must still split them exactly.
    let records: Vec<LogRecord> = (0..25u64)
        .map(|i| record(now + i / 5, 9, V::StringValue(format!("line {i}"))))
        .collect();
    send_logs(&server, &log_export(&service, records)).await;
    for filtered in ["", "&q=line"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let before = cursor
                .as_deref()
                .map(|c| format!("&before={c}"))
                .unwrap_or_default();
            let page = list(
                &server,
                &format!("service={service}&limit=7{filtered}{before}"),
            )
            .await;
            seen.extend(bodies(&page));
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut sorted: Vec<String> = seen
            .iter()
            .map(|b| b.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(sorted.len(), 25, "{filtered:?}: {sorted:?}");
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 25, "no record twice ({filtered:?})");
    }
}

#[tokio::test]
async fn deleting_a_trace_deletes_its_logs_and_stats_count_them() {
    let server = TestServer::start();
    let service = fresh_service("delete");
    let (trace_hex, spans) = trace(2, now_ns());
    let response = post_protobuf(&server, spans.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut linked = record(now_ns(), 9, V::StringValue("in the trace".into()));
    linked.trace_id = hex::decode(&trace_hex).unwrap();
    let loose = record(now_ns(), 9, V::StringValue("outside any trace".into()));
    send_logs(&server, &log_export(&service, vec![linked, loose])).await;
    let (_, stats) = get_json(&server, "/v1/stats").await;
    assert!(stats["logs"].as_u64().unwrap() >= 2, "{stats}");

    let deleted = delete(&server, &format!("/v1/traces/{trace_hex}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (_, of_trace) = get_json(&server, &format!("/v1/traces/{trace_hex}/logs")).await;
    assert_eq!(of_trace["logs"], json!([]));
    let page = list(&server, &format!("service={service}")).await;
    assert_eq!(bodies(&page), [json!("outside any trace")]);
}

#[tokio::test]
async fn new_logs_are_announced_on_the_live_feed() {
    let server = TestServer::start();
    let service = fresh_service("live");
    let (mut socket, _) =
        tokio_tungstenite::connect_async(server.ws_request(&server.ws_protocols()))
            .await
            .expect("the live feed opens");
    // The feed is ready once an export sent after connecting is announced.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let body = format!("announced {attempt}");
        let mut log = record(now_ns(), 17, V::StringValue(body.clone()));
        log.trace_id = random_trace_id();
        send_logs(&server, &log_export(&service, vec![log])).await;
        let heard = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(message)) = socket.next().await {
                let Ok(text) = message.into_text() else {
                    continue;
                };
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if value["type"] == "logAdded"
                    && value["details"]["logs"].as_array().is_some_and(|logs| {
                        logs.iter().any(|l| l["serviceName"] == service.as_str())
                    })
                {
                    return value;
                }
            }
            Value::Null
        })
        .await;
        if let Ok(value) = heard
            && !value.is_null()
        {
            let logs = value["details"]["logs"].as_array().unwrap();
            let ours = logs
                .iter()
                .find(|l| l["serviceName"] == service.as_str())
                .unwrap();
            assert_eq!(ours["severityNumber"], 17);
            assert!(ours["body"].as_str().unwrap().starts_with("announced"));
            assert_eq!(ours["traceId"].as_str().unwrap().len(), 32);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no logAdded for {body}"
        );
    }
}

#[tokio::test]
async fn a_log_search_exports_as_otlp_that_holds_what_was_sent() {
    use otel_worker_core::ingest::{Encoding, decode_export};
    let server = TestServer::start();
    let service = fresh_service("export");
    let start = now_ns() - 60_000_000_000;
    let mut records: Vec<LogRecord> = [
        V::StringValue("payment declined".into()),
        V::IntValue(-9_007_199_254_740_993),
        V::DoubleValue(2.0),
        V::BoolValue(false),
        V::KvlistValue(KeyValueList {
            values: vec![kv("a", V::IntValue(1)), kv("b", V::StringValue("x".into()))],
        }),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, body)| record(start + i as u64, 17, body))
    .collect();
    records[0].trace_id = random_trace_id();
    records[0].span_id = random_span_id();
    records[0].severity_text = "ERROR".into();
    records[0].event_name = "payment.declined".into();
    records[0].flags = 1;
    records[0].dropped_attributes_count = 3;
    records[0].attributes = vec![
        kv("amount", V::DoubleValue(12.5)),
        kv("card", V::StringValue("visa".into())),
    ];
    records.push(LogRecord {
        body: None,
        ..record(start + 10, 5, V::BoolValue(true))
    });
    let sent = log_export(&service, records.clone());
    send_logs(&server, &sent).await;

    let response = get(&server, &format!("/v1/export/logs?service={service}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/x-ndjson"
    );
    assert!(!says_truncated(&response));
    let text = response.text().await.unwrap();
    let mut exported: Vec<ExportLogsServiceRequest> = text
        .lines()
        .map(|line| decode_export(Encoding::Json, line.as_bytes()).expect("an OTLP/JSON line"))
        .collect();
    assert_eq!(exported.len(), 1, "{text}");
    let resource_logs = exported.remove(0).resource_logs;
    assert_eq!(resource_logs.len(), 1);
    let resource = resource_logs[0].resource.clone().unwrap_or_default();
    let mut resource_keys: Vec<&str> = resource.attributes.iter().map(|a| a.key.as_str()).collect();
    resource_keys.sort();
    assert_eq!(resource_keys, ["deployment.environment", "service.name"]);
    let scope_logs = &resource_logs[0].scope_logs;
    assert_eq!(scope_logs.len(), 1);
    assert_eq!(
        scope_logs[0]
            .scope
            .as_ref()
            .map(|s| (s.name.as_str(), s.version.as_str())),
        Some(("app.logger", "1.2"))
    );
    let mut back = scope_logs[0].log_records.clone();
    back.sort_by_key(|r| r.time_unix_nano);
    // The file holds attributes in key order.
    for record in &mut records {
        record.attributes.sort_by(|a, b| a.key.cmp(&b.key));
    }
    assert_eq!(back, records, "every record, field by field");

    // Bounded: one record asked for, the newest, and the file says more matched.
    let response = get(
        &server,
        &format!("/v1/export/logs?service={service}&maxRecords=1"),
    )
    .await;
    assert!(says_truncated(&response));
    let one: ExportLogsServiceRequest = decode_export(
        Encoding::Json,
        response.text().await.unwrap().trim().as_bytes(),
    )
    .unwrap();
    assert_eq!(
        one.resource_logs[0].scope_logs[0].log_records,
        [records[5].clone()]
    );
    for bad in ["limit=5", "before=x", "maxRecords=0", "severity=loud"] {
        let (status, body) = get_json(&server, &format!("/v1/export/logs?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
