-- Migration number: 0007 	 log records beside their traces
--
-- Log records are appended in arrival order, like spans, and share `resources` with them.
-- A record has no id of its own in OTLP, so a retried export is recognised by its
-- content: `identity` is a 53-bit hash of the whole record, unique together with its
-- time. That unique index is also the newest-first order every list reads.
-- Only creates: runs in no time on a full database.

CREATE TABLE logs (
    log_row         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The record's time, or its observed time when it has none (unix nanoseconds).
    time_ns         INTEGER NOT NULL,
    identity        INTEGER NOT NULL,
    severity_number INTEGER NOT NULL,
    trace_id        BLOB,
    span_id         BLOB,
    resource_id     INTEGER NOT NULL,
    -- The record's attribute keys, stored once per distinct set as for spans; NULL
    -- without attributes.
    shape_id        INTEGER,
    -- The body as text (a string as it is, any other value as JSON), for `q`.
    message         TEXT    NOT NULL,
    -- Everything else, as the API's JSON without resource, scope and attribute keys (the
    -- attribute values are `"v"`, in the order of the shape's keys).
    body            TEXT    NOT NULL
);
CREATE UNIQUE INDEX logs_by_time ON logs (time_ns, identity);
CREATE INDEX logs_by_trace ON logs (trace_id, time_ns) WHERE trace_id IS NOT NULL;
