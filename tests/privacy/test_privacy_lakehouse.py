"""A whole built lakehouse (``beacon demo``, small): what BI can see, where the HMAC key is not, and
an erasure that leaves no byte of the person in any file under BEACON_DATA_DIR.

One module-scoped lakehouse (the demo is the expensive part) shared by every test here; the
erasure test runs last because it changes the lakehouse.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator

import duckdb
import polars as pl
import pytest
from privacy_helpers import pick_person, rows_digest, table_frame

from lakehouse.config import DataPaths, paths
from lakehouse.privacy.scan import scan_tree
from lakehouse.pseudonymise import pseudonymise_value

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DEMO = {"users": 150, "homes": 2, "days": 35, "seed": 5}
KEY = os.environ.get("BEACON_HMAC_KEY", "beacon-test-key-0123456789abcdef")


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    """``beacon demo`` into a fresh data root, plus a DP release published with the marts."""
    root = tmp_path_factory.mktemp("privacy") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACON_DATA_DIR", str(root))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        mp.setenv("BEACON_HMAC_KEY", KEY)
        from orchestration.demo import run_demo

        started = time.perf_counter()
        assert run_demo(**DEMO) == 0
        print(f"\n[privacy] demo {DEMO} built in {time.perf_counter() - started:.0f} s")
        p = paths(root)
        from lakehouse.privacy.dp_metrics import DPConfig, release_public_metrics
        from lakehouse.publish import build_db_path, publish_marts

        release_public_metrics(build_db_path(p.build), p, DPConfig())
        publish_marts(build_db_path(p.build), p.marts, ("marts", "scores", "public"), run_id="privacy-test")
        yield p


def _raw_ids(p: DataPaths) -> pl.DataFrame:
    users = pl.read_parquet(p.truth / "users.parquet")
    homes = pl.read_parquet(p.truth / "homes.parquet")
    ids = pl.concat(
        [
            users.select(pl.col("user_id").alias("id")),
            users.select(pl.col("anonymous_ids").explode().alias("id")),
            homes.select(pl.col("home_id").alias("id")),
        ]
    )
    return ids.drop_nulls().unique()


def _text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c "
        "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
        "WHERE c.data_type IN ('VARCHAR', 'VARCHAR[]', 'JSON') ORDER BY ALL"
    ).fetchall()


def test_bi_sees_no_raw_identifier_no_payload_no_secret(lakehouse: DataPaths) -> None:
    raw = _raw_ids(lakehouse)
    assert raw.height > 150
    with contextlib.closing(duckdb.connect(str(lakehouse.marts), read_only=True)) as con:
        con.register("raw_ids", raw.to_arrow())
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        assert ("public", "public_daily_visitors_by_country") in tables and ("main", "fct_sessions") in tables
        assert not [t for t in tables if "quarantine" in t[1]], "quarantine must never be published"
        checked = 0
        for schema, table, column in _text_columns(con):
            q, c = f'"{schema}"."{table}"', f'CAST("{column}" AS VARCHAR)'
            hits = con.execute(
                f"SELECT count(*) FROM {q} WHERE {c} IN (SELECT id FROM raw_ids) "
                f"OR contains({c}, ?) OR contains({c}, '\"event_id\"') OR contains({c}, 'reading_id,')",
                [KEY],
            ).fetchone()[0]
            assert hits == 0, (
                f"{schema}.{table}.{column}: raw identifier, secret or raw payload visible to BI"
            )
            checked += 1
        columns = {c for _, _, c in _text_columns(con)}
    assert checked > 50 and "raw_payload" not in columns and "_raw" not in columns


def test_hmac_key_is_in_no_file_log_metadata_or_mlflow_param(lakehouse: DataPaths) -> None:
    root = lakehouse.root
    dagster_dbs = list((root / "dagster").rglob("*.db"))
    compute_logs = [f for f in (root / "dagster").rglob("*") if f.suffix in (".out", ".err", ".complete")]
    assert dagster_dbs and (root / "mlflow" / "mlflow.db").exists(), (
        "the stores must exist for the scan to mean anything"
    )
    findings = scan_tree(root, [KEY, KEY.encode().hex()])
    assert findings == [], [(str(f.path.relative_to(root)), f.how) for f in findings]
    with contextlib.closing(
        sqlite3.connect(f"file:{root / 'mlflow' / 'mlflow.db'}?mode=ro", uri=True)
    ) as con:
        params = con.execute("SELECT count(*), sum(instr(value, ?) > 0) FROM params", [KEY]).fetchone()
    assert params[0] > 0 and params[1] == 0
    print(
        f"[privacy] key absent from {len(dagster_dbs)} Dagster sqlite files, {len(compute_logs)} compute logs"
    )


def _published_digests(p: DataPaths, ids: list[str]) -> dict[str, str]:
    """Checksum per published table of the rows holding none of ``ids`` (what must not change)."""
    out: dict[str, str] = {}
    with contextlib.closing(duckdb.connect(str(p.marts), read_only=True)) as con:
        con.execute("CREATE TEMP TABLE gone AS SELECT unnest(?::VARCHAR[]) AS id", [ids])
        by_table: dict[tuple[str, str], list[str]] = {}
        for s, t, c in _text_columns(con):
            by_table.setdefault((s, t), []).append(c)
        for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
            if s in ("_beacon", "public"):
                continue  # publication metadata and the DP release (noise) are rewritten by design
            cols = [c for c in by_table.get((s, t), []) if c]
            keep = (
                " AND ".join(
                    f'NOT coalesce(CAST("{c}" AS VARCHAR) IN (SELECT id FROM gone), false)' for c in cols
                )
                or "true"
            )
            frame = con.sql(f'SELECT * FROM "{s}"."{t}" WHERE {keep}').pl()
            out[f"{s}.{t}"] = hashlib.sha256(
                frame.sort(frame.columns, nulls_last=True).write_csv().encode()
            ).hexdigest()
    return out


def test_erasure_leaves_no_trace_and_keeps_everyone_else(
    lakehouse: DataPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    p = lakehouse
    raw, home = pick_person(p, KEY)
    pseudonym, home_p = pseudonymise_value(raw, KEY), pseudonymise_value(home, KEY)
    click, sensors = p.table("bronze", "clickstream_events"), p.table("bronze", "sensor_readings")
    before_c, before_s = table_frame(click), table_frame(sensors)
    person_events = before_c.filter(pl.col("user_id") == pseudonym)
    assert person_events.height and person_events.filter(pl.col("event_type") == "purchase").height
    devices = person_events["anonymous_id"].unique().to_list()
    others_c = before_c.filter(pl.col("user_id").is_not_null() & (pl.col("user_id") != pseudonym))
    others_s = before_s.filter(pl.col("home_id") != home_p)
    before_pub = _published_digests(p, [pseudonym, home_p, *devices])
    assert {0, 1} <= {f.needle for f in scan_tree(p.root, [raw, pseudonym])}

    from lakehouse.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACON_DATA_DIR", str(p.root))
        mp.setenv("BEACON_HMAC_KEY", KEY)
        started = time.perf_counter()
        assert main(["erase", "--user", raw, "--yes-i-am-sure"]) == 0
        seconds = time.perf_counter() - started
    out = capsys.readouterr().out
    assert raw not in out and pseudonym not in out and '"request_id"' in out

    findings = scan_tree(p.root, [raw, pseudonym])
    assert findings == [], [(str(f.path.relative_to(p.root)), f.how, f.needle) for f in findings]
    after_c, after_s = table_frame(click), table_frame(sensors)
    assert rows_digest(after_c.filter(pl.col("user_id").is_not_null()), ["event_id"]) == rows_digest(
        others_c, ["event_id"]
    )
    assert rows_digest(after_s, ["reading_id"]) == rows_digest(others_s, ["reading_id"])
    assert _published_digests(p, [pseudonym, home_p, *devices]) == before_pub

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{p.mlflow / 'mlflow.db'}")
    versions = [
        v
        for name in ("beacon_recommender", "beacon_churn", "beacon_segments")
        for v in client.search_model_versions(f"name = '{name}'")
    ]
    assert versions and all(v.tags.get("beacon.retrain_required") == "true" for v in versions)
    print(f"[privacy] erased {person_events.height} events + household in {seconds:.1f} s")
