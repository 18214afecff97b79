"""ML test fixtures: ONE MLflow store per session, and a small build DuckDB shaped like the marts.

The first use of a fresh sqlite tracking store runs MLflow's migrations (~15 s), so every test
shares the session store and isolates itself by model name instead.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from ml.synthetic import synthetic_events, synthetic_experiment, synthetic_interactions
from ml.tracking import TrackingConfig, activate


@pytest.fixture(scope="session")
def mlflow_config(tmp_path_factory: pytest.TempPathFactory) -> TrackingConfig:
    root = tmp_path_factory.mktemp("mlflow")
    config = TrackingConfig(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}", artifact_root=(root / "artifacts").as_uri()
    )
    activate(config).search_experiments()  # run the store's migrations once
    return config


@pytest.fixture
def mlflow_env(mlflow_config: TrackingConfig, monkeypatch: pytest.MonkeyPatch) -> TrackingConfig:
    """Point code that reads the environment (Dagster assets) at the session store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_config.tracking_uri)
    monkeypatch.setenv("BEACON_MLFLOW_ARTIFACTS", mlflow_config.artifact_root)
    return mlflow_config


def write_fixture_build_db(path: Path, n_users: int = 400, seed: int = 3) -> dict[str, pl.DataFrame]:
    """A build file with the tables :mod:`ml.sources` reads, built from planted synthetic data.

    Clickstream behaviour (planted churners) over 120 days, product interactions with taste
    clusters over its last 60 days, 5% of users without personalisation consent, and one
    experiment with a 30% conversion uplift in fct_sessions.
    """
    events, truth = synthetic_events(n_users=n_users, n_days=120, cutoff_day=90, seed=seed)
    inter, catalogue = synthetic_interactions(
        n_users=n_users, n_items=120, n_interactions=n_users * 25, n_days=60, seed=seed
    )
    start = events.get_column("occurred_at").min()
    assert isinstance(start, dt.datetime)
    shift = dt.timedelta(days=60)
    product_events = (
        inter.join(catalogue, on="item_id")
        .with_row_index("i")
        .select(
            event_id=pl.format("p{}", pl.col("i")),
            event_type=pl.when(pl.col("purchased"))
            .then(pl.lit("purchase"))
            .otherwise(pl.lit("product_view")),
            occurred_at=(pl.col("occurred_at") + shift).dt.replace_time_zone("UTC"),
            stitched_user_id=pl.col("user_id"),
            product_id=pl.col("item_id"),
            category=pl.col("category"),
            order_id=pl.when(pl.col("purchased")).then(pl.format("po{}", pl.col("i"))),
            line_amount_eur=pl.when(pl.col("purchased")).then(pl.lit(20.0)),
            engaged_seconds_capped=pl.lit(None, pl.Float64),
        )
    )
    # planted churners stop interacting with products too once they have left
    left = truth.filter(pl.col("planted_churner")).select(stitched_user_id="user_id")
    churn_start = (
        (start + dt.timedelta(days=90)).replace(tzinfo=dt.UTC)
        if start.tzinfo is None
        else start + dt.timedelta(days=90)
    )
    product_events = pl.concat(
        [
            product_events.join(left, on="stitched_user_id", how="anti"),
            product_events.join(left, on="stitched_user_id", how="semi").filter(
                pl.col("occurred_at") < churn_start
            ),
        ]
    )
    behaviour = events.select(
        "event_id",
        "event_type",
        "occurred_at",
        stitched_user_id=pl.col("user_id"),
        product_id=pl.lit(None, pl.String),
        category=pl.lit(None, pl.String),
        order_id="order_id",
        line_amount_eur=pl.col("price") * pl.col("quantity"),
        engaged_seconds_capped="engaged_seconds",
    )
    stitched = pl.concat([behaviour, product_events], how="vertical_relaxed").with_columns(
        identity=pl.col("stitched_user_id"), occurred_at=pl.col("occurred_at").dt.convert_time_zone("UTC")
    )
    users = stitched.select(user_id="stitched_user_id").unique().sort("user_id")
    rng = np.random.default_rng(seed)
    consent = rng.random(users.height) >= 0.05
    dim_users = users.with_columns(latest_consent_personalization=pl.Series(consent))
    matrix_users = (
        product_events.select(user_id="stitched_user_id")
        .unique()
        .join(dim_users.filter(pl.col("latest_consent_personalization")), on="user_id", how="semi")
    )
    prefs = (
        product_events.group_by(user_id="stitched_user_id", category="category")
        .agg(n=pl.len())
        .sort(["user_id", "n", "category"], descending=[False, True, False])
        .with_columns(category_rank=pl.int_range(1, pl.len() + 1).over("user_id").cast(pl.Int32))
    )
    experiment = synthetic_experiment(n_per_arm=8000, base_rate=0.10, uplift=0.30, seed=seed)
    sessions = experiment.select(
        session_id=pl.format("s-{}", pl.col("user_id")), identity="user_id", experiment_id="experiment_id",
        variant="variant", checkout_started=pl.lit(1), purchased="converted", revenue_eur="revenue",
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        for schema in ("intermediate", "marts"):
            con.execute(f"create schema if not exists {schema}")
        for name, frame in {
            "intermediate.int_clickstream__events_stitched": stitched,
            "marts.mart_interaction_matrix": matrix_users,
            "marts.dim_users": dim_users,
            "marts.mart_category_preferences": prefs,
            "marts.fct_sessions": sessions,
        }.items():
            con.register("_f", frame.to_arrow())
            con.execute(f"create or replace table {name} as select * from _f")
            con.unregister("_f")
    finally:
        con.close()
    return {"events": stitched, "truth": truth, "experiment": experiment, "dim_users": dim_users}


@pytest.fixture
def fixture_build_db() -> Callable[..., dict[str, pl.DataFrame]]:
    """The :func:`write_fixture_build_db` builder (tests call it with their own path)."""
    return write_fixture_build_db


PSEUDONYM = re.compile(rb"[0-9a-f]{64}")
#: ``scan(root, identifiers) -> {file: identifiers found in it}``
Scan = Callable[[Path, set[str]], dict[str, set[str]]]


def _contents(path: Path) -> list[bytes]:
    """The file's bytes, plus decompressed zip members and Parquet values (compression hides strings)."""
    blobs = [path.read_bytes()]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            blobs += [archive.read(name) for name in archive.namelist()]
    if path.suffix == ".parquet":
        blobs.append(pl.read_parquet(path).cast(pl.String).write_csv().encode())
    return blobs


def scan_for_identifiers(root: Path, identifiers: set[str]) -> dict[str, set[str]]:
    """``file -> pseudonyms (64 hex chars) of ``identifiers`` found in it``, for ``root`` or every file under it."""
    wanted = {i.encode() for i in identifiers}
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    found: dict[str, set[str]] = {}
    for path in files:
        hits = {t for blob in _contents(path) for t in PSEUDONYM.findall(blob)} & wanted
        if hits:
            found[path.name if path == root else str(path.relative_to(root))] = {h.decode() for h in hits}
    return found


@pytest.fixture
def find_identifiers() -> Scan:
    """The MLflow artifact scan for user pseudonyms (erasure: none may remain in MLflow)."""
    return scan_for_identifiers
