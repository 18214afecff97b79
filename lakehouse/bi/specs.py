"""Declarative dashboard specs (``lakehouse/bi/dashboards/*.yaml``) and the Superset form data they imply.

Why our own small spec instead of Superset's export ZIPs: an export carries ids, positions, colour
maps and ~40 keys of form data per chart that nobody reviews; a spec names only what a reader
cares about (which published table, which metric, grouped by what, which chart type) and the
builder derives Superset's ``params`` (what the browser renders) and ``query_context`` (what the
chart-data API runs) from the SAME fields, so the REST test and the browser see the same query.

A spec file::

    slug: beacon-customers
    title: Customers
    description: ...
    datasets:                    # published tables only: <schema>.<table>, schema main or scores
      rfm: {table: main.mart_rfm}
      moves: {sql: "SELECT ... FROM main.mart_rfm ..."}   # a reshaping view over published tables
    charts:
      - key: segment_sizes       # stable identity (the chart's uuid derives from slug + key)
        title: RFM segment sizes
        dataset: rfm
        viz: pie                 # pie | bar | line | table | big_number | heatmap | funnel | histogram
        groupby: [segment]
        metrics: [{label: users, sql: "count(*)"}]
        width: 4                 # of 12 grid columns

Datasets must name tables of the published file: :func:`check_published` checks every spec
against ``marts.duckdb`` (tables and columns exist, virtual SQL binds with external access
disabled, so it cannot read anything but the published file).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

SPEC_DIR = Path(__file__).resolve().parent / "dashboards"
#: Namespace of the deterministic uuids of Beacon's charts (uuid5 of ``<slug>/<key>``).
BEACON_NS = uuid.UUID("6f0c1d2e-3b4a-5c6d-8e9f-0a1b2c3d4e5f")
PUBLISHED_SCHEMAS = ("main", "scores", "_beacon")
VIZ_TYPES = {
    "pie": "pie",
    "bar": "echarts_timeseries_bar",
    "line": "echarts_timeseries_line",
    "table": "table",
    "big_number": "big_number_total",
    "heatmap": "heatmap_v2",
    "funnel": "funnel",
    "histogram": "histogram_v2",
}


class SpecError(ValueError):
    """A dashboard spec is malformed or reads something that is not published."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    table: str | None = None  # "<schema>.<table>" of the published file
    sql: str | None = None  # a virtual dataset over published tables

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0] if self.table else "main"

    @property
    def table_name(self) -> str:
        """Superset's dataset name: the table, or ``beacon_<name>`` for a virtual dataset."""
        return self.table.split(".", 1)[1] if self.table else f"beacon_{self.name}"


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    dataset: str
    viz: str
    metrics: tuple[dict[str, str], ...] = ()
    groupby: tuple[str, ...] = ()
    x: str | None = None  # x axis (bar/line/heatmap) or the value column (histogram)
    columns: tuple[str, ...] = ()  # raw table columns (table without metrics)
    order_by: tuple[tuple[str, bool], ...] = ()  # raw table order: (column, ascending)
    order_desc: bool = True
    row_limit: int = 1000
    time_grain: str | None = None  # e.g. P1D for a temporal x axis
    width: int = 4
    height: int = 50
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # extra Superset form data, verbatim


@dataclass(frozen=True)
class DashboardSpec:
    slug: str
    title: str
    description: str
    datasets: dict[str, DatasetSpec]
    charts: tuple[ChartSpec, ...]
    source: Path

    def chart_uuid(self, chart: ChartSpec) -> str:
        return str(uuid.uuid5(BEACON_NS, f"{self.slug}/{chart.key}"))


def load_spec(path: Path) -> DashboardSpec:
    """Parse one spec file; structural errors name the file and the chart."""
    raw = yaml.safe_load(Path(path).read_text())
    try:
        datasets = {
            name: DatasetSpec(name=name, table=d.get("table"), sql=d.get("sql"))
            for name, d in raw["datasets"].items()
        }
        charts = tuple(
            ChartSpec(
                key=c["key"],
                title=c["title"],
                dataset=c["dataset"],
                viz=c["viz"],
                metrics=tuple(c.get("metrics", ())),
                groupby=tuple(c.get("groupby", ())),
                x=c.get("x"),
                columns=tuple(c.get("columns", ())),
                order_desc=c.get("order_desc", True),
                order_by=tuple((str(o[0]), bool(o[1])) for o in c.get("order_by", ())),
                row_limit=int(c.get("row_limit", 1000)),
                time_grain=c.get("time_grain"),
                width=int(c.get("width", 4)),
                height=int(c.get("height", 25 if c["viz"] == "big_number" else 50)),
                description=c.get("description", ""),
                options=dict(c.get("options", {})),
            )
            for c in raw["charts"]
        )
        spec = DashboardSpec(
            raw["slug"], raw["title"], raw.get("description", ""), datasets, charts, Path(path)
        )
    except (KeyError, TypeError) as exc:
        raise SpecError(f"{path}: missing or malformed key {exc}") from exc
    _check_structure(spec)
    return spec


