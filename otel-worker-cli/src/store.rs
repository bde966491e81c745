//! The local server's [`Store`]: an embedded SQLite file with the schema in `migrations/`.
//!
//! One writer thread owns the write connection. Exports that arrive while it is busy are
//! committed together in one transaction (group commit), so the per-transaction cost is
//! shared when many clients send at once; each export is still answered only after the
//! commit that holds it. Reads run on their own connections so listing traces never waits
//! for ingest. rusqlite is blocking, so reads run on tokio's blocking pool.

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

/// How long a write waits for a lock held by another process before answering 503.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Most spans committed in one group; a larger backlog is split into several commits so
/// no export waits behind an unbounded transaction.
pub const MAX_GROUP_SPANS: usize = 5_000;

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). Index pages of recent
/// traces stay cached, which keeps inserts from re-reading them.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// How often the checkpointer thread copies the WAL back into the database. The writer
/// never checkpoints itself, so commits never wait for a checkpoint's writes and fsync;
/// and a page that many commits touched (index pages of recent traces) is copied once
/// per interval instead of once per 1,000 WAL pages.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Under sustained ingest new commits keep arriving while a background checkpoint runs,
/// so the WAL is never entirely copied and never restarts. Past this many pages the
/// checkpointer asks the writer to finish the copy between two commits (a short pause:
/// most pages were already copied in the background), after which the WAL restarts.
const WAL_RESTART_PAGES: i64 = 65_536;

/// The WAL is truncated back to this size when it restarts, so a burst does not leave a
/// huge file behind.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// The migrations of `migrations/`, in order; the same files wrangler applies to D1.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_spans.sql",
        include_str!("../../migrations/0001_spans.sql"),
    ),
    (
        "0002_compact_spans.sql",
        include_str!("../../migrations/0002_compact_spans.sql"),
    ),
    (
        "0003_search.sql",
        include_str!("../../migrations/0003_search.sql"),
    ),
    (
        "0004_binary_ids.sql",
        include_str!("../../migrations/0004_binary_ids.sql"),
    ),
    (
        "0005_services.sql",
        include_str!("../../migrations/0005_services.sql"),
    ),
];

/// Spans in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer thread's queue; the thread ends when the store is dropped.
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: Option<mpsc::Sender<()>>,
    /// `None` for an in-memory database, whose only connection is the writer's.
    path: Option<PathBuf>,
    idle_readers: Mutex<Vec<Connection>>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer thread.
enum Job {
    /// An export, grouped with others waiting at the same time.
    Insert(Batch, Reply<()>),
    /// Anything else that needs the write connection.
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
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
            .spawn(move || write_loop(writer, queue))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        let checkpointer = match &path {
            Some(path) => {
                let (stop, stopped) = mpsc::channel();
                let path = path.clone();
                let writer = jobs.clone();
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpoint_loop(&path, stopped, writer))
                    .map_err(|e| {
                        StoreError::Other(format!("cannot start the checkpoint thread: {e}"))
                    })?;
                Some(stop)
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(jobs),
                _checkpointer: checkpointer,
                path,
                idle_readers: Mutex::new(Vec::new()),
            }),
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        lock(&self.inner.jobs)
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

