//! `otel-worker-cli client ...`: the API from the terminal.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use otel_worker_core::client::{Client, list_path};
use otel_worker_core::query;
use serde_json::Value;

use crate::view;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Traces: list, show, delete.
    Traces {
        #[command(subcommand)]
        command: TracesCommand,
    },
    /// Spans of one trace: list, show, delete.
    Spans {
        #[command(subcommand)]
        command: SpansCommand,
    },
    /// Post an OTLP/JSON export file (e.g. examples/send-trace/trace.json).
    Send { file: PathBuf },
}

#[derive(Subcommand)]
pub enum TracesCommand {
    /// The newest traces first.
    List {
        /// How many traces (1 to 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Only traces that started before this time (RFC 3339 or unix nanoseconds).
        #[arg(long)]
        before: Option<String>,
    },
    /// One trace as a tree of spans.
    Get { trace_id: String },
    /// Delete every span of a trace.
    Delete { trace_id: String },
}

#[derive(Subcommand)]
pub enum SpansCommand {
    /// Every span of a trace.
    List { trace_id: String },
    /// One span with its attributes, events and links.
    Get { trace_id: String, span_id: String },
    /// Delete one span.
    Delete { trace_id: String, span_id: String },
}

pub async fn run(client: Client, json: bool, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Traces { command } => traces(&client, json, command).await,
        ClientCommand::Spans { command } => spans(&client, json, command).await,
        ClientCommand::Send { file } => send(&client, json, &file).await,
    }
}

/// Checks an id locally so a typo gets a precise message without a round trip.
fn trace_id(text: &str) -> anyhow::Result<String> {
    query::trace_id(text).map_err(|e| anyhow::anyhow!("{e}"))
}

fn span_id(text: &str) -> anyhow::Result<String> {
    query::span_id(text).map_err(|e| anyhow::anyhow!("{e}"))
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn traces(client: &Client, json: bool, command: TracesCommand) -> anyhow::Result<()> {
    match command {
        TracesCommand::List { limit, before } => {
            if json {
                print_json(&client.get(&list_path(limit, before.as_deref())).await?)
            } else {
                let list = client.list_traces(limit, before.as_deref()).await?;
                println!("{}", view::trace_table(&list.traces));
                Ok(())
            }
        }
        TracesCommand::Get { trace_id: id } => {
            let id = trace_id(&id)?;
            if json {
                print_json(&client.get(&format!("/v1/traces/{id}")).await?)
            } else {
                print!("{}", view::trace_tree(&client.trace(&id).await?));
                Ok(())
            }
        }
        TracesCommand::Delete { trace_id: id } => {
            let id = trace_id(&id)?;
            client.delete_trace(&id).await?;
            if !json {
                println!("deleted trace {id}");
            }
            Ok(())
        }
    }
}

async fn spans(client: &Client, json: bool, command: SpansCommand) -> anyhow::Result<()> {
    match command {
        SpansCommand::List { trace_id: id } => {
            let id = trace_id(&id)?;
            if json {
                print_json(&client.get(&format!("/v1/traces/{id}/spans")).await?)
            } else {
                println!("{}", view::span_table(&client.trace_spans(&id).await?));
                Ok(())
            }
        }
        SpansCommand::Get {
            trace_id: t,
            span_id: s,
        } => {
            let (t, s) = (trace_id(&t)?, span_id(&s)?);
            if json {
                print_json(&client.get(&format!("/v1/traces/{t}/spans/{s}")).await?)
            } else {
                print!("{}", view::span_detail(&client.span(&t, &s).await?));
                Ok(())
            }
        }
        SpansCommand::Delete {
            trace_id: t,
            span_id: s,
        } => {
            let (t, s) = (trace_id(&t)?, span_id(&s)?);
            client.delete_span(&t, &s).await?;
            if !json {
                println!("deleted span {s} of trace {t}");
            }
            Ok(())
        }
    }
}

async fn send(client: &Client, json: bool, file: &std::path::Path) -> anyhow::Result<()> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let spans = otel_worker_core::ingest::json::decode(&body)
        .with_context(|| format!("{} is not an OTLP/JSON trace export", file.display()))?
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum::<usize>();
    let outcome = client.send_otlp_json(body).await?;
    let accepted = spans as u64 - outcome.rejected_spans.min(spans as u64);
    if json {
        print_json(&serde_json::json!({
            "acceptedSpans": accepted,
            "rejectedSpans": outcome.rejected_spans,
            "errorMessage": outcome.error_message,
        }))?;
    } else {
        println!(
            "sent {} to {}: {accepted} spans stored",
            file.display(),
            client.base_url()
        );
        if outcome.rejected_spans > 0 {
            println!(
                "{} spans rejected: {}",
                outcome.rejected_spans,
                outcome.error_message.unwrap_or_default()
            );
        }
    }
    Ok(())
}
