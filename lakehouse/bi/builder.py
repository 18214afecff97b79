"""Create or update Beacon's database, datasets, charts and dashboards in Superset over REST, idempotently.

Identity, so that re-running updates instead of duplicating:

* the database by name (:data:`~lakehouse.bi.settings.DATABASE_NAME`);
* a dataset by (database, schema, table name), which Superset itself keeps unique;
* a chart by a deterministic uuid (uuid5 of ``<dashboard slug>/<chart key>``), set at creation;
* a dashboard by its slug.

Everything Beacon creates is marked ``is_managed_externally`` with an ``external_url`` naming the
spec file, so Superset's UI shows that editing it there would be overwritten by the next setup.
Charts that are on a Beacon dashboard but no longer in its spec are deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lakehouse.bi.rest import SupersetAPIError, SupersetClient, dumps
from lakehouse.bi.settings import DATABASE_NAME, BISettings
from lakehouse.bi.specs import DashboardSpec, DatasetSpec, form_data, query_context

#: The read-only connection: duckdb-engine passes ``connect_args`` to ``duckdb.connect``.
#: ``enable_external_access: false`` also stops SQL Lab users from reading any other file.
DATABASE_EXTRA = {
    "engine_params": {"connect_args": {"read_only": True, "config": {"enable_external_access": False}}},
    "allows_virtual_table_explore": True,
}


@dataclass(frozen=True)
class BuiltDashboard:
    slug: str
    dashboard_id: int
    url: str
    chart_ids: dict[str, int]  # chart key -> id


def _external_url(spec: DashboardSpec) -> str:
    return f"beacon://lakehouse/bi/dashboards/{spec.source.name}"


def ensure_database(client: SupersetClient, settings: BISettings) -> int:
    """The read-only DuckDB connection to the published file (created or updated); its id."""
    payload = {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": settings.sqlalchemy_uri,
        "expose_in_sqllab": True,
        "allow_dml": False,
        "allow_run_async": False,
        "extra": json.dumps(DATABASE_EXTRA),
    }
    found = client.find("database", "database_name", DATABASE_NAME)
    if found is None:
        return int(client.post("/api/v1/database/", payload)["id"])
    client.put(f"/api/v1/database/{found['id']}", payload)
    return int(found["id"])


def ensure_dataset(client: SupersetClient, database_id: int, ds: DatasetSpec, external_url: str) -> int:
    """A physical dataset on a published table, or a virtual one over published tables; columns refreshed."""
    existing = [
        d
        for d in client.iter_all("dataset", ["id", "table_name", "schema", "database.id"])
        if d["table_name"] == ds.table_name
        and d.get("schema") == ds.schema
        and d.get("database", {}).get("id") == database_id
    ]
    if existing:
        dataset_id = int(existing[0]["id"])
        if ds.sql is not None:
            client.put(f"/api/v1/dataset/{dataset_id}", {"sql": ds.sql})
    else:
        payload: dict[str, Any] = {
            "database": database_id,
            "schema": ds.schema,
            "table_name": ds.table_name,
            "is_managed_externally": True,
            "external_url": external_url,
        }
        if ds.sql is not None:
            payload["sql"] = ds.sql
        dataset_id = int(client.post("/api/v1/dataset/", payload)["id"])
    # Re-read the columns from the published file (a new publication may have added some).
    client.put(f"/api/v1/dataset/{dataset_id}/refresh", {})
    return dataset_id


def _position(spec: DashboardSpec, chart_ids: dict[str, int]) -> dict[str, Any]:
    """Superset's ``position_json``: charts laid out left to right in rows of 12 grid columns."""
    pos: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": spec.title}},
    }
    rows: list[list[Any]] = [[]]
    used = 0
    for chart in spec.charts:
        if used + chart.width > 12:
            rows.append([])
            used = 0
        rows[-1].append(chart)
        used += chart.width
    for r, row in enumerate(rows):
        row_id = f"ROW-{r}"
        pos["GRID_ID"]["children"].append(row_id)
        pos[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in row:
            cid = f"CHART-{chart.key}"
            pos[row_id]["children"].append(cid)
            pos[cid] = {
                "type": "CHART",
                "id": cid,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "chartId": chart_ids[chart.key],
                    "width": chart.width,
                    "height": chart.height,
                    "sliceName": chart.title,
                    "uuid": spec.chart_uuid(chart),
                },
            }
    return pos


