//! The checkpoint thread: keeps the WAL copied into the database and bounded in size
//! without ever making a commit or a read wait.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::writer::Job;

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

/// The checkpointer thread: every [`CHECKPOINT_INTERVAL`] copies committed WAL pages into
/// the database without blocking the writer or readers (`PASSIVE`), and keeps the WAL
/// bounded (see [`WAL_RESTART_PAGES`]). Once ingest pauses (nothing new for one interval
/// and everything copied), it truncates the WAL to zero bytes, so an idle server's disk
/// use is its database alone.
///
/// `wal_limit` (bytes) lowers the restart threshold, so a small storage budget holds.
pub(super) fn checkpoint_loop(
    path: &Path,
    stop: mpsc::Receiver<()>,
    writer: mpsc::Sender<Job>,
    wal_limit: Option<u64>,
) {
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
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap_or(4096);
    let restart_pages = wal_limit
        .map(|bytes| (bytes as i64 / page_size.max(1)).clamp(64, WAL_RESTART_PAGES))
        .unwrap_or(WAL_RESTART_PAGES);
    let mut last_size = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        match passive_checkpoint(&conn) {
            Ok(wal) if wal.idle_since(last_size) => {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                    tracing::debug!("truncating the idle WAL failed, retried later: {e}");
                }
                last_size = 0;
            }
            Ok(wal) if wal.pages > restart_pages => {
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
