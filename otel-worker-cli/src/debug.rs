//! `otel-worker-cli debug ws`: prints the live feed, message by message.

use anyhow::Context;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The WebSocket URL of the live feed of the server at `base_url`.
pub fn live_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| base.to_owned());
    format!("{base}/api/ws")
}

pub async fn watch(base_url: &str, token: Option<String>) -> anyhow::Result<()> {
    let url = live_url(base_url);
    let mut request = url
        .as_str()
        .into_client_request()
        .context("invalid server URL")?;
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).context("invalid token")?;
        request.headers_mut().insert("authorization", value);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| {
            format!("could not open {url} — is the server running, and is the token right?")
        })?;
    eprintln!("connected to {url}; waiting for spans (Ctrl-C to stop)");
    while let Some(message) = socket.next().await {
        match message.context("the live feed broke")? {
            Message::Text(text) => println!("{text}"),
            Message::Close(frame) => {
                eprintln!(
                    "the server closed the feed{}",
                    frame.map(|f| format!(": {}", f.reason)).unwrap_or_default()
                );
                break;
            }
            _ => {}
        }
    }
    Ok(())
}
