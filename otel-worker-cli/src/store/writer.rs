//! The writer thread: the only connection that writes. Exports that arrive while it is
//! busy are committed together, as one export, in one transaction (group commit), so the
//! per-transaction cost is shared when many clients send at once; each export is still
//! answered only after the commit that holds it.

use std::sync::mpsc;

use otel_worker_core::store::write::export_statements;
use otel_worker_core::store::{Batch, Param, Statement, StoreError};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior};
use tokio::sync::oneshot;

use super::checkpointer::WalBound;
use super::storage;

/// Most rows (spans, log records and metric points together) committed in one group; a
/// larger backlog is split into several commits so no export waits behind an unbounded
/// transaction.
pub const MAX_GROUP_ROWS: usize = 5_000;

/// The rows an export adds, as a group counts them.
fn rows(batch: &Batch) -> usize {
    batch.spans.len() + batch.logs.len() + batch.points.len()
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer thread.
pub(super) enum Job {
    /// An export, grouped with others waiting at the same time.
    Ingest(Batch, Reply<()>),
    /// Statements to run in one transaction; the reply has each one's change count.
    Transaction(Vec<Statement>, Reply<Vec<u64>>),
    /// Anything else that needs the write connection.
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The writer thread: runs jobs in order; an export takes every export queued behind it
/// (up to [`MAX_GROUP_ROWS`]) into the same transaction.
pub(super) fn write_loop(
    mut conn: Connection,
    queue: mpsc::Receiver<Job>,
    wal_bound: Option<WalBound>,
) {
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
            Job::Transaction(statements, reply) => {
                let _ = reply.send(run(&mut conn, &statements).map_err(storage));
            }
            Job::Ingest(batch, reply) => {
                let mut count = rows(&batch);
                let mut group = vec![(batch, reply)];
                while count < MAX_GROUP_ROWS {
                    match queue.try_recv() {
                        Ok(Job::Ingest(batch, reply)) => {
                            count += rows(&batch);
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
        if let Some(bound) = &wal_bound {
            bound.after_write(&conn);
        }
    }
}

/// Commits a group as one export and answers every export in it. If that fails for a
/// reason other than a busy database, each export is retried alone so one bad export
/// cannot fail the others.
fn commit_group(conn: &mut Connection, group: Vec<(Batch, Reply<()>)>) {
    let (batches, replies): (Vec<Batch>, Vec<Reply<()>>) = group.into_iter().unzip();
    match run(conn, &export_statements(&batches)).map_err(storage) {
        Ok(_) => {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        // A busy database fails them all alike; a lone export has nothing to retry apart.
        Err(error) if matches!(error, StoreError::Busy(_)) || batches.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
        Err(_) => {
            for (batch, reply) in batches.iter().zip(replies) {
                let result = run(conn, &export_statements(std::slice::from_ref(batch))).map(drop);
                let _ = reply.send(result.map_err(storage));
            }
        }
    }
}

/// Runs statements in one `BEGIN IMMEDIATE` transaction with cached prepared statements.
pub(super) fn run(conn: &mut Connection, statements: &[Statement]) -> rusqlite::Result<Vec<u64>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut changes = Vec::with_capacity(statements.len());
    for statement in statements {
        changes.push(match statement {
            Statement::One { sql, params } => {
                let mut prepared = tx.prepare_cached(sql)?;
                prepared.execute(rusqlite::params_from_iter(params.iter().map(Bind)))? as u64
            }
            Statement::Rows { per_row, rows, .. } => {
                let mut prepared = tx.prepare_cached(per_row)?;
                let mut total = 0;
                for row in rows {
                    total += prepared.execute(rusqlite::params_from_iter(row.iter().map(Bind)))?;
                }
                total as u64
            }
        });
    }
    tx.commit()?;
    Ok(changes)
}

/// A parameter as SQLite binds it, text borrowed rather than copied.
pub(super) struct Bind<'a>(pub(super) &'a Param);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Param::Null => ToSqlOutput::Owned(SqlValue::Null),
            Param::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Param::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Param::Blob(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        })
    }
}
