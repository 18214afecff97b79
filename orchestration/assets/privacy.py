"""Privacy in Dagster: the erasure job, the retention job and schedule, and the DP public metrics.

* ``privacy_erase_job``: erases the people listed in a request file (raw user ids, one per line).
  Run config names the FILE, never the id: Dagster keeps run config for ever in its run storage,
  which erasure cannot clean, so a raw id typed into run config would survive its own erasure.
  ``confirm: true`` is required. The request file is deleted after a successful run and the
  requester's receipts (audit request id + salt, no identifier) are written beside it.
* ``privacy_erasure_retraining``: when an erasure run succeeds, requests ``ml_training_job`` (the
  erased models' versions are tagged ``beacon.retrain_required`` in MLflow).
* ``privacy_retention_job`` + ``privacy_retention_schedule`` (daily 02:30 UTC): deletes partitions
  and landing folders past retention (``lakehouse/privacy/retention.yaml``), vacuums, purges logs.
* ``public/public_*`` assets: the differentially private public metrics, written to schema
  ``public`` of the build file; the publication copies that schema to ``marts.duckdb``. A release
  refused by the budget ledger materialises with ``released = false`` and leaves the last
  released tables in place (the publication still runs).
"""

import datetime as dt
import json
from pathlib import Path

import dagster as dg

from lakehouse.privacy.dp_metrics import DPConfig
from lakehouse.publish import build_db_path
from orchestration.assets import ml
from orchestration.resources import DUCKDB_POOL, LakehouseResource, PseudonymKeyResource

GROUP = "privacy"
OWNERS = ["team:data-platform"]
PUBLIC_KEYS = [
    dg.AssetKey(["public", "public_daily_visitors_by_country"]),
    dg.AssetKey(["public", "public_conversion_rate_daily"]),
    dg.AssetKey(["public", "public_occupancy_by_hour_of_week"]),
]
DP_DEPS = [dg.AssetKey(["marts", "fct_sessions"]), dg.AssetKey(["marts", "mart_home_occupancy_profile"])]


class ErasureConfig(dg.Config):
    """Who to erase (a FILE of raw user ids, one per line) and the explicit confirmation."""

    user_ids_file: str
    confirm: bool = False


class RetentionConfig(dg.Config):
    """Optional policy file (default: $BEACON_RETENTION_CONFIG or the shipped retention.yaml) and day."""

    policy_file: str = ""
    today: str = ""


class PublicMetricsConfig(dg.Config):
    """Epsilon per metric and the scope's total budget (see :class:`lakehouse.privacy.dp_metrics.DPConfig`)."""

    epsilon_visitors: float = DPConfig.epsilon_visitors
    epsilon_conversion: float = DPConfig.epsilon_conversion
    epsilon_occupancy: float = DPConfig.epsilon_occupancy
    total_epsilon: float = DPConfig.total_epsilon
    scope: str = DPConfig.scope
    window_days: int = DPConfig.window_days
    max_visitor_days: int = DPConfig.max_visitor_days
    max_visitor_sessions: int = DPConfig.max_visitor_sessions


def read_request_file(path: Path) -> list[str]:
    """Raw user ids of a request file: one per line, blank lines and ``#`` comments ignored."""
    ids = [ln.strip() for ln in path.read_text().splitlines()]
    return list(dict.fromkeys(i for i in ids if i and not i.startswith("#")))


def _request_path(lakehouse: LakehouseResource, raw: str) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else lakehouse.paths.root / path


@dg.op(
    pool=DUCKDB_POOL,
    description="Erase every person of the request file from bronze, landing, the build and published "
    "DuckDB files, truth and MLflow (flagged), then record the audit. Needs confirm: true.",
)
def erase_users(
    context: dg.OpExecutionContext,
    config: ErasureConfig,
    lakehouse: LakehouseResource,
    pseudonym_key: PseudonymKeyResource,
) -> dg.Output[list[str]]:
    from lakehouse.privacy.erase import ErasureNotConfirmed, erase_user

    if not config.confirm:
        raise ErasureNotConfirmed("privacy_erase_job needs confirm: true in its run config")
    request = _request_path(lakehouse, config.user_ids_file)
    users = read_request_file(request)
    if not users:
        raise ValueError(f"{request} lists no user id")
    receipts, totals = [], {}
    for raw in users:
        report = erase_user(
            raw, pseudonym_key.resolve(), lakehouse.paths, True, run_id=context.run_id, log=context.log.info
        )
        receipts.append({"request_id": report.receipt.request_id, "salt": report.receipt.salt})
        for place, rows in report.summary().items():
            totals[place] = totals.get(place, 0) + rows
    receipt_file = request.with_name(request.name + ".receipts.json")
    receipt_file.write_text(json.dumps(receipts, indent=2))
    request.unlink()  # the request file holds raw ids: it goes once they are erased
    return dg.Output(
        [r["request_id"] for r in receipts],
        metadata={
            "people": len(users),
            "request_ids": dg.MetadataValue.json([r["request_id"] for r in receipts]),
            "rows_removed": dg.MetadataValue.json(totals),
            "receipts_file": dg.MetadataValue.path(str(receipt_file)),
        },
    )


