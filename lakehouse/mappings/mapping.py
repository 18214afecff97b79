"""Apply a declarative source mapping to a user's export, chunk by chunk.

The engine turns each chunk of source records into contract-shaped records (every contract
field, as text or typed values that ``validate_frame`` accepts, plus ``_source_line`` and
``_raw``), the records the mapping itself could not map (with a reason), and a count of records
skipped on purpose by the mapping's ``skip`` rules. Landing validates, pseudonymises and
quarantines from there; this module never decides what is *valid*, only how source columns
become contract fields, so the contract stays the one source of truth for validity.

Accounting: every data record of the file ends up in exactly one of records, rejected and
skipped. For a ``melt`` mapping the unit is the *reading* (record x melted column), so a line of
a 26-column sensor log accounts for 26 outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl

from lakehouse.contracts import CONTRACTS
from lakehouse.mappings import expressions as ex
from lakehouse.mappings.errors import MappingError
from lakehouse.mappings.ids import key_ids
from lakehouse.mappings.readers import (
    RAW_COLUMN,
    REASON_COLUMN,
    REJECT_SCHEMA,
    CsvReader,
    JsonLinesReader,
    RawChunk,
)
from lakehouse.mappings.spec import LINE_COLUMN, MELT_COLUMN, Hash, MappingSpec, kind_of, parse_spec
from lakehouse.mappings.yaml_loader import DuplicateKeyError, load_yaml

SHIPPED_DIR = "shipped"
_MELT_VALUE = "__melt_value"


@dataclass(frozen=True)
class MappedChunk:
    """One chunk of a mapped file.

    ``records``: contract fields + ``_source_line`` (Int64) + ``_raw`` (String).
    ``rejected``: ``_source_line``, ``_raw``, ``reason`` for what the mapping could not map.
    ``skipped``: how many records the mapping's skip rules (or ``melt.empty: skip``) left out.
    """

    records: pl.DataFrame
    rejected: pl.DataFrame
    skipped: int


def _value_col(field: str) -> str:
    return f"__v_{field}"


def _error_col(field: str) -> str:
    return f"__e_{field}"


class SourceMapping:
    """A validated mapping file, ready to read data files of its source."""

    def __init__(self, spec: MappingSpec) -> None:
        self.spec = spec
        self.path: Path = spec.file
        self.name: str = spec.name
        self.description: str = spec.description
        self.contract: Literal["clickstream", "sensors"] = spec.contract  # type: ignore[assignment]
        self.file_glob: str = spec.source.file_glob
        #: contract fields that landing must pseudonymise (the contract's defaults plus declared ones)
        self.identifiers: tuple[str, ...] = spec.identifiers
        self._contract = CONTRACTS[spec.contract]
        self._melt_columns = [m.column for m in spec.melt.columns] if spec.melt else []
        self._refs = {name: ex.references(node) for name, node in spec.fields.items()}

    def __repr__(self) -> str:
        return f"SourceMapping(name={self.name!r}, contract={self.contract!r}, file={str(self.path)!r})"

    @property
    def source_columns(self) -> list[str]:
        """File columns the mapping reads (fields, skip rules, melted columns), in first-use order."""
        cols = list(self.spec.column_refs)
        return cols + [c for c in self._melt_columns if c not in cols]

    @property
    def identifier_source_columns(self) -> dict[str, list[str]]:
        """For each identifier field, the file columns its value is built from.

        Landing needs these to pseudonymise identifier values inside ``_raw`` before it stores
        a quarantined line (the raw text holds ``17850.0``, not the mapped ``17850``).
        """
        return {
            name: sorted(c for c in self._refs.get(name, set()) if not c.startswith("_"))
            for name in self.identifiers
        }

    # ---------------------------------------------------------------------------------- read
    def read(self, path: str | Path, chunk_rows: int = 200_000) -> Iterator[MappedChunk]:
        """Map one data file, yielding chunks of at most ``chunk_rows`` source records
        (x the number of melted columns for a melt mapping).

        Raises :class:`MappingError` when the file lacks a column the mapping reads.
        """
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        path = Path(path)
        source = self.spec.source
        if source.format == "csv":
            reader: CsvReader | JsonLinesReader = CsvReader(path, source, self.path)
            if reader.header is None:
                return
            self._check_header(path, reader.header)
        else:
            reader = JsonLinesReader(path, source, self.path, self.source_columns)
        for raw in reader.chunks(chunk_rows):
            yield self._map(raw)

    def _check_header(self, path: Path, header: list[str]) -> None:
        present = set(header)
        for column in self.source_columns:
            if column not in present:
                key = self.spec.column_refs.get(column) or f"melt.columns.{column}"
                raise MappingError(
                    self.path,
                    key,
                    f"column '{column}' is not in data file {path.name}; its columns are: {', '.join(header)}",
                    f"{_close(column, header)}fix the column name in the mapping (names are case-sensitive)",
                )
        if self.spec.melt is not None:
            accounted = set(self.source_columns) | set(self.spec.melt.ignore)
            unaccounted = [c for c in header if c not in accounted]
            if unaccounted:
                raise MappingError(
                    self.path,
                    "melt.ignore",
                    f"data file {path.name} has columns that are neither melted nor read nor ignored: "
                    f"{', '.join(unaccounted)}",
                    "declare them under melt.columns, or list them in melt.ignore to drop them on purpose",
                )

    # ----------------------------------------------------------------------------------- map
    def _compile(self, names: list[str]) -> list[pl.Expr]:
        exprs = []
        for name in names:
            compiled = ex.value(self.spec.fields[name], kind_of(self._contract, name), name)
            exprs += [compiled.value.alias(_value_col(name)), compiled.error.alias(_error_col(name))]
        return exprs

    def _map(self, raw: RawChunk) -> MappedChunk:
        spec = self.spec
        n_melt = len(self._melt_columns) or 1
        read_cols = [c for c in spec.column_refs if c in raw.rows.columns]
        rows = raw.rows.with_columns([ex.trimmed(c) for c in read_cols])

        skipped = 0
        if spec.skip:
            skip = pl.any_horizontal([ex.condition(r.when) for r in spec.skip])
            flagged = rows.with_columns(skip.alias("__skip"))
            skipped = int(flagged["__skip"].sum()) * n_melt
            rows = flagged.filter(~pl.col("__skip")).drop("__skip")

        row_fields = [n for n in spec.fields if MELT_COLUMN not in self._refs[n]]
        late_fields = [n for n in spec.fields if n not in row_fields]
        rows = rows.with_columns(self._compile(row_fields))
        errors = [_error_col(n) for n in spec.fields]
        if spec.melt is not None:
            rows, empty = self._melt(rows, row_fields, late_fields)
            skipped += empty
            rows = rows.with_columns(self._compile(late_fields))
            errors.append(_error_col("value"))

        for name, node in spec.fields.items():
            if isinstance(node, Hash):
                rows = rows.with_columns(key_ids(rows[_value_col(name)], node.prefix).alias(_value_col(name)))

        rows = rows.with_columns(
            pl.concat_str([pl.col(c) for c in errors], separator="; ", ignore_nulls=True).alias(
                REASON_COLUMN
            ),
            pl.sum_horizontal([pl.col(c).is_not_null() for c in errors]).alias("__n_err"),
        )
        rejected = rows.filter(pl.col("__n_err") > 0).select(LINE_COLUMN, RAW_COLUMN, REASON_COLUMN)
        good = rows.filter(pl.col("__n_err") == 0)
        filled = set(spec.fields) | (
            {"sensor_type", "unit", "room", "device_id", "value"} if spec.melt else set()
        )
        records = good.select(
            *[
                (pl.col(_value_col(f)) if f in filled else pl.lit(None, pl.String)).alias(f)
                for f in self._contract.names
            ],
            LINE_COLUMN,
            RAW_COLUMN,
        )
        structural = raw.rejected
        if spec.melt is not None and structural.height:
            # Every line accounts for one outcome per melted column, rejects included.
            structural = structural.join(pl.DataFrame({"__col": self._melt_columns}), how="cross").select(
                LINE_COLUMN,
                RAW_COLUMN,
                pl.format("{} (reading {})", pl.col(REASON_COLUMN), pl.col("__col")).alias(REASON_COLUMN),
            )
        rejected = pl.concat([structural.cast(dict(REJECT_SCHEMA)), rejected.cast(dict(REJECT_SCHEMA))]).sort(
            LINE_COLUMN, maintain_order=True
        )
        return MappedChunk(records, rejected, skipped)

    def _melt(
        self, rows: pl.DataFrame, row_fields: list[str], late_fields: list[str]
    ) -> tuple[pl.DataFrame, int]:
        """Wide sensor rows to one row per (line, melted column), with the column's declaration."""
        assert self.spec.melt is not None
        late_refs = set().union(*(self._refs[n] for n in late_fields)) if late_fields else set()
        keep = [LINE_COLUMN, RAW_COLUMN]
        keep += [c for f in row_fields for c in (_value_col(f), _error_col(f))]
        keep += [c for c in rows.columns if c in late_refs and c not in keep and c not in self._melt_columns]
        long = rows.unpivot(
            on=self._melt_columns, index=keep, variable_name=MELT_COLUMN, value_name=_MELT_VALUE
        )
        long = long.sort(LINE_COLUMN, maintain_order=True)
        decl = pl.DataFrame(
            [
                {
                    MELT_COLUMN: m.column,
                    "sensor_type": m.sensor_type,
                    "unit": m.unit,
                    "room": m.room,
                    "device_id": m.device_id,
                    "__scale": m.scale,
                }
                for m in self.spec.melt.columns
            ]
        )
        long = long.join(decl, on=MELT_COLUMN, how="left", maintain_order="left")
        text = pl.col(_MELT_VALUE).str.strip_chars()
        text = pl.when(text != "").then(text)
        long = long.with_columns(text.alias(_MELT_VALUE))
        empty = 0
        if self.spec.melt.empty == "skip":
            is_empty = pl.col(_MELT_VALUE).is_null()
            empty = int(long.select(is_empty.sum()).item())
            long = long.filter(~is_empty)
        number = pl.col(_MELT_VALUE).cast(pl.Float64, strict=False)
        long = long.with_columns(
            (number * pl.col("__scale")).alias(_value_col("value")),
            pl.when(pl.col(_MELT_VALUE).is_null())
            .then(pl.format("empty_reading[value]: column {} is empty", pl.col(MELT_COLUMN)))
            .when(number.is_null())
            .then(
                pl.format(
                    "cast_failed[value]: column {} value '{}' is not a number",
                    pl.col(MELT_COLUMN),
                    pl.col(_MELT_VALUE).str.slice(0, 80),
                )
            )
            .alias(_error_col("value")),
            *[pl.col(c).alias(_value_col(c)) for c in ("sensor_type", "unit", "room", "device_id")],
        )
        return long, empty


