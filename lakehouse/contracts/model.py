"""The building blocks of a data contract: typed fields and vectorised rules.

A contract is the one source of truth for a source's shape. The same definition types the
bronze Delta table, decides what goes to quarantine (and why), validates a single record for
the collector, and renders the documentation in ``docs/contracts.md``. Validation is written
as polars expressions so that landing a million lines costs one vectorised pass, and a single
record is validated by the very same code on a one-row frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

#: Timestamps are stored in UTC with microsecond precision (what Delta and Spark agree on).
TIMESTAMP = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Field:
    """One column of a contract.

    ``required`` means never null; ``allowed`` restricts a string to a closed set; ``spec`` names
    the equivalent field in the public spec the contract follows, for the docs.
    """

    name: str
    dtype: pl.DataType
    description: str
    required: bool = False
    allowed: tuple[str, ...] | None = None
    spec: str | None = None
    example: Any = None


@dataclass(frozen=True)
class Rule:
    """A check across fields: ``violated`` is a polars expression that is true for bad rows.

    ``message`` is a polars expression (or literal text) that explains the problem for that row,
    naming the field and the offending value, so a quarantined record says exactly why. ``doc``
    states the rule in words for the rendered documentation.
    """

    code: str
    field: str
    violated: pl.Expr
    message: pl.Expr | str
    doc: str = ""


@dataclass(frozen=True)
class Violation:
    """Why one record breaks its contract."""

    code: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}[{self.field}]: {self.message}"


@dataclass(frozen=True)
class Contract:
    """A named list of fields and rules with a key and an event-time column."""

    name: str
    description: str
    fields: tuple[Field, ...]
    key: str
    time_field: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    spec_name: str | None = None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def schema(self) -> pl.Schema:
        """The typed schema of a valid record (before landing adds lineage columns)."""
        return pl.Schema({f.name: f.dtype for f in self.fields})

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"contract {self.name!r} has no field {name!r}; fields: {', '.join(self.names)}")


REASONS_COLUMN = "_reasons"
#: Minutes east of UTC of the event-time field as the sender wrote it (null when not given).
OFFSET_COLUMN = "tz_offset_minutes"


def _as_text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String, strict=False)


_TS_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"


def parse_offset_minutes(text: pl.Expr) -> pl.Expr:
    """Minutes east of UTC written in an ISO-8601 timestamp (``Z`` is 0; no offset is null)."""
    suffix = text.str.extract(_TS_OFFSET, 1)
    digits = suffix.str.replace_all(r"[+\-:Z]", "")
    minutes = digits.str.slice(0, 2).cast(pl.Int32, strict=False) * 60 + digits.str.slice(2, 2).cast(
        pl.Int32, strict=False
    )
    sign = pl.when(suffix.str.starts_with("-")).then(-1).otherwise(1)
    return pl.when(suffix == "Z").then(pl.lit(0, pl.Int32)).otherwise((sign * minutes).cast(pl.Int32))


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """An ISO-8601 timestamp with an explicit offset (or ``Z``) as a UTC instant; else null.

    A timestamp without an offset is ambiguous (whose local time?), so the contract refuses it
    rather than guess; source mappings declare the timezone of naive exports explicitly.
    """
    normalised = text.str.strip_chars().str.replace(" ", "T").str.replace(r"Z$", "+00:00")
    with_offset = normalised.str.contains(_TS_OFFSET)
    parsed = normalised.str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%.f%z", time_unit="us", time_zone="UTC", strict=False
    )
    parsed_no_fraction = normalised.str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%z", time_unit="us", time_zone="UTC", strict=False
    )
    return pl.when(with_offset).then(pl.coalesce(parsed, parsed_no_fraction))


_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


def _cast_field(col: pl.Expr, src: pl.DataType, f: Field) -> pl.Expr:
    """Cast one raw column to the field's type; values that do not parse become null."""
    if src == f.dtype:
        return col
    if f.dtype == TIMESTAMP:
        if isinstance(src, pl.Datetime):
            return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us") if src.time_zone else pl.lit(None)
        return parse_timestamp(_as_text(col))
    if f.dtype == pl.Boolean:
        text = _as_text(col).str.strip_chars().str.to_lowercase()
        return pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False)
    if f.dtype.is_integer():
        text = _as_text(col).str.strip_chars()
        as_float = text.cast(pl.Float64, strict=False)
        # "3.0" is an integer written by a tool that only knows floats; "3.5" is not.
        return pl.when(as_float == as_float.round(0)).then(as_float).cast(f.dtype, strict=False)
    if f.dtype.is_float():
        return _as_text(col).str.strip_chars().cast(f.dtype, strict=False)
    if f.dtype == pl.String:
        text = _as_text(col)
        return pl.when(text.str.strip_chars() != "").then(text)
    return col.cast(f.dtype, strict=False)


def _show(expr: pl.Expr) -> pl.Expr:
    return _as_text(expr).fill_null("null").str.slice(0, 80)


