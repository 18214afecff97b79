"""Right to erasure: remove one person from every place Beacon writes, and prove it.

:func:`erase_user` takes the RAW user id (what the person gives), pseudonymises it exactly as
landing does, and works out everything that is theirs:

* their devices: ``anonymous_id`` values only they ever used (a device shared with another
  account is not erased: it is also someone else's);
* their household: the ``home_id`` whose sensor readings carry their pseudonym as shopper;
* the source lines (file, line) of all of it in ``landing/``: found by raw-token match in
  Beacon's own files (this includes events landed WITHOUT identifiers because analytics consent
  was missing: lineage links them back), and by bronze lineage for imported files.

Then, in an order that makes a re-run after a crash finish the job (the landing files, which
hold the raw ids, are rewritten last):

1. bronze ``clickstream_events``, ``sensor_readings``, ``quarantine``: delete (partition
   predicate), vacuum with zero retention, purge the Delta log history
   (:mod:`lakehouse.privacy.delta_purge`);
2. the dbt build file and the published ``marts.duckdb`` (+ its rollback generation): rows
   deleted and the files rebuilt (:mod:`lakehouse.privacy.duckdb_purge`), which covers the
   marts, the ``scores`` tables (recommendations, churn, segments) and the DP ``public`` tables;
   On the Spark engine, its warehouse, metastore and the Delta exports of dbt's tables are
   dropped (derived data, rebuilt by the next build);
3. ``landing/``: files rewritten without the lines, ledger identities updated;
4. ``truth/`` (the generator's ground truth, raw ids): rows removed;
5. MLflow: registered versions flagged for retraining (:mod:`lakehouse.privacy.models`);
6. the audit row per place (:mod:`lakehouse.privacy.audit`).

It is idempotent: a second run finds nothing and records zero rows. It takes the landing lock
so landing does not run meanwhile; the Dagster job also runs in the DuckDB writer pool.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lakehouse import storage
from lakehouse.config import DBT_SCHEMAS, DataPaths
from lakehouse.landing.schemas import (
    LEDGER_TABLE,
    PARTITION_COLUMN,
    QUARANTINE_PARTITION,
    QUARANTINE_TABLE,
)
from lakehouse.locks import file_lock, landing_lock
from lakehouse.privacy import audit
from lakehouse.privacy.consent import SNAPSHOT_TABLE
from lakehouse.privacy.delta_purge import any_of, in_list, lineage_terms, purge_rows
from lakehouse.privacy.duckdb_purge import purge_file_in_place, rebuild_without
from lakehouse.privacy.landing_files import linked_ids, person_lines, rewrite_files
from lakehouse.pseudonymise import pseudonymise_value
from lakehouse.publish import DEFAULT_STORAGE_VERSION, build_db_path, rewrite_published

Logger = Callable[[str], None]
CLICKSTREAM = "clickstream_events"
SENSORS = "sensor_readings"
LINE_COL = "_source_line"
FILE_COL = "_source_file"


class ErasureNotConfirmed(RuntimeError):
    """Erasure is irreversible: it runs only with an explicit confirmation."""


@dataclass(frozen=True)
class Scope:
    """Everything that is one person's, in pseudonym space (tables) and raw space (files)."""

    pseudonym: str
    devices: frozenset[str]
    homes: frozenset[str]
    raw_tokens: tuple[str, ...]
    lines: Mapping[str, list[int]] = field(default_factory=dict)

    @property
    def pseudonyms(self) -> list[str]:
        return sorted({self.pseudonym, *self.devices, *self.homes})


@dataclass
class ErasureReport:
    """What one erasure did: per place, rows removed and files rewritten; the requester's receipt."""

    receipt: audit.Receipt
    places: list[audit.PlaceResult]
    flagged_models: list[str]
    audit_version: int

    @property
    def rows_removed(self) -> int:
        return sum(p.rows_removed for p in self.places)

    def summary(self) -> dict[str, int]:
        return {p.place: p.rows_removed for p in self.places}


def _collect(lf: pl.LazyFrame) -> pl.DataFrame:
    out = lf.collect()
    assert isinstance(out, pl.DataFrame)
    return out


def _lines_frame(lines: Mapping[str, list[int]], file_col: str, line_col: str) -> pl.DataFrame:
    """(file, line) pairs as a frame: one row per file exploded by polars, not a loop per line."""
    return pl.DataFrame(
        {file_col: list(lines.keys()), line_col: [list(v) for v in lines.values()]},
        schema={file_col: pl.String, line_col: pl.List(pl.Int64)},
    ).explode(line_col)


