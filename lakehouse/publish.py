"""Publish finished, checked marts from the private build file to the BI-facing ``marts.duckdb``.

Why a separate published file at all: DuckDB allows one writing process per file and a reader
holding a file open blocks writers. If BI tools (Superset, Metabase, the DuckDB CLI) opened the
file dbt builds into, an idle dashboard connection would fail the nightly build, and a dashboard
refreshing mid-build would see half-built or failed-check tables. So dbt builds into a private
file (``build/marts_build.duckdb``) and this module, run only after the build's blocking checks
passed, copies the selected schemas into a NEW file beside the published one and swaps it in
with one atomic ``os.replace``:

* the published path is never opened for writing, so a BI reader never blocks a publish and a
  publish never breaks a reader;
* a reader that already has the old file open keeps reading the old inode (a complete snapshot)
  until it reconnects; new connections see the new snapshot; nobody ever sees a partial file;
* the replaced file is kept as ``marts.previous.duckdb`` so :func:`rollback` is one more swap.

Decisions worth knowing:

* Only the listed schemas are copied (default ``marts``, published as ``main``, see below; the
  ML layer adds ``scores``).
  ``staging``/``intermediate`` (row-level, unchecked internals) and the reserved ``_beacon``
  schema are refused outright. A listed schema the build file does not have yet (``scores``
  before the ML layer exists) is reported in :attr:`PublishResult.missing_schemas`, not an
  error; publishing zero tables in total is an error (it would blank every dashboard).
* Views in a listed schema are MATERIALISED as tables: a view's body refers to the build file's
  catalog and often to ``staging``/``intermediate``, which are not published, so the view would be
  broken in the published file. Materialising gives BI the finished result of the checked build
  (a broken view fails the publish loudly). dbt's transient relations (``*__dbt_tmp``,
  ``*__dbt_backup``) are never copied: they are not finished tables.
* The file is written in an explicit storage format (default ``v1.0.0``) because DuckDB 2.0's
  default format is refused by the 1.x CLI and BI drivers. DuckDB 2.0 still *writes* some newer
  types into a v1 file that 1.x clients then cannot open at all (``TIMESTAMPTZ_NS``,
  ``TIME_NS``): such columns are cast to microsecond ``TIMESTAMPTZ``/``TIME`` (also nested) and
  listed in :attr:`PublishResult.casts`.
* Every published file carries ``_beacon.publication``: one row per published table with the run
  id, publication time, row count, kind of source relation and the caller's metadata (dbt and
  Delta versions, ...) as a JSON object, so a dashboard can show what it is looking at.

Schema names in the published file (:data:`PUBLISHED_SCHEMA`, :func:`published_name`): DuckDB
names an attached file's catalog after its stem, so had ``marts.duckdb`` a schema ``marts``, the
two-part name ``marts.fct_x`` that BI tools generate (duckdb-engine/SQLAlchemy: ``schema.table``)
would be refused as an ambiguous catalog-or-schema reference by DuckDB 1.x and 2.0 alike. So the
build's ``marts`` schema is published into the file's DEFAULT schema ``main``: a BI connection
queries ``fct_x``, ``main.fct_x`` or ``marts.fct_x`` (catalog ``marts``, default schema) and all
three resolve. Every other schema keeps its name (``scores`` stays ``scores``, ``_beacon`` stays
``_beacon``). The mapping is one explicit dict rather than a rule so that what BI sees is greppable;
two listed schemas that would land in the same published schema, or a published schema named like
the file's catalog, are refused. :class:`PublishResult` and ``_beacon.publication`` name tables by
their PUBLISHED ``schema.table`` (what a dashboard queries) and keep the build's schema beside it
(:attr:`PublishResult.source_tables`, column ``source_schema``) for lineage back to dbt.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import duckdb

#: The private file the dbt project builds into, under ``DataPaths.build``.
BUILD_DB_NAME = "marts_build.duckdb"
#: Storage format of the published file: readable by every DuckDB >= 1.0 client.
DEFAULT_STORAGE_VERSION = "v1.0.0"
#: Schemas that must never reach BI tools (and ``_beacon``, which publishing itself writes).
FORBIDDEN_SCHEMAS = frozenset({"staging", "intermediate", "_beacon"})
PUBLICATION_SCHEMA = "_beacon"
PUBLICATION_TABLE = "publication"
#: Build schema -> schema in the published file, for the schemas that are renamed (all others keep
#: their name). ``marts`` goes to DuckDB's default schema so BI's two-part names are not ambiguous.
PUBLISHED_SCHEMA: Mapping[str, str] = MappingProxyType({"marts": "main"})

_PUB_ALIAS = "__beacon_publish"
_DBT_TRANSIENT = re.compile(r"__dbt_(tmp|backup)", re.IGNORECASE)
# Types DuckDB 2.0 writes into a v1 file that DuckDB 1.x cannot even load the catalog of.
_V2_ONLY_TYPES = {"TIMESTAMPTZ_NS": "TIMESTAMPTZ", "TIME_NS": "TIME"}
_V2_ONLY_RE = re.compile(r"\b(" + "|".join(_V2_ONLY_TYPES) + r")\b")


class PublishError(RuntimeError):
    """Publishing was refused or failed; the published file is unchanged."""


@dataclass(frozen=True)
class PublishResult:
    """What one publication wrote.

    ``tables`` (copy order) and the keys of ``row_counts``, ``source_tables`` and
    ``materialised_views`` are PUBLISHED ``schema.table`` names (``main.fct_x``); ``casts`` keys are
    published ``schema.table.column``; ``source_tables`` maps each to its build-file ``schema.table``;
    ``missing_schemas`` are build schemas that were asked for but not found.
    """

    published_path: Path
    previous_path: Path | None
    run_id: str
    tables: tuple[str, ...]
    row_counts: Mapping[str, int]
    bytes: int
    duration_s: float
    storage_version: str
    materialised_views: tuple[str, ...] = ()
    missing_schemas: tuple[str, ...] = ()
    casts: Mapping[str, str] = field(default_factory=dict)
    source_tables: Mapping[str, str] = field(default_factory=dict)

    @property
    def previous_kept(self) -> bool:
        return self.previous_path is not None


@dataclass(frozen=True)
class RollbackResult:
    """After a rollback: the restored file is published, the rolled-back one became ``previous``."""

    published_path: Path
    previous_path: Path
    run_id: str | None


def published_name(schema: str) -> str:
    """The schema a build schema is published as: ``marts`` -> ``main``, any other unchanged."""
    return PUBLISHED_SCHEMA.get(schema, schema)


def _check_published_names(schemas: Sequence[str], catalog: str) -> None:
    """Refuse schema lists whose published names would collide or be ambiguous with the catalog."""
    by_target: dict[str, list[str]] = {}
    for schema in schemas:
        by_target.setdefault(published_name(schema).lower(), []).append(schema)  # DuckDB folds case
    clashes = {target: sources for target, sources in by_target.items() if len(sources) > 1}
    if clashes:
        raise ValueError(f"schemas would be published into the same schema: {clashes}")
    if catalog.lower() in by_target:
        raise ValueError(
            f"schema {by_target[catalog.lower()]} would be published as {catalog!r}, the name of the published "
            f"file's catalog: two-part names {catalog}.<table> would be ambiguous"
        )


def build_db_path(build_dir: Path) -> Path:
    """The dbt build file inside ``DataPaths.build``."""
    return Path(build_dir) / BUILD_DB_NAME


def previous_path(published_db: Path) -> Path:
    """Where the replaced publication is kept: ``marts.duckdb`` -> ``marts.previous.duckdb``."""
    published_db = Path(published_db)
    return published_db.with_name(f"{published_db.stem}.previous{published_db.suffix}")


def wal_path(db: Path) -> Path:
    """DuckDB's write-ahead log beside ``db``."""
    return Path(f"{db}.wal")


