//! The local server's [`Store`]: an embedded SQLite file with the schema in `migrations/`.
//!
//! One writer connection commits each export in one transaction (one fsync per export in
//! WAL mode with `synchronous=NORMAL`); reads run on their own connections so listing
//! traces never waits for ingest. rusqlite is blocking, so every call runs on tokio's
//! blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use otel_worker_core::models::TraceSummary;
use otel_worker_core::store::{SpanRecord, Store, StoreError, TraceListQuery, ns_to_column, sql};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::value::RawValue;

/// How long a write waits for a lock held by another process before answering 503.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// The migrations of `migrations/`, in order; the same files wrangler applies to D1.
pub const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_spans.sql",
    include_str!("../../migrations/0001_spans.sql"),
)];

/// Spans in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    /// `None` for an in-memory database, which has only the writer's connection.
    path: Option<PathBuf>,
    idle_readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Other(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut conn = Connection::open(path).map_err(|e| opening(path, e))?;
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(storage)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(storage)?;
        migrate(&mut conn).map_err(storage)?;
        Ok(Self::from_parts(conn, Some(path.to_owned())))
    }

    /// A database that lives only as long as this process.
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(storage)?;
        migrate(&mut conn).map_err(storage)?;
        Ok(Self::from_parts(conn, None))
    }

    fn from_parts(writer: Connection, path: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                path,
                idle_readers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `f` on the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || f(&mut lock(&inner.writer))).await
    }

    /// Runs `f` on a read connection (the writer's for an in-memory database).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let Some(path) = &inner.path else {
                return f(&lock(&inner.writer));
            };
            let idle = lock(&inner.idle_readers).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => open_reader(path)?,
            };
            let result = f(&conn);
            let mut idle = lock(&inner.idle_readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
    }
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A poisoned lock only means another call panicked; the connection itself is intact.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> rusqlite::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(format!("storage task failed: {e}")))?
        .map_err(storage)
}

/// Sorts SQLite errors into "retry later" (busy, locked) and the rest.
fn storage(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Busy(error.to_string())
        }
        _ => StoreError::Other(error.to_string()),
    }
}

fn opening(path: &Path, error: rusqlite::Error) -> StoreError {
    StoreError::Other(format!("cannot open {}: {error}", path.display()))
}

/// Applies every migration not yet recorded, each in its own transaction, recording them
/// in wrangler's own `d1_migrations` table so the two stay interchangeable.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS d1_migrations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT UNIQUE,
            applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
        )",
    )?;
    for (name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM d1_migrations WHERE name = ?1)",
            [name],
            |row| row.get(0),
        )?;
        if !applied {
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO d1_migrations (name) VALUES (?1)", [name])?;
        }
        tx.commit()?;
    }
    Ok(())
}

const INSERT_SPAN: &str = "\
INSERT OR REPLACE INTO spans
    (trace_id, span_id, parent_span_id, name, kind, service_name, status_code, start_ns, end_ns, span)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

fn summaries(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<sql::SummaryRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| {
        Ok(sql::SummaryRow {
            trace_id: row.get("trace_id")?,
            start_ns: row.get("start_ns")?,
            end_ns: row.get("end_ns")?,
            span_count: row.get("span_count")?,
            error_count: row.get("error_count")?,
            root_span_name: row.get("root_span_name")?,
            service_name: row.get("service_name")?,
            services: row.get("services")?,
        })
    })?;
    rows.collect()
}

fn into_summaries(rows: Vec<sql::SummaryRow>) -> Result<Vec<TraceSummary>, StoreError> {
    rows.into_iter()
        .map(sql::SummaryRow::into_summary)
        .collect()
}

fn raw_json(text: String) -> rusqlite::Result<Box<RawValue>> {
    RawValue::from_string(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_spans(&self, spans: Vec<SpanRecord>) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(INSERT_SPAN)?;
                for s in &spans {
                    insert.execute(params![
                        s.trace_id,
                        s.span_id,
                        s.parent_span_id,
                        s.name,
                        s.kind,
                        s.service_name,
                        s.status_code,
                        ns_to_column(s.start_ns),
                        ns_to_column(s.end_ns),
                        s.json,
                    ])?;
                }
                tx.prepare_cached(sql::REFRESH_TRACES)?
                    .execute([sql::trace_ids_json(&spans)])?;
            }
            tx.commit()
        })
        .await
    }

    async fn list_traces(&self, query: TraceListQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let rows = self
            .read(move |conn| match query.before_ns {
                None => summaries(conn, &sql::list_traces(), params![query.limit]),
                Some(before) => summaries(
                    conn,
                    &sql::list_traces_before(),
                    params![query.limit, before.to_string()],
                ),
            })
            .await?;
        into_summaries(rows)
    }

    async fn trace_summary(&self, trace_id: &str) -> Result<Option<TraceSummary>, StoreError> {
        let trace_id = trace_id.to_owned();
        let rows = self
            .read(move |conn| summaries(conn, &sql::trace_summary(), [trace_id]))
            .await?;
        Ok(into_summaries(rows)?.pop())
    }

    async fn trace_spans(&self, trace_id: &str) -> Result<Vec<Box<RawValue>>, StoreError> {
        let trace_id = trace_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(sql::TRACE_SPANS)?;
            let spans = stmt.query_map([trace_id], |row| raw_json(row.get(0)?))?;
            spans.collect()
        })
        .await
    }

    async fn span(
        &self,
        trace_id: &str,
        span_id: &str,
    ) -> Result<Option<Box<RawValue>>, StoreError> {
        let (trace_id, span_id) = (trace_id.to_owned(), span_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(sql::SPAN)?
                .query_row([trace_id, span_id], |row| raw_json(row.get(0)?))
                .optional()
        })
        .await
    }

    async fn delete_trace(&self, trace_id: &str) -> Result<bool, StoreError> {
        let trace_id = trace_id.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deleted = tx.execute(sql::DELETE_TRACE_SPANS, [&trace_id])?;
            tx.execute(sql::DELETE_TRACE, [&trace_id])?;
            tx.commit()?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn delete_span(&self, trace_id: &str, span_id: &str) -> Result<bool, StoreError> {
        let (trace_id, span_id) = (trace_id.to_owned(), span_id.to_owned());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deleted = tx.execute(sql::DELETE_SPAN, [&trace_id, &span_id])?;
            tx.execute(sql::REFRESH_TRACES, [sql::json_array(&[&trace_id])])?;
            tx.execute(sql::FORGET_EMPTY_TRACE, [&trace_id])?;
            tx.commit()?;
            Ok(deleted > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
