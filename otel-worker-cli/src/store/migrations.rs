//! The schema: the SQL files of `migrations/`, compiled in and applied in order, recorded
//! the way wrangler records them for D1.

use rusqlite::{Connection, TransactionBehavior};

/// The migrations of `migrations/`, in order; the same files wrangler applies to D1.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_spans.sql",
        include_str!("../../../migrations/0001_spans.sql"),
    ),
    (
        "0002_compact_spans.sql",
        include_str!("../../../migrations/0002_compact_spans.sql"),
    ),
    (
        "0003_search.sql",
        include_str!("../../../migrations/0003_search.sql"),
    ),
    (
        "0004_binary_ids.sql",
        include_str!("../../../migrations/0004_binary_ids.sql"),
    ),
    (
        "0005_services.sql",
        include_str!("../../../migrations/0005_services.sql"),
    ),
    (
        "0006_arrival_order.sql",
        include_str!("../../../migrations/0006_arrival_order.sql"),
    ),
    (
        "0007_logs.sql",
        include_str!("../../../migrations/0007_logs.sql"),
    ),
    (
        "0008_metrics.sql",
        include_str!("../../../migrations/0008_metrics.sql"),
    ),
    (
        "0009_long_traces.sql",
        include_str!("../../../migrations/0009_long_traces.sql"),
    ),
    (
        "0010_sweep.sql",
        include_str!("../../../migrations/0010_sweep.sql"),
    ),
    (
        "0011_archive.sql",
        include_str!("../../../migrations/0011_archive.sql"),
    ),
    (
        "0012_shares.sql",
        include_str!("../../../migrations/0012_shares.sql"),
    ),
    (
        "0013_hot_segments.sql",
        include_str!("../../../migrations/0013_hot_segments.sql"),
    ),
];

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
