//! The MCP (Model Context Protocol) server: tools that let a coding agent find a failing or
//! slow request and read what happened, without flooding its context.
//!
//! One implementation for every transport. The tools (`tools.rs`) ask the HTTP API their
//! questions through a [`Backend`]: in process for the `/mcp` route of both homes
//! ([`http`]), over the network for the CLI's stdio server. So an MCP answer is always the
//! API's answer, with the same filters, limits and errors. This module speaks JSON-RPC 2.0
//! and the MCP methods a tools-and-resources server needs; it keeps no state between
//! messages, so any isolate can answer any request.

pub mod http;
mod render;
mod tools;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

/// MCP versions this server speaks, newest first. A client asking for another gets the
/// newest, as the protocol's version negotiation says.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// The header Streamable HTTP clients send with the negotiated version.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

/// Told to the agent at initialisation: how the tools fit together.
const INSTRUCTIONS: &str = "otel-worker holds the OpenTelemetry traces and logs an application sent. \
To find a failing or slow request: search_traces (service, status=error, min_duration, attributes, \
text, since) lists trace summaries, newest first; get_trace shows one trace as a compact tree \
(attributes only on error spans unless asked); get_trace_errors gives a trace's error spans with \
their exceptions and their path from the root; compare_traces tells which operation got slower \
or started failing between two traces of the same request; get_span gives every detail of a few spans; \
get_trace_logs and search_logs read log records. list_metrics and get_metric show what a counter, gauge \
or histogram did over time (rates and percentiles per step, exemplars that lead to traces). list_services \
and get_stats say what is stored. \
To catch the trace of a request you are about to make, call wait_for_traces right before or while \
it runs. Every list is bounded: when a result says more exist, narrow the filters or pass its cursor.";

/// A request to the HTTP API that did not succeed, as the API explained it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    /// The HTTP status (0 when the API could not be reached).
    pub status: u16,
    pub message: String,
}

/// How the tools reach an otel-worker and its surroundings.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The JSON body of `GET path` (path and query) of the HTTP API.
    async fn get(&self, path: &str) -> Result<Value, ApiFailure>;
    /// `DELETE path` of the HTTP API.
    async fn delete(&self, path: &str) -> Result<(), ApiFailure>;
    /// Unix time in nanoseconds, for `since`.
    fn now_ns(&self) -> u64;
    /// Returns once something new may have been stored, or after `at_most`.
    async fn news(&self, at_most: Duration);
    /// Where the web UI is, without a trailing slash: results link to its trace pages.
    fn ui_base(&self) -> &str;
}

/// A JSON-RPC error: the protocol's, not a tool's (a tool's failure is a result with
/// `isError`, so the model can read it and try again).
#[derive(Debug)]
pub(crate) struct RpcError {
    code: i64,
    message: String,
}

impl RpcError {
    pub(crate) const PARSE: i64 = -32700;
    const INVALID_REQUEST: i64 = -32600;
    const METHOD_NOT_FOUND: i64 = -32601;
    const INVALID_PARAMS: i64 = -32602;
    /// MCP's "resource not found".
    const RESOURCE_NOT_FOUND: i64 = -32002;

    pub(crate) fn invalid_params(message: impl Into<String>) -> Self {
        Self {
            code: Self::INVALID_PARAMS,
            message: message.into(),
        }
    }
}

/// The MCP server over a [`Backend`].
pub struct Server<B> {
    backend: B,
    allow_delete: bool,
}

impl<B: Backend> Server<B> {
    /// `allow_delete` lists and permits `delete_trace`, the one tool that changes data.
    pub fn new(backend: B, allow_delete: bool) -> Self {
        Self {
            backend,
            allow_delete,
        }
    }

    /// Answers one transport message: a JSON-RPC request, notification or batch. `None`
    /// when nothing is to be sent back (only notifications or responses). A message that
    /// is not JSON gets a parse error.
    pub async fn handle_text(&self, text: &str) -> Option<Value> {
        match serde_json::from_str::<Value>(text) {
            Ok(message) => self.handle(message).await,
            Err(e) => Some(parse_error(format!("the message is not JSON: {e}"))),
        }
    }

    /// [`Self::handle_text`] for a parsed message.
    pub async fn handle(&self, message: Value) -> Option<Value> {
        match message {
            Value::Array(batch) => {
                let mut answers = Vec::new();
                for message in batch {
                    answers.extend(self.handle_one(message).await);
                }
                (!answers.is_empty()).then_some(Value::Array(answers))
            }
            message => self.handle_one(message).await,
        }
    }

    async fn handle_one(&self, message: Value) -> Option<Value> {
        let Value::Object(mut message) = message else {
            return Some(error_response(
                Value::Null,
                RpcError {
                    code: RpcError::INVALID_REQUEST,
                    message: "a JSON-RPC message is an object".into(),
                },
            ));
        };
        let id = message.remove("id");
        let method = match message.remove("method") {
            Some(Value::String(method)) => method,
            // A response to a request we never make, or garbage without an id: nothing to say.
            _ => {
                return id.map(|id| {
                    error_response(
                        id,
                        RpcError {
                            code: RpcError::INVALID_REQUEST,
                            message: "a request needs a method".into(),
                        },
                    )
                });
            }
        };
        let params = message.remove("params").unwrap_or(Value::Null);
        // Notifications (`notifications/initialized`, `notifications/cancelled`) need no answer.
        let id = id?;
        Some(match self.call(&method, params).await {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => error_response(id, error),
        })
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "initialize" => Ok(initialize(&params)),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({"tools": tools::catalogue(self.allow_delete)})),
            "tools/call" => {
                let name = params
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RpcError::invalid_params("tools/call needs a tool name"))?;
                let arguments = params.get("arguments").cloned().unwrap_or(json!({}));
                tools::call(&self.backend, self.allow_delete, name, arguments).await
            }
            "resources/list" => {
                let cursor = params.get("cursor").and_then(Value::as_str);
                tools::list_resources(&self.backend, cursor).await
            }
            "resources/templates/list" => {
                Ok(json!({"resourceTemplates": [tools::trace_template()]}))
            }
            "resources/read" => {
                let uri = params
                    .get("uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RpcError::invalid_params("resources/read needs a uri"))?;
                tools::read_resource(&self.backend, uri).await
            }
            other => Err(RpcError {
                code: RpcError::METHOD_NOT_FOUND,
                message: format!("this server has no method {other:?}"),
            }),
        }
    }
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": false},
            "resources": {"listChanged": false, "subscribe": false},
        },
        "serverInfo": {
            "name": "otel-worker",
            "title": "otel-worker traces and logs",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": INSTRUCTIONS,
    })
}

/// The answer to a message that could not be read.
pub(crate) fn parse_error(message: String) -> Value {
    error_response(
        Value::Null,
        RpcError {
            code: RpcError::PARSE,
            message,
        },
    )
}

fn error_response(id: Value, error: RpcError) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": error.code, "message": error.message},
    })
}
