//! `otel-worker-cli`: the local otel-worker server and the client for any otel-worker.
//! Each command owns its arguments (in its module); this file only dispatches.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use otel_worker_cli::{check, client, generate, import, mcp, server, system};

#[cfg(not(target_env = "msvc"))]
mod allocator;

#[derive(Parser)]
#[command(
    name = "otel-worker-cli",
    version,
    about = "Capture and explore OpenTelemetry traces locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local collector: OTLP/HTTP and the API on an embedded SQLite database.
    Dev(server::DevArgs),
    /// Talk to a running otel-worker (local or on Cloudflare).
    Client(client::ClientArgs),
    /// Fail a CI build on a regression: compare two groups of traces (a baseline and a
    /// candidate search) on any otel-worker; exits 1 when an operation got significantly
    /// slower or failed significantly more often than the limits allow, 2 when it cannot
    /// tell.
    Check(check::CheckArgs),
    /// Send OTLP files (the Collector's file exporter's JSON Lines or length-prefixed
    /// protobuf, OTLP/JSON documents; gzip or zstd; directories; `-` for stdin) to any
    /// otel-worker through its export routes, and report what was stored and rejected.
    Import(import::ImportArgs),
    /// Send realistic synthetic traces to any OTLP/HTTP endpoint, for load tests and demos.
    Generate(generate::Options),
    /// Serve MCP (Model Context Protocol) on stdio: tools for coding agents to search and
    /// read the traces and logs of any otel-worker.
    Mcp(mcp::McpArgs),
    /// Manage the local database.
    System {
        #[command(subcommand)]
        command: system::SystemCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let done = |result: anyhow::Result<()>| result.map(|()| ExitCode::SUCCESS);
        match cli.command {
            // The gate's own exit statuses: 1 regressed, 2 could not tell.
            Command::Check(args) => Ok(check::run(args).await.unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::from(check::FAILED_TO_CHECK)
            })),
            Command::Dev(args) => done(server::run(args).await),
            Command::Client(args) => done(client::run(args).await),
            Command::Generate(options) => done(generate::run(options).await),
            Command::Import(args) => done(import::run(args).await),
            Command::Mcp(args) => done(mcp::run(args).await),
            Command::System { command } => done(system::run(command).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Human-readable logs on stderr, coloured only on a terminal; `RUST_LOG` overrides the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
