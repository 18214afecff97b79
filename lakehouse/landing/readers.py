"""Turn one landing file into raw records (contract columns as text) and rejected lines.

Every physical line is accounted for: it becomes a record (validated later against the
contract) or a rejected line with a reason. Nothing here ever skips a line silently, which is
why JSON is not read with DuckDB's ``read_json(ignore_errors=true)`` (it turns bad lines into
all-NULL rows without saying so): the file is split into lines first, keeping each line's
number, and only lines that are valid JSON objects are decoded.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from lakehouse.contracts import Contract

#: DuckDB threads for JSON decoding. Landing decodes the next file in a reader thread while
#: the current one is validated and written: one thread here leaves the other core to that work
#: instead of making two thread pools fight over it.
JSON_THREADS = int(os.environ.get("BEACON_LANDING_JSON_THREADS", "1"))
LINE = "_source_line"
RAW = "_raw"
REASON = "reason"


@dataclass
class RawChunk:
    """Records (contract columns as text + ``_source_line`` + ``_raw``), rejected lines and skips."""

    records: pl.DataFrame
    rejected: pl.DataFrame
    skipped: int = 0

    @property
    def lines_read(self) -> int:
        return self.records.height + self.rejected.height + self.skipped


def empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String, REASON: pl.String})


GZIP_MAGIC = b"\x1f\x8b"


def _corrupt(path: Path | None, exc: BaseException) -> ValueError:
    return ValueError(
        f"{path or 'input'}: gzip stream is corrupt or truncated ({exc}); re-deliver the file, "
        "it was not landed and will be picked up again"
    )


def gunzip(data: bytes, path: Path | None = None) -> bytes:
    """``data`` decompressed when it is gzip (by magic number, not by name), else as is."""
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise _corrupt(path, exc) from exc
    return data


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by magic number, not by name)."""
    return gunzip(path.read_bytes(), path)


_EMPTY_LINES = {LINE: pl.Int64, RAW: pl.String}


def split_lines(data: bytes, first_line: int = 1, path: Path | None = None) -> pl.DataFrame:
    """Physical lines with their 1-based numbers, split in Rust (no Python loop over lines).

    Polars' CSV reader with a separator that cannot occur in text (NUL) and no quoting reads
    each line as one field, keeping empty lines (as empty strings), in parallel; it also inflates
    gzip itself (multi-member streams included), and refuses a truncated or corrupt stream. A
    file that does contain NUL bytes (polars then sees two fields on a line and refuses it) takes
    a slower exact path so no line is cut at the NUL. A final newline does not start an extra
    line; ``\\r\\n`` endings are normalised. Bytes that are not UTF-8 are replaced (U+FFFD), so such
    a line is still counted and, failing to parse, quarantined.
    """
    if not data:
        return pl.DataFrame(schema=_EMPTY_LINES)
    if data[:2] != GZIP_MAGIC and b"\x00" in data:
        return _nul_lines(data, first_line)
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            separator="\x00",
            quote_char=None,
            encoding="utf8-lossy",
            schema={RAW: pl.String},
        )
    except pl.exceptions.NoDataError:
        return pl.DataFrame(schema=_EMPTY_LINES)
    except OSError as exc:  # truncated or corrupt gzip
        raise _corrupt(path, exc) from exc
    except pl.exceptions.ComputeError:
        # a NUL byte inside a line (or a stream polars cannot inflate): the exact path decides
        if data[:2] == GZIP_MAGIC:
            return split_lines(gunzip(data, path), first_line, path)
        return _nul_lines(data, first_line)
    frame = frame.with_columns(pl.col(RAW).fill_null("").str.strip_suffix("\r"))
    return (
        frame.with_row_index(LINE, offset=first_line)
        .with_columns(pl.col(LINE).cast(pl.Int64))
        .select(LINE, RAW)
    )


def _nul_lines(data: bytes, first_line: int) -> pl.DataFrame:
    text = data.decode("utf-8", errors="replace").removesuffix("\n")
    frame = pl.DataFrame({RAW: pl.Series(RAW, [text]).str.split("\n").explode()})
    return (
        frame.with_columns(pl.col(RAW).fill_null("").str.strip_suffix("\r"))
        .with_row_index(LINE, offset=first_line)
        .with_columns(pl.col(LINE).cast(pl.Int64))
        .select(LINE, RAW)
    )


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()
    con.register(name, pa.Table.from_batches(arrow.to_batches(max_chunksize=32_768), arrow.schema))


