"""Mart suites over a real build DuckDB file and a real bronze Delta table: clean passes, and every
error expectation fails on a build that breaks it (cross-table checks computed in DuckDB)."""

from __future__ import annotations

from pathlib import Path

import pytest
import quality_fixtures as qf
import yaml

from expectations.marts import LAYOUT, RFM_SEGMENTS, bronze_lines_sql, build_file, connect, mart_checks
from expectations.runner import run_suite
from lakehouse import storage
from lakehouse.config import PROJECT_ROOT

ONE_SESSION = "session_id = (select min(session_id) from marts.fct_sessions)"
#: (suite, expectation id) -> SQL that breaks it in the clean build
VIOLATIONS: dict[tuple[str, str], str] = {
    (
        "marts_sessions",
        "duration_0_24h",
    ): f"update marts.fct_sessions set duration_seconds = 86401 where {ONE_SESSION}",
    (
        "marts_sessions",
        "duration_not_null",
    ): f"update marts.fct_sessions set duration_seconds = null where {ONE_SESSION}",
    ("marts_sessions", "engaged_le_duration"): (
        f"update marts.fct_sessions set engaged_seconds = duration_seconds + 60 where {ONE_SESSION}"
    ),
    ("marts_purchases_in_sessions", "purchase_has_session"): (
        f"update marts.fct_sessions set anonymous_id = 'another-device' where {ONE_SESSION}"
    ),
    ("marts_session_revenue_reconciliation", "revenue_matches_bronze"): (
        f"update marts.fct_sessions set revenue_eur = revenue_eur + 5 where {ONE_SESSION}"
    ),
    ("marts_rfm", "score_1_5:r_score"): "update marts.mart_rfm set r_score = 6 where user_id = 'u1'",
    ("marts_rfm", "score_1_5:f_score"): "update marts.mart_rfm set f_score = 0 where user_id = 'u2'",
    ("marts_rfm", "score_1_5:m_score"): "update marts.mart_rfm set m_score = 7 where user_id = 'u3'",
    ("marts_rfm", "score_not_null:r_score"): "update marts.mart_rfm set r_score = null where user_id = 'u1'",
    ("marts_rfm", "score_not_null:f_score"): "update marts.mart_rfm set f_score = null",
    ("marts_rfm", "score_not_null:m_score"): "update marts.mart_rfm set m_score = null where user_id = 'u2'",
    ("marts_rfm", "one_row_per_user"): "insert into marts.mart_rfm values ('u1', 1, 1, 1, 'Lost')",
    ("marts_rfm", "segment_known"): "update marts.mart_rfm set segment = 'Whales' where user_id = 'u3'",
    ("marts_rfm", "segment_not_null"): "update marts.mart_rfm set segment = null where user_id = 'u2'",
    (
        "marts_user_revenue_reconciliation",
        "revenue_matches_bronze",
    ): "update marts.dim_users set refunds_eur = 0",
}
CHECKS = {c.suite.name: c for c in mart_checks()}
CASES = [
    pytest.param(c.suite.name, e.id, id=f"{c.suite.name}-{e.id}")
    for c in mart_checks()
    for e in c.suite.error_expectations()
]


@pytest.fixture(scope="module")
def bronze_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("marts") / "data"
    storage.write_partitions(
        root / "delta" / "bronze" / "clickstream_events", qf.revenue_bronze_frame(), ["event_date"]
    )
    return root


def _root(bronze_root: Path, tmp_path: Path, extra_sql: str = "") -> Path:
    """A data root with the module's bronze table (symlinked) and a fresh build file."""
    root = tmp_path / "data"
    (root / "delta").mkdir(parents=True)
    (root / "delta" / "bronze").symlink_to(bronze_root / "delta" / "bronze")
    build_file(root).parent.mkdir(parents=True)
    qf.write_build(build_file(root), extra_sql)
    return root


def test_every_error_expectation_has_a_violation_case() -> None:
    ids = {(c.suite.name, e.id) for c in mart_checks() for e in c.suite.error_expectations()}
    assert set(VIOLATIONS) == ids


def test_bronze_revenue_excludes_bots_consentless_and_outliers(bronze_root: Path, tmp_path: Path) -> None:
    root = _root(bronze_root, tmp_path)
    with connect(root) as con:
        purchases, net = con.execute(
            f"select sum(amount_eur) filter (where event_type = 'purchase'), sum(amount_eur) from ({bronze_lines_sql()})"
        ).fetchone()
    assert purchases == pytest.approx(qf.SESSION_PURCHASES)
    assert net == pytest.approx(qf.NET_REVENUE)


def test_documented_rfm_segments_match_the_model_yaml() -> None:
    path = PROJECT_ROOT / "dbt_project" / "models" / "marts" / "clickstream" / "mart_rfm.yml"
    if not path.is_file():
        pytest.skip("mart_rfm.yml not in this checkout")
    model = yaml.safe_load(path.read_text())["models"][0]
    segment = next(c for c in model["columns"] if c["name"] == LAYOUT.rfm_segment)
    accepted = next(
        t["accepted_values"] for t in segment["data_tests"] if isinstance(t, dict) and "accepted_values" in t
    )
    values = [v.strip("'").replace("''", "'") for v in accepted["arguments"]["values"]]
    assert set(values) == set(RFM_SEGMENTS)


def test_clean_marts_pass_every_check(bronze_root: Path, tmp_path: Path, qc) -> None:
    root = _root(bronze_root, tmp_path)
    with connect(root) as con:
        for c in mart_checks():
            frame = c.frame(con, LAYOUT)
            run = run_suite(c.suite, frame, qc, docs=False)
            assert run.failed_ids() == set(), (c.suite.name, {i: o.observed for i, o in run.outcomes.items()})
            assert run.rows == frame.height > 0
    purchases = CHECKS["marts_purchases_in_sessions"]
    with connect(root) as con:
        assert purchases.frame(con, LAYOUT).height == 3  # two purchases and the outlier line; not the bot


@pytest.mark.parametrize(("suite_name", "expectation_id"), CASES)
def test_every_mart_error_expectation_fails_on_violating_build(
    suite_name: str, expectation_id: str, bronze_root: Path, tmp_path: Path, qc
) -> None:
    root = _root(bronze_root, tmp_path, VIOLATIONS[(suite_name, expectation_id)])
    check = CHECKS[suite_name]
    with connect(root) as con:
        frame = check.frame(con, LAYOUT)
    run = run_suite(check.suite.subset([expectation_id]), frame, qc, docs=False)
    assert run.failed_ids() == {expectation_id}
    outcome = run.outcomes[expectation_id]
    assert outcome.unexpected_count and outcome.unexpected_count >= 1
    assert outcome.sample.height >= 1  # the session / user / purchase / measure concerned


def test_missing_build_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"marts_build\.duckdb"), connect(tmp_path):
        pass
