//! `otel-worker-cli system database ...`: look after the local SQLite file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use rusqlite::{Connection, OpenFlags};

use crate::DEFAULT_DB_PATH;

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

pub fn run(command: DatabaseCommand) -> anyhow::Result<()> {
    match command {
        DatabaseCommand::Delete { db, yes } => delete(&db, yes),
        DatabaseCommand::Stats { db } => {
            let stats = Stats::read(&db)?;
            println!("database  {}", db.display());
            println!("spans     {}", stats.spans);
            println!("traces    {}", stats.traces);
            println!("size      {} bytes (with write-ahead log)", stats.bytes);
            Ok(())
        }
    }
}

/// What `stats` reports.
pub struct Stats {
    pub spans: u64,
    pub traces: u64,
    /// The database file plus its WAL.
    pub bytes: u64,
}

impl Stats {
    pub fn read(db: &Path) -> anyhow::Result<Self> {
        if !db.exists() {
            bail!(
                "there is no database at {}: `otel-worker-cli dev` creates it",
                db.display()
            );
        }
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
        Ok(Self {
            spans: count("spans")?,
            traces: count("traces")?,
            bytes: files(db)
                .iter()
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum(),
        })
    }
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
