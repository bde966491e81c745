//! The local server's [`Store`]: an embedded SQLite file with the schema in `migrations/`.
//!
//! Split by mechanism: `writer` owns the one write connection and commits exports in
//! groups, `checkpointer` keeps the WAL bounded, [`migrations`] brings the schema up to
//! date. Reads run on their own connections so listing traces never waits for ingest;
//! rusqlite is blocking, so they run on tokio's blocking pool.

mod checkpointer;
pub mod migrations;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use otel_worker_core::models::{Service, TraceSummary};
use otel_worker_core::store::{
    Batch, Pruned, SpanRow, Store, StoreError, TraceListQuery, ns_to_column, sql,
};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

pub use checkpointer::CHECKPOINT_INTERVAL;
pub use migrations::{MIGRATIONS, migrate};
use writer::Job;
pub use writer::MAX_GROUP_SPANS;

/// How long a write waits for a lock held by another process before answering 503.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). Index pages of recent
/// traces stay cached, which keeps inserts from re-reading them.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// The WAL is truncated back to this size when it restarts, so a burst does not leave a
/// huge file behind.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// Spans in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer thread's queue; the thread ends when the store is dropped.
    jobs: mpsc::Sender<Job>,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: Option<mpsc::Sender<()>>,
    /// `None` for an in-memory database, whose only connection is the writer's.
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
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(storage)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(storage)?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
            .map_err(storage)?;
        migrate(&mut conn).map_err(storage)?;
        Self::start(conn, Some(path.to_owned()))
    }

    /// A database that lives only as long as this process.
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(storage)?;
        migrate(&mut conn).map_err(storage)?;
        Self::start(conn, None)
    }

    fn start(writer: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::write_loop(writer, queue))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        let checkpointer = match &path {
            Some(path) => {
                let (stop, stopped) = mpsc::channel();
                let path = path.clone();
                let writer = jobs.clone();
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpointer::checkpoint_loop(&path, stopped, writer))
                    .map_err(|e| {
                        StoreError::Other(format!("cannot start the checkpoint thread: {e}"))
                    })?;
                Some(stop)
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                jobs,
                _checkpointer: checkpointer,
                path,
                idle_readers: Mutex::new(Vec::new()),
            }),
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .jobs
            .send(job)
            .map_err(|_| StoreError::Other("the database writer has stopped".into()))
    }

    /// Runs `f` on the write connection, after the writes queued before it.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Run(Box::new(move |conn| {
            let _ = reply.send(f(conn).map_err(storage));
        })))?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs `f` on a read connection (on the writer for an in-memory database).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let Some(path) = inner.path.clone() else {
            return self.write(move |conn| f(conn)).await;
        };
        run_blocking(move || {
            let idle = lock(&inner.idle_readers).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => open_reader(&path)?,
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

fn writer_gone() -> StoreError {
    StoreError::Other("the database writer stopped before answering".into())
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
pub(crate) fn storage(error: rusqlite::Error) -> StoreError {
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

fn span_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<SpanRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| {
        Ok(SpanRow {
            trace_id: row.get("trace_id")?,
            span_id: row.get("span_id")?,
            parent_span_id: row.get("parent_span_id")?,
            name: row.get("name")?,
            kind: row.get("kind")?,
            status_code: row.get("status_code")?,
            start_ns: row.get("start_ns")?,
            end_ns: row.get("end_ns")?,
            body: row.get("body")?,
            resource: row.get("resource")?,
            scope: row.get("scope")?,
        })
    })?;
    rows.collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, batch: Batch) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Insert(batch, reply))?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn list_traces(&self, query: TraceListQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let statement = sql::list_traces(&query);
        let rows = self
            .read(move |conn| {
                summaries(
                    conn,
                    &statement.sql,
                    rusqlite::params_from_iter(statement.params.iter()),
                )
            })
            .await?;
        into_summaries(rows)
    }

    async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows = self
            .read(|conn| {
                let mut stmt = conn.prepare_cached(sql::SERVICES)?;
                let rows = stmt.query_map([], |row| {
                    Ok(sql::ServiceRow {
                        name: row.get("name")?,
                        span_count: row.get("span_count")?,
                        last_seen: row.get("last_seen")?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter()
            .map(sql::ServiceRow::into_service)
            .collect()
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
        let rows = self
            .read(move |conn| span_rows(conn, &sql::trace_spans(), [trace_id]))
            .await?;
        rows.into_iter().map(SpanRow::into_json).collect()
    }

    async fn span(
        &self,
        trace_id: &str,
        span_id: &str,
    ) -> Result<Option<Box<RawValue>>, StoreError> {
        let (trace_id, span_id) = (trace_id.to_owned(), span_id.to_owned());
        let row = self
            .read(move |conn| span_rows(conn, &sql::span(), [trace_id, span_id]))
            .await?
            .pop();
        row.map(SpanRow::into_json).transpose()
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

    async fn prune(&self, cutoff_ns: u64, max_traces: u32) -> Result<Pruned, StoreError> {
        let cutoff = ns_to_column(cutoff_ns).to_string();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let spans = tx.execute(&sql::prune_spans(), params![cutoff, max_traces])?;
            let traces = tx.execute(&sql::prune_traces(), params![cutoff, max_traces])?;
            tx.commit()?;
            Ok(Pruned {
                traces: traces as u64,
                spans: spans as u64,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests;
