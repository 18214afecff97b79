"""Erasure in DuckDB files: delete a person's rows, then rebuild the file so no free block keeps them.

DuckDB marks the blocks of deleted rows free but does not wipe them: the bytes stay in the file
until they are overwritten. So the rows are deleted in a COPY of the database written to a
fresh file (``COPY FROM DATABASE``), which contains only live data, and the fresh file replaces
the old one with an atomic rename. The build file is private to the pipeline (the caller runs in
the DuckDB writer pool); the published file and its ``previous`` generation go through
:func:`lakehouse.publish.rewrite_published`, which holds the publish lock and keeps readers safe.

Which rows are the person's: every row of every table where any text column (or any element of
a text list column) equals one of the person's pseudonyms. Columns are found from the catalog,
so tables added later (new marts, score tables) are covered without a list to maintain.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import duckdb

_TEXT = ("VARCHAR", "VARCHAR[]")


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _id_columns(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> [(column, type)] of text and text-list columns, tables only (not views)."""
    rows = con.execute(
        """
        SELECT c.schema_name, c.table_name, c.column_name, c.data_type
        FROM duckdb_columns() c
        JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE c.database_name = ? AND list_contains(?, c.data_type)
        ORDER BY 1, 2, c.column_index
        """,
        [catalog, list(_TEXT)],
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, dtype in rows:
        out.setdefault((schema, table), []).append((column, dtype))
    return out


def delete_ids(con: duckdb.DuckDBPyConnection, catalog: str, ids: Sequence[str]) -> dict[str, int]:
    """Delete, in every table of ``catalog``, the rows holding any of ``ids``; rows deleted per table."""
    if not ids:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE __erase_ids AS SELECT unnest(?::VARCHAR[]) AS id", [list(ids)])
    removed: dict[str, int] = {}
    for (schema, table), columns in _id_columns(con, catalog).items():
        terms = [
            f"{_q(c)} IN (SELECT id FROM __erase_ids)"
            if dtype == "VARCHAR"
            else f"list_has_any({_q(c)}, (SELECT list(id) FROM __erase_ids))"
            for c, dtype in columns
        ]
        target = f"{_q(catalog)}.{_q(schema)}.{_q(table)}"
        n = con.execute(f"DELETE FROM {target} WHERE {' OR '.join(terms)}").fetchone()
        if n and n[0]:
            removed[f"{schema}.{table}"] = int(n[0])
    return removed


def rebuild_without(
    source: Path, target: Path, ids: Sequence[str], storage_version: str | None = None
) -> dict[str, int]:
    """Write ``target``: a fresh copy of ``source`` with the rows holding ``ids`` deleted.

    ``source`` is opened read-only and never changed. The copy is made first, then rows are
    deleted from the copy, then the copy is re-copied into ``target`` so that the deleted rows'
    blocks are not in it (a delete in place leaves them in free blocks).
    """
    source, target = Path(source), Path(target)
    stage = target.with_name(target.name + ".stage")
    for leftover in (stage, Path(f"{stage}.wal"), target, Path(f"{target}.wal")):
        leftover.unlink(missing_ok=True)
    version = f" (STORAGE_VERSION '{storage_version}')" if storage_version else ""
    spill = target.with_name(target.name + ".spill")
    catalog = source.stem  # view bodies written by dbt name the file's own catalog
    try:
        with contextlib.closing(duckdb.connect(":memory:", config={"temp_directory": str(spill)})) as con:
            con.execute(f"ATTACH '{source}' AS {_q(catalog)} (READ_ONLY)")
            con.execute(f"ATTACH '{stage}' AS __stage{version}")
            con.execute(f"COPY FROM DATABASE {_q(catalog)} TO __stage")
            con.execute(f"DETACH {_q(catalog)}")
            removed = delete_ids(con, "__stage", ids)
            con.execute("CHECKPOINT __stage")
            con.execute("DETACH __stage")
            # Second copy under the source's name, so catalog-qualified view bodies still bind.
            con.execute(f"ATTACH '{stage}' AS {_q(catalog)} (READ_ONLY)")
            con.execute(f"ATTACH '{target}' AS __target{version}")
            con.execute(f"COPY FROM DATABASE {_q(catalog)} TO __target")
            con.execute("CHECKPOINT __target")
            con.execute("DETACH __target")
    finally:
        stage.unlink(missing_ok=True)
        Path(f"{stage}.wal").unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)
    return removed


def storage_version_of(path: Path) -> str | None:
    """The storage format a DuckDB file was written in (e.g. ``v1.0.0``), to rebuild it alike."""
    with contextlib.closing(duckdb.connect(":memory:")) as con:
        con.execute(f"ATTACH '{path}' AS f (READ_ONLY)")
        row = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'f'"
        ).fetchone()
    return str(row[0]).rstrip("+") if row and row[0] else None


def purge_file_in_place(path: Path, ids: Sequence[str]) -> dict[str, int]:
    """Rebuild a private DuckDB file (the dbt build) without ``ids`` and swap it in atomically.

    Only for files no other process writes meanwhile: the build file is written by Dagster assets
    in the DuckDB writer pool, and the erasure job runs in the same pool.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    fresh = path.with_name(f".{path.stem}.erasing{path.suffix}")
    removed = rebuild_without(path, fresh, ids, storage_version_of(path))
    fd = os.open(fresh, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)
    return removed
