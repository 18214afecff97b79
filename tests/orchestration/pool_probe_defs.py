"""A small job for the executor test: DuckDB writers in Beacon's pool beside steps outside it.

Lives in its own module so the multiprocess executor can re-import the job in each step process
(``dg.reconstructable``). Each writer holds a write connection to the SAME DuckDB file for a while:
two at once from different processes would fail on DuckDB's file lock, so a passing run shows the
pool serialised them; the other steps only record when they ran.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.resources import DUCKDB_POOL

HOLD_SECONDS = 1.5


def _record(kind: str, name: str, start: float) -> None:
    out = Path(os.environ["POOL_PROBE_DIR"]) / f"{name}.json"
    out.write_text(
        json.dumps({"kind": kind, "name": name, "pid": os.getpid(), "start": start, "end": time.time()})
    )


def _writer(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, pool=DUCKDB_POOL, kinds={"duckdb"})
    def write() -> None:
        start = time.time()
        con = duckdb.connect(str(Path(os.environ["POOL_PROBE_DIR"]) / "probe.duckdb"))
        try:
            con.execute("create table if not exists writes (name varchar, pid integer)")
            con.execute("insert into writes values (?, ?)", [name, os.getpid()])
            time.sleep(HOLD_SECONDS)
        finally:
            con.close()
        _record("writer", name, start)

    return write


def _free(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, kinds={"python"})
    def free() -> None:
        start = time.time()
        time.sleep(HOLD_SECONDS)
        _record("free", name, start)

    return free


WRITERS = [_writer(f"writer_{i}") for i in range(2)]
FREE = [_free(f"free_{i}") for i in range(1)]

probe_job = dg.define_asset_job(
    "pool_probe_job",
    selection=dg.AssetSelection.assets(*WRITERS, *FREE),
    executor_def=dg.multiprocess_executor.configured({"max_concurrent": 4}),
)

defs = dg.Definitions(assets=[*WRITERS, *FREE], jobs=[probe_job])


def get_probe_job() -> dg.JobDefinition:
    """The resolved job (reconstructable entry point for the step processes)."""
    return defs.resolve_job_def("pool_probe_job")
