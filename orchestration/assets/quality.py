"""Data quality as Dagster asset checks: the GX suites of :mod:`expectations`, gating downstream work.

Each suite runs as asset checks ON THE ASSET IT VALIDATES, one check per named group of
expectations (``keys_not_null``, ``timestamps_plausible``, ...). Error checks are
``blocking=True`` with severity ERROR: in a run that materialises bronze and the marts, a failed
bronze check stops every downstream asset (marts, training, publishing) from executing.
Distribution checks are WARN and never block. Every result carries the observed values and a
sample of failing rows as Markdown tables, and a link to its GX Data Docs page.

Factories take the asset key so the lead wires them to the real assets in
``orchestration/definitions.py``; GX itself is only imported when a check executes, so loading
the code location does not pay its multi-second import. Freshness (Dagster 1.13: ``FreshnessPolicy`` attached
to asset specs) is applied with :func:`with_freshness_policies`.
"""

import datetime as dt
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import dagster as dg
from dagster import AssetCheckExecutionContext

from expectations.bronze import bronze_suite
from expectations.distribution import distribution_suite
from expectations.landing_ledger import ledger_suite
from expectations.marts import LAYOUT, MartCheck, MartLayout, mart_checks
from expectations.model import Severity, Suite
from orchestration.resources import DUCKDB_POOL, LakehouseResource

if TYPE_CHECKING:
    from expectations.runner import SuiteRun

#: Bronze is landed daily: older than this it missed a schedule tick (24 h + 2 h slack).
BRONZE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=25)
)
#: Marts and the published file are rebuilt after bronze each day; they may lag it by 2 h.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=28), warn_window=dt.timedelta(hours=26)
)


def _severity(s: Severity) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if s is Severity.ERROR else dg.AssetCheckSeverity.WARN


def _specs(
    asset_key: dg.AssetKey, suites: Iterable[Suite], partitions_def: dg.PartitionsDefinition | None
) -> list[dg.AssetCheckSpec]:
    # Partitioned checks are "preview" in 1.13 but are how a result is recorded per delivery day
    # (the run's partition), which is what the bronze checks validate; silence the notice.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _make_specs(asset_key, suites, partitions_def)


def _make_specs(
    asset_key: dg.AssetKey, suites: Iterable[Suite], partitions_def: dg.PartitionsDefinition | None
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            info.name,
            asset=asset_key,
            description=f"{info.description} (GX suite {suite.name}, {info.severity})",
            blocking=info.severity is Severity.ERROR,
            metadata={"gx_suite": suite.name, "severity": str(info.severity)},
            partitions_def=partitions_def,
        )
        for suite in suites
        for info in suite.checks
    ]


def check_results(asset_key: dg.AssetKey, run: "SuiteRun") -> Iterator[dg.AssetCheckResult]:
    """One AssetCheckResult per check of a suite run, with observed values, failing rows and docs link."""
    for outcome in run.checks():
        metadata: dict[str, dg.MetadataValue] = {
            "observed": dg.MetadataValue.md(outcome.observed_markdown()),
            "failing_rows": dg.MetadataValue.md(outcome.sample_markdown() or "_no failing rows_"),
            "failed_expectations": dg.MetadataValue.int(len(outcome.failed)),
            "rows_validated": dg.MetadataValue.int(run.rows),
            "gx_suite": dg.MetadataValue.text(run.suite.name),
        }
        if run.extra.get("batches"):
            metadata["batches"] = dg.MetadataValue.text(", ".join(run.extra["batches"]))
        if outcome.docs_url:
            metadata["data_docs"] = dg.MetadataValue.url(outcome.docs_url)
        yield dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=outcome.name,
            passed=outcome.passed,
            severity=_severity(outcome.severity),
            metadata=metadata,
            description=outcome.description,
        )