@dg.job(
    description="Right to erasure. Run config: ops.erase_users.config.user_ids_file (a file of raw ids, "
    "never the ids themselves) and confirm: true.",
    tags={"beacon/privacy": "erasure"},
)
def privacy_erase_job() -> None:
    erase_users()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[privacy_erase_job],
    request_job=ml.ml_training_job,
    name="privacy_erasure_retraining",
    description="Retrain the models after an erasure (their versions were tagged beacon.retrain_required).",
)
def erasure_retraining_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"erasure-{context.dagster_run.run_id}", tags={ml.DRIFT_TAG: "erasure"})


@dg.op(
    description="Delete partitions and landing folders past retention, vacuum, purge the Delta log history."
)
def apply_retention_policy(
    context: dg.OpExecutionContext, config: RetentionConfig, lakehouse: LakehouseResource
) -> dg.Output[int]:
    from lakehouse.privacy.retention import apply_retention, load_policy

    policy = load_policy(Path(config.policy_file) if config.policy_file else None)
    today = dt.date.fromisoformat(config.today) if config.today else None
    results = apply_retention(lakehouse.paths, policy, today)
    for r in results:
        context.log.info(
            f"{r.place}: {r.partitions_deleted} partition(s), {r.rows_deleted} row(s) before {r.cutoff}"
        )
    return dg.Output(
        sum(r.rows_deleted for r in results),
        metadata={
            "results": dg.MetadataValue.json(
                {
                    r.place: {
                        "cutoff": r.cutoff.isoformat(),
                        "partitions": r.partitions_deleted,
                        "rows": r.rows_deleted,
                    }
                    for r in results
                }
            )
        },
    )


@dg.job(description="Retention: delete what is older than the configured retention per table.")
def privacy_retention_job() -> None:
    apply_retention_policy()


privacy_retention_schedule = dg.ScheduleDefinition(
    name="privacy_retention_schedule",
    job=privacy_retention_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="Daily 02:30 UTC, after landing (00:30) and the daily refresh (01:30).",
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            k,
            deps=DP_DEPS,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"duckdb", "opendp"},
            description="Differentially private public metric (OpenDP), schema public.",
        )
        for k in PUBLIC_KEYS
    ],
    pool=DUCKDB_POOL,
    name="dp_public_metrics",
)
def dp_public_metrics(
    context: dg.AssetExecutionContext, config: PublicMetricsConfig, lakehouse: LakehouseResource
):  # type: ignore[no-untyped-def]
    from lakehouse.privacy.budget import BudgetExhausted
    from lakehouse.privacy.dp_metrics import release_public_metrics

    cfg = DPConfig(**config.model_dump())
    try:
        release = release_public_metrics(build_db_path(lakehouse.paths.build), lakehouse.paths, cfg)
    except BudgetExhausted as exc:
        context.log.warning(str(exc))
        for key in PUBLIC_KEYS:
            yield dg.MaterializeResult(asset_key=key, metadata={"released": False, "reason": str(exc)})
        return
    for key in PUBLIC_KEYS:
        frame = release.tables[key.path[-1]]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "released": True,
                "release_id": release.release_id,
                "rows": frame.height,
                "epsilon": float(frame["epsilon"][0]),
                "window": f"{release.window[0]} .. {release.window[1]} (end exclusive)",
                "epsilon_left_in_scope": float(release.epsilon_left or 0.0),
            },
        )


defs = dg.Definitions(
    assets=[dp_public_metrics],
    jobs=[privacy_erase_job, privacy_retention_job],
    schedules=[privacy_retention_schedule],
    sensors=[erasure_retraining_sensor],
)
