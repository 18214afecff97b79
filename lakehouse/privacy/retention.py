"""Retention: delete personal data older than a configured age, per table, and leave no copy behind.

The policy (:data:`DEFAULT_POLICY_FILE`, ``retention.yaml`` beside this module) gives a number of
days per Delta table (by its date partition column) and per landing source (by delivery-day
folder). Deleting whole partitions is cheap in Delta (a predicate on the partition column only
removes files, it rewrites none); the deleted files are then vacuumed with zero retention and
the log history before the purge is removed, as for erasure
(:func:`lakehouse.privacy.delta_purge.purge_rows`), because the log's column statistics would
otherwise keep identifiers of the expired rows for another 30 days.

Landing files are the raw input kept for replay; their delivery-day folders past retention are
deleted (their ledger rows stay: the ledger holds no personal data and still proves the file was
landed). The job takes the landing lock so landing never runs at the same time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.locks import file_lock, landing_lock
from lakehouse.privacy.delta_purge import purge_rows

DEFAULT_POLICY_FILE = Path(__file__).with_name("retention.yaml")
POLICY_ENV = "BEACON_RETENTION_CONFIG"


@dataclass(frozen=True)
class TableRule:
    """Keep ``days`` days of ``layer/name``, judged by the date partition column ``partition``."""

    layer: str
    name: str
    days: int
    partition: str


@dataclass(frozen=True)
class Policy:
    """Retention of every Delta table and landing source that has one."""

    tables: tuple[TableRule, ...]
    landing: Mapping[str, int]


@dataclass(frozen=True)
class RetentionResult:
    """What retention removed from one place."""

    place: str
    cutoff: dt.date
    partitions_deleted: int
    rows_deleted: int


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """A policy from its YAML mapping; refuses non-positive ages and unnamed partition columns."""
    rules = []
    for key, spec in (raw.get("tables") or {}).items():
        layer, _, name = str(key).partition("/")
        days, partition = int(spec["days"]), str(spec.get("partition") or "")
        if not name or days <= 0 or not partition:
            raise ValueError(f"retention rule {key!r}: need 'layer/name', days > 0 and a partition column")
        rules.append(TableRule(layer, name, days, partition))
    landing = {str(k): int(v["days"]) for k, v in (raw.get("landing") or {}).items()}
    if any(d <= 0 for d in landing.values()):
        raise ValueError("landing retention days must be > 0")
    return Policy(tuple(rules), landing)


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``, else ``$BEACON_RETENTION_CONFIG``, else the shipped default."""
    chosen = Path(path or os.environ.get(POLICY_ENV) or DEFAULT_POLICY_FILE)
    return parse_policy(yaml.safe_load(chosen.read_text()) or {})


def expired_partitions(path: Path, column: str, cutoff: dt.date) -> list[dt.date]:
    """Partition values of ``column`` older than ``cutoff``, from the log (no data file is read)."""
    files = storage.active_files(path)
    name = f"partition.{column}"
    if name not in files.column_names:
        raise ValueError(f"{path}: not partitioned by {column}")
    values = {v for v in files[name].to_pylist() if v is not None}
    days = {v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in values}
    return sorted(d for d in days if d < cutoff)


def apply_table_rule(paths: DataPaths, rule: TableRule, today: dt.date) -> RetentionResult:
    """Delete the partitions of one table older than its retention, vacuum, purge the log history."""
    path = paths.table(rule.layer, rule.name)
    cutoff = today - dt.timedelta(days=rule.days)
    place = f"{rule.layer}.{rule.name}"
    if not storage.table_exists(path):
        return RetentionResult(place, cutoff, 0, 0)
    old = expired_partitions(path, rule.partition, cutoff)
    if not old:
        return RetentionResult(place, cutoff, 0, 0)
    res = purge_rows(
        path,
        f"{rule.partition} < '{cutoff.isoformat()}'",
        rule.partition,
        [d.isoformat() for d in old],
        {"beacon.operation": "retention", "beacon.retention_cutoff": cutoff.isoformat()},
    )
    return RetentionResult(place, cutoff, len(old), res.rows_deleted)


def apply_landing_rule(paths: DataPaths, source: str, days: int, today: dt.date) -> RetentionResult:
    """Delete ``landing/<source>/<YYYY-MM-DD>/`` folders older than ``days``."""
    cutoff = today - dt.timedelta(days=days)
    root = paths.landing / source
    removed = 0
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            try:
                day = dt.date.fromisoformat(folder.name)
            except ValueError:
                continue
            if day < cutoff:
                shutil.rmtree(folder)
                removed += 1
    return RetentionResult(f"landing/{source}", cutoff, removed, 0)


def apply_retention(paths: DataPaths, policy: Policy, today: dt.date | None = None) -> list[RetentionResult]:
    """Apply every rule of ``policy`` as of ``today`` (UTC today by default)."""
    day = today or dt.datetime.now(dt.UTC).date()
    with file_lock(landing_lock(paths)):
        results = [apply_table_rule(paths, rule, day) for rule in policy.tables]
        results += [apply_landing_rule(paths, src, d, day) for src, d in sorted(policy.landing.items())]
    return results
