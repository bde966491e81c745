//! otel-worker locally: the `dev` server on SQLite and the terminal client for any
//! otel-worker. `main.rs` only parses the command line; everything else lives here so
//! tests can drive it.
//!
//! - [`server`]: `dev`, the core router on [`store::SqliteDatabase`] and [`live::Hub`].
//! - [`store`]: SQLite storage and migrations.
//! - [`archive_dir`]: the archive's object store in a directory.
//! - [`housekeeping`]: search summaries, the storage budget, retention, in the background.
//! - [`live`]: the local WebSocket feed.
//! - [`client`], [`view`]: `client ...` commands and how they print.
//! - [`generate`]: synthetic load and demo data.
//! - [`mcp`]: `mcp`, the MCP server on stdio over any otel-worker's API.
//! - [`system`]: `system database ...`.
//! - [`tail`]: `client traces tail`, the live feed as lines.
//! - [`token`]: where the bearer token comes from.

pub mod archive_dir;
pub mod check;
pub mod client;
pub mod generate;
pub mod housekeeping;
pub mod import;
pub mod limits;
pub mod live;
pub mod mcp;
pub mod otlp_file;
pub mod priority;
pub mod retry;
pub mod server;
pub mod store;
pub mod system;
pub mod tail;
pub mod token;
pub mod view;

/// Now, in unix nanoseconds (0 before 1970).
pub fn now_ns() -> u64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    u64::try_from(now).unwrap_or(0)
}

/// The instant `age` before now, in unix nanoseconds (0 if that is before 1970): the
/// cutoff of retention and the start of `--since`.
pub fn unix_nanos_ago(age: std::time::Duration) -> u64 {
    otel_worker_core::retention::cutoff(now_ns(), age)
}

/// Where `dev` keeps its database unless told otherwise.
pub const DEFAULT_DB_PATH: &str = ".otel-worker/otel-worker.db";

/// Where the archive of database `db` lives unless told otherwise: `archive/` beside it.
pub fn default_archive_dir(db: &std::path::Path) -> std::path::PathBuf {
    db.parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join("archive")
}
