"""Superset over a freshly built lakehouse, end to end: setup, chart data, SQL Lab during a publish,
dashboards in headless Chromium, stop by pid.

One module-scoped fixture does the expensive part once, overlapping the two slow halves: the small
lakehouse is built by ``bi_lakehouse.py`` (generate, land, the demo's build job) in a subprocess while the Superset venv is installed (or
taken from the cache), initialised and started; then ``python -m lakehouse.bi.setup`` runs exactly
as ``make bi`` does (its re-run path: venv, init and server are reused, dashboards imported).
Screenshots land in ``<tmp>/screenshots`` (the path is printed).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from lakehouse.bi import builder, install, server
from lakehouse.bi.rest import SupersetAPIError, SupersetClient
from lakehouse.bi.settings import BISettings, load_settings
from lakehouse.bi.specs import load_spec, load_specs
from lakehouse.config import paths
from lakehouse.publish import build_db_path, publish_marts

pytestmark = pytest.mark.bi

REPO = Path(__file__).resolve().parents[2]
# The smallest lakehouse the churn model trains on (>= 35 days of history): users, homes, days, seed.
LAKEHOUSE = ("100", "2", "36", "3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def bi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("bi")
    env = {
        **os.environ,
        "BEACON_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "data" / "dagster"),
        "BEACON_SUPERSET_HOME": str(root / "superset"),
        "BEACON_SUPERSET_PORT": str(_free_port()),
        "BEACON_SUPERSET_ADMIN_PASSWORD": "bi-test-password",
    }
    saved = {k: os.environ.get(k) for k in env if os.environ.get(k) != env[k]}
    os.environ.update(env)
    settings = load_settings()
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("bi_lakehouse.py")), *LAKEHOUSE],
        cwd=REPO,
        env=env,
        stdout=(root / "demo.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        venv = install.ensure_superset_venv(settings.cache_dir)
        timings["venv"] = time.monotonic() - t0
        server.write_config(settings)
        server.initialise(settings, venv)
        server.start(settings, venv)
        install.ensure_playwright_core(settings.cache_dir)
        timings["superset_ready"] = time.monotonic() - t0
        assert demo.wait(timeout=1200) == 0, (root / "demo.log").read_text()[-5000:]
        timings["lakehouse_built"] = time.monotonic() - t0
        t1 = time.monotonic()
        setup = subprocess.run(
            [sys.executable, "-m", "lakehouse.bi.setup"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        timings["setup_cli"] = time.monotonic() - t1
        assert setup.returncode == 0, setup.stdout + setup.stderr
        yield {"settings": settings, "root": root, "setup_out": setup.stdout, "timings": timings}
    finally:
        if demo.poll() is None:
            demo.kill()
        server.stop(settings)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        print(f"\n[bi] timings (s from fixture start): {timings}")


def _client(settings: BISettings) -> SupersetClient:
    return SupersetClient(settings.url, settings.admin_user, settings.admin_password)


def test_setup_prints_url_login_and_is_idempotent(bi: dict) -> None:
    settings: BISettings = bi["settings"]
    out: str = bi["setup_out"]
    specs = load_specs()
    assert f"{settings.url}/" in out and f"login {settings.admin_user}" in out
    for spec in specs:
        assert f"{settings.url}/superset/dashboard/{spec.slug}/" in out
    assert settings.secret_key_file.stat().st_mode & 0o777 == 0o600
    assert not settings.cache_dir.is_relative_to(REPO)  # venv and secrets never inside the repository

    client = _client(settings)
    before = {
        r: sorted(o["id"] for o in client.iter_all(r, ["id"]))
        for r in ("chart", "dataset", "dashboard", "database")
    }
    again = builder.build_all(client, settings, specs)  # what a second `make bi` does
    after = {
        r: sorted(o["id"] for o in client.iter_all(r, ["id"]))
        for r in ("chart", "dataset", "dashboard", "database")
    }
    assert after == before
    assert len(before["chart"]) == sum(len(s.charts) for s in specs) == sum(len(b.chart_ids) for b in again)
    db = client.find("database", "database_name", "Beacon marts")
    extra = json.loads(client.get(f"/api/v1/database/{db['id']}/connection")["result"]["extra"])
    assert extra["engine_params"]["connect_args"]["read_only"] is True
    # The connection can read nothing but the published file, and cannot write.
    for sql, refusal in (
        ("SELECT * FROM read_csv('/etc/hostname')", "file system operations are disabled"),
        ("CREATE TABLE x AS SELECT 1", "does not allow for DDL/DML"),
    ):
        with pytest.raises(SupersetAPIError, match=refusal):
            client.sql(int(db["id"]), sql)


def test_every_chart_returns_rows(bi: dict) -> None:
    settings: BISettings = bi["settings"]
    client = _client(settings)
    empty = []
    for spec in load_specs():
        for chart in spec.charts:
            chart_id = int(client.get(f"/api/v1/chart/{spec.chart_uuid(chart)}")["result"]["id"])
            results = client.chart_data(chart_id)
            rows = sum(len(r.get("data") or []) for r in results)
            if rows == 0 or any(r.get("error") for r in results):
                empty.append(f"{spec.slug}/{chart.key}: {rows} rows, {[r.get('error') for r in results]}")
    assert not empty, empty


def test_sql_lab_query_succeeds_while_marts_are_republished(bi: dict) -> None:
    settings: BISettings = bi["settings"]
    client = _client(settings)
    db_id = int(client.find("database", "database_name", "Beacon marts")["id"])
    p = paths()
    publishing: list[tuple[float, float, str]] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def republish() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                result = publish_marts(build_db_path(p.build), p.marts, ("marts", "scores"))
                publishing.append((started, time.monotonic(), result.run_id))
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=republish, daemon=True)
    worker.start()
    queries: list[tuple[float, float, dict]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(queries) < 3 or not _overlaps(queries, publishing)):
            started = time.monotonic()
            resp = client.sql(
                db_id, "SELECT count(*) AS sessions, sum(revenue_eur) AS revenue FROM fct_sessions"
            )
            queries.append((started, time.monotonic(), resp))
    finally:
        stop.set()
        worker.join(timeout=120)
    assert not failures, failures
    assert publishing, "the publish thread never finished a publication"
    assert _overlaps(queries, publishing), "no SQL Lab query ran while a publication was being written"
    with duckdb.connect(str(p.marts), read_only=True) as con:
        sessions = con.execute("SELECT count(*) FROM fct_sessions").fetchone()[0]
    for _, _, resp in queries:
        assert resp["status"] == "success", resp
        assert resp["data"][0]["sessions"] == sessions > 0
    run = client.sql(db_id, "SELECT DISTINCT run_id FROM _beacon.publication", schema="_beacon")
    assert run["data"][0]["run_id"] == publishing[-1][2]  # new queries see the newest publication


def _overlaps(queries: list[tuple[float, float, dict]], publishing: list[tuple[float, float, str]]) -> bool:
    return any(q0 < p1 and p0 < q1 for q0, q1, _ in queries for p0, p1, _ in publishing)


def test_dashboards_render_without_errors_in_chromium(bi: dict) -> None:
    from lakehouse.bi.screenshot import screenshot_dashboards

    settings: BISettings = bi["settings"]
    specs = load_specs()
    # A probe dashboard with a broken and an empty chart, rendered in the same browser session:
    # proves the error detection sees what Superset shows (else "no errors" would prove nothing).
    probe = load_spec(Path(__file__).with_name("broken_probe.yaml"))
    builder.build_all(_client(settings), settings, [probe])
    out = Path(bi["root"]) / "screenshots"
    run = screenshot_dashboards(settings, [*specs, probe], out)
    print(f"\n[bi] screenshots in {out}")
    shots = {s.slug: s for s in run.shots}
    assert list(shots) == [s.slug for s in [*specs, probe]]
    probe_errors = shots.pop(probe.slug).errors
    assert any(e.startswith("Bad metric: error shown") and "no_such_column" in e for e in probe_errors), (
        probe_errors
    )
    assert any(e == "Empty result: no results" for e in probe_errors), probe_errors
    assert not any(e.startswith("Good") for e in probe_errors), probe_errors
    for spec in specs:
        shot = shots[spec.slug]
        assert shot.charts_rendered == len(spec.charts), shot
        assert shot.data_requests >= len(spec.charts), shot
        assert shot.file.is_file() and shot.file.stat().st_size > 20_000, shot
        assert not shot.errors, shot.errors
    assert all("127.0.0.1" not in url for url in run.blocked_requests)


def test_screenshots_fail_with_a_clear_error_when_sign_in_fails(bi: dict, tmp_path: Path) -> None:
    """A wrong password is tried a bounded number of times, then named, instead of timing out."""
    from dataclasses import replace

    from lakehouse.bi.screenshot import screenshot_dashboards

    settings: BISettings = bi["settings"]
    wrong = replace(settings, admin_password="not-the-password")
    started = time.monotonic()
    with pytest.raises(RuntimeError) as err:
        screenshot_dashboards(wrong, load_specs()[:1], tmp_path, timeout_s=60)
    message = str(err.value)
    assert f"could not sign in to {settings.url} as {settings.admin_user} in 3 attempts" in message, message
    assert "sign-in attempt 3 of 3 failed: ended on" in message and "/login/" in message, message
    assert "not-the-password" not in message
    assert time.monotonic() - started < 120
    assert not list(tmp_path.glob("*.png"))


def test_stop_kills_the_server_by_pid(bi: dict) -> None:
    settings: BISettings = bi["settings"]
    pid = server.read_pid(settings)
    assert pid is not None and server.healthy(settings)
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.bi.setup", "stop"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "stopped" in done.stdout, done.stdout + done.stderr
    assert not server.process_alive(pid)
    assert not settings.pid_file.exists() and not server.healthy(settings)
