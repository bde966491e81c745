//! The Worker's settings, from its secret, vars and bindings (`wrangler.toml`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderValue;
use otel_worker_core::api::{ApiError, parse_origin};
use otel_worker_core::ingest::Sampling;
use otel_worker_core::store::search::BlockCache;
use otel_worker_core::store::{Shards, Store};
use worker::{Env, console_error};

use crate::d1::{D1, D1Usage};

/// The secret holding the bearer token.
pub const AUTH_TOKEN_SECRET: &str = "AUTH_TOKEN";
/// The D1 binding of the zero-configuration single database.
pub const D1_BINDING: &str = "DB";
/// The var naming several D1 bindings to spread traces over, comma-separated.
pub const D1_SHARDS_VAR: &str = "D1_SHARDS";
/// The var giving each database's storage budget in megabytes (10^6 bytes).
pub const MAX_STORAGE_MB_VAR: &str = "MAX_STORAGE_MB";
/// The budget when `MAX_STORAGE_MB` is unset: under D1's 10 GB per database, with room
/// for a burst while the oldest traces are deleted. On the free plan (500 MB) set 450.
pub const DEFAULT_MAX_STORAGE_MB: u64 = 9_000;
/// The var giving the share of traces to keep (0 to 1); unset keeps all.
pub const SAMPLE_RATE_VAR: &str = "SAMPLE_RATE";
/// The var giving how many days of traces to keep; `0` keeps everything.
pub const RETENTION_DAYS_VAR: &str = "RETENTION_DAYS";
/// Days kept when `RETENTION_DAYS` is unset.
pub const DEFAULT_RETENTION_DAYS: u64 = 7;
/// The var listing browser origins allowed cross-origin access, comma-separated.
pub const CORS_ORIGINS_VAR: &str = "CORS_ORIGINS";
/// The var that offers the MCP `delete_trace` tool at `/mcp` when `true`.
pub const MCP_ALLOW_DELETE_VAR: &str = "MCP_ALLOW_DELETE";
/// The Durable Object binding of the live feed.
pub const LIVE_BINDING: &str = "LIVE";

/// A var's text, if it is set and not empty.
fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string().trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The `AUTH_TOKEN` secret, or the error that says how to set it.
pub fn auth_token(env: &Env) -> Result<String, ApiError> {
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

/// Each database's budget in bytes; `None` when set to 0 (unlimited).
pub fn budget(env: &Env) -> Result<Option<u64>, ApiError> {
    let mb = match var(env, MAX_STORAGE_MB_VAR) {
        None => DEFAULT_MAX_STORAGE_MB,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::Misconfigured(format!(
                "{MAX_STORAGE_MB_VAR} = {text:?} is not a whole number of megabytes"
            ))
        })?,
    };
    Ok((mb > 0).then(|| mb * 1_000_000))
}

/// Search filters one isolate keeps between requests, over all its databases: 16 MiB of
/// the isolate's 128 MB.
pub const CACHED_FILTERS_PER_ISOLATE: usize = 256;

thread_local! {
    /// The filter cache of each database, by binding name: stores are built per request,
    /// the isolate (and this) lives on between them.
    static BLOCK_CACHES: RefCell<HashMap<String, Arc<BlockCache>>> = RefCell::new(HashMap::new());
}

/// The filter cache of the database bound as `name`, one of `databases`.
fn block_cache(name: &str, databases: usize) -> Arc<BlockCache> {
    BLOCK_CACHES.with(|caches| {
        caches
            .borrow_mut()
            .entry(name.to_owned())
            .or_insert_with(|| {
                let capacity = (CACHED_FILTERS_PER_ISOLATE / databases.max(1)).max(16);
                Arc::new(BlockCache::with_capacity(capacity))
            })
            .clone()
    })
}

/// The stores of the D1 bindings in `D1_SHARDS` (or `DB` alone), with the budget.
pub fn shards(env: &Env, usage: &Arc<D1Usage>) -> Result<Shards, ApiError> {
    let budget = budget(env)?;
    let names = var(env, D1_SHARDS_VAR).unwrap_or_else(|| D1_BINDING.to_owned());
    let names: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let mut stores = Vec::new();
    for name in names.iter().copied() {
        let db = D1::new(env, name, usage.clone()).map_err(|e| {
            ApiError::Misconfigured(format!("the D1 binding {name} is missing: {e}"))
        })?;
        let cache = block_cache(name, names.len());
        stores.push(
            Store::new(Arc::new(db))
                .with_budget(budget)
                .with_block_cache(cache),
        );
    }
    Shards::new(stores)
        .ok_or_else(|| ApiError::Misconfigured(format!("{D1_SHARDS_VAR} names no D1 binding")))
}

/// The `SAMPLE_RATE` var.
pub fn sampling(env: &Env) -> Result<Option<Sampling>, ApiError> {
    let Some(text) = var(env, SAMPLE_RATE_VAR) else {
        return Ok(None);
    };
    text.parse::<f64>()
        .ok()
        .and_then(Sampling::new)
        .map(Some)
        .ok_or_else(|| {
            ApiError::Misconfigured(format!(
                "{SAMPLE_RATE_VAR} = {text:?} is not a share of traces above 0 and at most 1"
            ))
        })
}

/// Days of traces to keep (0: all), or `None` with the reason logged.
pub fn retention_days(env: &Env) -> Option<u64> {
    match var(env, RETENTION_DAYS_VAR) {
        None => Some(DEFAULT_RETENTION_DAYS),
        Some(text) => match text.parse::<u64>() {
            Ok(days) => Some(days),
            Err(_) => {
                console_error!(
                    "{RETENTION_DAYS_VAR} = {text:?} is not a whole number of days; nothing deleted"
                );
                None
            }
        },
    }
}

/// The `MCP_ALLOW_DELETE` var: `true` offers `delete_trace` at `/mcp`; unset or `false`
/// does not; anything else is a misconfiguration, not a silent no.
pub fn mcp_allow_delete(env: &Env) -> Result<bool, ApiError> {
    match var(env, MCP_ALLOW_DELETE_VAR).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::Misconfigured(format!(
            "{MCP_ALLOW_DELETE_VAR} = {other:?} must be true or false"
        ))),
    }
}

/// The `CORS_ORIGINS` var: comma-separated origins allowed cross-origin access (none when
/// unset), each checked like the CLI's `--cors-origin`; an invalid one is logged and
/// skipped.
pub fn cors_origins(env: &Env) -> Vec<HeaderValue> {
    let Some(value) = var(env, CORS_ORIGINS_VAR) else {
        return Vec::new();
    };
    value
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
