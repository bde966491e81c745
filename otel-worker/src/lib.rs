//! otel-worker on Cloudflare Workers.
//!
//! Thin glue, as in the workers-rs examples: each request builds the core router with
//! the D1 databases of `wrangler.toml` ([`d1::D1`], one store each) and a
//! [`live::LiveEvents`] (the live feed in the [`live::LiveFeed`] Durable Object), then
//! hands the request to it. Everything a client can observe is decided in
//! `otel-worker-core`, exactly as for the local server. [`housekeeping`] runs from the
//! cron trigger and after requests.
#![cfg(target_arch = "wasm32")]

pub mod config;
pub mod d1;
pub mod housekeeping;
pub mod live;
pub mod r2;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::Response;
use axum::response::IntoResponse;
use otel_worker_core::api::auth::Auth;
use otel_worker_core::api::mcp::http::McpOptions;
use otel_worker_core::api::{ApiError, Exported, FailureCause, refusal_for};
use otel_worker_core::compare::groups::Limits;
use otel_worker_core::ingest::Signal;
use otel_worker_core::store::Shards;
use otel_worker_core::store::search::Budget;
use otel_worker_core::{Builder, DEFAULT_MAX_BODY_BYTES};
use tower_service::Service;
use worker::{Context, Date, Env, HttpRequest, console_error, console_log, event};

use d1::D1Usage;

/// What one search request may do: D1 runs one query at a time per database and resets
/// one that runs 30 s, so a search that would walk the whole store answers in pages.
pub const SEARCH_BUDGET: Budget = Budget {
    probes: 12,
    filters: 48,
};

/// What one group comparison reads per group: each trace read is a D1 query or two, and a
/// Worker invocation may make 1,000; its spans are held while read.
pub const COMPARE_LIMITS: Limits = Limits {
    traces: 100,
    scanned: 2_000,
    spans: 50_000,
};

/// Items one export to a file reads: each trace is a D1 query or two, and its spans are
/// held until the answer is written.
pub const EXPORT_ITEMS: u64 = 50_000;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(request: HttpRequest, env: Env, context: Context) -> worker::Result<Response<Body>> {
    let started = Date::now().as_millis();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let usage = Arc::new(D1Usage::default());
    let context = Arc::new(context);
    let (response, served) = serve(request, &env, context.clone(), usage.clone()).await?;
    // The request log: one structured line per request, for `wrangler tail` and Workers
    // Logs, the only place a failure is logged, with the cause the API left in the response.
    let mut line = serde_json::json!({
        "method": method,
        "path": path,
        "status": response.status().as_u16(),
        "durationMs": Date::now().as_millis().saturating_sub(started),
        "d1Calls": usage.calls.load(Ordering::Relaxed),
        "d1Statements": usage.statements.load(Ordering::Relaxed),
        "d1RowsRead": usage.rows().0,
        "d1RowsWritten": usage.rows().1,
    });
    if let Some(exported) = response.extensions().get::<Exported>() {
        let stored = match exported.signal {
            Signal::Traces => "spans",
            Signal::Logs => "logs",
            Signal::Metrics => "dataPoints",
        };
        line[stored] = exported.stored.into();
        line[exported.signal.rejected_field()] = exported.rejected.into();
    }
    match response.extensions().get::<FailureCause>() {
        Some(cause) if response.status().is_server_error() => {
            line["error"] = cause.0.as_str().into();
            console_error!("{line}");
        }
        Some(cause) => {
            line["error"] = cause.0.as_str().into();
            console_log!("{line}");
        }
        None => console_log!("{line}"),
    }
    // Background work, after the answer, now and then (retention waits for the cron).
    if let Some(Served {
        shards,
        archive_after,
    }) = served
        && housekeeping::due_after_request()
    {
        let settings = housekeeping::Settings {
            retention: None,
            archive_after,
        };
        context.wait_until(async move {
            housekeeping::run(&shards, &usage, housekeeping::AFTER_REQUEST, settings).await;
        });
    }
    Ok(response)
}

