-- Migration number: 0006 	 spans in arrival order, summarized traces, search blocks
--
-- Spans were kept in a table keyed by (trace_id, span_id): every span was an insert at a
-- random place of that key's B-tree, which capped ingest and cost a fifth of the disk.
-- Spans are now appended in arrival order (`span_row`), and each trace's row in `traces`
-- keeps its summary and where its spans are (`parts`: [first, last] span_row ranges).
-- Searches skip whole blocks of span rows with the summaries of `search_blocks`.
--
-- Written to run in bounded time on a full 10 GB database (docs/architecture.md,
-- "Migrations"): it renames and adds, and copies nothing. Existing spans stay in
-- `legacy_spans`, readable, and the servers move them over in short steps.

DROP TRIGGER services_count_insert;
DROP TRIGGER services_count_delete;
DROP TRIGGER services_count_update;
ALTER TABLE spans RENAME TO legacy_spans;

-- One row per span, in arrival order. A span's service is its resource's; attribute keys
-- are stored once per distinct key set in `attribute_shapes`, and `body` keeps the values
-- (`"v"`) with events, links and the rest. AUTOINCREMENT: a row number is never reused,
-- so a trace's `parts` can only ever point at its own spans.
CREATE TABLE spans (
    span_row       INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id       BLOB    NOT NULL,
    span_id        BLOB    NOT NULL,
    parent_span_id BLOB,
    name           TEXT    NOT NULL,
    kind           INTEGER NOT NULL,
    status_code    INTEGER NOT NULL,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL,
    resource_id    INTEGER NOT NULL,
    shape_id       INTEGER,
    body           TEXT    NOT NULL
);

-- Scratch space of one export's transaction: the stored spans it replaces (empty between
-- transactions).
CREATE TABLE replaced_spans (
    span_row INTEGER NOT NULL PRIMARY KEY
);

-- The attribute keys of spans, once per distinct set (sorted), under a 53-bit hash like
-- `resources`.
CREATE TABLE attribute_shapes (
    shape_id INTEGER NOT NULL PRIMARY KEY,
    keys     TEXT    NOT NULL
);

-- The service of a resource, read once from its attributes.
ALTER TABLE resources ADD COLUMN service_name TEXT;
UPDATE resources SET service_name = CASE
    WHEN json_type(resource, '$.attributes."service.name"') = 'text'
    THEN json_extract(resource, '$.attributes."service.name"') END;

-- A trace's summary, kept by every export that touches it. `parts` is NULL for a trace
-- whose spans are still in `legacy_spans`; its summary is then read from there.
ALTER TABLE traces ADD COLUMN span_count INTEGER;
ALTER TABLE traces ADD COLUMN error_count INTEGER;
ALTER TABLE traces ADD COLUMN root_span_name TEXT;
ALTER TABLE traces ADD COLUMN service_name TEXT;
ALTER TABLE traces ADD COLUMN parts TEXT;

-- Consecutive blocks of span rows (arrival order), each with a Bloom filter of what its
-- spans contain (names, services, attribute values, text trigrams) and the latest start
-- of a span in it (no trace with a span in the block started later). A search probes blocks in order of that start, newest
-- first, and skips every block whose filter says it cannot match. Rows above the
-- `summary_mark` counter are in no block yet.
CREATE TABLE search_blocks (
    block_id     INTEGER PRIMARY KEY,
    signal       INTEGER NOT NULL,
    first_row    INTEGER NOT NULL,
    last_row     INTEGER NOT NULL,
    spans        INTEGER NOT NULL,
    max_start_ns INTEGER NOT NULL,
    bloom        BLOB    NOT NULL
);
CREATE INDEX search_blocks_by_start ON search_blocks (signal, max_start_ns);

-- Attribute keys per block and service, and their most frequent values: what
-- `GET /v1/attributes` adds up.
CREATE TABLE block_attributes (
    block_id     INTEGER NOT NULL,
    service_name TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    types        INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, service_name, scope, block_id)
) WITHOUT ROWID;

CREATE TABLE block_values (
    block_id     INTEGER NOT NULL,
    service_name TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, value, service_name, block_id)
) WITHOUT ROWID;
CREATE INDEX block_attributes_by_block ON block_attributes (block_id);
CREATE INDEX block_values_by_block ON block_values (block_id);

-- Named numbers the stores keep: the ingest and summary marks, how many spans and
-- traces there are, what was pruned or sampled out. Spans are counted as they arrive in
-- `spans`; traces include those of `legacy_spans` (one pass over the trace index).
CREATE TABLE counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) SELECT 'traces', count(*) FROM traces;
