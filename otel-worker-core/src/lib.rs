//! otel-worker-core: everything the two homes of otel-worker share.
//!
//! The local server (`otel-worker-cli dev`, SQLite) and the Cloudflare Worker (D1, a
//! Durable Object) plug their storage and live feed into this crate's traits and serve
//! the same router, so both speak exactly the same API. Nothing here needs tokio's
//! runtime or a native database: the crate compiles to `wasm32-unknown-unknown`.
//!
//! - [`ingest`]: OTLP/HTTP decoding, validation and rows.
//! - [`store`]: the [`store::Store`] trait and the SQL both stores run.
//! - [`api`]: the axum router, its handlers and errors.
//! - [`auth`]: bearer tokens.
//! - [`live`]: the [`live::ServerEvents`] trait behind `/api/ws`.
//! - [`query`]: parsing ids and the trace search's parameters.
//! - [`retention`]: deleting old traces in bounded steps.
//! - [`ui`]: the web UI served at `/`.
//! - [`duration`]: `250ms`, `1.5s`, `7d` for filters and flags.
//! - [`models`]: the API's JSON.
//! - `client`: a typed HTTP client for the API (feature `client`).

pub mod api;
pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod duration;
pub mod ingest;
pub mod live;
pub mod models;
pub mod query;
pub mod retention;
pub mod store;
pub mod ui;

pub use api::{Builder, DEFAULT_MAX_BODY_BYTES};
