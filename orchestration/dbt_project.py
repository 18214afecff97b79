"""Beacon's one dbt project as Dagster sees it, with a manifest that is always present and fresh.

Dagster builds the dbt asset graph from ``target/manifest.json`` at import time. A fresh clone has
no manifest, and a stale one silently hides models added since (the smart-home models land in the
same project), so :func:`ensure_manifest` runs ``dbt parse`` (local, no network, no database) when
the manifest is missing or older than any project file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from lakehouse.config import PROJECT_ROOT, data_dir
from lakehouse.engine import EngineName
from lakehouse.locks import file_lock

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
_WATCHED = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


#: The command that runs dbt for each engine: plain dbt on DuckDB; on Spark the wrapper that runs
#: dbt inside a Spark session with the bronze views registered (lakehouse/spark/dbt_cli.py).
DBT_COMMANDS: dict[EngineName, str] = {"duckdb": "dbt", "spark": "beacon-dbt-spark"}


def dbt_executable(name: EngineName = "duckdb") -> str:
    """The dbt command of ``name``'s engine in this virtualenv, found without relying on PATH.

    ``dagster dev`` starts code servers with the venv's interpreter but not the venv's PATH, and
    ``sys.executable`` may then be the resolved base interpreter: the venv's prefix is the
    reliable place, the interpreter's folder and PATH the fallbacks.
    """
    command = DBT_COMMANDS[name]
    for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
        if (folder / command).exists():
            return str(folder / command)
    return shutil.which(command) or command


def dbt_env(root: Path | None = None) -> dict[str, str]:
    """The environment dbt runs with: BEACON_DATA_DIR always set (the profile needs it)."""
    env = os.environ.copy()
    env["BEACON_DATA_DIR"] = str(root if root is not None else data_dir())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _WATCHED:
        path = project_dir / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for file in path.rglob("*"):
                if file.suffix in {".sql", ".yml", ".yaml", ".csv", ".md"}:
                    newest = max(newest, file.stat().st_mtime)
    return newest


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    manifest = project_dir / "target" / "manifest.json"
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project_dir)


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run ``dbt parse`` if the manifest is missing or stale; return the manifest path.

    Processes that start together (pytest-xdist workers, a code server and its run workers) all
    find a fresh clone without a manifest. Parsing at once, they wrote ``target/manifest.json``
    concurrently and left a corrupt file that every later import failed on (it was newer than the
    sources, so nothing re-parsed it). So one process parses at a time (a file lock; the others
    find the manifest fresh once they get the lock), into a private target path, and the result
    is moved into place atomically: a reader sees the old manifest or the new one, never a part.
    """
    manifest = project_dir / "target" / "manifest.json"
    if not manifest_is_stale(project_dir):
        return manifest
    with file_lock(manifest.parent / ".manifest.lock"):
        if not manifest_is_stale(project_dir):
            return manifest
        private = Path(tempfile.mkdtemp(prefix=".parse-", dir=manifest.parent))
        try:
            result = subprocess.run(
                [
                    dbt_executable(),
                    "parse",
                    "--quiet",
                    "--project-dir",
                    str(project_dir),
                    "--profiles-dir",
                    str(project_dir),
                    "--target-path",
                    str(private),
                ],
                cwd=project_dir,
                env=dbt_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            parsed = private / "manifest.json"
            if result.returncode != 0 or not parsed.exists():
                raise RuntimeError(f"dbt parse failed:\n{result.stdout}\n{result.stderr}")
            os.replace(parsed, manifest)
        finally:
            shutil.rmtree(private, ignore_errors=True)
    return manifest


def beacon_dbt_project() -> DbtProject:
    """The DbtProject with a fresh manifest (parsed here if needed, never downloaded)."""
    # ensure_manifest re-parses whenever a project file is newer than the manifest, with the dbt
    # of this venv. DbtProject.prepare_if_dev() is not used: under `dagster dev` it runs a `dbt`
    # looked up on PATH, which a code server started from the venv's interpreter does not have.
    ensure_manifest(DBT_PROJECT_DIR)
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def generate_docs(root: Path | None = None) -> Path:
    """``dbt docs generate`` into ``<BEACON_DATA_DIR>/dbt_docs`` (static site: index.html + JSON).

    Needs the build DuckDB (run after a build) for the catalog; returns the docs folder.
    """
    from orchestration.dbt_args import docs_args

    base = Path(root) if root is not None else data_dir()
    out = base / "dbt_docs"
    (base / "build").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            dbt_executable(),
            *docs_args(str(out)),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ],
        cwd=DBT_PROJECT_DIR,
        env=dbt_env(base),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not (out / "index.html").exists():
        raise RuntimeError(f"dbt docs generate failed:\n{result.stdout}\n{result.stderr}")
    return out