def publication_run_id(published_db: Path) -> str | None:
    """The run id recorded in a published file (None when the file or its table is missing)."""
    published_db = Path(published_db)
    if not published_db.exists():
        return None
    with contextlib.closing(duckdb.connect(str(published_db), read_only=True)) as con:
        rows = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
            [PUBLICATION_SCHEMA, PUBLICATION_TABLE],
        ).fetchone()
        if not rows or rows[0] == 0:
            return None
        found = con.execute(
            f"SELECT DISTINCT run_id FROM {PUBLICATION_SCHEMA}.{PUBLICATION_TABLE}"
        ).fetchall()
    return found[0][0] if len(found) == 1 else None


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _publish_lock(published_db: Path, timeout_s: float) -> Iterator[None]:
    """One publish/rollback per published file at a time (the Dagster pool is not the only caller)."""
    lock_file = published_db.with_name(f".{published_db.name}.lock")
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PublishError(f"another publish of {published_db} holds {lock_file}") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _remove_stale_temp_files(published_db: Path) -> None:
    """Leftovers of a publish that was killed (we hold the lock, so none is in use)."""
    for pattern in (f".{published_db.stem}.publishing-*", f".{published_db.stem}.swap-*"):
        for stale in published_db.parent.glob(pattern):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def _relations(
    con: duckdb.DuckDBPyConnection, catalog: str, schemas: Sequence[str]
) -> list[tuple[str, str, str, str | None]]:
    """(schema, name, kind, comment) of the finished tables and views in ``schemas``, in a stable order."""
    rows = con.execute(
        """
        SELECT schema_name, table_name AS name, 'table' AS kind, comment
        FROM duckdb_tables() WHERE database_name = $cat AND list_contains($schemas, schema_name) AND NOT temporary
        UNION ALL
        SELECT schema_name, view_name, 'view', comment
        FROM duckdb_views() WHERE database_name = $cat AND list_contains($schemas, schema_name)
            AND NOT internal AND NOT temporary
        ORDER BY 1, 2
        """,
        {"cat": catalog, "schemas": list(schemas)},
    ).fetchall()
    return [r for r in rows if not _DBT_TRANSIENT.search(r[1])]


