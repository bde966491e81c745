//! `otel-worker-cli client traces tail` and `client logs tail`: one line per span or log
//! record as the server stores it, read
//! from the live feed (`/api/ws`), reconnecting with backoff when the server goes away.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use otel_worker_core::api::auth::{WEBSOCKET_PROTOCOL, bearer_protocol};
use otel_worker_core::models::{LiveLog, LiveSpan, ServerMessage, StatusCode};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::view;

/// The first wait before reconnecting; it doubles after each failed attempt.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What to print: spans or log records, and which.
#[derive(Debug, Clone)]
pub enum Follow {
    Spans {
        service: Option<String>,
        status: Option<StatusCode>,
    },
    Logs {
        service: Option<String>,
        /// This severity number and above.
        min_severity: Option<i32>,
    },
}

impl Follow {
    fn what(&self) -> &'static str {
        match self {
            Self::Spans { .. } => "spans",
            Self::Logs { .. } => "log records",
        }
    }

    /// The lines to print for one live message (JSON lines with `json`).
    fn lines(&self, message: ServerMessage, json: bool) -> Vec<String> {
        let same_service =
            |wanted: &Option<String>, got: &Option<String>| wanted.is_none() || wanted == got;
        match (self, message) {
            (Self::Spans { service, status }, ServerMessage::SpanAdded { spans, .. }) => spans
                .iter()
                .filter(|s| same_service(service, &s.service_name))
                .filter(|s| status.is_none_or(|wanted| s.status == wanted))
                .map(|s| if json { json_line(s) } else { line(s) })
                .collect(),
            (
                Self::Logs {
                    service,
                    min_severity,
                },
                ServerMessage::LogAdded { logs },
            ) => logs
                .iter()
                .filter(|l| same_service(service, &l.service_name))
                .filter(|l| min_severity.is_none_or(|min| l.severity_number >= min))
                .map(|l| if json { json_line(l) } else { log_line(l) })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// What the feed announced about one span or record, as one JSON line.
fn json_line<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

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

/// Prints matching spans until interrupted. Refused tokens end the tail at once; any
/// other failure (server restarting, network) is retried with backoff.
pub async fn run(
    base_url: &str,
    token: Option<String>,
    follow: Follow,
    json: bool,
) -> anyhow::Result<()> {
    let url = live_url(base_url);
    let mut backoff = INITIAL_BACKOFF;
    let mut connected_before = false;
    loop {
        let mut request = url
            .as_str()
            .into_client_request()
            .context("invalid server URL")?;
        // The token travels as a subprotocol, as browsers send it: it never appears in a
        // URL, and the server must select `otel-worker` for the handshake to complete.
        if let Some(token) = &token {
            let offer = format!("{WEBSOCKET_PROTOCOL}, {}", bearer_protocol(token));
            let value = HeaderValue::from_str(&offer).context("invalid token")?;
            request
                .headers_mut()
                .insert("sec-websocket-protocol", value);
        }
        let reason = match tokio_tungstenite::connect_async(request).await {
            Ok((mut socket, _)) => {
                backoff = INITIAL_BACKOFF;
                eprintln!(
                    "{} {url}; waiting for {} (Ctrl-C to stop)",
                    if connected_before {
                        "reconnected to"
                    } else {
                        "connected to"
                    },
                    follow.what()
                );
                connected_before = true;
                loop {
                    match socket.next().await {
                        Some(Ok(Message::Text(text))) => print_message(&text, &follow, json),
                        Some(Ok(Message::Close(frame))) => {
                            break frame
                                .map(|f| format!("the server closed the feed: {}", f.reason))
                                .unwrap_or_else(|| "the server closed the feed".into());
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break format!("the feed broke: {e}"),
                        None => break "the feed ended".into(),
                    }
                }
            }
            Err(WsError::Http(response)) if response.status() == 401 => {
                bail!("401: the server refused the token: pass --auth-token or set AUTH_TOKEN")
            }
            Err(e) => format!("cannot connect to {url}: {e}"),
        };
        eprintln!("{reason}; retrying in {:.1}s", backoff.as_secs_f64());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn print_message(text: &str, follow: &Follow, json: bool) {
    let Ok(message) = serde_json::from_str::<ServerMessage>(text) else {
        tracing::debug!("ignoring a live message this client does not know: {text}");
        return;
    };
    for line in follow.lines(message, json) {
        println!("{line}");
    }
}

/// One span as a tail line: time, service, name, duration, status, trace id.
pub fn line(span: &LiveSpan) -> String {
    let status = match span.status {
        StatusCode::Error => "ERROR",
        StatusCode::Ok => "ok",
        StatusCode::Unset => "-",
    };
    format!(
        "{}  {:<16}  {:<32}  {:>9}  {:<5}  {}{}",
        view::instant(span.start_time_unix_nano),
        span.service_name.as_deref().unwrap_or("(no service)"),
        span.name,
        otel_worker_core::duration::human(span.duration_ns),
        status,
        span.trace_id,
        if span.parent_span_id.is_none() {
            "  (root)"
        } else {
            ""
        },
    )
}

/// One log record as a tail line: time, severity, service, body, trace id.
pub fn log_line(log: &LiveLog) -> String {
    format!(
        "{}  {:<5}  {:<16}  {}{}",
        view::instant(log.time_unix_nano),
        view::severity(log.severity_number, &log.severity_text),
        log.service_name.as_deref().unwrap_or("(no service)"),
        view::one_line(&log.body, 120),
        log.trace_id
            .as_deref()
            .map(|id| format!("  {id}"))
            .unwrap_or_default(),
    )
}
