"""The privacy budget ledger: every differentially private release is recorded, and refused once spent.

Privacy loss adds up (sequential composition): releasing the same data twice at epsilon 1 is a
release at epsilon 2. So each release charges its epsilon, per metric, to a Delta table
(``delta/privacy/dp_budget_ledger``) BEFORE anything is computed or published, and a charge that
would take the scope's total over its configured budget is refused with
:class:`BudgetExhausted`. A release that fails after its charge keeps the charge (the noise may
already have been drawn): the ledger errs on the side of privacy.

A *scope* is the data a budget protects (default ``public_metrics``). A new scope (a new budget)
is only honest for data about other people or other periods; reusing a scope name after a reset
would defeat the ledger, which is why there is no reset function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.locks import file_lock

LEDGER_LAYER = "privacy"
LEDGER_TABLE = "dp_budget_ledger"
LEDGER_SCHEMA = pl.Schema(
    {
        "release_id": pl.String(),
        "scope": pl.String(),
        "metric": pl.String(),
        "epsilon": pl.Float64(),
        "mechanism": pl.String(),
        "sensitivity": pl.Float64(),
        "scale": pl.Float64(),
        "window_start": pl.Date(),
        "window_end": pl.Date(),
        "charged_at": pl.Datetime("us", "UTC"),
    }
)


class BudgetExhausted(RuntimeError):
    """The release would spend more epsilon than the scope has left; nothing was charged."""


@dataclass(frozen=True)
class Charge:
    """The privacy loss of one released metric."""

    metric: str
    epsilon: float
    mechanism: str
    sensitivity: float
    scale: float


def ledger_path(paths: DataPaths) -> Path:
    return paths.table(LEDGER_LAYER, LEDGER_TABLE)


def read_ledger(paths: DataPaths) -> pl.DataFrame:
    """Every charge ever made (empty with the schema when none)."""
    return storage.read_frame(ledger_path(paths), LEDGER_SCHEMA)


def spent(paths: DataPaths, scope: str) -> float:
    """Epsilon already spent in ``scope``."""
    ledger = read_ledger(paths)
    return float(ledger.filter(pl.col("scope") == scope)["epsilon"].sum() or 0.0)


@contextmanager
def _locked(paths: DataPaths) -> Iterator[None]:
    """Check-then-charge must not race another release (a second process could overspend)."""
    with file_lock(paths.delta / LEDGER_LAYER / ".dp_budget.lock"):
        yield


def charge(
    paths: DataPaths,
    scope: str,
    total_epsilon: float,
    release_id: str,
    charges: Sequence[Charge],
    window: tuple[dt.date, dt.date],
) -> float:
    """Record ``charges`` for one release, or refuse; returns the epsilon left after it."""
    cost = sum(c.epsilon for c in charges)
    if cost <= 0:
        raise ValueError("a release must spend a positive epsilon")
    with _locked(paths):
        used = spent(paths, scope)
        if used + cost > total_epsilon + 1e-12:
            raise BudgetExhausted(
                f"privacy budget of scope {scope!r} exhausted: {used:.4g} of {total_epsilon:.4g} spent, "
                f"this release needs {cost:.4g}. Nothing was released. Raise the budget only after a "
                "privacy review; the published public tables stay as last released."
            )
        now = dt.datetime.now(dt.UTC)
        rows = pl.DataFrame(
            {
                "release_id": [release_id] * len(charges),
                "scope": [scope] * len(charges),
                "metric": [c.metric for c in charges],
                "epsilon": [c.epsilon for c in charges],
                "mechanism": [c.mechanism for c in charges],
                "sensitivity": [c.sensitivity for c in charges],
                "scale": [c.scale for c in charges],
                "window_start": [window[0]] * len(charges),
                "window_end": [window[1]] * len(charges),
                "charged_at": [now] * len(charges),
            },
            schema=LEDGER_SCHEMA,
        )
        storage.write_partitions(ledger_path(paths), rows, None)
        return total_epsilon - used - cost
