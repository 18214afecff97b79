"""Landing: raw files under ``landing/`` to typed, pseudonymised, de-duplicated bronze Delta tables.

One run lands every pending file (or those of one delivery day) exactly once:

1. discover files, skip those the ledger already has (same path, size and mtime), hash the
   rest; a content already landed (even under another name) is recorded as ``duplicate_file``;
2. group files per source into bounded batches (bytes and files), so memory does not grow with
   the number of files and each batch is one commit per table;
3. per batch: split into lines, decode, validate against the contract, quarantine failures
   with reasons, drop duplicate keys (inside the batch and against the partitions it touches),
   null the identifiers of events without analytics consent, pseudonymise identifiers, add
   lineage, then commit: data table, quarantine, ledger, in that order.

Invariant, checked for every file before its ledger row is written::

    lines_read = rows_landed + rows_quarantined + duplicates + skipped
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import gzip
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.contracts import REASONS_COLUMN, Contract, validate_frame
from lakehouse.landing import ledger as ledger_mod
from lakehouse.landing.files import LandingFile, discover, sha256_file
from lakehouse.landing.readers import LINE, RAW, REASON, RawChunk, read_mapped, read_native
from lakehouse.landing.schemas import (
    ALL_IDENTIFIER_KEYS,
    IDENTIFIERS,
    LEDGER_TABLE,
    PARTITION_COLUMN,
    QUARANTINE_PARTITION,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    TABLES,
    bronze_schema,
    cast_to,
)
from lakehouse.landing.scrub import (
    scrub_csv_positions,
    scrub_csv_values,
    scrub_json_pairs,
    scrub_known_values,
)
from lakehouse.pseudonymise import pseudonymise_columns

FILE_IDX = "_file_idx"
#: Bound on one batch: compressed input bytes and number of files (one commit per table each).
DEFAULT_BATCH_BYTES = int(os.environ.get("BEACON_LANDING_BATCH_BYTES", str(48 << 20)))
DEFAULT_BATCH_FILES = int(os.environ.get("BEACON_LANDING_BATCH_FILES", "64"))
#: Test hook: pause (sleep) at a named point so a test can SIGKILL the process there.
PAUSE_AT_ENV = "BEACON_LANDING_PAUSE_AT"
PAUSE_MARKER_ENV = "BEACON_LANDING_PAUSE_MARKER"
PAUSE_POINTS = ("before_data_commit", "after_data_commit", "after_quarantine_commit")

Logger = Callable[[str], None]


@dataclass
class FileResult:
    """What happened to one file."""

    file: LandingFile
    sha256: str
    status: str  # landed | duplicate_file
    lines_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    duplicates: int = 0
    skipped: int = 0
    table_version: int | None = None
    quarantine_version: int | None = None
    recovered: bool = False


@dataclass
class LandingReport:
    """Totals of one landing run, per target table, plus per-file rows and a preview."""

    run_id: str
    partition: dt.date | None
    files: list[FileResult] = field(default_factory=list)
    versions: dict[str, int | None] = field(default_factory=dict)
    previews: dict[str, pl.DataFrame] = field(default_factory=dict)
    pending_imports: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # files that could not be read: not logged, retried

    def totals(self, table: str | None = None) -> dict[str, int]:
        """Sums over the files landed into ``table`` (``clickstream_events``...) or over all."""
        rows = [f for f in self.files if table is None or TABLES[f.file.contract][1] == table]
        landed = [f for f in rows if f.status == "landed"]
        return {
            "files": len(landed),
            "duplicate_files": sum(f.status == "duplicate_file" for f in rows),
            "bytes": sum(f.file.size for f in landed),
            "lines_read": sum(f.lines_read for f in landed),
            "rows_landed": sum(f.rows_landed for f in landed),
            "rows_quarantined": sum(f.rows_quarantined for f in landed),
            "duplicates": sum(f.duplicates for f in landed),
            "skipped": sum(f.skipped for f in landed),
        }


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_AT_ENV) != point:
        return
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        Path(marker).write_text(point)
    time.sleep(float(os.environ.get("BEACON_LANDING_PAUSE_SECONDS", "3600")))


@contextmanager
def _exclusive(bronze: Path) -> Iterator[None]:
    """One landing at a time per data root: de-duplication reads then appends, which must not race.

    An OS file lock, released by the kernel even when the process is killed.
    """
    bronze.mkdir(parents=True, exist_ok=True)
    with (bronze / ".landing.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _batches(files: list[LandingFile], max_bytes: int, max_files: int) -> Iterator[list[LandingFile]]:
    """Consecutive groups of files of the same source, bounded in bytes and count."""
    batch: list[LandingFile] = []
    size = 0
    for f in files:
        if batch and (f.source != batch[0].source or size + f.size > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(f)
        size += f.size
    if batch:
        yield batch


def _read_file(f: LandingFile) -> Iterator[RawChunk]:
    """Raw chunks of one file: natively for Beacon's formats, else through the folder's mapping."""
    if f.mapping is not None:
        from lakehouse.mappings import load_mapping

        yield from read_mapped(load_mapping(f.mapping), f.path)
        return
    yield read_native(f.path, TABLES[f.contract][0])


VALIDATE_SLICE_ROWS = 100_000


def _validate(contract: Contract, raw: pl.DataFrame) -> pl.DataFrame:
    """Validate in row slices collected together: one contract pass is largely one long
    expression, so slices let polars keep every core busy. Row order is preserved."""
    if raw.height == 0:
        return pl.DataFrame()
    slices = [
        validate_frame(contract, raw.slice(start, VALIDATE_SLICE_ROWS))
        for start in range(0, raw.height, VALIDATE_SLICE_ROWS)
    ]
    return pl.concat(pl.collect_all(slices), how="vertical")


def _identifiers(f: LandingFile) -> tuple[str, ...]:
    """Fields to pseudonymise: the contract's identifiers plus any a source mapping declares."""
    ids = IDENTIFIERS[f.contract]
    if f.mapping is not None:
        from lakehouse.mappings import load_mapping

        ids = tuple(dict.fromkeys((*ids, *load_mapping(f.mapping).identifiers)))
    return ids


