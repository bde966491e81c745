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
-- pair, or made on purpose by a client with the token) would merge silently: the insert
-- that would do so fails instead, and with it the export, whole. (An insert of the same
-- content again, every later export's, passes.)
CREATE TRIGGER resources_one_content_per_id BEFORE INSERT ON resources
WHEN EXISTS (SELECT 1 FROM resources WHERE resource_id = NEW.resource_id
             AND (resource IS NOT NEW.resource OR scope IS NOT NEW.scope
                  OR service_name IS NOT NEW.service_name))
BEGIN SELECT RAISE(ABORT, 'two different resources share one 53-bit id'); END;

CREATE TRIGGER attribute_shapes_one_content_per_id BEFORE INSERT ON attribute_shapes
WHEN EXISTS (SELECT 1 FROM attribute_shapes WHERE shape_id = NEW.shape_id AND keys IS NOT NEW.keys)
BEGIN SELECT RAISE(ABORT, 'two different attribute key sets share one 53-bit id'); END;

-- The description is not part of a series' id, and may change.
CREATE TRIGGER metric_series_one_content_per_id BEFORE INSERT ON metric_series
WHEN EXISTS (SELECT 1 FROM metric_series WHERE series_id = NEW.series_id
             AND (name IS NOT NEW.name OR kind IS NOT NEW.kind OR unit IS NOT NEW.unit
                  OR temporality IS NOT NEW.temporality OR monotonic IS NOT NEW.monotonic
                  OR resource_id IS NOT NEW.resource_id OR attributes IS NOT NEW.attributes))
BEGIN SELECT RAISE(ABORT, 'two different metric series share one 53-bit id'); END;
