-- Migration number: 0002 	 resources stored once, compact span bodies
--
-- A span's resource and scope are usually shared by thousands of spans; they now live
-- once in `resources`, and `spans.body` keeps only what the columns do not (attributes,
-- events, links, status message, ...), without default values. This halves the size of
-- a typical span on disk. Spans stored before are converted in place.

CREATE TABLE resources (
    resource_id INTEGER NOT NULL PRIMARY KEY,
    resource    TEXT    NOT NULL,
    scope       TEXT    NOT NULL
);

-- Pairs of existing spans get negative keys; new ones are non-negative hashes.
INSERT INTO resources (resource_id, resource, scope)
SELECT -ROW_NUMBER() OVER (ORDER BY resource, scope), resource, scope
FROM (SELECT DISTINCT json_extract(span, '$.resource') AS resource,
                      json_extract(span, '$.scope') AS scope
      FROM spans);

CREATE TABLE spans_compact (
    trace_id       TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    parent_span_id TEXT,
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

-- The body drops what the columns hold; exact timestamps stay only where a column had
-- to clamp them.
INSERT INTO spans_compact
SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service_name,
       s.status_code, s.start_ns, s.end_ns,
       (SELECT r.resource_id FROM resources r
        WHERE r.resource = json_extract(s.span, '$.resource')
          AND r.scope = json_extract(s.span, '$.scope')),
       CASE WHEN s.start_ns = 9223372036854775807 OR s.end_ns = 9223372036854775807
            THEN json_remove(s.span, '$.traceId', '$.spanId', '$.parentSpanId', '$.name',
                             '$.kind', '$.durationNs', '$.resource', '$.scope')
            ELSE json_remove(s.span, '$.traceId', '$.spanId', '$.parentSpanId', '$.name',
                             '$.kind', '$.durationNs', '$.resource', '$.scope',
                             '$.startTimeUnixNano', '$.endTimeUnixNano')
       END
FROM spans s;

DROP TABLE spans;
ALTER TABLE spans_compact RENAME TO spans;
