"""Bronze assets: landing files become the ``bronze/*`` Delta tables, once per delivery day.

Partition scheme: DAILY, UTC, keyed by the DELIVERY day, i.e. the landing folder date
(``landing/clickstream/<day>/``, ``landing/sensors/<day>/``); a user's import files
(``landing/imports/<name>/``) belong to the UTC date of their modification time (their day of
arrival), since an export's rows can span years while its arrival is one day. Late events are
delivered on a later day and land into their own (older) ``event_date`` partitions of the
table: the Dagster partition says which files were landed, not which event dates changed.

One run lands the three tables together (one multi-asset, not subsettable) because a file's
valid rows and its quarantined rows must be accounted for in the same run. Re-running a
partition is safe: files already in the landing ledger are skipped, so the tables do not
change. A backfill of many days is ONE run (``BackfillPolicy.single_run()``): it lands the files
of every delivery day of the range with one commit per table. Launch one with the run tags
``dagster/asset_partition_range_start`` and ``dagster/asset_partition_range_end`` (what the UI's
backfill does), e.g. ``job.execute_in_process(tags=range_tags("2026-01-01", "2026-01-30"))``. The sensor notices new files (including a renamed copy, which is recorded as a
duplicate content and landed zero times) and requests one run per delivery day, with a run
key naming exactly the pending files so the same files never trigger two runs.
"""

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from lakehouse.landing import QUARANTINE_TABLE, land
from lakehouse.landing.files import discover
from lakehouse.landing.ledger import read_ledger
from lakehouse.landing.maintenance import DEFAULT_MAX_FILES_PER_PARTITION, maintain_bronze
from lakehouse.landing.schemas import ALL_IDENTIFIER_KEYS, LEDGER_TABLE
from lakehouse.storage import DEFAULT_RETENTION_HOURS
from orchestration.resources import DAILY_PARTITIONS, LakehouseResource, PseudonymKeyResource

#: Delivery days. end_offset=1 lets today's files land before the day is over.
BRONZE_PARTITIONS = DAILY_PARTITIONS

CLICKSTREAM_KEY = dg.AssetKey(["bronze", "clickstream_events"])
SENSORS_KEY = dg.AssetKey(["bronze", "sensor_readings"])
QUARANTINE_KEY = dg.AssetKey(["bronze", "quarantine"])
_OWNERS = ["team:data-platform"]
_KINDS = {"delta", "polars"}
_TABLE_KEYS = {
    "clickstream_events": CLICKSTREAM_KEY,
    "sensor_readings": SENSORS_KEY,
    QUARANTINE_TABLE: QUARANTINE_KEY,
}

_SPECS = [
    dg.AssetSpec(
        CLICKSTREAM_KEY,
        description=(
            "Clickstream events as delivered, typed per the clickstream contract, identifiers "
            "pseudonymised (HMAC-SHA256; null without analytics consent), de-duplicated by event_id, "
            "partitioned by event_date (UTC), with lineage (_source_file, _source_line, _landed_at, "
            "_landing_run_id)."
        ),
        group_name="bronze",
        owners=_OWNERS,
        kinds=_KINDS,
        partitions_def=BRONZE_PARTITIONS,
        tags={"layer": "bronze"},
        metadata={"table_path": "delta/bronze/clickstream_events"},
    ),
    dg.AssetSpec(
        SENSORS_KEY,
        description=(
            "Smart-home sensor readings typed per the sensor contract, home_id/user_id pseudonymised, "
            "de-duplicated by reading_id, partitioned by event_date (UTC), with lineage."
        ),
        group_name="bronze",
        owners=_OWNERS,
        kinds=_KINDS,
        partitions_def=BRONZE_PARTITIONS,
        tags={"layer": "bronze"},
        metadata={"table_path": "delta/bronze/sensor_readings"},
    ),
    dg.AssetSpec(
        QUARANTINE_KEY,
        description=(
            "Every line that failed its contract or could not be parsed, with the reason, source file, "
            "line number and raw payload (identifiers pseudonymised), partitioned by landing_date "
            "(the delivery day)."
        ),
        group_name="bronze",
        owners=_OWNERS,
        kinds=_KINDS,
        partitions_def=BRONZE_PARTITIONS,
        tags={"layer": "bronze"},
        metadata={"table_path": "delta/bronze/quarantine"},
    ),
]