def _select_list(
    con: duckdb.DuckDBPyConnection, catalog: str, schema: str, name: str, storage_version: str
) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """SELECT list for the copy (casting types the target storage format cannot carry), casts by column, column comments."""
    cols = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [catalog, schema, name],
    ).fetchall()
    needs_cast = not storage_version.startswith("v2") and storage_version != "latest"
    exprs: list[str] = []
    casts: dict[str, str] = {}
    for col, dtype, _comment in cols:
        if needs_cast and _V2_ONLY_RE.search(dtype):
            target = _V2_ONLY_RE.sub(lambda m: _V2_ONLY_TYPES[m.group(1)], dtype)
            exprs.append(f"CAST({_q(col)} AS {target}) AS {_q(col)}")
            casts[col] = f"{dtype} -> {target}"
        else:
            exprs.append(_q(col))
    comments = [(col, comment) for col, _dtype, comment in cols if comment]
    select = "*" if not casts else ", ".join(exprs)
    return select, casts, comments


def _write_publication_file(
    build_db: Path,
    target: Path,
    schemas: Sequence[str],
    run_id: str,
    metadata: Mapping[str, str],
    storage_version: str,
) -> tuple[list[str], dict[str, int], list[str], list[str], dict[str, str], dict[str, str]]:
    """Copy the selected relations into a fresh file ``target`` and CHECKPOINT it; nothing else is touched."""
    # Attach under DuckDB's default alias (the file stem, as dbt-duckdb does) so view bodies that
    # dbt wrote with catalog-qualified names still bind when they are materialised.
    catalog = build_db.stem
    # Spill (if a copy ever exceeds memory) beside the target, never into the caller's cwd.
    spill = target.with_name(target.name + ".spill")
    config = {"temp_directory": str(spill)}
    with contextlib.closing(duckdb.connect(":memory:", config=config)) as con:
        try:
            con.execute(f"ATTACH {_lit(str(build_db))} AS {_q(catalog)} (READ_ONLY)")
        except duckdb.Error as exc:
            raise PublishError(f"cannot open the build file {build_db} read-only: {exc}") from exc
        con.execute(f"ATTACH {_lit(str(target))} AS {_PUB_ALIAS} (STORAGE_VERSION {_lit(storage_version)})")
        present = {
            r[0]
            for r in con.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?", [catalog]
            ).fetchall()
        }
        missing = [s for s in schemas if s not in present]
        relations = _relations(con, catalog, [s for s in schemas if s in present])
        if not relations:
            raise PublishError(
                f"nothing to publish: no finished tables or views in schemas {list(schemas)} of {build_db}"
            )
        tables: list[str] = []
        counts: dict[str, int] = {}
        views: list[str] = []
        all_casts: dict[str, str] = {}
        sources: dict[str, str] = {}
        rows: list[list[object]] = []
        con.execute("BEGIN TRANSACTION")
        for schema in dict.fromkeys(r[0] for r in relations):
            # IF NOT EXISTS: the default schema ``main`` exists in every new file.
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_PUB_ALIAS}.{_q(published_name(schema))}")
        for schema, name, kind, comment in relations:
            target_schema = published_name(schema)
            qualified = f"{target_schema}.{name}"
            source = f"{_q(catalog)}.{_q(schema)}.{_q(name)}"
            dest = f"{_PUB_ALIAS}.{_q(target_schema)}.{_q(name)}"
            select, casts, col_comments = _select_list(con, catalog, schema, name, storage_version)
            con.execute(f"CREATE TABLE {dest} AS SELECT {select} FROM {source}")
            if comment:
                con.execute(f"COMMENT ON TABLE {dest} IS {_lit(comment)}")
            for col, col_comment in col_comments:
                con.execute(f"COMMENT ON COLUMN {dest}.{_q(col)} IS {_lit(col_comment)}")
            copied = con.execute(f"SELECT count(*) FROM {dest}").fetchone()[0]
            if kind == "table":
                expected = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
                if copied != expected:
                    raise PublishError(f"{schema}.{name}: copied {copied} rows but the build has {expected}")
            else:
                views.append(qualified)
            tables.append(qualified)
            counts[qualified] = int(copied)
            sources[qualified] = f"{schema}.{name}"
            rows.append([target_schema, name, schema, int(copied), kind])
            all_casts.update({f"{target_schema}.{name}.{col}": cast for col, cast in casts.items()})

        con.execute(f"CREATE SCHEMA {_PUB_ALIAS}.{PUBLICATION_SCHEMA}")
        con.execute(
            f"""
            CREATE TABLE {_PUB_ALIAS}.{PUBLICATION_SCHEMA}.{PUBLICATION_TABLE} (
                run_id VARCHAR NOT NULL, published_at TIMESTAMPTZ NOT NULL,
                schema_name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, source_schema VARCHAR NOT NULL,
                row_count BIGINT NOT NULL, source_kind VARCHAR NOT NULL, metadata VARCHAR NOT NULL)
            """
        )
        published_at = datetime.now(UTC)
        meta_json = json.dumps(dict(metadata), sort_keys=True)
        con.executemany(
            f"INSERT INTO {_PUB_ALIAS}.{PUBLICATION_SCHEMA}.{PUBLICATION_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[run_id, published_at, *row, meta_json] for row in rows],
        )
        con.execute(
            f"COMMENT ON TABLE {_PUB_ALIAS}.{PUBLICATION_SCHEMA}.{PUBLICATION_TABLE} IS "
            + _lit(
                "One row per table of this published snapshot: run, time, published schema and table, "
                "the build schema it came from, row count, build metadata (JSON)."
            )
        )
        con.execute("COMMIT")
        con.execute(f"CHECKPOINT {_PUB_ALIAS}")
        con.execute(f"DETACH {_PUB_ALIAS}")
    return tables, counts, views, missing, all_casts, sources


