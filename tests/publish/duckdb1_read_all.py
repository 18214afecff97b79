"""Run by a DuckDB 1.x interpreter: open a published file read-only and read every row of every table.

Prints one JSON object: the client's DuckDB version, per table the row count and the number of rows
actually fetched, the ``_beacon.publication`` rows and the row counts seen through BI-style names
(``fct_events``, ``main.fct_events``, ``marts.fct_events``), so the test can compare them with what the
DuckDB 2.0 writer published. Only the standard library and duckdb are used (it runs in a bare venv).
"""

import json
import sys

import duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
catalog = con.execute("SELECT current_database()").fetchone()[0]
tables = {}
for schema, table in con.execute(
    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1, 2", [catalog]
).fetchall():
    name = f'"{catalog}"."{schema}"."{table}"'
    # Every value of every column, as text (no pytz/pandas in the bare venv to convert TIMESTAMPTZ).
    fetched = con.execute(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {name}").fetchall()
    tables[f"{schema}.{table}"] = {
        "rows": con.execute(f"SELECT count(*) FROM {name}").fetchone()[0],
        "fetched": len(fetched),
    }
publication = con.execute(
    "SELECT run_id, schema_name, table_name, row_count, source_schema "
    f'FROM "{catalog}"._beacon.publication ORDER BY 2, 3'
).fetchall()
precise = con.execute(
    "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'fct_precise'", [catalog]
).fetchone()[0]
epoch_us = (
    con.execute(f'SELECT epoch_us(ts) FROM "{catalog}".main.fct_precise').fetchone()[0] if precise else None
)
amount = con.execute(f'SELECT sum(amount) FROM "{catalog}".main.fct_events').fetchone()[0]
# The names a BI driver generates: bare, schema-qualified, and catalog.table (the file is ``marts``).
bi_counts = {
    name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    for name in ("fct_events", "main.fct_events", f"{catalog}.fct_events")
}
print(
    json.dumps(
        {
            "fct_events_amount": amount,
            "version": duckdb.__version__,
            "tables": tables,
            "publication": [list(r) for r in publication],
            "fct_precise_epoch_us": epoch_us,
            "bi_counts": bi_counts,
        }
    )
)
