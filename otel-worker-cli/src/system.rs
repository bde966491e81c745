//! `otel-worker-cli system ...`: look after the local SQLite file (stats, prune, delete).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use otel_worker_core::retention;
use rusqlite::{Connection, OpenFlags};

use crate::store::SqliteDatabase;
use crate::{DEFAULT_DB_PATH, view};

/// `otel-worker-cli system ...`
#[derive(Subcommand)]
pub enum SystemCommand {
    /// The local database.
    Database {
        #[command(subcommand)]
        command: DatabaseCommand,
    },
    /// Delete traces that started longer ago than --older-than, in short steps (safe while
    /// `dev` is running on the same database).
    Prune(PruneArgs),
}

/// `system prune`
#[derive(clap::Args)]
pub struct PruneArgs {
    /// `7d`, `12h`, `30m`.
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    older_than: Duration,
    #[arg(long, default_value = DEFAULT_DB_PATH)]
    db: PathBuf,
    /// The database's archive; by default `archive/` beside it.
    #[arg(long, value_name = "DIR")]
    archive: Option<PathBuf>,
}

pub async fn run(command: SystemCommand) -> anyhow::Result<()> {
    match command {
        SystemCommand::Database { command } => database(command),
        SystemCommand::Prune(args) => {
            let archive = archive_of(&args.db, args.archive);
            prune(&args.db, &archive, args.older_than).await
        }
    }
}

#[derive(Subcommand)]
pub enum DatabaseCommand {
    /// Delete the local database and its archive (asks first).
    Delete {
        #[arg(long, default_value = DEFAULT_DB_PATH)]
        db: PathBuf,
        /// The database's archive; by default `archive/` beside it.
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Spans, traces and size of the local database and its archive.
    Stats {
        #[arg(long, default_value = DEFAULT_DB_PATH)]
        db: PathBuf,
    },
}

/// The archive directory of `db`: the one given, else the default beside it.
fn archive_of(db: &Path, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| crate::default_archive_dir(db))
}

