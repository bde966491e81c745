//! The black-box suite for MCP's Streamable HTTP transport at `/mcp`: a real server (the
//! local one, or the Worker with `OTEL_WORKER_TEST_URL`), plain HTTP. What the official MCP
//! SDKs see is checked by `scripts/test-mcp.sh`; this covers what they never send: the
//! refusals, notifications, batches and malformed messages.

mod common;

use std::time::Duration;

use common::*;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A service name no other test uses, so tests can share one server.
fn fresh_service(what: &str) -> String {
    format!("{what}-{}", hex::encode(random_span_id()))
}

/// `POST /mcp` with the token and `body`; extra headers as given.
async fn post_mcp(server: &TestServer, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = server
        .http()
        .post(server.url("/mcp"))
        .header("authorization", server.auth())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    common::send(request).await
}

/// One JSON-RPC request; the answer's `result`, or a panic with its error.
async fn rpc(server: &TestServer, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let response = post_mcp(server, &body.to_string(), &[]).await;
    assert_eq!(response.status(), StatusCode::OK, "{method}");
    let answer: Value = response.json().await.expect("a JSON answer");
    assert_eq!(answer["id"], 7);
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

async fn call_tool(server: &TestServer, name: &str, arguments: Value) -> Value {
    rpc(
        server,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await
}

/// Sends a trace of `n` spans for `service`; its id.
async fn send_trace(server: &TestServer, service: &str, n: usize) -> String {
    let (trace_id, mut request) = trace(n, now_ns());
    request.resource_spans[0].resource = Some(opentelemetry_proto::tonic::resource::v1::Resource {
        attributes: vec![kv(
            "service.name",
            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(service.into()),
        )],
        ..Default::default()
    });
    let response = post_protobuf(server, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    trace_id
}

#[tokio::test]
async fn initialize_names_the_server_negotiates_the_version_and_tells_how_to_use_the_tools() {
    let server = TestServer::start();
    let result = rpc(
        &server,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    )
    .await;
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert_eq!(result["serverInfo"]["name"], "otel-worker");
    assert!(result["capabilities"]["tools"].is_object());
    assert!(result["capabilities"]["resources"].is_object());
    assert!(
        result["instructions"]
            .as_str()
            .is_some_and(|t| t.contains("search_traces"))
    );
    // A version this server does not know: it answers with the newest it speaks.
    let result = rpc(&server, "initialize", json!({"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})).await;
    assert_eq!(result["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn mcp_needs_the_token_and_refuses_pages_of_other_origins() {
    let server = TestServer::start();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let anonymous = server
        .http()
        .post(server.url("/mcp"))
        .header("content-type", "application/json")
        .body(ping)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");

    // A page elsewhere (or one whose host name was pointed at this server: DNS rebinding).
    for origin in ["https://evil.example", "http://evil.example:4318", "null"] {
        let refused = post_mcp(&server, ping, &[("origin", origin)]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{origin}");
        let body: Value = refused.json().await.expect("an error body");
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains("CORS")),
            "{body}"
        );
    }
    // No Origin at all (every non-browser client) is fine.
    let answered = post_mcp(&server, ping, &[]).await;
    assert_eq!(answered.status(), StatusCode::OK);
    let answer: Value = answered.json().await.expect("JSON");
    assert_eq!(answer, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
}

#[tokio::test]
async fn there_is_no_server_stream_or_session_to_open_or_close() {
    let server = TestServer::start();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = server
            .http()
            .request(method.clone(), server.url("/mcp"))
            .header("authorization", server.auth())
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("the server answers");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }
}

#[tokio::test]
async fn notifications_are_accepted_without_a_body_and_a_batch_gets_every_answer() {
    let server = TestServer::start();
    let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let accepted = post_mcp(&server, notification, &[]).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert!(accepted.bytes().await.expect("a body").is_empty());

    let batch = json!([
        {"jsonrpc": "2.0", "id": "a", "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "b", "method": "no/such/method"},
    ]);
    let answered = post_mcp(&server, &batch.to_string(), &[]).await;
    assert_eq!(answered.status(), StatusCode::OK);
    let answers: Value = answered.json().await.expect("JSON");
    assert_eq!(answers.as_array().map(Vec::len), Some(2), "{answers}");
    assert_eq!(
        answers[0],
        json!({"jsonrpc": "2.0", "id": "a", "result": {}})
    );
    assert_eq!(answers[1]["id"], "b");
    assert_eq!(answers[1]["error"]["code"], -32601);
}

#[tokio::test]
async fn a_message_that_is_not_json_or_of_an_unknown_protocol_version_is_a_bad_request() {
    let server = TestServer::start();
    let garbled = post_mcp(&server, "{\"jsonrpc\": \"2.0\", \"id\": 1,", &[]).await;
    assert_eq!(garbled.status(), StatusCode::BAD_REQUEST);
    let answer: Value = garbled.json().await.expect("a JSON-RPC error");
    assert_eq!(answer["error"]["code"], -32700);
    assert_eq!(answer["id"], Value::Null);

    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let old = post_mcp(&server, ping, &[("mcp-protocol-version", "2024-01-01")]).await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
    let body: Value = old.json().await.expect("an error body");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("2025-06-18")),
        "{body}"
    );
    let known = post_mcp(&server, ping, &[("mcp-protocol-version", "2025-06-18")]).await;
    assert_eq!(known.status(), StatusCode::OK);
}

#[tokio::test]
async fn tools_answer_what_the_api_answers_and_explain_bad_arguments() {
    let server = TestServer::start();
    let service = fresh_service("mcp-tools");
    let trace_id = send_trace(&server, &service, 4).await;

    let found = call_tool(&server, "search_traces", json!({"service": service})).await;
    assert_eq!(found["isError"], false);
    let (_, api) = get_json(&server, &format!("/v1/traces?service={service}&limit=10")).await;
    let traces = found["structuredContent"]["traces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(traces.len(), 1);
    let mut without_url = traces[0].clone();
    let url = without_url.as_object_mut().and_then(|t| t.remove("url"));
    assert_eq!(without_url, api["traces"][0]);
    assert!(
        url.and_then(|u| u.as_str().map(str::to_owned))
            .is_some_and(|u| u.ends_with(&format!("/#trace={trace_id}")))
    );
    assert!(
        found["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains(&trace_id))
    );

    let tree = call_tool(&server, "get_trace", json!({"trace_id": trace_id})).await;
    let spans = tree["structuredContent"]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(spans.len(), 4);
    assert_eq!(spans[0]["name"], "root");
    assert_eq!(spans[0]["depth"], 0);
    assert!(
        spans[1..]
            .iter()
            .all(|s| s["depth"] == 1 && s["parentSpanId"] == spans[0]["spanId"])
    );
    // Attributes only on request (no span of this trace failed).
    assert!(spans.iter().all(|s| s.get("attributes").is_none()));
    let text = tree["content"][0]["text"].as_str().unwrap_or_default();
    for name in ["root", "child 1", "child 2", "child 3"] {
        assert!(text.contains(name), "{text}");
    }

    for (arguments, complaint) in [
        (
            json!({"service": service, "min_duration": "fast"}),
            "minDuration",
        ),
        (json!({"servce": service}), "servce"),
        (json!({"limit": 1000}), "limit"),
        (json!({"since": "10m", "start": "0"}), "since or start"),
    ] {
        let refused = call_tool(&server, "search_traces", arguments.clone()).await;
        assert_eq!(refused["isError"], true, "{arguments}");
        let message = refused["content"][0]["text"].as_str().unwrap_or_default();
        assert!(message.contains(complaint), "{arguments}: {message}");
    }
    let missing = call_tool(
        &server,
        "get_trace",
        json!({"trace_id": "0".repeat(31) + "1"}),
    )
    .await;
    assert_eq!(missing["isError"], true);
    assert!(
        missing["content"][0]["text"]
            .as_str()
            .is_some_and(|m| m.contains("not found"))
    );
}

/// The local server here never allows deleting; `scripts/test-worker.sh` runs this once more
/// against a Worker started with `MCP_ALLOW_DELETE=true`, telling it so with
/// `OTEL_WORKER_TEST_MCP_ALLOW_DELETE=1`.
#[tokio::test]
async fn deleting_is_offered_and_possible_only_when_the_server_allows_it() {
    let allowed = std::env::var("OTEL_WORKER_TEST_MCP_ALLOW_DELETE").is_ok_and(|v| v == "1");
    let server = TestServer::start();
    let tools = rpc(&server, "tools/list", json!({})).await;
    let delete_tool = tools["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "delete_trace")
        .cloned();
    assert_eq!(delete_tool.is_some(), allowed, "{tools}");
    let trace_id = send_trace(&server, &fresh_service("mcp-delete"), 1).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "delete_trace", "arguments": {"trace_id": trace_id}}});
    let answer: Value = post_mcp(&server, &body.to_string(), &[])
        .await
        .json()
        .await
        .expect("JSON");
    let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    if allowed {
        assert_eq!(
            delete_tool.map(|t| t["annotations"]["destructiveHint"].clone()),
            Some(json!(true))
        );
        assert_eq!(
            answer["result"]["structuredContent"],
            json!({"deleted": true, "traceId": trace_id}),
            "{answer}"
        );
        assert_eq!(status, StatusCode::NOT_FOUND);
    } else {
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn wait_for_traces_returns_the_trace_sent_while_it_waits() {
    let server = TestServer::start();
    let service = fresh_service("mcp-wait");
    let earlier = send_trace(&server, &service, 1).await;
    let waiting = call_tool(
        &server,
        "wait_for_traces",
        json!({"service": service, "timeout_seconds": 20}),
    );
    let send_later = async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        send_trace(&server, &service, 2).await
    };
    let (result, later) = tokio::join!(waiting, send_later);
    assert_eq!(result["structuredContent"]["timedOut"], false, "{result}");
    let ids: Vec<&str> = result["structuredContent"]["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["traceId"].as_str())
        .collect();
    assert_eq!(
        ids,
        [later.as_str()],
        "the trace stored before the call ({earlier}) is not new"
    );

    let nothing = call_tool(
        &server,
        "wait_for_traces",
        json!({"service": fresh_service("mcp-nobody"), "timeout_seconds": 1}),
    )
    .await;
    assert_eq!(nothing["isError"], false);
    assert_eq!(
        nothing["structuredContent"],
        json!({"traces": [], "timedOut": true})
    );
}

#[tokio::test]
async fn metric_tools_list_metrics_and_fold_one_into_steps_with_its_exemplars() {
    let server = TestServer::start();
    let service = fresh_service("mcp-metrics");
    let t = now_ns() - 30 * 1_000_000_000;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let export = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "mcp.requests", "unit": "{request}", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
             "dataPoints": [{"attributes": [{"key": "route", "value": {"stringValue": "/a"}}],
                             "startTimeUnixNano": (t - 1_000_000_000).to_string(), "timeUnixNano": t.to_string(), "asInt": "6",
                             "exemplars": [{"timeUnixNano": t.to_string(), "asInt": "1", "traceId": trace,
                                            "spanId": "00f067aa0ba902b7"}]}]}}]}]}]});
    let response = post_to(
        &server,
        "/v1/metrics",
        "application/json",
        None,
        export.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let listed = call_tool(&server, "list_metrics", json!({"service": service})).await;
    let (_, api) = get_json(&server, &format!("/v1/metrics?service={service}")).await;
    assert_eq!(listed["structuredContent"], api);
    assert!(
        listed["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("mcp.requests [sum (delta, monotonic)]"))
    );

    let metric = call_tool(
        &server,
        "get_metric",
        json!({"name": "mcp.requests", "service": service, "since": "15m"}),
    )
    .await;
    assert_eq!(metric["isError"], false, "{metric}");
    let series = &metric["structuredContent"]["series"];
    assert_eq!(series.as_array().map(Vec::len), Some(1), "{metric}");
    assert_eq!(series[0]["attributes"], json!({"route": "/a"}));
    // 15 minutes in 15 steps: the 6 requests fall in one step of a minute.
    let rates: Vec<f64> = series[0]["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["rate"].as_f64())
        .collect();
    assert_eq!(rates, [0.1], "{metric}");
    let text = metric["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("rate per second per step of 1m"), "{text}");
    assert!(
        text.contains(&format!("in trace {trace} span 00f067aa0ba902b7")),
        "{text}"
    );

    // A name that is not a plain path segment reaches the API intact.
    let spaced = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeMetrics": [{"metrics": [{"name": "mcp queue/depth+1", "gauge": {"dataPoints": [
            {"timeUnixNano": t.to_string(), "asInt": "4"}]}}]}]}]});
    let response = post_to(
        &server,
        "/v1/metrics",
        "application/json",
        None,
        spaced.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let found = call_tool(
        &server,
        "get_metric",
        json!({"name": "mcp queue/depth+1", "service": service}),
    )
    .await;
    assert_eq!(
        found["structuredContent"]["name"], "mcp queue/depth+1",
        "{found}"
    );
    assert_eq!(
        found["structuredContent"]["series"][0]["points"][0]["value"], 4,
        "{found}"
    );

    let missing = call_tool(&server, "get_metric", json!({"name": "mcp.nothing"})).await;
    assert_eq!(missing["isError"], true);
    assert!(
        missing["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("not found"))
    );
}

#[tokio::test]
async fn compare_traces_tells_an_agent_which_operation_got_slower() {
    use opentelemetry_proto::tonic::trace::v1::Span;
    let server = TestServer::start();
    let service = fresh_service("mcp-compare");
    let base = now_ns() - 60_000_000_000;
    // The same request twice: its query takes 20 ms, then 70 ms.
    let request = |query_ms: u64| {
        let trace_id = random_trace_id();
        let mut root = span(&trace_id, None, "GET /orders", base);
        root.end_time_unix_nano = base + (query_ms + 30) * 1_000_000;
        let mut query: Span = span(
            &trace_id,
            Some(&root.span_id),
            "SELECT orders",
            base + 10_000_000,
        );
        query.end_time_unix_nano = base + (10 + query_ms) * 1_000_000;
        (hex::encode(&trace_id), export(&service, vec![root, query]))
    };
    let (a, export_a) = request(20);
    let (b, export_b) = request(70);
    for export in [export_a, export_b] {
        assert_eq!(
            post_protobuf(&server, export.encode_to_vec())
                .await
                .status(),
            reqwest::StatusCode::OK
        );
    }
    let compared = call_tool(&server, "compare_traces", json!({"a": a, "b": b})).await;
    assert_eq!(compared["isError"], false, "{compared}");
    let structured = &compared["structuredContent"];
    assert_eq!(structured["durationDeltaNs"], 50_000_000);
    assert_eq!(structured["matched"], 2);
    let first = &structured["changes"][0];
    assert_eq!(
        first["path"],
        format!("{service}: GET /orders > {service}: SELECT orders")
    );
    assert_eq!(first["selfDeltaNs"], 50_000_000);
    let text = compared["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("+50.0ms self") && text.contains("SELECT orders"),
        "{text}"
    );

    let refused = call_tool(&server, "compare_traces", json!({"a": a})).await;
    assert_eq!(refused["isError"], true);
    assert!(
        refused["content"][0]["text"]
            .as_str()
            .is_some_and(|m| m.contains("b is required"))
    );
}

#[tokio::test]
async fn compare_groups_tells_an_agent_which_operation_regressed_between_versions() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let server = TestServer::start();
    let service = fresh_service("mcp-groups");
    let base = now_ns() - 600_000_000_000;
    // Thirty requests of each version: the query takes 20-29 ms, then 70-79 ms.
    for (version, query_ms) in [("1.0", 20), ("1.1", 70)] {
        let mut spans = Vec::new();
        for i in 0..30u64 {
            let trace_id = random_trace_id();
            let start = base + i * 1_000_000_000;
            let took = (query_ms + i % 10) * 1_000_000;
            let mut root = span(&trace_id, None, "GET /orders", start);
            root.end_time_unix_nano = start + took + 10_000_000;
            let mut query = span(
                &trace_id,
                Some(&root.span_id),
                "SELECT orders",
                start + 5_000_000,
            );
            query.end_time_unix_nano = start + 5_000_000 + took;
            spans.extend([root, query]);
        }
        let mut request = export(&service, spans);
        if let Some(resource) = request.resource_spans[0].resource.as_mut() {
            resource
                .attributes
                .push(kv("service.version", V::StringValue(version.into())));
        }
        assert_eq!(
            post_protobuf(&server, request.encode_to_vec())
                .await
                .status(),
            reqwest::StatusCode::OK
        );
    }
    let compared = call_tool(
        &server,
        "compare_groups",
        json!({
            "baseline": format!("service={service}&attr=service.version=1.0"),
            "candidate": format!("service={service}&attr=service.version=1.1"),
        }),
    )
    .await;
    assert_eq!(compared["isError"], false, "{compared}");
    let structured = &compared["structuredContent"];
    assert_eq!(structured["regressions"], 2, "{structured}");
    assert_eq!(structured["operations"][0]["name"], "SELECT orders");
    assert_eq!(
        structured["operations"][0]["changedIn"],
        json!(["duration", "selfTime"])
    );
    assert_eq!(structured["candidate"]["traces"], 30);
    let text = compared["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("2 operations regressed") && text.contains("p50 +50.0ms"),
        "{text}"
    );

    let refused = call_tool(&server, "compare_groups", json!({"baseline": "service=a"})).await;
    assert_eq!(refused["isError"], true);
    let bad = call_tool(
        &server,
        "compare_groups",
        json!({"baseline": "service=a&limit=3", "candidate": "service=b"}),
    )
    .await;
    assert_eq!(bad["isError"], true, "{bad}");
    assert!(
        bad["content"][0]["text"]
            .as_str()
            .is_some_and(|m| m.contains("limit")),
        "{bad}"
    );
}
