//! The live feed on Cloudflare: one [`LiveFeed`] Durable Object holds every `/api/ws`
//! socket with the hibernation API, so idle sockets cost nothing; the Worker tells it
//! about new spans with a `POST /broadcast`.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Response;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use otel_worker_core::api::ApiError;
use otel_worker_core::live::ServerEvents;
use otel_worker_core::models::ServerMessage;
use worker::send::SendFuture;
use worker::{
    DurableObject, Env, Method, ObjectNamespace, Request as WorkerRequest, RequestInit,
    Response as WorkerResponse, State as ObjectState, WebSocket, WebSocketIncomingMessage,
    WebSocketPair, console_error, console_warn, durable_object,
};

/// Every socket lives in one instance, so one broadcast reaches them all.
pub const LIVE_OBJECT_NAME: &str = "live";
/// The path the Worker posts broadcasts to; never reachable from outside.
const BROADCAST_PATH: &str = "/broadcast";

/// The Worker's side of the live feed: forwards upgrades and broadcasts to the object.
#[derive(Clone)]
pub struct LiveEvents {
    namespace: Arc<ObjectNamespace>,
}

impl LiveEvents {
    pub fn new(namespace: ObjectNamespace) -> Self {
        Self {
            namespace: Arc::new(namespace),
        }
    }

    /// The `/api/ws` handler. The core's auth middleware has checked the token before it runs.
    pub fn route(&self) -> MethodRouter {
        get(upgrade).with_state(self.clone())
    }

    async fn forward(&self, request: WorkerRequest) -> worker::Result<WorkerResponse> {
        self.namespace
            .get_by_name(LIVE_OBJECT_NAME)?
            .fetch_with_request(request)
            .await
    }
}

#[worker::send]
async fn upgrade(State(live): State<LiveEvents>, request: Request) -> Response<Body> {
    let forwarded = async {
        let request = WorkerRequest::try_from(request)?;
        live.forward(request).await
    };
    match forwarded.await {
        Ok(response) => response.into(),
        Err(e) => ApiError::LiveFeedUnavailable(e.to_string()).into_response(),
    }
}

#[async_trait]
impl ServerEvents for LiveEvents {
    async fn broadcast(&self, message: ServerMessage) {
        let live = self.clone();
        let sent = SendFuture::new(async move {
            let text = serde_json::to_string(&message)?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_body(Some(wasm_bindgen::JsValue::from_str(&text)));
            let request =
                WorkerRequest::new_with_init(&format!("https://live{BROADCAST_PATH}"), &init)?;
            live.forward(request).await.map(drop)
        })
        .await;
        // The export is already stored: a failed announcement is logged, never returned.
        if let Err(e) = sent {
            console_error!("live feed broadcast failed: {e}");
        }
    }
}

/// The Durable Object that owns the live sockets.
#[durable_object]
pub struct LiveFeed {
    state: ObjectState,
}

impl DurableObject for LiveFeed {
    fn new(state: ObjectState, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut request: WorkerRequest) -> worker::Result<WorkerResponse> {
        if request.method() == Method::Post && request.path() == BROADCAST_PATH {
            let text = request.text().await?;
            let mut delivered = 0;
            for socket in self.state.get_websockets() {
                match socket.send_with_str(&text) {
                    Ok(()) => delivered += 1,
                    // One broken client must not keep the message from the others.
                    Err(e) => {
                        console_warn!("dropping a live client that could not be sent to: {e}");
                        let _ = socket.close(Some(1011), Some("send failed"));
                    }
                }
            }
            return WorkerResponse::ok(delivered.to_string());
        }
        let wants_socket = request
            .headers()
            .get("upgrade")?
            .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
        if !wants_socket {
            return WorkerResponse::error("expected a WebSocket upgrade", 426);
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        WorkerResponse::from_websocket(pair.client)
    }

    async fn websocket_message(
        &self,
        _socket: WebSocket,
        _message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        // The feed is one-way; what clients send is ignored.
        Ok(())
    }

    async fn websocket_close(
        &self,
        socket: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        // Complete the closing handshake; reserved codes (1005, 1006) cannot be echoed.
        let code = u16::try_from(code)
            .ok()
            .filter(|c| *c != 1005 && *c != 1006);
        let _ = socket.close(Some(code.unwrap_or(1000)), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, socket: WebSocket, error: worker::Error) -> worker::Result<()> {
        console_warn!("live client error: {error}");
        let _ = socket.close(Some(1011), Some("error"));
        Ok(())
    }
}