fn database(command: DatabaseCommand) -> anyhow::Result<()> {
    match command {
        DatabaseCommand::Delete { db, archive, yes } => {
            let archive = archive_of(&db, archive);
            delete(&db, &archive, yes)
        }
        DatabaseCommand::Stats { db } => {
            let stats = Stats::read(&db)?;
            let time = |ns: Option<u64>| ns.map(view::instant).unwrap_or_else(|| "-".into());
            println!("database  {}", db.display());
            println!("spans     {}", stats.spans);
            println!("traces    {}", stats.traces);
            println!(
                "archived  {} spans and {} log records in {} blocks ({})",
                stats.archived_spans,
                stats.archived_records,
                stats.archived_blocks,
                megabytes(stats.archived_bytes)
            );
            println!("oldest    {} (earliest span start)", time(stats.oldest_ns));
            println!("newest    {} (latest span end)", time(stats.newest_ns));
            println!(
                "size      {} ({} bytes, with write-ahead log)",
                megabytes(stats.bytes),
                stats.bytes
            );
            Ok(())
        }
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `system prune --older-than`: retention by hand, through the same store code as
/// `dev --retention`, archive included.
pub async fn prune(db: &Path, archive: &Path, older_than: Duration) -> anyhow::Result<()> {
    require_database(db)?;
    let mut store =
        otel_worker_core::store::Store::new(std::sync::Arc::new(SqliteDatabase::open(db)?));
    if archive.exists() {
        let objects = crate::archive_dir::DirectoryStore::open(archive)
            .with_context(|| format!("cannot open the archive {}", archive.display()))?;
        store = store.with_archive(std::sync::Arc::new(
            otel_worker_core::archive::Archive::new(std::sync::Arc::new(objects)).within_budget(),
        ));
    }
    let cutoff = crate::unix_nanos_ago(older_than);
    let pruned = retention::prune_before(&store, cutoff, None).await?;
    println!(
        "deleted {} traces ({} spans) that started before {}",
        pruned.traces,
        pruned.spans,
        view::instant(cutoff)
    );
    Ok(())
}

/// The database file plus its WAL, in bytes (0 for files that do not exist).
pub fn database_bytes(db: &Path) -> u64 {
    files(db)
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// What `stats` reports.
pub struct Stats {
    pub spans: u64,
    /// In the database and in the archive's blocks.
    pub traces: u64,
    /// The earliest span start, `None` when empty.
    pub oldest_ns: Option<u64>,
    /// The latest span end, `None` when empty.
    pub newest_ns: Option<u64>,
    /// The database file plus its WAL.
    pub bytes: u64,
    /// What the archive's blocks hold, as the database lists them.
    pub archived_spans: u64,
    pub archived_records: u64,
    pub archived_blocks: u64,
    pub archived_bytes: u64,
}

impl Stats {
    pub fn read(db: &Path) -> anyhow::Result<Self> {
        require_database(db)?;
        let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open {}", db.display()))?;
        let count = |table: &str| -> anyhow::Result<u64> {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .with_context(|| {
                format!(
                    "{} has no {table} table: is it an otel-worker database?",
                    db.display()
                )
            })
        };
        let (oldest, newest): (Option<i64>, Option<i64>) = conn.query_row(
            "SELECT (SELECT MIN(start_ns) FROM traces), (SELECT MAX(end_ns) FROM traces)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        // A database from before the archive has no block table: nothing archived.
        #[allow(clippy::type_complexity)]
        let (
            archived_spans,
            archived_records,
            archived_blocks,
            archived_bytes,
            archived_traces,
            first,
            last,
        ): (i64, i64, i64, i64, i64, Option<i64>, Option<i64>) = conn
            .query_row(
                // Signal 1: spans; 2: log records.
                "SELECT coalesce(sum(items) FILTER (WHERE signal = 1), 0),
                        coalesce(sum(items) FILTER (WHERE signal = 2), 0), count(*),
                        coalesce(sum(bytes), 0), coalesce(sum(traces), 0),
                        min(min_start_ns) FILTER (WHERE signal = 1),
                        max(max_start_ns) FILTER (WHERE signal = 1)
                 FROM archive_blocks",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ))
                },
            )
            .unwrap_or_default();
        let ns = |value: Option<i64>| value.and_then(|ns| u64::try_from(ns).ok());
        Ok(Self {
            archived_spans: archived_spans.max(0) as u64,
            archived_records: archived_records.max(0) as u64,
            archived_blocks: archived_blocks.max(0) as u64,
            archived_bytes: archived_bytes.max(0) as u64,
            spans: count("spans")?,
            traces: count("traces")? + archived_traces.max(0) as u64,
            // The archive holds the oldest traces; its blocks know their starts only.
            oldest_ns: [ns(oldest), ns(first)].into_iter().flatten().min(),
            newest_ns: ns(newest).or(ns(last)),
            bytes: database_bytes(db),
        })
    }
}

/// Commands on an existing database refuse to create an empty one.
fn require_database(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        bail!(
            "there is no database at {}: `otel-worker-cli dev` creates it",
            db.display()
        );
    }
    Ok(())
}

/// The database file and the WAL and shared-memory files SQLite keeps beside it.
fn files(db: &Path) -> Vec<PathBuf> {
    let mut files = vec![db.to_owned()];
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

fn delete(db: &Path, archive: &Path, yes: bool) -> anyhow::Result<()> {
    let stats = Stats::read(db)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to delete {} without confirmation: pass --yes",
                db.display()
            );
        }
        print!(
            "Delete {} ({} spans in {} traces) and its archive {} ({} spans)? [y/N] ",
            db.display(),
            stats.spans,
            stats.traces,
            archive.display(),
            stats.archived_spans
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("kept {}", db.display());
            return Ok(());
        }
    }
    for file in files(db) {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot delete {}", file.display())),
        }
    }
    // The block objects go with the database that lists them: a new database would never
    // read them, nor know to delete them.
    match std::fs::remove_dir_all(archive) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot delete {}", archive.display())),
    }
    println!(
        "deleted {} ({} spans) and its archive ({} spans)",
        db.display(),
        stats.spans,
        stats.archived_spans
    );
    Ok(())
}
