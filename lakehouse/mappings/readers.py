"""Streaming readers that keep each record's physical line number and original text.

Quarantine must point at the exact line of the user's file and keep that line as it was, so
these readers do not hand the whole file to a CSV parser: they read the file in byte blocks,
split blocks into physical lines, group lines into records by quote parity (a quoted field may
contain newlines, and then one record spans several lines), and only then parse the records of
a block with polars' CSV parser (all columns as text). A record whose field count differs from
the header's is rejected with its line instead of shifting every later column. Memory is bounded
by the block size and the chunk size, whatever the file size.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from lakehouse.mappings.errors import MappingError
from lakehouse.mappings.spec import LINE_COLUMN, SourceSpec

RAW_COLUMN = "_raw"
REASON_COLUMN = "reason"
BLOCK_BYTES = 8 << 20
REJECT_SCHEMA = pl.Schema({LINE_COLUMN: pl.Int64(), RAW_COLUMN: pl.String(), REASON_COLUMN: pl.String()})


@dataclass(frozen=True)
class RawChunk:
    """Records of one chunk: source columns as text plus line number and raw text; and the
    records that could not even be split into the declared columns."""

    rows: pl.DataFrame
    rejected: pl.DataFrame


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def line_blocks(
    path: Path, encoding: str, mapping_file: Path, block_bytes: int | None = None
) -> Iterator[pl.DataFrame]:
    """Physical lines of a file as frames (``line_no`` Int64 from 1, ``line`` without its ``\\n``).

    Blocks always end on a line break, so a line is never split between two frames.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    next_line = 1
    carry = b""
    first = True
    with _open(path) as fh:
        while True:
            block = fh.read(block_bytes)
            eof = not block
            data = carry + block
            if not eof:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                complete, carry = data[: cut + 1], data[cut + 1 :]
            else:
                complete, carry = data, b""
                if not complete:
                    return
            try:
                text = complete.decode(encoding)
            except UnicodeDecodeError as exc:
                line = next_line + complete[: exc.start].count(b"\n")
                raise MappingError(
                    mapping_file,
                    "source.encoding",
                    f"data file {path} is not valid {encoding} (first bad byte on line {line})",
                    "set source.encoding to the file's encoding, e.g. cp1252 or latin-1",
                ) from None
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            lines = pl.Series("line", [text]).str.split("\n").explode()
            if text.endswith("\n"):
                lines = lines.head(len(lines) - 1)
            n = len(lines)
            yield pl.DataFrame(
                {"line_no": pl.int_range(next_line, next_line + n, eager=True, dtype=pl.Int64), "line": lines}
            )
            next_line += n
            if eof:
                return


