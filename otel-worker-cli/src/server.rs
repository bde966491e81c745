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
use otel_worker_core::api::FailureCause;
use otel_worker_core::{Builder, retention};
use tokio::sync::watch;

use crate::live::Hub;
use crate::store::SqliteStore;

/// `otel-worker-cli dev`: what to serve, where, and how long to keep it.
#[derive(clap::Args, Debug, Clone)]
pub struct DevArgs {
    /// Address to listen on. Non-loopback addresses require a token.
    #[arg(long, default_value = otel_worker_core::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
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
}

impl DevArgs {
    /// The database file; `None` keeps the database in memory.
    pub fn database(&self) -> Option<&Path> {
        (!self.in_memory).then_some(self.db.as_path())
    }
}

/// How often retention runs (and the database size is checked).
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

/// Without retention, a warning is logged each time the database grows past another
/// multiple of this size.
pub const SIZE_WARNING_BYTES: u64 = 1 << 30;

pub async fn run(options: DevArgs) -> anyhow::Result<()> {
    let auth_token = crate::token::resolve(options.auth_token.clone());
    if auth_token.is_none() && !options.listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {} without a token: anyone on the network could read and \
             delete your traces. Pass --auth-token, set AUTH_TOKEN, or listen on 127.0.0.1",
            options.listen
        );
    }
    let database = options.database().map(Path::to_owned);
    let (store, where_) = match &database {
        Some(path) => (SqliteStore::open(path)?, path.display().to_string()),
        None => (SqliteStore::in_memory()?, "in memory".to_owned()),
    };
    let (stop_sockets, stopping) = watch::channel(false);
    let hub = Hub::new(stopping);
    let open = auth_token.is_none();
    let housekeeper = housekeeping(store.clone(), options.retention, database);
    let app = app(
        store,
        &hub,
        auth_token,
        options.max_body_bytes,
        options.cors_origins,
    );

    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    tracing::info!("listening on http://{address} (database: {where_})");
    tracing::info!("web UI: http://{address}/");
    if let Some(keep) = options.retention {
        tracing::info!(
            "retention: traces older than {} are deleted",
            humantime(keep)
        );
    }
    if open {
        tracing::warn!("no auth token set: the API is open to anything that can reach {address}");
    }
    tokio::spawn(housekeeper);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop_sockets.send(true);
        })
        .await
        .context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The local server's router: the core API on `store`, the live feed from `hub`.
pub fn app(
    store: SqliteStore,
    hub: &Arc<Hub>,
    auth_token: Option<String>,
    max_body_bytes: usize,
    cors_origins: Vec<HeaderValue>,
) -> Router {
    Builder::new(Arc::new(store), hub.clone())
        .auth_token(auth_token)
        .max_body_bytes(max_body_bytes)
        .cors_origins(cors_origins)
        .live_route(hub.route())
        .build()
        .layer(middleware::from_fn(log_request))
}

/// Retention and the size warning, once at start and then every
/// [`HOUSEKEEPING_INTERVAL`].
async fn housekeeping(store: SqliteStore, retention: Option<Duration>, database: Option<PathBuf>) {
    let mut warned_at_gb = 0;
    let mut ticks = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        ticks.tick().await;
        if let Some(keep) = retention {
            let cutoff = crate::unix_nanos_ago(keep);
            match retention::prune_before(&store, cutoff, None).await {
                Ok(pruned) if pruned.traces > 0 => tracing::info!(
                    traces = pruned.traces,
                    spans = pruned.spans,
                    "retention deleted traces older than {}",
                    humantime(keep)
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("retention failed, will retry: {e}"),
            }
        } else if let Some(path) = &database {
            let gb = crate::system::database_bytes(path) / SIZE_WARNING_BYTES;
            if gb > warned_at_gb {
                warned_at_gb = gb;
                tracing::warn!(
                    "the database {} has passed {gb} GB and nothing is ever deleted: \
                     start with --retention 7d, or run `otel-worker-cli system prune --older-than 7d`",
                    path.display()
                );
            }
        }
    }
}

/// `7d`, `36h`, `90s`: the largest unit that divides the duration.
fn humantime(duration: Duration) -> String {
    let secs = duration.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs > 0 && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{}s", duration.as_secs_f64())
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