#: Columns never shown in run metadata: Dagster's event log is kept apart from the lakehouse, so
#: an erasure there would be missed; identifiers (even pseudonymised) and raw payloads (which
#: carry them) stay out of it.
PREVIEW_HIDDEN = (*ALL_IDENTIFIER_KEYS, "raw_payload")
_PSEUDONYM = r"\b[0-9a-f]{64}\b"


def range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the delivery days ``start`` to ``end`` (inclusive)."""
    return {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }


def safe_preview(frame: pl.DataFrame) -> pl.DataFrame:
    """The preview without identifier columns, and with any pseudonym left in text masked."""
    kept = frame.drop([c for c in PREVIEW_HIDDEN if c in frame.columns])
    text = [c for c, t in kept.schema.items() if t == pl.String]
    return kept.with_columns(pl.col(text).str.replace_all(_PSEUDONYM, "<pseudonym>"))


def markdown_preview(frame: pl.DataFrame, rows: int = 5, width: int = 24) -> str:
    """A small markdown table of the first rows (long values cut) for the Dagster UI."""
    head = frame.head(rows).select(pl.all().cast(pl.String).str.slice(0, width).fill_null(""))
    if not head.columns:
        return "_no rows_"
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in head.iter_rows()]
    return "\n".join(lines)


def _metadata(
    report: Any, table: str | None, version: int | None, preview: pl.DataFrame | None
) -> dict[str, Any]:
    totals = report.totals(table) if table else report.totals()
    meta: dict[str, Any] = {
        "files": dg.MetadataValue.int(totals["files"]),
        "duplicate_files": dg.MetadataValue.int(totals["duplicate_files"]),
        "bytes": dg.MetadataValue.int(totals["bytes"]),
        "lines_read": dg.MetadataValue.int(totals["lines_read"]),
        "rows_landed": dg.MetadataValue.int(totals["rows_landed"]),
        "rows_quarantined": dg.MetadataValue.int(totals["rows_quarantined"]),
        "duplicates": dg.MetadataValue.int(totals["duplicates"]),
        "mapping_skipped": dg.MetadataValue.int(totals["skipped"]),
        "landing_run_id": dg.MetadataValue.text(report.run_id),
        "delivery_days": dg.MetadataValue.text(
            ", ".join(d.isoformat() for d in report.days) if report.days else "all pending"
        ),
        "delta_version": dg.MetadataValue.int(-1 if version is None else version),
        "preview": dg.MetadataValue.md(
            markdown_preview(safe_preview(preview)) if preview is not None else "_no new rows_"
        ),
    }
    if report.failed:
        meta["files_not_landed"] = dg.MetadataValue.text("\n".join(report.failed))
    if report.pending_imports:
        meta["imports_not_landed"] = dg.MetadataValue.text("\n".join(report.pending_imports))
    return meta


@dg.multi_asset(
    name="bronze_landing",
    specs=_SPECS,
    partitions_def=BRONZE_PARTITIONS,
    can_subset=False,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Land the files delivered on the run's day (or range of days, in one run) into the bronze "
        "Delta tables, exactly once."
    ),
    op_tags={"layer": "bronze"},
)
def bronze_landing(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, pseudonym_key: PseudonymKeyResource
) -> Iterator[dg.MaterializeResult]:
    """Land the run's delivery day(s); re-running is a no-op for files already landed."""
    days = [dt.date.fromisoformat(k) for k in context.partition_keys]
    context.log.info(f"landing {len(days)} delivery day(s): {days[0]} .. {days[-1]}")
    report = land(lakehouse.paths, pseudonym_key.resolve(), days, log=context.log.info)
    for table, key in _TABLE_KEYS.items():
        preview = report.previews.get(table)
        if table == QUARANTINE_TABLE:
            meta = _metadata(report, None, report.versions.get(table), preview)
            meta["rows_landed"] = dg.MetadataValue.int(report.totals()["rows_quarantined"])
        else:
            meta = _metadata(report, table, report.versions.get(table), preview)
        yield dg.MaterializeResult(asset_key=key, metadata=meta)
    if report.failed:
        raise dg.Failure(
            description=f"{len(report.failed)} file(s) could not be read and were not landed (the others were); "
            "fix or re-deliver them, the next run retries them",
            metadata={"failed_files": dg.MetadataValue.text("\n".join(report.failed))},
        )


