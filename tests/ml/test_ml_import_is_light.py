"""Loading the ML asset module must not import the model libraries.

Every Dagster process (webserver, daemon, each run worker) imports the whole code location, so
MLflow, scikit-learn, matplotlib, LightGBM, implicit and SciPy are imported by the assets when they
run, not when ``orchestration.assets.ml`` is loaded. A fresh interpreter is used because this
test process has usually imported them already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("mlflow", "sklearn", "matplotlib", "lightgbm", "implicit", "scipy")
ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import orchestration.assets.ml as m
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps({
    "loaded": loaded,
    "assets": sorted(k.to_user_string() for a in m.defs.assets for k in a.keys),
    "sensors": sorted(s.name for s in m.defs.sensors),
    "schedules": sorted(s.name for s in m.defs.schedules),
    "segment_features": list(m.SEGMENT_FEATURES),
    "models": [m.RECOMMENDER_MODEL, m.CHURN_MODEL, m.SEGMENT_MODEL],
    "psi_threshold": m.PSI_THRESHOLD,
}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    """What a fresh interpreter sees after importing only ``orchestration.assets.ml``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_ml_assets_does_not_import_model_libraries(probe: dict) -> None:
    assert probe["loaded"] == []
    # ... and the module is still complete: every asset, sensor and schedule is defined.
    assert {
        "ml/recommender_model",
        "ml/churn_model",
        "ml/segmentation_model",
        "scores/user_recommendations",
        "scores/churn_risk",
        "scores/user_segments",
        "scores/experiment_readout",
    } == set(probe["assets"])
    assert probe["sensors"] == ["ml_churn_drift_retraining", "ml_segment_drift_retraining"]
    assert probe["schedules"] == ["ml_weekly_retraining"]


def test_light_names_are_the_ones_the_heavy_modules_use(probe: dict) -> None:
    """The constants moved into light modules are the same objects the trainers and scorers use."""
    from ml import behaviour, model_names, segments, tracking, tracking_config, training

    assert probe["segment_features"] == list(segments.SEGMENT_FEATURES)
    assert segments.SEGMENT_FEATURES is behaviour.SEGMENT_FEATURES
    assert set(segments.SEGMENT_FEATURES) <= set(behaviour.FEATURES)
    assert probe["models"] == [training.RECOMMENDER_MODEL, training.CHURN_MODEL, training.SEGMENT_MODEL]
    assert probe["models"] == ["beacon_recommender", "beacon_churn", "beacon_segments"]
    assert training.CHURN_MODEL is model_names.CHURN_MODEL
    assert tracking.TrackingConfig is tracking_config.TrackingConfig
    assert tracking.ARTIFACTS_ENV == "BEACON_MLFLOW_ARTIFACTS"
    assert probe["psi_threshold"] == 0.25
