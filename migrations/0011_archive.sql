-- Migration number: 0011 	 the archive tier: blocks in an object store, known from here
--
-- Old traces leave the span rows for immutable blocks in an object store (a directory
-- locally, R2 on the Worker; docs/architecture.md, "The archive tier"). A block is read
-- only through its row here, so an object whose row was never committed (a crash
-- between the two) is never read. Retention deletes a block's row and its object.
--
-- Creates tables only: bounded time on a full database.

-- One row per block.
CREATE TABLE archive_blocks (
    -- From the counter 'last_archive_block', never reused.
    block_id     INTEGER PRIMARY KEY,
    -- 0: compacted from the hot tier; 1: merged.
    level        INTEGER NOT NULL,
    -- 1 spans (log records and metric points get their own).
    signal       INTEGER NOT NULL,
    object_key   TEXT    NOT NULL,
    -- The earliest and latest start of an item in it: no trace with a span in the block
    -- started after max_start_ns.
    min_start_ns INTEGER NOT NULL,
    max_start_ns INTEGER NOT NULL,
    items        INTEGER NOT NULL,
    traces       INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    -- JSON {service: items}: what retention takes off the services' counts.
    services     TEXT    NOT NULL,
    -- The Bloom filter of what its items contain (the search blocks' terms), sized to
    -- them: a search rules the block out without reading it.
    bloom        BLOB    NOT NULL
);
CREATE INDEX archive_blocks_by_start ON archive_blocks (signal, max_start_ns);

-- Each block's trace-id filter, in shards by a hash of the id: a lookup by trace id reads
-- one shard row per block.
CREATE TABLE archive_trace_filters (
    shard    INTEGER NOT NULL,
    block_id INTEGER NOT NULL,
    bits     BLOB    NOT NULL,
    PRIMARY KEY (shard, block_id)
) WITHOUT ROWID;
CREATE INDEX archive_trace_filters_by_block ON archive_trace_filters (block_id);

-- Traces and spans deleted while blocks hold them (blocks never change): every read
-- leaves out what a tombstone covers, in the blocks up to `up_to_block` (the last block
-- when it was deleted; spans of the trace that arrive later are not deleted). `span_id`
-- is empty for the whole trace. Dropped with the last block they cover.
CREATE TABLE archive_tombstones (
    trace_id    BLOB    NOT NULL,
    span_id     BLOB    NOT NULL,
    up_to_block INTEGER NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO counters (name, value) VALUES
    -- The last block id taken.
    ('last_archive_block', 0),
    -- Until when (unix milliseconds) a compactor holds the archive.
    ('archive_lease', 0);
