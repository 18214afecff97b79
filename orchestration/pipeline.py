"""What spans the layers: the publication of marts and scores, and the daily job that refreshes them.

The layer modules do not know about each other; this module reads their asset keys and wires:

* ``published/marts_duckdb`` downstream of every mart model and every score table, so it runs
  only after all of them were built in the run and their blocking checks passed;
* ``beacon_daily_job``: one run per day, for the day's partition, of bronze (with its blocking
  checks), the incremental dbt models, the rest of the marts, the scores (with the current
  ``champion`` models) and the publication. Model training is weekly (``ml_weekly_retraining``)
  or on demand from the UI.
"""

import dagster as dg

from orchestration.assets import marts, ml
from orchestration.assets.publish import build_publish_asset
from orchestration.resources import DAILY_PARTITIONS

SCORE_KEYS = [ml.RECS_SCORES_KEY, ml.CHURN_SCORES_KEY, ml.SEGMENT_SCORES_KEY, ml.READOUT_KEY]


def mart_keys() -> list[dg.AssetKey]:
    """Every dbt model that lands in the ``marts`` schema (clickstream and smart home)."""
    keys = {
        k for a in (marts.dbt_incremental_models, marts.dbt_marts) for k in a.keys if k.path[0] == "marts"
    }
    return sorted(keys, key=lambda k: k.to_user_string())


# Scheduled by ``beacon_daily_job`` rather than an automation condition, so it runs exactly once
# per daily refresh and never on its own between the marts and the scores.
published_marts = build_publish_asset(
    [*mart_keys(), *SCORE_KEYS], schemas=("marts", "scores", "public"), automation_condition=None
)

# Bronze is part of the daily run although its sensor and schedule land files as they come:
# landing the day again is a no-op for files already landed, and it puts the day's blocking
# bronze checks in the SAME run as the marts, so the marts, scores and publication never run on
# a day whose bronze failed them (blocking checks only hold back steps of their own run).
DAILY_SELECTION = (
    dg.AssetSelection.groups("bronze")
    | dg.AssetSelection.assets(marts.dbt_incremental_models, marts.dbt_marts, published_marts)
    | dg.AssetSelection.assets(*SCORE_KEYS)
)

beacon_daily_job = dg.define_asset_job(
    "beacon_daily_job",
    selection=DAILY_SELECTION,
    partitions_def=DAILY_PARTITIONS,
    description="Daily refresh: incremental dbt models for the day (with lookback), the marts, scores and the publication.",
)

beacon_daily_schedule = dg.build_schedule_from_partitioned_job(
    beacon_daily_job,
    hour_of_day=1,
    minute_of_hour=30,
    description="01:30 UTC, after bronze has landed the day (00:30): refresh marts and scores, then publish.",
)

defs = dg.Definitions(assets=[published_marts], jobs=[beacon_daily_job], schedules=[beacon_daily_schedule])
