-- Migration number: 0001 	 spans and traces
--
-- The one schema of otel-worker, applied by wrangler to D1 and by otel-worker-cli to
-- SQLite. Nanosecond columns are exact integers (clamped to 2^63-1; the span JSON keeps
-- the exact value).

-- Every span, keyed by (trace_id, span_id) so a retried export replaces instead of
-- duplicating. `span` holds the whole span as the API returns it.
CREATE TABLE spans (
    trace_id       TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    parent_span_id TEXT,
    name           TEXT    NOT NULL,
    kind           INTEGER NOT NULL,
    service_name   TEXT,
    status_code    INTEGER NOT NULL,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL,
    span           TEXT    NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);

-- One row per trace with its time range, kept in step with `spans` by the stores, so
-- the newest-first trace list is an index walk instead of a GROUP BY over all spans.
CREATE TABLE traces (
    trace_id TEXT    NOT NULL PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns   INTEGER NOT NULL
);

CREATE INDEX traces_by_start ON traces (start_ns, trace_id);
