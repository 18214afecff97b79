"""Landing: raw files under ``landing/`` to typed, pseudonymised, de-duplicated bronze Delta tables.

One run lands every pending file (or those of some delivery days) exactly once:

1. discover files, skip those the ledger already has (same path, size and mtime), hash the
   rest; a content already landed (even under another name) is recorded as ``duplicate_file``;
2. group files per source into batches (by default one per source and run): a batch is the
   unit of commit, ONE commit per table;
3. per batch, streaming: read files one ahead in a thread (split into lines, decode), and in
   chunks of about ``chunk_rows`` rows validate against the contract, quarantine failures with
   reasons, drop duplicate keys (inside the batch and against the key index of everything
   landed, whatever its event date), null the identifiers of events without analytics consent,
   pseudonymise identifiers, add lineage and stage the rows as Parquet files not yet visible;
   memory is bounded by a chunk, not by the number of files;
4. commit: data table, quarantine, key index, ledger, in that order.

Invariant, checked for every file before its ledger row is written::

    lines_read = rows_landed + rows_quarantined + duplicates + skipped
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.contracts import REASONS_COLUMN, Contract, validate_frame
from lakehouse.landing import ledger as ledger_mod
from lakehouse.landing.files import Days, LandingFile, discover, sha256_file
from lakehouse.landing.readers import LINE, RAW, REASON, RawChunk, read_mapped, read_native
from lakehouse.landing.schemas import (
    ALL_IDENTIFIER_KEYS,
    IDENTIFIERS,
    KEY_INDEX_TABLES,
    LEDGER_TABLE,
    PARTITION_COLUMN,
    QUARANTINE_PARTITION,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    TABLES,
    arrow_schema,
    bronze_schema,
    cast_frame,
    cast_to,
    key_index_schema,
)
from lakehouse.landing.scrub import (
    scrub_csv_positions,
    scrub_csv_values,
    scrub_json_pairs,
    scrub_known_values,
)
from lakehouse.locks import file_lock
from lakehouse.privacy.consent import apply_consent, load_consent, write_consent_snapshot
from lakehouse.pseudonymise import pseudonymise_columns

FILE_IDX = "_file_idx"
#: Bound on one batch (the commit unit: one commit per table each): compressed input bytes and
#: number of files. Memory does not depend on these (see chunk rows), so by default a run's
#: files of one source are one batch.
DEFAULT_BATCH_BYTES = int(os.environ.get("BEACON_LANDING_BATCH_BYTES", str(1 << 40)))
DEFAULT_BATCH_FILES = int(os.environ.get("BEACON_LANDING_BATCH_FILES", "100000"))
#: Records processed (validated, de-duplicated, staged) together: the memory bound of a run.
DEFAULT_CHUNK_ROWS = int(os.environ.get("BEACON_LANDING_CHUNK_ROWS", "200000"))
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
    partition: dt.date | None  # the delivery day when the run landed exactly one day
    days: tuple[dt.date, ...] = ()  # the delivery days asked for (empty: every pending file)
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
    with file_lock(bronze / ".landing.lock"):
        yield


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


def _slices(chunk: RawChunk, rows: int) -> Iterator[RawChunk]:
    """A big file's records in pieces of ``rows`` (its rejected lines go with the first piece)."""
    if chunk.records.height <= rows:
        yield chunk
        return
    for start in range(0, chunk.records.height, rows):
        yield RawChunk(
            records=chunk.records.slice(start, rows),
            rejected=chunk.rejected if start == 0 else chunk.rejected.clear(),
        )


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


@dataclass
class _Part:
    """Raw records of one file (or a slice of a big file) waiting to be processed in a chunk."""

    file_idx: int
    chunk: RawChunk


@dataclass
class _BatchState:
    """What one commit unit (a batch of files) has staged so far, and per-file recovery facts."""

    table: Path
    index: Path
    results: list[FileResult]
    data_done: set[int]
    quar_done: set[int]
    index_done: set[int]
    failed: set[int] = field(default_factory=set)
    staged_data: list[storage.StagedFile] = field(default_factory=list)
    staged_quarantine: list[storage.StagedFile] = field(default_factory=list)
    staged_index: list[storage.StagedFile] = field(default_factory=list)
    index_files: list[str] = field(default_factory=list)  # absolute paths: committed + staged

    def live(self) -> list[int]:
        """Indexes of the batch's files that were read (a file that failed is left for a retry)."""
        return [i for i in range(len(self.results)) if i not in self.failed]


