"""One generated data set shared by the generator tests (generating it is the slow part)."""

from __future__ import annotations

import json

import pytest
from generator_helpers import (
    DAYS,
    HOMES,
    SEED,
    START,
    USERS,
    Generated,
    parse_events,
    read_event_lines,
    read_readings,
)

from lakehouse.generator import generate


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("generated")
    summary = generate(
        out=root / "landing",
        truth=root / "truth",
        users=USERS,
        homes=HOMES,
        days=DAYS,
        start=START,
        seed=SEED,
    )
    lines = read_event_lines(root / "landing")
    events, bad = parse_events(lines)
    return Generated(
        summary=summary,
        landing=root / "landing",
        truth=root / "truth",
        manifest=json.loads((root / "truth" / "manifest.json").read_text()),
        raw_lines=lines,
        events=events,
        unparseable=bad,
        readings=read_readings(root / "landing"),
    )