def check_days(context: AssetCheckExecutionContext) -> tuple[dt.date, dt.date] | None:
    """The delivery days a bronze check validates: the half-open window ``[start, end)`` of the
    run's partition or partition RANGE (a single-run backfill), or None (unpartitioned: whole table)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window.start.date(), window.end.date()


def bronze_quality_checks(
    asset_key: "dg.AssetKey | str | Sequence[str]",
    table: str,
    partitions_def: dg.PartitionsDefinition | None = None,
    *,
    distribution: bool = True,
) -> dg.AssetChecksDefinition:
    """Checks of one bronze table: its blocking contract suite, the landing ledger, and (WARN) distribution.

    With ``partitions_def`` (the bronze assets' delivery-day partitions) a run checks the rows
    landed from the files of EVERY delivery day of its partition or partition range; without,
    the whole table. Over a range each check reports one result for the window (Dagster records
    range results without a partition), its observed values naming the failing event dates.
    """
    key = dg.AssetKey.from_coercible(asset_key)
    suites = [bronze_suite(table), ledger_suite(), *([distribution_suite(table)] if distribution else [])]

    @dg.multi_asset_check(
        name=f"quality_{'_'.join(key.path)}",
        specs=_specs(key, suites, partitions_def),
        description=f"GX suites of bronze {table}",
        op_tags={"layer": "quality"},
    )
    def _checks(
        context: AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        from expectations.bronze import delivery_days
        from expectations.runner import quality_context
        from expectations.suites import run_bronze, run_distribution, run_ledger

        window = check_days(context)
        days = delivery_days(window)
        p = lakehouse.paths
        if window is not None:
            context.log.info(
                f"validating {table} delivered in [{window[0]}, {window[1]}): {len(days or [])} day(s)"
            )
        runners: list[Callable[..., SuiteRun]] = [run_bronze, run_ledger]
        if distribution:
            runners.append(run_distribution)
        runs = [runner(p, table, days, build_index=False) for runner in runners]
        quality_context(p.gx).build_index()  # once per step, not once per suite
        for run in runs:
            yield from check_results(key, run)

    return _checks


def mart_quality_checks(
    layout: MartLayout = LAYOUT, asset_keys: dict[str, "dg.AssetKey | str | Sequence[str]"] | None = None
) -> list[dg.AssetChecksDefinition]:
    """One blocking multi-check per mart asset (its suites), reading the private build DuckDB.

    ``asset_keys`` maps a ``schema.table`` of the layout to its asset key when it differs from
    ``[schema, table]``.
    """
    by_table: dict[str, list[MartCheck]] = {}
    for c in mart_checks(layout):
        by_table.setdefault(c.table, []).append(c)
    defs = []
    for table, checks in by_table.items():
        key = dg.AssetKey.from_coercible((asset_keys or {}).get(table, layout.asset(table)))
        defs.append(_mart_checks_def(key, checks, layout))
    return defs


def _mart_checks_def(
    key: dg.AssetKey, checks: Sequence[MartCheck], layout: MartLayout
) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        name=f"quality_{'_'.join(key.path)}",
        specs=_specs(key, [c.suite for c in checks], None),
        description=f"GX suites of {key.to_user_string()}",
        op_tags={"layer": "quality"},
        # reads the build DuckDB: a reader blocks its writer, so it queues with dbt and publishing
        pool=DUCKDB_POOL,
    )
    def _checks(lakehouse: LakehouseResource) -> Iterator[dg.AssetCheckResult]:
        from expectations.runner import quality_context
        from expectations.suites import run_mart

        p = lakehouse.paths
        runs = [run_mart(p, c, layout, build_index=False) for c in checks]
        quality_context(p.gx).build_index()
        for run in runs:
            yield from check_results(key, run)

    return _checks


#: Asset key prefix -> the freshness policy its assets get from :func:`with_freshness_policies`.
FRESHNESS_BY_PREFIX: dict[str, dg.FreshnessPolicy] = {
    "bronze": BRONZE_FRESHNESS,
    "marts": MARTS_FRESHNESS,
    "published": MARTS_FRESHNESS,
}


def freshness_for(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` with the freshness policy of its layer (key prefix), unchanged for other layers."""
    policy = FRESHNESS_BY_PREFIX.get(spec.key.path[0])
    return spec.replace_attributes(freshness_policy=policy) if policy is not None else spec


def with_freshness_policies(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with Dagster 1.13 freshness policies: bronze 26 h, marts and published 28 h.

    1.13 supersedes freshness *checks* by ``FreshnessPolicy`` on the asset spec: the state shows
    as Fresh / Warning / Failing on every asset page and in the catalog, no sensor needed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=freshness_for)


def _default_checks() -> list[dg.AssetChecksDefinition]:
    from orchestration.assets.bronze import BRONZE_PARTITIONS, CLICKSTREAM_KEY, SENSORS_KEY

    return [
        bronze_quality_checks(CLICKSTREAM_KEY, "clickstream_events", BRONZE_PARTITIONS),
        bronze_quality_checks(SENSORS_KEY, "sensor_readings", BRONZE_PARTITIONS),
        *mart_quality_checks(),
    ]


defs = dg.Definitions(asset_checks=_default_checks())