def publish_marts(
    build_db: Path,
    published_db: Path,
    schemas: Sequence[str] = ("marts",),
    metadata: Mapping[str, str] | None = None,
    *,
    run_id: str | None = None,
    storage_version: str = DEFAULT_STORAGE_VERSION,
    lock_timeout_s: float = 60.0,
) -> PublishResult:
    """Copy ``schemas`` of ``build_db`` into a new file and atomically make it ``published_db``.

    Each build schema lands in :func:`published_name` of it (``marts`` -> ``main``).

    Call it only after the build's checks passed (the Dagster asset is downstream of blocking
    checks). On any error the published file is untouched and the temporary file is removed.
    """
    started = time.perf_counter()
    build_db, published_db = Path(build_db).resolve(), Path(published_db).resolve()
    schemas = tuple(dict.fromkeys(schemas))
    if not schemas:
        raise ValueError("schemas must name at least one schema")
    forbidden = sorted(set(schemas) & FORBIDDEN_SCHEMAS)
    if forbidden:
        raise ValueError(f"schemas {forbidden} are never published (internal or reserved)")
    _check_published_names(schemas, published_db.stem)
    if not build_db.is_file():
        raise PublishError(f"build file {build_db} does not exist")
    if build_db == published_db:
        raise ValueError("the build file and the published file must differ")
    run_id = run_id or uuid.uuid4().hex
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    published_db.parent.mkdir(parents=True, exist_ok=True)
    token = re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:64] + "-" + uuid.uuid4().hex[:8]
    temp = published_db.with_name(f".{published_db.stem}.publishing-{token}{published_db.suffix}")

    with _publish_lock(published_db, lock_timeout_s):
        _remove_stale_temp_files(published_db)
        try:
            tables, counts, views, missing, casts, sources = _write_publication_file(
                build_db, temp, schemas, run_id, meta, storage_version
            )
            if wal_path(temp).exists():
                raise PublishError(f"{wal_path(temp)} survived CHECKPOINT and DETACH")
            _fsync(temp)
            kept = _swap_in(temp, published_db, token)
        finally:
            temp.unlink(missing_ok=True)
            wal_path(temp).unlink(missing_ok=True)
            shutil.rmtree(temp.with_name(temp.name + ".spill"), ignore_errors=True)

    return PublishResult(
        published_path=published_db,
        previous_path=kept,
        run_id=run_id,
        tables=tuple(tables),
        row_counts=counts,
        bytes=published_db.stat().st_size,
        duration_s=time.perf_counter() - started,
        storage_version=storage_version,
        materialised_views=tuple(views),
        missing_schemas=tuple(missing),
        casts=casts,
        source_tables=sources,
    )


