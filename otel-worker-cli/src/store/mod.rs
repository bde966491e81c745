//! The local server's [`Database`]: an embedded SQLite file with the schema in
//! `migrations/`, for the core's [`Store`](otel_worker_core::store::Store).
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
use otel_worker_core::store::{Batch, Database, Rows, Statement, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use serde_json::Value;
use tokio::sync::oneshot;

pub use checkpointer::CHECKPOINT_INTERVAL;
pub use migrations::{MIGRATIONS, migrate};
pub use writer::MAX_GROUP_ROWS;
use writer::{Bind, Job};

/// How long a write waits for a lock held by another process before answering 503.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). Index pages of recent
/// traces stay cached, which keeps inserts from re-reading them.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// The WAL is truncated back to this size when it restarts, so a burst does not leave a
/// huge file behind.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Within a storage budget the WAL restarts once it passes this fraction of it (1/16):
/// what the budget leaves above the 90% where pruning starts must hold the WAL and the
/// transactions in flight.
pub const WAL_SHARE: u64 = 16;

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// Spans in SQLite.
#[derive(Clone)]
pub struct SqliteDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer thread's queue; the thread ends when the database is dropped.
    jobs: mpsc::Sender<Job>,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: Option<mpsc::Sender<()>>,
    /// `None` for an in-memory database, whose only connection is the writer's.
    path: Option<PathBuf>,
    idle_readers: Mutex<Vec<Connection>>,
}

impl SqliteDatabase {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_within(path, None)
    }

    /// [`SqliteDatabase::open`] for a store with a storage budget: the WAL restarts
    /// once it passes [`WAL_SHARE`] of it.
    pub fn open_within(path: &Path, budget: Option<u64>) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Other(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut conn = Connection::open(path).map_err(|e| opening(path, e))?;
        like_d1(&conn);
        conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(storage)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(storage)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(storage)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(storage)?;
        // Statement journals (an export's statements each keep one, for their conflict
        // clauses) and the sorts of its GROUP BYs stay in memory: as temporary files they
        // were written through the kernel at about a third of the WAL's bytes.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(storage)?;
        // Within a storage budget, a restarted WAL gives its space back too.
        let journal_limit = budget.map_or(JOURNAL_SIZE_LIMIT, |b| {
            JOURNAL_SIZE_LIMIT.min(i64::try_from(b / WAL_SHARE).unwrap_or(i64::MAX))
        });
        conn.pragma_update(None, "journal_size_limit", journal_limit)
            .map_err(storage)?;
        migrate(&mut conn).map_err(storage)?;
        Self::start(conn, Some(path.to_owned()), budget.map(|b| b / WAL_SHARE))
    }

    /// A database that lives only as long as this process.
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(storage)?;
        like_d1(&conn);
        migrate(&mut conn).map_err(storage)?;
        Self::start(conn, None, None)
    }

    fn start(
        writer: Connection,
        path: Option<PathBuf>,
        wal_limit: Option<u64>,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel();
        let wal_bound = path
            .as_deref()
            .map(|path| checkpointer::WalBound::new(path, wal_limit));
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::write_loop(writer, queue, wal_bound))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        let checkpointer = match &path {
            Some(path) => {
                let (stop, stopped) = mpsc::channel();
                let path = path.clone();
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpointer::checkpoint_loop(&path, stopped))
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

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .jobs
            .send(job)
            .map_err(|_| StoreError::Other("the database writer has stopped".into()))
    }

    /// Runs `f` on the write connection, after the writes queued before it.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
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
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
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
    like_d1(&conn);
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    Ok(conn)
}

/// The terms D1 allows in one compound SELECT (its error past them: "too many terms in
/// compound SELECT"; SQLite's own default is 500).
pub const D1_COMPOUND_SELECT_TERMS: i32 = 5;

