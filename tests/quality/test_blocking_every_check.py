"""EVERY error-severity GX check of the code location blocks: fed data that violates it, the real
check fails (observed value and failing-row sample in its metadata, no identifier in them) and a
real downstream asset of the checked asset does not materialise in the same run; a failed mart
check leaves the last good ``marts.duckdb`` in place.

The cases are enumerated from ``orchestration.definitions.defs`` (every check spec carrying a
``gx_suite`` with severity ERROR): a new error check without a case here fails
:func:`test_every_error_check_of_the_code_location_has_a_violation_case`. Each case materialises
a minimal selection: a stand-in for the checked asset writing the violating Delta table (bronze)
or build DuckDB (marts), the code location's own check definition, and one real downstream asset
(the dbt staging model of a bronze table, the publication of the marts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest
import quality_fixtures as qf
from test_bronze_suites import mutation
from test_mart_suites import VIOLATIONS

from expectations.bronze import bronze_suite
from expectations.landing_ledger import ledger_suite
from expectations.marts import build_file, mart_checks
from lakehouse import storage
from lakehouse.landing.schemas import ALL_IDENTIFIER_KEYS, LEDGER_SCHEMA, LEDGER_TABLE, cast_to
from lakehouse.publish import publish_marts
from orchestration.resources import LakehouseResource

DAY = qf.DAY
BRONZE_TABLES = ("clickstream_events", "sensor_readings")
CLEAN = {"clickstream_events": qf.clickstream_frame, "sensor_readings": qf.sensor_frame}
LEDGER_CHECK = "landing_ledger_balanced"
#: extra ledger lines that no table accounts for (breaks the landing-ledger balance only)
UNACCOUNTED_LINES = 3


# --------------------------------------------------------------------------------------------
# what the code location declares


@pytest.fixture(scope="module")
def location() -> Any:
    """The merged code location (imported once: it parses the dbt manifest)."""
    from orchestration.definitions import defs

    return defs


def error_gx_checks(defs: Any) -> set[dg.AssetCheckKey]:
    graph = defs.resolve_asset_graph()
    return {
        spec.key
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
        if "gx_suite" in (spec.metadata or {}) and spec.metadata.get("severity") == "ERROR"
    }


def _bronze_case(table: str, check: str) -> tuple[str, str]:
    """(check, expectation id whose violation the case writes): the check's first expectation."""
    suite = ledger_suite() if check == LEDGER_CHECK else bronze_suite(table)
    return check, suite.for_check(check)[0].id


BRONZE_CASES = {
    dg.AssetCheckKey(dg.AssetKey(["bronze", table]), info.name): (table, *_bronze_case(table, info.name))
    for table in BRONZE_TABLES
    for info in (*bronze_suite(table).checks, *ledger_suite().checks)
}
#: mart check -> the (suite, expectation) violation of test_mart_suites that breaks it
MART_CASES = {
    dg.AssetCheckKey(dg.AssetKey(c.table.split(".")), info.name): (
        c.table,
        c.suite.name,
        c.suite.for_check(info.name)[0].id,
    )
    for c in mart_checks()
    for info in c.suite.checks
}


def test_every_error_check_of_the_code_location_has_a_violation_case(location: Any) -> None:
    declared = error_gx_checks(location)
    assert len(declared) >= 20
    assert declared == set(BRONZE_CASES) | set(MART_CASES)
    assert all(spec_blocking(location, key) for key in declared)


def spec_blocking(defs: Any, key: dg.AssetCheckKey) -> bool:
    graph = defs.resolve_asset_graph()
    return next(a.get_spec_for_check_key(key) for a in graph.assets_defs if key in a.check_keys).blocking


def _check_def(defs: Any, asset: dg.AssetKey) -> Any:
    (checks,) = [c for c in defs.asset_checks if asset in {k.asset_key for k in c.check_keys}]
    return checks


