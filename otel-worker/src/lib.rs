//! otel-worker on Cloudflare Workers.
//!
//! Thin glue, as in the workers-rs examples: each request builds the core router with a
//! [`store::D1Store`] (spans in D1) and a [`live::LiveEvents`] (the live feed in the
//! [`live::LiveFeed`] Durable Object), then hands the request to it. Everything a client
//! can observe is decided in `otel-worker-core`, exactly as for the local server.
#![cfg(target_arch = "wasm32")]

pub mod d1;
pub mod live;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::Response;
use axum::response::IntoResponse;
use otel_worker_core::api::auth::Auth;
use otel_worker_core::api::{ApiError, Exported, FailureCause, parse_origin};
use otel_worker_core::{Builder, DEFAULT_MAX_BODY_BYTES};
use tower_service::Service;
use worker::{Context, Date, Env, HttpRequest, console_error, console_log, event};

use d1::D1Usage;
use store::D1Store;

/// The D1 binding in `wrangler.toml`.
pub const D1_BINDING: &str = "DB";
/// The Durable Object binding of the live feed in `wrangler.toml`.
pub const LIVE_BINDING: &str = "LIVE";
/// The secret holding the bearer token.
pub const AUTH_TOKEN_SECRET: &str = "AUTH_TOKEN";
/// The var listing browser origins allowed cross-origin access, comma-separated.
pub const CORS_ORIGINS_VAR: &str = "CORS_ORIGINS";
/// The var giving how many days of traces to keep; `0` keeps everything.
pub const RETENTION_DAYS_VAR: &str = "RETENTION_DAYS";
/// Days kept when `RETENTION_DAYS` is unset. A D1 database stops taking writes at 10 GB
/// (about 17 million spans of the compact schema), and ingest would then fail: a week
/// keeps a busy development setup well below that.
pub const DEFAULT_RETENTION_DAYS: u64 = 7;
/// Prune steps (each one D1 call of up to 1,000 traces) per cron run, so one run stays
/// far inside a Worker's limits; the next run continues.
pub const MAX_PRUNE_STEPS_PER_RUN: u32 = 40;

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
    let response = serve(request, &env, Arc::new(context), usage.clone()).await?;
    // The request log: one structured line per request, for `wrangler tail` and Workers
    // Logs, the only place a failure is logged, with the cause the API left in the response.
    let mut line = serde_json::json!({
        "method": method,
        "path": path,
        "status": response.status().as_u16(),
        "durationMs": Date::now().as_millis().saturating_sub(started),
        "d1Calls": usage.calls.load(Ordering::Relaxed),
        "d1Statements": usage.statements.load(Ordering::Relaxed),
    });
    if let Some(exported) = response.extensions().get::<Exported>() {
        line["spans"] = exported.spans.into();
        line["rejectedSpans"] = exported.rejected_spans.into();
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
    Ok(response)
}

/// The cron trigger of `wrangler.toml`: deletes traces older than `RETENTION_DAYS`.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let days = match env.var(RETENTION_DAYS_VAR) {
        Ok(value) => match value.to_string().trim().parse::<u64>() {
            Ok(days) => days,
            Err(_) => {
                console_error!(
                    "{RETENTION_DAYS_VAR} = {value:?} is not a whole number of days; nothing deleted"
                );
                return;
            }
        },
        Err(_) => DEFAULT_RETENTION_DAYS,
    };
    if days == 0 {
        return;
    }
    let db = match env.d1(D1_BINDING) {
        Ok(db) => db,
        Err(e) => {
            console_error!("retention: the D1 binding {D1_BINDING} is missing: {e}");
            return;
        }
    };
    let now_ns = Date::now().as_millis().saturating_mul(1_000_000);
    let keep = std::time::Duration::from_secs(days.saturating_mul(86_400));
    let cutoff = otel_worker_core::retention::cutoff(now_ns, keep);
    let store = D1Store::new(db, Arc::default());
    match otel_worker_core::retention::prune_before(&store, cutoff, Some(MAX_PRUNE_STEPS_PER_RUN))
        .await
    {
        Ok(pruned) => console_log!(
            "{}",
            serde_json::json!({
                "event": "retention",
                "retentionDays": days,
                "deletedTraces": pruned.traces,
                "deletedSpans": pruned.spans,
            })
        ),
        Err(e) => console_error!("retention failed, the next run retries: {e}"),
    }
}

/// Answers one request: the configuration and the token are checked before the body is
/// touched, so a request without a valid token costs no memory however large its body.
async fn serve(
    request: HttpRequest,
    env: &Env,
    context: Arc<Context>,
    usage: Arc<D1Usage>,
) -> worker::Result<Response<Body>> {
    let router = auth_token(env).and_then(|token| {
        // CORS preflights carry no token; the router answers them (or refuses them) itself.
        if request.method() != axum::http::Method::OPTIONS
            && !Auth::new(Some(&token)).allows(&request)
        {
            return Err(ApiError::Unauthorized);
        }
        app(env, token, context, usage)
    });
    let mut router = match router {
        Ok(router) => router,
        Err(error) => {
            read_body(request, 0).await?;
            return Ok(error.into_response());
        }
    };
    let request = read_body(request, DEFAULT_MAX_BODY_BYTES + 1).await?;
    match router.call(request).await {
        Ok(response) => Ok(response),
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

/// The `AUTH_TOKEN` secret, or the error that says how to set it.
fn auth_token(env: &Env) -> Result<String, ApiError> {
    env.secret(AUTH_TOKEN_SECRET)
        .map(|secret| secret.to_string())
        .ok()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::Misconfigured(format!(
                "the {AUTH_TOKEN_SECRET} secret is not set: run `npx wrangler secret put \
                 {AUTH_TOKEN_SECRET}`, or put {AUTH_TOKEN_SECRET}=\"...\" in .dev.vars for `wrangler dev`"
            ))
        })
}

/// The core router bound to this Worker's D1 database (counting its use in `usage`) and
/// Durable Object for this request, or the error that says which binding is missing.
fn app(
    env: &Env,
    token: String,
    context: Arc<Context>,
    usage: Arc<D1Usage>,
) -> Result<axum::Router, ApiError> {
    let db = env.d1(D1_BINDING).map_err(|e| {
        ApiError::Misconfigured(format!("the D1 binding {D1_BINDING} is missing: {e}"))
    })?;
    let feed = env.durable_object(LIVE_BINDING).map_err(|e| {
        ApiError::Misconfigured(format!(
            "the Durable Object binding {LIVE_BINDING} is missing: {e}"
        ))
    })?;
    let live = live::LiveEvents::new(feed, context);
    Ok(
        Builder::new(Arc::new(D1Store::new(db, usage)), Arc::new(live.clone()))
            .auth_token(Some(token))
            .cors_origins(cors_origins(env))
            .live_route(live.route())
            .build(),
    )
}

/// The `CORS_ORIGINS` var: comma-separated origins allowed cross-origin access (none when
/// unset), each checked like the CLI's `--cors-origin`; an invalid one is logged and
/// skipped.
fn cors_origins(env: &Env) -> Vec<axum::http::HeaderValue> {
    let Ok(value) = env.var(CORS_ORIGINS_VAR) else {
        return Vec::new();
    };
    value
        .to_string()
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .filter_map(|origin| match parse_origin(origin) {
            Ok(value) => Some(value),
            Err(e) => {
                console_error!("{CORS_ORIGINS_VAR}: {e}; it is ignored");
                None
            }
        })
        .collect()
}
