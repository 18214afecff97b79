"""Near-real-time Dagster definitions: minute-level landing of micro-batches and abandoned-cart triggers.

* ``realtime_landing_sensor`` (every ``$BEACON_REALTIME_LANDING_INTERVAL_S`` seconds, default 60):
  when files the landing ledger does not know are waiting (collector and MQTT micro-batches, or
  anything else), requests ONE run of the bronze landing job over the delivery days concerned
  (a partition range run: one commit per table). It reuses ``bronze_landing`` as is, so
  micro-batches get exactly the daily path's guarantees (content-hash ledger, key de-duplication,
  quarantine). The run key hashes the pending files' identities: a tick that sees the same
  files again requests nothing.
* ``realtime_compaction_schedule``: hourly bronze compaction (``bronze_compaction_job``), because
  minute-level landing adds up to one small file per table and minute.
* ``abandoned_cart_triggers`` (asset, group ``realtime``, every 5 minutes): see
  :mod:`lakehouse.realtime.cart_triggers`.
"""

import datetime as dt
import hashlib
import os

import dagster as dg

from lakehouse.realtime.cart_triggers import (
    CartRules,
    deliver,
    published_recommender,
    read_recent_events,
    record_triggers,
)
from orchestration.assets.bronze import BRONZE_PARTITIONS, CLICKSTREAM_KEY, pending_by_day, range_tags
from orchestration.resources import LakehouseResource

#: Seconds between landing sensor ticks (the freshness budget is this plus one landing run).
DEFAULT_INTERVAL_S = 60
INTERVAL_ENV = "BEACON_REALTIME_LANDING_INTERVAL_S"
BRONZE_JOB = "bronze_landing_job"
CART_TRIGGERS_KEY = dg.AssetKey(["realtime", "abandoned_cart_triggers"])


def landing_interval_seconds() -> int:
    """The sensor interval: ``$BEACON_REALTIME_LANDING_INTERVAL_S`` or 60 (at least 5)."""
    return max(5, int(os.environ.get(INTERVAL_ENV, str(DEFAULT_INTERVAL_S))))


def micro_batch_run_request(lakehouse: LakehouseResource) -> dg.RunRequest | None:
    """One run over every delivery day with pending files (None when nothing waits)."""
    pending = {d: f for d, f in pending_by_day(lakehouse).items() if BRONZE_PARTITIONS.has_partition_key(d)}
    if not pending:
        return None
    items = sorted(i for files in pending.values() for i in files)
    digest = hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]
    days = sorted(pending)
    return dg.RunRequest(
        run_key=f"realtime:{digest}",
        job_name=BRONZE_JOB,
        tags={
            **range_tags(days[0], days[-1]),
            "beacon/pending_files": str(len(items)),
            "beacon/trigger": "realtime",
        },
    )


def build_realtime_landing_sensor(interval_seconds: int | None = None) -> dg.SensorDefinition:
    """The minute-level landing sensor at ``interval_seconds`` (default: :func:`landing_interval_seconds`)."""

    @dg.sensor(
        name="realtime_landing_sensor",
        job_name=BRONZE_JOB,
        minimum_interval_seconds=interval_seconds or landing_interval_seconds(),
        # Off by default: turn it on where collectors or the MQTT subscriber run. The daily
        # `bronze_landing_sensor` lands the same files by delivery day; both running is safe
        # (landing lock and ledger) but does the work twice.
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Lands pending micro-batches (collector, MQTT) into bronze in one range run per tick.",
    )
    def realtime_landing_sensor(
        context: dg.SensorEvaluationContext, lakehouse: LakehouseResource
    ) -> dg.SensorResult:
        request = micro_batch_run_request(lakehouse)
        if request is None:
            return dg.SensorResult(skip_reason=dg.SkipReason("no pending micro-batches"))
        context.log.info(f"requesting landing of {request.tags['beacon/pending_files']} file(s)")
        return dg.SensorResult(run_requests=[request])

    return realtime_landing_sensor


realtime_landing_sensor = build_realtime_landing_sensor()

realtime_compaction_schedule = dg.ScheduleDefinition(
    name="realtime_compaction_schedule",
    job_name="bronze_compaction_job",
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: compact the small files minute-level landing leaves in bronze partitions.",
)


class CartTriggerConfig(dg.Config):
    """Thresholds of the abandoned-cart rule and the optional webhook."""

    abandon_after_minutes: int = 30
    lookback_hours: int = 48
    max_idle_hours: int = 24
    recommended_k: int = 5
    webhook_url: str = ""  # empty: $BEACON_CART_WEBHOOK_URL, else no webhook (outbox only)
    webhook_max_attempts: int = 4
    webhook_backoff_seconds: float = 0.5


@dg.asset(
    key=CART_TRIGGERS_KEY,
    deps=[CLICKSTREAM_KEY],
    group_name="realtime",
    owners=["team:data-platform"],
    kinds={"delta", "polars"},
    description="One trigger per abandoned cart (items, value, recommended items; consenting users only) "
    "appended to the Delta outbox outbox/abandoned_cart_triggers, then pushed to the webhook with retries.",
)
def abandoned_cart_triggers(
    context: dg.AssetExecutionContext, config: CartTriggerConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    paths = lakehouse.paths
    rules = CartRules(
        config.abandon_after_minutes, config.lookback_hours, config.max_idle_hours, config.recommended_k
    )
    now = dt.datetime.now(dt.UTC)
    events = read_recent_events(paths, now - dt.timedelta(hours=rules.lookback_hours))
    new = record_triggers(paths, events, now, rules, published_recommender(paths.marts), context.run_id)
    meta: dict[str, dg.RawMetadataValue] = {
        "new_triggers": new.height,
        "cart_value_sum": float(new["value"].sum() or 0.0),
        "events_read": events.height,
    }
    url = config.webhook_url or os.environ.get("BEACON_CART_WEBHOOK_URL", "")
    if url:
        outcomes = deliver(paths, url, config.webhook_max_attempts, config.webhook_backoff_seconds)
        meta["webhook_delivered"] = int((outcomes["status"] == "delivered").sum()) if outcomes.height else 0
        meta["webhook_failed"] = int((outcomes["status"] == "failed").sum()) if outcomes.height else 0
        if meta["webhook_failed"]:
            context.log.warning(f"{meta['webhook_failed']} trigger(s) not delivered; retried next run")
    return dg.MaterializeResult(metadata=meta)


cart_triggers_job = dg.define_asset_job(
    "abandoned_cart_job", selection=dg.AssetSelection.assets(abandoned_cart_triggers)
)
cart_triggers_schedule = dg.ScheduleDefinition(
    job=cart_triggers_job,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 5 minutes: record and push abandoned-cart triggers.",
)

defs = dg.Definitions(
    assets=[abandoned_cart_triggers],
    sensors=[realtime_landing_sensor],
    schedules=[realtime_compaction_schedule, cart_triggers_schedule],
    jobs=[cart_triggers_job],
)
