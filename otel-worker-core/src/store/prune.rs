//! Deleting: whole traces, oldest first, in short steps (retention and the storage
//! budget), and single traces or spans on request.

use super::{Param, Pruned, Statement, Store, StoreError, ns_param, sql};

impl Store {
    /// Deletes the oldest traces (at most `max_traces`, all of their spans) that started
    /// before `cutoff_ns`, and the log records (at most ten per trace) and metric points
    /// (at most a hundred per trace) of their time, in one short transaction; see
    /// [`crate::retention`].
    pub async fn prune(&self, cutoff_ns: u64, max_traces: u32) -> Result<Pruned, StoreError> {
        let params = || vec![ns_param(cutoff_ns), Param::Int(i64::from(max_traces))];
        let mut statements: Vec<Statement> = sql::PRUNE
            .iter()
            .map(|sql| Statement::new(*sql, params()))
            .collect();
        statements.insert(5, Statement::new(sql::COUNT_PRUNED, params()));
        for (i, sql) in sql::PRUNE_LOGS.iter().enumerate() {
            statements.insert(5 + i, Statement::new(*sql, params()));
        }
        // Metric points go with the log records of the same horizon, before the traces.
        for (i, sql) in sql::PRUNE_POINTS.iter().enumerate() {
            statements.insert(7 + i, Statement::new(*sql, params()));
        }
        statements.extend(
            sql::FORGET_EMPTY_BLOCKS
                .iter()
                .map(|sql| Statement::new(*sql, vec![])),
        );
        let changes = self.db.transaction(statements).await?;
        let count = |i: usize| changes.get(i).copied().unwrap_or(0);
        // Archived traces of the same age go with their blocks.
        let blocks = self.drop_blocks_before(cutoff_ns, 4).await?;
        Ok(Pruned {
            spans: count(3) + count(4) + blocks.spans,
            logs: count(6) + blocks.logs,
            points: count(8),
            traces: count(10) + blocks.traces,
        })
    }

    /// Deletes every span and log record of a trace; `false` when there was none.
    pub async fn delete_trace(&self, trace_id: &str) -> Result<bool, StoreError> {
        let statements = sql::DELETE_TRACE_LOGS
            .iter()
            .chain(sql::DELETE_TRACE.iter())
            .map(|sql| Statement::new(*sql, vec![trace_id.into()]))
            .collect();
        let changes = self.db.transaction(statements).await?;
        let hot = changes.get(1).is_some_and(|n| *n > 0) || changes.last().is_some_and(|n| *n > 0);
        let archived = self.delete_archived(trace_id, None).await?;
        Ok(hot || archived)
    }

    /// Deletes one span; `false` when it did not exist.
    pub async fn delete_span(&self, trace_id: &str, span_id: &str) -> Result<bool, StoreError> {
        let statements = sql::DELETE_SPAN
            .iter()
            .map(|sql| {
                let mut params = vec![trace_id.into()];
                if sql.contains("?2") {
                    params.push(span_id.into());
                }
                Statement::new(*sql, params)
            })
            .collect();
        let changes = self.db.transaction(statements).await?;
        if changes.get(2).copied().unwrap_or(0) + changes.get(3).copied().unwrap_or(0) > 0 {
            return Ok(true);
        }
        self.delete_archived(trace_id, Some(span_id)).await
    }
}