def _prefetched(
    items: list[LandingFile], read: Callable[[LandingFile], list[RawChunk]]
) -> Iterator[tuple[int, list[RawChunk] | Exception]]:
    """Read file i+1 in a background thread while file i is processed.

    Gzip inflation and line splitting (polars) and JSON decoding (DuckDB) release the GIL, so
    on a small machine reading overlaps validation and writing instead of waiting for it. At
    most two files are held at a time, which keeps memory independent of the number of files.
    """
    if not items:
        return

    def safe(f: LandingFile) -> list[RawChunk] | Exception:
        try:
            return read(f)
        except (ValueError, OSError) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-read") as pool:
        future = pool.submit(safe, items[0])
        for i in range(len(items)):
            current = future.result()
            if i + 1 < len(items):
                future = pool.submit(safe, items[i + 1])
            yield i, current


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
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        self.paths = paths
        self.key = key
        # The consent table users maintain (landing/consent/*.csv), read once per run: a change
        # takes effect from the next run, never half-way through one.
        self.consent = load_consent(paths.landing)
        self.run_id = run_id or uuid.uuid4().hex
        self.log = log or (lambda _msg: None)
        self.batch_bytes = batch_bytes
        self.batch_files = batch_files
        self.chunk_rows = chunk_rows
        self.now = dt.datetime.now(dt.UTC)
        self.bronze = paths.delta / "bronze"
        self.quarantine_path = paths.table("bronze", QUARANTINE_TABLE)
        self.ledger_path = paths.table("bronze", LEDGER_TABLE)

    # ---- run -------------------------------------------------------------------------------
    def land(self, days: Days = None) -> LandingReport:
        """Land every pending file (of delivery day(s) ``days`` when given)."""
        day_list = (
            [] if days is None else sorted({days} if isinstance(days, dt.date) else set(days))  # type: ignore[arg-type]
        )
        report = LandingReport(self.run_id, day_list[0] if len(day_list) == 1 else None, tuple(day_list))
        with _exclusive(self.bronze):
            self._ensure_tables()
            if write_consent_snapshot(self.paths, self.key, self.consent) is not None:
                self.log(
                    f"consent table: {self.consent.height if self.consent is not None else 0} row(s) in bronze"
                )
            files, problems = discover(self.paths.landing, None if days is None else day_list)
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
            table = self.paths.table("bronze", name)
            storage.ensure_table(table, empty.schema, [PARTITION_COLUMN])
            self._ensure_index(contract, table, self.paths.table("bronze", KEY_INDEX_TABLES[name]))
        storage.ensure_table(
            self.quarantine_path,
            cast_to(pl.DataFrame(schema=QUARANTINE_SCHEMA), QUARANTINE_SCHEMA).schema,
            [QUARANTINE_PARTITION],
        )

    def _ensure_index(self, contract: Contract, table: Path, index: Path) -> None:
        """Create the key index; when the table already holds rows (landed before the index
        existed), fill it once from the table so no earlier key is forgotten."""
        if storage.table_exists(index):
            return
        schema = key_index_schema(contract)
        rows = pl.from_arrow(storage.read_table(table, columns=[contract.key, PARTITION_COLUMN]))
        assert isinstance(rows, pl.DataFrame)
        if rows.height == 0:
            storage.ensure_table(index, cast_to(pl.DataFrame(schema=schema), schema).schema)
            return
        self.log(f"building the key index of {table.name} from its {rows.height} rows")
        arrow = cast_to(rows, schema)
        # Written in one go (create + rows) so a half-built index never exists.
        storage.write_partitions(index, arrow, None, commit_metadata={ledger_mod.RUN_KEY: self.run_id})

    # ---- one batch (one commit per table) --------------------------------------------------
    def _land_batch(
        self, batch: list[LandingFile], shas: list[str], report: LandingReport
    ) -> list[FileResult]:
        """Land a batch of files of one source with ONE commit per table, streaming in chunks.

        Files are read one ahead in a thread; their records are processed in chunks of about
        ``chunk_rows`` rows (validate, quarantine, de-duplicate, pseudonymise) and each chunk's
        rows are written as Parquet files that stay invisible until the batch commits. Memory is
        bounded by a chunk plus the file being read, however many files the batch holds.
        """
        contract_name = batch[0].contract
        contract, table_name = TABLES[contract_name]
        table = self.paths.table("bronze", table_name)
        index = self.paths.table("bronze", KEY_INDEX_TABLES[table_name])
        txn = [ledger_mod.txn_id(sha) for sha in shas]

        def committed(path: Path) -> set[int]:
            versions = storage.transaction_versions(path, txn)
            return {i for i, t in enumerate(txn) if versions[t] is not None}

        state = _BatchState(
            table=table,
            index=index,
            results=[FileResult(f, sha, "landed") for f, sha in zip(batch, shas, strict=True)],
            data_done=committed(table),
            quar_done=committed(self.quarantine_path),
            index_done=committed(index),
        )
        if state.data_done or state.quar_done:
            self.log(
                f"recovering {len(state.data_done | state.quar_done)} file(s) committed by a run that did not finish"
            )
        state.index_files = [
            storage.data_file(index, p) for p in storage.active_files(index)["path"].to_pylist()
        ]
        self._restore_index(contract, state)

        pending: list[_Part] = []
        rows = 0
        for i, loaded in _prefetched(batch, lambda f: list(_read_file(f))):
            if isinstance(loaded, Exception):
                # A file that cannot be read (corrupt gzip, a column its mapping needs is missing)
                # is reported and left unlogged for the next run; the others still land.
                state.failed.add(i)
                report.failed.append(f"{batch[i].rel}: {loaded}")
                self.log(f"NOT landed, will be retried: {batch[i].rel}: {loaded}")
                continue
            for chunk in loaded:
                state.results[i].lines_read += chunk.lines_read
                state.results[i].skipped += chunk.skipped
                for part in _slices(chunk, self.chunk_rows):
                    pending.append(_Part(i, part))
                    rows += part.records.height + part.rejected.height
                    if rows >= self.chunk_rows:
                        self._process_chunk(pending, contract, contract_name, batch, state, report)
                        pending, rows = [], 0
            del loaded
        if pending:
            self._process_chunk(pending, contract, contract_name, batch, state, report)
        results = [r for i, r in enumerate(state.results) if i not in state.failed]
        if not results:
            return []
        self._recover_counts(table, self.quarantine_path, state.data_done, state.quar_done, state.results)
        self._commit(state, contract)
        self._log_files(results)
        self.log(
            f"landed batch of {len(results)} {contract_name} file(s): {sum(r.lines_read for r in results)} lines, "
            f"{sum(r.rows_landed for r in results)} landed, {sum(r.rows_quarantined for r in results)} "
            f"quarantined, {sum(r.duplicates for r in results)} duplicates"
        )
        return results

    def _restore_index(self, contract: Contract, state: _BatchState) -> None:
        """Files whose rows a killed run committed to the table but not yet to the key index:
        stage their keys again from the table, so de-duplication sees them in this batch."""
        missing = sorted(state.data_done - state.index_done)
        if not missing:
            return
        rels = [state.results[i].file.rel for i in missing]
        rows = pl.from_arrow(
            storage.read_table(
                state.table, columns=[contract.key, PARTITION_COLUMN], filters=[("_source_file", "in", rels)]
            )
        )
        assert isinstance(rows, pl.DataFrame)
        staged = storage.stage_files(state.index, cast_frame(rows, key_index_schema(contract)))
        state.staged_index += staged
        state.index_files += [str(state.index / f.path) for f in staged]

    def _process_chunk(
        self,
        parts: list[_Part],
        contract: Contract,
        contract_name: str,
        batch: list[LandingFile],
        state: _BatchState,
        report: LandingReport,
    ) -> None:
        """Validate, quarantine, de-duplicate and stage one chunk's rows (no commit here)."""
        results = state.results
        records = [p.chunk.records.with_columns(pl.lit(p.file_idx, pl.Int32).alias(FILE_IDX)) for p in parts]
        raw_all = pl.concat(records, how="diagonal_relaxed") if records else pl.DataFrame()
        if raw_all.height:
            # The raw line only matters for the few invalid records: keep it aside, out of validation.
            raw_text = raw_all.select(FILE_IDX, LINE, RAW)
            checked = _validate(contract, raw_all.drop(RAW))
        else:
            raw_text = pl.DataFrame(schema={FILE_IDX: pl.Int32, LINE: pl.Int64, RAW: pl.String})
            checked = pl.DataFrame()
        del raw_all, records

        # ---- quarantine rows (reader rejects + contract failures)
        quarantine_parts = [
            p.chunk.rejected.with_columns(pl.lit(p.file_idx, pl.Int32).alias(FILE_IDX))
            for p in parts
            if p.chunk.rejected.height
        ]
        if checked.height:
            bad = pl.col(REASONS_COLUMN).list.len() > 0
            invalid = checked.filter(bad)
            if invalid.height:
                invalid = invalid.join(raw_text, on=[FILE_IDX, LINE], how="left").with_columns(
                    pl.col(REASONS_COLUMN).list.join("; ").alias(REASON)
                )
                invalid = scrub_known_values(invalid, [RAW, REASON], _identifiers(batch[0]), self.key)
                quarantine_parts.append(invalid.select(LINE, RAW, REASON, FILE_IDX))
            valid = checked.filter(~bad).drop(REASONS_COLUMN)
        else:
            valid = pl.DataFrame()
        del raw_text, checked
        quarantine = (
            pl.concat(quarantine_parts, how="vertical_relaxed")
            if quarantine_parts
            else pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String, FILE_IDX: pl.Int32})
        )
        if state.quar_done:
            quarantine = quarantine.filter(~pl.col(FILE_IDX).is_in(sorted(state.quar_done)))
        if quarantine.height:
            quarantine = pl.concat(
                [
                    scrub_quarantine(part, batch[int(idx[0])], self.key)
                    for idx, part in quarantine.group_by(FILE_IDX, maintain_order=True)
                ]
            )
            for i, n in quarantine.group_by(FILE_IDX).len().iter_rows():
                results[i].rows_quarantined += int(n)
            q_out = self._quarantine_rows(quarantine, batch)
            state.staged_quarantine += storage.stage_files(
                self.quarantine_path, cast_frame(q_out, QUARANTINE_SCHEMA), [QUARANTINE_PARTITION]
            )
            report.previews.setdefault(QUARANTINE_TABLE, q_out.head(5))

        # ---- de-duplicate and stage the landed rows and their keys
        landed = self._new_rows(valid, contract.key, state)
        if landed.height:
            for i, n in landed.group_by(FILE_IDX).len().iter_rows():
                results[i].rows_landed += int(n)
            out = self._finish_rows(landed, contract_name, batch)
            state.staged_data += storage.stage_files(
                state.table, cast_frame(out, bronze_schema(contract)), [PARTITION_COLUMN]
            )
            report.previews.setdefault(TABLES[contract_name][1], out.drop(FILE_IDX, strict=False).head(5))
            keys = storage.stage_files(
                state.index,
                cast_frame(landed.select(contract.key, PARTITION_COLUMN), key_index_schema(contract)),
            )
            state.staged_index += keys
            state.index_files += [str(state.index / f.path) for f in keys]

    def _seen_keys(self, keys: pl.Series, index_files: list[str]) -> pl.Series:
        """Keys of ``keys`` already landed: a semi-join in DuckDB of the batch's keys against the
        key index (committed files plus the files this batch staged), one narrow column read."""
        if not index_files or keys.len() == 0:
            return pl.Series(keys.name, [], dtype=pl.String)
        con = duckdb.connect()
        try:
            con.register("batch_keys", pl.DataFrame({"k": keys}).to_arrow())
            found = con.sql(
                f'SELECT DISTINCT "{keys.name}" AS k FROM read_parquet($files) '
                f'WHERE "{keys.name}" IN (SELECT k FROM batch_keys)',
                params={"files": index_files},
            ).pl()
        finally:
            con.close()
        return found["k"].cast(pl.String).rename(keys.name)

    def _new_rows(self, valid: pl.DataFrame, key: str, state: _BatchState) -> pl.DataFrame:
        """Valid rows whose key is neither earlier in the batch nor already landed (any date)."""
        if valid.height == 0:
            return valid
        if state.data_done:
            valid = valid.filter(~pl.col(FILE_IDX).is_in(sorted(state.data_done)))
        # "first" = earliest file of the batch, then earliest line (stable for melted records);
        # rows arrive in that order already, so the sort is only a guard that rarely runs.
        order = pl.col(FILE_IDX).cast(pl.Int64) * (1 << 40) + pl.col(LINE)
        if not valid.select((order.diff().fill_null(0) >= 0).all()).item():
            valid = valid.sort([FILE_IDX, LINE], maintain_order=True)
        valid = valid.with_columns(pl.col("occurred_at").dt.date().alias(PARTITION_COLUMN))
        seen = self._seen_keys(valid[key], state.index_files)
        keep = pl.col(key).is_first_distinct() & ~pl.col(key).is_in(seen.implode())
        flagged = valid.with_columns(keep.alias("_keep"))
        for i, n in flagged.filter(~pl.col("_keep")).group_by(FILE_IDX).len().iter_rows():
            state.results[i].duplicates += int(n)
        return flagged.filter(pl.col("_keep")).drop("_keep")

    def _commit(self, state: _BatchState, contract: Contract) -> None:
        """Commits, in this order: data table, quarantine, key index; the ledger comes after.

        Each records an application transaction id per file, so a retry knows what a killed run
        committed; the key index comes after the data so it never names a key whose row is not
        in the table (a retry restores the index of files whose data commit survived).
        """
        results = state.results
        live = state.live()
        pending_data = [i for i in live if i not in state.data_done]
        pending_quar = [i for i in live if i not in state.quar_done]
        pending_index = [i for i in live if i not in state.index_done]
        _pause("before_data_commit")
        if state.staged_data and pending_data:
            meta = ledger_mod.commit_metadata(
                self.run_id,
                {
                    results[i].sha256: {"landed": results[i].rows_landed, "duplicates": results[i].duplicates}
                    for i in pending_data
                },
            )
            version = storage.commit_staged(
                state.table,
                state.staged_data,
                arrow_schema(bronze_schema(contract)),
                [PARTITION_COLUMN],
                commit_metadata=meta,
                transactions=[ledger_mod.txn_id(results[i].sha256) for i in pending_data],
            )
            for i in pending_data:
                results[i].table_version = version
        _pause("after_data_commit")
        if state.staged_quarantine and pending_quar:
            meta = ledger_mod.commit_metadata(
                self.run_id,
                {results[i].sha256: {"quarantined": results[i].rows_quarantined} for i in pending_quar},
            )
            q_version = storage.commit_staged(
                self.quarantine_path,
                state.staged_quarantine,
                arrow_schema(QUARANTINE_SCHEMA),
                [QUARANTINE_PARTITION],
                commit_metadata=meta,
                transactions=[ledger_mod.txn_id(results[i].sha256) for i in pending_quar],
            )
            for i in pending_quar:
                results[i].quarantine_version = q_version
        _pause("after_quarantine_commit")
        if state.staged_index and pending_index:
            storage.commit_staged(
                state.index,
                state.staged_index,
                arrow_schema(key_index_schema(contract)),
                commit_metadata={ledger_mod.RUN_KEY: self.run_id},
                transactions=[ledger_mod.txn_id(results[i].sha256) for i in pending_index],
            )
        for i in live:
            r = results[i]
            self._check_balance(r)
            r.table_version = (
                r.table_version if r.table_version is not None else storage.table_version(state.table)
            )
            r.quarantine_version = (
                r.quarantine_version
                if r.quarantine_version is not None
                else storage.table_version(self.quarantine_path)
            )

    def _finish_rows(self, rows: pl.DataFrame, contract_name: str, batch: list[LandingFile]) -> pl.DataFrame:
        """Consent, pseudonyms and lineage on rows about to be landed."""
        if contract_name == "clickstream":
            rows = apply_consent(rows, self.consent)  # the table withdraws what the banner granted
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
        ).drop(RAW, strict=False)

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


def _as_date(day: dt.date | str) -> dt.date:
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def land(
    paths: DataPaths,
    key: str,
    partition: dt.date | str | Sequence[dt.date | str] | None = None,
    *,
    run_id: str | None = None,
    log: Logger | None = None,
    **kwargs: Any,
) -> LandingReport:
    """Land every pending file (of delivery day ``partition``, or of each day of a sequence of
    days, when given) in one run: one commit per table. Safe to re-run at any time."""
    if partition is None:
        days: Days = None
    elif isinstance(partition, dt.date | str):
        days = _as_date(partition)
    else:
        days = [_as_date(d) for d in partition]
    return Lander(paths, key, run_id=run_id, log=log, **kwargs).land(days)


def report_json(report: LandingReport) -> str:
    """A JSON summary of a run (totals per table, versions), for logs and the CLI."""
    return json.dumps(
        {
            "run_id": report.run_id,
            "partition": report.partition.isoformat() if report.partition else None,
            "days": [d.isoformat() for d in report.days],
            "totals": {t: report.totals(t) for _, t in TABLES.values()},
            "versions": report.versions,
        },
        indent=2,
    )
