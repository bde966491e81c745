//! Calling D1: every round trip counted for the request log, every failure sorted by what
//! a retry would do, and transient failures retried once here.
//!
//! D1 reports failures as text; the kinds and messages below are those of Cloudflare's
//! D1 documentation ("Debug D1"). Every statement the store sends is idempotent (upserts,
//! deletes by key), so running one again after a failure whose outcome is unknown is safe.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otel_worker_core::store::StoreError;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::send::SendFuture;
use worker::{D1Database, D1PreparedStatement};

/// What a request asked of D1, counted where the calls are made and logged by the fetch
/// glue with the request: D1 bills and limits per call and per statement.
#[derive(Debug, Default)]
pub struct D1Usage {
    /// Round trips: each `all()` or `batch()` call, retries included.
    pub calls: AtomicUsize,
    /// Statements run, a batch counting each of its statements.
    pub statements: AtomicUsize,
}

impl D1Usage {
    fn record(&self, statements: usize) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.statements.fetch_add(statements, Ordering::Relaxed);
    }
}

/// One D1 database, as the store calls it.
pub struct Database {
    db: D1Database,
    usage: Arc<D1Usage>,
}

impl Database {
    pub fn new(db: D1Database, usage: Arc<D1Usage>) -> Self {
        Self { db, usage }
    }

    /// A statement with its parameters bound.
    pub fn statement(
        &self,
        sql: &str,
        params: &[JsValue],
    ) -> Result<D1PreparedStatement, StoreError> {
        self.db
            .prepare(sql)
            .bind(params)
            .map_err(|e| StoreError::Other(format!("cannot bind a statement: {e}")))
    }

    /// The rows of one query.
    pub async fn rows<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        params: &[JsValue],
    ) -> Result<Vec<T>, StoreError> {
        retrying_once(|| async {
            let statement = self.statement(sql, params)?;
            self.usage.record(1);
            SendFuture::new(async move { statement.all().await?.results::<T>() })
                .await
                .map_err(D1Failure::from)
        })
        .await
    }

    /// Runs the statements `build` makes as one batch, which D1 runs as one transaction;
    /// returns the rows each statement changed. `build` runs again for a retry, since a
    /// batch consumes its statements.
    pub async fn batch(
        &self,
        build: impl Fn() -> Result<Vec<D1PreparedStatement>, StoreError>,
    ) -> Result<Vec<usize>, StoreError> {
        retrying_once(|| async {
            let statements = build()?;
            self.usage.record(statements.len());
            let db = &self.db;
            SendFuture::new(async move {
                let results = db.batch(statements).await?;
                results
                    .iter()
                    .map(|r| Ok(r.meta()?.and_then(|m| m.changes).unwrap_or(0)))
                    .collect::<worker::Result<Vec<usize>>>()
            })
            .await
            .map_err(D1Failure::from)
        })
        .await
    }
}

/// How a D1 call failed, by what retrying would do.
#[derive(Debug)]
enum D1Failure {
    /// Lost connections, storage resets, code updates: the same call works again.
    Transient(String),
    /// D1 is overloaded or the database locked: the client should come back later (503).
    Busy(String),
    /// Too big, too many parameters, out of CPU or memory: the same call fails again (500).
    Permanent(String),
}

impl From<StoreError> for D1Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy(message) => Self::Busy(message),
            StoreError::Other(message) => Self::Permanent(message),
        }
    }
}

impl From<worker::Error> for D1Failure {
    fn from(error: worker::Error) -> Self {
        // `Display` of a D1 error shows only its cause: read the message too.
        let message = match &error {
            worker::Error::D1(d1) => {
                let js: &worker::js_sys::Error = d1.as_ref();
                format!("{}: {}", String::from(js.message()), d1.cause())
            }
            other => other.to_string(),
        };
        classify(message)
    }
}

/// Sorts a D1 error message into a [`D1Failure`].
fn classify(message: String) -> D1Failure {
    const TRANSIENT: &[&str] = &[
        "network connection lost",
        "storage caused object to be reset",
        "reset because its code was updated",
        "transient issue on remote node",
        "client disconnected",
    ];
    const BUSY: &[&str] = &["overloaded", "database is locked", "sqlite_busy"];
    let lower = message.to_ascii_lowercase();
    if TRANSIENT.iter().any(|t| lower.contains(t)) {
        D1Failure::Transient(message)
    } else if BUSY.iter().any(|t| lower.contains(t)) {
        D1Failure::Busy(message)
    } else {
        D1Failure::Permanent(message)
    }
}

/// Runs `call`, and once more after a short random pause if it failed transiently; a
/// second transient failure is answered 503 so the exporter retries later.
async fn retrying_once<T, F, Fut>(call: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, D1Failure>>,
{
    let first = match call().await {
        Ok(value) => return Ok(value),
        Err(D1Failure::Transient(message)) => message,
        Err(D1Failure::Busy(message)) => return Err(StoreError::Busy(message)),
        Err(D1Failure::Permanent(message)) => return Err(StoreError::Other(message)),
    };
    let pause_ms = 50 + (worker::Date::now().as_millis() % 200);
    SendFuture::new(worker::Delay::from(Duration::from_millis(pause_ms))).await;
    match call().await {
        Ok(value) => Ok(value),
        Err(D1Failure::Transient(message) | D1Failure::Busy(message)) => Err(StoreError::Busy(
            format!("{message} (a retry after \"{first}\" failed too)"),
        )),
        Err(D1Failure::Permanent(message)) => Err(StoreError::Other(message)),
    }
}
