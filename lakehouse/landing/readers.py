"""Turn one landing file into raw records (contract columns as text) and rejected lines.

Every physical line is accounted for: it becomes a record (validated later against the
contract) or a rejected line with a reason. Nothing here ever skips a line silently, which is
why JSON is not read with DuckDB's ``read_json(ignore_errors=true)`` (it turns bad lines into
all-NULL rows without saying so): the file is split into lines first, keeping each line's
number, and only lines that are valid JSON objects are decoded.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from lakehouse.contracts import Contract

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


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by magic number, not by name)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(
                f"{path}: gzip stream is corrupt or truncated ({exc}); re-deliver the file, "
                "it was not landed and will be picked up again"
            ) from exc
    return data


def split_lines(data: bytes, first_line: int = 1) -> pl.DataFrame:
    """Physical lines with their 1-based numbers, split in Rust (no Python loop over lines).

    Polars' CSV reader with a separator that cannot occur in text (NUL) and no quoting reads
    each line as one field, keeping empty lines (as empty strings), in parallel. A file that does
    contain NUL bytes takes a slower exact path so no line is cut at the NUL. A final newline
    does not start an extra line; ``\\r\\n`` endings are normalised. Bytes that are not UTF-8 are
    replaced (U+FFFD), so such a line is still counted and, failing to parse, quarantined.
    """
    if not data:
        return pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String})
    if b"\x00" in data:
        text = data.decode("utf-8", errors="replace").removesuffix("\n")
        frame = pl.DataFrame({RAW: pl.Series(RAW, [text]).str.split("\n").explode()})
    else:
        frame = pl.read_csv(
            data,
            has_header=False,
            separator="\x00",
            quote_char=None,
            encoding="utf8-lossy",
            schema={RAW: pl.String},
        )
    frame = frame.with_columns(pl.col(RAW).fill_null("").str.strip_suffix("\r"))
    return (
        frame.with_row_index(LINE, offset=first_line)
        .with_columns(pl.col(LINE).cast(pl.Int64))
        .select(LINE, RAW)
    )


def parse_json_lines(lines: pl.DataFrame, contract: Contract) -> RawChunk:
    """Decode JSON-object lines into the contract's columns as text; reject everything else."""
    con = duckdb.connect()
    try:
        con.register("lines", lines.select(LINE, RAW).to_arrow())
        paths = ", ".join(f"'$.\"{n}\"'" for n in contract.names)
        cols = ", ".join(f'vals[{i + 1}] AS "{n}"' for i, n in enumerate(contract.names))
        # A valid JSON text that starts with "{" is an object: no second parse to ask its type.
        parsed = con.sql(
            f"""
            WITH d AS (
              SELECT {LINE}, json_valid({RAW}) AS ok, starts_with(ltrim({RAW}), '{{') AS obj,
                     CASE WHEN json_valid({RAW}) AND starts_with(ltrim({RAW}), '{{')
                          THEN json_extract_string({RAW}, [{paths}]) END AS vals
              FROM lines
            )
            SELECT {LINE}, ok, obj, {cols} FROM d
            """
        ).pl()
    finally:
        con.close()
    # DuckDB keeps insertion order for a plain projection; checked, since raw lines are re-attached by position.
    if parsed.height != lines.height or not (parsed[LINE] == lines[LINE]).all():
        raise RuntimeError("JSON decoding changed the order of lines; this is a Beacon bug, please report it")
    parsed = parsed.with_columns(lines[RAW])
    good = pl.col("ok") & pl.col("obj")
    rejected = parsed.filter(~good).select(
        LINE,
        RAW,
        pl.when(pl.col(RAW).str.strip_chars() == "")
        .then(pl.lit("malformed_json[line]: empty line"))
        .when(~pl.col("ok"))
        .then(pl.lit("malformed_json[line]: not valid JSON (truncated or corrupt line)"))
        .otherwise(pl.lit("malformed_json[line]: valid JSON but not an object ({...})"))
        .alias(REASON),
    )
    records = parsed.filter(good).select(*contract.names, LINE, RAW)
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
    lines = split_lines(read_bytes(path))
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
