"""Erasure (issue #7): no user identifier may be stored in any MLflow artifact.

Models, input examples, signatures, drift references, plots and evaluation tables must carry
item ids and features only; per-user scores live in the marts, where erasure happens. The scan
reads every file under the MLflow artifact root (and the tracking database), opening zip
archives (skops models) and Parquet files, and looks for every training user's pseudonym.
"""

from __future__ import annotations

import pickle
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from lakehouse.pseudonymise import pseudonymise_columns
from ml.catalogue import Catalogue
from ml.synthetic import synthetic_events, synthetic_interactions
from ml.tracking import TrackingConfig
from ml.training import train_churn_model, train_recommender, train_segmentation

Scan = Callable[[Path, set[str]], dict[str, set[str]]]


def test_the_scan_finds_identifiers_in_every_container(tmp_path: Path, find_identifiers: Scan) -> None:
    ids = pseudonymise_columns(pl.DataFrame({"u": ["a", "b", "c"]}), ["u"], "k" * 32)["u"]
    (tmp_path / "raw.json").write_text(f'{{"user_id": "{ids[0]}"}}')
    with zipfile.ZipFile(tmp_path / "model.skops", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("schema.json", " ".join([ids[1]] * 50))
    pl.DataFrame({"user_id": [ids[2]] * 100}).write_parquet(tmp_path / "ref.parquet", compression="zstd")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(list(ids)))
    found = find_identifiers(tmp_path, set(ids) | {"f" * 64})
    assert found == {
        "raw.json": {ids[0]},
        "model.skops": {ids[1]},
        "ref.parquet": {ids[2]},
        "model.pkl": set(ids),
    }


@pytest.mark.slow
def test_no_mlflow_artifact_holds_a_training_users_pseudonym(
    mlflow_config: TrackingConfig, find_identifiers: Scan
) -> None:
    key = "beacon-test-key-0123456789abcdef"
    inter, cat = synthetic_interactions(n_users=400, n_items=80, n_interactions=9_000, seed=21)
    inter = pseudonymise_columns(inter, ["user_id"], key)
    events, _ = synthetic_events(n_users=400, n_days=120, cutoff_day=90, seed=22)
    events = pseudonymise_columns(events, ["user_id"], key)
    users = set(inter["user_id"]) | set(events["user_id"])
    assert len(users) >= 400 and all(len(u) == 64 for u in users)
    tag = uuid.uuid4().hex[:8]
    started = time.time() - 1
    catalogue = Catalogue.from_table(cat)
    rec = train_recommender(inter, catalogue=catalogue, model_name=f"priv_rec_{tag}", config=mlflow_config)
    churn = train_churn_model(events, model_name=f"priv_churn_{tag}", config=mlflow_config)
    seg = train_segmentation(events, model_name=f"priv_seg_{tag}", config=mlflow_config, k_range=range(2, 4))
    assert rec.promoted and churn.promoted and seg.promoted

    artifacts = Path(mlflow_config.artifact_root.removeprefix("file://"))
    files = [p for p in artifacts.rglob("*") if p.is_file() and p.stat().st_mtime >= started]
    # the scan covers the models, input examples, signatures, drift references and tables
    names = {p.name for p in files}
    assert {"recommender.pkl", "MLmodel", "input_example.json", "features.parquet"} <= names
    assert any(p.suffix == ".skops" or zipfile.is_zipfile(p) for p in files)
    assert find_identifiers(artifacts, users) == {}
    tracking_db = Path(mlflow_config.tracking_uri.removeprefix("sqlite:///"))
    assert find_identifiers(tracking_db, users) == {}  # params, tags, metrics