def load_specs(spec_dir: Path = SPEC_DIR) -> list[DashboardSpec]:
    """Every ``*.yaml`` spec, sorted by file name (the dashboards' order in the CLI output)."""
    specs = [load_spec(p) for p in sorted(Path(spec_dir).glob("*.yaml"))]
    slugs = [s.slug for s in specs]
    if len(set(slugs)) != len(slugs):
        raise SpecError(f"duplicate dashboard slugs in {spec_dir}: {slugs}")
    return specs


def _check_structure(spec: DashboardSpec) -> None:
    where = spec.source.name
    for ds in spec.datasets.values():
        if (ds.table is None) == (ds.sql is None):
            raise SpecError(f"{where}: dataset {ds.name} needs exactly one of table / sql")
        if ds.table and (ds.table.count(".") != 1 or ds.schema not in PUBLISHED_SCHEMAS):
            raise SpecError(
                f"{where}: dataset {ds.name}: table must be <schema>.<table> with schema in {PUBLISHED_SCHEMAS}"
            )
    keys = [c.key for c in spec.charts]
    if len(set(keys)) != len(keys):
        raise SpecError(f"{where}: duplicate chart keys {keys}")
    for c in spec.charts:
        if c.dataset not in spec.datasets:
            raise SpecError(f"{where}: chart {c.key} uses unknown dataset {c.dataset}")
        if c.viz not in VIZ_TYPES:
            raise SpecError(f"{where}: chart {c.key}: viz {c.viz!r} not one of {sorted(VIZ_TYPES)}")
        needs_metric = c.viz in {"pie", "bar", "line", "big_number", "heatmap", "funnel"}
        if needs_metric and not c.metrics:
            raise SpecError(f"{where}: chart {c.key} ({c.viz}) needs a metric")
        if c.viz in {"bar", "line", "heatmap", "histogram"} and not c.x:
            raise SpecError(f"{where}: chart {c.key} ({c.viz}) needs x")
        if c.viz == "table" and not (c.columns or c.metrics):
            raise SpecError(f"{where}: chart {c.key} (table) needs columns or metrics")
        if not 1 <= c.width <= 12:
            raise SpecError(f"{where}: chart {c.key}: width must be 1..12")


def dataset_sql(ds: DatasetSpec) -> str:
    return ds.sql if ds.sql is not None else f'SELECT * FROM "{ds.schema}"."{ds.table_name}"'


def check_published(specs: list[DashboardSpec], marts: Path) -> dict[str, list[str]]:
    """Bind every dataset and chart column against the published file; returns the columns per dataset.

    External access is disabled on the checking connection, so a virtual dataset that tried to
    read files (``read_parquet``, the Delta tables, the build file) fails here: every chart reads
    the published marts only. Missing tables or columns raise :class:`SpecError` naming them.
    """
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    with contextlib.closing(
        duckdb.connect(str(marts), read_only=True, config={"enable_external_access": False})
    ) as con:
        for spec in specs:
            for ds in spec.datasets.values():
                try:
                    cols = [
                        d[0] for d in con.execute(f"SELECT * FROM ({dataset_sql(ds)}) LIMIT 0").description
                    ]
                except duckdb.Error as exc:
                    problems.append(f"{spec.slug}/{ds.name}: {str(exc).splitlines()[0]}")
                    continue
                found[f"{spec.slug}/{ds.name}"] = cols
            for c in spec.charts:
                cols = found.get(f"{spec.slug}/{c.dataset}")
                if cols is None:
                    continue
                wanted = [*c.groupby, *c.columns, *(o[0] for o in c.order_by), *([c.x] if c.x else [])]
                missing = [w for w in wanted if w not in cols]
                if missing:
                    problems.append(f"{spec.slug}/{c.key}: columns {missing} not in {c.dataset} ({cols})")
                for m in c.metrics:
                    try:
                        con.execute(
                            f"SELECT {m['sql']} FROM ({dataset_sql(spec.datasets[c.dataset])}) LIMIT 0"
                        )
                    except duckdb.Error as exc:
                        problems.append(
                            f"{spec.slug}/{c.key}: metric {m['label']}: {str(exc).splitlines()[0]}"
                        )
    if problems:
        raise SpecError("dashboard specs do not match the published marts:\n  " + "\n  ".join(problems))
    return found


