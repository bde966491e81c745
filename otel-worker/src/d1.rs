//! D1 as the core's [`Database`]: statements bound and run through the D1 binding's own
//! JavaScript API, every round trip counted for the request log, every failure sorted by
//! what a retry would do, and transient failures retried once here.
//!
//! The binding is called directly (not through workers-rs' `D1Result::meta`), because
//! that reads `meta.size_after` into a 32-bit `usize` and fails on a database past 4 GB;
//! here every number of `meta` is read as a JavaScript number.
//!
//! D1 reports failures as text; the kinds and messages below are those of Cloudflare's
//! D1 documentation ("Debug D1"). Every statement the core sends is idempotent (upserts,
//! deletes by key), so running one again after a failure whose outcome is unknown is safe.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use otel_worker_core::store::{Database, Param, Rows, Statement, StoreError};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{self, Array, Reflect};
use worker::send::SendFuture;
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::types::{
    D1Database as Binding, D1PreparedStatement as Prepared, D1Result as Answer,
};

/// Largest JSON text bound to one statement. D1's documented string/row limit has been
/// 1,000,000 bytes and later 2 MB; staying under the smaller fits both.
pub const MAX_STATEMENT_JSON_BYTES: usize = 900_000;

/// The largest span body D1 takes, with room for the other columns.
pub const MAX_SPAN_BYTES: usize = MAX_STATEMENT_JSON_BYTES - 4_096;

/// What a request asked of D1, counted where the calls are made and logged by the fetch
/// glue with the request: D1 bills and limits per call and per statement.
#[derive(Debug, Default)]
pub struct D1Usage {
    /// Round trips: each query or batch, retries included.
    pub calls: AtomicUsize,
    /// Statements run, a batch counting each of its statements.
    pub statements: AtomicUsize,
    /// Rows read and written as D1 reports them (`meta.rows_read`, `meta.rows_written`):
    /// what D1 bills.
    pub rows_read: AtomicUsize,
    pub rows_written: AtomicUsize,
}

impl D1Usage {
    fn record(&self, statements: usize) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.statements.fetch_add(statements, Ordering::Relaxed);
    }

    fn record_rows(&self, answer: &Answer) {
        if let Ok(meta) = answer.meta() {
            let count = |name| meta_number(&meta, name).unwrap_or(0.0) as usize;
            self.rows_read
                .fetch_add(count("rows_read"), Ordering::Relaxed);
            self.rows_written
                .fetch_add(count("rows_written"), Ordering::Relaxed);
        }
    }

    /// (rows read, rows written) so far.
    pub fn rows(&self) -> (usize, usize) {
        (
            self.rows_read.load(Ordering::Relaxed),
            self.rows_written.load(Ordering::Relaxed),
        )
    }
}

