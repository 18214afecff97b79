"""Dagster spreads steps over worker processes while the DuckDB writers stay one at a time.

Real multiprocess executor, a real instance with Beacon's own ``dagster.yaml`` (pool limit), real
DuckDB writes to one file from separate step processes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.demo import DAGSTER_YAML

sys.path.insert(0, str(Path(__file__).parent))


def _run(tmp_path: Path, dagster_yaml: str) -> tuple[bool, list[dict]]:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml)
    probe = tmp_path / "probe"
    probe.mkdir()
    os.environ["POOL_PROBE_DIR"] = str(probe)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            job = dg.reconstructable(_probe_job)
            result = dg.execute_job(job, instance=instance)
            success = result.success
    finally:
        os.environ.pop("POOL_PROBE_DIR", None)
    records = [json.loads(p.read_text()) for p in sorted(probe.glob("*.json"))]
    return success, records


def _probe_job() -> dg.JobDefinition:
    from pool_probe_defs import get_probe_job

    return get_probe_job()


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


@pytest.mark.slow
def test_multiprocess_executor_serialises_duckdb_writers(tmp_path: Path) -> None:
    success, records = _run(tmp_path, DAGSTER_YAML)
    assert success
    writers = [r for r in records if r["kind"] == "writer"]
    free = [r for r in records if r["kind"] == "free"]
    assert len(writers) == 2 and len(free) == 1
    # Steps ran in worker processes, not in the test process.
    assert os.getpid() not in {r["pid"] for r in records}
    assert len({r["pid"] for r in records}) == 3
    # The pool: no two writers overlapped in time...
    for i, a in enumerate(writers):
        for b in writers[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    # ...while the executor did run steps in parallel.
    assert any(_overlap(a, b) for a in records for b in records if a is not b)
    rows = (
        duckdb.connect(str(tmp_path / "probe" / "probe.duckdb"), read_only=True)
        .execute("select count(*) from writes")
        .fetchone()
    )
    assert rows == (2,)


@pytest.mark.slow
def test_without_the_pool_limit_writers_run_together(tmp_path: Path) -> None:
    """The failure path: an instance without Beacon's pool limit lets writers overlap."""
    success, records = _run(tmp_path, "telemetry:\n  enabled: false\n")
    writers = [r for r in records if r["kind"] == "writer"]
    overlapping = any(_overlap(a, b) for i, a in enumerate(writers) for b in writers[i + 1 :])
    # Concurrent DuckDB writers from different processes collide on the file lock (failed run),
    # or, if they happened to finish in turn, they overlapped in time: either way not serialised.
    assert overlapping or not success
