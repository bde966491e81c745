//! `otel-worker-cli`: the local otel-worker server and the client for any otel-worker.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use otel_worker_cli::generate::{self, Encoding};
use otel_worker_cli::{DEFAULT_DB_PATH, DEFAULT_LISTEN, client, server, system, token};
use otel_worker_core::client::DEFAULT_BASE_URL;

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
    Dev(DevArgs),
    /// Talk to a running otel-worker (local or on Cloudflare).
    Client(ClientArgs),
    /// Send realistic synthetic traces to any OTLP/HTTP endpoint, for load tests and demos.
    Generate(GenerateArgs),
    /// Manage the local database.
    System {
        #[command(subcommand)]
        command: SystemCommand,
    },
}

#[derive(Args)]
struct DevArgs {
    /// Address to listen on. Non-loopback addresses require a token.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// SQLite database file, created on first run.
    #[arg(long, default_value = DEFAULT_DB_PATH, conflicts_with = "in_memory")]
    db: PathBuf,
    /// Keep everything in memory; it is gone when the server stops.
    #[arg(long)]
    in_memory: bool,
    /// Bearer token required by every route (else `AUTH_TOKEN`, else `.dev.vars`).
    #[arg(long, env = "AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Largest export accepted, in bytes after decompression.
    #[arg(long, default_value_t = otel_worker_core::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Let pages on this origin (e.g. http://localhost:3000) call the API from a browser.
    /// Repeat for several. By default no cross-origin reads are allowed.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    cors_origins: Vec<axum::http::HeaderValue>,
    /// Delete traces that started longer ago than this (`7d`, `12h`), checked every
    /// minute. By default everything is kept (with a warning past each GB).
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    retention: Option<std::time::Duration>,
}

/// An origin as browsers send it: scheme, host and optional port, nothing else.
fn parse_origin(text: &str) -> Result<axum::http::HeaderValue, String> {
    let valid = (text.starts_with("http://") || text.starts_with("https://"))
        && !text.trim_end_matches('/').contains(['?', '#'])
        && text
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
    if !valid {
        return Err(format!(
            "{text:?} is not an origin like https://app.example.com or http://localhost:3000"
        ));
    }
    axum::http::HeaderValue::from_str(text).map_err(|e| e.to_string())
}

#[derive(Args)]
struct GenerateArgs {
    /// Base URL of the OTLP/HTTP receiver; exports go to `<endpoint>/v1/traces`.
    #[arg(long, default_value = generate::DEFAULT_ENDPOINT)]
    endpoint: String,
    /// Bearer token (else `AUTH_TOKEN`, else `.dev.vars`).
    #[arg(long, env = "AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Stop after this many traces.
    #[arg(long)]
    traces: Option<u64>,
    /// Stop after this long (`30s`, `5m`). Without this or --traces, runs until Ctrl-C.
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    duration: Option<std::time::Duration>,
    /// Spans per second to aim for. Omit to send as fast as the server answers.
    #[arg(long)]
    rate: Option<f64>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = generate::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Spans in each trace (nested as a tree over several services).
    #[arg(long, default_value_t = generate::DEFAULT_SPANS_PER_TRACE)]
    spans_per_trace: usize,
    /// Spans in each request.
    #[arg(long, default_value_t = generate::DEFAULT_SPANS_PER_REQUEST)]
    spans_per_request: usize,
    /// Attributes on each span, of mixed types.
    #[arg(long, default_value_t = generate::DEFAULT_ATTRIBUTES)]
    attributes: usize,
    /// Body encoding.
    #[arg(long, value_enum, default_value_t = Encoding::Protobuf)]
    encoding: Encoding,
    /// Compress each request with gzip.
    #[arg(long)]
    gzip: bool,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct Connection {
    /// Base URL of the otel-worker server.
    #[arg(long, global = true, env = "OTEL_WORKER_URL", default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Bearer token (else `AUTH_TOKEN`, else `.dev.vars`).
    #[arg(long, global = true, env = "AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
}

impl Connection {
    fn client(&self) -> otel_worker_core::client::Client {
        otel_worker_core::client::Client::new(
            &self.base_url,
            token::resolve(self.auth_token.clone()),
        )
    }
}

#[derive(Args)]
struct ClientArgs {
    #[command(flatten)]
    connection: Connection,
    /// Print the API's JSON instead of tables and trees.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: client::ClientCommand,
}

#[derive(Subcommand)]
enum SystemCommand {
    /// The local database.
    Database {
        #[command(subcommand)]
        command: system::DatabaseCommand,
    },
    /// Delete traces that started longer ago than --older-than, in short steps (safe while
    /// `dev` is running on the same database).
    Prune {
        /// `7d`, `12h`, `30m`.
        #[arg(long, value_parser = otel_worker_core::duration::parse)]
        older_than: std::time::Duration,
        #[arg(long, default_value = DEFAULT_DB_PATH)]
        db: PathBuf,
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
        match cli.command {
            Command::Dev(args) => {
                server::run(server::DevOptions {
                    listen: args.listen,
                    database: (!args.in_memory).then_some(args.db),
                    auth_token: token::resolve(args.auth_token),
                    max_body_bytes: args.max_body_bytes,
                    cors_origins: args.cors_origins,
                    retention: args.retention,
                })
                .await
            }
            Command::Client(args) => {
                client::run(args.connection.client(), args.json, args.command).await
            }
            Command::Generate(args) => {
                let options = generate::Options {
                    endpoint: args.endpoint,
                    auth_token: token::resolve(args.auth_token),
                    traces: args.traces,
                    duration: args.duration,
                    rate: args.rate,
                    concurrency: args.concurrency,
                    spans_per_trace: args.spans_per_trace,
                    spans_per_request: args.spans_per_request,
                    attributes: args.attributes,
                    encoding: args.encoding,
                    gzip: args.gzip,
                };
                generate::run(options, args.json).await
            }
            Command::System {
                command: SystemCommand::Database { command },
            } => system::run(command),
            Command::System {
                command: SystemCommand::Prune { older_than, db },
            } => system::prune(&db, older_than).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
