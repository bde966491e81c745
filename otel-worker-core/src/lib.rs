//! otel-worker-core: everything the two homes of otel-worker share.
//!
//! The local server (`otel-worker-cli dev`, SQLite) and the Cloudflare Worker (D1, a
//! Durable Object) plug their storage and live feed into this crate's traits and serve
//! the same router, so both speak exactly the same API. Nothing here needs tokio's
//! runtime or a native database: the crate compiles to `wasm32-unknown-unknown`.
//!
//! Layers point one way: [`api`] (the transports) uses [`ingest`], [`query`], [`store`],
//! [`live`], [`retention`] and [`ui`], which use [`models`]; nothing below `api` imports
//! from it, so a new transport (gRPC, MCP) calls the same functions the HTTP routes do.
//!
//! - [`api`]: the axum router, its handlers, bearer auth and the one
//!   error type, [`api::ApiError`].
//! - [`ingest`]: OTLP decoding, validation, rows and replies, without a transport.
//! - [`store`]: the [`store::Store`] trait and the SQL both stores run.
//! - [`archive`]: blocks of spans in an object store, the tier beyond the database
//!   (being built: the block format and the object store trait so far).
//! - [`live`]: the [`live::ServerEvents`] trait behind `/api/ws`.
//! - [`query`]: parsing ids and the trace search's parameters.
//! - [`retention`]: deleting old traces in bounded steps.
//! - [`ui`]: the web UI served at `/`.
//! - [`steps`]: a metric series' points folded into steps (rates, percentiles).
//! - [`compare`]: two traces side by side, span by span.
//! - [`duration`]: `250ms`, `1.5s`, `7d` for filters and flags; [`size`]: `2GB`.
//! - [`models`]: the API's JSON.
//! - `client`: a typed HTTP client for the API (feature `client`).

pub mod api;
pub mod archive;
#[cfg(feature = "client")]
pub mod client;
pub mod compare;
pub mod duration;
pub mod ingest;
pub mod live;
pub mod models;
pub mod otlp_json;
pub mod query;
pub mod retention;
pub mod share;
pub mod size;
pub mod steps;
pub mod store;
pub mod ui;

pub use api::{Builder, DEFAULT_MAX_BODY_BYTES};

/// The local server's address, as a literal so the constants below are built from one
/// place.
macro_rules! local_address {
    () => {
        "127.0.0.1:4318"
    };
}

/// Where `otel-worker-cli dev` listens unless told otherwise: loopback, on the standard
/// OTLP/HTTP port, where SDKs send by default.
pub const DEFAULT_LISTEN: &str = local_address!();

/// The base URL of the local server: where the client and `generate` go by default.
pub const DEFAULT_BASE_URL: &str = concat!("http://", local_address!());
