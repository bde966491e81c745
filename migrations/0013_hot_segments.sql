-- Migration number: 0013 	 the Worker's hot tier: one row per export, in rotated tables
--
-- On the Worker an export's spans are stored as one row (a "segment": the spans in the
-- archive's block format) in the current one of four tables, instead of a row per span:
-- D1 bills rows written (docs/architecture.md, "The Worker's hot tier of segments").
-- Housekeeping rotates the tables and compacts a table no isolate writes to any more
-- into archive blocks, then drops and recreates it (a dropped table's rows cost no
-- writes). The counter 'hot_generation' names the current table (its value modulo 4).
-- The local server keeps its span rows; these tables stay empty there.
--
-- The columns are those of `sql::create_hot_table`, which recreates a table after its
-- compaction: change both together. No index: a table holds a few minutes of exports,
-- and every read of it is a scan.
CREATE TABLE hot_segments_0 (
    -- Random (52 bits): a read may keep a segment by its id.
    segment_id   INTEGER PRIMARY KEY,
    -- When the export was stored (unix ns): tombstones cover the segments stored before.
    received_ns  INTEGER NOT NULL,
    min_start_ns INTEGER NOT NULL,
    max_start_ns INTEGER NOT NULL,
    spans        INTEGER NOT NULL,
    traces       INTEGER NOT NULL,
    -- The 16-byte ids of its traces, sorted, one after the other: instr() finds a trace.
    trace_ids    BLOB    NOT NULL,
    -- JSON {service: [spans, latest end ns]}.
    services     TEXT    NOT NULL,
    -- JSON {"k": [...], "v": [...]}: its attribute key and value counts, as
    -- block_attributes and block_values hold a block's.
    attributes   TEXT    NOT NULL,
    -- The search filter of its spans (a block's terms).
    bloom        BLOB    NOT NULL,
    -- The spans, a block of the archive's format; last, so a scan of the other columns
    -- does not read it.
    body         BLOB    NOT NULL
);
CREATE TABLE hot_segments_1 (segment_id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL, spans INTEGER NOT NULL, traces INTEGER NOT NULL, trace_ids BLOB NOT NULL, services TEXT NOT NULL, attributes TEXT NOT NULL, bloom BLOB NOT NULL, body BLOB NOT NULL);
CREATE TABLE hot_segments_2 (segment_id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL, spans INTEGER NOT NULL, traces INTEGER NOT NULL, trace_ids BLOB NOT NULL, services TEXT NOT NULL, attributes TEXT NOT NULL, bloom BLOB NOT NULL, body BLOB NOT NULL);
CREATE TABLE hot_segments_3 (segment_id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL, spans INTEGER NOT NULL, traces INTEGER NOT NULL, trace_ids BLOB NOT NULL, services TEXT NOT NULL, attributes TEXT NOT NULL, bloom BLOB NOT NULL, body BLOB NOT NULL);

-- The attribute key and value counts of the blocks compacted from segments in one hour
-- (unix hours), added up in one row as they are compacted: a block's own counts would be
-- hundreds of rows written. Once the hour is over, the next compaction writes them to
-- block_attributes and block_values under the id -(2^40 + hour), once, and deletes the
-- row. Attribute discovery reads the rows and these.
CREATE TABLE attribute_hours (
    hour   INTEGER PRIMARY KEY,
    -- JSON {"k": [...], "v": [...]}, as a segment's `attributes`.
    counts TEXT    NOT NULL
);

-- A deletion covers the segments stored up to this instant (unix ns) as well as the
-- blocks up to `up_to_block`.
ALTER TABLE archive_tombstones ADD COLUMN up_to_segment INTEGER NOT NULL DEFAULT 0;

INSERT OR IGNORE INTO counters (name, value) VALUES
    -- The current hot table is this modulo 4; it only grows.
    ('hot_generation', 0),
    -- When (unix ms) the current hot table became current.
    ('hot_rotated_ms', 0);