def _downstream(defs: Any, asset: dg.AssetKey) -> tuple[dg.AssetKey, Any]:
    """A real child asset of ``asset`` (staging model first, else the publication) and its definition
    as its module declares it (the code location's copy has resources bound already)."""
    from orchestration import pipeline
    from orchestration.assets import marts

    graph = defs.resolve_asset_graph()
    children = sorted(
        graph.get(asset).child_keys, key=lambda k: (k.path[0] != "staging", k.path[0] != "published")
    )
    child = children[0]
    (assets_def,) = [
        a
        for a in (marts.dbt_incremental_models, marts.dbt_marts, pipeline.published_marts)
        if child in a.keys
    ]
    return child, assets_def


# --------------------------------------------------------------------------------------------
# helpers: stand-ins, runs, metadata


def _ledger(table: str, frame: pl.DataFrame, extra: int) -> pl.DataFrame:
    per_file = frame.group_by("_source_file").agg(pl.len().alias("rows"))
    return cast_to(
        pl.DataFrame(
            [
                {
                    **dict.fromkeys(LEDGER_SCHEMA.names()),
                    "source": "test",
                    "contract": table,
                    "source_file": f,
                    "delivery_date": dt.date.fromisoformat(f.split("/")[1]),
                    "status": "landed",
                    "lines_read": n + (extra if i == 0 else 0),
                    "rows_landed": n,
                    "rows_quarantined": 0,
                    "duplicates": 0,
                    "skipped": 0,
                    "table_name": table,
                    "landing_run_id": "run-1",
                    "landed_at": qf.LANDED_AT,
                }
                for i, (f, n) in enumerate(per_file.sort("_source_file").iter_rows())
            ],
            schema=LEDGER_SCHEMA,
        ),
        LEDGER_SCHEMA,
    )


def _bronze_standin(table: str, frame: pl.DataFrame, ledger_extra: int = 0) -> dg.AssetsDefinition:
    """Writes ``frame`` as the bronze table (and its ledger rows) under the REAL bronze key and partitions."""
    from orchestration.assets.bronze import BRONZE_PARTITIONS

    @dg.asset(key=["bronze", table], partitions_def=BRONZE_PARTITIONS)
    def standin(lakehouse: LakehouseResource) -> None:
        bronze = lakehouse.paths.root / "delta" / "bronze"
        storage.write_partitions(bronze / table, frame, ["event_date"])
        storage.write_partitions(bronze / LEDGER_TABLE, _ledger(table, frame, ledger_extra))

    return standin


def _resources(root: Path) -> dict[str, Any]:
    from orchestration.assets.marts import dbt_resource

    return {"lakehouse": LakehouseResource(data_dir=str(root)), "dbt": dbt_resource()}


