//! The local live feed: a tokio broadcast channel fanned out to every `/api/ws` socket.
//! Announcing is a channel send, so an export never waits for a client; each socket's
//! task coalesces what it receives into at most one message per
//! [`COALESCE_INTERVAL_MS`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use otel_worker_core::api::ApiError;
use otel_worker_core::api::auth::WEBSOCKET_PROTOCOL;
use otel_worker_core::api::mcp::http::McpHost;
use otel_worker_core::live::{COALESCE_INTERVAL_MS, Coalescer, ServerEvents};
use otel_worker_core::models::ServerMessage;
use tokio::sync::{broadcast, watch};

/// Announcements kept for the sockets (one buffer, shared). A socket that falls further
/// behind is closed, and its client reconnects: nothing it does holds more than this.
pub const DEFAULT_SOCKET_BUFFER: usize = 256;

/// Live sockets at once; past it, `/api/ws` answers 503 and the client retries.
pub const MAX_LIVE_SOCKETS: usize = 256;

/// How long one message may take to reach a client before the socket is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Fans messages out to the connected sockets and closes them on shutdown.
pub struct Hub {
    sender: broadcast::Sender<Arc<ServerMessage>>,
    shutdown: watch::Receiver<bool>,
    sockets: Arc<tokio::sync::Semaphore>,
}

impl Hub {
    /// A hub whose sockets close once `shutdown` turns `true`.
    pub fn new(shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let (sender, _) = broadcast::channel(DEFAULT_SOCKET_BUFFER);
        Arc::new(Self {
            sender,
            shutdown,
            sockets: Arc::new(tokio::sync::Semaphore::new(MAX_LIVE_SOCKETS)),
        })
    }

    /// The `/api/ws` handler, for [`otel_worker_core::Builder::live_route`].
    pub fn route(self: &Arc<Self>) -> MethodRouter {
        get(upgrade).with_state(self.clone())
    }
}

/// What `/mcp` needs from the local server: the clock, and the live feed to wake
/// `wait_for_traces` as soon as something is stored.
#[async_trait::async_trait]
impl McpHost for Hub {
    fn now_ns(&self) -> u64 {
        crate::now_ns()
    }

    async fn news(&self, at_most: Duration) {
        let mut messages = self.sender.subscribe();
        // Any outcome (an announcement, a lagging or closed channel, the time) means: look again.
        let _ = tokio::time::timeout(at_most, messages.recv()).await;
    }
}

impl ServerEvents for Hub {
    fn announce(&self, message: ServerMessage) {
        // With nobody listening there is nothing to do; an error only means the same.
        if self.sender.receiver_count() > 0 {
            drop(self.sender.send(Arc::new(message)));
        }
    }
}

async fn upgrade(State(hub): State<Arc<Hub>>, ws: WebSocketUpgrade) -> Response {
    let Ok(place) = hub.sockets.clone().try_acquire_owned() else {
        return ApiError::LiveFeedUnavailable(format!(
            "{MAX_LIVE_SOCKETS} clients are following the live feed already; retry later"
        ))
        .into_response();
    };
    // Subscribe before answering 101, so every export the client makes after its
    // handshake completes is announced to it. A client that authenticated with the
    // bearer subprotocol gets `otel-worker` selected, as browsers require.
    let messages = hub.sender.subscribe();
    ws.protocols([WEBSOCKET_PROTOCOL])
        .on_upgrade(move |socket| async move {
            serve(socket, hub, messages).await;
            drop(place);
        })
}

async fn serve(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    mut messages: broadcast::Receiver<Arc<ServerMessage>>,
) {
    let mut shutdown = hub.shutdown.clone();
    let stopping = async move {
        // The guard `wait_for` returns is not `Send`: drop it before the next await.
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    };
    tokio::pin!(stopping);
    let mut pending = Coalescer::default();
    let mut flush = tokio::time::interval(Duration::from_millis(COALESCE_INTERVAL_MS));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::debug!("live client connected");
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(message) => pending.push(ServerMessage::clone(&message)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live client is too slow: closing its socket");
                    let frame = CloseFrame {
                        code: close_code::AGAIN,
                        reason: "too slow to follow the feed; reconnect".into(),
                    };
                    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = flush.tick(), if !pending.is_empty() => {
                let (messages, missed) = pending.take();
                if missed > 0 {
                    tracing::warn!(missed, "a live client is too slow and missed spans or logs");
                }
                let mut gone = false;
                for message in messages {
                    match serde_json::to_string(&message) {
                        Ok(text) => {
                            let sent = tokio::time::timeout(
                                SEND_TIMEOUT,
                                socket.send(Message::Text(text.into())),
                            )
                            .await;
                            if !matches!(sent, Ok(Ok(()))) {
                                gone = true;
                                break;
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "could not encode a live message"),
                    }
                }
                if gone {
                    break;
                }
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by axum; text from clients is not part of the protocol.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = &mut stopping => {
                let frame = CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
    tracing::debug!("live client disconnected");
}
