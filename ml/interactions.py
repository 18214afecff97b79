"""Interactions: the one table every recommender eats (user, item, weight, timestamp).

Anything tabular is accepted (polars, pandas, Arrow) and renamed to canonical columns once, so
the models, the evaluation and the benchmarks never care where the data came from. The sparse
user x item matrix is built here too, with the index maps that turn rows back into ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

if TYPE_CHECKING:  # scipy is imported where a matrix is built: the id/column helpers stay light
    import scipy.sparse as sp

USER, ITEM, WEIGHT, TS, BOUGHT = "user_id", "item_id", "weight", "occurred_at", "purchased"


def as_polars(table: Any) -> pl.DataFrame:
    """A polars DataFrame from polars (eager or lazy), pandas or Arrow input."""
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pa.Table | pa.RecordBatch):
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        return out
    if hasattr(table, "to_arrow") and not hasattr(table, "iloc"):
        return as_polars(table.to_arrow())
    try:
        return pl.from_pandas(table)
    except Exception as exc:  # pragma: no cover - message path
        raise TypeError(f"expected a polars, pandas or Arrow table, got {type(table).__name__}") from exc


def normalise_interactions(
    table: Any,
    *,
    user: str = USER,
    item: str = ITEM,
    weight: str | None = WEIGHT,
    timestamp: str = TS,
    purchased: str | None = BOUGHT,
) -> pl.DataFrame:
    """Canonical interactions: ``user_id``, ``item_id`` (str), ``weight`` (f32 > 0), ``occurred_at``, ``purchased``.

    ``weight`` defaults to 1 per row when the column is absent; ``purchased`` (did this row buy
    the item?) defaults to true, i.e. every interaction counts as owning the item, which is the
    conservative choice for "don't recommend what they already have".
    """
    frame = as_polars(table)
    missing = [c for c in (user, item, timestamp) if c not in frame.columns]
    if missing:
        raise ValueError(f"interactions need columns {missing}; got {frame.columns}")
    ts = pl.col(timestamp)
    ts_dtype = frame.schema[timestamp]
    if ts_dtype == pl.Date:
        ts = ts.cast(pl.Datetime("us"))
    elif isinstance(ts_dtype, pl.Datetime) and ts_dtype.time_zone is not None:
        ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    w = pl.col(weight).cast(pl.Float32) if weight and weight in frame.columns else pl.lit(1.0, pl.Float32)
    b = pl.col(purchased).cast(pl.Boolean) if purchased and purchased in frame.columns else pl.lit(True)
    return (
        frame.select(
            pl.col(user).cast(pl.String).alias(USER),
            pl.col(item).cast(pl.String).alias(ITEM),
            w.alias(WEIGHT),
            ts.cast(pl.Datetime("us")).alias(TS),
            b.alias(BOUGHT),
        )
        .drop_nulls([USER, ITEM, TS])
        .filter(pl.col(WEIGHT) > 0)
    )


@dataclass(frozen=True)
class Split:
    """A three-way temporal split: train < ``validation_start`` <= validation < ``test_start`` <= test.

    * ``train`` is what candidate hyper-parameters are fitted on;
    * ``validation`` is the only data any choice (hyper-parameters, early stopping, which model
      to register) may look at;
    * ``test`` (the last days) is touched once, for the reported figures, by models fitted on
      ``train + validation`` (:attr:`history`) with choices already fixed.
    """

    train: pl.DataFrame
    validation: pl.DataFrame
    test: pl.DataFrame
    validation_start: dt.datetime
    test_start: dt.datetime

    @property
    def history(self) -> pl.DataFrame:
        """Everything before the test period (train + validation): what test-time models are fitted on."""
        return pl.concat([self.train, self.validation], how="vertical")

    @property
    def cutoff(self) -> dt.datetime:
        """The test cutoff (start of the held-out test days)."""
        return self.test_start


def temporal_split(interactions: pl.DataFrame, test_days: int = 7, validation_days: int = 7) -> Split:
    """Hold out the last ``test_days`` days as test and the ``validation_days`` before them as validation.

    Half-open windows: test is ``>= test_start``, validation ``>= validation_start`` and
    ``< test_start``. Temporal, not random, because a recommender is used to predict what happens
    next; random splits leak the future into training and flatter every model. Three parts, not
    two, because a figure measured on the data that picked the hyper-parameters is optimistic.
    ``validation_days=0`` gives a plain train/test split (no choices to make).
    """
    if test_days <= 0:
        raise ValueError("test_days must be positive")
    if validation_days < 0:
        raise ValueError("validation_days must be >= 0")
    end = interactions.get_column(TS).max()
    if end is None:
        raise ValueError("no interactions to split")
    assert isinstance(end, dt.datetime)
    test_start = end - dt.timedelta(days=test_days)
    validation_start = test_start - dt.timedelta(days=validation_days)
    ts = pl.col(TS)
    return Split(
        train=interactions.filter(ts < validation_start),
        validation=interactions.filter((ts >= validation_start) & (ts < test_start)),
        test=interactions.filter(ts >= test_start),
        validation_start=validation_start,
        test_start=test_start,
    )


@dataclass(frozen=True)
class Matrix:
    """A sparse user x item matrix (CSR, float32) with the ids of its rows and columns."""

    matrix: sp.csr_matrix
    users: pl.Series  # row index -> user_id
    items: pl.Series  # column index -> item_id


def encode(interactions: pl.DataFrame) -> tuple[pl.Series, pl.Series, np.ndarray, np.ndarray]:
    """Sorted distinct users and items, and each row's (user, item) codes.

    One hash join per id column, no group-by over (user, item) pairs: scipy sums duplicate
    pairs while building the CSR matrix, which keeps Beacon's fit close to a bare ``implicit`` fit.
    """
    users = interactions.get_column(USER).unique().sort()
    items = interactions.get_column(ITEM).unique().sort()
    codes = (
        interactions.select(USER, ITEM)
        .join(
            pl.DataFrame({USER: users, "_u": np.arange(len(users), dtype=np.int32)}),
            on=USER,
            how="left",
            maintain_order="left",
        )
        .join(
            pl.DataFrame({ITEM: items, "_i": np.arange(len(items), dtype=np.int32)}),
            on=ITEM,
            how="left",
            maintain_order="left",
        )
    )
    return users, items, codes.get_column("_u").to_numpy(), codes.get_column("_i").to_numpy()


def build_matrix(interactions: pl.DataFrame) -> Matrix:
    """Sum weights per (user, item) into a CSR matrix; ids are sorted so the layout is reproducible."""
    users, items, u, i = encode(interactions)
    return matrix_from_codes(interactions, users, items, u, i)


def matrix_from_codes(
    interactions: pl.DataFrame, users: pl.Series, items: pl.Series, u: np.ndarray, i: np.ndarray
) -> Matrix:
    """CSR from codes; scipy sums duplicate (user, item) entries while converting from COO."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(
        (interactions.get_column(WEIGHT).to_numpy().astype(np.float32), (u, i)),
        shape=(len(users), len(items)),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return Matrix(matrix=matrix, users=users, items=items)
