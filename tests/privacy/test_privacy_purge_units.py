"""Fast unit tests of the erasure building blocks on tiny real files (Delta, DuckDB, gzip, ledger)."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lakehouse import storage
from lakehouse.landing import ledger as ledger_mod
from lakehouse.landing.schemas import LEDGER_SCHEMA
from lakehouse.privacy.delta_purge import any_of, in_list, lineage_terms, purge_rows
from lakehouse.privacy.duckdb_purge import purge_file_in_place, rebuild_without
from lakehouse.privacy.landing_files import person_lines, rewrite_files, token_pattern
from lakehouse.privacy.scan import scan_tree

GONE = "f" * 60 + "dead"
KEEP = "a" * 60 + "beef"


def _events(n: int, user: str, day: dt.date) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [user] * n,
            "event_date": [day] * n,
            "_source_file": ["clickstream/x.jsonl.gz"] * n,
            "_source_line": list(range(1, n + 1)),
        }
    )


def test_purge_rows_leaves_no_file_or_log_with_the_value(tmp_path: Path) -> None:
    table = tmp_path / "events"
    d1, d2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    for frame in (_events(3, GONE, d1), _events(4, KEEP, d1), _events(5, KEEP, d2), _events(2, GONE, d2)):
        storage.write_partitions(table, frame, ["event_date"])
    assert scan_tree(table, [GONE]), "the value must be in the table's files before the purge"
    res = purge_rows(table, f"user_id = '{GONE}'", "event_date", [d1, d2])
    assert res.rows_deleted == 5
    assert res.files_vacuumed >= 2 and res.log_files_removed >= 4
    assert scan_tree(table, [GONE]) == []
    left = pl.from_arrow(storage.read_table(table)).sort("event_date", "_source_line")
    assert left["user_id"].unique().to_list() == [KEEP]
    assert left.height == 9
    # the table still works: appends and a second (idempotent) purge
    storage.write_partitions(table, _events(1, KEEP, d2), ["event_date"])
    again = purge_rows(table, f"user_id = '{GONE}'", "event_date", [d1, d2])
    assert again.rows_deleted == 0 and storage.read_table(table).num_rows == 10


def test_predicate_helpers_quote_and_group() -> None:
    assert in_list("c", ["b", "a'x"]) == "c IN ('a''x', 'b')"
    assert in_list("c", []) is None
    assert any_of([None, "a = 1", "b = 2"]) == "(a = 1) OR (b = 2)"
    assert lineage_terms("f", "l", {"x.gz": [3, 1]}) == ["f = 'x.gz' AND l IN (1, 3)"]


def test_duckdb_rebuild_drops_rows_and_free_blocks(tmp_path: Path) -> None:
    db = tmp_path / "marts_build.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            "CREATE TABLE marts.users AS SELECT * FROM (VALUES (?, 1), (?, 2)) t(user_id, n)", [GONE, KEEP]
        )
        con.execute("CREATE TABLE marts.recs (user_id VARCHAR, items VARCHAR[], other_users VARCHAR[])")
        con.execute("INSERT INTO marts.recs VALUES (?, ['p1'], []), (?, ['p2'], [?])", [KEEP, KEEP, GONE])
        con.execute("CREATE VIEW marts.v AS SELECT count(*) AS n FROM marts_build.marts.users")
        # a plain DELETE leaves the bytes behind in free blocks: that is why files are rebuilt
        con.execute("DELETE FROM marts.users WHERE user_id = ?", [GONE])
        con.execute("INSERT INTO marts.users VALUES (?, 3)", [GONE])
    removed = purge_file_in_place(db, [GONE])
    assert removed == {"marts.users": 1, "marts.recs": 1}
    assert scan_tree(tmp_path, [GONE]) == []
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT user_id, n FROM marts.users").fetchall() == [(KEEP, 2)]
        assert con.execute("SELECT n FROM marts.v").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM marts.recs").fetchone() == (1,)


def test_rebuild_keeps_requested_storage_version(tmp_path: Path) -> None:
    src, dst = tmp_path / "marts.duckdb", tmp_path / "out.duckdb"
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH '{src}' AS marts (STORAGE_VERSION 'v1.0.0')")
        con.execute("CREATE TABLE marts.t AS SELECT 'x' AS user_id")
    assert rebuild_without(src, dst, [GONE], "v1.0.0") == {}
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH '{dst}' AS o (READ_ONLY)")
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'o'").fetchone()[0]
        assert tags["storage_version"].startswith("v1.0.0")


def _ledger_row(rel: str, path: Path) -> pl.DataFrame:
    st = path.stat()
    from lakehouse.landing.files import sha256_file

    return pl.DataFrame(
        {
            "source": ["clickstream"],
            "contract": ["clickstream"],
            "source_file": [rel],
            "content_sha256": [sha256_file(path)],
            "bytes": [st.st_size],
            "mtime_ns": [st.st_mtime_ns],
            "delivery_date": [dt.date(2026, 1, 1)],
            "status": ["landed"],
            "lines_read": [4],
            "rows_landed": [4],
            "rows_quarantined": [0],
            "duplicates": [0],
            "skipped": [0],
            "table_name": ["clickstream_events"],
            "table_version": [1],
            "quarantine_version": [None],
            "landing_run_id": ["r"],
            "landed_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
        },
        schema=LEDGER_SCHEMA,
    )


def test_landing_rewrite_removes_lines_and_updates_ledger(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day = landing / "clickstream" / "2026-01-01"
    day.mkdir(parents=True)
    lines = [
        b'{"event_id":"1","user_id":"u000001","anonymous_id":"a-1"}\r\n',
        b'{"event_id":"2","user_id":"u0000012","anonymous_id":"a-2"}\n',
        b'{"event_id":"3","user_id":null,"anonymous_id":"a-1"}\n',
        b'{"event_id":"4","user_id":"u000002" truncated u000001',
    ]
    f = day / "events-2026-01-01-000.jsonl.gz"
    f.write_bytes(gzip.compress(b"".join(lines)))
    ledger_path = tmp_path / "delta" / "bronze" / "_landing_log"
    ledger_mod.append_ledger(ledger_path, _ledger_row(f.relative_to(landing).as_posix(), f), "r")

    found = person_lines(landing, ["u000001", "a-1"])
    assert found == {"clickstream/2026-01-01/events-2026-01-01-000.jsonl.gz": [1, 3, 4]}
    results = rewrite_files(landing, ledger_path, found, "erase-run")
    assert [r.lines_removed for r in results] == [3]
    assert gzip.decompress(f.read_bytes()) == lines[1]  # the rest byte-identical
    ledger = ledger_mod.read_ledger(ledger_path)
    st = f.stat()
    assert ledger.height == 1
    row = ledger.row(0, named=True)
    assert (row["bytes"], row["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
    assert row["content_sha256"] == results[0].new_sha256 != results[0].old_sha256
    # landing now sees the file as already landed: nothing to do
    from lakehouse.config import paths as data_paths
    from lakehouse.landing import land

    report = land(data_paths(tmp_path), "k")
    assert report.totals()["files"] == 0 and report.totals()["duplicate_files"] == 0


@pytest.mark.parametrize(
    "token,line,hit",
    [
        ("u000001", '"user_id":"u000001"', True),
        ("u000001", '"user_id":"u0000012"', False),
        ("h0000", "r-1,h0000,dev,", True),
        ("h0000", "r-1,h00001,dev,", False),
    ],
)
def test_token_pattern_matches_whole_ids_only(token: str, line: str, hit: bool) -> None:
    assert pl.Series([line]).str.contains(token_pattern([token])).item() is hit


def test_rewrite_published_cleans_both_generations_and_keeps_readers_safe(tmp_path: Path) -> None:
    from lakehouse.publish import previous_path, publish_marts, rewrite_published

    build, published = tmp_path / "build" / "marts_build.duckdb", tmp_path / "marts.duckdb"
    build.parent.mkdir()
    with duckdb.connect(str(build)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.u AS SELECT * FROM (VALUES (?), (?)) t(user_id)", [GONE, KEEP])
    publish_marts(build, published, run_id="one")
    publish_marts(build, published, run_id="two")
    reader = duckdb.connect(str(published), read_only=True)  # a BI connection open during the erasure
    done = rewrite_published(published, lambda s, d: rebuild_without(s, d, [GONE], "v1.0.0"))
    assert done == {"marts.duckdb": {"main.u": 1}, "marts.previous.duckdb": {"main.u": 1}}
    assert reader.execute("SELECT count(*) FROM u").fetchone() == (2,)  # its snapshot, until it reconnects
    reader.close()
    for f in (published, previous_path(published)):
        with duckdb.connect(str(f), read_only=True) as con:
            assert con.execute("SELECT user_id FROM u").fetchall() == [(KEEP,)]
            assert con.execute("SELECT count(*) FROM _beacon.publication").fetchone()[0] == 1
    assert scan_tree(tmp_path, [GONE]) == scan_tree(tmp_path / "build", [GONE]) != []


@pytest.mark.parametrize(
    "content,drop,expected",
    [
        (b"a\nb\r\nc\rd\ne", [2], b"a\nc\rd\ne"),  # a bare \r is not a line break (as landing numbers lines)
        (b"a\nb\nc\n", [3], b"a\nb\n"),
        (b"a\nb\nc", [1, 3], b"b\n"),
        (b"a\n\nc\n", [2, 9], b"a\nc\n"),
    ],
)
def test_rewrite_without_lines_keeps_every_other_byte(
    tmp_path: Path, content: bytes, drop: list[int], expected: bytes
) -> None:
    from lakehouse.landing.readers import split_lines
    from lakehouse.privacy.landing_files import rewrite_without_lines

    f = tmp_path / "x.jsonl.gz"
    f.write_bytes(gzip.compress(content))
    body, removed = rewrite_without_lines(f, drop)
    assert gzip.decompress(body) == expected
    assert removed == len([d for d in drop if d <= split_lines(content).height])
