//! The router in-process (`tower::ServiceExt::oneshot`) on a real SQLite file: the cases
//! that are awkward to cause over the wire, such as a database locked by another process.

mod common;

use std::path::Path;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use otel_worker_cli::live::Hub;
use otel_worker_cli::server::app;
use otel_worker_cli::store::SqliteDatabase;
use otel_worker_core::store::Store;
use prost::Message;
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "handler-test-token";

fn router(path: &Path, token: Option<&str>, max_body_bytes: usize) -> Router {
    let store = Store::new(std::sync::Arc::new(
        SqliteDatabase::open(path).expect("open the database"),
    ));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    app(
        store,
        &Hub::new(rx),
        token.map(str::to_owned),
        max_body_bytes,
        Vec::new(),
        None,
        false,
    )
}

fn request(method: &str, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body)).expect("request")
}

async fn body(response: axum::response::Response) -> Vec<u8> {
    to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec()
}

#[tokio::test]
async fn a_locked_database_answers_503_with_retry_after_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let app = router(&path, Some(TOKEN), otel_worker_core::DEFAULT_MAX_BODY_BYTES);
    let other_process = rusqlite::Connection::open(&path).unwrap();
    other_process.execute_batch("BEGIN IMMEDIATE").unwrap();

    let (trace_id, export) = trace(3, 1_000);
    let response = app
        .clone()
        .oneshot(request(
            "POST",
            "/v1/traces",
            Some("application/x-protobuf"),
            export.encode_to_vec(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let wait: u32 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        otel_worker_core::api::RETRY_AFTER_SECONDS.contains(&wait),
        "Retry-After: {wait}"
    );
    let status = RpcStatus::decode(body(response).await.as_slice()).unwrap();
    assert_eq!(status.code, 14, "UNAVAILABLE");
    assert!(status.message.contains("busy"), "{}", status.message);

    let response = app
        .clone()
        .oneshot(request(
            "POST",
            "/v1/traces",
            Some("application/json"),
            to_json(&export).into_bytes(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let json: Value = serde_json::from_slice(&body(response).await).unwrap();
    assert_eq!(json["error"], "storage-busy");

    other_process.execute_batch("ROLLBACK").unwrap();
    let response = app
        .clone()
        .oneshot(request(
            "GET",
            &format!("/v1/traces/{trace_id}"),
            None,
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "nothing was half stored"
    );

    // Once the lock is gone the exporter's retry succeeds.
    let response = app
        .oneshot(request(
            "POST",
            "/v1/traces",
            Some("application/x-protobuf"),
            export.encode_to_vec(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reply = ExportTraceServiceResponse::decode(body(response).await.as_slice()).unwrap();
    assert_eq!(reply.partial_success, None);
}

#[tokio::test]
async fn protobuf_requests_get_protobuf_errors() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(&dir.path().join("db"), Some(TOKEN), 1024);
    let response = app
        .clone()
        .oneshot(request(
            "POST",
            "/v1/traces",
            Some("application/x-protobuf"),
            b"\x0a\xff\xff\xff".to_vec(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/x-protobuf"
    );
    let status = RpcStatus::decode(body(response).await.as_slice()).unwrap();
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(status.message.contains("protobuf"), "{}", status.message);

    // The limit is configurable and applies to the decompressed size.
    let small = gzip(&vec![b' '; 2048]);
    assert!(small.len() < 1024);
    let mut req = request("POST", "/v1/traces", Some("application/json"), small);
    req.headers_mut()
        .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
    let response = app.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json: Value = serde_json::from_slice(&body(response).await).unwrap();
    assert_eq!(json["error"], "payload-too-large");
    assert!(json["message"].as_str().unwrap().contains("1024 bytes"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(&dir.path().join("db"), Some(TOKEN), 1024);
    for (method, uri, status, code) in [
        ("GET", "/v2/nothing", StatusCode::NOT_FOUND, "not-found"),
        (
            "PUT",
            "/v1/traces",
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        (
            "POST",
            "/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736",
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
    ] {
        let response = app
            .clone()
            .oneshot(request(method, uri, None, vec![]))
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {uri}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let json: Value = serde_json::from_slice(&body(response).await).unwrap();
        assert_eq!(json["error"], code, "{method} {uri}");
    }
}

#[tokio::test]
async fn without_a_token_the_server_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(&dir.path().join("db"), None, 1024);
    let unauthenticated = Request::builder()
        .uri("/v1/traces")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(unauthenticated).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
