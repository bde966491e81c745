//! The checkpoint thread: keeps the WAL copied into the database and bounded in size
//! without ever making a commit or a read wait.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

/// How often the checkpointer thread copies the WAL back into the database. The writer
/// never checkpoints itself, so commits never wait for a checkpoint's writes and fsync;
/// and a page that many commits touched (index pages of recent traces) is copied once
/// per interval instead of once per 1,000 WAL pages.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Under sustained ingest new commits keep arriving while a background checkpoint runs,
/// so the WAL is never entirely copied and never restarts. Past this many bytes the
/// writer finishes the copy itself between two commits (a short pause: most pages were
/// already copied in the background), after which the WAL restarts.
const WAL_RESTART_BYTES: u64 = 256 * 1024 * 1024;

/// The smallest restart threshold a storage budget can ask for.
const MIN_WAL_RESTART_BYTES: u64 = 256 * 1024;

/// The writer's bound on the WAL: checked after every write, so the WAL passes its
/// threshold by at most one transaction's pages, however fast commits arrive (a check
/// every [`CHECKPOINT_INTERVAL`] let a small budget's WAL reach several times its share).
pub(super) struct WalBound {
    wal: PathBuf,
    restart_bytes: u64,
    /// Within a storage budget the bound must hold: the checkpoint waits (up to the
    /// busy timeout) for readers of the old log, which would otherwise keep it from
    /// restarting. Without one, nothing waits and a reader in the way only delays it.
    wait_for_readers: bool,
}

impl WalBound {
    /// The bound for the database at `path`; `wal_limit` (bytes, a storage budget's
    /// share) lowers the threshold and makes it hold.
    pub(super) fn new(path: &Path, wal_limit: Option<u64>) -> Self {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let restart_bytes = wal_limit.map_or(WAL_RESTART_BYTES, |bytes| {
            bytes.clamp(MIN_WAL_RESTART_BYTES, WAL_RESTART_BYTES)
        });
        Self {
            wal: PathBuf::from(wal),
            restart_bytes,
            wait_for_readers: wal_limit.is_some(),
        }
    }

    /// After a write: a WAL past its threshold is copied into the database now, so the
    /// next commit restarts it (and truncates it to the journal size limit).
    pub(super) fn after_write(&self, conn: &Connection) {
        let bytes = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if bytes <= self.restart_bytes {
            return;
        }
        let checkpoint = if self.wait_for_readers {
            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
        } else {
            passive_checkpoint(conn).map(drop)
        };
        if let Err(e) = checkpoint {
            tracing::warn!("WAL checkpoint on the writer failed: {e}");
        }
    }
}

/// The checkpointer thread: every [`CHECKPOINT_INTERVAL`] copies committed WAL pages into
/// the database without blocking the writer or readers (`PASSIVE`). Once ingest pauses
/// (nothing new for one interval and everything copied), it truncates the WAL to zero
/// bytes, so an idle server's disk use is its database alone.
pub(super) fn checkpoint_loop(path: &Path, stop: mpsc::Receiver<()>) {
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