def _metric(m: dict[str, str]) -> dict[str, Any]:
    """Superset's ad-hoc SQL metric."""
    return {
        "expressionType": "SQL",
        "sqlExpression": m["sql"],
        "label": m["label"],
        "optionName": f"metric_{m['label']}",
        "hasCustomLabel": True,
    }


def _x_column(c: ChartSpec) -> str | dict[str, Any]:
    if not c.time_grain:
        return c.x or ""
    return {
        "columnType": "BASE_AXIS",
        "sqlExpression": c.x,
        "label": c.x,
        "expressionType": "SQL",
        "timeGrain": c.time_grain,
    }


def form_data(c: ChartSpec, datasource_id: int) -> dict[str, Any]:
    """Superset ``params`` for the chart (what the browser's chart plugin builds its query from)."""
    viz = VIZ_TYPES[c.viz]
    metrics = [_metric(m) for m in c.metrics]
    fd: dict[str, Any] = {
        "viz_type": viz,
        "datasource": f"{datasource_id}__table",
        "adhoc_filters": [],
        "row_limit": c.row_limit,
        "time_range": "No filter",
        "color_scheme": "supersetColors",
    }
    if c.viz in {"pie", "funnel"}:
        fd |= {
            "groupby": list(c.groupby),
            "metric": metrics[0],
            "show_labels": True,
            "show_legend": c.viz == "funnel",
            "label_type": "key_percent" if c.viz == "pie" else "key",
            "sort_by_metric": c.viz == "pie" and c.order_desc,
            "number_format": "SMART_NUMBER",
        }
    elif c.viz in {"bar", "line"}:
        fd |= {
            "x_axis": c.x,
            "metrics": metrics,
            "groupby": list(c.groupby),
            "show_legend": True,
            "x_axis_sort_asc": True,
            "rich_tooltip": True,
            "truncateYAxis": False,
        }
        if c.time_grain:
            fd["time_grain_sqla"] = c.time_grain
        if c.viz == "bar":
            fd |= {"orientation": "vertical", "show_value": False, "stack": "Stack" if c.groupby else None}
    elif c.viz == "heatmap":
        fd |= {
            "x_axis": c.x,
            "groupby": c.groupby[0],
            "metric": metrics[0],
            "show_legend": True,
            "linear_color_scheme": "schemePuBuGn",
            "normalize_across": "heatmap",
            "sort_x_axis": "alpha_asc",
            "sort_y_axis": "alpha_asc",
            "show_values": False,
            "value_bounds": [None, None],
        }
    elif c.viz == "big_number":
        fd |= {"metric": metrics[0], "header_font_size": 0.4, "subheader_font_size": 0.15}
    elif c.viz == "histogram":
        fd |= {
            "column": c.x,
            "groupby": list(c.groupby),
            "bins": c.options.get("bins", 10),
            "x_axis_title": c.x,
            "y_axis_title": "count",
        }
    elif c.viz == "table":
        if c.metrics:
            fd |= {
                "query_mode": "aggregate",
                "groupby": list(c.groupby),
                "metrics": metrics,
                "order_desc": c.order_desc,
                "timeseries_limit_metric": metrics[0],
            }
        else:
            fd |= {
                "query_mode": "raw",
                "all_columns": list(c.columns),
                "order_by_cols": [json.dumps([col, asc]) for col, asc in c.order_by],
            }
    return fd | c.options


def query_context(c: ChartSpec, datasource_id: int, params: dict[str, Any]) -> dict[str, Any]:
    """The saved query context (what ``GET /api/v1/chart/<id>/data/`` runs), from the same spec fields."""
    metrics = [_metric(m) for m in c.metrics]
    query: dict[str, Any] = {
        "filters": [],
        "extras": {"having": "", "where": ""},
        "row_limit": c.row_limit,
        "time_range": "No filter",
        "orderby": [],
        "metrics": metrics,
    }
    if c.viz in {"pie", "funnel", "big_number"}:
        query["columns"] = list(c.groupby)
        query["metrics"] = metrics[:1]
    elif c.viz in {"bar", "line"}:
        query["columns"] = [_x_column(c), *c.groupby]
    elif c.viz == "heatmap":
        query["columns"] = [c.x, c.groupby[0]]
        query["metrics"] = metrics[:1]
    elif c.viz == "histogram":
        query["columns"] = [c.x, *c.groupby]
        query["metrics"] = []
    elif c.viz == "table":
        query["columns"] = list(c.groupby) if c.metrics else list(c.columns)
    if query["metrics"] and c.viz != "heatmap":
        query["orderby"] = [[query["metrics"][0], not c.order_desc]]
    elif c.order_by:
        query["orderby"] = [[col, asc] for col, asc in c.order_by]
    return {
        "datasource": {"id": datasource_id, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }
