//! The Worker's settings, from its secret, vars and bindings (`wrangler.toml`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderValue;
use otel_worker_core::api::{ApiError, parse_origin};
use otel_worker_core::archive::{Archive, Limits};
use otel_worker_core::ingest::Sampling;
use otel_worker_core::store::search::BlockCache;
use otel_worker_core::store::{Shards, Store};
use worker::{Env, console_error};

use crate::d1::{D1, D1Usage};
use crate::r2::R2;

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
/// The var giving how many days of traces to keep (or a duration: `12h`, `10m`); `0` keeps
/// everything.
pub const RETENTION_DAYS_VAR: &str = "RETENTION_DAYS";
/// Days kept when `RETENTION_DAYS` is unset.
pub const DEFAULT_RETENTION_DAYS: u64 = 30;
/// The var listing browser origins allowed cross-origin access, comma-separated.
pub const CORS_ORIGINS_VAR: &str = "CORS_ORIGINS";
/// The var that offers the MCP `delete_trace` tool at `/mcp` when `true`.
pub const MCP_ALLOW_DELETE_VAR: &str = "MCP_ALLOW_DELETE";
/// The Durable Object binding of the live feed.
pub const LIVE_BINDING: &str = "LIVE";
/// The R2 binding of the archive: when it exists, old traces move from D1 to blocks in R2.
pub const ARCHIVE_BINDING: &str = "ARCHIVE";
/// The var giving how long traces stay in D1 before they are archived (`1h`, `10m`), or
/// `off` (what was archived is still read).
pub const ARCHIVE_AFTER_VAR: &str = "ARCHIVE_AFTER";
/// How long traces stay in D1 when `ARCHIVE_AFTER` is unset, as locally.
pub const DEFAULT_ARCHIVE_AFTER: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Blocks and caches sized for an isolate's 128 MB, per database: a compaction step holds
/// one block's spans (16,384 rows read from D1, then encoded), and reads keep a few
/// decoded row groups (about 1.5 MB each) and filters (4 KiB to 256 KiB each).
pub const ARCHIVE_LIMITS: Limits = Limits {
    block_spans: 16_384,
    opened_blocks: 64,
    decoded_groups: 4,
    cached_filters: 64,
};

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
    /// The archive of each database, by binding name, with what it keeps of blocks read.
    static ARCHIVES: RefCell<HashMap<String, Arc<Archive>>> = RefCell::new(HashMap::new());
}

/// The archive of the database bound as `name`, when the `ARCHIVE` bucket is bound; with
/// the hot tier of segments (an export a row, compacted to R2 within minutes) when
/// archiving is on (`after`).
fn archive(env: &Env, name: &str, after: Option<std::time::Duration>) -> Option<Arc<Archive>> {
    if let Some(archive) = ARCHIVES.with(|archives| archives.borrow().get(name).cloned()) {
        return Some(archive);
    }
    let bucket = env.bucket(ARCHIVE_BINDING).ok()?;
    let mut archive = Archive::new(Arc::new(R2::new(bucket, name))).with_limits(ARCHIVE_LIMITS);
    if let Some(after) = after {
        archive = archive
            .with_hot_segments(crate::now_ns)
            .waiting_for_full_blocks(after);
    }
    let archive = Arc::new(archive);
    ARCHIVES.with(|archives| {
        archives
            .borrow_mut()
            .insert(name.to_owned(), archive.clone())
    });
    Some(archive)
}

/// How long traces stay in D1 before they are archived; `None`: not archived (no
/// `ARCHIVE` bucket, or `ARCHIVE_AFTER = "off"`).
pub fn archive_after(env: &Env) -> Result<Option<std::time::Duration>, ApiError> {
    if env.bucket(ARCHIVE_BINDING).is_err() {
        return Ok(None);
    }
    match var(env, ARCHIVE_AFTER_VAR) {
        None => Ok(Some(DEFAULT_ARCHIVE_AFTER)),
        Some(text) if text.eq_ignore_ascii_case("off") => Ok(None),
        Some(text) => otel_worker_core::duration::parse(&text)
            .map(Some)
            .map_err(|e| ApiError::Misconfigured(format!("{ARCHIVE_AFTER_VAR} = {text:?}: {e}"))),
    }
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
    let after = archive_after(env)?;
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
        let mut store = Store::new(Arc::new(db))
            .with_budget(budget)
            .with_block_cache(cache);
        if let Some(archive) = archive(env, name, after) {
            store = store.with_archive(archive);
        }
        stores.push(store);
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

/// How long traces are kept (zero: always; [`DEFAULT_RETENTION_DAYS`] when unset), or
/// `None` with the reason logged. A whole number is days; a duration (`12h`, `10m`) is
/// taken as written, for a soak that turns the whole life cycle over in minutes.
pub fn retention(env: &Env) -> Option<std::time::Duration> {
    let Some(text) = var(env, RETENTION_DAYS_VAR) else {
        return Some(std::time::Duration::from_secs(
            DEFAULT_RETENTION_DAYS * 86_400,
        ));
    };
    if let Ok(days) = text.parse::<u64>() {
        return Some(std::time::Duration::from_secs(days.saturating_mul(86_400)));
    }
    match otel_worker_core::duration::parse(&text) {
        Ok(keep) => Some(keep),
        Err(e) => {
            console_error!(
                "{RETENTION_DAYS_VAR} = {text:?} is neither a whole number of days nor a duration ({e}); nothing deleted"
            );
            None
        }
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
