-- Migration number: 0009 	 a trace's summary kept without reading its earlier spans
--
-- An export used to summarize every trace it touched from all of that trace's spans, and
-- looked through all of them for the spans it replaces: a trace fed one span per export
-- (a long-running job whose SDK exports every few seconds) made every export slower than
-- the last. The summary is now folded from the stored one and the export's spans; for
-- that, a trace keeps the sort keys its root span name and service were chosen by. A
-- trace without them (summarized before this migration, or after a span was deleted) is
-- summarized from all its spans once, the next time an export touches it.
--
-- Adds columns only: bounded time on a full database.

-- `printf('%020d', start_ns) || name` of the earliest root span, '' when there is none.
ALTER TABLE traces ADD COLUMN root_key TEXT;
-- `(has a parent) || printf('%020d', start_ns) || service_name` of the span the trace's
-- service comes from, '' when no span has a service.
ALTER TABLE traces ADD COLUMN service_key TEXT;

-- The trace of each replaced span, so the traces whose spans an export replaced are
-- summarized from all their spans.
ALTER TABLE replaced_spans ADD COLUMN trace_id BLOB;

-- Resources, attribute key sets and metric series are stored once under a 53-bit hash of
-- their content. Two different ones under one id (by chance about one in 10^16 per
-- pair, or made on purpose by a client with the token) would merge silently: an export
-- that would do so writes a row here, which no row can be, and is refused whole.
CREATE TABLE id_collisions (
    kind TEXT    NOT NULL,
    id   INTEGER NOT NULL,
    CONSTRAINT "two different resources, attribute key sets or metric series share one 53-bit id" CHECK (0)
);
