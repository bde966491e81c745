//! MCP's Streamable HTTP transport at `/mcp`, served by both homes: each POST carries
//! JSON-RPC messages and gets the answers as one JSON body. Nothing is kept between
//! requests (no `Mcp-Session-Id`, no server-sent stream: GET answers 405), so it works
//! where every request may meet a new isolate. The bearer token and the `Origin` check
//! the MCP specification requires against DNS rebinding run before this, as on every
//! route (`api::auth`, `api::origin`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::Value;
use tower_service::Service;

use super::{ApiFailure, Backend, PROTOCOL_VERSION_HEADER, PROTOCOL_VERSIONS, RpcError, Server};
use crate::api::ApiError;
use crate::models::ErrorBody;

/// What the `/mcp` route needs from its home besides the API itself.
#[async_trait]
pub trait McpHost: Send + Sync + 'static {
    /// Unix time in nanoseconds.
    fn now_ns(&self) -> u64;
    /// Returns once new data may have been stored (the live feed, where the home can
    /// listen to it in process), or after `at_most`.
    async fn news(&self, at_most: Duration);
}

/// How a home configures `/mcp`.
#[derive(Clone)]
pub struct McpOptions {
    /// The home's clock and live feed.
    pub host: Arc<dyn McpHost>,
    /// Whether `delete_trace` is offered (`dev --mcp-allow-delete`, the Worker's
    /// `MCP_ALLOW_DELETE`).
    pub allow_delete: bool,
}

#[derive(Clone)]
struct McpState {
    api: Router,
    options: McpOptions,
}

/// The `/mcp` route over `api`, the router of every other route (without the token
/// check, which already ran for `/mcp`).
pub(crate) fn route(api: Router, options: McpOptions) -> MethodRouter {
    post(handle).with_state(McpState { api, options })
}

async fn handle(
    State(state): State<McpState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(version) = headers.get(PROTOCOL_VERSION_HEADER) {
        let known = version
            .to_str()
            .is_ok_and(|v| PROTOCOL_VERSIONS.contains(&v));
        if !known {
            return ApiError::BadRequest(
                "unsupported-protocol-version",
                format!(
                    "MCP protocol version {version:?} is not supported; this server speaks {PROTOCOL_VERSIONS:?}"
                ),
            )
            .into_response();
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        let answer = super::parse_error("the message is not UTF-8 text".into());
        return (StatusCode::BAD_REQUEST, Json(answer)).into_response();
    };
    let backend = InProcess {
        api: state.api,
        host: state.options.host,
        ui_base: crate::api::public_base(&uri, &headers),
    };
    let server = Server::new(backend, state.options.allow_delete);
    match server.handle_text(text).await {
        // A message that could not be read is a bad request, with the JSON-RPC error as body.
        Some(answer) if answer["error"]["code"] == RpcError::PARSE => {
            (StatusCode::BAD_REQUEST, Json(answer)).into_response()
        }
        Some(answer) => Json(answer).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

/// The tools' backend inside a server: requests go straight to the API's router.
struct InProcess {
    api: Router,
    host: Arc<dyn McpHost>,
    ui_base: String,
}

impl InProcess {
    async fn send(&self, method: &str, path: &str) -> Result<Bytes, ApiFailure> {
        let failure = |message: String| ApiFailure {
            status: 500,
            message,
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .map_err(|e| failure(format!("could not build the request for {path}: {e}")))?;
        let response = match self.api.clone().call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failure(format!("could not read the API's answer: {e}")))?
            .to_bytes();
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        Err(ApiFailure {
            status: status.as_u16(),
            message,
        })
    }
}

#[async_trait]
impl Backend for InProcess {
    async fn get(&self, path: &str) -> Result<Value, ApiFailure> {
        let body = self.send("GET", path).await?;
        serde_json::from_slice(&body).map_err(|e| ApiFailure {
            status: 500,
            message: format!("the API's answer to {path} is not JSON: {e}"),
        })
    }

    async fn delete(&self, path: &str) -> Result<(), ApiFailure> {
        self.send("DELETE", path).await.map(drop)
    }

    fn now_ns(&self) -> u64 {
        self.host.now_ns()
    }

    async fn news(&self, at_most: Duration) {
        self.host.news(at_most).await
    }

    fn ui_base(&self) -> &str {
        &self.ui_base
    }
}
