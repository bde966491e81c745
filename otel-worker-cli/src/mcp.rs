//! `otel-worker-cli mcp`: the MCP server on stdio, for agents that start their tools as
//! processes (Claude Code, Claude Desktop, Cursor, VS Code). It serves the core's tools
//! over the HTTP API of any otel-worker, local or deployed: one JSON-RPC message per line
//! on stdin, one answer per line on stdout, logs on stderr. Requests run concurrently, so
//! a `wait_for_traces` does not hold up the agent's other calls.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use otel_worker_core::api::mcp::{ApiFailure, Backend, Server};
use otel_worker_core::client::{Client, ClientError};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::client::Connection;

/// `otel-worker-cli mcp`.
#[derive(clap::Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Offer the `delete_trace` tool, which deletes a trace with its spans and log records.
    #[arg(long)]
    pub allow_delete: bool,
}

/// Serves stdin until it closes.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let client = args.connection.client();
    tracing::info!(
        server = client.base_url(),
        "serving MCP on stdio (one JSON-RPC message per line)"
    );
    let server = Arc::new(Server::new(Remote { client }, args.allow_delete));
    let (answers, mut outbox) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(answer) = outbox.recv().await {
            let mut line = answer.to_string();
            line.push('\n');
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut running = tokio::task::JoinSet::new();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let (server, answers) = (server.clone(), answers.clone());
        running.spawn(async move {
            if let Some(answer) = server.handle_text(&line).await {
                // The writer only stops when stdout is gone; then nobody can be told.
                let _ = answers.send(answer);
            }
        });
        // Finished requests are collected as we go, so the set stays small.
        while running.try_join_next().is_some() {}
    }
    // stdin closed: the client is done; let the requests in flight answer.
    while running.join_next().await.is_some() {}
    drop(answers);
    let _ = writer.await;
    Ok(())
}

/// The tools' backend in the CLI: the HTTP API of the server the client settings name.
struct Remote {
    client: Client,
}

fn failure(error: ClientError) -> ApiFailure {
    let status = match &error {
        ClientError::Unauthorized => 401,
        ClientError::NotFound(_) => 404,
        ClientError::Api { status, .. } => *status,
        _ => 0,
    };
    let message = match error {
        ClientError::NotFound(message) | ClientError::Api { message, .. } => message,
        other => other.to_string(),
    };
    ApiFailure { status, message }
}

#[async_trait]
impl Backend for Remote {
    async fn get(&self, path: &str) -> Result<Value, ApiFailure> {
        self.client.get(path).await.map_err(failure)
    }

    async fn delete(&self, path: &str) -> Result<(), ApiFailure> {
        self.client.delete(path).await.map_err(failure)
    }

    fn now_ns(&self) -> u64 {
        crate::now_ns()
    }

    /// No feed to listen to from here: the tool looks again after `at_most` (a second).
    async fn news(&self, at_most: Duration) {
        tokio::time::sleep(at_most).await;
    }

    fn ui_base(&self) -> &str {
        self.client.base_url().trim_end_matches('/')
    }
}
