"""Landing files as a collector writes them: one folder per delivery day, gzip, deterministic.

Nothing simulated later can be received earlier, so once the simulation has reached a day,
every line delivered up to that day can be written. The caller flushes after each rendered
chunk: a delivery day then consists of several files (``-000``, ``-001``, ... like a collector
rolling its file), each sorted by ``received_at``, and the writer only holds the few late and
re-delivered lines still in flight, so memory stays flat however many days or people are
generated. Gzip headers carry no name and mtime 0: the same arguments give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from lakehouse.generator.timekeeping import EPOCH

#: Lines per landing file: a collector rolls its file every so many lines.
MAX_LINES_PER_FILE = 100_000
COMPRESS_LEVEL = 1


def gzip_bytes(payload: bytes) -> bytes:
    """Gzip with an empty name and mtime 0 (reproducible bytes)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=COMPRESS_LEVEL) as gz:
        gz.write(payload)
    return buf.getvalue()


def day_of(day_index: int) -> dt.date:
    """Date of a day index (days since 1970-01-01)."""
    return EPOCH + dt.timedelta(days=day_index)


class DeliveryWriter:
    """Buffers rendered rows by delivery day and writes them once their day can no longer grow.

    Rows carry ``delivery_day`` (days since the epoch), ``sort_us`` (collector order) and
    either a ``line`` column (JSON lines) or the CSV columns in ``csv_columns``.
    """

    def __init__(self, root: Path, source: str, stem: str, suffix: str, csv_columns: list[str] | None = None):
        self.folder = root / source
        self.stem = stem
        self.suffix = suffix
        self.csv_columns = csv_columns
        self.pending: list[pl.DataFrame] = []
        self.files: list[Path] = []
        self.lines = 0
        # Compressing is the slowest step and zlib releases the GIL: one background thread
        # compresses and writes while the next day is simulated.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gzip-{source}")
        self._jobs: list[Future[None]] = []

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self.pending.append(frame)

    def flush(self, up_to_day: int | None = None) -> None:
        """Write every delivery day ``<= up_to_day`` (all when None)."""
        if not self.pending:
            return
        pending = pl.concat(self.pending, how="vertical")
        if up_to_day is None:
            ready, rest = pending, pending.clear()
        else:
            ready = pending.filter(pl.col("delivery_day") <= up_to_day)
            rest = pending.filter(pl.col("delivery_day") > up_to_day)
        self.pending = [rest] if rest.height else []
        sort_cols = ["sort_us", "line"] if self.csv_columns is None else ["sort_us", "reading_id"]
        for (day,), part in ready.sort(["delivery_day", *sort_cols]).group_by(
            "delivery_day", maintain_order=True
        ):
            self._write_day(day_of(int(day)), part)

    def _write_day(self, date: dt.date, part: pl.DataFrame) -> None:
        folder = self.folder / date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        existing = sum(1 for p in self.files if p.parent == folder)
        for i, start in enumerate(range(0, part.height, MAX_LINES_PER_FILE)):
            chunk = part.slice(start, MAX_LINES_PER_FILE)
            buf = io.BytesIO()
            if self.csv_columns is None:  # one JSON document per line, written verbatim
                chunk.select("line").write_csv(buf, include_header=False, quote_style="never")
            else:
                chunk.select(self.csv_columns).write_csv(buf)
            payload = buf.getvalue()
            path = folder / f"{self.stem}-{date.isoformat()}-{existing + i:03d}{self.suffix}"
            self._jobs.append(self._pool.submit(_write_gzip, path, payload))
            self.files.append(path)
            self.lines += chunk.height
        self._drain(keep=1)

    def _drain(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` files are still being written (bounds memory; raises their errors)."""
        while len(self._jobs) > keep:
            self._jobs.pop(0).result()

    def close(self) -> None:
        """Write everything still pending and wait for the files to be on disk."""
        self.flush()
        self._drain()
        self._pool.shutdown()


def _write_gzip(path: Path, payload: bytes) -> None:
    path.write_bytes(gzip_bytes(payload))
