"""The published file opens in DuckDB 1.x (what the CLI and BI drivers still ship), for real.

A separate venv with ``duckdb==1.4.*`` is created once with uv and cached outside the repository
(``$BEACON_DUCKDB1_VENV`` or ``~/.cache/beacon/duckdb1-venv``); the file is read from that
interpreter in a subprocess.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.publish import publish_marts

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
READ_ALL = Path(__file__).with_name("duckdb1_read_all.py")
DUCKDB1_SPEC = "duckdb==1.4.*"


def _venv_dir() -> Path:
    raw = os.environ.get("BEACON_DUCKDB1_VENV")
    return Path(raw) if raw else Path.home() / ".cache" / "beacon" / "duckdb1-venv"


def _uv() -> str | None:
    """uv on PATH, else the one ``make install`` keeps in the repository's ``.venv-tools``."""
    tools = REPO / ".venv-tools" / "bin" / "uv"
    return shutil.which("uv") or (str(tools) if tools.is_file() else None)


def _duckdb_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


@pytest.fixture(scope="session")
def duckdb1_python() -> Path:
    """The interpreter of a cached venv holding DuckDB 1.x (created on first use, ~1 s with a warm uv cache)."""
    uv = _uv()
    if uv is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "uv not found on PATH nor in .venv-tools/bin: run `make install` (CI must not skip this)"
            )
        pytest.skip("uv is needed to create the DuckDB 1.x venv (`make install` puts it in .venv-tools/bin)")
    venv = _venv_dir()
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test sessions build it once
        version = _duckdb_version(python)
        if version is None or not version.startswith("1."):
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run(
                [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=300
            )
            subprocess.run(
                [uv, "pip", "install", "--quiet", "--python", str(python), DUCKDB1_SPEC],
                check=True,
                timeout=600,
            )
            version = _duckdb_version(python)
    assert version is not None and version.startswith("1."), version
    return python


def _read_with_duckdb1(python: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), str(READ_ALL), str(db)], capture_output=True, text=True, timeout=120)


def test_duckdb_1x_reads_every_published_table(duckdb1_python: Path, build_db, published_db: Path) -> None:
    build = build_db(
        "v1-compat",
        rows=50_000,
        extra_sql=(
            "CREATE TABLE marts.fct_precise AS SELECT TIMESTAMPTZ '2026-01-05 10:00:00.123456+00'::TIMESTAMPTZ_NS AS ts,"
            " [TIME '10:00:00'::TIME_NS] AS times, 'x' AS run_tag",
        ),
    )
    result = publish_marts(build, published_db, schemas=("marts", "scores"), run_id="v1-compat")

    proc = _read_with_duckdb1(duckdb1_python, published_db)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["version"].startswith("1.4.")
    expected = {**result.row_counts, "_beacon.publication": len(result.tables)}
    assert {t: v["rows"] for t, v in seen["tables"].items()} == expected
    assert all(v["fetched"] == v["rows"] for v in seen["tables"].values())
    assert {f"{s}.{t}": n for _run, s, t, n, _src in seen["publication"]} == dict(result.row_counts)
    assert {f"{s}.{t}": f"{src}.{t}" for _run, s, t, _n, src in seen["publication"]} == dict(
        result.source_tables
    )
    assert seen["bi_counts"] == {"fct_events": 50_000, "main.fct_events": 50_000, "marts.fct_events": 50_000}
    assert {r[0] for r in seen["publication"]} == {"v1-compat"}
    assert seen["fct_precise_epoch_us"] == 1767607200123456
    assert seen["fct_events_amount"] == pytest.approx(sum((i % 13) * 1.5 for i in range(50_000)))


def test_control_default_2_0_format_is_refused_by_duckdb_1x(
    duckdb1_python: Path, build_db, published_db: Path
) -> None:
    """Proves the test above can fail: the same publication in DuckDB 2.0's own format does not open."""
    publish_marts(build_db("v2-format"), published_db, storage_version="v2.0.0")
    proc = _read_with_duckdb1(duckdb1_python, published_db)
    assert proc.returncode != 0
    assert "version number" in proc.stderr
