"""Beacon's code location. Thin on purpose: each layer builds its own definitions."""

import dagster as dg

from orchestration import pipeline
from orchestration.assets import bronze, marts, ml, privacy, quality, realtime
from orchestration.resources import default_resources

defs = quality.with_freshness_policies(
    dg.Definitions.merge(
        dg.Definitions(resources=default_resources()),
        bronze.defs,
        marts.defs,
        quality.defs,
        ml.defs,
        privacy.defs,
        realtime.defs,
        pipeline.defs,
    )
)