def _dashboard_payload(spec: DashboardSpec, position: dict[str, Any] | None) -> dict[str, Any]:
    meta = {
        "color_scheme": "supersetColors",
        "refresh_frequency": 0,
        "cross_filters_enabled": False,
        "native_filter_configuration": [],
        "timed_refresh_immune_slices": [],
        "expanded_slices": {},
        "label_colors": {},
        "shared_label_colors": [],
        "color_scheme_domain": [],
    }
    payload = {
        "dashboard_title": spec.title,
        "slug": spec.slug,
        "published": True,
        "json_metadata": dumps(meta),
        "is_managed_externally": True,
        "external_url": _external_url(spec),
    }
    if position is not None:
        payload["position_json"] = dumps(position)
    return payload


def build_dashboard(
    client: SupersetClient, database_id: int, spec: DashboardSpec, base_url: str
) -> BuiltDashboard:
    """Create or update one dashboard with its datasets and charts; returns ids and URL."""
    ext = _external_url(spec)
    try:
        dashboard_id = int(client.get(f"/api/v1/dashboard/{spec.slug}")["result"]["id"])
        client.put(f"/api/v1/dashboard/{dashboard_id}", _dashboard_payload(spec, None))
    except SupersetAPIError as exc:
        if "-> 404" not in str(exc):
            raise
        dashboard_id = int(client.post("/api/v1/dashboard/", _dashboard_payload(spec, None))["id"])

    dataset_ids = {name: ensure_dataset(client, database_id, ds, ext) for name, ds in spec.datasets.items()}
    chart_ids: dict[str, int] = {}
    for chart in spec.charts:
        ds_id = dataset_ids[chart.dataset]
        params = form_data(chart, ds_id)
        payload = {
            "slice_name": chart.title,
            "viz_type": params["viz_type"],
            "datasource_id": ds_id,
            "datasource_type": "table",
            "params": dumps(params),
            "query_context": dumps(query_context(chart, ds_id, params)),
            "description": chart.description or None,
            "dashboards": [dashboard_id],
            "is_managed_externally": True,
            "external_url": ext,
        }
        uid = spec.chart_uuid(chart)
        try:
            chart_id = int(client.get(f"/api/v1/chart/{uid}")["result"]["id"])
            client.put(f"/api/v1/chart/{chart_id}", payload)
        except SupersetAPIError as exc:
            if "-> 404" not in str(exc):
                raise
            chart_id = int(client.post("/api/v1/chart/", {**payload, "uuid": uid})["id"])
        chart_ids[chart.key] = chart_id

    # Managed charts left on this dashboard by an older version of its spec (a user's own charts stay).
    wanted = set(chart_ids.values())
    on_dashboard = {int(c["id"]) for c in client.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]}
    managed = {
        int(c["id"])
        for c in client.iter_all("chart", ["id", "is_managed_externally"])
        if c.get("is_managed_externally")
    }
    for old in sorted((on_dashboard & managed) - wanted):
        client.delete(f"/api/v1/chart/{old}")
    client.put(f"/api/v1/dashboard/{dashboard_id}", _dashboard_payload(spec, _position(spec, chart_ids)))
    return BuiltDashboard(spec.slug, dashboard_id, f"{base_url}/superset/dashboard/{spec.slug}/", chart_ids)


def build_all(
    client: SupersetClient, settings: BISettings, specs: list[DashboardSpec]
) -> list[BuiltDashboard]:
    """The database connection and every dashboard of ``specs``."""
    database_id = ensure_database(client, settings)
    return [build_dashboard(client, database_id, spec, settings.url) for spec in specs]
