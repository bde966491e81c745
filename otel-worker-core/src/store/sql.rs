//! The SQL both homes run, so SQLite and D1 answer every read and write the same way.
//!
//! Written for D1's limits as much as SQLite's: nanosecond columns are read back
//! `CAST(... AS TEXT)` and bound as text, because D1 hands numbers to JavaScript as
//! doubles; no statement binds more than a handful of parameters (lists travel as one
//! JSON text); no `LIKE` (D1 caps patterns at 50 bytes: text search uses `instr`).
//!
//! Ids are stored as bytes and cross this boundary as lowercase hex: every id parameter
//! goes through `unhex(...)` and every id column comes back through `lower(hex(...))`.
//!
//! Spans are appended in arrival order (`span_row`); a trace's row in `traces` keeps its
//! summary and `parts`, the `[first, last]` span_row ranges that hold its spans, which
//! is how every read finds a trace's spans. Spans still in `legacy_spans` (the layout
//! before migration 0006) are read from there by primary key until they are moved.

use super::{Param, Statement};

/// The last span_row written before the current export: rows above it are the export's.
pub const INGEST_MARK: &str = "ingest_mark";
/// The last span_row folded into the search blocks' summaries.
pub const SUMMARY_MARK: &str = "summary_mark";

/// The counter of the last search block id given out: ids are never reused.
pub const LAST_BLOCK_ID: &str = "last_block_id";
/// Traces deleted by retention or the storage budget, ever.
pub const PRUNED_TRACES: &str = "pruned_traces";
/// Spans dropped by sampling, ever.
pub const SAMPLED_OUT_SPANS: &str = "sampled_out_spans";
/// Until when (unix ms) one summarizer holds the right to write summaries.
pub const SUMMARY_LEASE: &str = "summary_lease";

/// A counter's value (0 when it was never set): `?1` = name.
pub const COUNTER: &str =
    "SELECT CAST(coalesce((SELECT value FROM counters WHERE name = ?1), 0) AS TEXT) AS value";

/// Adds to a counter: `?1` = name, `?2` = amount as text.
pub const ADD_TO_COUNTER: &str = "\
INSERT INTO counters (name, value) VALUES (?1, CAST(?2 AS INTEGER))
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// Sets a counter: `?1` = name, `?2` = value as text.
pub const SET_COUNTER: &str = "\
INSERT INTO counters (name, value) VALUES (?1, CAST(?2 AS INTEGER))
ON CONFLICT (name) DO UPDATE SET value = excluded.value";

/// A sweep counter's value inside a statement (see migration 0010).
macro_rules! sweep_counter {
    ($name:literal) => {
        concat!("(SELECT value FROM counters WHERE name = '", $name, "')")
    };
}

/// `$a N $b` for each hot table N (`hot_segments_N`, see [`HOT_TABLES`]), joined by
/// `UNION ALL`: four terms of a compound SELECT, of the five D1 allows in one (nest it
/// in `SELECT * FROM (...)` to add more than one other).
macro_rules! each_hot_table {
    ($a:expr, $b:expr) => {
        concat!(
            $a,
            "0",
            $b,
            " UNION ALL ",
            $a,
            "1",
            $b,
            " UNION ALL ",
            $a,
            "2",
            $b,
            " UNION ALL ",
            $a,
            "3",
            $b
        )
    };
}

/// `$a N $b N $c` for each hot table N, joined by `UNION ALL`.
macro_rules! each_hot_table_twice {
    ($a:expr, $b:expr, $c:expr) => {
        concat!(
            $a,
            "0",
            $b,
            "0",
            $c,
            " UNION ALL ",
            $a,
            "1",
            $b,
            "1",
            $c,
            " UNION ALL ",
            $a,
            "2",
            $b,
            "2",
            $c,
            " UNION ALL ",
            $a,
            "3",
            $b,
            "3",
            $c
        )
    };
}

/// The hot tier's tables (`hot_segments_0` to `_3`, migration 0013): the statements
/// below that read them all are written for four.
pub const HOT_TABLES: u64 = 4;

// ---- ingest ---------------------------------------------------------------------------

/// The first statement of every export: remembers where the export's rows will start.
pub const MARK_INGEST: &str = "\
INSERT INTO counters (name, value) SELECT 'ingest_mark', coalesce(max(span_row), 0) FROM spans WHERE true
ON CONFLICT (name) DO UPDATE SET value = excluded.value";

/// `INSERT INTO spans` with every column from `$rows` (a `VALUES` or `SELECT` clause, ids
/// as hex). Both span inserts are built from it so they cannot drift apart.
macro_rules! insert_spans {
    ($rows:literal) => {
        concat!(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, status_code,
    start_ns, end_ns, resource_id, shape_id, body)
",
            $rows
        )
    };
}

/// Writes one span (SQLite, where a prepared statement per row is cheapest). Rows of one
/// export are written sorted by trace, so each trace's new spans are one range.
pub const INSERT_SPAN: &str = insert_spans!(
    "VALUES (unhex(?1), unhex(?2), unhex(?3), ?4, ?5, ?6, CAST(?7 AS INTEGER),
        CAST(?8 AS INTEGER), CAST(?9 AS INTEGER), CAST(?10 AS INTEGER), ?11)"
);

/// [`INSERT_SPAN`] for many rows with one statement, for databases where each statement
/// is a round trip (D1): `?1` = a JSON array of the same rows.
pub const INSERT_SPANS_JSON: &str = insert_spans!(
    "SELECT unhex(value ->> 0), unhex(value ->> 1), unhex(value ->> 2), value ->> 3,
       value ->> 4, value ->> 5, CAST(value ->> 6 AS INTEGER), CAST(value ->> 7 AS INTEGER),
       CAST(value ->> 8 AS INTEGER), CAST(value ->> 9 AS INTEGER), value ->> 10
FROM json_each(?1) ORDER BY key"
);

// ---- log records ---------------------------------------------------------------------------

/// Notes the newest log row before an export's records are added, so
/// [`COUNT_NEW_LOGS`] counts only those stored (copies of stored records are not).
pub const MARK_LOGS: &str = "\
INSERT INTO counters (name, value) SELECT 'log_mark', coalesce(max(log_row), 0) FROM logs WHERE true
ON CONFLICT (name) DO UPDATE SET value = excluded.value";

/// `INSERT INTO logs` with every column from `$rows`; a record already stored (same time
/// and identity: a retried export) is left as it is. A different record under the same
/// time and identity (a 53-bit collision) would be skipped the same way: instead, the
/// insert sets the stored one's identity to NULL, which its `NOT NULL` refuses, and the
/// export fails whole (`Store::insert` names the collision). Only a collision pays for
/// the comparison; a trigger would cost every insert (about 5% in a measurement).
macro_rules! insert_logs {
    ($rows:literal) => {
        concat!(
            "INSERT INTO logs (time_ns, identity, severity_number, trace_id, span_id, resource_id,
    shape_id, message, body)
",
            $rows,
            "
ON CONFLICT (time_ns, identity) DO UPDATE SET identity = NULL
WHERE body IS NOT excluded.body OR message IS NOT excluded.message
   OR severity_number IS NOT excluded.severity_number OR resource_id IS NOT excluded.resource_id
   OR shape_id IS NOT excluded.shape_id OR trace_id IS NOT excluded.trace_id
   OR span_id IS NOT excluded.span_id"
        )
    };
}

/// Stores one log record (`?1`..`?9` as [`super::logs`] binds them).
pub const INSERT_LOG: &str = insert_logs!(
    "VALUES (CAST(?1 AS INTEGER), CAST(?2 AS INTEGER), ?3, unhex(?4), unhex(?5),
        CAST(?6 AS INTEGER), CAST(?7 AS INTEGER), ?8, ?9)"
);

/// [`INSERT_LOG`] for many rows: `?1` = a JSON array of the same rows.
pub const INSERT_LOGS_JSON: &str = insert_logs!(
    "SELECT CAST(value ->> 0 AS INTEGER), CAST(value ->> 1 AS INTEGER), value ->> 2,
       unhex(value ->> 3), unhex(value ->> 4), CAST(value ->> 5 AS INTEGER),
       CAST(value ->> 6 AS INTEGER), value ->> 7, value ->> 8
FROM json_each(?1) WHERE true ORDER BY key"
);

/// Adds the records stored since [`MARK_LOGS`] to the `logs` counter.
pub const COUNT_NEW_LOGS: &str = "\
INSERT INTO counters (name, value)
SELECT 'logs', count(*) FROM logs
WHERE log_row > (SELECT value FROM counters WHERE name = 'log_mark')
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// The columns every log read returns, from `l` (logs), `r` (resources) and `sh` (the
/// record's attribute keys).
macro_rules! log_columns {
    () => {
        "SELECT CAST(l.time_ns AS TEXT) AS time_ns, CAST(l.identity AS TEXT) AS identity,
       l.severity_number AS severity_number, nullif(lower(hex(l.trace_id)), '') AS trace_id,
       nullif(lower(hex(l.span_id)), '') AS span_id, l.message AS message, l.body AS body,
       r.resource AS resource, r.scope AS scope, r.service_name AS service_name,
       sh.keys AS shape"
    };
}

/// The same columns, for statements built at run time.
pub const LOG_COLUMNS: &str = log_columns!();

/// A trace's records in time order: `?1` = trace id, after (`?2` time, `?3` identity)
/// when `?2` is not NULL, at most `?4`.
pub const TRACE_LOGS: &str = concat!(
    log_columns!(),
    "
FROM logs l LEFT JOIN resources r ON r.resource_id = l.resource_id
LEFT JOIN attribute_shapes sh ON sh.shape_id = l.shape_id
WHERE l.trace_id = unhex(?1)
  AND (?2 IS NULL OR (l.time_ns, l.identity) > (CAST(?2 AS INTEGER), CAST(?3 AS INTEGER)))
ORDER BY l.time_ns, l.identity LIMIT ?4"
);

/// Marks a shared row the export uses with the current sweep's number (see
/// [`SWEEP`]): stored new with it, or, once per sweep, updated to it when the export
/// reuses a row stored before the sweep began, so a sweep never needs to read the rows
/// added after it began.
macro_rules! mark_shared_row {
    ($key:literal) => {
        concat!(
            "ON CONFLICT (",
            $key,
            ") DO UPDATE SET sweep = excluded.sweep WHERE sweep < excluded.sweep"
        )
    };
}

/// Writes one resource and scope pair unless it is already stored.
pub const INSERT_RESOURCE: &str = concat!(
    "INSERT INTO resources (resource_id, resource, scope, service_name, sweep)
VALUES (CAST(?1 AS INTEGER), ?2, ?3, ?4, ",
    sweep_counter!("sweep"),
    ")
",
    mark_shared_row!("resource_id")
);

/// [`INSERT_RESOURCE`] for many pairs: `?1` = a JSON array of the same rows.
pub const INSERT_RESOURCES_JSON: &str = concat!(
    "INSERT INTO resources (resource_id, resource, scope, service_name, sweep)
SELECT CAST(value ->> 0 AS INTEGER), value ->> 1, value ->> 2, value ->> 3, ",
    sweep_counter!("sweep"),
    " FROM json_each(?1) WHERE true
",
    mark_shared_row!("resource_id")
);

/// Writes one set of attribute keys unless it is already stored.
pub const INSERT_SHAPE: &str = concat!(
    "INSERT INTO attribute_shapes (shape_id, keys, sweep) VALUES (CAST(?1 AS INTEGER), ?2, ",
    sweep_counter!("sweep"),
    ")
",
    mark_shared_row!("shape_id")
);

/// [`INSERT_SHAPE`] for many sets: `?1` = a JSON array of the same rows.
pub const INSERT_SHAPES_JSON: &str = concat!(
    "INSERT INTO attribute_shapes (shape_id, keys, sweep)
SELECT CAST(value ->> 0 AS INTEGER), value ->> 1, ",
    sweep_counter!("sweep"),
    " FROM json_each(?1) WHERE true
",
    mark_shared_row!("shape_id")
);

/// Counts the export's spans into `services`.
pub const COUNT_NEW_SPANS: &str = "\
INSERT INTO services (service_name, span_count, last_seen_ns)
SELECT r.service_name, count(*), max(s.end_ns)
FROM spans s JOIN resources r ON r.resource_id = +s.resource_id
WHERE s.span_row > (SELECT value FROM counters WHERE name = 'ingest_mark')
  AND r.service_name IS NOT NULL
GROUP BY r.service_name
ON CONFLICT (service_name) DO UPDATE
SET span_count = span_count + excluded.span_count,
    last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)";

/// Notes the span_rows (and traces) of stored spans that the export's spans replace (same
/// trace and span id) in `replaced_spans`: a retried export is stored once, the later
/// copy winning. Only traces stored before are looked at, through their latest 16 parts
/// (their latest exports, or runs of them): an exporter retries within seconds, long
/// before its trace has sixteen newer exports, and looking through all of a long trace's
/// parts made every export of it slower than the last.
pub const NOTE_REPLACED: &str = "\
INSERT INTO replaced_spans (span_row, trace_id)
SELECT old.span_row, old.trace_id FROM traces t JOIN json_each(t.parts) p
CROSS JOIN spans old ON old.span_row BETWEEN p.value ->> 0 AND p.value ->> 1
WHERE t.trace_id IN (SELECT trace_id FROM spans
                     WHERE span_row > (SELECT value FROM counters WHERE name = 'ingest_mark'))
  AND p.key >= json_array_length(t.parts) - 16
  AND +old.trace_id = t.trace_id
  AND old.span_row <= (SELECT value FROM counters WHERE name = 'ingest_mark')
  AND (old.trace_id, old.span_id) IN (
      SELECT trace_id, span_id FROM spans
      WHERE span_row > (SELECT value FROM counters WHERE name = 'ingest_mark'))";

/// Takes the replaced spans out of the service counts; run before [`DELETE_REPLACED`].
pub const UNCOUNT_REPLACED: &str = "\
UPDATE services SET span_count = span_count - gone.spans FROM (
    SELECT r.service_name, count(*) AS spans FROM replaced_spans x
    CROSS JOIN spans s ON s.span_row = x.span_row
    JOIN resources r ON r.resource_id = +s.resource_id GROUP BY r.service_name) AS gone
WHERE services.service_name = gone.service_name";

/// Deletes the spans the export replaces, and (once the traces are summarized) forgets
/// the note.
pub const DELETE_REPLACED: &[&str] = &[
    "DELETE FROM spans WHERE span_row IN (SELECT span_row FROM replaced_spans)",
    "DELETE FROM replaced_spans",
];

/// The rows of `legacy_spans` that the export writes again, found from the export's rows
/// by primary key (nothing is looked at once `legacy_spans` is empty).
macro_rules! replaced_legacy {
    () => {
        "SELECT l.rowid FROM spans n JOIN legacy_spans l ON l.trace_id = n.trace_id AND l.span_id = n.span_id
WHERE n.span_row > (SELECT value FROM counters WHERE name = 'ingest_mark')
  AND EXISTS (SELECT 1 FROM legacy_spans)"
    };
}

/// Takes legacy copies of the export's spans out of the service counts.
pub const UNCOUNT_REPLACED_LEGACY: &str = concat!(
    "UPDATE services SET span_count = span_count - gone.spans FROM (
    SELECT l.service_name, count(*) AS spans FROM legacy_spans l WHERE l.rowid IN (",
    replaced_legacy!(),
    ") GROUP BY l.service_name) AS gone
WHERE services.service_name = gone.service_name"
);

/// Deletes legacy copies of the export's spans.
pub const DELETE_REPLACED_LEGACY: &str = concat!(
    "DELETE FROM legacy_spans WHERE rowid IN (",
    replaced_legacy!(),
    ")"
);

/// Counts the export's spans and new traces, less the stored spans it replaces; run after
/// [`NOTE_REPLACED`] and before anything is deleted or summarized. (`spans` counts this table's
/// spans: a span moved from `legacy_spans` counts once it is here.)
pub const COUNT_EXPORT: &str = "INSERT INTO counters (name, value)
SELECT 'spans', (SELECT count(*) FROM spans WHERE span_row > (SELECT value FROM counters WHERE name = 'ingest_mark'))
  - (SELECT count(*) FROM replaced_spans)
UNION ALL
SELECT 'traces', count(*) FROM (SELECT DISTINCT trace_id FROM spans
  WHERE span_row > (SELECT value FROM counters WHERE name = 'ingest_mark')) x
  WHERE x.trace_id NOT IN (SELECT trace_id FROM traces)
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// The sort key of a trace's root span name (`s`: a span): the earliest span without a
/// parent wins.
macro_rules! root_key {
    ($s:literal) => {
        concat!(
            "CASE WHEN ",
            $s,
            ".parent_span_id IS NULL THEN printf('%020d', ",
            $s,
            ".start_ns) || ",
            $s,
            ".name END"
        )
    };
}

/// The sort key of a trace's service (`s`: a span, `$service`: its service name): the
/// root's service, else the earliest span's.
macro_rules! service_key {
    ($s:literal, $service:literal) => {
        concat!(
            "CASE WHEN ",
            $service,
            " IS NOT NULL THEN (",
            $s,
            ".parent_span_id IS NOT NULL) || printf('%020d', ",
            $s,
            ".start_ns) || ",
            $service,
            " END"
        )
    };
}

/// Folds the export's spans into the summary of every trace it touched: the stored
/// summary (counts added, earliest and latest kept, the root and service chosen by their
/// keys) and one more part, so an export's cost does not grow with its trace. When the
/// trace's latest part ends at most 64 rows before the export's rows begin (a trace fed
/// a span at a time by one exporter), that part is extended instead, up to 64 rows:
/// reads skip the other traces' rows inside it by trace id, and the replaced-span check
/// of [`NOTE_REPLACED`] reads at most 16 parts of that size for such a trace.
/// Traces whose spans the export replaced, and traces summarized before their keys were
/// kept, are left to [`SUMMARIZE_TRACES_IN_FULL`].
pub const SUMMARIZE_TOUCHED_TRACES: &str = concat!(
    "INSERT INTO traces (trace_id, start_ns, end_ns, span_count, error_count, root_span_name,
                    service_name, parts, root_key, service_key)
SELECT f.trace_id, f.start_ns, f.end_ns, f.spans, f.errors, substr(f.root_key, 21),
       substr(f.service_key, 22), json_array(json_array(f.first_row, f.last_row)),
       coalesce(f.root_key, ''), coalesce(f.service_key, '')
FROM (
  SELECT s.trace_id, min(s.start_ns) AS start_ns, max(s.end_ns) AS end_ns, count(*) AS spans,
    sum(s.status_code = 2) AS errors, min(",
    root_key!("s"),
    ") AS root_key, min(",
    service_key!("s", "r.service_name"),
    ") AS service_key, min(s.span_row) AS first_row, max(s.span_row) AS last_row
  FROM spans s LEFT JOIN resources r ON r.resource_id = +s.resource_id
  WHERE s.span_row > (SELECT value FROM counters WHERE name = 'ingest_mark')
  GROUP BY s.trace_id
) f
WHERE f.trace_id NOT IN (SELECT trace_id FROM replaced_spans WHERE trace_id IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = f.trace_id AND t.root_key IS NULL)
ON CONFLICT (trace_id) DO UPDATE SET
  start_ns = min(start_ns, excluded.start_ns),
  end_ns = max(end_ns, excluded.end_ns),
  span_count = span_count + excluded.span_count,
  error_count = error_count + excluded.error_count,
  root_span_name = CASE WHEN excluded.root_key <> '' AND (root_key = '' OR excluded.root_key < root_key)
                        THEN excluded.root_span_name ELSE root_span_name END,
  root_key = CASE WHEN excluded.root_key <> '' AND (root_key = '' OR excluded.root_key < root_key)
                  THEN excluded.root_key ELSE root_key END,
  service_name = CASE WHEN excluded.service_key <> '' AND (service_key = '' OR excluded.service_key < service_key)
                      THEN excluded.service_name ELSE service_name END,
  service_key = CASE WHEN excluded.service_key <> '' AND (service_key = '' OR excluded.service_key < service_key)
                     THEN excluded.service_key ELSE service_key END,
  parts = CASE
    WHEN (excluded.parts ->> '$[0][0]')
           - (parts ->> ('$[' || (json_array_length(parts) - 1) || '][1]')) <= 64
     AND (excluded.parts ->> '$[0][1]')
           - (parts ->> ('$[' || (json_array_length(parts) - 1) || '][0]')) < 64
    THEN json_set(parts, '$[' || (json_array_length(parts) - 1) || '][1]',
                  excluded.parts ->> '$[0][1]')
    ELSE json_insert(parts, '$[#]',
                     json_array(excluded.parts ->> '$[0][0]', excluded.parts ->> '$[0][1]'))
  END"
);

/// Writes the summary of the touched traces [`SUMMARIZE_TOUCHED_TRACES`] leaves out, from
/// all of their spans: the export's rows and the trace's earlier parts. The export's rows
/// of one trace are one range, appended to the trace's `parts`; earlier parts left with
/// none of the trace's rows (a retried export's first copy, deleted) are dropped, so
/// retries do not make the trace's parts, and every later read of it, longer.
pub const SUMMARIZE_TRACES_IN_FULL: &str = concat!(
    "WITH touched AS (
  SELECT DISTINCT trace_id FROM spans
  WHERE span_row > (SELECT value FROM counters WHERE name = 'ingest_mark')
),
redo AS (
  SELECT x.trace_id FROM touched x
  WHERE x.trace_id IN (SELECT trace_id FROM replaced_spans WHERE trace_id IS NOT NULL)
     OR EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = x.trace_id AND t.root_key IS NULL)
),
rows AS (
  SELECT s.trace_id, s.span_row, s.parent_span_id, s.name, s.status_code, s.start_ns,
         s.end_ns, r.service_name
  FROM spans s LEFT JOIN resources r ON r.resource_id = +s.resource_id
  WHERE s.span_row > (SELECT value FROM counters WHERE name = 'ingest_mark')
    AND s.trace_id IN (SELECT trace_id FROM redo)
  UNION ALL
  SELECT old.trace_id, old.span_row, old.parent_span_id, old.name, old.status_code,
         old.start_ns, old.end_ns, r.service_name
  FROM redo x JOIN traces t ON t.trace_id = x.trace_id JOIN json_each(t.parts) p
  CROSS JOIN spans old ON old.span_row BETWEEN p.value ->> 0 AND p.value ->> 1
  LEFT JOIN resources r ON r.resource_id = +old.resource_id
  WHERE +old.trace_id = x.trace_id
    AND old.span_row <= (SELECT value FROM counters WHERE name = 'ingest_mark')
)
INSERT INTO traces (trace_id, start_ns, end_ns, span_count, error_count, root_span_name,
                    service_name, parts, root_key, service_key)