def _keep_as_previous(published_db: Path, token: str) -> Path:
    """Make the current published file ALSO reachable as ``previous`` without ever unlinking it.

    A hard link (then an atomic rename over the old ``previous``) keeps the published path present
    the whole time; on a file system without hard links a copy is made instead.
    """
    prev = previous_path(published_db)
    staged = published_db.with_name(f".{published_db.stem}.swap-{token}{published_db.suffix}")
    try:
        os.link(published_db, staged)
    except OSError:
        shutil.copy2(published_db, staged)
    os.replace(staged, prev)
    # A WAL belongs to the file it was written for: move a stray one (someone opened the published
    # file read-write) with its file, and never leave an old one beside ``previous``.
    if wal_path(published_db).exists():
        os.replace(wal_path(published_db), wal_path(prev))
    else:
        wal_path(prev).unlink(missing_ok=True)
    return prev


def _swap_in(temp: Path, published_db: Path, token: str) -> Path | None:
    kept = _keep_as_previous(published_db, token) if published_db.exists() else None
    os.replace(temp, published_db)
    _fsync(published_db.parent)
    return kept


def rollback(published_db: Path, *, lock_timeout_s: float = 60.0) -> RollbackResult:
    """Publish ``previous`` again; the file it replaces becomes ``previous`` (rolling back twice undoes it).

    Only one earlier generation is kept, so a rollback restores exactly the publication before the
    current one. Readers with the current file open keep it until they reconnect, as with a publish.
    """
    published_db = Path(published_db).resolve()
    prev = previous_path(published_db)
    with _publish_lock(published_db, lock_timeout_s):
        if not prev.exists():
            raise PublishError(f"no previous publication {prev} to roll back to")
        if wal_path(prev).exists():
            raise PublishError(
                f"{wal_path(prev)} exists: the previous file was modified after it was replaced"
            )
        token = uuid.uuid4().hex[:12]
        incoming = published_db.with_name(f".{published_db.stem}.swap-{token}-in{published_db.suffix}")
        # Stage previous under a temp name first so ``published_db`` is replaced in one rename.
        os.replace(prev, incoming)
        try:
            if published_db.exists():
                _keep_as_previous(published_db, token)
            os.replace(incoming, published_db)
        except BaseException:
            if incoming.exists():
                os.replace(incoming, prev)
            raise
        _fsync(published_db.parent)
    return RollbackResult(
        published_path=published_db, previous_path=prev, run_id=publication_run_id(published_db)
    )


def rewrite_published(
    published_db: Path,
    rewrite: Callable[[Path, Path], Mapping[str, int]],
    *,
    lock_timeout_s: float = 60.0,
) -> dict[str, dict[str, int]]:
    """Replace the published file AND its kept ``previous`` generation by rewritten copies (erasure).

    ``rewrite(source, target)`` writes a fresh ``target`` from ``source`` (which it must not change)
    and returns what it removed per table. Under the publish lock, each existing generation is
    rewritten into a temporary file beside it and renamed over it: like a publish, readers that
    have the old file open keep their snapshot until they reconnect, new connections see the
    rewritten file, nobody sees a partial one. Unlike a publish, the current file does NOT become
    ``previous`` (that would keep exactly what is being erased one rollback away), so the
    rollback generation is rewritten too. Returns the removals per rewritten file name.
    """
    published_db = Path(published_db).resolve()
    done: dict[str, dict[str, int]] = {}
    with _publish_lock(published_db, lock_timeout_s):
        _remove_stale_temp_files(published_db)
        for current in (published_db, previous_path(published_db)):
            if not current.exists():
                continue
            if wal_path(current).exists():
                raise PublishError(f"{wal_path(current)} exists: {current} was opened for writing")
            token = uuid.uuid4().hex[:12]
            temp = published_db.with_name(f".{published_db.stem}.publishing-rewrite-{token}{current.suffix}")
            try:
                removed = dict(rewrite(current, temp))
                if wal_path(temp).exists():
                    raise PublishError(f"{wal_path(temp)} survived the rewrite")
                _fsync(temp)
                os.replace(temp, current)
                _fsync(current.parent)
            finally:
                temp.unlink(missing_ok=True)
                wal_path(temp).unlink(missing_ok=True)
            done[current.name] = removed
    return done
