"""How dbt nodes become Dagster assets and checks in Beacon.

* models -> ``[<schema>, <model>]`` (``["marts", "fct_sessions"]``), grouped by layer
  (``staging`` / ``intermediate`` / ``marts``), kinds ``dbt`` + the engine (``duckdb`` or
  ``spark``, :func:`lakehouse.engine.engine`), owners from the model's ``meta.owner`` (default:
  the analytics-engineering team), descriptions from the YAML;
* bronze sources -> the bronze Delta assets ``["bronze", <table>]`` written by landing;
* dbt data tests -> asset checks, ``blocking`` when their severity is ``error`` so a failing test
  stops everything downstream of the model in the same run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from lakehouse.config import DBT_SCHEMAS
from lakehouse.engine import engine

DEFAULT_OWNER = "team:analytics-engineering"
LAYERS = DBT_SCHEMAS


def owner_from_meta(meta: Mapping[str, Any]) -> list[str]:
    """``meta.owner`` as a Dagster owner (an email or ``team:<name>``)."""
    raw = meta.get("owner")
    if not raw:
        return [DEFAULT_OWNER]
    owners = raw if isinstance(raw, list) else [raw]
    return [o if ("@" in o or o.startswith("team:")) else f"team:{o}" for o in owners]


def layer_of(props: Mapping[str, Any]) -> str:
    """The layer folder of a model (second fqn element: beacon/<layer>/...), else its schema."""
    fqn: Sequence[str] = props.get("fqn") or []
    if len(fqn) > 1 and fqn[1] in LAYERS:
        return fqn[1]
    return str(props.get("schema") or "marts")


class BeaconDbtTranslator(DagsterDbtTranslator):
    """Asset keys ``[schema, model]``, bronze sources, layer groups, blocking checks."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(
                key=dg.AssetKey(["bronze", props["name"]]),
                group_name="bronze",
                kinds={"delta"},
                owners=[DEFAULT_OWNER],
            )
        meta = {**(props.get("meta") or {}), **((props.get("config") or {}).get("meta") or {})}
        return spec.replace_attributes(
            key=dg.AssetKey([str(props["schema"]), props["name"]]),
            group_name=layer_of(props),
            kinds={"dbt", engine()},
            owners=owner_from_meta(meta),
        )

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        test = manifest["nodes"][unique_id]
        severity = str((test.get("config") or {}).get("severity") or "error").lower()
        description = test.get("description") or f"dbt test {test['name']} ({severity})"
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=description,
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            blocking=severity == "error",
        )