SELECT trace_id, min(start_ns), max(end_ns), count(*), sum(status_code = 2),
  substr(min(",
    root_key!("rows"),
    "), 21),
  substr(min(",
    service_key!("rows", "rows.service_name"),
    "), 22),
  json_insert((SELECT json_group_array(json(kept.value)) FROM (
                 SELECT p.value FROM traces t JOIN json_each(t.parts) p
                 WHERE t.trace_id = rows.trace_id
                   AND EXISTS (SELECT 1 FROM spans s
                               WHERE s.span_row BETWEEN p.value ->> 0 AND p.value ->> 1
                                 AND +s.trace_id = t.trace_id)
                 ORDER BY p.key) kept),
              '$[#]',
              json_array(min(CASE WHEN span_row > (SELECT value FROM counters WHERE name = 'ingest_mark') THEN span_row END),
                         max(CASE WHEN span_row > (SELECT value FROM counters WHERE name = 'ingest_mark') THEN span_row END))),
  coalesce(min(",
    root_key!("rows"),
    "), ''),
  coalesce(min(",
    service_key!("rows", "rows.service_name"),
    "), '')
FROM rows GROUP BY trace_id
ON CONFLICT (trace_id) DO UPDATE SET
  start_ns = excluded.start_ns, end_ns = excluded.end_ns, span_count = excluded.span_count,
  error_count = excluded.error_count, root_span_name = excluded.root_span_name,
  service_name = excluded.service_name, parts = excluded.parts,
  root_key = excluded.root_key, service_key = excluded.service_key"
);

// ---- reading traces -------------------------------------------------------------------

/// A trace's own spans: `t` is the trace's row, `s` its spans through `parts`. `CROSS
/// JOIN` and the unary `+` keep SQLite on the row ranges: without them it may walk
/// `spans`, or build an index of all of it, to match the trace id.
macro_rules! own_spans {
    ($s:literal) => {
        concat!(
            "json_each(t.parts) p CROSS JOIN spans ",
            $s,
            " ON ",
            $s,
            ".span_row BETWEEN p.value ->> 0 AND p.value ->> 1 AND +",
            $s,
            ".trace_id = t.trace_id"
        )
    };
}

/// Columns of one trace summary (`t` = the trace's row); a trace still in
/// `legacy_spans` is summarized from there.
const SUMMARY_COLUMNS: &str = concat!(
    "SELECT lower(hex(t.trace_id)) AS trace_id,
       CAST(t.start_ns AS TEXT) AS start_ns,
       CAST(t.end_ns AS TEXT) AS end_ns,
       coalesce(t.span_count, 0)
         + (SELECT count(*) FROM legacy_spans l WHERE l.trace_id = t.trace_id) AS span_count,
       coalesce(t.error_count, 0)
         + (SELECT count(*) FROM legacy_spans l WHERE l.trace_id = t.trace_id AND l.status_code = 2) AS error_count,
       coalesce(t.root_span_name,
         (SELECT l.name FROM legacy_spans l WHERE l.trace_id = t.trace_id AND l.parent_span_id IS NULL
          ORDER BY l.start_ns LIMIT 1)) AS root_span_name,
       coalesce(t.service_name,
         (SELECT l.service_name FROM legacy_spans l WHERE l.trace_id = t.trace_id AND l.service_name IS NOT NULL
          ORDER BY l.parent_span_id IS NOT NULL, l.start_ns LIMIT 1)) AS service_name,
       (SELECT json_group_array(DISTINCT name) FROM (
          SELECT r.service_name AS name FROM ",
    own_spans!("s"),
    " JOIN resources r ON r.resource_id = +s.resource_id WHERE r.service_name IS NOT NULL
          UNION ALL
          SELECT l.service_name FROM legacy_spans l WHERE l.trace_id = t.trace_id AND l.service_name IS NOT NULL)
       ) AS services"
);

/// One trace's summary: `?1` = trace id.
pub fn trace_summary() -> String {
    format!("{SUMMARY_COLUMNS} FROM traces t WHERE t.trace_id = unhex(?1)")
}

/// One trace's summary with the ids of its spans (`span_ids`, a JSON array), read in one
/// statement so that both describe the same moment: an archive step moving the trace
/// between two reads would otherwise have its spans counted in both tiers.
pub fn trace_summary_and_span_ids() -> String {
    format!(
        "{SUMMARY_COLUMNS}, (SELECT json_group_array(lower(hex(s.span_id))) FROM ({}) s) AS span_ids
FROM traces t WHERE t.trace_id = unhex(?1)",
        concat!(
            "SELECT s.span_id FROM ",
            own_spans!("s"),
            " UNION ALL SELECT l.span_id FROM legacy_spans l WHERE l.trace_id = t.trace_id"
        )
    )
}

/// The columns of a span row (`s`: the span, with `resource_id` and `shape_id`).
const SPAN_COLUMNS: &str = "\
SELECT lower(hex(s.trace_id)) AS trace_id, lower(hex(s.span_id)) AS span_id,
       nullif(lower(hex(s.parent_span_id)), '') AS parent_span_id,
       s.name AS name, s.kind AS kind, s.status_code AS status_code,
       CAST(s.start_ns AS TEXT) AS start_ns, CAST(s.end_ns AS TEXT) AS end_ns,
       s.body AS body, r.resource AS resource, r.scope AS scope, sh.keys AS shape";

/// The spans of trace `?1`, wherever they are, with the columns [`SPAN_COLUMNS`] reads.
const TRACE_ROWS: &str = concat!(
    "(SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.status_code,
        s.start_ns, s.end_ns, s.body, s.resource_id, s.shape_id
  FROM traces t JOIN ",
    own_spans!("s"),
    " WHERE t.trace_id = unhex(?1)
  UNION ALL
  SELECT l.trace_id, l.span_id, l.parent_span_id, l.name, l.kind, l.status_code,
         l.start_ns, l.end_ns, l.body, l.resource_id, NULL
  FROM legacy_spans l WHERE l.trace_id = unhex(?1)) s
LEFT JOIN resources r ON r.resource_id = s.resource_id
LEFT JOIN attribute_shapes sh ON sh.shape_id = s.shape_id"
);

/// One page of a trace's spans in start order: `?1` = trace id, `?2`/`?3` = the start
/// (as text) and span id the previous page ended with (NULL for the first page), `?4` =
/// the most spans.
pub fn trace_spans() -> String {
    format!(
        "{SPAN_COLUMNS} FROM {TRACE_ROWS}
WHERE ?2 IS NULL OR (s.start_ns, s.span_id) > (CAST(?2 AS INTEGER), unhex(?3))
ORDER BY s.start_ns, s.span_id LIMIT CAST(?4 AS INTEGER)"
    )
}

/// The ids of a trace's spans: `?1` = trace id.
pub fn trace_span_ids() -> String {
    format!("SELECT lower(hex(s.span_id)) AS span_id FROM {TRACE_ROWS}")
}

/// One span: `?1` = trace id, `?2` = span id.
pub fn span() -> String {
    format!("{SPAN_COLUMNS} FROM {TRACE_ROWS} WHERE s.span_id = unhex(?2)")
}

/// Services with their span counts and latest span end, from the `services` table and
/// the segments of the hot tier (which count their spans in `services` once compacted).
pub const SERVICES: &str = concat!(
    "SELECT name, sum(n) AS span_count, CAST(max(last) AS TEXT) AS last_seen FROM (
SELECT service_name AS name, span_count AS n, last_seen_ns AS last FROM services UNION ALL ",
    each_hot_table!(
        "SELECT j.key, j.value ->> 0, j.value ->> 1 FROM hot_segments_",
        " h, json_each(h.services) j"
    ),
    ") GROUP BY name HAVING sum(n) > 0 ORDER BY name"
);

// ---- searching ------------------------------------------------------------------------

/// The parameters of a statement under construction, numbered as they are bound.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    params: Vec<Param>,
    /// Common table expressions the statement starts with.
    ctes: Vec<String>,
}

impl Builder {
    /// Binds `value` and returns its placeholder.
    pub fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    /// Puts `cte` (`name AS (...)`) in the statement's `WITH` clause.
    pub fn with(&mut self, cte: String) {
        self.ctes.push(cte);
    }

    /// The statement: `sql` with the placeholders bound so far.
    pub fn finish(self, sql: String) -> Statement {
        if self.ctes.is_empty() {
            return Statement::new(sql, self.params);
        }
        Statement::new(format!("WITH {} {sql}", self.ctes.join(", ")), self.params)
    }
}

/// The trace list: summaries of the newest traces with `conditions` on `t` (each already
/// bound in `b`), newest first, at most `limit`.
pub fn traces_where(mut b: Builder, conditions: Vec<String>, limit: u32) -> Statement {
    let limit = b.bind(Param::Int(i64::from(limit)));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    b.finish(format!(
        "{SUMMARY_COLUMNS} FROM traces t{filter} ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT {limit}"
    ))
}

/// "One span of trace `t` meets `conditions`" (on span `m`), reached through the trace's
/// parts.
pub fn some_own_span(conditions: &[String]) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} WHERE {})",
        own_spans!("m"),
        conditions.join(" AND ")
    )
}

/// The position (`start_ns`, `trace_id`) of the `n`-th newest trace with `conditions` on
/// `t` (each already bound in `b`).
pub fn trace_at(mut b: Builder, conditions: Vec<String>, n: u32) -> Statement {
    let offset = b.bind(Param::Int(i64::from(n.saturating_sub(1))));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    b.finish(format!(
        "SELECT CAST(t.start_ns AS TEXT) AS start_ns, lower(hex(t.trace_id)) AS trace_id
FROM traces t{filter} ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT 1 OFFSET {offset}"
    ))
}

/// "A span of trace `t` meets `conditions`" (on span `m`, which include a range of
/// rows): the matching rows' traces, found once per statement.
pub fn some_span_in_rows(conditions: &[String]) -> String {
    format!(
        "t.trace_id IN (SELECT m.trace_id FROM spans m WHERE {})",
        conditions.join(" AND ")
    )
}

/// How an attribute value (`value`, of JSON type `ty`) matches filter `f` (a row of
/// [`attribute_filters`]): by its JSON value, a string with that text, an integer or bool
/// that reads the same, a double equal to the number.
fn value_matches(ty: &str, value: &str, f: &str) -> String {
    format!(
        "CASE {ty} WHEN 'text' THEN {value} = {f}.text
             WHEN 'integer' THEN CAST({value} AS TEXT) = {f}.text
             WHEN 'real' THEN {value} = CAST({f}.number AS REAL)
             WHEN 'true' THEN {f}.text = 'true' WHEN 'false' THEN {f}.text = 'false'
             ELSE 0 END"
    )
}

/// The name of the table [`attribute_filters`] defines.
pub const ATTRIBUTE_FILTERS: &str = "attribute_filters";
/// The name of the table [`attribute_resources`] defines.
pub const ATTRIBUTE_RESOURCES: &str = "attribute_resources";

/// A common table expression of the attribute filters in the JSON list `list` (each
/// `[key, text, number, needle]`), one row each with its position (`i`), read once per
/// statement rather than once per span probed.
pub fn attribute_filters(list: &str) -> String {
    format!(
        "{ATTRIBUTE_FILTERS} AS MATERIALIZED (
  SELECT key AS i, value ->> 0 AS key, value ->> 1 AS text, value ->> 2 AS number,
         value ->> 3 AS needle FROM json_each({list}))"
    )
}

/// A common table expression of the resources each attribute filter matches (`filter` =
/// its `i`, `resource_id`), computed once per statement: resources are few, but reading
/// their attributes for every span probed took most of a search's time. Follows
/// [`attribute_filters`].
pub fn attribute_resources() -> String {
    format!(
        "{ATTRIBUTE_RESOURCES} AS MATERIALIZED (
  SELECT f.i AS filter, r.resource_id FROM {ATTRIBUTE_FILTERS} f, resources r,
         json_each(r.resource, '$.attributes') a
  WHERE a.key = f.key AND {})",
        value_matches("a.type", "a.value", "f")
    )
}

/// "Span `m` carries every attribute filter", itself or through its resource.
pub fn has_attributes() -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM {ATTRIBUTE_FILTERS} f WHERE NOT (
          m.resource_id IN (SELECT resource_id FROM {ATTRIBUTE_RESOURCES} WHERE filter = f.i)
          OR ((f.needle IS NULL OR instr(m.body, f.needle))
              AND EXISTS (SELECT 1 FROM attribute_shapes sh, json_each(sh.keys) k, json_each(m.body, '$.v') v
                          WHERE sh.shape_id = m.shape_id AND k.value = f.key
                            AND v.key = k.key AND {span}))))",
        span = value_matches("v.type", "v.value", "f"),
    )
}

/// "Span `m`'s name or a string attribute value of it or its resource contains `text`"
/// (already lower case), ignoring ASCII case.
pub fn has_text(text: &str) -> String {
    format!(
        "(instr(lower(m.name), {text})
          OR m.resource_id IN (SELECT r.resource_id FROM resources r, json_each(r.resource, '$.attributes') a
                               WHERE a.type = 'text' AND instr(lower(a.value), {text}))
          OR (instr(lower(m.body), {text})
              AND EXISTS (SELECT 1 FROM json_each(m.body, '$.v') v
                          WHERE v.type = 'text' AND instr(lower(v.value), {text}))))"
    )
}