def _run(
    assets: list[Any], selection: list[dg.AssetKey], root: Path, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, selection=selection, resources=_resources(root), raise_on_error=False, **kwargs
    )


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialised(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def _metadata_text(evaluations: dict[str, dg.AssetCheckEvaluation]) -> str:
    return "\n".join(str(v.value) for e in evaluations.values() for v in e.metadata.values())


def _identifier_values(frame: pl.DataFrame) -> set[str]:
    """Identifier values long enough to search for as substrings (pseudonyms, raw ids like u000123)."""
    cols = [c for c in ALL_IDENTIFIER_KEYS if c in frame.columns]
    return {v for c in cols for v in frame[c].drop_nulls().cast(pl.String).to_list() if len(v) >= 6}


def assert_no_identifiers(evaluations: dict[str, dg.AssetCheckEvaluation], frame: pl.DataFrame) -> None:
    """Issue 7: no identifier column and no identifier value in any check's metadata."""
    text = _metadata_text(evaluations)
    leaked = {v for v in _identifier_values(frame) if v in text}
    assert leaked == set()
    for e in evaluations.values():
        header = e.metadata["failing_rows"].value.splitlines()[0]
        assert not set(ALL_IDENTIFIER_KEYS) & {h.strip() for h in header.split("|")}


def _assert_blocked(
    result: dg.ExecuteInProcessResult, key: dg.AssetCheckKey, expectation_id: str, downstream: dg.AssetKey
) -> dict[str, dg.AssetCheckEvaluation]:
    evals = _evaluations(result)
    bad = evals[key.name]
    assert not bad.passed and bad.blocking and bad.severity == dg.AssetCheckSeverity.ERROR
    observed = bad.metadata["observed"].value
    assert f"`{expectation_id}` | **FAIL**" in observed
    row = next(line for line in observed.splitlines() if f"`{expectation_id}`" in line)
    assert row.rsplit("|", 2)[-2].strip()  # an observed value, not an empty cell
    assert bad.metadata["failed_expectations"].value >= 1
    assert {n for n, e in evals.items() if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR} == {
        key.name
    }
    assert key.asset_key in _materialised(result)
    assert downstream not in _materialised(result)
    assert not result.success
    return evals


# --------------------------------------------------------------------------------------------
# bronze: every error check


def _bronze_params() -> list[Any]:
    fast = {("clickstream_events", "amounts_valid"), ("sensor_readings", "sensor_values_physical")}
    return [
        pytest.param(
            key,
            id=f"{key.asset_key.path[-1]}-{key.name}",
            marks=() if (key.asset_key.path[-1], key.name) in fast else pytest.mark.slow,
        )
        for key in BRONZE_CASES
    ]


@pytest.mark.parametrize("key", _bronze_params())
def test_bronze_error_check_blocks_downstream(key: dg.AssetCheckKey, location: Any, tmp_path: Path) -> None:
    table, check, expectation_id = BRONZE_CASES[key]
    clean = CLEAN[table]()
    if check == LEDGER_CHECK:
        frame, extra = clean, UNACCOUNTED_LINES
    else:
        frame, extra = mutation(table, expectation_id)[0](clean), 0
    downstream, downstream_def = _downstream(location, key.asset_key)
    result = _run(
        [_bronze_standin(table, frame, extra), _check_def(location, key.asset_key), downstream_def],
        [key.asset_key, downstream],
        tmp_path / "data",
        partition_key=DAY.isoformat(),
    )
    evals = _assert_blocked(result, key, expectation_id, downstream)
    bad = evals[key.name]
    assert bad.partition == DAY.isoformat()
    if expectation_id != "columns":  # a table-level expectation has no failing rows
        sample = bad.metadata["failing_rows"].value
        assert sample.startswith("| expectation |") and f"| {expectation_id} |" in sample
    docs = bad.metadata["data_docs"].value
    assert docs.startswith("file://") and Path(docs.removeprefix("file://")).is_file()
    assert_no_identifiers(evals, frame)


# --------------------------------------------------------------------------------------------
# marts: every error check, and the last good publication stays


@pytest.fixture(scope="module")
def bronze_for_marts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("marts_bronze")
    storage.write_partitions(root / "clickstream_events", qf.revenue_bronze_frame(), ["event_date"])
    return root


@pytest.fixture(scope="module")
def last_good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published ``marts.duckdb`` from the clean build (the real publication function)."""
    root = tmp_path_factory.mktemp("last_good")
    qf.write_build(root / "build.duckdb")
    publish_marts(root / "build.duckdb", root / "marts.duckdb", ("marts",), {"run": "last-good"})
    return root / "marts.duckdb"


def _mart_params() -> list[Any]:
    return [
        pytest.param(
            key,
            id=f"{key.asset_key.path[-1]}-{key.name}",
            marks=() if key.name == "session_duration_valid" else pytest.mark.slow,
        )
        for key in MART_CASES
    ]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("key", _mart_params())
def test_mart_error_check_blocks_publication_and_keeps_last_good(
    key: dg.AssetCheckKey, location: Any, bronze_for_marts: Path, last_good: Path, tmp_path: Path
) -> None:
    _table, suite_name, expectation_id = MART_CASES[key]
    root = tmp_path / "data"
    (root / "delta").mkdir(parents=True)
    (root / "delta" / "bronze").symlink_to(bronze_for_marts)
    published = root / "marts.duckdb"
    published.write_bytes(last_good.read_bytes())
    before = _digest(published)

    @dg.asset(key=key.asset_key)
    def standin(lakehouse: LakehouseResource) -> None:
        build_file(lakehouse.paths.root).parent.mkdir(parents=True, exist_ok=True)
        qf.write_build(build_file(lakehouse.paths.root), VIOLATIONS[(suite_name, expectation_id)])

    downstream, downstream_def = _downstream(location, key.asset_key)
    assert downstream == dg.AssetKey(["published", "marts_duckdb"]) or downstream.path[0] == "staging"
    result = _run(
        [standin, _check_def(location, key.asset_key), downstream_def], [key.asset_key, downstream], root
    )
    evals = _assert_blocked(result, key, expectation_id, downstream)
    sample = evals[key.name].metadata["failing_rows"].value
    assert f"| {expectation_id} |" in sample
    assert_no_identifiers(
        evals, pl.concat([f.select(pl.all().cast(pl.String)) for f in _build_ids()], how="diagonal")
    )
    # the last good publication is untouched and still the clean data
    assert _digest(published) == before
    assert not (root / "marts.previous.duckdb").exists()
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select max(duration_seconds) from fct_sessions").fetchone()[0] < 86400
        assert con.execute("select count(*) from mart_rfm").fetchone()[0] == 3


def _build_ids() -> list[pl.DataFrame]:
    return [f.select([c for c in ALL_IDENTIFIER_KEYS if c in f.columns]) for f in qf.mart_tables().values()]


# --------------------------------------------------------------------------------------------
# a partition RANGE run (single-run backfill): every delivery day of the window is validated


def _days_frame(days: list[dt.date], bad_day: dt.date) -> pl.DataFrame:
    """Clean clickstream for each delivery day (landed the next night), one negative price on ``bad_day``."""
    frames = []
    for d in days:
        f = qf.clickstream_frame(day=d).with_columns(
            _landed_at=pl.lit(dt.datetime.combine(d + dt.timedelta(days=1), dt.time(2), tzinfo=dt.UTC))
        )
        if d == bad_day:
            f = f.with_columns(
                price=pl.when(pl.col("event_type") == "purchase").then(-1.0).otherwise(pl.col("price"))
            )
        frames.append(f)
    return pl.concat(frames)


def test_range_run_validates_every_delivery_day_of_the_window(
    location: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single-run backfill of three delivery days: one result per check for the window, read in
    batches of whole partitions (one partition per batch here) and merged."""
    import expectations.bronze

    monkeypatch.setattr(expectations.bronze, "MAX_BATCH_ROWS", 1)
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    bad_day = days[1]
    key = dg.AssetKey(["bronze", "clickstream_events"])
    frame = _days_frame(days, bad_day)
    result = _run(
        [_bronze_standin("clickstream_events", frame), _check_def(location, key)],
        [key],
        tmp_path / "data",
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        },
    )
    evals = _evaluations(result)
    bad = evals["amounts_valid"]
    assert not bad.passed and bad.partition is None  # one result for the whole window
    assert bad.metadata["rows_validated"].value == frame.height  # every day of the window was read
    assert bad.metadata["batches"].value == ", ".join(f"event_date {d}" for d in days)
    observed = bad.metadata["observed"].value
    assert f"[event_date {bad_day}] 2 of" in observed  # the two purchases of the bad day only
    assert "-1.0" in bad.metadata["failing_rows"].value
    assert {n for n, e in evals.items() if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR} == {
        "amounts_valid"
    }
    assert evals["landing_ledger_balanced"].passed and evals["key_unique_per_partition"].passed
    assert_no_identifiers(evals, frame)
