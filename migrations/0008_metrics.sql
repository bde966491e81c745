-- Migration number: 0008 	 metric points beside traces and logs
--
-- A series is one metric stream of one resource and scope with one set of point
-- attributes; its id is a 53-bit hash of all of that, so both homes compute the same id
-- and a series is written once, whatever its number of points. A point is identified by
-- its series and its time: a retried export is stored once. Points are kept by series,
-- then time (WITHOUT ROWID: the key is the row), which is the order every read wants and
-- lets retention delete each series' oldest points without an index on time.
-- Only creates: runs in no time on a full database.

CREATE TABLE metric_series (
    series_id   INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- 1 gauge, 2 sum, 3 histogram, 4 exponential histogram, 5 summary.
    kind        INTEGER NOT NULL,
    unit        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    -- OTLP's AggregationTemporality: 0 none (gauges, summaries), 1 delta, 2 cumulative.
    temporality INTEGER NOT NULL,
    -- 1 for monotonic sums, else 0.
    monotonic   INTEGER NOT NULL,
    resource_id INTEGER NOT NULL,
    -- The point attributes as a JSON object, keys in order.
    attributes  TEXT    NOT NULL
);
CREATE INDEX metric_series_by_name ON metric_series (name);

CREATE TABLE metric_points (
    series_id INTEGER NOT NULL,
    time_ns   INTEGER NOT NULL,
    -- The point as the API writes it, without `timeUnixNano` (the column above).
    body      TEXT    NOT NULL,
    PRIMARY KEY (series_id, time_ns)
) WITHOUT ROWID;