/// The columns of a search block, as `BlockRow` reads them.
macro_rules! block_columns {
    () => {
        "block_id, first_row, last_row, spans, CAST(max_start_ns AS TEXT) AS max_start"
    };
}

/// The newest search block (by rows) of signal `?1`: the one the summarizer adds to.
pub const NEWEST_BLOCK: &str = concat!(
    "SELECT ",
    block_columns!(),
    " FROM search_blocks WHERE signal = ?1 ORDER BY block_id DESC LIMIT 1"
);

/// The search blocks of signal `?1`, latest start first, with the summary mark as
/// of the same read (`mark`, on every row): a search takes the spans above that mark as
/// unsummarized, so a step that folds them while it runs cannot hide them (the filters
/// it reads later only gain terms).
pub const SEARCH_BLOCKS_AND_MARK: &str = concat!(
    "SELECT ",
    block_columns!(),
    ", CAST(coalesce((SELECT value FROM counters WHERE name = 'summary_mark'), 0) AS TEXT) AS mark
FROM search_blocks WHERE signal = ?1 ORDER BY max_start_ns DESC"
);

/// The Bloom filters of some blocks: `?1` = a JSON array of block ids.
pub const BLOCK_BLOOMS: &str = "\
SELECT block_id, hex(bloom) AS bloom FROM search_blocks
WHERE block_id IN (SELECT value FROM json_each(?1))";

/// How many span rows lie above the summary mark (rows deleted since count too, so it
/// may say more than there are, never fewer): one read of each end of the table.
macro_rules! unsummarized_rows {
    () => {
        "CAST(max(0, coalesce((SELECT max(span_row) FROM spans), 0)
  - coalesce((SELECT value FROM counters WHERE name = 'summary_mark'), 0)) AS TEXT)"
    };
}

// ---- the summarizer -------------------------------------------------------------------

/// Rows above the summary mark, in order: `?1` = the mark as text, `?2` = the most rows.
pub const ROWS_TO_SUMMARIZE: &str = "\
SELECT s.span_row, s.name, s.parent_span_id IS NULL AS root, s.status_code,
       CAST(s.start_ns AS TEXT) AS start_ns, CAST(s.end_ns AS TEXT) AS end_ns,
       CAST(s.resource_id AS TEXT) AS resource_id, CAST(s.shape_id AS TEXT) AS shape_id,
       s.body
FROM spans s
WHERE s.span_row > CAST(?1 AS INTEGER) ORDER BY s.span_row LIMIT CAST(?2 AS INTEGER)";

/// Resources by id: `?1` = a JSON array of ids as text.
pub const RESOURCES_BY_ID: &str = "\
SELECT CAST(resource_id AS TEXT) AS resource_id, resource, service_name FROM resources
WHERE resource_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))";

/// Attribute key sets by id: `?1` = a JSON array of ids as text.
pub const SHAPES_BY_ID: &str = "\
SELECT CAST(shape_id AS TEXT) AS shape_id, keys FROM attribute_shapes
WHERE shape_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))";

/// Takes the summary lease unless another summarizer holds it: `?1` = now (unix ms, as
/// text), `?2` = until when (as text). One row changed: the lease is ours.
pub const TAKE_SUMMARY_LEASE: &str = "\
INSERT INTO counters (name, value) VALUES ('summary_lease', CAST(?2 AS INTEGER))
ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE value < CAST(?1 AS INTEGER)";

/// Gives the lease back: `?1` = the `until` it was taken with.
pub const RETURN_SUMMARY_LEASE: &str =
    "UPDATE counters SET value = 0 WHERE name = 'summary_lease' AND value = CAST(?1 AS INTEGER)";

/// Creates or replaces a block's summary: `?1` = block id, `?2` = signal, `?3` = first
/// row, `?4` = last row, `?5` = spans, `?6` = max start, `?7` = the Bloom filter as hex.
pub const WRITE_BLOCK: &str = "\
INSERT INTO search_blocks (block_id, signal, first_row, last_row, spans, max_start_ns, bloom)
VALUES (CAST(?1 AS INTEGER), ?2, CAST(?3 AS INTEGER), CAST(?4 AS INTEGER), CAST(?5 AS INTEGER),
        CAST(?6 AS INTEGER), unhex(?7))
ON CONFLICT (block_id) DO UPDATE SET last_row = excluded.last_row, spans = excluded.spans,
    max_start_ns = excluded.max_start_ns, bloom = excluded.bloom";

/// Adds attribute key counts of one block: `?1` = a JSON array of
/// `[block, service, scope, key, types, count]`.
pub const ADD_BLOCK_ATTRIBUTES: &str = "\
INSERT INTO block_attributes (block_id, service_name, scope, key, types, count)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?1) WHERE true
ON CONFLICT (key, service_name, scope, block_id) DO UPDATE
SET types = types | excluded.types, count = count + excluded.count";

/// Adds attribute value counts: `?1` = a JSON array of `[block, service, key, value, count]`.
pub const ADD_BLOCK_VALUES: &str = "\
INSERT INTO block_values (block_id, service_name, key, value, count)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?1) WHERE true
ON CONFLICT (key, value, service_name, block_id) DO UPDATE SET count = count + excluded.count";

/// The distinct values kept per block, service and attribute key: the discovery API
/// shows the most frequent, and past this many a key (an id, a URL) stops collecting new
/// ones in that block. Enumerations (methods, routes, status codes) fit whole.
pub const MAX_VALUES_PER_KEY: usize = 100;

/// How many values each block already keeps per service and key: `?1` = a JSON array of
/// block ids.
pub const VALUES_KEPT: &str = "\
SELECT block_id, service_name, key, count(*) AS kept FROM block_values
WHERE block_id IN (SELECT value FROM json_each(?1)) GROUP BY block_id, service_name, key";

// ---- attribute discovery ----------------------------------------------------------------

/// Attribute keys with their types and counts: `?1` = service (NULL: all), `?2` = scope
/// (`span` or `resource`, NULL: both).
pub const ATTRIBUTE_KEYS: &str = concat!(
    "SELECT key, scope, sum(count) AS count, group_concat(DISTINCT types) AS types FROM (
SELECT service_name, scope, key, types, count FROM block_attributes
WHERE (?1 IS NULL OR service_name = ?1) AND (?2 IS NULL OR scope = ?2)
UNION ALL SELECT * FROM (",
    each_hot_table!(
        "SELECT j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
FROM hot_segments_",
        " h, json_each(h.attributes, '$.k') j
WHERE (?1 IS NULL OR j.value ->> 1 = ?1) AND (?2 IS NULL OR j.value ->> 2 = ?2)"
    ),
    ") UNION ALL SELECT j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
FROM attribute_hours h, json_each(h.counts, '$.k') j
WHERE (?1 IS NULL OR j.value ->> 1 = ?1) AND (?2 IS NULL OR j.value ->> 2 = ?2)
) GROUP BY key, scope ORDER BY sum(count) DESC, key"
);

/// The most frequent values of a key: `?1` = key, `?2` = service (NULL: all), `?3` =
/// prefix (NULL: any), `?4` = the most values. Doubles are stored as `#` and their text.
pub const ATTRIBUTE_VALUES: &str = concat!(
    "SELECT value, sum(count) AS count FROM (
SELECT value, count FROM block_values WHERE key = ?1 AND (?2 IS NULL OR service_name = ?2)
UNION ALL SELECT * FROM (",
    each_hot_table!(
        "SELECT j.value ->> 3, j.value ->> 4 FROM hot_segments_",
        " h, json_each(h.attributes, '$.v') j
WHERE j.value ->> 2 = ?1 AND (?2 IS NULL OR j.value ->> 1 = ?2)"
    ),
    ") UNION ALL SELECT j.value ->> 3, j.value ->> 4 FROM attribute_hours h, json_each(h.counts, '$.v') j
WHERE j.value ->> 2 = ?1 AND (?2 IS NULL OR j.value ->> 1 = ?2)
) WHERE (?3 IS NULL OR substr(value, 1, length(?3)) = ?3 OR substr(value, 1, length(?3) + 1) = '#' || ?3)
GROUP BY value ORDER BY sum(count) DESC, value LIMIT CAST(?4 AS INTEGER)"
);

// ---- deleting ---------------------------------------------------------------------------

/// The traces one prune step removes, oldest first: `?1` = cutoff in nanoseconds as text
/// (traces that started before it), `?2` = the most traces. Every prune statement selects
/// the same traces: the order is total and the trace rows go last.
macro_rules! pruned {
    () => {
        "SELECT trace_id FROM traces WHERE start_ns < CAST(?1 AS INTEGER)
ORDER BY start_ns, trace_id LIMIT CAST(?2 AS INTEGER)"
    };
}

