#!/usr/bin/env python3
"""Where a database's bytes go: pages per table and index, and bytes per stored span (and
per log record, when there are any).

    python3 scripts/disk-usage.py <database file> [--without-rowid-copy]

Reads SQLite's `dbstat` table (Python's sqlite3 module on Debian has it). With
`--without-rowid-copy` it also copies the spans, in the order they arrived, into a
`WITHOUT ROWID` table next to the file and reports its size and copy time against a plain
copy, the layout experiment docs/performance.md quotes. Stop the server first.
"""
import os
import sqlite3
import sys
import tempfile
import time

COLUMNS = ("parent_span_id TEXT, name TEXT NOT NULL, kind INTEGER NOT NULL, service_name TEXT, "
           "status_code INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, "
           "resource_id INTEGER NOT NULL, body TEXT NOT NULL")


def breakdown(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    spans = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] or 1
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    print(f"{path}: {spans:,} spans, {os.path.getsize(path) / 1e6:,.1f} MB")
    rows = conn.execute("SELECT name, COUNT(*), SUM(payload) FROM dbstat GROUP BY name "
                        "ORDER BY COUNT(*) DESC").fetchall()
    for name, pages, payload in rows:
        if pages > 1:
            print(f"  {name:28} {pages * page / 1e6:8.1f} MB  {pages * page / spans:6.0f} bytes/span"
                  f"  (payload {payload / spans:5.0f})")
    ids, body = conn.execute(
        "SELECT AVG(LENGTH(trace_id) + LENGTH(span_id) + IFNULL(LENGTH(parent_span_id), 0)),"
        " AVG(LENGTH(body)) FROM spans").fetchone()
    if ids is not None:
        print(f"  per span row: ids {ids:.0f} bytes, body {body:.0f} bytes")
    logs, message, log_body = conn.execute(
        "SELECT COUNT(*), AVG(IFNULL(LENGTH(message), 0)), AVG(LENGTH(body)) FROM logs").fetchone()
    if logs:
        log_bytes = sum(pages * page for name, pages, _ in rows if name.startswith("logs"))
        print(f"  {logs:,} log records: {log_bytes / logs:.0f} bytes each with their indexes; "
              f"message {message:.0f} bytes, body {log_body:.0f} bytes")


def copy(source, without_rowid):
    fd, target = tempfile.mkstemp(suffix=".db", dir=os.path.dirname(os.path.abspath(source)))
    os.close(fd)
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    suffix = " WITHOUT ROWID" if without_rowid else ""
    conn.execute(f"CREATE TABLE spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, {COLUMNS},"
                 f" PRIMARY KEY (trace_id, span_id)){suffix}")
    conn.execute("ATTACH ? AS s", (source,))
    last = conn.execute("SELECT MAX(rowid) FROM s.spans").fetchone()[0] or 0
    started = time.monotonic()
    # 500 spans per transaction in arrival order, like the writer's groups.
    for low in range(0, last + 1, 500):
        conn.execute("INSERT INTO spans SELECT trace_id, span_id, parent_span_id, name, kind,"
                     " service_name, status_code, start_ns, end_ns, resource_id, body FROM s.spans"
                     " WHERE rowid > ? AND rowid <= ? ORDER BY rowid", (low, low + 500))
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seconds = time.monotonic() - started
    conn.close()
    size = os.path.getsize(target)
    os.remove(target)
    for extra in ("-wal", "-shm"):
        if os.path.exists(target + extra):
            os.remove(target + extra)
    return size, seconds


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    breakdown(path)
    if "--without-rowid-copy" in sys.argv[2:]:
        for without_rowid in (False, True):
            size, seconds = copy(path, without_rowid)
            layout = "WITHOUT ROWID" if without_rowid else "rowid table + primary key index"
            print(f"  spans copied as {layout}: {size / 1e6:,.1f} MB in {seconds:.1f} s")


if __name__ == "__main__":
    main()
