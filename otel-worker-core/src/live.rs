//! The live feed: how a server tells connected WebSocket clients about new spans.
//!
//! The core only announces; each home owns its sockets (a tokio broadcast hub locally,
//! a Durable Object with hibernating WebSockets on Cloudflare).

use async_trait::async_trait;

use crate::models::ServerMessage;

/// Pushes messages to every connected `/api/ws` client.
#[async_trait]
pub trait ServerEvents: Send + Sync + 'static {
    /// Sends `message` to every client. Never fails the caller: a broken client is
    /// dropped and the failure logged, because a stored export must still answer 200.
    async fn broadcast(&self, message: ServerMessage);
}