/// The checkpointer thread: every [`CHECKPOINT_INTERVAL`] copies committed WAL pages into
/// the database without blocking the writer or readers (`PASSIVE`), and keeps the WAL
/// bounded (see [`WAL_RESTART_PAGES`]). Once ingest pauses (nothing new for one interval
/// and everything copied), it truncates the WAL to zero bytes, so an idle server's disk
/// use is its database alone.
fn checkpoint_loop(path: &Path, stop: mpsc::Receiver<()>, writer: mpsc::Sender<Job>) {
    // No busy wait: a passive checkpoint never waits anyway, and the idle truncation holds
    // the write lock while it waits for readers, which would make exports wait behind a
    // long search. If it cannot run at once, the next idle check tries again.
    let conn = match Connection::open(path).and_then(|conn| {
        conn.busy_timeout(Duration::ZERO)?;
        Ok(conn)
    }) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!("cannot open the database for checkpoints, the WAL will grow: {e}");
            return;
        }
    };
    let mut last_size = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        match passive_checkpoint(&conn) {
            Ok(wal) if wal.idle_since(last_size) => {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                    tracing::debug!("truncating the idle WAL failed, retried later: {e}");
                }
                last_size = 0;
            }
            Ok(wal) if wal.pages > WAL_RESTART_PAGES => {
                last_size = wal.pages;
                let (done, finished) = mpsc::channel();
                let job = Job::Run(Box::new(move |conn| {
                    let _ = done.send(passive_checkpoint(conn).map(drop));
                }));
                if writer.send(job).is_err() {
                    return;
                }
                if let Ok(Err(e)) = finished.recv() {
                    tracing::warn!("WAL checkpoint on the writer failed: {e}");
                }
            }
            Ok(wal) => last_size = wal.pages,
            Err(e) => tracing::warn!("WAL checkpoint failed: {e}"),
        }
    }
}

/// The WAL after a checkpoint, in pages.
struct WalState {
    pages: i64,
    copied: i64,
}

impl WalState {
    /// Everything is in the database and nothing was written since the last look.
    fn idle_since(&self, last_size: i64) -> bool {
        self.pages > 0 && self.copied == self.pages && self.pages == last_size
    }
}

/// Copies what it can of the WAL into the database.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<WalState> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(WalState {
            pages: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

fn writer_gone() -> StoreError {
    StoreError::Other("the database writer stopped before answering".into())
}

/// The writer thread: runs jobs in order; an insert takes every insert queued behind it
/// (up to [`MAX_GROUP_SPANS`]) into the same transaction.
fn write_loop(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::Run(f) => f(&mut conn),
            Job::Insert(batch, reply) => {
                let mut spans = batch.spans.len();
                let mut group = vec![(batch, reply)];
                while spans < MAX_GROUP_SPANS {
                    match queue.try_recv() {
                        Ok(Job::Insert(batch, reply)) => {
                            spans += batch.spans.len();
                            group.push((batch, reply));
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_group(&mut conn, group);
            }
        }
    }
}

/// Commits a group in one transaction and answers every export in it. If that fails
/// for a reason other than a busy database, each export is retried alone so one bad
/// export cannot fail the others.
fn commit_group(conn: &mut Connection, group: Vec<(Batch, Reply<()>)>) {
    let batches: Vec<&Batch> = group.iter().map(|(batch, _)| batch).collect();
    match insert_batches(conn, &batches).map_err(storage) {
        Ok(()) => {
            for (_, reply) in group {
                let _ = reply.send(Ok(()));
            }
        }
        Err(error) if group.len() == 1 || matches!(error, StoreError::Busy(_)) => {
            for (_, reply) in group {
                let _ = reply.send(Err(error.clone()));
            }
        }
        Err(_) => {
            for (batch, reply) in group {
                let _ = reply.send(insert_batches(conn, &[&batch]).map_err(storage));
            }
        }
    }
}

fn insert_batches(conn: &mut Connection, batches: &[&Batch]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut resource = tx.prepare_cached(sql::INSERT_RESOURCE)?;
        let mut insert = tx.prepare_cached(sql::INSERT_SPAN)?;
        let mut trace_ids: Vec<&str> = Vec::new();
        for batch in batches {
            for r in &batch.resources {
                resource.execute(params![r.id, r.resource, r.scope])?;
            }
            for s in &batch.spans {
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
                    s.resource_id,
                    s.body,
                ])?;
                trace_ids.push(&s.trace_id);
            }
        }
        trace_ids.sort_unstable();
        trace_ids.dedup();
        tx.prepare_cached(sql::REFRESH_TRACES)?
            .execute([sql::json_array(&trace_ids)])?;
    }
    tx.commit()
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
