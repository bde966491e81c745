//! `otel-worker-cli dev`: the core router on SQLite and the local live feed, served until
//! SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use otel_worker_core::Builder;
use otel_worker_core::api::FailureCause;
use otel_worker_core::api::grpc::{self, DEFAULT_GRPC_LISTEN};
use otel_worker_core::api::mcp::http::McpOptions;
use otel_worker_core::ingest::Sampling;
use otel_worker_core::store::{Shards, Store};
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;

use crate::limits::{
    self, BlockingPool, DEFAULT_MAX_EXPORTS_IN_FLIGHT, Exports, GRPC_MAX_CONCURRENT_STREAMS,
    REQUEST_TIMEOUT,
};
use crate::live::Hub;
use crate::store::SqliteDatabase;

/// `otel-worker-cli dev`: what to serve, where, and how long to keep it.
#[derive(clap::Args, Debug, Clone)]
pub struct DevArgs {
    /// Address to listen on (HTTP: the API, OTLP/HTTP and the web UI). Non-loopback
    /// addresses require a token.
    #[arg(long, default_value = otel_worker_core::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Address for OTLP/gRPC, where SDKs send by default; `off` serves none.
    /// Non-loopback addresses require a token.
    #[arg(long, value_name = "ADDR|off", default_value = DEFAULT_GRPC_LISTEN, value_parser = parse_grpc_listen)]
    pub grpc_listen: GrpcListen,
    /// SQLite database file, created on first run.
    #[arg(long, default_value = crate::DEFAULT_DB_PATH, conflicts_with = "in_memory")]
    pub db: PathBuf,
    /// Keep everything in memory; it is gone when the server stops.
    #[arg(long)]
    pub in_memory: bool,
    /// Bearer token required by every route (else `AUTH_TOKEN`, else `.dev.vars`).
    #[arg(long, env = "AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Largest export accepted, in bytes after decompression.
    #[arg(long, default_value_t = otel_worker_core::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Let pages on this origin (e.g. http://localhost:3000) call the API from a browser.
    /// Repeat for several. By default no cross-origin reads are allowed.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = otel_worker_core::api::parse_origin)]
    pub cors_origins: Vec<HeaderValue>,
    /// Delete traces that started longer ago than this (`7d`, `12h`), checked every
    /// minute. By default everything is kept (with a warning past each GB).
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    pub retention: Option<Duration>,
    /// Keep the database (with its write-ahead log) under this size (`500MB`, `2GB`): the
    /// oldest traces are deleted, whole, as it fills. By default there is no limit.
    #[arg(long, value_name = "SIZE", value_parser = otel_worker_core::size::parse)]
    pub max_storage: Option<u64>,
    /// Keep this share of traces (0 to 1, chosen by trace id so every span of a trace
    /// agrees), and every error span. By default all are kept.
    #[arg(long, value_name = "RATE", value_parser = parse_sample_rate)]
    pub sample_rate: Option<f64>,
    /// Offer the `delete_trace` tool on `/mcp` (MCP clients may then delete traces).
    #[arg(long)]
    pub mcp_allow_delete: bool,
    /// Move traces that started longer ago than this (`1h`, `10m`) from the database to
    /// the archive, compressed blocks that take a tenth of the space and are searched
    /// all the same; `off` keeps new traces in the database (what was archived before
    /// is still read).
    #[arg(long, value_name = "DURATION|off", default_value = DEFAULT_ARCHIVE_AFTER, value_parser = parse_archive_after)]
    pub archive_after: ArchiveAfter,
    /// Where the archive's blocks live; by default `archive/` beside the database.
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// OTLP files (or directories) to import once the server listens, as
    /// `otel-worker-cli import` would: open a file like a viewer.
    #[arg(long = "import", value_name = "FILE")]
    pub import: Vec<PathBuf>,
}

/// How long traces stay in the database before they are archived, unless told.
pub const DEFAULT_ARCHIVE_AFTER: &str = "1h";

/// `--archive-after`: a duration, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveAfter {
    After(Duration),
    Off,
}

fn parse_archive_after(text: &str) -> Result<ArchiveAfter, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(ArchiveAfter::Off);
    }
    otel_worker_core::duration::parse(text).map(ArchiveAfter::After)
}

/// `--grpc-listen`: an address, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcListen {
    At(SocketAddr),
    Off,
}

fn parse_grpc_listen(text: &str) -> Result<GrpcListen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(GrpcListen::Off);
    }
    text.parse()
        .map(GrpcListen::At)
        .map_err(|_| format!("{text:?} is neither an address (127.0.0.1:4317) nor off"))
}

fn parse_sample_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 1.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a sample rate: give a number above 0 and at most 1, e.g. 0.1"
        )),
    }
}