def validate_frame(contract: Contract, raw: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Type a frame of raw records and explain every violation, in one vectorised pass.

    ``raw`` holds the contract's columns as text or already-typed values (missing columns are
    treated as absent fields; extra columns are kept untouched, e.g. lineage). The result has
    every contract column typed, ``tz_offset_minutes`` (the offset the event time was written
    with), plus ``_reasons``: a list of ``code[field]: message`` strings,
    empty for a valid record. Valid rows come first in the result (row order is not kept: carry
    a line number column, as landing does, when order matters).
    """
    lf = raw.lazy()
    schema = lf.collect_schema()
    missing = [f.name for f in contract.fields if f.name not in schema]
    if missing:
        lf = lf.with_columns([pl.lit(None, pl.String).alias(n) for n in missing])
        schema = lf.collect_schema()

    raw_alias = {f.name: f"__raw_{f.name}" for f in contract.fields}
    lf = lf.with_columns([pl.col(f.name).alias(raw_alias[f.name]) for f in contract.fields])
    lf = lf.with_columns(
        [_cast_field(pl.col(f.name), schema[f.name], f).alias(f.name) for f in contract.fields]
    )
    # Keep the sender's UTC offset: local hour and weekday (for sessions, routines) need it.
    time_raw = pl.col(raw_alias[contract.time_field])
    offset = (
        parse_offset_minutes(time_raw) if schema[contract.time_field] == pl.String else pl.lit(None, pl.Int32)
    )
    lf = lf.with_columns(offset.alias(OFFSET_COLUMN))

    checks: list[pl.Expr] = []
    for f in contract.fields:
        raw_col = pl.col(raw_alias[f.name])
        present = raw_col.is_not_null() & (_as_text(raw_col).str.strip_chars() != "").fill_null(True)
        if f.required:
            checks.append(
                pl.when(~present).then(
                    pl.lit(f"missing_field[{f.name}]: required field {f.name} is absent or empty")
                )
            )
        checks.append(
            pl.when(present & pl.col(f.name).is_null()).then(
                pl.format(
                    "wrong_type[{}]: value '{}' is not a valid {}",
                    pl.lit(f.name),
                    _show(raw_col),
                    pl.lit(_type_name(f)),
                )
            )
        )
        if f.allowed is not None:
            checks.append(
                pl.when(pl.col(f.name).is_not_null() & ~pl.col(f.name).is_in(list(f.allowed))).then(
                    pl.format(
                        "not_allowed[{}]: value '{}' is not one of {}",
                        pl.lit(f.name),
                        _show(pl.col(f.name)),
                        pl.lit(", ".join(f.allowed)),
                    )
                )
            )
    for r in contract.rules:
        message = pl.lit(r.message) if isinstance(r.message, str) else r.message
        checks.append(
            pl.when(r.violated.fill_null(False)).then(
                pl.format("{}[{}]: {}", pl.lit(r.code), pl.lit(r.field), message)
            )
        )

    # Building the list of reasons is most of the cost, and almost every row is valid: flag bad
    # rows with a cheap horizontal test, then build reasons for those alone. The split happens on
    # a collected frame: the same split inside one lazy plan trips a polars streaming-engine bug
    # (string kernels on a filtered branch panic with ``i < self.len()``).
    flagged = lf.with_columns(pl.any_horizontal([c.is_not_null() for c in checks]).alias("__bad")).collect()
    ok = flagged.filter(~pl.col("__bad")).with_columns(
        pl.lit([], dtype=pl.List(pl.String)).alias(REASONS_COLUMN)
    )
    bad = (
        flagged.filter(pl.col("__bad"))
        .lazy()
        .with_columns(pl.concat_list(checks).list.drop_nulls().alias(REASONS_COLUMN))
        .collect()
    )
    return pl.concat([ok, bad]).drop([*raw_alias.values(), "__bad"]).lazy()


def _type_name(f: Field) -> str:
    if f.dtype == TIMESTAMP:
        return "ISO-8601 timestamp with offset (e.g. 2026-01-05T10:00:00+02:00)"
    if f.dtype == pl.Boolean:
        return "boolean (true/false)"
    if f.dtype.is_integer():
        return "integer"
    if f.dtype.is_float():
        return "number"
    return str(f.dtype).lower()


def validate_record(contract: Contract, record: Mapping[str, Any]) -> list[Violation]:
    """Whether one record is valid, and exactly why not: the frame validator on one row.

    Keys outside the contract are ignored here as they are at landing (contracts grow by adding
    optional fields, and old producers must keep working).
    """
    frame = pl.DataFrame(
        {
            n: [
                None
                if record.get(n) is None
                else str(record[n]).lower()
                if isinstance(record[n], bool)
                else str(record[n])
            ]
            for n in contract.names
        },
        schema={n: pl.String for n in contract.names},
    )
    reasons: Sequence[str] = validate_frame(contract, frame).collect()[REASONS_COLUMN][0].to_list()
    return [parse_reason(r) for r in reasons]


def parse_reason(reason: str) -> Violation:
    """Split a ``code[field]: message`` reason string back into a :class:`Violation`."""
    head, _, message = reason.partition(": ")
    code, _, rest = head.partition("[")
    return Violation(code, rest.rstrip("]"), message)
