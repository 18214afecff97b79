"""GX contexts shared by the whole test session (importing GX and creating contexts is the slow part)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # quality_fixtures


@pytest.fixture(scope="session")
def gx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root whose ``gx/`` holds the session's GX file context and Data Docs."""
    return tmp_path_factory.mktemp("quality") / "data"


@pytest.fixture(scope="session")
def qc():  # -> expectations.runner.QualityContext
    """An ephemeral GX context: in memory, no Data Docs, about twice as fast per validation."""
    from expectations.runner import quality_context

    return quality_context(None)


@pytest.fixture(scope="session")
def qc_docs(gx_root: Path):  # -> expectations.runner.QualityContext
    """A file context under ``<gx_root>/gx`` as production uses it (stores and Data Docs site)."""
    from expectations.runner import quality_context

    return quality_context(gx_root / "gx")
