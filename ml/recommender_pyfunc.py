"""The recommender as an MLflow pyfunc: any serving tool can load ``models:/beacon_recommender@champion``.

The registered artifact holds item-side state only (see :mod:`ml.recommenders`), so the caller
sends each user's history with the request. Input: a long DataFrame, one row per interaction,

* ``user_id`` (required): the user to recommend for;
* ``item_id``, ``weight``, ``purchased``: one past interaction (``item_id`` null for a user with
  no history: a cold-start row); ``weight`` defaults to 1 and ``purchased`` to false;
* ``personalise`` (optional bool): False for users without personalisation consent.

Params: ``k`` (default 10) and ``exclude`` (``non_rebuyable``, ``owned`` or ``none``).
Output: ``user_id, item_id, rank, score, source`` (long format), one block per distinct user.
"""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import polars as pl

from ml.interactions import BOUGHT, ITEM, TS, USER, WEIGHT
from ml.recommenders import Recommender

ARTIFACT = "recommender"
DEFAULT_PARAMS: dict[str, Any] = {"k": 10, "exclude": "non_rebuyable"}
#: Columns of the request frame, in order (see the module docstring).
INPUT_COLUMNS = (USER, ITEM, WEIGHT, BOUGHT, "personalise")


def request_frame(
    history: pl.DataFrame, users: pl.Series | None = None, personalise: pl.DataFrame | None = None
) -> pd.DataFrame:
    """The pyfunc input for ``users`` (default: every user in ``history``) from canonical interactions.

    Users without history get one row with a null ``item_id``. ``personalise``: optional frame
    ``user_id, personalise``.
    """
    users = history.get_column(USER).unique().sort() if users is None else users.cast(pl.String)
    wanted = pl.DataFrame({USER: users})
    rows = history.join(wanted, on=USER, how="semi").select(
        USER, ITEM, pl.col(WEIGHT).cast(pl.Float64), pl.col(BOUGHT).cast(pl.Boolean)
    )
    cold = wanted.join(rows, on=USER, how="anti").with_columns(
        pl.lit(None, pl.String).alias(ITEM),
        pl.lit(None, pl.Float64).alias(WEIGHT),
        pl.lit(None, pl.Boolean).alias(BOUGHT),
    )
    frame = pl.concat([rows, cold], how="vertical")
    consent = personalise if personalise is not None else wanted.with_columns(personalise=pl.lit(True))
    frame = frame.join(consent.select(USER, "personalise"), on=USER, how="left").with_columns(
        pl.col("personalise").fill_null(True)
    )
    return frame.select(INPUT_COLUMNS).to_pandas()


def parse_request(
    model_input: pd.DataFrame | pl.DataFrame,
) -> tuple[pl.Series, pl.DataFrame, pl.Series | None]:
    """(users in request order, canonical history, per-user personalise flags or None)."""
    frame = (
        pl.from_pandas(model_input) if isinstance(model_input, pd.DataFrame) else pl.DataFrame(model_input)
    )
    frame = frame.with_columns(pl.col(USER).cast(pl.String))
    users = frame.get_column(USER).unique(maintain_order=True)
    history = frame.filter(pl.col(ITEM).is_not_null()) if ITEM in frame.columns else frame.clear()
    history = history.select(
        USER,
        pl.col(ITEM).cast(pl.String) if ITEM in frame.columns else pl.lit(None, pl.String).alias(ITEM),
        (
            pl.col(WEIGHT).cast(pl.Float32).fill_null(1.0)
            if WEIGHT in frame.columns
            else pl.lit(1.0, pl.Float32)
        ).alias(WEIGHT),
        pl.lit(dt.datetime(1970, 1, 1), pl.Datetime("us")).alias(TS),  # not used when scoring
        (
            pl.col(BOUGHT).cast(pl.Boolean).fill_null(False) if BOUGHT in frame.columns else pl.lit(False)
        ).alias(BOUGHT),
    )
    consent = None
    if "personalise" in frame.columns:
        flags = frame.group_by(USER, maintain_order=True).agg(pl.col("personalise").cast(pl.Boolean).first())
        consent = (
            pl.DataFrame({USER: users})
            .join(flags, on=USER, how="left", maintain_order="left")
            .get_column("personalise")
        )
    return users, history, consent


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """Loads the pickled item-side :class:`ml.recommenders.Recommender` and calls ``recommend``."""

    def load_context(self, context: Any) -> None:
        with Path(context.artifacts[ARTIFACT]).open("rb") as fh:
            self.recommender: Recommender = pickle.load(fh)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        opts = {**DEFAULT_PARAMS, **(params or {})}
        users, history, personalise = parse_request(model_input)
        recs = self.recommender.recommend(
            users,
            k=int(opts["k"]),
            history=history,
            exclude=str(opts["exclude"]),  # type: ignore[arg-type]
            personalise=personalise,
        )
        return recs.to_pandas()


def save_recommender(recommender: Recommender, folder: Path) -> Path:
    """Pickle the fitted recommender's item-side state (no user data: see ``Recommender.__getstate__``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recommender.pkl"
    with path.open("wb") as fh:
        pickle.dump(recommender, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path