def parse_json_lines(lines: pl.DataFrame, contract: Contract) -> RawChunk:
    """Decode JSON-object lines into the contract's columns as text; reject everything else.

    Two vectorised DuckDB passes: first which lines are valid JSON objects (cheap), then the
    contract's fields of those lines only (one parse each, every field extracted at once). No
    line is dropped: each one is a record or a rejected line with its reason.
    """
    con = duckdb.connect(config={"threads": JSON_THREADS})
    try:
        _register(con, "lines", lines.select(LINE, RAW))
        # A valid JSON text that starts with "{" is an object: no second parse to ask its type.
        flags = con.sql(
            f"SELECT {LINE}, json_valid({RAW}) AS ok, starts_with(ltrim({RAW}), '{{') AS obj FROM lines"
        ).pl()
        # DuckDB keeps insertion order for a plain projection; checked, since rows are matched by position.
        if flags.height != lines.height or not (flags[LINE] == lines[LINE]).all():
            raise RuntimeError(
                "JSON decoding changed the order of lines; this is a Beacon bug, please report it"
            )
        good = flags["ok"] & flags["obj"]
        good_lines = lines.filter(good)
        paths = ", ".join(f"'$.\"{n}\"'" for n in contract.names)
        cols = ", ".join(f'vals[{i + 1}] AS "{n}"' for i, n in enumerate(contract.names))
        _register(con, "good", good_lines.select(LINE, RAW))
        fields = con.sql(
            f"SELECT {LINE} AS __line, {cols} FROM "
            f"(SELECT {LINE}, json_extract_string({RAW}, [{paths}]) AS vals FROM good)"
        ).pl()
    finally:
        con.close()
    if fields.height != good_lines.height or not (fields["__line"] == good_lines[LINE]).all():
        raise RuntimeError("JSON decoding changed the order of lines; this is a Beacon bug, please report it")
    records = fields.drop("__line").hstack(good_lines.select(LINE, RAW)).select(*contract.names, LINE, RAW)
    rejected = (
        lines.filter(~good)
        .with_columns(flags["ok"].filter(~good))
        .select(
            LINE,
            RAW,
            pl.when(pl.col(RAW).str.strip_chars() == "")
            .then(pl.lit("malformed_json[line]: empty line"))
            .when(~pl.col("ok"))
            .then(pl.lit("malformed_json[line]: not valid JSON (truncated or corrupt line)"))
            .otherwise(pl.lit("malformed_json[line]: valid JSON but not an object ({...})"))
            .alias(REASON),
        )
    )
    return RawChunk(records=records, rejected=rejected)


_QUOTED = r'"(?:[^"]|"")*"'


def parse_csv_lines(lines: pl.DataFrame, contract: Contract, path: Path) -> RawChunk:
    """Parse a CSV whose first line is a header naming contract fields; reject ragged lines.

    A line with a different number of fields than the header cannot be mapped to columns
    without guessing, so it is rejected with both counts. The well-formed lines are then parsed
    by polars' CSV reader (quotes, escaped quotes) all as text.
    """
    if lines.height == 0:
        return RawChunk(
            records=pl.DataFrame(
                schema={**{n: pl.String for n in contract.names}, LINE: pl.Int64, RAW: pl.String}
            ),
            rejected=empty_rejected(),
        )
    header = lines[RAW][0]
    columns = [c.strip().strip('"') for c in header.split(",")]
    unknown_required = [f.name for f in contract.fields if f.required and f.name not in columns]
    if unknown_required:
        raise ValueError(
            f"{path}: CSV header {columns} lacks required field(s) {unknown_required} of contract "
            f"{contract.name}; fix the export or land it through a mapping (landing/imports/<name>/mapping.yaml)"
        )
    body = lines.slice(1)
    counted = body.with_columns(
        (pl.col(RAW).str.replace_all(_QUOTED, "").str.count_matches(",", literal=True) + 1).alias("_nfields")
    )
    ok = pl.col("_nfields") == len(columns)
    rejected = counted.filter(~ok).select(
        LINE,
        RAW,
        pl.format(
            "malformed_csv[line]: expected {} fields like the header, got {}",
            pl.lit(len(columns)),
            pl.col("_nfields"),
        ).alias(REASON),
    )
    good = counted.filter(ok)
    if good.height:
        payload = (header + "\n").encode() + good.select(pl.col(RAW).str.join("\n"))[RAW][0].encode() + b"\n"
        parsed = pl.read_csv(payload, infer_schema=False, has_header=True, new_columns=columns)
        if parsed.height != good.height:
            raise ValueError(
                f"{path}: CSV parser saw {parsed.height} rows in {good.height} lines "
                "(a quoted field spans lines?); split such fields or use a mapping"
            )
        keep = [c for c in columns if c in contract.names]
        records = parsed.select(keep).hstack(good.select(LINE, RAW))
    else:
        records = pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String})
    missing = [n for n in contract.names if n not in records.columns]
    records = records.with_columns([pl.lit(None, pl.String).alias(n) for n in missing]).select(
        *contract.names, LINE, RAW
    )
    return RawChunk(records=records, rejected=rejected)


def read_native(path: Path, contract: Contract) -> RawChunk:
    """Read a generator/collector file in Beacon's own format (JSON lines or CSV, maybe gzipped)."""
    name = path.name.lower().removesuffix(".gz")
    lines = split_lines(path.read_bytes(), path=path)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return parse_json_lines(lines, contract)
    if name.endswith(".csv"):
        return parse_csv_lines(lines, contract, path)
    raise ValueError(
        f"{path}: unknown file type; Beacon lands .jsonl[.gz] and .csv[.gz] files, "
        "or any format through a mapping in landing/imports/<name>/"
    )


def read_mapped(mapping: object, path: Path, chunk_rows: int = 200_000) -> Iterator[RawChunk]:
    """Read a user's export through its source mapping (``lakehouse.mappings``), chunk by chunk."""
    for chunk in mapping.read(path, chunk_rows=chunk_rows):  # type: ignore[attr-defined]
        records = chunk.records
        rejected = chunk.rejected
        yield RawChunk(
            records=records.with_columns(pl.col(LINE).cast(pl.Int64), pl.col(RAW).cast(pl.String)),
            rejected=rejected.select(
                pl.col(LINE).cast(pl.Int64), pl.col(RAW).cast(pl.String), pl.col(REASON).cast(pl.String)
            ),
            skipped=int(chunk.skipped),
        )
