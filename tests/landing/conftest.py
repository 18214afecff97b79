"""Fixtures of the landing tests; file builders live in landing_files.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def landing(data_dir: Path) -> Path:
    root = data_dir / "landing"
    root.mkdir()
    return root
