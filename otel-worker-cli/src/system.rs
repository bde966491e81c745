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
}

pub async fn run(command: SystemCommand) -> anyhow::Result<()> {
    match command {
        SystemCommand::Database { command } => database(command),
        SystemCommand::Prune(args) => prune(&args.db, args.older_than).await,
    }
}

#[derive(Subcommand)]
pub enum DatabaseCommand {
    /// Delete the local database (asks first).
    Delete {
        #[arg(long, default_value = DEFAULT_DB_PATH)]
        db: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Spans, traces and size of the local database.
    Stats {
        #[arg(long, default_value = DEFAULT_DB_PATH)]
        db: PathBuf,
    },
}

fn database(command: DatabaseCommand) -> anyhow::Result<()> {
    match command {
        DatabaseCommand::Delete { db, yes } => delete(&db, yes),
        DatabaseCommand::Stats { db } => {
            let stats = Stats::read(&db)?;
            let time = |ns: Option<u64>| ns.map(view::instant).unwrap_or_else(|| "-".into());
            println!("database  {}", db.display());
            println!("spans     {}", stats.spans);
            println!("traces    {}", stats.traces);
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
/// `dev --retention`.
pub async fn prune(db: &Path, older_than: Duration) -> anyhow::Result<()> {
    require_database(db)?;
    let store = otel_worker_core::store::Store::new(std::sync::Arc::new(SqliteDatabase::open(db)?));
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
    pub traces: u64,
    /// The earliest span start, `None` when empty.
    pub oldest_ns: Option<u64>,
    /// The latest span end, `None` when empty.
    pub newest_ns: Option<u64>,
    /// The database file plus its WAL.
    pub bytes: u64,
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
        Ok(Self {
            spans: count("spans")?,
            traces: count("traces")?,
            oldest_ns: oldest.and_then(|ns| u64::try_from(ns).ok()),
            newest_ns: newest.and_then(|ns| u64::try_from(ns).ok()),
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

fn delete(db: &Path, yes: bool) -> anyhow::Result<()> {
    let stats = Stats::read(db)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to delete {} without confirmation: pass --yes",
                db.display()
            );
        }
        print!(
            "Delete {} ({} spans in {} traces)? [y/N] ",
            db.display(),
            stats.spans,
            stats.traces
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
    println!("deleted {} ({} spans)", db.display(), stats.spans);
    Ok(())
}
