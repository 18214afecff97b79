"""Fast checks of the BI layer that need neither Superset nor a browser: specs, form data, settings,
the secret key, pid handling and the Superset lock file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lakehouse.bi import server
from lakehouse.bi.install import LOCK_FILE
from lakehouse.bi.settings import load_settings
from lakehouse.bi.specs import SpecError, check_published, form_data, load_spec, load_specs, query_context

REQUIRED = {
    "beacon-customers",
    "beacon-engagement",
    "beacon-funnel",
    "beacon-experiments",
    "beacon-models",
    "beacon-smart-home",
}


def test_shipped_specs_cover_every_required_dashboard_with_unique_charts() -> None:
    specs = load_specs()
    assert {s.slug for s in specs} == REQUIRED
    uuids = [s.chart_uuid(c) for s in specs for c in s.charts]
    assert len(uuids) == len(set(uuids)) and len(uuids) >= 30
    for spec in specs:
        for ds in spec.datasets.values():  # only published schemas, never the build's
            assert ds.table is None or ds.schema in {"main", "scores", "_beacon"}
            assert ds.sql is None or not re.search(r"\b(staging|intermediate|read_\w+|delta)\b", ds.sql)


def test_params_and_query_context_ask_for_the_same_metrics_and_columns() -> None:
    for spec in load_specs():
        for chart in spec.charts:
            params = form_data(chart, 7)
            qc = query_context(chart, 7, params)
            query = qc["queries"][0]
            assert qc["datasource"] == {"id": 7, "type": "table"} and params["datasource"] == "7__table"
            labels = [m["label"] for m in query["metrics"]]
            param_metrics = params.get("metrics") or ([params["metric"]] if "metric" in params else [])
            assert labels == [m["label"] for m in param_metrics][: len(labels)], chart.key
            names = [c if isinstance(c, str) else c["sqlExpression"] for c in query["columns"]]
            for col in [*chart.groupby, *chart.columns, *([chart.x] if chart.x else [])]:
                assert col in names, (spec.slug, chart.key, col)


def _spec(tmp_path: Path, dataset: str, chart: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(
        f"slug: t\ntitle: T\ndatasets:\n  d: {dataset}\ncharts:\n  - {{key: c, title: C, dataset: d, {chart}}}\n"
    )
    return path


@pytest.fixture
def published(tmp_path: Path) -> Path:
    path = tmp_path / "marts.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE main.t AS SELECT range AS a, range % 3 AS b FROM range(10)")
    (tmp_path / "secret.csv").write_text("x\n1\n")
    return path


def test_check_published_accepts_published_tables_and_rejects_the_rest(
    tmp_path: Path, published: Path
) -> None:
    ok = load_spec(
        _spec(tmp_path, "{table: main.t}", 'viz: pie, groupby: [b], metrics: [{label: n, sql: "count(*)"}]')
    )
    assert check_published([ok], published) == {"t/d": ["a", "b"]}

    missing_col = load_spec(_spec(tmp_path, "{table: main.t}", "viz: table, columns: [a, nope]"))
    with pytest.raises(SpecError, match=r"columns \['nope'\] not in d"):
        check_published([missing_col], published)

    bad_metric = load_spec(
        _spec(tmp_path, "{table: main.t}", 'viz: big_number, metrics: [{label: m, sql: "sum(z)"}]')
    )
    with pytest.raises(SpecError, match="metric m"):
        check_published([bad_metric], published)

    # A virtual dataset cannot read other files: external access is off on the checking connection.
    outside = load_spec(
        _spec(
            tmp_path,
            f"{{sql: \"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')\"}}",
            "viz: table, columns: [x]",
        )
    )
    with pytest.raises(SpecError, match="disabled"):
        check_published([outside], published)

    with pytest.raises(SpecError, match="schema in"):
        load_spec(_spec(tmp_path, "{table: staging.t}", "viz: table, columns: [a]"))
    with pytest.raises(SpecError, match="needs x"):
        load_spec(_spec(tmp_path, "{table: main.t}", 'viz: bar, metrics: [{label: n, sql: "count(*)"}]'))


def test_settings_keep_everything_outside_the_repo_and_apart_per_lakehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HOME", "HOST", "PORT", "ADMIN_USER"):
        monkeypatch.delenv(f"BEACON_SUPERSET_{var}", raising=False)
    monkeypatch.setenv("BEACON_SUPERSET_CACHE", str(tmp_path / "cache"))
    a, b = load_settings(tmp_path / "a"), load_settings(tmp_path / "b")
    assert a.home != b.home and a.home.parent == b.home.parent == (tmp_path / "cache").resolve()
    assert a.marts == (tmp_path / "a" / "marts.duckdb").resolve()
    assert (a.host, a.port, a.admin_user) == ("127.0.0.1", 8088, "admin")
    assert a.sqlalchemy_uri == f"duckdb:///{a.marts}"


def test_secret_key_is_generated_once_with_private_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEACON_SUPERSET_HOME", str(tmp_path / "home"))
    settings = load_settings(tmp_path / "data")
    server.write_config(settings)
    key = settings.secret_key_file.read_text()
    server.write_config(settings)
    assert settings.secret_key_file.read_text() == key and len(key.strip()) >= 60
    assert settings.secret_key_file.stat().st_mode & 0o777 == 0o600
    assert key.strip() not in settings.config_file.read_text()  # the config reads it, never contains it


def test_stop_never_kills_a_process_that_is_not_our_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEACON_SUPERSET_HOME", str(tmp_path / "home"))
    settings = load_settings(tmp_path / "data")
    settings.home.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        settings.pid_file.write_text(f"{other.pid}\n")  # a stale pid file naming someone else's process
        assert server.read_pid(settings) is None
        assert server.stop(settings) is False
        assert other.poll() is None and not settings.pid_file.exists()
    finally:
        other.kill()
        other.wait()


def test_superset_lock_is_pinned_and_free_of_urls() -> None:
    text = LOCK_FILE.read_text()
    for pin in ("apache-superset==6.1.0", "duckdb-engine==0.17.0", "flask-caching==2.3.1", "gunicorn=="):
        assert re.search(rf"^{re.escape(pin)}", text, re.MULTILINE), pin
    assert "://" not in text and "--index-url" not in text and "--find-links" not in text
    requirements = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert all("==" in line for line in requirements), [r for r in requirements if "==" not in r]
