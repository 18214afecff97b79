"""The landing ledger (``delta/bronze/_landing_log``): which file contents were landed, and how.

The ledger row of a file is committed only AFTER its rows are committed to the bronze table
and to quarantine, so "in the ledger" means "completely landed". A run killed between the data
commit and the ledger commit leaves the file out of the ledger; the retry then finds the data
commit by its application transaction id (``beacon-landing:<sha256>``, recorded atomically
with the data) and reads the file's counts from that commit's metadata instead of writing
its rows again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse import storage
from lakehouse.landing.schemas import LEDGER_SCHEMA, cast_to

RUN_KEY = "beacon.landing_run_id"
FILES_KEY = "beacon.landing_files"


def txn_id(sha256: str) -> str:
    """Application transaction id marking that a file's rows are committed to a table."""
    return f"beacon-landing:{sha256}"


def read_ledger(path: Path) -> pl.DataFrame:
    """The whole ledger (one small row per landed file), empty with the schema when none yet."""
    return storage.read_frame(path, LEDGER_SCHEMA)


def append_ledger(path: Path, rows: pl.DataFrame, run_id: str) -> int:
    return storage.write_partitions(
        path, cast_to(rows, LEDGER_SCHEMA), None, commit_metadata={RUN_KEY: run_id}
    )


def commit_metadata(run_id: str, per_file: dict[str, dict[str, int]]) -> dict[str, str]:
    return {RUN_KEY: run_id, FILES_KEY: json.dumps(per_file, sort_keys=True)}


def committed_counts(table: Path, sha256s: set[str]) -> dict[str, dict[str, Any]]:
    """Counts recorded in the commit metadata of ``table`` for files already committed there.

    Only called for files a retry finds committed but not logged, so reading the history (newest
    first) is rare and stops as soon as every file is found.
    """
    wanted = set(sha256s)
    found: dict[str, dict[str, Any]] = {}
    for commit in storage.history(table):
        raw = commit.get(FILES_KEY)
        if not raw:
            continue
        per_file = json.loads(raw)
        for sha in wanted & per_file.keys():
            found[sha] = {**per_file[sha], "version": int(commit["version"])}
        wanted -= found.keys()
        if not wanted:
            break
    if wanted:
        raise RuntimeError(
            f"{table}: transaction ids say files {sorted(wanted)} were committed but no commit carries "
            "their counts; the table history was truncated (log cleanup) before the ledger caught up. "
            "Land those files again after checking their rows with their _source_file lineage."
        )
    return found
