"""Importing the suites and the Dagster checks must not import Great Expectations (seconds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_quality_modules_does_not_import_gx() -> None:
    code = (
        "import sys\n"
        "import expectations, expectations.bronze, expectations.marts, expectations.distribution\n"
        "import expectations.landing_ledger, expectations.suites, expectations.docs, expectations.runner\n"
        "import orchestration.assets.quality as q\n"
        "assert q.defs.asset_checks, 'no checks defined'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'great_expectations'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
