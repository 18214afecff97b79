"""Finding landing files, their delivery day, and their content identity.

A file is identified by the SHA-256 of its bytes, not by its name: the same content delivered
twice, or under another name, is landed once. Its delivery day (the Dagster partition) is the
folder date for Beacon's own sources (``landing/<source>/<YYYY-MM-DD>/``) and, for a user's
imports (``landing/imports/<name>/``), the UTC date of the file's modification time (when it
arrived: exports rarely carry a delivery date, and their rows may span years).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

NATIVE_SOURCES: dict[str, tuple[str, ...]] = {
    # source folder -> file name patterns
    "clickstream": ("*.jsonl.gz", "*.jsonl", "*.ndjson", "*.ndjson.gz"),
    "sensors": ("*.csv.gz", "*.csv"),
}
IMPORTS = "imports"
MAPPING_FILE = "mapping.yaml"


@dataclass(frozen=True)
class LandingFile:
    """One file waiting under ``landing/`` with what landing needs to know about it."""

    path: Path
    rel: str  # path relative to the landing root, as written to lineage columns
    source: str  # "clickstream", "sensors" or "import:<name>"
    contract: str  # "clickstream" or "sensors"
    delivery_date: dt.date
    size: int
    mtime_ns: int
    mapping: Path | None = None

    @property
    def identity(self) -> tuple[str, int, int]:
        """Cheap identity used to skip re-hashing a file the ledger already knows unchanged."""
        return (self.rel, self.size, self.mtime_ns)


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex SHA-256 of the file's bytes, streamed (constant memory)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def mtime_date(mtime_ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(mtime_ns / 1e9, tz=dt.UTC).date()


Days = dt.date | Collection[dt.date] | None


def _day_set(partition: Days) -> set[dt.date] | None:
    """None (every day), or the set of delivery days asked for (one day or a range of days)."""
    if partition is None:
        return None
    if isinstance(partition, dt.date):
        return {partition}
    return set(partition)


def discover_native(landing: Path, partition: Days = None) -> list[LandingFile]:
    """Files of Beacon's own sources, in delivery-day folders (optionally some days only)."""
    days = _day_set(partition)
    found: list[LandingFile] = []
    for source, patterns in NATIVE_SOURCES.items():
        root = landing / source
        if not root.is_dir():
            continue
        for day_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            day = _day(day_dir.name)
            if day is None or (days is not None and day not in days):
                continue
            files = sorted({f for pattern in patterns for f in day_dir.glob(pattern) if f.is_file()})
            for f in files:
                st = f.stat()
                found.append(
                    LandingFile(
                        f, f.relative_to(landing).as_posix(), source, source, day, st.st_size, st.st_mtime_ns
                    )
                )
    return found


def import_folders(landing: Path) -> list[Path]:
    """Folders ``landing/imports/<name>/`` that carry a ``mapping.yaml``."""
    root = landing / IMPORTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MAPPING_FILE).is_file())


def discover_imports(landing: Path, partition: Days = None) -> tuple[list[LandingFile], list[str]]:
    """A user's export files, matched by their mapping's ``file_glob``; delivery day = mtime (UTC).

    A folder whose mapping does not load is reported (second value) and left in place, so one
    broken mapping does not stop the other sources from landing.
    """
    days = _day_set(partition)
    found: list[LandingFile] = []
    problems: list[str] = []
    folders = import_folders(landing)
    if not folders:
        return found, problems
    try:
        from lakehouse.mappings import load_mapping  # the mapping engine owns mapping.yaml's meaning
    except ImportError as exc:
        return found, [
            f"{f.relative_to(landing)}: the mapping engine (lakehouse.mappings) is not installed ({exc})"
            for f in folders
        ]
    for folder in folders:
        try:
            mapping = load_mapping(folder / MAPPING_FILE)
        except ValueError as exc:  # MappingError is a ValueError naming the file, key and fix
            problems.append(f"{folder.relative_to(landing)}: {exc}")
            continue
        for f in sorted(p for p in folder.glob(mapping.file_glob) if p.is_file() and p.name != MAPPING_FILE):
            st = f.stat()
            day = mtime_date(st.st_mtime_ns)
            if days is not None and day not in days:
                continue
            found.append(
                LandingFile(
                    f,
                    f.relative_to(landing).as_posix(),
                    f"import:{folder.name}",
                    mapping.contract,
                    day,
                    st.st_size,
                    st.st_mtime_ns,
                    folder / MAPPING_FILE,
                )
            )
    return found, problems


def discover(landing: Path, partition: Days = None) -> tuple[list[LandingFile], list[str]]:
    """Every landing file (of the given delivery day or days, if any), native then imports,
    and the problems that kept import folders from being read."""
    imports, problems = discover_imports(landing, partition)
    return discover_native(landing, partition) + imports, problems