def resolve_scope(paths: DataPaths, raw_user_id: str, key: str) -> Scope:
    """The person's pseudonyms, linked devices and household, raw tokens and source lines."""
    pseudonym = pseudonymise_value(raw_user_id, key)
    linked = linked_ids(paths.landing, raw_user_id) if paths.landing.is_dir() else None
    devices = {pseudonymise_value(d, key) for d in (linked.devices if linked else ())}
    homes = {pseudonymise_value(h, key) for h in (linked.homes if linked else ())}
    # Bronze may hold what landing no longer has (retention removed the files): add its links.
    click = paths.table("bronze", CLICKSTREAM)
    if storage.table_exists(click):
        pairs = _collect(
            storage.scan_table(click)
            .select("user_id", "anonymous_id")
            .filter(pl.col("user_id").is_not_null() & pl.col("anonymous_id").is_not_null())
            .unique()
        )
        mine = pairs.filter(pl.col("user_id") == pseudonym)["anonymous_id"]
        shared = pairs.filter((pl.col("user_id") != pseudonym) & pl.col("anonymous_id").is_in(mine.implode()))
        devices |= set(mine.to_list()) - set(shared["anonymous_id"].to_list())
    sensors = paths.table("bronze", SENSORS)
    if storage.table_exists(sensors):
        homes |= set(
            _collect(
                storage.scan_table(sensors).filter(pl.col("user_id") == pseudonym).select("home_id").unique()
            )["home_id"]
            .drop_nulls()
            .to_list()
        )
    tokens = tuple(linked.tokens) if linked else (raw_user_id,)
    lines = person_lines(paths.landing, tokens) if paths.landing.is_dir() else {}
    return Scope(pseudonym, frozenset(devices), frozenset(homes), tokens, lines)


