//! The local live feed: a tokio broadcast channel fanned out to every `/api/ws` socket.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use otel_worker_core::live::ServerEvents;
use otel_worker_core::models::ServerMessage;
use tokio::sync::{broadcast, watch};

/// Messages buffered per socket before a slow client starts missing them.
pub const DEFAULT_SOCKET_BUFFER: usize = 1024;

/// Fans messages out to the connected sockets and closes them on shutdown.
pub struct Hub {
    sender: broadcast::Sender<Arc<str>>,
    shutdown: watch::Receiver<bool>,
}

impl Hub {
    /// A hub whose sockets close once `shutdown` turns `true`.
    pub fn new(shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let (sender, _) = broadcast::channel(DEFAULT_SOCKET_BUFFER);
        Arc::new(Self { sender, shutdown })
    }

    /// The `/api/ws` handler, for [`otel_worker_core::Builder::live_route`].
    pub fn route(self: &Arc<Self>) -> MethodRouter {
        get(upgrade).with_state(self.clone())
    }
}

#[async_trait]
impl ServerEvents for Hub {
    async fn broadcast(&self, message: ServerMessage) {
        // Encoding costs real time at full ingest speed; skip it when nobody listens.
        if self.sender.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(&message) {
            // An error only means nobody is listening.
            Ok(text) => drop(self.sender.send(text.into())),
            Err(e) => tracing::error!(error = %e, "could not encode a live message"),
        }
    }
}

async fn upgrade(State(hub): State<Arc<Hub>>, ws: WebSocketUpgrade) -> Response {
    // Subscribe before answering 101, so every export the client makes after its
    // handshake completes is announced to it.
    let messages = hub.sender.subscribe();
    ws.on_upgrade(move |socket| serve(socket, hub, messages))
}

async fn serve(mut socket: WebSocket, hub: Arc<Hub>, mut messages: broadcast::Receiver<Arc<str>>) {
    let mut shutdown = hub.shutdown.clone();
    let stopping = async move {
        // The guard `wait_for` returns is not `Send`: drop it before the next await.
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    };
    tokio::pin!(stopping);
    tracing::debug!("live client connected");
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live client is too slow and missed messages");
                }
                Err(broadcast::error::RecvError::Closed) => break,
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