impl DevArgs {
    /// The database file; `None` keeps the database in memory.
    pub fn database(&self) -> Option<&Path> {
        (!self.in_memory).then_some(self.db.as_path())
    }

    /// The archive's directory and how long traces stay hot (`None`: they stay, as with
    /// `--archive-after off`, though what an earlier run archived is still read); `None`
    /// when there is no archive (turned off and never used, or a database in memory,
    /// whose block list would vanish).
    pub fn archive(&self) -> Option<(PathBuf, Option<Duration>)> {
        let database = self.database()?;
        let dir = self
            .archive
            .clone()
            .unwrap_or_else(|| crate::default_archive_dir(database));
        match self.archive_after {
            ArchiveAfter::After(after) => Some((dir, Some(after))),
            ArchiveAfter::Off => dir.exists().then_some((dir, None)),
        }
    }
}

/// Without retention, a warning is logged each time the database grows past another
/// multiple of this size.
pub const SIZE_WARNING_BYTES: u64 = 1 << 30;

pub async fn run(options: DevArgs) -> anyhow::Result<()> {
    let auth_token = crate::token::resolve(options.auth_token.clone());
    let grpc_address = match options.grpc_listen {
        GrpcListen::At(address) => Some(address),
        GrpcListen::Off => None,
    };
    for address in std::iter::once(options.listen).chain(grpc_address) {
        if auth_token.as_deref() == Some(otel_worker_core::api::auth::EXAMPLE_TOKEN)
            && !address.ip().is_loopback()
        {
            bail!(
                "refusing to listen on {address} with the example token from .dev.vars.example, \
                 which anyone can read: set a token of your own (--auth-token, AUTH_TOKEN, \
                 .dev.vars), or listen on 127.0.0.1",
            );
        }
        if auth_token.is_none() && !address.ip().is_loopback() {
            bail!(
                "refusing to listen on {address} without a token: anyone on the network \
                 could read and delete your traces. Pass --auth-token, set AUTH_TOKEN, or \
                 listen on 127.0.0.1",
            );
        }
    }
    let database = options.database().map(Path::to_owned);
    let (db, where_) = match &database {
        Some(path) => (
            SqliteDatabase::open_within(path, options.max_storage)?,
            path.display().to_string(),
        ),
        None => (SqliteDatabase::in_memory()?, "in memory".to_owned()),
    };
    let mut store = Store::new(Arc::new(db))
        .with_budget(options.max_storage)
        .with_summary_step(crate::housekeeping::SUMMARY_STEP_ROWS);
    let archive = options.archive();
    if let Some((dir, after)) = &archive {
        let objects = crate::archive_dir::DirectoryStore::open(dir)
            .with_context(|| format!("cannot open the archive directory {}", dir.display()))?;
        let mut archived =
            otel_worker_core::archive::Archive::new(Arc::new(objects)).within_budget();
        if let Some(after) = after {
            archived = archived.waiting_for_full_blocks(*after);
        }
        store = store.with_archive(Arc::new(archived));
    }
    let (stop_sockets, stopping) = watch::channel(false);
    let hub = Hub::new(stopping);
    let open = auth_token.is_none();
    let housekeeper = crate::housekeeping::run(crate::housekeeping::Settings {
        store: store.clone(),
        retention: options.retention,
        warn_past_each: (options.max_storage.is_none() && options.retention.is_none())
            .then_some(SIZE_WARNING_BYTES),
        archive_after: archive.as_ref().and_then(|(_, after)| *after),
    });
    let sampling = options.sample_rate.and_then(Sampling::new);
    let exports = Exports::new(DEFAULT_MAX_EXPORTS_IN_FLIGHT);
    let grpc = grpc::Builder::new(Shards::one(store.clone()), hub.clone())
        .auth_token(auth_token.clone())
        .max_message_bytes(options.max_body_bytes)
        .sampling(sampling)
        .compute(Arc::new(BlockingPool))
        .clock(crate::now_ns)
        .router()
        .layer(middleware::from_fn_with_state(
            exports.clone(),
            limits::grpc_turn,
        ));
    let own_token = auth_token.clone();
    let app = app(
        store,
        &hub,
        auth_token,
        options.max_body_bytes,
        options.cors_origins,
        sampling,
        options.mcp_allow_delete,
    )
    .layer(middleware::from_fn_with_state(exports, limits::http_turn));

    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let grpc_listener =
        match grpc_address {
            Some(address) => Some(tokio::net::TcpListener::bind(address).await.with_context(
                || {
                    format!(
                        "cannot listen on {address} for OTLP/gRPC (--grpc-listen off turns it off)"
                    )
                },
            )?),
            None => None,
        };
    let address = listener.local_addr()?;
    tracing::info!("listening on http://{address} (database: {where_})");
    if let Some(grpc_listener) = &grpc_listener {
        tracing::info!("OTLP/gRPC on {}", grpc_listener.local_addr()?);
    }
    tracing::info!("web UI: http://{address}/");
    if let Some(keep) = options.retention {
        tracing::info!(
            "retention: traces older than {} are deleted",
            otel_worker_core::duration::spelled(keep)
        );
    }
    match &archive {
        Some((dir, Some(after))) => tracing::info!(
            "archive: traces older than {} move to {}",
            otel_worker_core::duration::spelled(*after),
            dir.display()
        ),
        Some((dir, None)) => tracing::info!(
            "archive: nothing more is archived; what {} holds is still read",
            dir.display()
        ),
        None => {}
    }
    if let Some(bytes) = options.max_storage {
        tracing::info!(
            "storage budget: {:.1} MB; the oldest traces are deleted as it fills",
            bytes as f64 / 1e6
        );
    }
    if let Some(rate) = options.sample_rate {
        tracing::info!("sampling: keeping {rate} of traces, and every error span");
    }
    if open {
        tracing::warn!("no auth token set: the API is open to anything that can reach {address}");
    }
    if !options.import.is_empty() {
        // Through the server's own export route, once it answers (it serves below).
        let mut own = address;
        if own.ip().is_unspecified() {
            own.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let client = otel_worker_core::client::Client::new(&format!("http://{own}"), own_token);
        let files = options.import.clone();
        tokio::spawn(async move {
            match crate::import::import_files(&client, &files, false).await {
                Ok(report) => {
                    tracing::info!(
                        files = report.files,
                        spans = report.spans,
                        log_records = report.log_records,
                        data_points = report.data_points,
                        rejected = report.rejected,
                        "imported"
                    );
                    for problem in report.problems {
                        tracing::warn!("import: {problem}");
                    }
                }
                Err(e) => tracing::warn!("import failed: {e:#}"),
            }
        });
    }
    // Its own thread, so a summarizer step's CPU never holds up a request's, at background
    // priority with the threads its runtime reads the database on.
    std::thread::Builder::new()
        .name("housekeeper".into())
        .spawn(move || {
            crate::priority::lower_this_thread();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("housekeeper-io")
                .on_thread_start(crate::priority::lower_this_thread)
                .build()
            {
                Ok(runtime) => runtime.block_on(housekeeper),
                Err(e) => tracing::error!("the housekeeper did not start: {e}"),
            }
        })
        .map_err(|e| anyhow::anyhow!("starting the housekeeper thread: {e}"))?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_sockets.send(true);
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let http = limits::serve_http(listener, app, until_stopped(stopped.clone()));
    let grpc = async move {
        let Some(grpc_listener) = grpc_listener else {
            return Ok(());
        };
        tonic::transport::Server::builder()
            .max_concurrent_streams(Some(GRPC_MAX_CONCURRENT_STREAMS))
            .timeout(REQUEST_TIMEOUT)
            .add_routes(grpc.into())
            .serve_with_incoming_shutdown(
                limits::grpc_incoming(grpc_listener, limits::DEFAULT_MAX_GRPC_CONNECTIONS),
                until_stopped(stopped),
            )
            .await
    };
    let ((), grpc) = tokio::join!(http, grpc);
    grpc.context("the OTLP/gRPC server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The local server's router: the core API on `store`, the live feed from `hub`.
pub fn app(
    store: Store,
    hub: &Arc<Hub>,
    auth_token: Option<String>,
    max_body_bytes: usize,
    cors_origins: Vec<HeaderValue>,
    sampling: Option<Sampling>,
    mcp_allow_delete: bool,
) -> Router {
    Builder::new(Shards::one(store), hub.clone())
        .auth_token(auth_token)
        .max_body_bytes(max_body_bytes)
        .cors_origins(cors_origins)
        .sampling(sampling)
        .live_route(hub.route())
        .mcp(McpOptions {
            host: hub.clone(),
            allow_delete: mcp_allow_delete,
        })
        .compute(Arc::new(BlockingPool))
        .clock(crate::now_ns)
        .build()
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(log_request))
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// The request log, the one place a request is logged: client mistakes at info, server
/// failures at error, both with the cause the API left in the response; the rest at debug
/// so sustained ingest does not flood the terminal.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let cause = response
        .extensions()
        .get::<FailureCause>()
        .map_or("", |cause| cause.0.as_str());
    match status {
        500.. => tracing::error!(%method, path, status, millis, cause, "request failed"),
        400..=499 => tracing::info!(%method, path, status, millis, cause, "request refused"),
        _ => tracing::debug!(%method, path, status, millis, "request"),
    }
    response
}
