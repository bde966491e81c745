//! The black-box API suite: a real server driven over HTTP and WebSocket only.
//!
//! By default each test starts `otel-worker-cli dev` on a free port with a fresh database.
//! Set `OTEL_WORKER_TEST_URL` and `OTEL_WORKER_TEST_TOKEN` to run the same suite against
//! another server (the Worker under `wrangler dev`). Tests use fresh ids so they can share
//! one server and run in parallel.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

async fn post(
    server: &TestServer,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    post_to(server, "/v1/traces", content_type, encoding, body).await
}

async fn assert_still_serving(server: &TestServer) {
    let health = server
        .http()
        .get(server.url("/health"))
        .send()
        .await
        .expect("server up");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_needs_no_token() {
    let server = TestServer::start();
    let response = server
        .http()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_route_wants_the_token() {
    let server = TestServer::start();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = "00f067aa0ba902b7";
    let routes = [
        ("GET", "/v1/traces".to_owned()),
        ("GET", "/v1/traces?service=frontend&status=error".to_owned()),
        ("GET", "/v1/services".to_owned()),
        ("POST", "/v1/traces".to_owned()),
        ("GET", format!("/v1/traces/{trace}")),
        ("DELETE", format!("/v1/traces/{trace}")),
        ("GET", format!("/v1/traces/{trace}/spans")),
        ("GET", format!("/v1/compare/traces?a={trace}&b={trace}")),
        (
            "GET",
            "/v1/compare/groups?baseline=service%3Da&candidate=service%3Db".to_owned(),
        ),
        ("GET", format!("/v1/traces/{trace}/spans/{span}")),
        ("DELETE", format!("/v1/traces/{trace}/spans/{span}")),
        ("GET", "/api/ws".to_owned()),
        ("GET", "/no/such/route".to_owned()),
    ];
    let wrong_same_length = "x".repeat(server.token.len());
    let bad_headers = [
        None,
        Some(format!("Bearer {wrong_same_length}")),
        Some("Bearer short".to_owned()),
        Some(format!("bearer {}", server.token)),
        Some(format!("Bearer  {}", server.token)),
        // (A trailing space is not listed: HTTP parsers strip it before any handler sees it.)
        Some(server.token.clone()),
    ];
    for (method, path) in &routes {
        for header in &bad_headers {
            let mut request = server
                .http()
                .request(method.parse().unwrap(), server.url(path))
                .header("content-type", JSON)
                .body("{}");
            if let Some(value) = header {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {header:?}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "unauthorized", "{method} {path}");
        }
    }
    // A WebSocket handshake without the token, or with a wrong one, is refused.
    for query in ["", "?token=wrong", &format!("?token={}", server.token)] {
        match tokio_tungstenite::connect_async(server.ws_url(query)).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!(
                "websocket{query} without the token: {:?}",
                other.map(|_| ())
            ),
        }
    }
}

#[tokio::test]
async fn an_unauthenticated_10_mib_export_is_refused_with_401() {
    let server = TestServer::start();
    let body = vec![b'x'; 10 * 1024 * 1024];
    for authorization in [None, Some("Bearer wrong-token")] {
        let mut request = server
            .http()
            .post(server.url("/v1/traces"))
            .header("content-type", PROTOBUF)
            .body(body.clone());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        // OTLP/HTTP: a google.rpc.Status in the request's encoding, UNAUTHENTICATED.
        let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
        assert_eq!(status.code, 16, "{status:?}");
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn the_ui_page_needs_no_token_and_loads_nothing_from_elsewhere() {
    let server = TestServer::start();
    let response = server.http().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    // The same headers from both homes: the local server sets them, Cloudflare's static
    // assets take them from ui/_headers.
    assert_eq!(
        headers["content-security-policy"],
        otel_worker_core::ui::CONTENT_SECURITY_POLICY
    );
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>otel-worker</title>"));
    // No script, style sheet or font from another origin.
    for needle in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(needle), "the page refers to {needle}");
    }
    // Its scripts, ES modules of its own origin, are as public as the page, with the
    // same headers; each imports only its siblings.
    let mut scripts = vec!["main.js".to_owned()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = scripts.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let response = server
            .http()
            .get(server.url(&format!("/js/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "/js/{name}");
        let headers = response.headers().clone();
        // Cloudflare's static assets may say application/javascript: both run as modules.
        let kind = headers["content-type"].to_str().unwrap();
        assert!(
            kind.starts_with("text/javascript") || kind.starts_with("application/javascript"),
            "/js/{name}: {:?}",
            headers["content-type"]
        );
        assert_eq!(
            headers["content-security-policy"],
            otel_worker_core::ui::CONTENT_SECURITY_POLICY
        );
        let text = response.text().await.unwrap();
        for line in text.lines().filter(|l| l.starts_with("import ")) {
            let from = line
                .rsplit_once("\"./")
                .map(|(_, f)| f.trim_end_matches("\";"));
            let from = from.unwrap_or_else(|| panic!("/js/{name} imports from elsewhere: {line}"));
            scripts.push(from.to_owned());
        }
    }
    assert!(seen.len() >= 9, "{seen:?}");
}

#[tokio::test]
async fn the_example_trace_round_trips() {
    let server = TestServer::start();
    // The example has fixed ids: start clean when the server is shared.
    delete(&server, &format!("/v1/traces/{EXAMPLE_TRACE_ID}")).await;
    let response = post(&server, JSON, None, EXAMPLE.as_bytes().to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], JSON);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));

    let (status, list) = get_json(&server, "/v1/traces?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let summary = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["traceId"] == EXAMPLE_TRACE_ID)
        .expect("the example trace is listed")
        .clone();
    assert_eq!(summary["rootSpanName"], "GET /api/users/:id");
    assert_eq!(summary["serviceName"], "frontend");
    assert_eq!(summary["startTimeUnixNano"], "1739872800000000000");
    assert_eq!(summary["endTimeUnixNano"], "1739872800245000000");
    assert_eq!(summary["durationNs"], 245_000_000);
    assert_eq!(summary["spanCount"], 5);
    assert_eq!(summary["errorCount"], 1);
    assert_eq!(summary["services"], json!(["frontend", "user-service"]));

    let (status, trace) = get_json(
        &server,
        &format!("/v1/traces/{}", EXAMPLE_TRACE_ID.to_uppercase()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 5);
    let starts: Vec<&str> = spans
        .iter()
        .map(|s| s["startTimeUnixNano"].as_str().unwrap())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "spans ordered by start time");
    let db = spans.iter().find(|s| s["name"] == "SELECT users").unwrap();
    assert_eq!(db["parentSpanId"], "53995c3f42cd8ad8");
    assert_eq!(db["kind"], "client");
    assert_eq!(
        db["attributes"]["db.client.connection.pool.utilization"],
        0.75
    );
    assert_eq!(db["resource"]["attributes"]["service.name"], "user-service");
    assert_eq!(db["events"][0]["attributes"]["pool.wait_ms"], 1.5);
    let root = &spans[0];
    assert_eq!(root["parentSpanId"], Value::Null);
    assert_eq!(root["status"], json!({"code": "ok", "message": ""}));

    let (status, span) = get_json(
        &server,
        &format!("/v1/traces/{EXAMPLE_TRACE_ID}/spans/b7ad6b7169203331"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(span["status"]["code"], "error");
    assert_eq!(span["events"][0]["name"], "exception");
    let (status, listed) = get_json(&server, &format!("/v1/traces/{EXAMPLE_TRACE_ID}/spans")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn protobuf_json_and_gzip_exports_are_stored_exactly() {
    let server = TestServer::start();
    let start = 1_700_000_000_123_456_789;
    for (content_type, gzipped) in [
        (PROTOBUF, false),
        (PROTOBUF, true),
        (JSON, false),
        (JSON, true),
    ] {
        let (trace_id, request) = trace(3, start);
        let body = if content_type == PROTOBUF {
            request.encode_to_vec()
        } else {
            to_json(&request).into_bytes()
        };
        let (body, encoding) = if gzipped {
            (gzip(&body), Some("gzip"))
        } else {
            (body, None)
        };
        let response = post(&server, content_type, encoding, body).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{content_type} gzip={gzipped}"
        );
        assert_eq!(response.headers()["content-type"], content_type);
        let bytes = response.bytes().await.unwrap();
        if content_type == PROTOBUF {
            let reply = ExportTraceServiceResponse::decode(bytes.as_ref()).unwrap();
            assert_eq!(reply.partial_success, None);
        }
        let (status, trace) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
        assert_eq!(status, StatusCode::OK, "{content_type} gzip={gzipped}");
        assert_eq!(trace["spanCount"], 3);
        assert_eq!(trace["startTimeUnixNano"], "1700000000123456789");
        assert_eq!(
            trace["spans"][0]["startTimeUnixNano"],
            "1700000000123456789"
        );
        assert_eq!(trace["spans"][0]["endTimeUnixNano"], "1700000000124956789");
        assert_eq!(
            trace["spans"][0]["attributes"]["big"],
            json!(4_611_686_018_427_387_905_i64)
        );
        assert_eq!(trace["serviceName"], "blackbox");
    }
}

#[tokio::test]
async fn invalid_spans_are_rejected_and_the_rest_stored() {
    let server = TestServer::start();
    let (trace_id, mut request) = trace(2, 1_000);
    let mut bad = request.resource_spans[0].scope_spans[0].spans[0].clone();
    bad.span_id = vec![0; 8];
    request.resource_spans[0].scope_spans[0].spans.push(bad);

    let response = post(&server, PROTOBUF, None, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply =
        ExportTraceServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("span id must not be all zeros"),
        "{}",
        partial.error_message
    );

    let response = post(&server, JSON, None, to_json(&request).into_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["partialSuccess"]["rejectedSpans"], "1");

    let (_, trace) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(trace["spanCount"], 2);
}

#[tokio::test]
async fn a_retried_export_is_stored_once() {
    let server = TestServer::start();
    let (trace_id, request) = trace(4, 5_000);
    for _ in 0..3 {
        assert_eq!(
            post(&server, PROTOBUF, None, request.encode_to_vec())
                .await
                .status(),
            StatusCode::OK
        );
    }
    let (_, trace) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(trace["spanCount"], 4);
    assert_eq!(trace["spans"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_30000_span_trace_is_stored_completely_and_read_in_pages() {
    let server = TestServer::start();
    let (trace_id, request) = trace(30_000, 1_000_000);
    let response = post(&server, PROTOBUF, None, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The trace itself answers in bounded size: its summary and the first page.
    let (_, detail) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(detail["spanCount"], 30_000);
    assert_eq!(detail["spans"].as_array().unwrap().len(), 1_000);
    let mut spans: Vec<Value> = detail["spans"].as_array().unwrap().clone();
    let mut cursor = detail["nextSpansCursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let (status, page) = get_json(
            &server,
            &format!("/v1/traces/{trace_id}?spansLimit=7000&spansCursor={next}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        spans.extend(page["spans"].as_array().unwrap().iter().cloned());
        cursor = page["nextSpansCursor"].as_str().map(str::to_owned);
    }
    let ids: std::collections::HashSet<&str> = spans
        .iter()
        .map(|s| s["spanId"].as_str().unwrap())
        .collect();
    assert_eq!(spans.len(), 30_000);
    assert_eq!(ids.len(), 30_000, "no span twice, none missing");
    let starts: Vec<u64> = spans
        .iter()
        .map(|s| s["startTimeUnixNano"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "in start order across pages"
    );

    // The spans route pages the same way, pointing at the next page with a Link header.
    let mut path = Some(format!("/v1/traces/{trace_id}/spans?limit=10000"));
    let mut read = 0;
    while let Some(next) = path {
        let response = get(&server, &next).await;
        assert_eq!(response.status(), StatusCode::OK);
        path = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with("rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
        read += response.json::<Vec<Value>>().await.unwrap().len();
    }
    assert_eq!(read, 30_000);
}

#[tokio::test]
async fn new_spans_are_announced_on_the_websocket() {
    let server = TestServer::start();
    let (mut socket, _) =
        tokio_tungstenite::connect_async(server.ws_request(&server.ws_protocols()))
            .await
            .expect("websocket with the token as a subprotocol");
    let (trace_id, request) = trace(2, 9_000);
    let span_ids: Vec<String> = request.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| hex::encode(&s.span_id))
        .collect();
    assert_eq!(
        post(&server, PROTOBUF, None, request.encode_to_vec())
            .await
            .status(),
        StatusCode::OK
    );

    let announced = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            let tungstenite::Message::Text(text) = message.expect("live message") else {
                continue;
            };
            let message: Value = serde_json::from_str(&text).expect("JSON message");
            assert_eq!(message["type"], "spanAdded");
            let pairs = message["details"]["newSpans"].as_array().unwrap().clone();
            if pairs.iter().any(|p| p[0] == trace_id.as_str()) {
                return pairs;
            }
        }
        panic!("the live feed closed");
    })
    .await
    .expect("a spanAdded message within 10 s");
    for span_id in &span_ids {
        assert!(
            announced.contains(&json!([trace_id, span_id])),
            "{span_id} not announced: {announced:?}"
        );
    }
    socket.close(None).await.ok();

    // The Authorization header works for non-browser clients too.
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(server.ws_url("")).unwrap();
    request
        .headers_mut()
        .insert("authorization", server.auth().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket with a header");
    socket
        .send(tungstenite::Message::Ping(vec![1, 2, 3].into()))
        .await
        .unwrap();
    // The socket is open and answered: the server's Pong carries the Ping's payload.
    let pong = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            match message.expect("the socket stays open") {
                tungstenite::Message::Pong(payload) => return payload,
                _ => continue,
            }
        }
        panic!("the live feed closed before answering the ping");
    })
    .await
    .expect("a Pong within 10 s");
    assert_eq!(pong.as_ref(), &[1, 2, 3]);
}

#[tokio::test]
async fn reads_and_deletes() {
    let server = TestServer::start();
    let (trace_id, request) = trace(3, 77_000);
    let root_id = hex::encode(&request.resource_spans[0].scope_spans[0].spans[0].span_id);
    let child_id = hex::encode(&request.resource_spans[0].scope_spans[0].spans[1].span_id);
    assert_eq!(
        post(&server, PROTOBUF, None, request.encode_to_vec())
            .await
            .status(),
        StatusCode::OK
    );

    let delete = |path: String| {
        let server = &server;
        async move { delete(server, &path).await.status() }
    };
    assert_eq!(
        delete(format!("/v1/traces/{trace_id}/spans/{child_id}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(format!("/v1/traces/{trace_id}/spans/{child_id}")).await,
        StatusCode::NOT_FOUND
    );
    let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}/spans/{child_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, trace) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(trace["spanCount"], 2);
    assert_eq!(trace["rootSpanName"], "root");

    assert_eq!(
        delete(format!("/v1/traces/{trace_id}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(format!("/v1/traces/{trace_id}")).await,
        StatusCode::NOT_FOUND
    );
    for path in [
        format!("/v1/traces/{trace_id}"),
        format!("/v1/traces/{trace_id}/spans"),
        format!("/v1/traces/{trace_id}/spans/{root_id}"),
    ] {
        let (status, body) = get_json(&server, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], "not-found");
        assert!(
            body["message"].as_str().unwrap().contains("not found"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn malformed_ids_and_queries_are_400() {
    let server = TestServer::start();
    let valid_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for path in [
        "/v1/traces/not-hex".to_owned(),
        "/v1/traces/4bf92f3577b34da6a3ce929d0e0e473".to_owned(),
        format!("/v1/traces/{}", "z".repeat(32)),
        format!("/v1/traces/{valid_trace}/spans/123"),
        format!("/v1/traces/{valid_trace}/spans/{}", "g".repeat(16)),
        "/v1/traces?limit=0".to_owned(),
        "/v1/traces?limit=1001".to_owned(),
        "/v1/traces?limit=ten".to_owned(),
        "/v1/traces?before=yesterday".to_owned(),
    ] {
        let response = get(&server, &path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(response.headers()["content-type"], JSON, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn pages_go_backwards_in_time() {
    let server = TestServer::start();
    // Traces in a window of their own, decades ago: `before` leaves out everything newer.
    let base = 400_000_000_000_000_000u64 + rand_offset();
    let mut ids = Vec::new();
    for i in 0..5u64 {
        let (trace_id, request) = trace(1, base + i * 1_000);
        assert_eq!(
            post(&server, PROTOBUF, None, request.encode_to_vec())
                .await
                .status(),
            StatusCode::OK
        );
        ids.push(trace_id);
    }
    ids.reverse();
    let before = base + 5_000;
    let (_, first) = get_json(&server, &format!("/v1/traces?limit=2&before={before}")).await;
    let (_, second) = get_json(
        &server,
        &format!(
            "/v1/traces?limit=3&before={}",
            first["traces"][1]["startTimeUnixNano"].as_str().unwrap()
        ),
    )
    .await;
    let got: Vec<&str> = first["traces"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["traces"].as_array().unwrap())
        .map(|t| t["traceId"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids);
    // RFC 3339 works too.
    let (status, _) = get_json(&server, "/v1/traces?before=2001-01-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::OK);
}

fn rand_offset() -> u64 {
    u64::from(u32::from_le_bytes(
        random_span_id()[..4].try_into().unwrap(),
    )) * 1_000_000
}

/// One row per kind of bad input: what is sent, and the status it must get.
struct BadInput {
    name: &'static str,
    content_type: Option<&'static str>,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

fn bad(
    name: &'static str,
    content_type: Option<&'static str>,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
) -> BadInput {
    BadInput {
        name,
        content_type,
        encoding,
        body,
        status,
    }
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_stores_nothing() {
    let server = TestServer::start();
    let (trace_id, request) = trace(3, 123_000);
    let proto = request.encode_to_vec();
    let json_body = to_json(&request).into_bytes();
    let mut truncated = proto.clone();
    truncated.truncate(proto.len() - 5);
    let oversized = vec![b' '; 11 * 1024 * 1024];
    // A kvlist nested 1,000 deep: past the decoders' recursion limits.
    let mut deep = opentelemetry_proto::tonic::common::v1::AnyValue {
        value: Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(1)),
    };
    for _ in 0..1000 {
        deep = opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(
                opentelemetry_proto::tonic::common::v1::any_value::Value::KvlistValue(
                    opentelemetry_proto::tonic::common::v1::KeyValueList {
                        values: vec![opentelemetry_proto::tonic::common::v1::KeyValue {
                            key: "k".into(),
                            value: Some(deep),
                            key_strindex: 0,
                        }],
                    },
                ),
            ),
        };
    }
    let mut deep_request = request.clone();
    deep_request.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(opentelemetry_proto::tonic::common::v1::KeyValue {
            key: "deep".into(),
            value: Some(deep),
            key_strindex: 0,
        });
    let deep_json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"d","value":{}{{"intValue":"1"}}{}}}]}}]}}]}}]}}"#,
        r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(1000),
        "}]}}".repeat(1000)
    );

    let cases = vec![
        bad("empty JSON body", Some(JSON), None, vec![], 400),
        bad(
            "garbage protobuf",
            Some(PROTOBUF),
            None,
            b"\xff\xfe\xfd garbage \x00\x01".to_vec(),
            400,
        ),
        bad("truncated protobuf", Some(PROTOBUF), None, truncated, 400),
        bad(
            "invalid JSON",
            Some(JSON),
            None,
            b"{\"resourceSpans\": [".to_vec(),
            400,
        ),
        bad("JSON null", Some(JSON), None, b"null".to_vec(), 400),
        bad("JSON array", Some(JSON), None, b"[]".to_vec(), 400),
        bad(
            "JSON body as protobuf",
            Some(PROTOBUF),
            None,
            json_body.clone(),
            400,
        ),
        bad(
            "wrong content type",
            Some("text/plain"),
            None,
            json_body.clone(),
            415,
        ),
        bad("missing content type", None, None, json_body.clone(), 415),
        bad(
            "unsupported encoding",
            Some(JSON),
            Some("br"),
            json_body.clone(),
            415,
        ),
        bad(
            "gzip header on a plain body",
            Some(JSON),
            Some("gzip"),
            json_body.clone(),
            400,
        ),
        bad("body over the limit", Some(JSON), None, oversized, 413),
        bad("gzip bomb", Some(PROTOBUF), Some("gzip"), gzip_bomb(), 413),
        bad(
            "zstd header on a plain body",
            Some(JSON),
            Some("zstd"),
            json_body.clone(),
            400,
        ),
        bad(
            "zstd bomb",
            Some(PROTOBUF),
            Some("zstd"),
            ruzstd::encoding::compress_to_vec(
                &vec![0u8; 20 * 1024 * 1024][..],
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
            413,
        ),
        bad(
            "kvlist nested 1,000 deep (protobuf)",
            Some(PROTOBUF),
            None,
            deep_request.encode_to_vec(),
            400,
        ),
    ];
    // A body nested 1,000 deep where each signal reads it: a span attribute, a log body, a
    // point's attribute.
    let deep_log_json = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}{{"intValue":"1"}}{}}}]}}]}}]}}"#,
        r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(1000),
        "}]}}".repeat(1000)
    );
    let deep_metric_json = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m","gauge":{{"dataPoints":[{{"timeUnixNano":"1","asInt":"1","attributes":[{{"key":"a","value":{}{{"intValue":"1"}}{}}}]}}]}}}}]}}]}}]}}"#,
        r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(1000),
        "}]}}".repeat(1000)
    );
    let deep = |body: &str| {
        bad(
            "kvlist nested 1,000 deep (JSON)",
            Some(JSON),
            None,
            body.as_bytes().to_vec(),
            400,
        )
    };
    let signals = [
        ("/v1/traces", Some(deep(&deep_json))),
        ("/v1/logs", Some(deep(&deep_log_json))),
        ("/v1/metrics", Some(deep(&deep_metric_json))),
    ];
    // The same framing rules on every signal's export path.
    for (path, case) in signals.iter().flat_map(|(path, own)| {
        cases
            .iter()
            .chain(own.iter())
            .map(move |case| (*path, case))
    }) {
        let mut request = server
            .http()
            .post(server.url(path))
            .header("authorization", server.auth())
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(encoding) = case.encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path} {}: no answer: {e}", case.name));
        assert_eq!(
            response.status().as_u16(),
            case.status,
            "{path} {}",
            case.name
        );
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.bytes().await.unwrap();
        let message = if content_type == PROTOBUF {
            RpcStatus::decode(body.as_ref())
                .unwrap_or_else(|e| panic!("{}: not a Status: {e}", case.name))
                .message
        } else {
            let value: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", case.name));
            value["message"].as_str().unwrap_or_default().to_owned()
        };
        assert!(
            message.len() > 10,
            "{}: unhelpful message {message:?}",
            case.name
        );
        assert_still_serving(&server).await;
    }
    let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nothing of a refused export is stored"
    );
    let (_, logs) = get_json(&server, &format!("/v1/traces/{trace_id}/logs")).await;
    assert_eq!(logs["logs"], json!([]), "nor of a refused log export");
}

