"""Erasure on a small real lakehouse (generated files, real landing, DuckDB build and publication),
through the Dagster job: no byte of the person left anywhere under the data root, others untouched."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest
from privacy_helpers import START, build_and_publish_marts, pick_person, rows_digest, table_frame

from lakehouse import storage
from lakehouse.config import paths
from lakehouse.generator import generate
from lakehouse.landing import land
from lakehouse.privacy.audit import read_audit, request_id
from lakehouse.privacy.consent import withdrawn_personalisation
from lakehouse.privacy.erase import ErasureNotConfirmed, erase_user
from lakehouse.privacy.scan import scan_tree
from lakehouse.pseudonymise import pseudonymise_value
from orchestration.assets.privacy import ErasureConfig, erase_users, privacy_erase_job
from orchestration.resources import LakehouseResource, PseudonymKeyResource


def test_erase_job_leaves_no_trace_and_keeps_others(data_dir: Path, hmac_key: str) -> None:
    p = paths(data_dir)
    generate(out=p.landing, truth=p.truth, users=40, homes=2, days=3, start=START, seed=3)
    land(p, hmac_key)
    build_and_publish_marts(p)
    raw, home = pick_person(p, hmac_key)
    pseudonym, home_p = pseudonymise_value(raw, hmac_key), pseudonymise_value(home, hmac_key)
    # the person (and someone else) changed consent in the consent table: landing keeps its
    # pseudonymised copy in bronze, which erasure must clean too
    consent = p.landing / "consent" / "consent.csv"
    consent.parent.mkdir(parents=True)
    consent.write_text(
        "user_id,consent_analytics,consent_personalization,effective_at\n"
        f"{raw},true,false,2020-01-01T00:00:00Z\nu-someone-else,true,false,2020-01-01T00:00:00Z\n"
    )
    land(p, hmac_key)
    assert pseudonym in withdrawn_personalisation(p)["user_id"].to_list()
    # what a Spark-engine build leaves (lakehouse/spark/export.py): Delta exports of dbt's tables,
    # the session's Parquet warehouse and its Derby metastore, all holding the person's pseudonym
    spark_rows = table_frame(p.table("bronze", "clickstream_events")).filter(pl.col("user_id") == pseudonym)
    storage.replace_table(p.delta / "staging" / "stg_clickstream__events", spark_rows)
    storage.replace_table(p.delta / "marts" / "dim_users", spark_rows.select("user_id").unique())
    warehouse = p.spark / "warehouse" / "beacon.db" / "dim_users"
    warehouse.mkdir(parents=True)
    pq.write_table(spark_rows.select("user_id").to_arrow(), warehouse / "part-00000.parquet")
    (p.spark / "metastore_db").mkdir()
    (p.spark / "metastore_db" / "service.properties").write_text("derby\n")
    before = scan_tree(p.root, [raw, pseudonym])
    assert {0, 1} <= {f.needle for f in before}, "the person must be there first"
    assert {f.path.relative_to(p.root).parts[:2] for f in before} >= {
        ("delta", "staging"),
        ("delta", "marts"),
        ("spark", "warehouse"),
    }

    click, sensors = p.table("bronze", "clickstream_events"), p.table("bronze", "sensor_readings")
    before_c, before_s = table_frame(click), table_frame(sensors)
    assert before_c.filter(pl.col("user_id") == pseudonym).height > 0
    assert before_s.filter(pl.col("home_id") == home_p).height > 0
    others_c = before_c.filter(pl.col("user_id").is_not_null() & (pl.col("user_id") != pseudonym))
    others_s = before_s.filter(pl.col("home_id") != home_p)

    request = p.root / "erasure-request.txt"
    request.write_text(f"# one raw id per line\n{raw}\n")
    resources = {
        "lakehouse": LakehouseResource(data_dir=str(p.root)),
        "pseudonym_key": PseudonymKeyResource(),
    }
    with pytest.raises(ErasureNotConfirmed):  # the op itself, invoked directly: confirm defaults to false
        erase_users(dg.build_op_context(resources=resources), ErasureConfig(user_ids_file=request.name))
    assert request.exists() and not (p.delta / "privacy").exists()

    started = time.perf_counter()
    result = privacy_erase_job.execute_in_process(
        run_config={"ops": {"erase_users": {"config": {"user_ids_file": request.name, "confirm": True}}}},
        resources=resources,
    )
    seconds = time.perf_counter() - started
    assert result.success and not request.exists()
    findings = scan_tree(p.root, [raw, pseudonym, home, home_p])
    assert findings == [], [(str(f.path.relative_to(p.root)), f.how, f.needle) for f in findings]

    after_c, after_s = table_frame(click), table_frame(sensors)
    kept_c = after_c.filter(pl.col("user_id").is_not_null())
    assert rows_digest(kept_c, ["event_id"]) == rows_digest(others_c, ["event_id"])
    assert rows_digest(after_s, ["reading_id"]) == rows_digest(others_s, ["reading_id"])

    audit = read_audit(p)
    receipts = result.output_for_node("erase_users")
    assert audit["request_id"].unique().to_list() == receipts
    rows = dict(zip(audit["place"].to_list(), audit["rows_removed"].to_list(), strict=True))
    assert rows["bronze.clickstream_events"] >= before_c.filter(pl.col("user_id") == pseudonym).height
    assert rows["bronze.sensor_readings"] == before_s.filter(pl.col("home_id") == home_p).height
    assert rows["bronze.consent_changes"] == 1
    assert withdrawn_personalisation(p)["user_id"].to_list() == [
        pseudonymise_value("u-someone-else", hmac_key)
    ]
    assert rows["spark_export:staging"] == 0 and rows["spark_export:marts"] == 0  # dropped, not filtered
    files = dict(zip(audit["place"].to_list(), audit["files_rewritten"].to_list(), strict=True))
    assert files["spark_export:staging"] >= 2 and files["spark:warehouse"] == 1  # data file(s) + log
    assert not storage.table_exists(p.delta / "marts" / "dim_users")
    assert not (p.spark / "warehouse").exists() and not (p.spark / "metastore_db").exists()
    assert (
        rows["landing"] > 0
        and rows["published:marts.duckdb"] > 0
        and rows["published:marts.previous.duckdb"] > 0
    )
    salt = __import__("json").loads((p.root / "erasure-request.txt.receipts.json").read_text())[0]["salt"]
    assert request_id(pseudonym, salt) == receipts[0]

    # landing again lands nothing: the rewritten files are known to the ledger
    assert land(p, hmac_key).totals()["rows_landed"] == 0
    # idempotent
    again = erase_user(raw, hmac_key, p, True, flag_models=False)
    assert again.rows_removed == 0
    print(f"erase job on {before_c.height} events / {before_s.height} readings: {seconds:.1f} s")


def test_erase_refuses_without_confirmation(data_dir: Path, hmac_key: str) -> None:
    with pytest.raises(ErasureNotConfirmed):
        erase_user("u000001", hmac_key, paths(data_dir), False)
    assert not (data_dir / "delta" / "privacy").exists()


def test_cli_erase_needs_the_flag(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lakehouse.cli import main

    assert main(["erase", "--user", "u000001"]) == 2
    assert "--yes-i-am-sure" in capsys.readouterr().err


def test_privacy_definitions_resolve_with_ml(tmp_path: Path) -> None:
    from orchestration.assets import ml, privacy
    from orchestration.resources import default_resources

    merged = dg.Definitions.merge(dg.Definitions(resources=default_resources()), privacy.defs, ml.defs)
    assert merged.resolve_job_def("privacy_erase_job") is not None
    assert merged.resolve_schedule_def("privacy_retention_schedule").cron_schedule == "30 2 * * *"
    assert merged.resolve_sensor_def("privacy_erasure_retraining") is not None
