"""Render Beacon's dashboards in headless Debian Chromium and save one PNG each.

The browser work is ``screenshot.cjs`` (playwright-core, installed into the cache at a pinned
version); this module prepares its job file, runs it with ``node`` and returns what it saw, so a
caller (the CLI, the BI test) can fail on any chart that shows an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lakehouse.bi.install import ensure_playwright_core, require_chromium
from lakehouse.bi.settings import BISettings
from lakehouse.bi.specs import DashboardSpec

SCRIPT = Path(__file__).resolve().parent / "screenshot.cjs"


@dataclass(frozen=True)
class DashboardShot:
    slug: str
    file: Path
    charts_rendered: int
    data_requests: int
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ScreenshotRun:
    shots: tuple[DashboardShot, ...]
    blocked_requests: tuple[str, ...]  # requests to other hosts that the browser aborted

    @property
    def errors(self) -> list[str]:
        return [f"{s.slug}: {e}" for s in self.shots for e in s.errors]


def screenshot_dashboards(
    settings: BISettings, specs: list[DashboardSpec], out_dir: Path, *, timeout_s: float = 120.0
) -> ScreenshotRun:
    """One full-page PNG per dashboard in ``out_dir`` (``<slug>.png``), with the errors each showed."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found: apt-get install -y nodejs npm")
    require_chromium()
    prefix = ensure_playwright_core(settings.cache_dir)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    job = {
        "baseUrl": settings.url,
        "username": settings.admin_user,
        "password": settings.admin_password,
        "outDir": str(out_dir),
        "timeoutMs": int(timeout_s * 1000),
        "dashboards": [{"slug": s.slug, "charts": len(s.charts)} for s in specs],
    }
    with tempfile.TemporaryDirectory(prefix="beacon-shot-") as tmp:
        job_file = Path(tmp) / "job.json"
        fd = os.open(job_file, os.O_WRONLY | os.O_CREAT, 0o600)  # holds the password
        with os.fdopen(fd, "w") as f:
            json.dump(job, f)
        env = {**os.environ, "NODE_PATH": str(prefix / "node_modules")}
        done = subprocess.run(
            [node, str(SCRIPT), str(job_file)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s * (len(specs) + 2),
        )
    if done.returncode != 0:
        raise RuntimeError(f"screenshot.cjs failed (exit {done.returncode}): {done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shots = tuple(
        DashboardShot(
            d["slug"], Path(d["file"]), int(d["chartsRendered"]), int(d["dataRequests"]), tuple(d["errors"])
        )
        for d in result["dashboards"]
    )
    return ScreenshotRun(shots, tuple(result["blocked"]))