def _bronze_matches(
    path: Path, id_expr: pl.Expr, lines: pl.DataFrame, partition: str, file_col: str, line_col: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(partition, file, line) of the rows matching ``id_expr`` or coming from ``lines``, and of
    those found ONLY by their source line (rows landed without identifiers): only these need
    lineage terms in the delete predicate, which keeps it short."""
    lf = storage.scan_table(path)
    cols = [partition, file_col, line_col]
    flagged = lf.select(*cols, id_expr.fill_null(False).alias("_by_id"))
    by_line = flagged.join(lines.lazy(), on=[file_col, line_col], how="semi")
    found = _collect(pl.concat([flagged.filter(pl.col("_by_id")), by_line]).unique())
    return found.drop("_by_id"), found.filter(~pl.col("_by_id")).drop("_by_id")


def _merge_lines(lines: dict[str, list[int]], found: pl.DataFrame, file_col: str, line_col: str) -> None:
    """Add the (file, line) pairs of ``found`` to ``lines`` (in place), de-duplicated and sorted."""
    if found.height == 0:
        return
    merged = (
        pl.concat([_lines_frame(lines, file_col, line_col), found.select(file_col, line_col)])
        .unique()
        .group_by(file_col)
        .agg(pl.col(line_col).sort())
    )
    lines.clear()
    lines.update(zip(merged[file_col].to_list(), merged[line_col].to_list(), strict=True))


def _erase_consent_snapshot(paths: DataPaths, scope: Scope, say: Callable[[str], None]) -> audit.PlaceResult:
    """The pseudonymised copy of the consent table landing keeps in bronze (small, unpartitioned)."""
    path = paths.table("bronze", SNAPSHOT_TABLE)
    res = purge_rows(path, f"user_id = {storage.sql_literal(scope.pseudonym)}")
    say(f"bronze.{SNAPSHOT_TABLE}: {res.rows_deleted} rows deleted")
    return audit.PlaceResult(f"bronze.{SNAPSHOT_TABLE}", res.rows_deleted, res.files_vacuumed)


def _erase_bronze(
    paths: DataPaths, scope: Scope, log: Logger
) -> tuple[list[audit.PlaceResult], dict[str, list[int]]]:
    """Delete the person's bronze rows; returns results and every source line found (incl. imports)."""
    lines = {k: list(v) for k, v in scope.lines.items()}
    p, devices, homes = scope.pseudonym, sorted(scope.devices), sorted(scope.homes)
    specs = [
        (
            CLICKSTREAM,
            (pl.col("user_id") == p) | pl.col("anonymous_id").is_in(devices),
            [f"user_id = {storage.sql_literal(p)}", in_list("anonymous_id", devices)],
        ),
        (
            SENSORS,
            (pl.col("user_id") == p) | pl.col("home_id").is_in(homes),
            [f"user_id = {storage.sql_literal(p)}", in_list("home_id", homes)],
        ),
    ]
    found: dict[str, pl.DataFrame] = {}
    only_lines: dict[str, dict[str, list[int]]] = {}
    native = _lines_frame(lines, FILE_COL, LINE_COL)
    for name, expr, _ in specs:
        path = paths.table("bronze", name)
        if storage.table_exists(path):
            found[name], by_line = _bronze_matches(path, expr, native, PARTITION_COLUMN, FILE_COL, LINE_COL)
            only_lines[name] = {}
            _merge_lines(only_lines[name], by_line, FILE_COL, LINE_COL)
            _merge_lines(lines, found[name], FILE_COL, LINE_COL)
    quarantine = paths.table("bronze", QUARANTINE_TABLE)
    payload_terms = [
        f"strpos({col}, {storage.sql_literal(v)}) > 0"
        for v in (*scope.pseudonyms, *scope.raw_tokens)
        for col in ("raw_payload", "reason")
    ]
    if storage.table_exists(quarantine):
        needles = [*scope.pseudonyms, *scope.raw_tokens]
        expr = pl.any_horizontal(
            [pl.col(c).str.contains(n, literal=True) for n in needles for c in ("raw_payload", "reason")]
        )
        q_lines = _lines_frame(lines, "source_file", "source_line")
        found[QUARANTINE_TABLE], by_line = _bronze_matches(
            quarantine, expr, q_lines, QUARANTINE_PARTITION, "source_file", "source_line"
        )
        only_lines[QUARANTINE_TABLE] = {}
        _merge_lines(only_lines[QUARANTINE_TABLE], by_line, "source_file", "source_line")
        _merge_lines(lines, found[QUARANTINE_TABLE], "source_file", "source_line")

    results: list[audit.PlaceResult] = []
    meta = {"beacon.operation": "erasure"}
    for name, _, id_terms in specs:
        path = paths.table("bronze", name)
        rows = found.get(name)
        predicate = any_of([*id_terms, *lineage_terms(FILE_COL, LINE_COL, only_lines.get(name, {}))])
        parts = rows[PARTITION_COLUMN].to_list() if rows is not None else []
        res = purge_rows(path, predicate, PARTITION_COLUMN, parts, meta)
        log(f"bronze.{name}: {res.rows_deleted} rows deleted, {res.files_vacuumed} files vacuumed")
        results.append(audit.PlaceResult(f"bronze.{name}", res.rows_deleted, res.files_vacuumed))
    rows = found.get(QUARANTINE_TABLE)
    q_only = only_lines.get(QUARANTINE_TABLE, {})
    predicate = any_of([*payload_terms, *lineage_terms("source_file", "source_line", q_only)])
    parts = rows[QUARANTINE_PARTITION].to_list() if rows is not None else []
    res = purge_rows(quarantine, predicate, QUARANTINE_PARTITION, parts, meta)
    log(f"bronze.{QUARANTINE_TABLE}: {res.rows_deleted} rows deleted")
    results.append(audit.PlaceResult(f"bronze.{QUARANTINE_TABLE}", res.rows_deleted, res.files_vacuumed))
    return results, lines


def _erase_duckdb(paths: DataPaths, scope: Scope, log: Logger) -> list[audit.PlaceResult]:
    ids = [*scope.pseudonyms, *scope.raw_tokens]
    results: list[audit.PlaceResult] = []
    build = build_db_path(paths.build)
    if build.is_file():
        removed = purge_file_in_place(build, ids)
        log(f"build file: {sum(removed.values())} rows deleted in {len(removed)} tables, file rebuilt")
        results.append(audit.PlaceResult("build:marts_build.duckdb", sum(removed.values()), 1))
    if paths.marts.exists():
        done = rewrite_published(
            paths.marts,
            lambda src, dst: rebuild_without(src, dst, ids, DEFAULT_STORAGE_VERSION),
        )
        for name, removed in done.items():
            log(f"published {name}: {sum(removed.values())} rows deleted, file rebuilt")
            results.append(audit.PlaceResult(f"published:{name}", sum(removed.values()), 1))
    return results


def _erase_spark_derivatives(paths: DataPaths, log: Logger) -> list[audit.PlaceResult]:
    """The Spark engine's copies of dbt's tables: its warehouse + metastore and their Delta exports.

    They are derived from bronze (already erased above), so they are dropped whole rather than
    filtered: the next Spark build re-creates them from the erased bronze (incremental models then
    build in full because their table is gone). Nothing here exists on the DuckDB engine.
    """
    results: list[audit.PlaceResult] = []
    for layer in DBT_SCHEMAS:  # the Spark exports (lakehouse/spark/export.py): derived data only
        folder = paths.delta / layer
        if not folder.is_dir():
            continue
        dropped = [
            storage.drop_table(table) for table in sorted(folder.iterdir()) if storage.table_exists(table)
        ]
        log(f"delta/{layer}: {len(dropped)} exported table(s) dropped (rebuilt by the next Spark build)")
        results.append(audit.PlaceResult(f"spark_export:{layer}", 0, sum(dropped)))
    for name in ("warehouse", "metastore_db"):
        folder = paths.spark / name
        if folder.exists():
            files = sum(1 for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder)
            log(f"spark/{name}: removed ({files} files)")
            results.append(audit.PlaceResult(f"spark:{name}", 0, files))
    return results


def _erase_truth(truth: Path, tokens: tuple[str, ...]) -> audit.PlaceResult:
    """Ground truth written by the generator holds raw ids: drop the person's rows from each Parquet file."""
    removed, files = 0, 0
    if not truth.is_dir():
        return audit.PlaceResult("truth", 0, 0)
    wanted = list(tokens)
    for path in sorted(truth.rglob("*.parquet")):
        frame = pl.read_parquet(path)
        terms = [pl.col(c).is_in(wanted) for c, t in frame.schema.items() if t == pl.String]
        terms += [
            pl.col(c).list.eval(pl.element().is_in(wanted)).list.any()
            for c, t in frame.schema.items()
            if t == pl.List(pl.String)
        ]
        if not terms:
            continue
        hit = frame.select(pl.any_horizontal(terms).fill_null(False)).to_series()
        n = int(hit.sum())
        if n:
            tmp = path.with_name(f".{path.name}.erasing")
            frame.filter(~hit).write_parquet(tmp)
            os.replace(tmp, path)
            removed, files = removed + n, files + 1
    return audit.PlaceResult("truth", removed, files)


def erase_user(
    raw_user_id: str,
    key: str,
    paths: DataPaths,
    confirm: bool,
    *,
    run_id: str | None = None,
    log: Logger | None = None,
    flag_models: bool = True,
) -> ErasureReport:
    """Erase the person whose raw user id is ``raw_user_id`` from everything under ``paths``.

    Refuses unless ``confirm`` is True. Returns the report with the requester's receipt; the
    report and the audit never contain the raw id or the pseudonym.
    """
    if not confirm:
        raise ErasureNotConfirmed(
            "erasure deletes data irreversibly (also from time travel and backups kept as previous "
            "publications); pass confirm=True (CLI: --yes-i-am-sure) to run it"
        )
    if not raw_user_id or not raw_user_id.strip():
        raise ValueError("raw_user_id must be a non-empty user id as the source systems send it")
    say = log or (lambda _m: None)
    run = run_id or uuid.uuid4().hex
    requested_at = dt.datetime.now(dt.UTC)
    with file_lock(landing_lock(paths)):
        scope = resolve_scope(paths, raw_user_id.strip(), key)
        receipt = audit.new_receipt(scope.pseudonym)
        say(
            f"erasure {receipt.request_id}: {len(scope.devices)} device(s), {len(scope.homes)} household(s), "
            f"{sum(map(len, scope.lines.values()))} landing line(s) in {len(scope.lines)} file(s)"
        )
        places, lines = _erase_bronze(paths, scope, say)
        places.append(_erase_consent_snapshot(paths, scope, say))
        places += _erase_duckdb(paths, scope, say)
        places += _erase_spark_derivatives(paths, say)
        rewritten = rewrite_files(paths.landing, paths.table("bronze", LEDGER_TABLE), lines, run)
        places.append(audit.PlaceResult("landing", sum(r.lines_removed for r in rewritten), len(rewritten)))
        say(f"landing: {len(rewritten)} file(s) rewritten")
    places.append(_erase_truth(paths.truth, scope.raw_tokens))
    flagged: list[str] = []
    if flag_models:
        from lakehouse.privacy.models import flag_for_retraining
        from ml.tracking_config import TrackingConfig

        flagged = flag_for_retraining(TrackingConfig.default(paths), receipt.request_id)
        places.append(audit.PlaceResult("mlflow:model_versions_flagged", len(flagged), 0))
        say(f"mlflow: {len(flagged)} model version(s) flagged for retraining")
    version = audit.record(paths, receipt, requested_at, places, run)
    return ErasureReport(receipt, places, flagged, version)
