-- Migration number: 0005 	 the service list kept by the database itself
--
-- `GET /v1/services` read the index `spans_by_service` (dropped by 0004), and maintaining it cost
-- about a fifth of ingest (one more B-tree entry per span). A row per service, kept
-- exact by triggers, costs a lookup in a table of a few rows instead, and both stores
-- (SQLite and D1) get it without any code of their own. Spans are written with
-- `ON CONFLICT ... DO UPDATE` (not `OR REPLACE`, whose implicit delete fires no trigger),
-- so a retried span moves its count instead of adding it twice.

-- `span_count` is exact; `last_seen_ns` is the latest span end ever stored for the
-- service (deleting spans does not move it back). A service whose count reaches 0 is not
-- listed.
CREATE TABLE services (
    service_name TEXT    NOT NULL PRIMARY KEY,
    span_count   INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL
);

INSERT INTO services (service_name, span_count, last_seen_ns)
SELECT service_name, COUNT(*), MAX(end_ns) FROM spans
WHERE service_name IS NOT NULL GROUP BY service_name;

CREATE TRIGGER services_count_insert AFTER INSERT ON spans
WHEN NEW.service_name IS NOT NULL
BEGIN
    INSERT INTO services (service_name, span_count, last_seen_ns)
    VALUES (NEW.service_name, 1, NEW.end_ns)
    ON CONFLICT (service_name) DO UPDATE
    SET span_count = span_count + 1, last_seen_ns = MAX(last_seen_ns, excluded.last_seen_ns);
END;

CREATE TRIGGER services_count_delete AFTER DELETE ON spans
WHEN OLD.service_name IS NOT NULL
BEGIN
    UPDATE services SET span_count = span_count - 1 WHERE service_name = OLD.service_name;
END;

-- A stored span written again: its count leaves the old service and joins the new one
-- (the same one, almost always).
CREATE TRIGGER services_count_update AFTER UPDATE OF service_name, end_ns ON spans
BEGIN
    UPDATE services SET span_count = span_count - 1 WHERE service_name = OLD.service_name;
    INSERT INTO services (service_name, span_count, last_seen_ns)
    SELECT NEW.service_name, 1, NEW.end_ns WHERE NEW.service_name IS NOT NULL
    ON CONFLICT (service_name) DO UPDATE
    SET span_count = span_count + 1, last_seen_ns = MAX(last_seen_ns, excluded.last_seen_ns);
END;