#[tokio::test]
async fn hostile_exports_are_answered_and_stored_faithfully() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;

    let server = TestServer::start();
    let trace_id = random_trace_id();
    let hex_trace = hex::encode(&trace_id);
    // From the first nanosecond to an hour ahead of now: the longest span accepted is
    // bounded by the server's clock (a day ahead), not by the field.
    let an_hour_ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        + 3_600_000_000_000;
    let mut extreme = span(&trace_id, None, "ünïcödé 🌍 root \u{0} name", 0);
    extreme.end_time_unix_nano = an_hour_ahead;
    extreme.attributes = vec![kv("ключ 🔑", V::StringValue("значение \u{0} 値".into()))];
    let mut backwards = span(
        &trace_id,
        Some(&extreme.span_id.clone()),
        "ends before it starts",
        5_000,
    );
    backwards.end_time_unix_nano = 4_000;
    let mut wide = span(
        &trace_id,
        Some(&extreme.span_id.clone()),
        "10,000 attributes",
        6_000,
    );
    wide.attributes = (0..10_000)
        .map(|i| kv(&format!("attr.{i}"), V::IntValue(i)))
        .collect();
    let mut huge = span(
        &trace_id,
        Some(&extreme.span_id.clone()),
        "a 5 MB attribute",
        7_000,
    );
    huge.attributes = vec![kv("blob", V::StringValue("x".repeat(5 * 1024 * 1024)))];
    let mut short_id = span(&trace_id, None, "short trace id", 8_000);
    short_id.trace_id.truncate(15);
    let mut zero_id = span(&trace_id, None, "zero span id", 8_000);
    zero_id.span_id = vec![0; 8];
    let mut empty_id = span(&trace_id, None, "empty span id", 8_000);
    empty_id.span_id.clear();
    let huge_id = hex::encode(&huge.span_id);
    let spans = vec![
        extreme.clone(),
        backwards.clone(),
        wide,
        huge,
        short_id,
        zero_id,
        empty_id,
    ];
    let request = export("ünïcödé-sërvïcé", spans);

    let response = post(&server, PROTOBUF, None, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply =
        ExportTraceServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    let partial = reply.partial_success.expect("the invalid ids are rejected");
    // Three spans with invalid ids; a store with a row limit (D1) also refuses the 5 MB span.
    let huge_refused = partial.rejected_spans == 4;
    assert!(partial.rejected_spans == 3 || huge_refused, "{partial:?}");
    // The message names the first rejected span: the 5 MB one where it is refused.
    let first = if huge_refused {
        "more than this server's limit"
    } else {
        "trace id must be 16 bytes"
    };
    assert!(
        partial.error_message.contains(first),
        "{}",
        partial.error_message
    );

    let (status, trace) = get_json(&server, &format!("/v1/traces/{hex_trace}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace["spanCount"], if huge_refused { 3 } else { 4 });
    assert_eq!(trace["serviceName"], "ünïcödé-sërvïcé");
    let by_name = |name: &str| {
        trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
    };
    let root = by_name("ünïcödé 🌍 root \u{0} name").expect("the unicode span");
    assert_eq!(root["startTimeUnixNano"], "0");
    assert_eq!(root["endTimeUnixNano"], an_hour_ahead.to_string());
    assert_eq!(root["attributes"]["ключ 🔑"], "значение \u{0} 値");
    let backwards = by_name("ends before it starts").unwrap();
    assert_eq!(
        (
            backwards["durationNs"].as_u64(),
            backwards["endTimeUnixNano"].as_str()
        ),
        (Some(0), Some("4000"))
    );
    let wide = by_name("10,000 attributes").unwrap();
    assert_eq!(wide["attributes"].as_object().unwrap().len(), 10_000);
    assert_eq!(wide["attributes"]["attr.9999"], 9_999);
    let (status, huge) =
        get_json(&server, &format!("/v1/traces/{hex_trace}/spans/{huge_id}")).await;
    if huge_refused {
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a refused span is not stored"
        );
    } else {
        assert_eq!(
            huge["attributes"]["blob"].as_str().map(str::len),
            Some(5 * 1024 * 1024)
        );
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn cross_origin_reads_are_off_by_default() {
    let server = TestServer::start();
    let preflight = server
        .http()
        .request(reqwest::Method::OPTIONS, server.url("/v1/traces"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        preflight.headers()
    );
    let read = server
        .http()
        .get(server.url("/v1/traces"))
        .header("origin", "http://evil.example")
        .header("authorization", server.auth())
        .send()
        .await
        .unwrap();
    // Not only unreadable to the page: refused outright, so a page cannot write either.
    assert_eq!(read.status(), StatusCode::FORBIDDEN);
    assert!(
        read.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        read.headers()
    );
}

#[tokio::test]
async fn a_trace_exported_as_otlp_reads_back_as_the_same_file() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::trace::v1::Status;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    let server = TestServer::start();
    let (trace_id, mut request) = trace(3, now_ns() - 60_000_000_000);
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    let any = |value: V| AnyValue { value: Some(value) };
    spans[1].attributes = vec![
        kv("text", V::StringValue("ünïcode ✓".into())),
        kv("big", V::IntValue(i64::MIN + 1)),
        kv("ratio", V::DoubleValue(2.0)),
        kv("flag", V::BoolValue(true)),
        kv(
            "list",
            V::ArrayValue(ArrayValue {
                values: vec![any(V::IntValue(1)), any(V::StringValue("two".into()))],
            }),
        ),
        kv(
            "map",
            V::KvlistValue(KeyValueList {
                values: vec![kv("inner", V::DoubleValue(0.5))],
            }),
        ),
    ];
    spans[1].trace_state = "vendor=1".into();
    spans[1].flags = 257;
    spans[1].dropped_attributes_count = 2;
    spans[1].events = vec![Event {
        time_unix_nano: spans[1].start_time_unix_nano + 5,
        name: "exception".into(),
        attributes: vec![kv("exception.type", V::StringValue("Timeout".into()))],
        dropped_attributes_count: 1,
    }];
    spans[2].links = vec![Link {
        trace_id: random_trace_id(),
        span_id: random_span_id(),
        trace_state: "k=v".into(),
        attributes: vec![kv("link.kind", V::StringValue("follows".into()))],
        dropped_attributes_count: 0,
        flags: 1,
    }];
    spans[2].status = Some(Status {
        message: "boom".into(),
        code: 2,
    });
    assert_eq!(
        post(&server, PROTOBUF, None, request.encode_to_vec())
            .await
            .status(),
        StatusCode::OK
    );
    let path = format!("/v1/traces/{trace_id}/otlp");
    let export = || {
        let (server, path) = (&server, &path);
        async move {
            let response = get(server, path).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                response
                    .headers()
                    .get("content-disposition")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("attachment"))
            );
            response.text().await.unwrap()
        }
    };
    let first = export().await;
    // The file is an export request any OTLP receiver takes: sent back, nothing changes.
    let parsed: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        parsed["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        post(&server, JSON, None, first.clone().into_bytes())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(export().await, first);
    let child = parsed["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["traceState"] == "vendor=1")
        .unwrap()
        .clone();
    assert_eq!(child["flags"], 257);
    assert_eq!(child["droppedAttributesCount"], 2);
    let value = |key: &str| {
        child["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(
        value("big"),
        json!({"intValue": (i64::MIN + 1).to_string()})
    );
    assert_eq!(value("ratio"), json!({"doubleValue": 2.0}));
    assert_eq!(
        value("map"),
        json!({"kvlistValue": {"values": [{"key": "inner", "value": {"doubleValue": 0.5}}]}})
    );
    assert_eq!(child["events"][0]["droppedAttributesCount"], 1);
    let (status, _) = get_json(&server, &format!("/v1/traces/{}/otlp", "ab".repeat(16))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_search_exports_as_otlp_json_lines_a_trace_a_line() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    let server = TestServer::start();
    let service = format!("exported-{}", hex::encode(random_span_id()));
    for i in 0..3u64 {
        let (_, mut request) = trace(2, now_ns() - 60_000_000_000 + i * 1_000_000);
        request.resource_spans[0].resource = Some(Resource {
            attributes: vec![kv("service.name", V::StringValue(service.clone()))],
            ..Default::default()
        });
        let stored = post_protobuf(&server, request.encode_to_vec()).await;
        assert_eq!(stored.status(), StatusCode::OK);
    }
    let fetch = |query: String| {
        let server = &server;
        async move {
            let response = get(server, &format!("/v1/export/traces?{query}")).await;
            let truncated = response.headers().contains_key("otel-worker-truncated");
            (response.status(), truncated, response.text().await.unwrap())
        }
    };
    let (status, truncated, body) = fetch(format!("service={service}")).await;
    assert_eq!((status, truncated), (StatusCode::OK, false), "{body}");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(
            line["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
    let (status, truncated, body) = fetch(format!("service={service}&maxTraces=2")).await;
    assert_eq!(
        (status, truncated, body.lines().count()),
        (StatusCode::OK, true, 2)
    );
    let (status, _, body) = fetch(format!("service={service}&limit=2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("maxTraces"), "{body}");
}