/// Gives a connection D1's limits where they are lower than SQLite's, so a statement D1
/// would refuse fails here first, in every test.
fn like_d1(conn: &Connection) {
    // Lowering a limit cannot fail; the previous value is all it returns.
    let _ = conn.set_limit(
        rusqlite::limits::Limit::SQLITE_LIMIT_COMPOUND_SELECT,
        D1_COMPOUND_SELECT_TERMS,
    );
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
        // Room may be made (by pruning, or by whoever filled the disk) and a failing disk
        // may come back: the exporter keeps the data and retries.
        Some(ErrorCode::DiskFull) => StoreError::Full(format!("the disk is full: {error}")),
        Some(ErrorCode::SystemIoFailure) => {
            StoreError::Busy(format!("the disk failed to read or write: {error}"))
        }
        _ => StoreError::Other(error.to_string()),
    }
}

fn opening(path: &Path, error: rusqlite::Error) -> StoreError {
    StoreError::Other(format!("cannot open {}: {error}", path.display()))
}

/// Bytes the database occupies: its pages in use (freed pages are reused before the file
/// grows) and its write-ahead log.
/// The bytes of the database's pages in use (free pages left out).
fn used_pages(conn: &Connection) -> rusqlite::Result<u64> {
    let pragma = |name: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
    };
    let pages = pragma("page_count")? - pragma("freelist_count")?;
    Ok(u64::try_from(pages * pragma("page_size")?).unwrap_or(0))
}

fn measure_size(conn: &Connection, path: Option<&Path>) -> rusqlite::Result<u64> {
    let used = used_pages(conn)?;
    let wal = path
        .map(|p| {
            let mut wal = p.as_os_str().to_owned();
            wal.push("-wal");
            std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
        })
        .unwrap_or(0);
    Ok(used + wal)
}

/// The rows of a query as the JSON text of an array of objects, written straight from
/// SQLite's values (no map per row).
fn query_rows(conn: &Connection, statement: &Statement) -> rusqlite::Result<Rows> {
    let Statement::One { sql, params } = statement else {
        return Err(rusqlite::Error::InvalidQuery);
    };
    let mut prepared = conn.prepare_cached(sql)?;
    // Each column's name, already written as a JSON key.
    let keys: Vec<String> = prepared
        .column_names()
        .into_iter()
        .map(|name| format!("{}:", Value::from(name)))
        .collect();
    let mut rows = prepared.query(rusqlite::params_from_iter(params.iter().map(Bind)))?;
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    let mut first = true;
    while let Some(row) = rows.next()? {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'{');
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key.as_bytes());
            match row.get_ref(i)? {
                ValueRef::Null => out.extend_from_slice(b"null"),
                ValueRef::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
                ValueRef::Real(r) => match serde_json::Number::from_f64(r) {
                    Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
                    None => out.extend_from_slice(b"null"),
                },
                ValueRef::Text(t) => {
                    let text = String::from_utf8_lossy(t);
                    let _ = serde_json::to_writer(&mut out, text.as_ref());
                }
                ValueRef::Blob(b) => {
                    let _ = serde_json::to_writer(&mut out, &hex::encode(b));
                }
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    // Only strings from SQLite (made valid above) and JSON punctuation went in.
    Ok(Rows(String::from_utf8_lossy(&out).into_owned()))
}

#[async_trait]
impl Database for SqliteDatabase {
    async fn query(&self, statement: Statement) -> Result<Rows, StoreError> {
        self.read(move |conn| query_rows(conn, &statement)).await
    }

    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Transaction(statements, reply))?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn ingest(&self, batch: Batch) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Ingest(batch, reply))?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn reclaim(&self) -> Result<(), StoreError> {
        // Copy the WAL into the database and truncate it; readers in the way make this
        // a no-op, retried at the next check.
        self.write(|conn| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())))
            .await?;
        Ok(())
    }

    async fn data_size(&self) -> Result<u64, StoreError> {
        self.read(used_pages).await
    }

    async fn size(&self) -> Result<u64, StoreError> {
        let path = self.inner.path.clone();
        self.read(move |conn| measure_size(conn, path.as_deref()))
            .await
    }
}

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod log_archive_tests;
#[cfg(test)]
mod segment_tests;
#[cfg(test)]
mod tests;
