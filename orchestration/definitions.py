"""Beacon's code location. Thin on purpose: each layer builds its own definitions."""

import dagster as dg

from orchestration.resources import default_resources

defs = dg.Definitions.merge(
    dg.Definitions(resources=default_resources()),
)
