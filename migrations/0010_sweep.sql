-- Migration number: 0010 	 shared rows nothing uses any more are deleted
--
-- Resources, attribute key sets and metric series are stored once and shared, so
-- deleting spans, records or points never deleted them: a client sending a new key set
-- per span could fill the store with rows no budget pruning could remove. A sweep now
-- marks, in short steps over the `spans` and `logs` rows there were when it began, every
-- resource and key set they use with the number of the sweep; exports stored meanwhile
-- mark what they use as they store it (once per row and sweep). Once it has read those
-- rows it deletes series without points and the rows nobody marked (see
-- `Store::sweep_step`). Its state is in `counters`.
--
--
-- Adds columns and rows only: bounded time on a full database.

ALTER TABLE resources ADD COLUMN sweep INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attribute_shapes ADD COLUMN sweep INTEGER NOT NULL DEFAULT 0;

INSERT OR IGNORE INTO counters (name, value) VALUES
    -- The sweep running or last run; rows it marked hold its number.
    ('sweep', 0),
    -- 1 while a sweep runs.
    ('sweep_running', 0),
    -- How far it has read `spans` and `logs` (row numbers), and up to where it reads:
    -- their last rows when it began.
    ('sweep_span_row', 0),
    ('sweep_log_row', 0),
    ('sweep_span_end', 0),
    ('sweep_log_end', 0),
    -- When the last sweep ended (unix milliseconds).
    ('sweep_ended_ms', 0);
