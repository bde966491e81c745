//! The writer thread: the only connection that writes. Exports that arrive while it is
//! busy are committed together in one transaction (group commit), so the per-transaction
//! cost is shared when many clients send at once; each export is still answered only
//! after the commit that holds it.

use std::sync::mpsc;

use otel_worker_core::store::{Batch, StoreError, ns_to_column, sql};
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::storage;

/// Most spans committed in one group; a larger backlog is split into several commits so
/// no export waits behind an unbounded transaction.
pub const MAX_GROUP_SPANS: usize = 5_000;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer thread.
pub(super) enum Job {
    /// An export, grouped with others waiting at the same time.
    Insert(Batch, Reply<()>),
    /// Anything else that needs the write connection.
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The writer thread: runs jobs in order; an insert takes every insert queued behind it
/// (up to [`MAX_GROUP_SPANS`]) into the same transaction.
pub(super) fn write_loop(mut conn: Connection, queue: mpsc::Receiver<Job>) {
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