bronze_landing_job = dg.define_asset_job(
    "bronze_landing_job",
    selection=dg.AssetSelection.assets(bronze_landing),
    description="Land the files of one delivery day, or of a range of days in one run, into the bronze tables.",
)


def pending_by_day(lakehouse: LakehouseResource) -> dict[str, list[str]]:
    """Delivery day -> landing files (relative paths) the ledger does not know yet (cheap: no hashing)."""
    paths = lakehouse.paths
    files, _problems = discover(paths.landing)
    ledger = read_ledger(paths.table("bronze", LEDGER_TABLE))
    known = set(
        zip(
            ledger["source_file"].to_list(),
            ledger["bytes"].to_list(),
            ledger["mtime_ns"].to_list(),
            strict=True,
        )
    )
    pending: dict[str, list[str]] = {}
    for f in files:
        if f.identity not in known:
            pending.setdefault(f.delivery_date.isoformat(), []).append(f"{f.rel}:{f.size}:{f.mtime_ns}")
    return pending


@dg.sensor(
    job=bronze_landing_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a landing run for each delivery day with files the ledger has not seen.",
)
def bronze_landing_sensor(
    context: dg.SensorEvaluationContext, lakehouse: LakehouseResource
) -> dg.SensorResult:
    """One RunRequest per day with pending files; the run key hashes those files' identities, so a
    tick that sees the same pending files again requests nothing new, and new files get a new run."""
    requests: list[dg.RunRequest] = []
    skipped: list[str] = []
    for day, items in sorted(pending_by_day(lakehouse).items()):
        if not BRONZE_PARTITIONS.has_partition_key(day):
            skipped.append(day)
            continue
        digest = hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                run_key=f"bronze:{day}:{digest}",
                partition_key=day,
                tags={"beacon/pending_files": str(len(items))},
            )
        )
    if skipped:
        context.log.warning(
            f"files delivered on days outside the partitions ({', '.join(skipped)}) wait: "
            "fix the folder date or extend BRONZE_PARTITIONS"
        )
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new landing files"))
    return dg.SensorResult(run_requests=requests)


@dg.schedule(
    job=bronze_landing_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    description="Daily safety net at 00:30 UTC: lands anything left of the day that just ended.",
)
def bronze_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    scheduled = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = (scheduled.date() - dt.timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"bronze-schedule:{day}", partition_key=day)


class CompactionConfig(dg.Config):
    """Bounds for bronze file layout; retention in hours (default $BEACON_VACUUM_RETENTION_HOURS or 168)."""

    max_files_per_partition: int = DEFAULT_MAX_FILES_PER_PARTITION
    retention_hours: int = DEFAULT_RETENTION_HOURS


@dg.op(
    description="Compact bronze partitions over the file limit (partition filter each) and vacuum old files.",
    tags={"layer": "bronze", "kind": "delta"},
)
def compact_bronze(
    context: dg.OpExecutionContext, config: CompactionConfig, lakehouse: LakehouseResource
) -> dict[str, Any]:
    results = maintain_bronze(lakehouse.paths, config.max_files_per_partition, config.retention_hours)
    summary = {
        r.table: {
            "partitions_compacted": len(r.partitions_compacted),
            "files_before": r.files_before,
            "files_after": r.files_after,
            "max_files_per_partition": r.max_files_per_partition_after,
            "vacuumed_files": r.vacuumed_files,
            "version": r.version,
        }
        for r in results
    }
    for table, s in summary.items():
        context.log.info(f"{table}: {s}")
    context.add_output_metadata({"summary": dg.MetadataValue.json(summary)})
    return summary


@dg.job(description="Bronze table maintenance: compaction then vacuum.", tags={"layer": "bronze"})
def bronze_compaction_job() -> None:
    compact_bronze()


bronze_compaction_schedule = dg.ScheduleDefinition(
    job=bronze_compaction_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    description="Daily at 03:00 UTC: keep files per bronze partition bounded and vacuum past the retention.",
)

defs = dg.Definitions(
    assets=[bronze_landing],
    sensors=[bronze_landing_sensor],
    schedules=[bronze_daily_schedule, bronze_compaction_schedule],
    jobs=[bronze_landing_job, bronze_compaction_job],
)