def _header(path: Path, delimiter: str = ",", quote: str = '"', skip_lines: int = 0) -> list[str]:
    """Column names in the header line of a (possibly gzipped) CSV file, read without loading it."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:  # type: ignore[operator]
        for _ in range(skip_lines):
            fh.readline()
        return next(csv.reader([fh.readline().rstrip("\r\n")], delimiter=delimiter, quotechar=quote), [])


def scrub_quarantine(frame: pl.DataFrame, f: LandingFile, key: str) -> pl.DataFrame:
    """Pseudonymise identifiers in the raw payloads and reasons of one file's quarantined lines.

    Native JSON lines: identifier keys' values (also in truncated lines). Native CSV: the
    identifier columns' positions in the header. Mapped files: the file columns the mapping
    builds identifiers from (by position for CSV, by key for JSON lines), so the raw
    ``17850.0`` is replaced even though the landed value is ``17850``.
    """
    if frame.height == 0:
        return frame
    if f.mapping is not None:
        from lakehouse.mappings import load_mapping

        mapping = load_mapping(f.mapping)
        src = mapping.spec.source
        id_columns = sorted({c for cols in mapping.identifier_source_columns.values() for c in cols})
        if src.format == "csv":
            names = (
                list(src.column_names)
                if src.column_names
                else _header(f.path, src.delimiter, src.quote, src.skip_lines)
            )
            positions = [i for i, n in enumerate(names) if n in id_columns]
            return scrub_csv_values(frame, [RAW, REASON], RAW, positions, key, src.delimiter, src.quote)
        keys = (*ALL_IDENTIFIER_KEYS, *id_columns)
        return frame.with_columns(
            scrub_json_pairs(frame[RAW], key, keys).alias(RAW),
            scrub_json_pairs(frame[REASON], key, keys).alias(REASON),
        )
    if f.path.name.lower().removesuffix(".gz").endswith(".csv"):
        positions = [i for i, c in enumerate(_header(f.path)) if c in ALL_IDENTIFIER_KEYS]
        return frame.with_columns(scrub_csv_positions(frame[RAW], positions, key).alias(RAW))
    return frame.with_columns(scrub_json_pairs(frame[RAW], key).alias(RAW))


class Lander:
    """Lands files into the bronze tables of one data root with one pseudonymisation key."""

    def __init__(
        self,
        paths: DataPaths,
        key: str,
        run_id: str | None = None,
        log: Logger | None = None,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        batch_files: int = DEFAULT_BATCH_FILES,
    ) -> None:
        self.paths = paths
        self.key = key
        self.run_id = run_id or uuid.uuid4().hex
        self.log = log or (lambda _msg: None)
        self.batch_bytes = batch_bytes
        self.batch_files = batch_files
        self.now = dt.datetime.now(dt.UTC)
        self.bronze = paths.delta / "bronze"
        self.quarantine_path = paths.table("bronze", QUARANTINE_TABLE)
        self.ledger_path = paths.table("bronze", LEDGER_TABLE)

    # ---- run -------------------------------------------------------------------------------
    def land(self, partition: dt.date | None = None) -> LandingReport:
        report = LandingReport(self.run_id, partition)
        with _exclusive(self.bronze):
            self._ensure_tables()
            files, problems = discover(self.paths.landing, partition)
            for problem in problems:
                self.log(f"import not landed: {problem}")
            report.pending_imports = problems
            ledger = ledger_mod.read_ledger(self.ledger_path)
            known = set(
                zip(
                    ledger["source_file"].to_list(),
                    ledger["bytes"].to_list(),
                    ledger["mtime_ns"].to_list(),
                    strict=True,
                )
            )
            landed_shas = set(ledger.filter(pl.col("status") == "landed")["content_sha256"].to_list())
            todo: list[tuple[LandingFile, str]] = []
            dup_files: list[FileResult] = []
            seen: set[str] = set()
            for f in files:
                if f.identity in known:
                    continue
                sha = sha256_file(f.path)
                if sha in landed_shas or sha in seen:
                    dup_files.append(FileResult(f, sha, "duplicate_file"))
                    continue
                seen.add(sha)
                todo.append((f, sha))
            self.log(
                f"run {self.run_id}: {len(todo)} file(s) to land, {len(dup_files)} duplicate content(s), "
                f"{len(files) - len(todo) - len(dup_files)} already landed"
            )
            by_path = {f.rel: sha for f, sha in todo}
            for batch in _batches([f for f, _ in todo], self.batch_bytes, self.batch_files):
                results = self._land_batch(batch, [by_path[f.rel] for f in batch], report)
                report.files.extend(results)
            if dup_files:
                self._log_files(dup_files)
                report.files.extend(dup_files)
        for name in (*(t for _, t in TABLES.values()), QUARANTINE_TABLE, LEDGER_TABLE):
            report.versions[name] = storage.table_version(self.paths.table("bronze", name))
        return report

    def _ensure_tables(self) -> None:
        for contract, name in TABLES.values():
            empty = cast_to(pl.DataFrame(schema=bronze_schema(contract)), bronze_schema(contract))
            storage.ensure_table(self.paths.table("bronze", name), empty.schema, [PARTITION_COLUMN])
        storage.ensure_table(
            self.quarantine_path,
            cast_to(pl.DataFrame(schema=QUARANTINE_SCHEMA), QUARANTINE_SCHEMA).schema,
            [QUARANTINE_PARTITION],
        )

    # ---- one batch -------------------------------------------------------------------------
    def _land_batch(
        self, batch: list[LandingFile], shas: list[str], report: LandingReport
    ) -> list[FileResult]:
        contract_name = batch[0].contract
        contract, table_name = TABLES[contract_name]
        table = self.paths.table("bronze", table_name)
        # Read first: a file that cannot be read (corrupt gzip, a column its mapping needs is
        # missing) is reported and left unlogged for the next run; the others still land.
        loaded: list[tuple[LandingFile, str, list[RawChunk]]] = []
        for f, sha in zip(batch, shas, strict=True):
            try:
                loaded.append((f, sha, list(_read_file(f))))
            except (ValueError, OSError) as exc:
                report.failed.append(f"{f.rel}: {exc}")
                self.log(f"NOT landed, will be retried: {f.rel}: {exc}")
        if not loaded:
            return []
        batch, shas = [f for f, _, _ in loaded], [sha for _, sha, _ in loaded]
        results = [FileResult(f, sha, "landed") for f, sha in zip(batch, shas, strict=True)]
        data_done = {
            i
            for i, sha in enumerate(shas)
            if storage.transaction_version(table, ledger_mod.txn_id(sha)) is not None
        }
        quar_done = {
            i
            for i, sha in enumerate(shas)
            if storage.transaction_version(self.quarantine_path, ledger_mod.txn_id(sha)) is not None
        }
        if data_done or quar_done:
            self.log(
                f"recovering {len(data_done | quar_done)} file(s) committed by a run that did not finish"
            )

        records, rejected = [], []
        for i, (_, _, chunks) in enumerate(loaded):
            for chunk in chunks:
                results[i].lines_read += chunk.lines_read
                results[i].skipped += chunk.skipped
                records.append(chunk.records.with_columns(pl.lit(i, pl.Int32).alias(FILE_IDX)))
                rejected.append(chunk.rejected.with_columns(pl.lit(i, pl.Int32).alias(FILE_IDX)))
        raw = pl.concat(records, how="diagonal_relaxed") if records else pl.DataFrame()
        checked = _validate(contract, raw)

        # ---- quarantine rows (reader rejects + contract failures)
        quarantine_parts = [r for r in rejected if r.height]
        if checked.height:
            invalid = checked.filter(pl.col(REASONS_COLUMN).list.len() > 0)
            if invalid.height:
                invalid = invalid.with_columns(pl.col(REASONS_COLUMN).list.join("; ").alias(REASON))
                invalid = scrub_known_values(invalid, [RAW, REASON], _identifiers(batch[0]), self.key)
                quarantine_parts.append(invalid.select(LINE, RAW, REASON, FILE_IDX))
            valid = checked.filter(pl.col(REASONS_COLUMN).list.len() == 0).drop(REASONS_COLUMN)
        else:
            valid = pl.DataFrame()
        quarantine = (
            pl.concat(quarantine_parts, how="vertical_relaxed")
            if quarantine_parts
            else pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String, FILE_IDX: pl.Int32})
        )
        if quar_done:
            quarantine = quarantine.filter(~pl.col(FILE_IDX).is_in(sorted(quar_done)))
        if quarantine.height:
            quarantine = pl.concat(
                [
                    scrub_quarantine(part, batch[int(idx[0])], self.key)
                    for idx, part in quarantine.group_by(FILE_IDX, maintain_order=True)
                ]
            )
        q_counts = dict(quarantine.group_by(FILE_IDX).len().iter_rows())

        # ---- de-duplicate and build the landed rows
        landed = self._new_rows(valid, contract.key, table, data_done, results)
        l_counts = dict(landed.group_by(FILE_IDX).len().iter_rows()) if landed.height else {}

        pending_data = [i for i in range(len(batch)) if i not in data_done]
        for i in pending_data:
            results[i].rows_landed = int(l_counts.get(i, 0))
        pending_quar = [i for i in range(len(batch)) if i not in quar_done]
        for i in pending_quar:
            results[i].rows_quarantined = int(q_counts.get(i, 0))
        self._recover_counts(table, self.quarantine_path, data_done, quar_done, results)

        # ---- commits: data, quarantine, ledger
        _pause("before_data_commit")
        if landed.height and pending_data:
            out = self._finish_rows(landed, contract_name, batch)
            meta = ledger_mod.commit_metadata(
                self.run_id,
                {
                    results[i].sha256: {"landed": results[i].rows_landed, "duplicates": results[i].duplicates}
                    for i in pending_data
                },
            )
            version = storage.write_partitions(
                table,
                cast_to(out, bronze_schema(contract)),
                [PARTITION_COLUMN],
                commit_metadata=meta,
                transactions=[ledger_mod.txn_id(results[i].sha256) for i in pending_data],
            )
            for i in pending_data:
                results[i].table_version = version
            report.previews[table_name] = out.drop(FILE_IDX, strict=False).head(5)
        _pause("after_data_commit")
        if quarantine.height and pending_quar:
            q_out = self._quarantine_rows(quarantine, batch)
            meta = ledger_mod.commit_metadata(
                self.run_id,
                {results[i].sha256: {"quarantined": results[i].rows_quarantined} for i in pending_quar},
            )
            q_version = storage.write_partitions(
                self.quarantine_path,
                cast_to(q_out, QUARANTINE_SCHEMA),
                [QUARANTINE_PARTITION],
                commit_metadata=meta,
                transactions=[ledger_mod.txn_id(results[i].sha256) for i in pending_quar],
            )
            for i in pending_quar:
                results[i].quarantine_version = q_version
            report.previews[QUARANTINE_TABLE] = q_out.head(5)
        _pause("after_quarantine_commit")
        for r in results:
            self._check_balance(r)
            r.table_version = r.table_version if r.table_version is not None else storage.table_version(table)
            r.quarantine_version = (
                r.quarantine_version
                if r.quarantine_version is not None
                else storage.table_version(self.quarantine_path)
            )
        self._log_files(results)
        t = sum(r.lines_read for r in results)
        self.log(
            f"landed batch of {len(batch)} {contract_name} file(s): {t} lines, "
            f"{sum(r.rows_landed for r in results)} landed, {sum(r.rows_quarantined for r in results)} "
            f"quarantined, {sum(r.duplicates for r in results)} duplicates"
        )
        return results

    def _new_rows(
        self, valid: pl.DataFrame, key: str, table: Path, data_done: set[int], results: list[FileResult]
    ) -> pl.DataFrame:
        """Valid rows whose key is neither earlier in the batch nor already in the partitions touched."""
        if valid.height == 0:
            return valid
        valid = valid.filter(~pl.col(FILE_IDX).is_in(sorted(data_done))) if data_done else valid
        # "first" = earliest file of the batch, then earliest line (stable for melted records)
        valid = valid.sort([FILE_IDX, LINE], maintain_order=True)
        valid = valid.with_columns(pl.col("occurred_at").dt.date().alias(PARTITION_COLUMN))
        first = valid.select(pl.col(key).is_first_distinct()).to_series()
        dates = valid[PARTITION_COLUMN].unique().drop_nulls().to_list()
        if dates and storage.table_exists(table):
            existing_tbl = storage.read_table(table, columns=[key], filters=[(PARTITION_COLUMN, "in", dates)])
            existing_frame = pl.from_arrow(existing_tbl)
            assert isinstance(existing_frame, pl.DataFrame)
            keep = first & ~valid[key].is_in(existing_frame[key].implode())
        else:
            keep = first
        flagged = valid.with_columns(keep.alias("_keep"))
        dup_counts = dict(flagged.filter(~pl.col("_keep")).group_by(FILE_IDX).len().iter_rows())
        for i, r in enumerate(results):
            if i not in data_done:
                r.duplicates = int(dup_counts.get(i, 0))
        return flagged.filter(pl.col("_keep")).drop("_keep")

    def _finish_rows(self, rows: pl.DataFrame, contract_name: str, batch: list[LandingFile]) -> pl.DataFrame:
        """Consent, pseudonyms and lineage on rows about to be landed."""
        if contract_name == "clickstream":
            no_consent = ~pl.col("consent_analytics")
            rows = rows.with_columns(
                pl.when(no_consent).then(None).otherwise(pl.col("user_id")).alias("user_id"),
                pl.when(no_consent).then(None).otherwise(pl.col("anonymous_id")).alias("anonymous_id"),
            )
        rows = pseudonymise_columns(rows, list(_identifiers(batch[0])), self.key)
        rel = pl.Series("_source_file", [f.rel for f in batch], dtype=pl.String)
        return rows.with_columns(
            rel.gather(rows[FILE_IDX]),
            pl.lit(self.now).cast(pl.Datetime("us", "UTC")).alias("_landed_at"),
            pl.lit(self.run_id).alias("_landing_run_id"),
        ).drop(RAW)

    def _quarantine_rows(self, quarantine: pl.DataFrame, batch: list[LandingFile]) -> pl.DataFrame:
        idx = quarantine[FILE_IDX]
        return quarantine.select(
            pl.Series("source", [f.source for f in batch], dtype=pl.String).gather(idx),
            pl.Series("source_file", [f.rel for f in batch], dtype=pl.String).gather(idx),
            pl.col(LINE).alias("source_line"),
            pl.col(REASON).alias("reason"),
            pl.col(RAW).alias("raw_payload"),
            pl.lit(self.now).cast(pl.Datetime("us", "UTC")).alias("quarantined_at"),
            pl.lit(self.run_id).alias("landing_run_id"),
            pl.Series(QUARANTINE_PARTITION, [f.delivery_date for f in batch], dtype=pl.Date).gather(idx),
        )

    def _recover_counts(
        self,
        table: Path,
        quarantine: Path,
        data_done: set[int],
        quar_done: set[int],
        results: list[FileResult],
    ) -> None:
        """Counts of files whose commits survived a killed run, read from those commits' metadata."""
        if data_done:
            found = ledger_mod.committed_counts(table, {results[i].sha256 for i in data_done})
            for i in data_done:
                c = found[results[i].sha256]
                results[i].rows_landed, results[i].duplicates = int(c["landed"]), int(c["duplicates"])
                results[i].table_version, results[i].recovered = c["version"], True
        if quar_done:
            found = ledger_mod.committed_counts(quarantine, {results[i].sha256 for i in quar_done})
            for i in quar_done:
                c = found[results[i].sha256]
                results[i].rows_quarantined = int(c["quarantined"])
                results[i].quarantine_version, results[i].recovered = c["version"], True

    @staticmethod
    def _check_balance(r: FileResult) -> None:
        accounted = r.rows_landed + r.rows_quarantined + r.duplicates + r.skipped
        if accounted != r.lines_read:
            raise RuntimeError(
                f"{r.file.rel}: read {r.lines_read} lines but accounted for {accounted} "
                f"(landed {r.rows_landed}, quarantined {r.rows_quarantined}, duplicates {r.duplicates}, "
                f"skipped {r.skipped}); nothing was logged for this file, it will be retried. This is a bug: "
                "report it with the file."
            )

    def _log_files(self, results: list[FileResult]) -> None:
        rows = pl.DataFrame(
            {
                "source": [r.file.source for r in results],
                "contract": [r.file.contract for r in results],
                "source_file": [r.file.rel for r in results],
                "content_sha256": [r.sha256 for r in results],
                "bytes": [r.file.size for r in results],
                "mtime_ns": [r.file.mtime_ns for r in results],
                "delivery_date": [r.file.delivery_date for r in results],
                "status": [r.status for r in results],
                "lines_read": [r.lines_read for r in results],
                "rows_landed": [r.rows_landed for r in results],
                "rows_quarantined": [r.rows_quarantined for r in results],
                "duplicates": [r.duplicates for r in results],
                "skipped": [r.skipped for r in results],
                "table_name": [TABLES[r.file.contract][1] for r in results],
                "table_version": [r.table_version for r in results],
                "quarantine_version": [r.quarantine_version for r in results],
                "landing_run_id": [self.run_id] * len(results),
                "landed_at": [self.now] * len(results),
            },
            schema_overrides={"table_version": pl.Int64, "quarantine_version": pl.Int64},
        )
        ledger_mod.append_ledger(self.ledger_path, rows, self.run_id)


def land(
    paths: DataPaths,
    key: str,
    partition: dt.date | str | None = None,
    *,
    run_id: str | None = None,
    log: Logger | None = None,
    **kwargs: Any,
) -> LandingReport:
    """Land every pending file (of delivery day ``partition`` when given). Safe to re-run at any time."""
    day = dt.date.fromisoformat(partition) if isinstance(partition, str) else partition
    return Lander(paths, key, run_id=run_id, log=log, **kwargs).land(day)


def report_json(report: LandingReport) -> str:
    """A JSON summary of a run (totals per table, versions), for logs and the CLI."""
    return json.dumps(
        {
            "run_id": report.run_id,
            "partition": report.partition.isoformat() if report.partition else None,
            "totals": {t: report.totals(t) for _, t in TABLES.values()},
            "versions": report.versions,
        },
        indent=2,
    )