/// The statements that delete whole traces, those `$which` selects (an SQL list of trace
/// ids), in order: counts first, rows last. Statements 3 and 4 delete the spans (their
/// change counts say how many), 5 the traces.
macro_rules! delete_traces {
    ($which:expr) => {
        [
            concat!(
                "INSERT INTO counters (name, value)
SELECT 'spans', -(SELECT count(*) FROM traces t JOIN ",
                own_spans!("s"),
                " WHERE t.trace_id IN (",
                $which,
                "))
UNION ALL
SELECT 'traces', -(SELECT count(*) FROM traces WHERE trace_id IN (",
                $which,
                ")) WHERE true
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
            ),
            concat!(
                "UPDATE services SET span_count = span_count - gone.spans FROM (
    SELECT r.service_name, count(*) AS spans FROM traces t JOIN ",
                own_spans!("s"),
                " JOIN resources r ON r.resource_id = +s.resource_id
    WHERE t.trace_id IN (",
                $which,
                ") GROUP BY r.service_name) AS gone
WHERE services.service_name = gone.service_name"
            ),
            concat!(
                "UPDATE services SET span_count = span_count - gone.spans FROM (
    SELECT l.service_name, count(*) AS spans FROM legacy_spans l WHERE l.trace_id IN (",
                $which,
                ") GROUP BY l.service_name) AS gone
WHERE services.service_name = gone.service_name"
            ),
            concat!(
                "DELETE FROM spans WHERE span_row IN (SELECT s.span_row FROM traces t JOIN ",
                own_spans!("s"),
                " WHERE t.trace_id IN (",
                $which,
                "))"
            ),
            concat!("DELETE FROM legacy_spans WHERE trace_id IN (", $which, ")"),
            concat!("DELETE FROM traces WHERE trace_id IN (", $which, ")"),
        ]
    };
}

/// The statements of one prune step, in order; each takes `?1` (the cutoff) and `?2` (the
/// most traces) of the selection `pruned!`.
/// Statements 3 and 4 delete the spans, 5 the traces: their change counts say how many.
pub const PRUNE: [&str; 6] = delete_traces!(pruned!());

/// Counts the traces a prune step deletes; runs before [`PRUNE`]'s last statement.
pub const COUNT_PRUNED: &str = concat!(
    "INSERT INTO counters (name, value) SELECT 'pruned_traces', count(*) FROM (",
    pruned!(),
    ") WHERE true ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
);

/// How far a prune step deletes log records: up to its cutoff (`?1`) when it deletes
/// every trace left before it, else up to the start of the newest trace it deletes, so
/// records go with the traces of their time.
macro_rules! log_horizon {
    () => {
        concat!(
            "CASE WHEN (SELECT count(*) FROM (",
            pruned!(),
            ")) < CAST(?2 AS INTEGER) THEN CAST(?1 AS INTEGER)
  ELSE (SELECT max(start_ns) FROM traces WHERE trace_id IN (",
            pruned!(),
            ")) END"
        )
    };
}

/// The log rows one prune step deletes: the oldest before its horizon, at most ten per
/// trace the step may delete.
macro_rules! pruned_logs {
    () => {
        concat!(
            "SELECT log_row FROM logs WHERE time_ns < (",
            log_horizon!(),
            ") ORDER BY time_ns, identity LIMIT CAST(?2 AS INTEGER) * 10"
        )
    };
}

/// Uncounts, then deletes, the log records of a prune step (before its traces go);
/// the second's change count says how many.
pub const PRUNE_LOGS: [&str; 2] = [
    concat!(
        "INSERT INTO counters (name, value) SELECT 'logs', -count(*) FROM (",
        pruned_logs!(),
        ") WHERE true ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
    ),
    concat!("DELETE FROM logs WHERE log_row IN (", pruned_logs!(), ")"),
];

/// Uncounts, then deletes, the log records of one trace: `?1` = trace id.
pub const DELETE_TRACE_LOGS: [&str; 2] = [
    "INSERT INTO counters (name, value)
SELECT 'logs', -count(*) FROM logs WHERE trace_id = unhex(?1)
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
    "DELETE FROM logs WHERE trace_id = unhex(?1)",
];

/// The blocks none of whose span rows is left (after a prune), with their attribute
/// counts.
macro_rules! empty_blocks {
    () => {
        "SELECT b.block_id FROM search_blocks b
  WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE s.span_row BETWEEN b.first_row AND b.last_row)"
    };
}

/// Deletes the search blocks whose span rows are all gone, with their attribute counts.
pub const FORGET_EMPTY_BLOCKS: &[&str] = &[
    concat!(
        "DELETE FROM block_attributes WHERE block_id IN (",
        empty_blocks!(),
        ")"
    ),
    concat!(
        "DELETE FROM block_values WHERE block_id IN (",
        empty_blocks!(),
        ")"
    ),
    concat!(
        "DELETE FROM search_blocks WHERE block_id IN (",
        empty_blocks!(),
        ")"
    ),
];

/// Deletes one trace: `?1` = trace id. The change count of the last statement says
/// whether the trace existed.
pub const DELETE_TRACE: [&str; 6] = delete_traces!("unhex(?1)");

/// Deletes one span and summarizes its trace again: `?1` = trace id, `?2` = span id. The
/// change counts of the two deletes (statements 2 and 3) say whether the span existed.
pub const DELETE_SPAN: &[&str] = &[
    concat!(
        "INSERT INTO counters (name, value)
SELECT 'spans', -(SELECT count(*) FROM traces t JOIN ",
        own_spans!("s"),
        " WHERE t.trace_id = unhex(?1) AND s.span_id = unhex(?2)) WHERE true
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
    ),
    concat!(
        "UPDATE services SET span_count = span_count - 1
WHERE service_name = (SELECT r.service_name FROM traces t JOIN ",
        own_spans!("s"),
        " JOIN resources r ON r.resource_id = +s.resource_id
    WHERE t.trace_id = unhex(?1) AND s.span_id = unhex(?2))
   OR service_name = (SELECT l.service_name FROM legacy_spans l
    WHERE l.trace_id = unhex(?1) AND l.span_id = unhex(?2))"
    ),
    concat!(
        "DELETE FROM spans WHERE span_row IN (SELECT s.span_row FROM traces t JOIN ",
        own_spans!("s"),
        " WHERE t.trace_id = unhex(?1) AND s.span_id = unhex(?2))"
    ),
    "DELETE FROM legacy_spans WHERE trace_id = unhex(?1) AND span_id = unhex(?2)",
    concat!(
        "UPDATE traces AS t SET root_key = NULL, service_key = NULL,
  (start_ns, end_ns, span_count, error_count, root_span_name, service_name) = (
  SELECT min(s.start_ns), max(s.end_ns), count(*), sum(s.status_code = 2),
    substr(min(CASE WHEN s.parent_span_id IS NULL THEN printf('%020d', s.start_ns) || s.name END), 21),
    substr(min(CASE WHEN r.service_name IS NOT NULL
                    THEN (s.parent_span_id IS NOT NULL) || printf('%020d', s.start_ns) || r.service_name END), 22)
  FROM ",
        own_spans!("s"),
        " LEFT JOIN resources r ON r.resource_id = +s.resource_id)
WHERE t.trace_id = unhex(?1) AND t.parts IS NOT NULL
  AND EXISTS (SELECT 1 FROM ",
        own_spans!("s"),
        ")"
    ),
    concat!(
        "INSERT INTO counters (name, value)
SELECT 'traces', -(SELECT count(*) FROM traces t WHERE t.trace_id = unhex(?1)
  AND NOT EXISTS (SELECT 1 FROM ",
        own_spans!("s"),
        ")
  AND NOT EXISTS (SELECT 1 FROM legacy_spans l WHERE l.trace_id = unhex(?1))) WHERE true
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
    ),
    concat!(
        "DELETE FROM traces AS t WHERE t.trace_id = unhex(?1)
  AND NOT EXISTS (SELECT 1 FROM ",
        own_spans!("s"),
        ")
  AND NOT EXISTS (SELECT 1 FROM legacy_spans l WHERE l.trace_id = unhex(?1))"
    ),
];

// ---- statistics -------------------------------------------------------------------------

// ---- metrics -----------------------------------------------------------------------------

/// Writes one series unless it is already stored (`?1`..`?9` as `store::metrics` binds them).
pub const INSERT_SERIES: &str = "\
INSERT INTO metric_series (series_id, name, kind, unit, description, temporality, monotonic,
    resource_id, attributes)
VALUES (CAST(?1 AS INTEGER), ?2, ?3, ?4, ?5, ?6, ?7, CAST(?8 AS INTEGER), ?9)
ON CONFLICT DO NOTHING";

/// [`INSERT_SERIES`] for many rows: `?1` = a JSON array of the same rows.
pub const INSERT_SERIES_JSON: &str = "\
INSERT INTO metric_series (series_id, name, kind, unit, description, temporality, monotonic,
    resource_id, attributes)
SELECT CAST(value ->> 0 AS INTEGER), value ->> 1, value ->> 2, value ->> 3, value ->> 4,
       value ->> 5, value ->> 6, CAST(value ->> 7 AS INTEGER), value ->> 8
FROM json_each(?1) WHERE true
ON CONFLICT DO NOTHING";

/// Counts a point (`?1` series, `?2` time, `?3` body) into `metric_points` unless it is
/// stored already; runs before [`INSERT_POINT`], with the same rows.
pub const COUNT_NEW_POINT: &str = "\
INSERT INTO counters (name, value)
SELECT 'metric_points', 1
WHERE ?3 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM metric_points
    WHERE series_id = CAST(?1 AS INTEGER) AND time_ns = CAST(?2 AS INTEGER))
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// [`COUNT_NEW_POINT`] for many rows: `?1` = a JSON array of the same rows.
pub const COUNT_NEW_POINTS_JSON: &str = "\
INSERT INTO counters (name, value)
SELECT 'metric_points', count(*) FROM json_each(?1) j
WHERE NOT EXISTS (SELECT 1 FROM metric_points
    WHERE series_id = CAST(j.value ->> 0 AS INTEGER) AND time_ns = CAST(j.value ->> 1 AS INTEGER))
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// Stores one point unless its series has one at that time: `?1` series, `?2` time,
/// `?3` body.
pub const INSERT_POINT: &str = "\
INSERT INTO metric_points (series_id, time_ns, body)
VALUES (CAST(?1 AS INTEGER), CAST(?2 AS INTEGER), ?3)
ON CONFLICT DO NOTHING";

/// [`INSERT_POINT`] for many rows: `?1` = a JSON array of the same rows.
pub const INSERT_POINTS_JSON: &str = "\
INSERT INTO metric_points (series_id, time_ns, body)
SELECT CAST(value ->> 0 AS INTEGER), CAST(value ->> 1 AS INTEGER), value ->> 2
FROM json_each(?1) WHERE true
ON CONFLICT DO NOTHING";

/// Every metric stream of each service, with its number of series and its newest point:
/// `?1` = service or NULL, `?2` = text in the name or NULL.
pub const METRIC_LIST: &str = "\
SELECT ms.name AS name, ms.kind AS kind, ms.unit AS unit, ms.description AS description,
       ms.temporality AS temporality, ms.monotonic AS monotonic, r.service_name AS service,
       count(*) AS series,
       CAST(max((SELECT max(p.time_ns) FROM metric_points p WHERE p.series_id = ms.series_id))
            AS TEXT) AS last_seen
FROM metric_series ms JOIN resources r ON r.resource_id = ms.resource_id
WHERE (?1 IS NULL OR r.service_name = ?1)
  AND (?2 IS NULL OR instr(lower(ms.name), lower(?2)) > 0)
GROUP BY ms.name, ms.kind, ms.unit, ms.description, ms.temporality, ms.monotonic, r.service_name
ORDER BY ms.name";

/// The series of one metric: `?1` = name, `?2` = service or NULL.
pub const METRIC_SERIES: &str = "\
SELECT CAST(ms.series_id AS TEXT) AS series_id, ms.kind AS kind, ms.unit AS unit,
       ms.description AS description, ms.temporality AS temporality, ms.monotonic AS monotonic,
       ms.attributes AS attributes, r.resource AS resource, r.scope AS scope,
       r.service_name AS service
FROM metric_series ms JOIN resources r ON r.resource_id = ms.resource_id
WHERE ms.name = ?1 AND (?2 IS NULL OR r.service_name = ?2)";

/// The newest points of some series in a time range, up to `?4` per series, newest first:
/// `?1` = a JSON array of series ids (as text), `?2`/`?3` = the range `[start, end)`.
pub const METRIC_POINTS: &str = "\
SELECT CAST(sid AS TEXT) AS series_id, CAST(t AS TEXT) AS time_ns, body FROM (
  SELECT p.series_id AS sid, p.time_ns AS t, p.body AS body,
         row_number() OVER (PARTITION BY p.series_id ORDER BY p.time_ns DESC) AS n
  FROM metric_points p
  WHERE p.series_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))
    AND p.time_ns >= CAST(?2 AS INTEGER) AND p.time_ns < CAST(?3 AS INTEGER))
WHERE n <= CAST(?4 AS INTEGER)
ORDER BY sid, t DESC";

/// The points one prune step deletes: before the step's horizon (as for log records), the
/// oldest ten of every series, so a budget step trims every series alike instead of
/// emptying one; at most a hundred per trace the step may delete. `CROSS JOIN` keeps
/// SQLite walking the series and seeking each one's oldest points (a range of the key),
/// instead of scanning every point.
macro_rules! pruned_points {
    () => {
        concat!(
            "SELECT p.series_id, p.time_ns FROM metric_series ms CROSS JOIN metric_points p
  WHERE p.series_id = ms.series_id AND p.time_ns < (",
            log_horizon!(),
            ") AND p.time_ns <= coalesce((SELECT o.time_ns FROM metric_points o
      WHERE o.series_id = ms.series_id ORDER BY o.time_ns LIMIT 1 OFFSET 9), p.time_ns)
  LIMIT CAST(?2 AS INTEGER) * 100"
        )
    };
}

/// Uncounts, then deletes, the points of a prune step; the second's change count says
/// how many.
pub const PRUNE_POINTS: [&str; 2] = [
    concat!(
        "INSERT INTO counters (name, value) SELECT 'metric_points', -count(*) FROM (",
        pruned_points!(),
        ") WHERE true ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
    ),
    concat!(
        "DELETE FROM metric_points WHERE (series_id, time_ns) IN (",
        pruned_points!(),
        ")"
    ),
];

/// What is stored, from the counters every write keeps: spans (plus any still waiting in
/// `legacy_spans`), traces, oldest start, newest span end (every service's latest), and
/// what was pruned or sampled out; and, as a JSON object, the archive's blocks of signal
/// `?1`, in the same statement so that a trace being archived is counted in one tier.
pub const STATS: &str = concat!(
    "
SELECT CAST(coalesce((SELECT value FROM counters WHERE name = 'traces'), 0) AS TEXT) AS traces,
       CAST(coalesce((SELECT value FROM counters WHERE name = 'spans'), 0)
         + CASE WHEN EXISTS (SELECT 1 FROM legacy_spans) THEN (SELECT count(*) FROM legacy_spans) ELSE 0 END
         AS TEXT) AS spans,
       CAST((SELECT min(start_ns) FROM traces) AS TEXT) AS oldest,
       CAST((SELECT max(last_seen_ns) FROM services) AS TEXT) AS newest,
       CAST(coalesce((SELECT value FROM counters WHERE name = 'logs'), 0) AS TEXT) AS logs,
       CAST(coalesce((SELECT value FROM counters WHERE name = 'metric_points'), 0) AS TEXT) AS metric_points,
       CAST((SELECT count(*) FROM metric_series) AS TEXT) AS metric_series,
       CAST(coalesce((SELECT value FROM counters WHERE name = 'pruned_traces'), 0) AS TEXT) AS pruned_traces,
       CAST(coalesce((SELECT value FROM counters WHERE name = 'sampled_out_spans'), 0) AS TEXT) AS sampled_out_spans,
       ",
    unsummarized_rows!(),
    " AS unindexed_spans,
       (SELECT json_object('blocks', count(*),
                           'items', CAST(coalesce(sum(CASE WHEN signal = ?1 THEN items END), 0) AS TEXT),
                           'records', CAST(coalesce(sum(CASE WHEN signal = 2 THEN items END), 0) AS TEXT),
                           'bytes', CAST(coalesce(sum(bytes), 0) AS TEXT),
                           'oldest', CAST(min(min_start_ns) AS TEXT))
        FROM archive_blocks) AS archive,
       (SELECT json_object('spans', CAST(coalesce(sum(spans), 0) AS TEXT),
                           'traces', CAST(coalesce(sum(traces), 0) AS TEXT),
                           'oldest', CAST(min(min_start_ns) AS TEXT),
                           'newest', CAST(max(newest) AS TEXT))
        FROM (",
    each_hot_table!(
        "SELECT spans, traces, min_start_ns,
       (SELECT max(j.value ->> 1) FROM json_each(h.services) j) AS newest FROM hot_segments_",
        " h"
    ),
    ")) AS hot"
);

// ---- moving legacy spans ------------------------------------------------------------------

/// Legacy spans of the oldest traces still there, whole traces, about `?1` of them.
pub const LEGACY_ROWS: &str = "\
SELECT lower(hex(l.trace_id)) AS trace_id, lower(hex(l.span_id)) AS span_id,
       nullif(lower(hex(l.parent_span_id)), '') AS parent_span_id, l.name AS name,
       l.kind AS kind, l.status_code AS status_code, CAST(l.start_ns AS TEXT) AS start_ns,
       CAST(l.end_ns AS TEXT) AS end_ns, l.body AS body, r.resource AS resource, r.scope AS scope,
       NULL AS shape
FROM legacy_spans l LEFT JOIN resources r ON r.resource_id = l.resource_id
WHERE l.trace_id IN (SELECT DISTINCT trace_id FROM legacy_spans LIMIT CAST(?1 AS INTEGER))";

/// Whether any legacy span is left.
pub const ANY_LEGACY: &str = "SELECT EXISTS (SELECT 1 FROM legacy_spans) AS any";

// ---- sweeping shared rows nothing refers to -------------------------------------------------

/// The condition under which a running sweep may end: it has read `spans` and `logs` up
/// to the last rows they had when it began (in this step or before) and no legacy span is
/// left. Rows added since marked what they use as they were stored.
macro_rules! sweep_read_all {
    () => {
        concat!(
            sweep_counter!("sweep_running"),
            " = 1 AND ",
            sweep_counter!("sweep_span_row"),
            " >= ",
            sweep_counter!("sweep_span_end"),
            " AND ",
            sweep_counter!("sweep_log_row"),
            " >= ",
            sweep_counter!("sweep_log_end"),
            "
  AND NOT EXISTS (SELECT 1 FROM legacy_spans)"
        )
    };
}

/// One row when [`sweep_read_all`] holds, none otherwise: joined first (`CROSS JOIN`
/// keeps it the outer loop), it spares the steps that do not end a sweep a scan of the
/// table after it, which SQLite would otherwise read row by row to test the condition.
macro_rules! when_sweep_read_all {
    () => {
        concat!(
            "(SELECT 1 WHERE ",
            sweep_read_all!(),
            ") AS read_all CROSS JOIN "
        )
    };
}

/// The rows of `$table` a step reads: the next `?1` after `$position`, up to `$end`.
macro_rules! sweep_rows {
    ($table:literal, $row:literal, $position:literal, $end:literal) => {
        concat!(
            " FROM ",
            $table,
            " WHERE ",
            $row,
            " > ",
            sweep_counter!($position),
            " AND ",
            $row,
            " <= min(",
            sweep_counter!($position),
            " + CAST(?1 AS INTEGER), ",
            sweep_counter!($end),
            ") AND ",
            sweep_counter!("sweep_running"),
            " = 1"
        )
    };
}

/// Marks the resources and key sets a step's rows of `$table` use with the running
/// sweep's number, then moves `$position` past them. Row numbers drive the lookups (`IN`
/// over a primary key), so a step reads about `?1` rows of the table and one row per
/// distinct reference, however many shared rows there are.
macro_rules! sweep_mark {
    ($table:literal, $row:literal, $position:literal, $end:literal) => {
        [
            concat!(
                "UPDATE attribute_shapes SET sweep = ",
                sweep_counter!("sweep"),
                " WHERE shape_id IN (SELECT shape_id",
                sweep_rows!($table, $row, $position, $end),
                ") AND sweep < ",
                sweep_counter!("sweep")
            ),
            concat!(
                "UPDATE resources SET sweep = ",
                sweep_counter!("sweep"),
                " WHERE resource_id IN (SELECT resource_id",
                sweep_rows!($table, $row, $position, $end),
                ") AND sweep < ",
                sweep_counter!("sweep")
            ),
            concat!(
                "UPDATE counters SET value = min(value + CAST(?1 AS INTEGER), ",
                sweep_counter!($end),
                ") WHERE name = '",
                $position,
                "' AND ",
                sweep_counter!("sweep_running"),
                " = 1"
            ),
        ]
    };
}

/// Whether a sweep runs (`running`, 0 or 1) and when the last ended (`ended_ms`): a step
/// with neither to do nor to start is not sent.
pub const SWEEP_STATE: &str = concat!(
    "SELECT CAST(coalesce(",
    sweep_counter!("sweep_running"),
    ", 0) AS TEXT) AS running, CAST(coalesce(",
    sweep_counter!("sweep_ended_ms"),
    ", 0) AS TEXT) AS ended_ms"
);

/// One step of a sweep, in one transaction: `?1` = rows of `spans` and of `logs` to read,
/// `?2` = now (unix ms, as text), `?3` = how long after the last sweep ended the next may
/// start (ms, as text). Every condition is read from `counters` inside the transaction,
/// so two servers stepping at once (two Worker isolates) only repeat each other's work.
/// The change counts of [`SWEEP_DELETED_SERIES`], [`SWEEP_DELETED_SHAPES`] and
/// [`SWEEP_DELETED_RESOURCES`] say what a step deleted; [`SWEEP_ENDED`]'s says whether
/// it ended the sweep.
pub const SWEEP: [&str; 13] = {
    let spans = sweep_mark!("spans", "span_row", "sweep_span_row", "sweep_span_end");
    let logs = sweep_mark!("logs", "log_row", "sweep_log_row", "sweep_log_end");
    [
        // Starts a sweep when none runs and the last ended long enough ago: its number
        // goes up, so every shared row holds an older one until marked, and it will read
        // the rows there are now; exports from now on mark what they use.
        concat!(
            "UPDATE counters SET value = CASE name WHEN 'sweep' THEN value + 1
    WHEN 'sweep_running' THEN 1
    WHEN 'sweep_span_end' THEN (SELECT coalesce(max(span_row), 0) FROM spans)
    WHEN 'sweep_log_end' THEN (SELECT coalesce(max(log_row), 0) FROM logs)
    ELSE 0 END
WHERE name IN ('sweep', 'sweep_running', 'sweep_span_row', 'sweep_log_row', 'sweep_span_end',
               'sweep_log_end')
  AND ",
            sweep_counter!("sweep_running"),
            " = 0 AND ",
            sweep_counter!("sweep_ended_ms"),
            " + CAST(?3 AS INTEGER) <= CAST(?2 AS INTEGER)"
        ),
        spans[0],
        spans[1],
        spans[2],
        logs[0],
        logs[1],
        logs[2],
        SWEEP_DELETED_SERIES,
        // Series use resources too (their points keep no resource of their own).
        concat!(
            "UPDATE resources SET sweep = ",
            sweep_counter!("sweep"),
            " WHERE resource_id IN (SELECT ms.resource_id FROM ",
            when_sweep_read_all!(),
            "metric_series ms) AND sweep < ",
            sweep_counter!("sweep")
        ),
        SWEEP_DELETED_SHAPES,
        SWEEP_DELETED_RESOURCES,
        concat!(
            "UPDATE counters SET value = CAST(?2 AS INTEGER) WHERE name = 'sweep_ended_ms' AND ",
            sweep_read_all!()
        ),
        SWEEP_ENDED,
    ]
};

/// Deletes series without points once a sweep has read everything (retention and the
/// budget delete points, never series).
pub const SWEEP_DELETED_SERIES: &str = concat!(
    "DELETE FROM metric_series WHERE series_id IN (SELECT ms.series_id FROM ",
    when_sweep_read_all!(),
    "metric_series ms
    WHERE NOT EXISTS (SELECT 1 FROM metric_points p WHERE p.series_id = ms.series_id))"
);

/// Deletes the key sets the running sweep found no row using, once it has read
/// everything.
pub const SWEEP_DELETED_SHAPES: &str = concat!(
    "DELETE FROM attribute_shapes WHERE shape_id IN (SELECT sh.shape_id FROM ",
    when_sweep_read_all!(),
    "attribute_shapes sh WHERE sh.sweep < ",
    sweep_counter!("sweep"),
    ")"
);

/// [`SWEEP_DELETED_SHAPES`] for resources.
pub const SWEEP_DELETED_RESOURCES: &str = concat!(
    "DELETE FROM resources WHERE resource_id IN (SELECT r.resource_id FROM ",
    when_sweep_read_all!(),
    "resources r WHERE r.sweep < ",
    sweep_counter!("sweep"),
    ")"
);

/// Ends the running sweep once it has read everything (the last statement that tests it).
pub const SWEEP_ENDED: &str = concat!(
    "UPDATE counters SET value = 0 WHERE name = 'sweep_running' AND ",
    sweep_read_all!()
);

// ---- the archive ------------------------------------------------------------------------

/// Takes the archive lease unless another compactor holds it: `?1` = now (unix ms, as
/// text), `?2` = until when (as text). One row changed: the lease is ours.
pub const TAKE_ARCHIVE_LEASE: &str = "\
INSERT INTO counters (name, value) VALUES ('archive_lease', CAST(?2 AS INTEGER))
ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE value < CAST(?1 AS INTEGER)";

/// Gives the archive lease back: `?1` = the `until` it was taken with.
pub const RETURN_ARCHIVE_LEASE: &str =
    "UPDATE counters SET value = 0 WHERE name = 'archive_lease' AND value = CAST(?1 AS INTEGER)";

/// Takes the next block id (read back with [`COUNTER`] `last_archive_block` while the
/// lease is held). An id taken by a step that then failed is never used again.
pub const NEXT_ARCHIVE_BLOCK: &str = "\
INSERT INTO counters (name, value) VALUES ('last_archive_block', 1)
ON CONFLICT (name) DO UPDATE SET value = value + 1";

/// The oldest traces that started before `?1` (ns as text), with their span counts, at
/// most `?2`: what the next block takes, whole traces.
pub const TRACES_TO_ARCHIVE: &str = "\
SELECT lower(hex(trace_id)) AS trace_id, coalesce(span_count, 0) AS span_count,
       CAST(start_ns AS TEXT) AS first_start FROM traces t
WHERE t.start_ns < CAST(?1 AS INTEGER) AND parts IS NOT NULL
ORDER BY t.start_ns, t.trace_id LIMIT CAST(?2 AS INTEGER)";

/// The traces of a compaction step: `?1` = a JSON array of trace ids (hex).
macro_rules! archived_traces {
    () => {
        "SELECT unhex(value) FROM json_each(?1)"
    };
}

/// The span rows of the traces in `?1` (a JSON array of hex ids), as a block takes them.
pub const SPANS_TO_ARCHIVE: &str = concat!(
    "SELECT CAST(s.span_row AS TEXT) AS span_row, lower(hex(s.trace_id)) AS trace_id,
       lower(hex(s.span_id)) AS span_id, nullif(lower(hex(s.parent_span_id)), '') AS parent_span_id,
       s.name AS name, s.kind AS kind, s.status_code AS status_code,
       CAST(s.start_ns AS TEXT) AS start_ns, CAST(s.end_ns AS TEXT) AS end_ns,
       CAST(s.resource_id AS TEXT) AS resource_id, CAST(s.shape_id AS TEXT) AS shape_id, s.body AS body
FROM traces t JOIN ",
    own_spans!("s"),
    " WHERE t.trace_id IN (",
    archived_traces!(),
    ")"
);

/// The first statement of a compaction's commit: counts the spans archived (`?3`), and
/// fails the transaction unless the traces of `?1` still have exactly the span rows the
/// block was built from (`?2` = their count and the sum of their row numbers, as
/// `count:sum`): a span that arrived for one of them meanwhile, or a trace deleted,
/// makes the step start over instead of losing it.
pub const ARCHIVE_GUARD: &str = concat!(
    "INSERT INTO counters (name, value)
SELECT 'archived_spans', CAST(?3 AS INTEGER) + json(CASE WHEN (
    SELECT count(*) || ':' || coalesce(sum(s.span_row), 0) FROM traces t JOIN ",
    own_spans!("s"),
    " WHERE t.trace_id IN (",
    archived_traces!(),
    ")) = ?2 THEN '0' ELSE 'the traces being archived changed: the step starts over' END)
WHERE true ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
);

/// Deletes the archived traces' rows (`?1` = a JSON array of hex ids): uncounts their
/// spans and traces, deletes the spans, then the traces. The services keep their counts:
/// the spans are still stored, in the archive.
pub const ARCHIVE_DELETE: [&str; 3] = {
    let all = delete_traces!(archived_traces!());
    [all[0], all[3], all[5]]
};

/// Records a block: `?1` = id, `?2` = level, `?3` = signal, `?4` = object key, `?5`/`?6` =
/// min/max start (text), `?7` items, `?8` traces, `?9` bytes, `?10` services JSON, `?11`
/// the search filter (hex).
pub const INSERT_ARCHIVE_BLOCK: &str = "\
INSERT INTO archive_blocks
    (block_id, level, signal, object_key, min_start_ns, max_start_ns, items, traces, bytes, services, bloom)
VALUES (CAST(?1 AS INTEGER), ?2, ?3, ?4, CAST(?5 AS INTEGER), CAST(?6 AS INTEGER), ?7, ?8, ?9, ?10, unhex(?11))";

/// One trace-id filter shard: `?1` = shard (its count times 65,536 plus its index), `?2`
/// = block id, `?3` = bits (hex).
pub const INSERT_TRACE_FILTER: &str = "\
INSERT INTO archive_trace_filters (shard, block_id, bits) VALUES (?1, CAST(?2 AS INTEGER), unhex(?3))";

/// [`INSERT_TRACE_FILTER`] for many shards: `?1` = a JSON array of the same rows.
pub const INSERT_TRACE_FILTERS_JSON: &str = "\
INSERT INTO archive_trace_filters (shard, block_id, bits)
SELECT value ->> 0, CAST(value ->> 1 AS INTEGER), unhex(value ->> 2) FROM json_each(?1)";

/// Resources by id, whole, as a block keeps them: `?1` = a JSON array of ids as text.
pub const ARCHIVE_RESOURCES: &str = "\
SELECT CAST(resource_id AS TEXT) AS resource_id, resource, scope, service_name FROM resources
WHERE resource_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))";

/// The object key of every block.
pub const ARCHIVE_KEYS: &str = "SELECT object_key FROM archive_blocks";

/// The columns of an archive block, as `walk::BlockRow` reads them.
macro_rules! archive_block_columns {
    () => {
        "block_id, object_key, CAST(min_start_ns AS TEXT) AS min_start,
       CAST(max_start_ns AS TEXT) AS max_start, items, traces, bytes, services"
    };
}

/// The blocks of signal `?1` that may hold a trace that started at or after `?2` (text),
/// latest start first.
pub const ARCHIVE_BLOCKS: &str = concat!(
    "SELECT ",
    archive_block_columns!(),
    " FROM archive_blocks
WHERE signal = ?1 AND max_start_ns >= CAST(?2 AS INTEGER) ORDER BY max_start_ns DESC, block_id DESC"
);

/// The search filters of some blocks: `?1` = a JSON array of block ids.
pub const ARCHIVE_BLOOMS: &str = "\
SELECT block_id, hex(bloom) AS bloom FROM archive_blocks
WHERE block_id IN (SELECT value FROM json_each(?1))";

/// Where a trace's spans may be: the blocks whose trace-id filter shard `?1` or `?2` (one
/// per shard count) may hold it, with the shard's bits, and the segments of the hot tier
/// whose trace ids include `?3` (hex), with their bytes (hex). One statement, so a table
/// compacted meanwhile is found in its segments or in its blocks, once.
pub const TRACE_SOURCES: &str = concat!(
    "SELECT block_id, object_key, CAST(min_start_ns AS TEXT) AS min_start,
       CAST(max_start_ns AS TEXT) AS max_start, items, traces, bytes, services,
       NULL AS received, hex(f.bits) AS bits, NULL AS body
FROM archive_trace_filters f JOIN archive_blocks USING (block_id)
WHERE f.shard IN (?1, ?2) UNION ALL ",
    each_hot_table_twice!(
        "SELECT -1 - segment_id, 'hot/' || '",
        "/' || segment_id, CAST(min_start_ns AS TEXT), CAST(max_start_ns AS TEXT), spans, traces,
       length(body), services, CAST(received_ns AS TEXT), NULL, hex(body) FROM hot_segments_",
        " WHERE instr(trace_ids, unhex(?3)) > 0"
    )
);

/// The trace-id filter shards among `?1` (a JSON array of shard keys) of the blocks with a
/// start between `?2` and `?3` (text), with their blocks.
pub const ARCHIVE_TRACE_SHARDS_AMONG: &str = concat!(
    "SELECT f.shard AS shard, ",
    archive_block_columns!(),
    ", hex(f.bits) AS bits
FROM archive_trace_filters f JOIN archive_blocks USING (block_id)
WHERE f.shard IN (SELECT value FROM json_each(?1))
  AND max_start_ns >= CAST(?2 AS INTEGER) AND min_start_ns <= CAST(?3 AS INTEGER)"
);

/// Hides the earlier parts of a trace a new block holds whole: `?1` = trace id, `?2` =
/// the last block that may hold a part (every part in a block up to it is left out).
pub const TOMBSTONE_EARLIER_PARTS: &str = "\
INSERT INTO archive_tombstones (trace_id, span_id, up_to_block) VALUES (unhex(?1), x'', CAST(?2 AS INTEGER))
ON CONFLICT (trace_id, span_id) DO UPDATE SET up_to_block = max(up_to_block, excluded.up_to_block)";

/// What the archive holds: its blocks and bytes, the items of signal `?1` (spans) and
/// the log records (signal 2, [`crate::archive::log_compact::LOGS`]).
pub const ARCHIVE_STATS: &str = "\
SELECT count(*) AS blocks, CAST(coalesce(sum(CASE WHEN signal = ?1 THEN items END), 0) AS TEXT) AS items,
       CAST(coalesce(sum(CASE WHEN signal = 2 THEN items END), 0) AS TEXT) AS records,
       CAST(coalesce(sum(bytes), 0) AS TEXT) AS bytes, CAST(min(min_start_ns) AS TEXT) AS oldest
FROM archive_blocks";

/// The oldest blocks whose every item started before `?1` (text), at most `?2`.
pub const ARCHIVE_EXPIRED: &str = concat!(
    "SELECT ",
    archive_block_columns!(),
    ", signal FROM archive_blocks
WHERE max_start_ns < CAST(?1 AS INTEGER) ORDER BY max_start_ns, block_id LIMIT CAST(?2 AS INTEGER)"
);

/// Drops a block's metadata, reads stop seeing it at the commit (its object is deleted
/// after): uncounts its spans from `services` (`?1` = its services JSON) ...
pub const UNCOUNT_ARCHIVE_SERVICES: &str = "\
UPDATE services SET span_count = span_count - CAST(j.value AS INTEGER)
FROM json_each(?1) j WHERE services.service_name = j.key";

/// ... deletes its attribute counts (under its negated id), its trace-id filter and its
/// row (`?1` = block id).
pub const DROP_ARCHIVE_BLOCK: [&str; 4] = [
    "DELETE FROM block_attributes WHERE block_id = -CAST(?1 AS INTEGER)",
    "DELETE FROM block_values WHERE block_id = -CAST(?1 AS INTEGER)",
    "DELETE FROM archive_trace_filters WHERE block_id = CAST(?1 AS INTEGER)",
    "DELETE FROM archive_blocks WHERE block_id = CAST(?1 AS INTEGER)",
];

/// Records a deletion in the archive: `?1` = trace id, `?2` = span id (hex; '' for the
/// whole trace). It covers every block there is now.
pub const INSERT_TOMBSTONE: &str = concat!(
    "INSERT INTO archive_tombstones (trace_id, span_id, up_to_block, up_to_segment)
VALUES (unhex(?1), unhex(?2), (SELECT value FROM counters WHERE name = 'last_archive_block'),
        coalesce((SELECT max(received_ns) FROM (",
    each_hot_table!(
        "SELECT max(received_ns) AS received_ns FROM hot_segments_",
        ""
    ),
    ")), 0))
ON CONFLICT (trace_id, span_id) DO UPDATE
SET up_to_block = excluded.up_to_block, up_to_segment = max(up_to_segment, excluded.up_to_segment)"
);

/// The tombstones of one trace: `?1` = trace id.
pub const TRACE_TOMBSTONES: &str = "\
SELECT lower(hex(trace_id)) AS trace_id, lower(hex(span_id)) AS span_id, up_to_block,
       CAST(up_to_segment AS TEXT) AS up_to_segment
FROM archive_tombstones WHERE trace_id = unhex(?1)";

/// Every tombstone (a search leaves whole deleted traces out, and checks the spans of
/// those with deleted spans).
pub const TRACE_TOMBSTONES_ALL: &str = "\
SELECT lower(hex(trace_id)) AS trace_id, lower(hex(span_id)) AS span_id, up_to_block,
       CAST(up_to_segment AS TEXT) AS up_to_segment
FROM archive_tombstones";

/// Forgets tombstones that cover no block and no segment any more.
pub const FORGET_TOMBSTONES: &str = concat!(
    "DELETE FROM archive_tombstones
WHERE up_to_block < coalesce((SELECT min(block_id) FROM archive_blocks), 9223372036854775807)
  AND up_to_segment < coalesce((SELECT min(received_ns) FROM (",
    each_hot_table!(
        "SELECT min(received_ns) AS received_ns FROM hot_segments_",
        ""
    ),
    ")), 9223372036854775807)"
);

/// Forgets the revocations of links that have expired: `?1` = now (ns).
pub const FORGET_EXPIRED_SHARES: &str =
    "DELETE FROM share_revocations WHERE expires_ns < CAST(?1 AS INTEGER)";

/// Revokes a share link: `?1` = share id, `?2` = when it expires (ns).
pub const REVOKE_SHARE: &str =
    "INSERT INTO share_revocations (share_id, expires_ns) VALUES (?1, CAST(?2 AS INTEGER))
     ON CONFLICT (share_id) DO NOTHING";

/// Whether a share link was revoked: `?1` = share id.
pub const SHARE_REVOKED: &str =
    "SELECT CAST(EXISTS (SELECT 1 FROM share_revocations WHERE share_id = ?1) AS TEXT) AS value";

// ---- the hot tier of segments (the Worker) -------------------------------------------------

/// The columns of a segment as `walk::BlockRow` reads them (its block id is `-1 - id`;
/// its key `hot/<table>/<id>` says where its bytes are), for the table named after
/// `hot_segments_`.
macro_rules! segment_columns {
    () => {
        "-1 - segment_id AS block_id, CAST(min_start_ns AS TEXT) AS min_start,
       CAST(max_start_ns AS TEXT) AS max_start, spans AS items, traces, length(body) AS bytes,
       services, CAST(received_ns AS TEXT) AS received, max_start_ns AS sort_start"
    };
}

/// Every segment that may hold a trace that started at or after `?1` (text), latest
/// start first.
pub const HOT_SEGMENTS: &str = concat!(
    "SELECT * FROM (",
    each_hot_table_twice!(
        concat!("SELECT ", segment_columns!(), ", 'hot/' || '"),
        "/' || segment_id AS object_key FROM hot_segments_",
        " WHERE max_start_ns >= CAST(?1 AS INTEGER)"
    ),
    ") ORDER BY sort_start DESC, block_id DESC"
);

/// The search filters of some segments: `?1` = a JSON array of segment ids.
pub const HOT_BLOOMS: &str = each_hot_table!(
    "SELECT -1 - segment_id AS block_id, hex(bloom) AS bloom FROM hot_segments_",
    " WHERE segment_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))"
);

/// How full each hot table is, and the counters that say which one is current.
pub const HOT_TABLES_STATE: &str = concat!(
    "SELECT hot_table, segments, spans, oldest,
       CAST((SELECT value FROM counters WHERE name = 'hot_generation') AS TEXT) AS generation,
       CAST((SELECT value FROM counters WHERE name = 'hot_rotated_ms') AS TEXT) AS rotated_ms
FROM (",
    each_hot_table_twice!(
        "SELECT ",
        " AS hot_table, count(*) AS segments, coalesce(sum(spans), 0) AS spans,
       CAST(min(received_ns) AS TEXT) AS oldest FROM hot_segments_",
        ""
    ),
    ") ORDER BY hot_table"
);

/// The current hot table's generation (the table is it modulo [`HOT_TABLES`]).
pub const HOT_GENERATION: &str =
    "SELECT CAST(value AS TEXT) AS value FROM counters WHERE name = 'hot_generation'";

/// Makes the next table current, if generation `?1` is still the current one: notes when
/// (`?2`, unix ms), then moves the generation on (`?1` alone).
pub const ROTATE_HOT: [&str; 2] = [
    "UPDATE counters SET value = CAST(?2 AS INTEGER)
WHERE name = 'hot_rotated_ms' AND (SELECT value FROM counters WHERE name = 'hot_generation') = CAST(?1 AS INTEGER)",
    "UPDATE counters SET value = value + 1 WHERE name = 'hot_generation' AND value = CAST(?1 AS INTEGER)",
];

/// Stores a segment in table `table`: `?1` id, `?2` received (text ns), `?3`/`?4` min/max
/// start (text), `?5` spans, `?6` traces, `?7` trace ids, `?8` services JSON, `?9`
/// attributes JSON, `?10` search filter, `?11` the bytes (blobs).
pub fn insert_segment(table: u64) -> String {
    format!(
        "INSERT INTO hot_segments_{table}
    (segment_id, received_ns, min_start_ns, max_start_ns, spans, traces, trace_ids, services,
     attributes, bloom, body)
VALUES (?1, CAST(?2 AS INTEGER), CAST(?3 AS INTEGER), CAST(?4 AS INTEGER), ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    )
}

/// The bytes (hex) of segment `?1` of table `table`.
pub fn segment_body(table: u64) -> String {
    format!("SELECT hex(body) AS body FROM hot_segments_{table} WHERE segment_id = ?1")
}

/// The segments of table `table`, oldest first, without their bytes.
pub fn segments_of_table(table: u64) -> String {
    format!(
        "SELECT segment_id, CAST(received_ns AS TEXT) AS received, spans
FROM hot_segments_{table} ORDER BY received_ns, segment_id"
    )
}

/// The bytes (hex) of some segments of table `table`: `?1` = a JSON array of their ids.
pub fn segment_bodies(table: u64) -> String {
    format!(
        "SELECT segment_id, hex(body) AS body FROM hot_segments_{table}
WHERE segment_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?1))"
    )
}

/// The first statement of a hot table's compaction commit: counts it, and fails the
/// transaction unless table `table` still holds exactly the segments compacted (`?1` =
/// their count and the sum of their ids modulo [`SEGMENT_ID_CHECK`], as `count:sum`).
pub fn hot_guard(table: u64) -> String {
    format!(
        "INSERT INTO counters (name, value)
SELECT 'hot_compactions', 1 + json(CASE WHEN (
    SELECT count(*) || ':' || coalesce(sum(segment_id % {SEGMENT_ID_CHECK}), 0) FROM hot_segments_{table}
) = ?1 THEN '0' ELSE 'the hot table being compacted changed: the step starts over' END)
WHERE true ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
    )
}

/// The modulus of the segment id sum the compaction guard compares (a sum of 52-bit ids
/// would overflow SQLite's integers).
pub const SEGMENT_ID_CHECK: i64 = 4_294_967_291;

/// Empties table `table` at no rows written: dropped and created again, as migration
/// 0013 creates it.
pub fn recreate_hot_table(table: u64) -> [String; 2] {
    [
        format!("DROP TABLE hot_segments_{table}"),
        format!(
            "CREATE TABLE hot_segments_{table} (segment_id INTEGER PRIMARY KEY, \
received_ns INTEGER NOT NULL, min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL, \
spans INTEGER NOT NULL, traces INTEGER NOT NULL, trace_ids BLOB NOT NULL, services TEXT NOT NULL, \
attributes TEXT NOT NULL, bloom BLOB NOT NULL, body BLOB NOT NULL)"
        ),
    ]
}

/// What the segments whose every span started before `?1` (text ns) hold.
pub const HOT_EXPIRED: &str = concat!(
    "SELECT CAST(sum(spans) AS TEXT) AS spans, CAST(sum(traces) AS TEXT) AS traces FROM (",
    each_hot_table!(
        "SELECT spans, traces FROM hot_segments_",
        " WHERE max_start_ns < CAST(?1 AS INTEGER)"
    ),
    ")"
);

/// Deletes the segments of table `table` whose every span started before `?1` (text ns).
pub fn drop_expired_segments(table: u64) -> String {
    format!("DELETE FROM hot_segments_{table} WHERE max_start_ns < CAST(?1 AS INTEGER)")
}

/// Adds a block's spans to `services`: `?1` = JSON `{service: [spans, latest end]}`.
pub const ADD_SERVICES: &str = "\
INSERT INTO services (service_name, span_count, last_seen_ns)
SELECT key, value ->> 0, value ->> 1 FROM json_each(?1) WHERE true
ON CONFLICT (service_name) DO UPDATE
SET span_count = span_count + excluded.span_count,
    last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)";

/// The attribute counts of blocks compacted from segments, by hour, not written as rows
/// yet.
pub const ATTRIBUTE_HOURS: &str = "SELECT hour, counts FROM attribute_hours ORDER BY hour";

/// Sets the counts of hour `?1` (`?2`, JSON).
pub const SET_ATTRIBUTE_HOUR: &str = "\
INSERT INTO attribute_hours (hour, counts) VALUES (?1, ?2)
ON CONFLICT (hour) DO UPDATE SET counts = excluded.counts";

/// Forgets hour `?1` once its counts are rows.
pub const FORGET_ATTRIBUTE_HOUR: &str = "DELETE FROM attribute_hours WHERE hour = ?1";

/// The id under which an hour's attribute counts are rows of `block_attributes` and
/// `block_values`: apart from search blocks (positive) and archive blocks (-1 down).
pub fn attribute_hour_id(hour: i64) -> i64 {
    -(ATTRIBUTE_HOUR_IDS.saturating_add(hour))
}

/// Where the ids of [`attribute_hour_id`] start.
pub const ATTRIBUTE_HOUR_IDS: i64 = 1 << 40;

/// Deletes the attribute counts of the hours before a cutoff: the rows under the ids
/// from `?1` = [`attribute_hour_id`] of hour 0 down to, not including, `?2` = that of the
/// cutoff hour ...
pub const DROP_ATTRIBUTE_HOUR_ROWS: [&str; 2] = [
    "DELETE FROM block_attributes WHERE block_id <= ?1 AND block_id > ?2",
    "DELETE FROM block_values WHERE block_id <= ?1 AND block_id > ?2",
];

/// ... and those not written as rows yet: `?1` = the cutoff hour.
pub const DROP_ATTRIBUTE_HOURS: &str = "DELETE FROM attribute_hours WHERE hour < ?1";

/// The oldest log records stored before `?1` (text, unix ns) in time order, at most `?2`,
/// as a block of records takes them.
pub const LOGS_TO_ARCHIVE: &str = "\
SELECT CAST(log_row AS TEXT) AS log_row, CAST(time_ns AS TEXT) AS time_ns,
       CAST(identity AS TEXT) AS identity, severity_number,
       nullif(lower(hex(trace_id)), '') AS trace_id, nullif(lower(hex(span_id)), '') AS span_id,
       CAST(resource_id AS TEXT) AS resource_id,
       CAST(shape_id AS TEXT) AS shape_id, message, body
FROM logs WHERE time_ns < CAST(?1 AS INTEGER) ORDER BY time_ns, identity LIMIT ?2";

/// The oldest time (text) and the count, up to `?2`, of the records stored before `?1`
/// (text ns): from the time index alone, so a short block that must wait is known
/// without reading the records.
pub const LOGS_WAITING: &str = "\
SELECT CAST(min(time_ns) AS TEXT) AS oldest, count(*) AS records FROM (
    SELECT time_ns FROM logs WHERE time_ns < CAST(?1 AS INTEGER) ORDER BY time_ns LIMIT ?2)";

/// The first statement of a log compaction's commit: fails the transaction unless the
/// records from (`?1`, `?2`) to (`?3`, `?4`) (time, identity; text) are still exactly the
/// ones the block was built from (`?5` = `count:sum of row numbers`): a record sent
/// meanwhile with an old time makes the step start over instead of losing it. Uncounts
/// them from `logs` (`?6` = how many).
pub const LOG_ARCHIVE_GUARD: &str = "\
INSERT INTO counters (name, value)
SELECT 'logs', -CAST(?6 AS INTEGER) + json(CASE WHEN (
    SELECT count(*) || ':' || coalesce(sum(log_row), 0) FROM logs
    WHERE (time_ns, identity) >= (CAST(?1 AS INTEGER), CAST(?2 AS INTEGER))
      AND (time_ns, identity) <= (CAST(?3 AS INTEGER), CAST(?4 AS INTEGER))) = ?5
  THEN '0' ELSE 'the records being archived changed: the step starts over' END)
WHERE true ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// Deletes the archived records: those from (`?1`, `?2`) to (`?3`, `?4`) in time order.
pub const LOG_ARCHIVE_DELETE: &str = "\
DELETE FROM logs WHERE (time_ns, identity) >= (CAST(?1 AS INTEGER), CAST(?2 AS INTEGER))
  AND (time_ns, identity) <= (CAST(?3 AS INTEGER), CAST(?4 AS INTEGER))";

/// The blocks of log records (signal 2) with a record at or after `?1` and before `?2`
/// (text), newest last record first, after (`?3` last record, `?4` block id) when `?3` is
/// not NULL, at most `?5`.
pub const ARCHIVE_LOG_BLOCKS: &str = concat!(
    "SELECT ",
    archive_block_columns!(),
    " FROM archive_blocks
WHERE signal = 2 AND max_start_ns >= CAST(?1 AS INTEGER) AND min_start_ns < CAST(?2 AS INTEGER)
  AND (?3 IS NULL OR (max_start_ns, block_id) < (CAST(?3 AS INTEGER), CAST(?4 AS INTEGER)))
ORDER BY max_start_ns DESC, block_id DESC LIMIT ?5"
);
