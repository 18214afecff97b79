"""The mapping schema: YAML in, a validated tree of small frozen nodes out.

Everything a user can get wrong in a mapping file is checked here, before any data is read,
and reported as a :class:`MappingError` naming the file, the dotted key path and the fix. The
nodes are plain data; :mod:`lakehouse.mappings.expressions` turns them into polars expressions.
The expression language is deliberately tiny (structured conditions, maps, concatenation,
hashing): a mapping file comes from outside the team and must never run code.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse.contracts import CONTRACTS, TIMESTAMP, UNITS, Contract
from lakehouse.mappings.errors import MappingError

KINDS: tuple[str, ...] = ("string", "integer", "number", "boolean", "timestamp")
#: Virtual columns every expression may read besides the file's own columns.
LINE_COLUMN = "_source_line"
MELT_COLUMN = "_melt_column"
VIRTUAL_COLUMNS: tuple[str, ...] = (LINE_COLUMN, MELT_COLUMN)
FORMATS: tuple[str, ...] = ("csv", "jsonl")
SPECIAL_TIME_FORMATS: tuple[str, ...] = ("iso8601", "epoch_s", "epoch_ms")
AMBIGUOUS: tuple[str, ...] = ("earliest", "latest", "reject")
#: Identifier fields each contract always pseudonymises at landing; a mapping may add more.
DEFAULT_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "clickstream": ("user_id", "anonymous_id"),
    "sensors": ("home_id", "user_id"),
}
#: Sensor fields a ``melt`` block fills from each melted column's declaration.
MELT_FIELDS: tuple[str, ...] = ("sensor_type", "unit", "room", "device_id", "value")
TEXT_OPS: tuple[str, ...] = ("equals", "not_equals", "starts_with", "ends_with", "contains", "matches")
LIST_OPS: tuple[str, ...] = ("in", "not_in")
NUMBER_OPS: tuple[str, ...] = ("lt", "le", "gt", "ge")
CONDITION_OPS: tuple[str, ...] = (*TEXT_OPS, *LIST_OPS, *NUMBER_OPS, "is_empty")
VALUE_KINDS: tuple[str, ...] = ("constant", "column", "concat", "hash", "when")
COLUMN_KEYS: tuple[str, ...] = (
    "column",
    "cast",
    "map",
    "unmapped",
    "default",
    "negate",
    "abs",
    "scale",
    "format",
    "timezone",
    "ambiguous",
)
UNMAPPED: tuple[str, ...] = ("null", "keep", "reject")


def kind_of(contract: Contract, name: str) -> str:
    """The mapping kind (string, integer, ...) a contract field is delivered as."""
    dtype = contract.field(name).dtype
    if dtype == TIMESTAMP:
        return "timestamp"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "number"
    return "string"


# ---------------------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class TimestampSpec:
    """How source timestamps are written: a strftime pattern or iso8601/epoch_s/epoch_ms, and the
    IANA timezone of naive local times."""

    format: str = "iso8601"
    timezone: str | None = None
    ambiguous: str = "earliest"


@dataclass(frozen=True)
class Leaf:
    column: str
    op: str
    arg: Any
    path: str


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    path: str


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    path: str


@dataclass(frozen=True)
class Not:
    item: Condition
    path: str


Condition = Leaf | AllOf | AnyOf | Not


@dataclass(frozen=True)
class Const:
    value: Any  # already converted to the target kind's Python type (str, int, float, bool, None)
    path: str


@dataclass(frozen=True)
class ColumnValue:
    column: str
    cast: str
    path: str
    mapping: dict[str, str | None] | None = None
    unmapped: str = "null"
    default: str | None = None
    negate: bool = False
    absolute: bool = False
    scale: float | None = None
    timestamp: TimestampSpec | None = None


@dataclass(frozen=True)
class Concat:
    parts: tuple[Value, ...]
    path: str


@dataclass(frozen=True)
class Hash:
    columns: tuple[str, ...]
    prefix: str
    path: str


@dataclass(frozen=True)
class When:
    branches: tuple[tuple[Condition, Value], ...]
    otherwise: Value
    path: str


Value = Const | ColumnValue | Concat | Hash | When


@dataclass(frozen=True)
class SkipRule:
    when: Condition
    reason: str
    path: str


@dataclass(frozen=True)
class MeltColumn:
    column: str
    sensor_type: str
    unit: str
    room: str
    device_id: str
    scale: float
    path: str


@dataclass(frozen=True)
class MeltSpec:
    columns: tuple[MeltColumn, ...]
    ignore: tuple[str, ...]
    empty: str  # skip | reject


@dataclass(frozen=True)
class SourceSpec:
    format: str = "csv"
    file_glob: str = "*.csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    skip_lines: int = 0
    header: bool = True
    column_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MappingSpec:
    """A whole mapping file, validated."""

    file: Path
    name: str
    description: str
    contract: str
    source: SourceSpec
    fields: dict[str, Value]
    identifiers: tuple[str, ...]
    skip: tuple[SkipRule, ...] = ()
    melt: MeltSpec | None = None
    #: every file column an expression reads -> the key path that reads it (for read-time errors)
    column_refs: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------- parser


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


class _Parser:
    """Walks the YAML tree keeping the dotted key path, so every error can name it."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.column_refs: dict[str, str] = {}
        self.contract: Contract | None = None

    def fail(self, path: str, problem: str, hint: str = "") -> MappingError:
        return MappingError(self.file, path, problem, hint)

    # -- generic helpers ------------------------------------------------------------------
    def mapping(self, node: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(node, dict):
            raise self.fail(
                path,
                f"expected a mapping of keys, got {_describe(node)}",
                f"write it as 'key: value' lines; allowed keys: {', '.join(allowed)}",
            )
        for key in node:
            if not isinstance(key, str) or key not in allowed:
                raise self.fail(
                    f"{path}.{key}" if path else str(key),
                    f"unknown key '{key}'",
                    f"{_suggest(str(key), allowed)}allowed keys here: {', '.join(allowed)}",
                )
        for key in required:
            if key not in node:
                raise self.fail(
                    f"{path}.{key}" if path else key,
                    "required key is missing",
                    f"add '{key}:' (see lakehouse/mappings/README.md)",
                )
        return node

    def text(self, node: Any, path: str, what: str = "a text value") -> str:
        if not isinstance(node, str) or not node:
            raise self.fail(path, f"expected {what}, got {_describe(node)}", "write a non-empty text value")
        return node

    def boolean(self, node: Any, path: str) -> bool:
        if not isinstance(node, bool):
            raise self.fail(path, f"expected true or false, got {_describe(node)}", "write true or false")
        return node

    def number(self, node: Any, path: str) -> float:
        if isinstance(node, bool) or not isinstance(node, int | float):
            raise self.fail(path, f"expected a number, got {_describe(node)}", "write a number such as 0.1")
        return float(node)

    def choice(self, node: Any, path: str, choices: tuple[str, ...], what: str) -> str:
        if node not in choices:
            raise self.fail(
                path,
                f"unknown {what} {node!r}",
                f"{_suggest(str(node), choices)}use one of: {', '.join(choices)}",
            )
        return str(node)

    def column_name(self, node: Any, path: str) -> str:
        name = self.text(node, path, "a column name")
        if name not in VIRTUAL_COLUMNS:
            self.column_refs.setdefault(name, path)
        return name

    # -- top level ------------------------------------------------------------------------
    def parse(self, doc: Any) -> MappingSpec:
        top = self.mapping(
            doc,
            "",
            (
                "name",
                "description",
                "contract",
                "source",
                "timestamp",
                "identifiers",
                "skip",
                "melt",
                "fields",
            ),
            ("name", "contract", "fields"),
        )
        name = self.text(top["name"], "name", "a mapping name")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise self.fail(
                "name",
                f"'{name}' is not a valid mapping name",
                "use lower-case letters, digits and underscores, starting with a letter",
            )
        description = top.get("description") or ""
        if not isinstance(description, str):
            raise self.fail("description", f"expected text, got {_describe(description)}", "write a sentence")
        contract_name = self.choice(top["contract"], "contract", tuple(CONTRACTS), "contract")
        self.contract = CONTRACTS[contract_name]
        source = self.source(top.get("source", {}), "source")
        default_ts = (
            self.timestamp(top["timestamp"], "timestamp", None) if "timestamp" in top else TimestampSpec()
        )
        melt = self.melt(top["melt"], "melt", contract_name) if "melt" in top else None
        skip = self.skip(top.get("skip", []), "skip")
        fields = self.fields(top["fields"], "fields", default_ts, melt)
        identifiers = self.identifiers(top.get("identifiers", []), "identifiers", contract_name)
        return MappingSpec(
            file=self.file,
            name=name,
            description=description,
            contract=contract_name,
            source=source,
            fields=fields,
            identifiers=identifiers,
            skip=skip,
            melt=melt,
            column_refs=dict(self.column_refs),
        )

    def source(self, node: Any, path: str) -> SourceSpec:
        src = self.mapping(
            node,
            path,
            ("format", "file_glob", "encoding", "delimiter", "quote", "skip_lines", "header", "column_names"),
        )
        fmt = self.choice(src.get("format", "csv"), f"{path}.format", FORMATS, "source format")
        glob = self.text(src.get("file_glob", f"*.{fmt}"), f"{path}.file_glob", "a file pattern like '*.csv'")
        encoding = self.text(src.get("encoding", "utf-8"), f"{path}.encoding", "an encoding name")
        try:
            "".encode(encoding)
        except LookupError:
            raise self.fail(
                f"{path}.encoding",
                f"unknown encoding '{encoding}'",
                "use a Python codec name such as utf-8, latin-1 or cp1252",
            ) from None
        delimiter = src.get("delimiter", ",")
        quote = src.get("quote", '"')
        for key, val in (("delimiter", delimiter), ("quote", quote)):
            if not isinstance(val, str) or len(val) != 1 or val in "\r\n":
                raise self.fail(
                    f"{path}.{key}",
                    f"expected one character, got {_describe(val)}",
                    "write a single character such as ',' or ';' (quote it in YAML)",
                )
        if delimiter == quote:
            raise self.fail(
                f"{path}.quote", "the quote character equals the delimiter", "use different characters"
            )
        skip_lines = src.get("skip_lines", 0)
        if isinstance(skip_lines, bool) or not isinstance(skip_lines, int) or skip_lines < 0:
            raise self.fail(
                f"{path}.skip_lines",
                f"expected a whole number >= 0, got {_describe(skip_lines)}",
                "give the number of lines before the header (0 if the header is the first line)",
            )
        header = self.boolean(src.get("header", True), f"{path}.header")
        names = src.get("column_names")
        if names is not None:
            if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
                raise self.fail(
                    f"{path}.column_names",
                    f"expected a list of column names, got {_describe(names)}",
                    "write a YAML list such as [date, value]",
                )
            if len(set(names)) != len(names):
                raise self.fail(
                    f"{path}.column_names", "a column name appears twice", "name every column once"
                )
            names = tuple(names)
        if fmt == "csv" and not header and names is None:
            raise self.fail(
                f"{path}.column_names",
                "required when 'header: false'",
                "list the file's columns in order, e.g. column_names: [date, value]",
            )
        if fmt == "jsonl" and (names is not None or "header" in src or "delimiter" in src or "quote" in src):
            raise self.fail(
                path,
                "header, column_names, delimiter and quote only apply to CSV",
                "remove them: JSON lines name their keys on every line",
            )
        return SourceSpec(fmt, glob, encoding, delimiter, quote, skip_lines, header, names)

    def timestamp(self, node: Any, path: str, base: TimestampSpec | None) -> TimestampSpec:
        ts = self.mapping(node, path, ("format", "timezone", "ambiguous"))
        return self.timestamp_from(ts, path, base)

    def timestamp_from(self, ts: dict, path: str, base: TimestampSpec | None) -> TimestampSpec:
        base = base or TimestampSpec()
        fmt = self.text(ts.get("format", base.format), f"{path}.format", "a timestamp format")
        if "timezone" in ts:
            tz = ts["timezone"]
        elif "format" in ts and ("%z" in fmt or "%:z" in fmt or fmt in ("epoch_s", "epoch_ms")):
            tz = None  # a field-level format that carries its own offset does not inherit a timezone
        else:
            tz = base.timezone
        ambiguous = self.choice(
            ts.get("ambiguous", base.ambiguous), f"{path}.ambiguous", AMBIGUOUS, "ambiguous-time policy"
        )
        if tz is not None:
            tz = self.text(tz, f"{path}.timezone", "an IANA timezone such as Europe/London")
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise self.fail(
                    f"{path}.timezone",
                    f"unknown timezone '{tz}'",
                    "use an IANA name such as Europe/London or UTC (not an abbreviation like BST)",
                ) from None
        self.check_time_format(fmt, tz, f"{path}.format", f"{path}.timezone")
        return TimestampSpec(fmt, tz, ambiguous)

    def check_time_format(self, fmt: str, tz: str | None, path: str, tz_path: str) -> None:
        if fmt in SPECIAL_TIME_FORMATS:
            if fmt != "iso8601" and tz is not None:
                raise self.fail(
                    tz_path, f"a timezone makes no sense for {fmt} (epochs are UTC)", "remove timezone"
                )
            return
        if "%" not in fmt:
            raise self.fail(
                path,
                f"'{fmt}' is not a timestamp format",
                "use iso8601, epoch_s, epoch_ms or a strftime pattern like '%Y-%m-%d %H:%M:%S'",
            )
        has_offset = "%z" in fmt or "%:z" in fmt
        sample = datetime(2011, 12, 9, 13, 45, 30, tzinfo=UTC if has_offset else None)
        try:
            text = pl.Series([sample]).dt.strftime(fmt)[0]
            back = pl.Series([text]).str.to_datetime(fmt, strict=True, time_unit="us")[0]
        except Exception as exc:  # polars raises several error types for a bad pattern
            raise self.fail(
                path,
                f"'{fmt}' is not a usable timestamp format ({type(exc).__name__})",
                "use strftime directives like %Y-%m-%d %H:%M:%S (see the README)",
            ) from None
        if back is None or (back.year, back.month, back.day, back.hour) != (2011, 12, 9, 13):
            raise self.fail(
                path,
                f"'{fmt}' does not spell out a full date and hour",
                "include the year, month, day and hour (%Y, %m, %d, %H)",
            )
        if has_offset and tz is not None:
            raise self.fail(
                tz_path,
                "the format already carries a UTC offset (%z), so a timezone is ambiguous",
                "remove timezone, or remove %z from the format",
            )
        if not has_offset and tz is None:
            raise self.fail(
                tz_path,
                f"timestamps in format '{fmt}' have no UTC offset, so a timezone is required",
                "add timezone: <IANA name>, e.g. Europe/London, in which the source wrote local times",
            )

    def identifiers(self, node: Any, path: str, contract_name: str) -> tuple[str, ...]:
        assert self.contract is not None
        if not isinstance(node, list):
            raise self.fail(
                path, f"expected a list of contract fields, got {_describe(node)}", "write e.g. [user_id]"
            )
        out = list(DEFAULT_IDENTIFIERS[contract_name])
        for i, name in enumerate(node):
            if name not in self.contract.names:
                raise self.fail(
                    f"{path}[{i}]",
                    f"'{name}' is not a field of the {contract_name} contract",
                    f"{_suggest(str(name), self.contract.names)}fields: {', '.join(self.contract.names)}",
                )
            if kind_of(self.contract, name) != "string":
                raise self.fail(
                    f"{path}[{i}]",
                    f"'{name}' is not a text field, so it cannot be pseudonymised",
                    "only list text fields that identify a person or household",
                )
            if name not in out:
                out.append(name)
        return tuple(out)

    # -- conditions -----------------------------------------------------------------------
    def condition(self, node: Any, path: str) -> Condition:
        if not isinstance(node, dict) or not node:
            raise self.fail(
                path,
                f"expected a condition mapping, got {_describe(node)}",
                "write e.g. {column: InvoiceNo, starts_with: C} or {all: [...]} / {any: [...]} / {not: ...}",
            )
        for combinator, cls in (("all", AllOf), ("any", AnyOf)):
            if combinator in node:
                self.mapping(node, path, (combinator,))
                items = node[combinator]
                if not isinstance(items, list) or not items:
                    raise self.fail(
                        f"{path}.{combinator}",
                        "expected a non-empty list of conditions",
                        f"write {combinator}: [{{column: A, equals: x}}, ...]",
                    )
                return cls(
                    tuple(self.condition(c, f"{path}.{combinator}[{i}]") for i, c in enumerate(items)), path
                )
        if "not" in node:
            self.mapping(node, path, ("not",))
            return Not(self.condition(node["not"], f"{path}.not"), path)
        self.mapping(node, path, ("column", *CONDITION_OPS), ("column",))
        column = self.column_name(node["column"], f"{path}.column")
        ops = [k for k in node if k != "column"]
        if len(ops) != 1:
            raise self.fail(
                path,
                f"a condition needs exactly one test, found {len(ops)} ({', '.join(ops) or 'none'})",
                f"use one of: {', '.join(CONDITION_OPS)}; combine tests with all/any",
            )
        op = ops[0]
        arg = node[op]
        at = f"{path}.{op}"
        if op in TEXT_OPS:
            if isinstance(arg, bool) or not isinstance(arg, str | int | float):
                raise self.fail(at, f"expected a text value, got {_describe(arg)}", "quote the value")
            arg = str(arg)
            if op == "matches":
                try:
                    pl.Series([""], dtype=pl.String).str.contains(arg)
                except Exception:
                    raise self.fail(
                        at,
                        f"'{arg}' is not a valid regular expression",
                        "fix the pattern (Rust regex syntax)",
                    ) from None
        elif op in LIST_OPS:
            if (
                not isinstance(arg, list)
                or not arg
                or not all(isinstance(a, str | int | float) and not isinstance(a, bool) for a in arg)
            ):
                raise self.fail(
                    at, f"expected a non-empty list of values, got {_describe(arg)}", "write e.g. [POST, DOT]"
                )
            arg = tuple(str(a) for a in arg)
        elif op in NUMBER_OPS:
            arg = self.number(arg, at)
        else:
            arg = self.boolean(arg, at)
        return Leaf(column, op, arg, path)

    def skip(self, node: Any, path: str) -> tuple[SkipRule, ...]:
        if not isinstance(node, list):
            raise self.fail(
                path,
                f"expected a list of skip rules, got {_describe(node)}",
                "write - {reason: ..., when: {column: X, equals: y}}",
            )
        rules = []
        for i, item in enumerate(node):
            at = f"{path}[{i}]"
            rule = self.mapping(item, at, ("reason", "when"), ("reason", "when"))
            rules.append(
                SkipRule(
                    self.condition(rule["when"], f"{at}.when"), self.text(rule["reason"], f"{at}.reason"), at
                )
            )
        return tuple(rules)

    # -- values ---------------------------------------------------------------------------
    def constant(self, raw: Any, path: str, kind: str, allowed: tuple[str, ...] | None) -> Const:
        if raw is None:
            return Const(None, path)
        if isinstance(raw, dict | list):
            raise self.fail(path, f"expected a single value, got {_describe(raw)}", "write a scalar value")
        value: Any
        if kind == "string":
            value = str(raw).lower() if isinstance(raw, bool) else str(raw)
            if allowed is not None and value not in allowed:
                raise self.fail(
                    path,
                    f"value '{value}' is not allowed by the contract",
                    f"{_suggest(value, allowed)}use one of: {', '.join(allowed)}",
                )
        elif kind == "integer":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise self.fail(path, f"expected a whole number, got {_describe(raw)}", "write e.g. 1")
            value = raw
        elif kind == "number":
            value = self.number(raw, path)
        elif kind == "boolean":
            value = self.boolean(raw, path)
        else:
            from lakehouse.contracts.model import parse_timestamp

            text = str(raw)
            if pl.select(parse_timestamp(pl.lit(text))).item() is None:
                raise self.fail(
                    path,
                    f"'{text}' is not an ISO-8601 timestamp with an offset",
                    "write e.g. '2026-01-05T10:00:00+01:00' (quoted)",
                )
            value = text
        return Const(value, path)

    def value(
        self, node: Any, path: str, kind: str, allowed: tuple[str, ...] | None, ts: TimestampSpec, top: bool
    ) -> Value:
        if not isinstance(node, dict):
            return self.constant(node, path, kind, allowed)
        kinds = [k for k in VALUE_KINDS if k in node]
        if len(kinds) != 1:
            unknown = [k for k in node if k not in (*VALUE_KINDS, *COLUMN_KEYS, "prefix", "else")]
            if unknown:
                raise self.fail(
                    f"{path}.{unknown[0]}",
                    f"unknown key '{unknown[0]}'",
                    f"{_suggest(str(unknown[0]), (*VALUE_KINDS, *COLUMN_KEYS))}a value is a constant or one of: "
                    f"{', '.join(VALUE_KINDS)}",
                )
            raise self.fail(
                path,
                f"a value needs exactly one of {', '.join(VALUE_KINDS)}; found {len(kinds)}",
                "write e.g. {column: Country} or {constant: GBP}",
            )
        how = kinds[0]
        if how == "constant":
            self.mapping(node, path, ("constant",))
            return self.constant(node["constant"], f"{path}.constant", kind, allowed)
        if how == "column":
            return self.column_value(node, path, kind, allowed, ts)
        if how == "concat":
            self.mapping(node, path, ("concat",))
            if kind != "string":
                raise self.fail(
                    f"{path}.concat",
                    f"concat builds text, but this field is a {kind}",
                    "use column or constant",
                )
            parts = node["concat"]
            if not isinstance(parts, list) or len(parts) < 2:
                raise self.fail(
                    f"{path}.concat",
                    "expected a list of at least two values",
                    "write e.g. concat: ['customer:', {column: CustomerID, cast: integer}]",
                )
            return Concat(
                tuple(
                    self.value(p, f"{path}.concat[{i}]", "string", None, ts, False)
                    for i, p in enumerate(parts)
                ),
                path,
            )
        if how == "hash":
            self.mapping(node, path, ("hash", "prefix"))
            if not top:
                raise self.fail(
                    f"{path}.hash", "hash can only be a field's whole value", "move it to the field itself"
                )
            if kind != "string":
                raise self.fail(
                    f"{path}.hash",
                    f"hash builds an id (text), but this field is a {kind}",
                    "use it for id fields",
                )
            cols = node["hash"]
            if not isinstance(cols, list) or not cols:
                raise self.fail(
                    f"{path}.hash",
                    "expected a list of column names (the natural key)",
                    "write e.g. hash: [InvoiceNo, StockCode, _source_line]",
                )
            prefix = node.get("prefix", "")
            if not isinstance(prefix, str):
                raise self.fail(
                    f"{path}.prefix", f"expected text, got {_describe(prefix)}", "quote the prefix"
                )
            return Hash(
                tuple(self.column_name(c, f"{path}.hash[{i}]") for i, c in enumerate(cols)), prefix, path
            )
        # when
        self.mapping(node, path, ("when", "else"))
        branches = node["when"]
        if not isinstance(branches, list) or not branches:
            raise self.fail(
                f"{path}.when",
                "expected a non-empty list of {if: ..., then: ...}",
                "write when: [{if: {column: X, starts_with: C}, then: refund}]",
            )
        parsed = []
        for i, branch in enumerate(branches):
            at = f"{path}.when[{i}]"
            b = self.mapping(branch, at, ("if", "then"), ("if", "then"))
            parsed.append(
                (
                    self.condition(b["if"], f"{at}.if"),
                    self.value(b["then"], f"{at}.then", kind, allowed, ts, False),
                )
            )
        otherwise = self.value(node.get("else"), f"{path}.else", kind, allowed, ts, False)
        return When(tuple(parsed), otherwise, path)

    def column_value(
        self, node: dict, path: str, kind: str, allowed: tuple[str, ...] | None, ts: TimestampSpec
    ) -> ColumnValue:
        self.mapping(node, path, COLUMN_KEYS, ("column",))
        column = self.column_name(node["column"], f"{path}.column")
        cast = self.choice(node.get("cast", kind), f"{path}.cast", KINDS, "cast")
        ok = {
            "string": KINDS,
            "integer": ("integer", "string"),
            "number": ("number", "integer", "string"),
            "boolean": ("boolean", "string"),
            "timestamp": ("timestamp", "string"),
        }[kind]
        if cast not in ok:
            raise self.fail(
                f"{path}.cast",
                f"a {cast} cannot fill this {kind} field",
                f"use cast: {kind} (or one of {', '.join(ok)})",
            )
        mapping = None
        if "map" in node:
            raw_map = node["map"]
            if not isinstance(raw_map, dict) or not raw_map:
                raise self.fail(
                    f"{path}.map",
                    f"expected a mapping of source value -> value, got {_describe(raw_map)}",
                    "write e.g. map: {United Kingdom: GB}",
                )
            mapping = {}
            for key, val in raw_map.items():
                at = f"{path}.map.{key}"
                if isinstance(val, dict | list):
                    raise self.fail(at, f"expected a single value, got {_describe(val)}", "write a scalar")
                mapped = None if val is None else (str(val).lower() if isinstance(val, bool) else str(val))
                check_allowed = allowed if cast == "string" or kind == "string" else None
                if mapped is not None and check_allowed is not None and mapped not in check_allowed:
                    raise self.fail(
                        at,
                        f"maps to '{mapped}', which the contract does not allow",
                        f"{_suggest(mapped, check_allowed)}use one of: {', '.join(check_allowed)}",
                    )
                mapping[str(key).lower() if isinstance(key, bool) else str(key)] = mapped
        unmapped = "null"
        default = None
        if "unmapped" in node or "default" in node:
            if mapping is None:
                raise self.fail(
                    f"{path}.{'unmapped' if 'unmapped' in node else 'default'}",
                    "only applies with map",
                    "add a map, or remove this key",
                )
            if "unmapped" in node and "default" in node:
                raise self.fail(
                    f"{path}.default",
                    "give either unmapped or default, not both",
                    "default: X means unmapped values become X",
                )
            if "unmapped" in node:
                unmapped = self.choice(node["unmapped"], f"{path}.unmapped", UNMAPPED, "unmapped policy")
            else:
                d = self.constant(
                    node["default"], f"{path}.default", "string", allowed if kind == "string" else None
                )
                default = d.value
                unmapped = "default"
        numeric = cast in ("integer", "number")
        negate = self.boolean(node.get("negate", False), f"{path}.negate")
        absolute = self.boolean(node.get("abs", False), f"{path}.abs")
        scale = self.number(node["scale"], f"{path}.scale") if "scale" in node else None
        for key, on in (("negate", negate), ("abs", absolute), ("scale", scale is not None)):
            if on and not numeric:
                raise self.fail(
                    f"{path}.{key}",
                    f"{key} needs a numeric value, but this one is cast to {cast}",
                    "add cast: integer or cast: number",
                )
        if negate and absolute:
            raise self.fail(f"{path}.abs", "negate and abs together are ambiguous", "keep one of them")
        if scale is not None and kind == "integer":
            raise self.fail(
                f"{path}.scale", "scaling makes a number, but this field is an integer", "remove scale"
            )
        timestamp = None
        ts_keys = [k for k in ("format", "timezone", "ambiguous") if k in node]
        if cast == "timestamp":
            timestamp = self.timestamp_from({k: node[k] for k in ts_keys}, path, ts)
        elif ts_keys:
            raise self.fail(
                f"{path}.{ts_keys[0]}", "only applies to timestamps", "remove it, or add cast: timestamp"
            )
        return ColumnValue(column, cast, path, mapping, unmapped, default, negate, absolute, scale, timestamp)

    def fields(self, node: Any, path: str, ts: TimestampSpec, melt: MeltSpec | None) -> dict[str, Value]:
        assert self.contract is not None
        names = tuple(self.contract.names)
        if not isinstance(node, dict) or not node:
            raise self.fail(
                path,
                f"expected a mapping of contract field -> value, got {_describe(node)}",
                "write e.g. fields: {event_id: {column: id}}",
            )
        out: dict[str, Value] = {}
        for name, spec in node.items():
            at = f"{path}.{name}"
            if name not in names:
                raise self.fail(
                    at,
                    f"'{name}' is not a field of the {self.contract.name} contract",
                    f"{_suggest(str(name), names)}fields: {', '.join(names)}",
                )
            if melt is not None and name in MELT_FIELDS:
                raise self.fail(
                    at,
                    f"'{name}' is filled by melt (from each melted column's declaration)",
                    "remove it from fields, or declare it under melt.columns",
                )
            f = self.contract.field(name)
            out[name] = self.value(spec, at, kind_of(self.contract, name), f.allowed, ts, True)
        filled = set(out) | (set(MELT_FIELDS) if melt is not None else set())
        for f in self.contract.fields:
            if f.required and f.name not in filled:
                raise self.fail(
                    f"{path}.{f.name}",
                    f"required by the {self.contract.name} contract but not mapped",
                    f"map it, e.g. {f.name}: {{column: <your column>}} or {f.name}: {{constant: ...}}",
                )
        return out

    def melt(self, node: Any, path: str, contract_name: str) -> MeltSpec:
        if contract_name != "sensors":
            raise self.fail(
                path,
                "melt turns one column per sensor into readings; it only applies to the sensors contract",
                "remove melt, or use contract: sensors",
            )
        m = self.mapping(node, path, ("columns", "defaults", "ignore", "empty"), ("columns",))
        col_keys = ("sensor_type", "unit", "room", "device_id", "scale")
        defaults = self.mapping(m.get("defaults", {}), f"{path}.defaults", col_keys)
        cols = m["columns"]
        if not isinstance(cols, dict) or not cols:
            raise self.fail(
                f"{path}.columns",
                "expected a mapping of column -> sensor declaration",
                "write e.g. columns: {T1: {sensor_type: temperature, unit: C, room: kitchen}}",
            )
        out = []
        for col, decl in cols.items():
            at = f"{path}.columns.{col}"
            col = self.column_name(str(col), at)
            spec = {**defaults, **self.mapping(decl if decl is not None else {}, at, col_keys)}
            for key in ("sensor_type", "unit", "room", "device_id"):
                if key not in spec:
                    raise self.fail(
                        f"{at}.{key}",
                        "required key is missing (here or in melt.defaults)",
                        f"add {key}: ... to this column or to melt.defaults",
                    )
            where = {k: f"{at}.{k}" if k in (decl or {}) else f"{path}.defaults.{k}" for k in col_keys}
            values = {
                k: self.text(
                    str(spec[k])
                    if isinstance(spec[k], int | float) and not isinstance(spec[k], bool)
                    else spec[k],
                    where[k],
                ).replace("{column}", col)
                for k in ("sensor_type", "unit", "room", "device_id")
            }
            sensor_type = self.choice(
                values["sensor_type"], where["sensor_type"], tuple(UNITS), "sensor type"
            )
            if values["unit"] not in UNITS[sensor_type]:
                raise self.fail(
                    where["unit"],
                    f"unit '{values['unit']}' does not fit sensor type {sensor_type}",
                    f"use one of: {', '.join(UNITS[sensor_type])}",
                )
            scale = self.number(spec.get("scale", 1.0), where["scale"])
            out.append(
                MeltColumn(col, sensor_type, values["unit"], values["room"], values["device_id"], scale, at)
            )
        ignore = m.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(i, str) for i in ignore):
            raise self.fail(
                f"{path}.ignore",
                f"expected a list of column names, got {_describe(ignore)}",
                "write e.g. [rv1, rv2]",
            )
        empty = self.choice(m.get("empty", "skip"), f"{path}.empty", ("skip", "reject"), "empty-cell policy")
        return MeltSpec(tuple(out), tuple(ignore), empty)


def parse_spec(doc: Any, file: Path) -> MappingSpec:
    """Validate a parsed YAML document as a mapping; raise :class:`MappingError` on the first problem."""
    return _Parser(file).parse(doc)
