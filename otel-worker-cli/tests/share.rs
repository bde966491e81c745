//! Share links, black-box against either home: a link shows its one trace without the
//! token, and nothing else, until it expires or is revoked.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use otel_worker_core::share::{Grant, ShareKey};
use prost::Message;
use serde_json::{Value, json};

/// A trace of 3 spans with one log record, stored; its id.
async fn stored_trace(server: &TestServer) -> String {
    let (trace_id, request) = trace(3, now_ns() - 60_000_000_000);
    let response = post_protobuf(server, request.encode_to_vec()).await;
    assert_eq!(response.status(), 200, "{}", server.label);
    let log = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"scope": {}, "logRecords": [{
            "timeUnixNano": (now_ns() - 59_000_000_000).to_string(),
            "severityNumber": 17,
            "body": {"stringValue": "payment declined"},
            "traceId": trace_id,
        }]}]
    }]});
    let response = post_to(
        server,
        "/v1/logs",
        "application/json",
        None,
        log.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", server.label);
    trace_id
}

/// `POST /v1/traces/{id}/share` with the token: the status and the body.
async fn share(server: &TestServer, trace_id: &str, query: &str) -> (u16, Value) {
    let response = common::send(
        server
            .http()
            .post(server.url(&format!("/v1/traces/{trace_id}/share{query}")))
            .header("authorization", server.auth()),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` with no token at all: the status and the body (`null` if not JSON).
async fn get_anonymous(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server
        .http()
        .get(server.url(path))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn revoke(server: &TestServer, token: &str, authorization: Option<String>) -> u16 {
    let mut request = server
        .http()
        .delete(server.url(&format!("/v1/shares/{token}")));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    common::send(request).await.status().as_u16()
}

#[tokio::test]
async fn a_share_link_shows_its_trace_spans_and_logs_without_the_token() {
    let server = TestServer::start();
    let trace_id = stored_trace(&server).await;
    let (status, link) = share(&server, &trace_id, "?expires=24h").await;
    assert_eq!(status, 201, "{link}");
    let token = link["token"].as_str().expect("a token");
    assert_eq!(link["traceId"], trace_id.as_str());
    assert_eq!(link["path"], format!("/#share={token}"));
    assert!(
        link["url"]
            .as_str()
            .is_some_and(|url| url.ends_with(&format!("/#share={token}"))),
        "{link}"
    );
    let expires = link["expiresAt"].as_str().expect("expiresAt");
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
    let lasts = expires.unix_timestamp() - (now_ns() / 1_000_000_000) as i64;
    assert!((24 * 3600 - 60..=24 * 3600).contains(&lasts), "{lasts}s");

    // The same answers as the token routes give.
    let (status, shared) = get_anonymous(&server, &format!("/v1/shared/{token}")).await;
    assert_eq!(status, 200, "{shared}");
    let (_, with_token) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(shared, with_token);
    assert_eq!(shared["spans"].as_array().map(Vec::len), Some(3));
    let (status, logs) = get_anonymous(&server, &format!("/v1/shared/{token}/logs")).await;
    assert_eq!(status, 200);
    assert_eq!(logs["logs"][0]["body"], "payment declined");
    let (status, file) = get_anonymous(&server, &format!("/v1/shared/{token}/otlp")).await;
    assert_eq!(status, 200);
    let (_, file_with_token) = get_json(&server, &format!("/v1/traces/{trace_id}/otlp")).await;
    assert_eq!(file, file_with_token);

    // The page the link names is the UI's, which anyone may load.
    let page = server.http().get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn a_share_link_cannot_be_changed_to_show_another_trace() {
    let server = TestServer::start();
    let shared = stored_trace(&server).await;
    let other = stored_trace(&server).await;
    let (_, link) = share(&server, &shared, "").await;
    let token = link["token"].as_str().expect("a token");
    let mut bytes = URL_SAFE_NO_PAD.decode(token).expect("base64url");
    // Bytes 1 to 16 are the trace id: put the other trace's there.
    bytes[1..17].copy_from_slice(&hex::decode(&other).unwrap());
    let forged = URL_SAFE_NO_PAD.encode(&bytes);
    for path in ["", "/logs", "/otlp"] {
        let (status, body) = get_anonymous(&server, &format!("/v1/shared/{forged}{path}")).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.to_string().contains(&other), "{body}");
    }
    // A link signed with another token's key opens nothing either.
    let grant = Grant {
        trace_id: other.clone(),
        expires_s: now_ns() / 1_000_000_000 + 3600,
        share_id: "0011223344556677".into(),
    };
    let foreign = ShareKey::derive(b"some other token").sign(&grant).unwrap();
    let (status, _) = get_anonymous(&server, &format!("/v1/shared/{foreign}")).await;
    assert_eq!(status, 404);
    // While the same grant signed with this server's token's key does.
    let genuine = ShareKey::derive(server.token.as_bytes())
        .sign(&grant)
        .unwrap();
    let (status, body) = get_anonymous(&server, &format!("/v1/shared/{genuine}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["traceId"], other.as_str());
}

#[tokio::test]
async fn a_share_link_reaches_no_other_route() {
    let server = TestServer::start();
    let trace_id = stored_trace(&server).await;
    let (_, link) = share(&server, &trace_id, "").await;
    let token = link["token"].as_str().expect("a token").to_owned();
    for path in [
        "/v1/traces".to_owned(),
        format!("/v1/traces/{trace_id}"),
        format!("/v1/traces/{trace_id}/spans"),
        format!("/v1/traces/{trace_id}/logs"),
        "/v1/logs".to_owned(),
        "/v1/metrics".to_owned(),
        "/v1/services".to_owned(),
        "/v1/stats".to_owned(),
        "/v1/attributes".to_owned(),
        "/v1/export/traces".to_owned(),
    ] {
        // Not without a token, and not with the link's token in its place.
        let (status, _) = get_anonymous(&server, &path).await;
        assert_eq!(status, 401, "{path}");
        let response = server
            .http()
            .get(server.url(&path))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path} with the link's token");
    }
    // Routes under the link's prefix that are not its three: nothing.
    for path in ["/spans", "/stats", "/../../traces", "/logs/x"] {
        let (status, body) = get_anonymous(&server, &format!("/v1/shared/{token}{path}")).await;
        assert!(status == 404 || status == 401, "{path}: {status} {body}");
        assert!(!body.to_string().contains("spanId"), "{path}: {body}");
    }
    // Nothing but reading: no export, no delete, no share through the link.
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        let response = server
            .http()
            .request(method.clone(), server.url(&format!("/v1/shared/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method}");
    }
    assert_eq!(revoke(&server, &token, None).await, 401);
    let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(status, 200, "the trace is still there");
}

#[tokio::test]
async fn a_revoked_share_link_stops_working_and_others_do_not() {
    let server = TestServer::start();
    let trace_id = stored_trace(&server).await;
    let (_, first) = share(&server, &trace_id, "").await;
    let (_, second) = share(&server, &trace_id, "").await;
    let (first, second) = (
        first["token"].as_str().unwrap().to_owned(),
        second["token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(first, second, "each share is its own link");
    assert_eq!(revoke(&server, &first, Some(server.auth())).await, 204);
    for path in ["", "/logs", "/otlp"] {
        let (status, body) = get_anonymous(&server, &format!("/v1/shared/{first}{path}")).await;
        assert_eq!(status, 410, "{path}: {body}");
        assert_eq!(body["error"], "share-revoked");
    }
    assert_eq!(revoke(&server, &first, Some(server.auth())).await, 204);
    let (status, _) = get_anonymous(&server, &format!("/v1/shared/{second}")).await;
    assert_eq!(status, 200);
    // Revoking what this server never signed is a 404.
    assert_eq!(revoke(&server, "AAAA", Some(server.auth())).await, 404);
}

#[tokio::test]
async fn an_expired_share_link_stops_working() {
    let server = TestServer::start();
    let trace_id = stored_trace(&server).await;
    // A link made by this server's key that expired a second ago, as if made long ago.
    let grant = Grant {
        trace_id: trace_id.clone(),
        expires_s: now_ns() / 1_000_000_000 - 1,
        share_id: "8899aabbccddeeff".into(),
    };
    let expired = ShareKey::derive(server.token.as_bytes())
        .sign(&grant)
        .unwrap();
    for path in ["", "/logs", "/otlp"] {
        let (status, body) = get_anonymous(&server, &format!("/v1/shared/{expired}{path}")).await;
        assert_eq!(status, 410, "{path}: {body}");
        assert_eq!(body["error"], "share-expired");
    }
    // A deleted trace's link finds nothing.
    let (_, link) = share(&server, &trace_id, "").await;
    let response = delete(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(response.status(), 204);
    let (status, _) = get_anonymous(
        &server,
        &format!("/v1/shared/{}", link["token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sharing_needs_an_existing_trace_and_an_expiry_from_a_minute_to_90_days() {
    let server = TestServer::start();
    let trace_id = stored_trace(&server).await;
    for bad in ["?expires=91d", "?expires=30s", "?expires=soon", "?until=1h"] {
        let (status, body) = share(&server, &trace_id, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid-query", "{bad}");
    }
    let (status, body) = share(&server, &trace_id, "?expires=90d").await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = share(&server, "0123456789abcdef0123456789abcdef", "").await;
    assert_eq!(status, 404);
    let (status, _) = share(&server, "not-a-trace-id", "").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_server_without_a_token_makes_no_share_links() {
    let (mut child, base_url, _log) = spawn_dev(&["--in-memory".as_ref()]);
    let http = reqwest::Client::new();
    let (trace_id, request) = trace(1, now_ns() - 1_000_000_000);
    let response = http
        .post(format!("{base_url}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http
        .post(format!("{base_url}/v1/traces/{trace_id}/share"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no-token", "{body}");
    let _ = child.kill();
}
