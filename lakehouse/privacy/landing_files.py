"""Erasure in the raw landing files: find a person's lines, rewrite files without them, keep the ledger true.

Landing keeps its input files for replay, and they hold RAW identifiers, so erasure must rewrite
them. A line is the person's when it contains one of their raw identifier tokens: the user id,
a device (``anonymous_id``) only they ever used, or their household's ``home_id``. Token
matching (the id bounded by characters that cannot be part of an id) also catches lines that
failed validation or were truncated, which a parsed field would miss.

The rest of a rewritten file is byte-identical in content: the decompressed bytes are the
original bytes minus the removed lines (a gzip file is re-compressed). The landing ledger
(``_landing_log``) identifies a file by path, size and mtime and its content by SHA-256; a
rewritten file would look new and be landed again, so its ledger row is replaced by one with the
new size, mtime and hash (appended first, then the old row deleted, so a crash in between leaves
both identities known and nothing is re-landed). ``_source_line`` lineage in bronze keeps the
numbers of the file as it was landed.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lakehouse import storage
from lakehouse.landing import ledger as ledger_mod
from lakehouse.landing.files import LandingFile, discover, sha256_file
from lakehouse.landing.readers import LINE, RAW, read_bytes, split_lines
from lakehouse.landing.schemas import LEDGER_SCHEMA, cast_to
from lakehouse.privacy.consent import CONSENT_DIR

#: Characters an identifier can contain; a token match needs a non-id character (or the line's
#: start/end) on both sides, so ``u00001`` never matches inside ``u000012``.
_ID_CHARS = "A-Za-z0-9_.:-"


@dataclass(frozen=True)
class LinkedIds:
    """A person's raw identifiers as found in the landing files."""

    user_id: str
    devices: frozenset[str]
    homes: frozenset[str]

    @property
    def tokens(self) -> list[str]:
        return sorted({self.user_id, *self.devices, *self.homes})


@dataclass(frozen=True)
class RewriteResult:
    """One rewritten landing file."""

    rel: str
    lines_removed: int
    old_sha256: str
    new_sha256: str


def token_pattern(tokens: Iterable[str]) -> str:
    """Regex matching any of ``tokens`` as a whole identifier."""
    alts = "|".join(re.escape(t) for t in sorted(set(tokens), key=len, reverse=True) if t)
    return f"(?:^|[^{_ID_CHARS}])(?:{alts})(?:$|[^{_ID_CHARS}])"


def _native(files: Iterable[LandingFile]) -> Iterator[LandingFile]:
    return (f for f in files if f.mapping is None)


def _json_ids(lines: pl.DataFrame) -> pl.DataFrame:
    """(user_id, anonymous_id) of JSON lines; lines that are not JSON objects give nulls."""
    raw = pl.col(RAW)
    valid = raw.str.strip_chars_start().str.starts_with("{")
    return lines.select(
        pl.when(valid).then(raw.str.json_path_match("$.user_id")).alias("uid"),
        pl.when(valid).then(raw.str.json_path_match("$.anonymous_id")).alias("other"),
    )


def _csv_ids(lines: pl.DataFrame, other: str) -> pl.DataFrame:
    """(user_id, ``other``) of CSV lines by the header's positions (unquoted id fields)."""
    if lines.height == 0:
        return pl.DataFrame(schema={"uid": pl.String, "other": pl.String})
    header = [c.strip().strip('"') for c in lines[RAW][0].split(",")]
    fields = pl.col(RAW).str.split(",")

    def get(name: str) -> pl.Expr:
        if name not in header:
            return pl.lit(None, pl.String)
        return fields.list.get(header.index(name), null_on_oob=True).str.strip_chars('" ')

    return lines.slice(1).select(get("user_id").alias("uid"), get(other).alias("other"))


def linked_ids(landing: Path, raw_user_id: str) -> LinkedIds:
    """The person's devices (used by nobody else) and households, from the native landing files.

    One streaming pass: each file contributes its distinct (user, device) and (user, home) pairs.
    """
    device_pairs: list[pl.DataFrame] = []
    home_pairs: list[pl.DataFrame] = []
    files, _ = discover(landing)
    for f in _native(files):
        lines = split_lines(read_bytes(f.path))
        ids = _json_ids(lines) if f.contract == "clickstream" else _csv_ids(lines, "home_id")
        pairs = ids.filter(pl.col("uid").is_not_null() & pl.col("other").is_not_null()).unique()
        (device_pairs if f.contract == "clickstream" else home_pairs).append(pairs)
    devices: frozenset[str] = frozenset()
    if device_pairs:
        pairs = pl.concat(device_pairs).unique()
        mine = pairs.filter(pl.col("uid") == raw_user_id)["other"]
        shared = pairs.filter((pl.col("uid") != raw_user_id) & pl.col("other").is_in(mine.implode()))["other"]
        devices = frozenset(mine.to_list()) - frozenset(shared.to_list())
    homes: frozenset[str] = frozenset()
    if home_pairs:
        pairs = pl.concat(home_pairs).unique()
        homes = frozenset(pairs.filter(pl.col("uid") == raw_user_id)["other"].to_list())
    return LinkedIds(raw_user_id, devices, homes)