thread_local! {
    /// The size D1 last reported for each database, by binding name: every answer carries
    /// it, so knowing it costs nothing.
    static SIZES: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

/// One D1 database.
pub struct D1 {
    name: String,
    binding: Binding,
    usage: Arc<D1Usage>,
}

// The binding is a JavaScript object: Workers run one thread per isolate.
unsafe impl Send for D1 {}
unsafe impl Sync for D1 {}

impl D1 {
    /// The database of binding `name` in `env`.
    pub fn new(env: &worker::Env, name: &str, usage: Arc<D1Usage>) -> worker::Result<Self> {
        let database = env.d1(name)?;
        Ok(Self {
            name: name.to_owned(),
            binding: JsValue::from(database).unchecked_into(),
            usage,
        })
    }

    fn prepare(&self, sql: &str, params: &[Param]) -> Result<Prepared, D1Failure> {
        let values: Array = params.iter().map(js_value).collect();
        self.binding
            .prepare(sql)
            .and_then(|prepared| prepared.bind(values))
            .map_err(|e| {
                D1Failure::Permanent(format!("cannot prepare a statement: {}", message(&e)))
            })
    }

    /// The prepared statements of `statements`, a statement of rows becoming one per chunk
    /// of its rows as JSON; with how many each source statement became.
    fn prepare_all(&self, statements: &[Statement]) -> Result<(Array, Vec<usize>), D1Failure> {
        let array = Array::new();
        let mut counts = Vec::with_capacity(statements.len());
        for statement in statements {
            match statement {
                Statement::One { sql, params } => {
                    array.push(&self.prepare(sql, params)?.into());
                    counts.push(1);
                }
                Statement::Rows { as_json, rows, .. } => {
                    let chunks = json_chunks(rows);
                    counts.push(chunks.len());
                    for chunk in chunks {
                        array.push(&self.prepare(as_json, &[Param::Text(chunk)])?.into());
                    }
                }
            }
        }
        Ok((array, counts))
    }

    fn remember_size(&self, answer: &Answer) {
        if let Some(size) = answer
            .meta()
            .ok()
            .and_then(|meta| meta_number(&meta, "size_after"))
        {
            SIZES.with(|sizes| sizes.borrow_mut().insert(self.name.clone(), size as u64));
        }
    }

    async fn run_query(&self, statement: &Statement) -> Result<Rows, D1Failure> {
        let Statement::One { sql, params } = statement else {
            return Err(D1Failure::Permanent("a query is one statement".into()));
        };
        let prepared = self.prepare(sql, params)?;
        self.usage.record(1);
        let promise = prepared
            .all()
            .map_err(|e| D1Failure::classify(message(&e)))?;
        let answer: Answer = SendFuture::new(JsFuture::from(promise))
            .await
            .map_err(|e| D1Failure::classify(message(&e)))?
            .unchecked_into();
        self.remember_size(&answer);
        self.usage.record_rows(&answer);
        // D1 hands numbers to JavaScript as doubles; JSON prints the whole ones without
        // a fraction, so they decode into integer fields (counts stay below 2^53, and
        // nanosecond times come back as text).
        let results = Reflect::get(&answer, &JsValue::from_str("results"))
            .map_err(|e| D1Failure::Permanent(message(&e)))?;
        if results.is_undefined() || results.is_null() {
            return Ok(Rows("[]".into()));
        }
        let text = js_sys::JSON::stringify(&results)
            .map_err(|e| D1Failure::Permanent(format!("rows do not print: {}", message(&e))))?;
        Ok(Rows(String::from(text)))
    }

    async fn run_batch(&self, statements: &[Statement]) -> Result<Vec<u64>, D1Failure> {
        let (array, counts) = self.prepare_all(statements)?;
        self.usage.record(array.length() as usize);
        let promise = self
            .binding
            .batch(array)
            .map_err(|e| D1Failure::classify(message(&e)))?;
        let answers: Array = SendFuture::new(JsFuture::from(promise))
            .await
            .map_err(|e| D1Failure::classify(message(&e)))?
            .unchecked_into();
        let changes: Vec<u64> = answers
            .iter()
            .map(|answer| {
                let answer: Answer = answer.unchecked_into();
                self.remember_size(&answer);
                self.usage.record_rows(&answer);
                answer
                    .meta()
                    .ok()
                    .and_then(|meta| meta_number(&meta, "changes"))
                    .unwrap_or(0.0) as u64
            })
            .collect();
        // Back to one count per source statement.
        let mut out = Vec::with_capacity(counts.len());
        let mut next = changes.into_iter();
        for count in counts {
            out.push(next.by_ref().take(count).sum());
        }
        Ok(out)
    }
}

#[async_trait]
impl Database for D1 {
    async fn query(&self, statement: Statement) -> Result<Rows, StoreError> {
        retrying_once(|| self.run_query(&statement)).await
    }

    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        // D1 refuses an empty batch ("No SQL statements detected"); SQLite commits nothing.
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        retrying_once(|| self.run_batch(&statements)).await
    }

    async fn size(&self) -> Result<u64, StoreError> {
        if let Some(size) = SIZES.with(|sizes| sizes.borrow().get(&self.name).copied()) {
            return Ok(size);
        }
        self.query(Statement::new("SELECT 1 AS one", vec![]))
            .await?;
        Ok(SIZES
            .with(|sizes| sizes.borrow().get(&self.name).copied())
            .unwrap_or(0))
    }

    fn max_span_bytes(&self) -> Option<usize> {
        Some(MAX_SPAN_BYTES)
    }
}

fn js_value(param: &Param) -> JsValue {
    match param {
        Param::Null => JsValue::NULL,
        Param::Int(i) => JsValue::from_f64(*i as f64),
        Param::Text(text) => JsValue::from_str(text),
        Param::Blob(bytes) => js_sys::Uint8Array::from(bytes.as_slice()).buffer().into(),
    }
}

fn json_value(param: &Param) -> Value {
    match param {
        Param::Null => Value::Null,
        Param::Int(i) => Value::from(*i),
        Param::Text(text) => Value::from(text.as_str()),
        // Rows bound as JSON carry no blob; hex, as the SQL reads blobs back.
        Param::Blob(bytes) => {
            Value::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    }
}

/// Rows as JSON arrays of arrays, in chunks of at most [`MAX_STATEMENT_JSON_BYTES`] of
/// text (a single larger row gets a chunk of its own).
fn json_chunks(rows: &[Vec<Param>]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut chunk = String::from("[");
    for row in rows {
        let row = Value::Array(row.iter().map(json_value).collect()).to_string();
        if chunk.len() > 1 && chunk.len() + row.len() + 2 > MAX_STATEMENT_JSON_BYTES {
            chunk.push(']');
            chunks.push(std::mem::replace(&mut chunk, String::from("[")));
        }
        if chunk.len() > 1 {
            chunk.push(',');
        }
        chunk.push_str(&row);
    }
    if chunk.len() > 1 {
        chunk.push(']');
        chunks.push(chunk);
    }
    chunks
}

/// A number of a result's `meta`, as JavaScript has it.
fn meta_number(meta: &js_sys::Object, name: &str) -> Option<f64> {
    Reflect::get(meta, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_f64())
}

/// The text of a JavaScript error: its message, and its cause's (where D1 puts the
/// detail).
fn message(error: &JsValue) -> String {
    let Some(error) = error.dyn_ref::<js_sys::Error>() else {
        return error.as_string().unwrap_or_else(|| format!("{error:?}"));
    };
    let mut text = String::from(error.message());
    if let Some(cause) = error.cause().dyn_ref::<js_sys::Error>() {
        text.push_str(": ");
        text.push_str(&String::from(cause.message()));
    }
    text
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

impl D1Failure {
    fn classify(message: String) -> Self {
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
            Self::Transient(message)
        } else if BUSY.iter().any(|t| lower.contains(t)) {
            Self::Busy(message)
        } else {
            Self::Permanent(message)
        }
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
