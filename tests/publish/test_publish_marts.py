"""publish_marts / rollback on real DuckDB files: what is copied, what is refused, what is left behind."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import duckdb
import pytest

import lakehouse.publish as publish_module
from lakehouse.publish import (
    PUBLISHED_SCHEMA,
    PublishError,
    previous_path,
    publication_run_id,
    publish_marts,
    published_name,
    rollback,
    wal_path,
)


def _tables(db: Path) -> dict[str, int]:
    with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
        names = con.execute(
            "SELECT database_name, schema_name, table_name FROM duckdb_tables() ORDER BY 2, 3"
        ).fetchall()
        # Catalog-qualified, so the count is of exactly the table listed (whatever the search path).
        return {
            f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{c}"."{s}"."{t}"').fetchone()[0]
            for c, s, t in names
        }


def _dir_listing(db: Path) -> set[str]:
    return {p.name for p in db.parent.iterdir() if p.is_file()}


def test_publishes_only_listed_schemas_and_records_the_publication(build_db, published_db: Path) -> None:
    build = build_db("run-a", rows=500)
    result = publish_marts(
        build, published_db, metadata={"dbt_version": "1.11.16", "delta.clickstream": "7"}, run_id="run-a"
    )

    assert result.published_path == published_db.resolve()
    # Published names: the build's ``marts`` schema lands in the default schema ``main``.
    assert result.tables == ("main.dim_users", "main.fct_events", "main.v_big_spenders")
    assert result.row_counts == {"main.dim_users": 97, "main.fct_events": 500, "main.v_big_spenders": 50}
    assert result.source_tables == {
        "main.dim_users": "marts.dim_users",
        "main.fct_events": "marts.fct_events",
        "main.v_big_spenders": "marts.v_big_spenders",
    }
    assert result.materialised_views == ("main.v_big_spenders",)
    assert result.previous_path is None and not result.previous_kept
    assert result.bytes == published_db.stat().st_size > 0
    assert result.duration_s > 0

    tables = _tables(published_db)
    # Nothing from staging/intermediate/scores/other, no dbt transient tables; the view is now a table.
    assert tables == {
        "_beacon.publication": 3,
        "main.dim_users": 97,
        "main.fct_events": 500,
        "main.v_big_spenders": 50,
    }
    with contextlib.closing(duckdb.connect(str(published_db), read_only=True)) as con:
        schemas = {
            r[0]
            for r in con.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
            ).fetchall()
        }
        assert schemas == {"main", "_beacon"}
        pub = con.execute(
            "SELECT run_id, schema_name, table_name, source_schema, row_count, source_kind, metadata "
            "FROM _beacon.publication ORDER BY 3"
        ).fetchall()
        assert [r[:6] for r in pub] == [
            ("run-a", "main", "dim_users", "marts", 97, "table"),
            ("run-a", "main", "fct_events", "marts", 500, "table"),
            ("run-a", "main", "v_big_spenders", "marts", 50, "view"),
        ]
        assert json.loads(pub[0][6]) == {"dbt_version": "1.11.16", "delta.clickstream": "7"}
        # Data and documentation survive the copy.
        assert con.execute("SELECT sum(amount), count(DISTINCT run_tag) FROM main.fct_events").fetchone() == (
            sum((i % 13) * 1.5 for i in range(500)),
            1,
        )
        assert (
            con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'fct_events'").fetchone()[0]
            == "One row per event."
        )
        assert (
            con.execute(
                "SELECT comment FROM duckdb_columns() WHERE table_name = 'fct_events' AND column_name = 'amount'"
            ).fetchone()[0]
            == "Amount in EUR."
        )
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0] == 0
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'marts'").fetchone()[0]
        assert tags["storage_version"].startswith("v1.0.0")
    # Only the published file and the lock file remain: no WAL, no temp file.
    assert _dir_listing(published_db) == {"marts.duckdb", ".marts.duckdb.lock"}


def test_schema_list_is_a_parameter_and_internals_are_refused(build_db, published_db: Path) -> None:
    build = build_db("run-s")
    result = publish_marts(build, published_db, schemas=("marts", "scores", "ml_later"))
    assert "scores.churn_scores" in result.tables  # every schema but marts keeps its name
    assert result.source_tables["scores.churn_scores"] == "scores.churn_scores"
    assert result.missing_schemas == ("ml_later",)
    assert set(_tables(published_db)) == {
        "_beacon.publication",
        "main.dim_users",
        "main.fct_events",
        "main.v_big_spenders",
        "scores.churn_scores",
    }
    with contextlib.closing(duckdb.connect(str(published_db), read_only=True)) as con:
        assert con.execute(
            "SELECT schema_name, source_schema, row_count FROM _beacon.publication WHERE table_name = 'churn_scores'"
        ).fetchall() == [("scores", "scores", 97)]

    before = published_db.read_bytes()
    for bad in (("marts", "staging"), ("intermediate",), ("_beacon",)):
        with pytest.raises(ValueError, match="never published"):
            publish_marts(build, published_db, schemas=bad)
    with pytest.raises(PublishError, match="nothing to publish"):
        publish_marts(build, published_db, schemas=("ml_later",))
    assert published_db.read_bytes() == before
    assert not previous_path(published_db).exists()


def test_new_duckdb_types_are_cast_for_v1_readers(build_db, published_db: Path) -> None:
    build = build_db(
        "run-t",
        extra_sql=(
            "CREATE TABLE marts.fct_precise AS SELECT TIMESTAMPTZ '2026-01-05 10:00:00.123456+00'::TIMESTAMPTZ_NS AS ts,"
            " [TIME '10:00:00'::TIME_NS] AS times, 1 AS n",
        ),
    )
    result = publish_marts(build, published_db)
    assert result.casts == {
        "main.fct_precise.ts": "TIMESTAMPTZ_NS -> TIMESTAMPTZ",
        "main.fct_precise.times": "TIME_NS[] -> TIME[]",
    }
    with contextlib.closing(duckdb.connect(str(published_db), read_only=True)) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'fct_precise'"
            ).fetchall()
        )
        assert types == {"ts": "TIMESTAMP WITH TIME ZONE", "times": "TIME[]", "n": "INTEGER"}
        assert con.execute("SELECT epoch_us(ts) FROM main.fct_precise").fetchone()[0] == 1767607200123456
    # Writing the 2.0 format on purpose keeps the original types.
    kept = publish_marts(build, published_db, storage_version="v2.0.0")
    assert kept.casts == {}


def test_failed_publish_keeps_the_last_good_file_and_leaves_nothing_behind(
    build_db, published_db: Path
) -> None:
    publish_marts(build_db("good"), published_db, run_id="good")
    good = published_db.read_bytes()
    # A mart view whose body no longer binds (its staging table is gone) fails the copy mid-way.
    broken = build_db(
        "bad",
        extra_sql=(
            "DROP VIEW marts.v_big_spenders",
            "CREATE VIEW marts.v_broken AS SELECT * FROM staging.stg_events",
            "DROP TABLE staging.stg_events",
        ),
    )
    with pytest.raises(duckdb.Error):
        publish_marts(broken, published_db, run_id="bad")
    assert published_db.read_bytes() == good
    assert publication_run_id(published_db) == "good"
    assert _dir_listing(published_db) == {"marts.duckdb", ".marts.duckdb.lock"}
    assert not any(p.name.endswith(".spill") for p in published_db.parent.iterdir())

    with pytest.raises(PublishError, match="does not exist"):
        publish_marts(published_db.parent / "build" / "nope.duckdb", published_db)
    assert publication_run_id(published_db) == "good"


def test_build_file_open_for_writing_fails_cleanly(build_db, published_db: Path, tmp_path: Path) -> None:
    """The pool serialises DuckDB writers; if something still writes the build file, publishing refuses."""
    build = build_db("busy")
    publish_marts(build, published_db, run_id="first")
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(build),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(PublishError, match="cannot open the build file"):
            publish_marts(build, published_db, run_id="second")
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert publication_run_id(published_db) == "first"


def test_rollback_swaps_back_and_is_its_own_inverse(build_db, published_db: Path) -> None:
    with pytest.raises(PublishError):
        rollback(published_db)
    publish_marts(build_db("one", rows=100), published_db, run_id="one")
    with pytest.raises(PublishError, match="no previous"):
        rollback(published_db)
    second = publish_marts(build_db("two", rows=200), published_db, run_id="two")
    assert (
        second.previous_path == previous_path(published_db) == published_db.with_name("marts.previous.duckdb")
    )
    assert publication_run_id(second.previous_path) == "one"

    back = rollback(published_db)
    assert back.run_id == "one" == publication_run_id(published_db)
    assert publication_run_id(previous_path(published_db)) == "two"
    assert _tables(published_db)["main.fct_events"] == 100

    forward = rollback(published_db)
    assert forward.run_id == "two"
    assert _tables(published_db)["main.fct_events"] == 200
    assert not wal_path(published_db).exists() and not wal_path(previous_path(published_db)).exists()
    assert _dir_listing(published_db) == {"marts.duckdb", "marts.previous.duckdb", ".marts.duckdb.lock"}


def test_republishing_the_same_build_is_idempotent(build_db, published_db: Path) -> None:
    build = build_db("same", rows=300)
    first = publish_marts(build, published_db, run_id="same")
    second = publish_marts(build, published_db, run_id="same")
    assert (first.tables, first.row_counts) == (second.tables, second.row_counts)
    assert _tables(published_db) == _tables(previous_path(published_db))

    def content(db: Path) -> list[tuple]:
        with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
            return (
                con.execute("SELECT * FROM main.fct_events ORDER BY event_id").fetchall()
                + con.execute("SELECT * FROM main.dim_users ORDER BY user_key").fetchall()
            )

    assert content(published_db) == content(previous_path(published_db))
    assert _dir_listing(published_db) == {"marts.duckdb", "marts.previous.duckdb", ".marts.duckdb.lock"}


def test_stray_wal_of_the_published_file_moves_with_it(build_db, published_db: Path) -> None:
    """If someone opened the published file read-write, its WAL must not be replayed into the new file."""
    build = build_db("w1")
    publish_marts(build, published_db, run_id="w1")
    wal_path(published_db).write_bytes(b"stale wal of w1")
    publish_marts(build, published_db, run_id="w2")
    assert not wal_path(published_db).exists()
    assert wal_path(previous_path(published_db)).read_bytes() == b"stale wal of w1"
    publish_marts(build, published_db, run_id="w3")
    assert not wal_path(previous_path(published_db)).exists()
    assert publication_run_id(published_db) == "w3"


def test_leftovers_of_a_killed_publish_are_cleaned(build_db, published_db: Path) -> None:
    stale = published_db.with_name(".marts.publishing-deadbeef.duckdb")
    stale.write_bytes(b"half")
    Path(f"{stale}.wal").write_bytes(b"half")
    publish_marts(build_db("clean"), published_db)
    assert not stale.exists() and not Path(f"{stale}.wal").exists()
    assert _dir_listing(published_db) == {"marts.duckdb", ".marts.duckdb.lock"}


def test_bi_style_names_resolve_in_the_published_file(build_db, published_db: Path) -> None:
    """What duckdb-engine/SQLAlchemy send: bare and two-part names, through a fresh read-only connection."""
    assert PUBLISHED_SCHEMA == {"marts": "main"}
    assert (published_name("marts"), published_name("scores"), published_name("_beacon")) == (
        "main",
        "scores",
        "_beacon",
    )
    publish_marts(build_db("bi", rows=321), published_db, schemas=("marts", "scores"), run_id="bi")
    with contextlib.closing(duckdb.connect(str(published_db), read_only=True)) as con:
        assert con.execute("SELECT current_database(), current_schema()").fetchone() == ("marts", "main")
        # No schema inside the file is named like its catalog, so ``marts.x`` cannot be ambiguous.
        assert (
            con.execute(
                "SELECT count(*) FROM duckdb_schemas() WHERE database_name = 'marts' AND schema_name = 'marts'"
            ).fetchone()[0]
            == 0
        )
        for query in (
            "SELECT count(*) FROM fct_events",
            "SELECT count(*) FROM main.fct_events",
            "SELECT count(*) FROM marts.fct_events",
            "SELECT count(*) FROM marts.main.fct_events",
        ):
            assert con.execute(query).fetchone()[0] == 321, query
        assert con.execute("SELECT count(*) FROM scores.churn_scores").fetchone()[0] == 97
        assert con.execute("SELECT count(*) FROM _beacon.publication").fetchone()[0] == 4


def test_control_a_marts_schema_in_marts_duckdb_is_ambiguous(tmp_path: Path) -> None:
    """Why the mapping exists: with schema ``marts`` in file ``marts.duckdb``, ``marts.t`` is refused."""
    db = tmp_path / "marts.duckdb"
    with contextlib.closing(duckdb.connect(str(db))) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.marts.fct_events AS SELECT 1 AS x")
    with (
        contextlib.closing(duckdb.connect(str(db), read_only=True)) as con,
        pytest.raises(duckdb.BinderException, match="Ambiguous reference"),
    ):
        con.execute("SELECT count(*) FROM marts.fct_events")


def test_schema_lists_that_would_collide_or_be_ambiguous_are_refused(
    build_db, published_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = build_db("names", extra_sql=("CREATE TABLE main.fct_events AS SELECT 1 AS x",))
    with pytest.raises(ValueError, match="same schema"):
        publish_marts(build, published_db, schemas=("marts", "main"))
    # ``scores`` published into a file named ``scores.duckdb`` would be the ambiguity all over again.
    with pytest.raises(ValueError, match="ambiguous"):
        publish_marts(build, published_db.with_name("scores.duckdb"), schemas=("scores",))
    # Without the mapping, the default publication itself would be refused for the same reason.
    monkeypatch.setattr(publish_module, "PUBLISHED_SCHEMA", {})
    with pytest.raises(ValueError, match="ambiguous"):
        publish_marts(build, published_db)
    assert not published_db.exists() and not published_db.with_name("scores.duckdb").exists()