def _records(lines: pl.DataFrame, quote: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(complete records, lines of a trailing record whose quote is still open).

    A line starts a record when the number of quote characters before it (within the block) is
    even; RFC 4180 escapes a quote by doubling it, which keeps the parity right.
    """
    if lines.height == 0:
        return pl.DataFrame(schema={LINE_COLUMN: pl.Int64, RAW_COLUMN: pl.String}), lines
    parity = lines["line"].str.count_matches(quote, literal=True).cum_sum() % 2
    starts = parity.shift(1, fill_value=0) == 0
    if bool(starts.all()) and parity[-1] == 0:  # the usual case: one line per record
        records = lines.select(pl.col("line_no").alias(LINE_COLUMN), pl.col("line").alias(RAW_COLUMN))
        pending = lines.clear()
    else:
        rec = starts.cum_sum().alias("__rec")
        framed = lines.with_columns(rec)
        last = int(rec[-1])
        open_tail = parity[-1] == 1
        complete = framed.filter(pl.col("__rec") < last) if open_tail else framed
        pending = framed.filter(pl.col("__rec") == last).drop("__rec") if open_tail else lines.clear()
        records = (
            complete.group_by("__rec", maintain_order=True)
            .agg(
                pl.col("line_no").first().alias(LINE_COLUMN), pl.col("line").str.join("\n").alias(RAW_COLUMN)
            )
            .drop("__rec")
        )
    records = records.with_columns(pl.col(RAW_COLUMN).str.strip_suffix("\r"))
    return records.filter(pl.col(RAW_COLUMN) != ""), pending


def csv_records(path: Path, spec: SourceSpec, mapping_file: Path) -> Iterator[pl.DataFrame]:
    """Frames of records (``_source_line``, ``_raw``), after the declared preamble lines.

    An unterminated quote at the end of the file comes out as a record too; it then fails the
    field count (or the parse) and is rejected with its first line.
    """
    pending: pl.DataFrame | None = None
    for block in line_blocks(path, spec.encoding, mapping_file):
        if spec.skip_lines:
            block = block.filter(pl.col("line_no") > spec.skip_lines)
        lines = block if pending is None or pending.height == 0 else pl.concat([pending, block])
        records, pending = _records(lines, spec.quote)
        if records.height:
            yield records
    if pending is not None and pending.height:
        yield (
            pending.group_by(pl.lit(0))
            .agg(
                pl.col("line_no").first().alias(LINE_COLUMN), pl.col("line").str.join("\n").alias(RAW_COLUMN)
            )
            .select(LINE_COLUMN, RAW_COLUMN)
        )


def _parse_csv(text: str, spec: SourceSpec, names: list[str]) -> pl.DataFrame:
    return pl.read_csv(
        io.BytesIO(text.encode("utf-8")),
        has_header=False,
        new_columns=names,
        separator=spec.delimiter,
        quote_char=spec.quote,
        infer_schema=False,
        raise_if_empty=False,
    )


class CsvReader:
    """A CSV file as chunks of text records with their header checked and parsed."""

    def __init__(self, path: Path, spec: SourceSpec, mapping_file: Path) -> None:
        self.path = path
        self.spec = spec
        self.mapping_file = mapping_file
        self._records = csv_records(path, spec, mapping_file)
        self._first: pl.DataFrame | None = None
        self.header: list[str] | None = list(spec.column_names) if spec.column_names else None
        if spec.header:
            self._read_header()
        q = re.escape(spec.quote)
        self._quoted = f"{q}(?:[^{q}]|{q}{q})*{q}"

    def _read_header(self) -> None:
        first = next(self._records, None)
        if first is None:
            return
        line = first.row(0, named=True)
        self._first = first.slice(1)
        # One line: the standard csv module is the simplest exact parser for it.
        cells = next(
            csv.reader(
                io.StringIO(line[RAW_COLUMN], newline=""),
                delimiter=self.spec.delimiter,
                quotechar=self.spec.quote,
            ),
            [],
        )
        names = [c.strip() for c in cells]
        if self.spec.column_names is not None:
            if len(names) != len(self.spec.column_names):
                raise MappingError(
                    self.mapping_file,
                    "source.column_names",
                    f"data file {self.path.name} has {len(names)} header columns, the mapping names {len(self.spec.column_names)}",
                    "list exactly the file's columns, or drop column_names to use the header's names",
                )
            names = list(self.spec.column_names)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes or "" in names:
            raise MappingError(
                self.mapping_file,
                "source.header",
                f"data file {self.path.name} (line {line[LINE_COLUMN]}) has "
                + (f"duplicate column names {dupes}" if dupes else "an empty column name"),
                "give every column a unique name with source.column_names (and header: true to skip the header)",
            )
        self.header = names

    def chunks(self, chunk_rows: int) -> Iterator[RawChunk]:
        if self.header is None:
            return
        names = self.header
        n = len(names)
        first = [self._first] if self._first is not None and self._first.height else []
        for records in (*first, *self._records):
            for start in range(0, records.height, chunk_rows):
                yield self._chunk(records.slice(start, chunk_rows), names, n)

    def _chunk(self, records: pl.DataFrame, names: list[str], n: int) -> RawChunk:
        counted = records.with_columns(
            (
                pl.col(RAW_COLUMN)
                .str.replace_all(self._quoted, "")
                .str.count_matches(self.spec.delimiter, literal=True)
                + 1
            ).alias("__fields"),
            (pl.col(RAW_COLUMN).str.count_matches(self.spec.quote, literal=True) % 2 == 1).alias("__open"),
        )
        good = counted.filter((pl.col("__fields") == n) & ~pl.col("__open"))
        bad = counted.filter((pl.col("__fields") != n) | pl.col("__open")).select(
            LINE_COLUMN,
            RAW_COLUMN,
            pl.when(pl.col("__open"))
            .then(pl.lit("bad_csv[record]: a quoted field is never closed"))
            .otherwise(
                pl.format(
                    "wrong_field_count[record]: expected {} fields as in the header, found {}",
                    pl.lit(n),
                    pl.col("__fields"),
                )
            )
            .alias(REASON_COLUMN),
        )
        if good.height:
            parsed = _parse_csv(good[RAW_COLUMN].str.join("\n").item(), self.spec, names)
            if parsed.height != good.height:
                raise RuntimeError(
                    f"{self.path}: CSV parser returned {parsed.height} rows for {good.height} records "
                    f"(lines {good[LINE_COLUMN].min()}..{good[LINE_COLUMN].max()})"
                )
            rows = parsed.with_columns(good[LINE_COLUMN], good[RAW_COLUMN])
        else:
            rows = pl.DataFrame(
                schema={**{c: pl.String for c in names}, LINE_COLUMN: pl.Int64, RAW_COLUMN: pl.String}
            )
        return RawChunk(rows, bad)


class JsonLinesReader:
    """A JSON-lines file as chunks: one record per non-blank line, keys extracted as text.

    A column name with dots reads a nested key (``context.page.url``). A line that is not a
    JSON object is rejected with its line number.
    """

    def __init__(self, path: Path, spec: SourceSpec, mapping_file: Path, columns: list[str]) -> None:
        self.path = path
        self.spec = spec
        self.mapping_file = mapping_file
        self.columns = columns
        self.header = None

    @staticmethod
    def json_path(column: str) -> str:
        return "$" + "".join("['" + part.replace("'", "\\'") + "']" for part in column.split("."))

    def chunks(self, chunk_rows: int) -> Iterator[RawChunk]:
        for block in line_blocks(self.path, self.spec.encoding, self.mapping_file):
            lines = block.select(
                pl.col("line_no").alias(LINE_COLUMN), pl.col("line").str.strip_suffix("\r").alias(RAW_COLUMN)
            ).filter(pl.col(RAW_COLUMN).str.strip_chars() != "")
            for start in range(0, lines.height, chunk_rows):
                part = lines.slice(start, chunk_rows)
                raw = pl.col(RAW_COLUMN)
                is_object = (
                    raw.str.strip_chars().str.starts_with("{") & raw.str.json_path_match("$").is_not_null()
                )
                flagged = part.with_columns(is_object.alias("__ok"))
                bad = flagged.filter(~pl.col("__ok")).select(
                    LINE_COLUMN,
                    RAW_COLUMN,
                    pl.lit("bad_json[record]: the line is not a JSON object").alias(REASON_COLUMN),
                )
                good = flagged.filter(pl.col("__ok")).drop("__ok")
                rows = good.with_columns(
                    [raw.str.json_path_match(self.json_path(c)).alias(c) for c in self.columns]
                )
                yield RawChunk(rows.select(*self.columns, LINE_COLUMN, RAW_COLUMN), bad)