def _close(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def load_mapping(path: str | Path) -> SourceMapping:
    """Read and validate a mapping YAML file; raise :class:`MappingError` naming file, key and fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            path, "", f"cannot read the mapping file ({exc.strerror})", "check the path"
        ) from None
    try:
        doc = load_yaml(text)
    except DuplicateKeyError as exc:
        raise MappingError(
            path, str(exc.key), f"key appears twice (line {exc.line})", "keep one of them"
        ) from None
    except Exception as exc:  # yaml.YAMLError and friends: report the parser's own position
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(path, "", f"not valid YAML at {where}: {problem}", "fix the YAML syntax") from None
    if doc is None:
        raise MappingError(
            path, "", "the mapping file is empty", "see lakehouse/mappings/README.md for an example"
        )
    return SourceMapping(parse_spec(doc, path))


def shipped_names() -> list[str]:
    """Names of the mappings shipped with Beacon."""
    folder = resources.files("lakehouse.mappings") / SHIPPED_DIR
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def shipped_mapping(name: str) -> SourceMapping:
    """A mapping shipped with Beacon for a public dataset, e.g. ``uci_online_retail``."""
    names = shipped_names()
    if name not in names:
        raise KeyError(f"no shipped mapping {name!r}; shipped: {', '.join(names)}")
    resource = resources.files("lakehouse.mappings") / SHIPPED_DIR / f"{name}.yaml"
    with resources.as_file(resource) as path:
        return load_mapping(path)
