"""A BI-like reader in its own process: holds the published file open read-only and queries it in a loop.

Usage: ``python publish_reader_proc.py DB CONTROL_DIR MODE MAX_SECONDS`` with MODE ``hold`` (one
connection, re-opened only when ``CONTROL_DIR/reconnect-<n>`` appears) or ``churn`` (a new connection
for every snapshot, like a pool that never keeps connections). Writes one JSON line per snapshot to
stdout: the connection number, the run id in ``_beacon.publication`` and whether every table's row
count and ``run_tag`` values match that run (a torn or half-built snapshot would not). Stops when
``CONTROL_DIR/stop`` exists or after MAX_SECONDS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    pub = con.execute(
        f'SELECT run_id, schema_name, table_name, row_count FROM "{catalog}"._beacon.publication'
    ).fetchall()
    run_ids = sorted({r[0] for r in pub})
    consistent = len(run_ids) == 1
    for _run, schema, table, expected in pub:
        count, tags = con.execute(
            f'SELECT count(*), list(DISTINCT run_tag) FROM "{catalog}"."{schema}"."{table}"'
        ).fetchone()
        consistent = consistent and count == expected and tags == run_ids
    return {"run_id": run_ids[0] if run_ids else None, "consistent": consistent, "tables": len(pub)}


def main() -> None:
    db, control, mode, max_seconds = sys.argv[1], Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    deadline = time.monotonic() + max_seconds
    con: duckdb.DuckDBPyConnection | None = None
    conn_no = 0
    reconnects_seen = 0
    while time.monotonic() < deadline and not (control / "stop").exists():
        try:
            wanted = len(list(control.glob("reconnect-*")))
            if con is not None and (mode == "churn" or wanted > reconnects_seen):
                con.close()
                con = None
                reconnects_seen = wanted
            if con is None:
                con = duckdb.connect(db, read_only=True)
                conn_no += 1
            record = {"conn": conn_no, **snapshot(con), "t": time.time()}
        except Exception as exc:
            record = {"conn": conn_no, "error": f"{type(exc).__name__}: {exc}", "t": time.time()}
            if con is not None:
                con.close()
                con = None
        print(json.dumps(record), flush=True)
        time.sleep(0.005)
    if con is not None:
        con.close()


if __name__ == "__main__":
    main()