def person_lines(landing: Path, tokens: Sequence[str]) -> dict[str, list[int]]:
    """Line numbers (1-based, as in ``_source_line``) of native landing files and consent files holding any token."""
    if not tokens:
        return {}
    pattern = token_pattern(tokens)
    found: dict[str, list[int]] = {}
    files, _ = discover(landing)
    paths = [f.path for f in _native(files)]
    # The consent table (landing/consent/*.csv) names users by raw id too.
    paths += sorted((landing / CONSENT_DIR).glob("*.csv")) if (landing / CONSENT_DIR).is_dir() else []
    for path in paths:
        lines = split_lines(read_bytes(path))
        hits = lines.filter(pl.col(RAW).str.contains(pattern))[LINE].to_list()
        if hits:
            found[path.relative_to(landing).as_posix()] = hits
    return found


def rewrite_without_lines(path: Path, drop: Iterable[int]) -> tuple[bytes, int]:
    """New bytes of ``path`` without the 1-based lines ``drop`` (same compression); lines removed.

    Lines are what landing numbers (``split_lines``): ``\n``-terminated, a final line without a
    newline counts, ``\r\n`` stays inside its line. Every kept byte is copied as is: line
    boundaries come from one vectorised newline search, and the kept bytes are joined run by run
    (one slice per stretch between removed lines, not one per line).
    """
    gzipped = path.read_bytes()[:2] == b"\x1f\x8b"
    data = read_bytes(path)
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(arr == ord("\n")) + 1
    if ends.size == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data)) if len(data) else ends
    starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
    n = len(ends)
    wanted = np.asarray(sorted({int(x) for x in drop if 1 <= int(x) <= n}), dtype=np.int64)
    if wanted.size == 0:
        return data if not gzipped else path.read_bytes(), 0
    keep = np.ones(n, dtype=bool)
    keep[wanted - 1] = False
    # runs of kept lines: [first line, last line] of each stretch
    edges = np.flatnonzero(np.diff(np.concatenate(([0], keep.astype(np.int8), [0]))))
    runs = edges.reshape(-1, 2)
    body = b"".join(data[starts[a] : ends[b - 1]] for a, b in runs)
    if gzipped:
        body = gzip.compress(body, compresslevel=6, mtime=0)
    return body, int(wanted.size)


def rewrite_files(
    landing: Path, ledger_path: Path, lines: Mapping[str, Sequence[int]], run_id: str
) -> list[RewriteResult]:
    """Rewrite each file ``landing/<rel>`` without ``lines[rel]`` and update the ledger.

    Each file is written beside itself and renamed over it (atomic), so a reader never sees a
    half-written file; its mtime is read from the temporary file, which the rename keeps.
    """
    results: list[RewriteResult] = []
    identities: dict[str, tuple[str, int, int]] = {}
    staged: list[tuple[Path, Path]] = []
    for rel, nums in sorted(lines.items()):
        path = landing / rel
        if not nums or not path.is_file():
            continue
        body, removed = rewrite_without_lines(path, nums)
        if not removed:
            continue
        tmp = path.with_name(f".{path.name}.erasing")
        tmp.write_bytes(body)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        st = tmp.stat()
        new_sha = sha256_file(tmp)
        results.append(RewriteResult(rel, removed, sha256_file(path), new_sha))
        identities[rel] = (new_sha, st.st_size, st.st_mtime_ns)
        staged.append((tmp, path))
    if not staged:
        return results
    # Ledger first (new identities appended), then the files, then the old ledger rows go.
    _append_then_drop(ledger_path, identities, run_id, staged)
    return results


def _append_then_drop(
    ledger_path: Path,
    identities: Mapping[str, tuple[str, int, int]],
    run_id: str,
    staged: Sequence[tuple[Path, Path]],
) -> None:
    if not storage.table_exists(ledger_path):
        for tmp, path in staged:
            os.replace(tmp, path)
        return
    ledger = ledger_mod.read_ledger(ledger_path)
    old = ledger.filter(pl.col("source_file").is_in(list(identities)))
    new = pl.DataFrame(
        {
            "source_file": list(identities),
            "_sha": [v[0] for v in identities.values()],
            "_bytes": [v[1] for v in identities.values()],
            "_mtime": [v[2] for v in identities.values()],
        },
        schema_overrides={"_bytes": pl.Int64, "_mtime": pl.Int64},
    )
    rows = (
        old.join(new, on="source_file")
        .with_columns(
            pl.col("_sha").alias("content_sha256"),
            pl.col("_bytes").cast(LEDGER_SCHEMA["bytes"]).alias("bytes"),
            pl.col("_mtime").cast(LEDGER_SCHEMA["mtime_ns"]).alias("mtime_ns"),
        )
        .drop("_sha", "_bytes", "_mtime")
    )
    if rows.height:
        storage.write_partitions(
            ledger_path, cast_to(rows, LEDGER_SCHEMA), None, commit_metadata={ledger_mod.RUN_KEY: run_id}
        )
    for tmp, path in staged:
        os.replace(tmp, path)
    if rows.height:
        from lakehouse.privacy.delta_purge import in_list

        stale = in_list("content_sha256", old["content_sha256"].to_list())
        fresh = in_list("content_sha256", rows["content_sha256"].to_list())
        assert stale and fresh
        storage.delete_where(ledger_path, f"({stale}) AND NOT ({fresh})")