/// The cron trigger of `wrangler.toml` (every minute): housekeeping of every database.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let usage = Arc::new(D1Usage::default());
    let archive_after = match config::archive_after(&env) {
        Ok(after) => after,
        Err(e) => {
            console_error!("archiving is off this run: {e}");
            None
        }
    };
    match config::shards(&env, &usage) {
        Ok(shards) => {
            let settings = housekeeping::Settings {
                retention: config::retention(&env),
                archive_after,
            };
            housekeeping::run(&shards, &usage, housekeeping::FROM_CRON, settings).await
        }
        Err(e) => console_error!("housekeeping cannot run: {e}"),
    }
}

/// What housekeeping after a request needs from the configuration the request read.
struct Served {
    shards: Shards,
    archive_after: Option<std::time::Duration>,
}

/// Answers one request: the configuration and the token are checked before the body is
/// touched, so a request without a valid token costs no memory however large its body.
/// Also returns the stores and settings, for housekeeping after the answer.
async fn serve(
    request: HttpRequest,
    env: &Env,
    context: Arc<Context>,
    usage: Arc<D1Usage>,
) -> worker::Result<(Response<Body>, Option<Served>)> {
    let built = config::auth_token(env).and_then(|token| {
        // CORS preflights carry no token; the router answers them (or refuses them) itself.
        if request.method() != axum::http::Method::OPTIONS
            && !Auth::new(Some(&token)).allows(&request)
        {
            return Err(refusal_for(&request, ApiError::Unauthorized));
        }
        app(env, token, context, &usage)
    });
    let (mut router, served) = match built {
        Ok(built) => built,
        Err(error) => {
            read_body(request, 0).await?;
            return Ok((error.into_response(), None));
        }
    };
    // A preflight has no use for a body: none is kept, however large.
    let keep = if request.method() == axum::http::Method::OPTIONS {
        0
    } else {
        DEFAULT_MAX_BODY_BYTES + 1
    };
    let request = read_body(request, keep).await?;
    match router.call(request).await {
        Ok(response) => Ok((response, Some(served))),
        Err(never) => match never {},
    }
}

/// Reads the whole request body before anything answers, keeping at most `keep` bytes (one
/// more than the export limit, so the core still answers 413; none for a refusal) and
/// discarding the rest as it streams by.
///
/// workerd, as `wrangler dev` runs it, intermittently fails a response that is sent before
/// the request body was read (a 401 or 415 comes back as "worker restarted mid-request");
/// consuming the body first makes every early refusal arrive.
async fn read_body(request: HttpRequest, keep: usize) -> worker::Result<axum::http::Request<Body>> {
    use http_body_util::BodyExt;

    let (parts, mut body) = request.into_parts();
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = keep.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok(axum::http::Request::from_parts(parts, Body::from(kept)))
}

/// The isolate's clock, in unix nanoseconds (milliseconds, as Workers give it).
pub(crate) fn now_ns() -> u64 {
    Date::now().as_millis().saturating_mul(1_000_000)
}

/// The core router bound to this Worker's D1 databases (counting their use in `usage`)
/// and Durable Object for this request, or the error that says which setting is wrong.
fn app(
    env: &Env,
    token: String,
    context: Arc<Context>,
    usage: &Arc<D1Usage>,
) -> Result<(axum::Router, Served), ApiError> {
    let shards = config::shards(env, usage)?;
    let sampling = config::sampling(env)?;
    // Read here so that a wrong value is a clear error on every request, not a
    // housekeeping log line.
    let archive_after = config::archive_after(env)?;
    let feed = env.durable_object(config::LIVE_BINDING).map_err(|e| {
        ApiError::Misconfigured(format!(
            "the Durable Object binding {} is missing: {e}",
            config::LIVE_BINDING
        ))
    })?;
    let live = live::LiveEvents::new(feed, context);
    let mcp = McpOptions {
        host: Arc::new(live::McpClock),
        allow_delete: config::mcp_allow_delete(env)?,
    };
    let router = Builder::new(shards.clone(), Arc::new(live.clone()))
        .auth_token(Some(token))
        .cors_origins(config::cors_origins(env))
        .sampling(sampling)
        .search_budget(Some(SEARCH_BUDGET))
        .compare_limits(COMPARE_LIMITS)
        .export_items(EXPORT_ITEMS)
        .live_route(live.route())
        .mcp(mcp)
        .clock(now_ns)
        .build();
    Ok((
        router,
        Served {
            shards,
            archive_after,
        },
    ))
}
