"""The recommender as an MLflow pyfunc: any serving tool can load ``models:/beacon_recommender@champion``.

Input: a DataFrame with ``user_id`` (and optionally ``personalise`` bool, False for users without
personalisation consent). Params: ``k`` (default 10) and ``exclude`` (``non_rebuyable``,
``owned`` or ``none``). Output: ``user_id, item_id, rank, score, source`` (long format).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import polars as pl

from ml.recommenders import Recommender

ARTIFACT = "recommender"
DEFAULT_PARAMS: dict[str, Any] = {"k": 10, "exclude": "non_rebuyable"}


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """Loads the pickled :class:`ml.recommenders.Recommender` and calls ``recommend``."""

    def load_context(self, context: Any) -> None:
        with Path(context.artifacts[ARTIFACT]).open("rb") as fh:
            self.recommender: Recommender = pickle.load(fh)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        opts = {**DEFAULT_PARAMS, **(params or {})}
        frame = (
            pl.from_pandas(model_input)
            if isinstance(model_input, pd.DataFrame)
            else pl.DataFrame(model_input)
        )
        personalise = frame.get_column("personalise") if "personalise" in frame.columns else None
        recs = self.recommender.recommend(
            frame.get_column("user_id").cast(pl.String),
            k=int(opts["k"]),
            exclude=str(opts["exclude"]),  # type: ignore[arg-type]
            personalise=personalise,
        )
        return recs.to_pandas()


def save_recommender(recommender: Recommender, folder: Path) -> Path:
    """Pickle the fitted recommender (factor matrices, index maps, popularity) for ``log_model``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recommender.pkl"
    with path.open("wb") as fh:
        pickle.dump(recommender, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path
