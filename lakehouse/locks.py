"""Inter-process locks on the data root: OS file locks, released by the kernel even when the
holder is killed (a crashed run never leaves a stale lock behind)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse.config import DataPaths


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with its folder if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def landing_lock(paths: DataPaths) -> Path:
    """The lock landing holds while it writes bronze; erasure and retention take the same one."""
    return paths.delta / "bronze" / ".landing.lock"
