-- Migration number: 0004 	 ids as bytes
--
-- Trace and span ids were stored as hex text: 64 bytes per span row and 48 more in the
-- primary key index, a fifth of the database. They are now BLOBs of 16 and 8 bytes, half
-- that. The API still speaks hex: statements take ids through `unhex(?)` and read them
-- back with `lower(hex(...))`. BLOBs sort like their lowercase hex, so every order stays
-- the same. Existing rows are converted in place.

-- The service list gets its own table in the next migration.
DROP INDEX spans_by_service;

CREATE TABLE spans_binary (
    trace_id       BLOB    NOT NULL,
    span_id        BLOB    NOT NULL,
    parent_span_id BLOB,
    name           TEXT    NOT NULL,
    kind           INTEGER NOT NULL,
    service_name   TEXT,
    status_code    INTEGER NOT NULL,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL,
    resource_id    INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);

INSERT INTO spans_binary
SELECT unhex(trace_id), unhex(span_id), unhex(parent_span_id), name, kind, service_name,
       status_code, start_ns, end_ns, resource_id, body
FROM spans;

DROP TABLE spans;
ALTER TABLE spans_binary RENAME TO spans;

CREATE TABLE traces_binary (
    trace_id BLOB    NOT NULL PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns   INTEGER NOT NULL
);

INSERT INTO traces_binary SELECT unhex(trace_id), start_ns, end_ns FROM traces;

DROP TABLE traces;
ALTER TABLE traces_binary RENAME TO traces;

CREATE INDEX traces_by_start ON traces (start_ns, trace_id);
