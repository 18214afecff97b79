"""Find where identifiers (or a secret) still occur in the files under a data root.

Used after an erasure to prove it left no trace, and by the tests that check what BI, logs and
MLflow can see. A plain byte search misses values stored compressed, so each file is looked at
the way it stores text:

* every file: its raw bytes;
* gzip files: the decompressed bytes; zip files (MLflow's npz/whl-like artifacts): each member;
* Parquet files (Delta data files, checkpoints, truth): every string value of every column,
  nested ones included (Parquet pages are compressed, so bytes alone would miss them);
* DuckDB files: every VARCHAR (and list of VARCHAR) value of every table, since DuckDB
  compresses strings (FSST, dictionary) in its blocks; plus the raw bytes for free blocks.

Findings name the file and how the needle was found, never the needle itself, so a report can
be logged.
"""

from __future__ import annotations

import contextlib
import gzip
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DUCKDB_MAGIC = b"DUCK"


@dataclass(frozen=True)
class Finding:
    """Needle number ``needle`` (index into the caller's list) found in ``path`` by ``how``."""

    path: Path
    how: str
    needle: int


def _in_bytes(data: bytes, needles: list[bytes]) -> list[int]:
    return [i for i, n in enumerate(needles) if n and n in data]


def _strings(array: pa.ChunkedArray | pa.Array) -> Iterator[pa.Array]:
    """Every string leaf of a (possibly nested) Arrow column, as flat string arrays."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        t = chunk.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            yield chunk.cast(pa.large_string())
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            yield chunk.cast(pa.large_binary()).cast(pa.large_string(), safe=False)
        elif pa.types.is_dictionary(t):
            yield from _strings(chunk.dictionary)
        elif pa.types.is_struct(t):
            for i in range(t.num_fields):
                yield from _strings(chunk.field(i))
        elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            yield from _strings(chunk.flatten())
        elif pa.types.is_map(t):
            yield from _strings(chunk.keys)
            yield from _strings(chunk.items)


def _in_table(table: pa.Table, needles: list[str]) -> list[int]:
    found: set[int] = set()
    for column in table.columns:
        for strings in _strings(column):
            for i, n in enumerate(needles):
                if i not in found and n and pc.any(pc.match_substring(strings, n)).as_py():
                    found.add(i)
    return sorted(found)


def _parquet(path: Path, needles: list[str]) -> list[int]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        return []
    found: set[int] = set()
    for batch_no in range(pf.num_row_groups):
        found.update(_in_table(pf.read_row_group(batch_no), needles))
    return sorted(found)


def _duckdb(path: Path, needles: list[str]) -> list[int]:
    found: set[int] = set()
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return []
    with contextlib.closing(con):
        cols = con.execute(
            "SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c "
            "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
            "WHERE c.database_name = current_database() "
            "AND (c.data_type LIKE '%VARCHAR%' OR c.data_type LIKE '%JSON%')"
        ).fetchall()
        for schema, table, column in cols:
            q = f'"{schema}"."{table}"'
            expr = f'CAST("{column}" AS VARCHAR)'
            for i, n in enumerate(needles):
                if i in found or not n:
                    continue
                hit = con.execute(f"SELECT count(*) FROM {q} WHERE contains({expr}, ?)", [n]).fetchone()
                if hit and hit[0]:
                    found.add(i)
        # view and macro bodies are text in the catalog
        for (sql,) in con.execute(
            "SELECT sql FROM duckdb_views() WHERE NOT internal UNION ALL "
            "SELECT string_agg(macro_definition, ' ') FROM duckdb_functions() WHERE NOT internal"
        ).fetchall():
            found.update(i for i, n in enumerate(needles) if sql and n and n in sql)
    return sorted(found)


def scan_file(path: Path, needles: list[str]) -> list[Finding]:
    """Every way any of ``needles`` occurs in one file."""
    raw = [n.encode() for n in needles]
    try:
        data = path.read_bytes()
    except OSError:
        return []
    out = [Finding(path, "bytes", i) for i in _in_bytes(data, raw)]
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError):
            out += [Finding(path, "gzip", i) for i in _in_bytes(gzip.decompress(data), raw)]
    if data[:4] == b"PK\x03\x04":
        with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                out += [Finding(path, f"zip:{member}", i) for i in _in_bytes(zf.read(member), raw)]
    if data[:4] == b"PAR1":
        out += [Finding(path, "parquet", i) for i in _parquet(path, needles)]
    if data[8:12] == DUCKDB_MAGIC:
        out += [Finding(path, "duckdb", i) for i in _duckdb(path, needles)]
    return out


def scan_tree(root: Path, needles: Iterable[str], skip: Iterable[Path] = ()) -> list[Finding]:
    """Scan every regular file under ``root`` (except those under ``skip``)."""
    wanted = [n for n in needles]
    skipped = [Path(s).resolve() for s in skip]
    findings: list[Finding] = []
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        resolved = path.resolve()
        if any(resolved.is_relative_to(s) for s in skipped):
            continue
        findings.extend(scan_file(path, wanted))
    return findings
