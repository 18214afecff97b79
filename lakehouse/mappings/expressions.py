"""Mapping nodes to polars expressions (vectorised; nothing from the YAML is ever evaluated as code).

Every value compiles to a pair: the value itself, typed for its kind (text, Int64, Float64,
Boolean, or ISO-8601 text for timestamps), and an *error* expression that is null when the value
could be produced and otherwise explains why not (``cast_failed[price]: column UnitPrice value
'abc' is not a number``). A row with any error is a mapping reject; the explanation travels to
quarantine as its reason.

Expressions read source columns that the engine has already trimmed (empty cells are null), so
conditions and casts never see padding such as ``"  60"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from lakehouse.mappings.spec import (
    LINE_COLUMN,
    AllOf,
    AnyOf,
    ColumnValue,
    Concat,
    Condition,
    Const,
    Hash,
    Leaf,
    Not,
    Value,
    When,
)
from lakehouse.mappings.timestamps import timestamp_value

OUT_DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "number": pl.Float64(),
    "boolean": pl.Boolean(),
    "timestamp": pl.String(),
}
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")
_NO_ERROR = pl.lit(None, pl.String)
#: Separates natural-key parts before hashing (a byte that never appears in text exports).
KEY_SEPARATOR = "\x1f"
NULL_MARK = "\x00"


@dataclass(frozen=True)
class Compiled:
    """A value expression and its error expression (null when the value is fine)."""

    value: pl.Expr
    error: pl.Expr


def source(column: str) -> pl.Expr:
    """A source column as trimmed text (the engine trims; the line number is an integer)."""
    if column == LINE_COLUMN:
        return pl.col(LINE_COLUMN).cast(pl.String)
    return pl.col(column)


def trimmed(column: str) -> pl.Expr:
    """Trim a raw text column and turn empty cells into null: the engine's normalisation."""
    text = pl.col(column).str.strip_chars()
    return pl.when(text != "").then(text).alias(column)


def condition(node: Condition) -> pl.Expr:
    """A boolean expression, never null (a test on a missing value is false, its negation true)."""
    if isinstance(node, AllOf):
        return pl.all_horizontal([condition(c) for c in node.items])
    if isinstance(node, AnyOf):
        return pl.any_horizontal([condition(c) for c in node.items])
    if isinstance(node, Not):
        return ~condition(node.item)
    assert isinstance(node, Leaf)
    col = source(node.column)
    op, arg = node.op, node.arg
    expr: pl.Expr
    if op == "is_empty":
        return col.is_null() if arg else col.is_not_null()
    if op == "equals":
        expr = col == arg
    elif op == "not_equals":
        return (col != arg).fill_null(True)
    elif op == "in":
        expr = col.is_in(list(arg))
    elif op == "not_in":
        return (~col.is_in(list(arg))).fill_null(True)
    elif op == "starts_with":
        expr = col.str.starts_with(arg)
    elif op == "ends_with":
        expr = col.str.ends_with(arg)
    elif op == "contains":
        expr = col.str.contains(arg, literal=True)
    elif op == "matches":
        expr = col.str.contains(arg)
    else:
        number = col.cast(pl.Float64, strict=False)
        expr = {"lt": number < arg, "le": number <= arg, "gt": number > arg, "ge": number >= arg}[op]
    return expr.fill_null(False)


def references(node: Value | Condition) -> set[str]:
    """Every column (file or virtual) a node reads."""
    if isinstance(node, Leaf):
        return {node.column}
    if isinstance(node, AllOf | AnyOf):
        return set().union(*(references(c) for c in node.items))
    if isinstance(node, Not):
        return references(node.item)
    if isinstance(node, ColumnValue):
        return {node.column}
    if isinstance(node, Concat):
        return set().union(*(references(p) for p in node.parts))
    if isinstance(node, Hash):
        return set(node.columns)
    if isinstance(node, When):
        out = references(node.otherwise)
        for cond, value in node.branches:
            out |= references(cond) | references(value)
        return out
    return set()


def _parse(text: pl.Expr, kind: str, node: ColumnValue, field: str) -> Compiled:
    """Text to the node's cast kind, with an error where non-empty text does not parse."""
    if kind == "timestamp":
        assert node.timestamp is not None
        value, error = timestamp_value(text, node.timestamp, node.column)
        return Compiled(value, error)
    if kind == "string":
        return Compiled(text, _NO_ERROR)
    if kind == "integer":
        as_float = text.cast(pl.Float64, strict=False)
        # "17850.0" is an integer written by a tool that only knows floats; "3.5" is not.
        from_float = pl.when(as_float == as_float.round(0)).then(as_float).cast(pl.Int64, strict=False)
        value = pl.coalesce(text.cast(pl.Int64, strict=False), from_float)
        what = "an integer"
    elif kind == "number":
        value = text.cast(pl.Float64, strict=False)
        what = "a number"
    else:
        lower = text.str.to_lowercase()
        value = pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False)
        what = "true/false"
    error = pl.when(text.is_not_null() & value.is_null()).then(
        pl.format(
            "cast_failed[{}]: column {} value '{}' is not {}",
            pl.lit(field),
            pl.lit(node.column),
            text.str.slice(0, 80),
            pl.lit(what),
        )
    )
    return Compiled(value, error)


def _convert(value: pl.Expr, source_kind: str, target_kind: str) -> pl.Expr:
    if source_kind == target_kind:
        return value
    if target_kind == "string":
        return value.cast(pl.String)
    return value.cast(OUT_DTYPES[target_kind])


def _column_value(node: ColumnValue, kind: str, field: str) -> Compiled:
    text = source(node.column)
    errors: list[pl.Expr] = []
    if node.mapping is not None:
        keys = list(node.mapping)
        values = [node.mapping[k] for k in keys]
        default: pl.Expr | None
        if node.unmapped == "keep":
            default = text
        elif node.unmapped == "default":
            default = pl.lit(node.default, pl.String)
        else:
            default = pl.lit(None, pl.String)
        mapped = text.replace_strict(keys, values, default=default, return_dtype=pl.String)
        if node.unmapped == "reject":
            errors.append(
                pl.when(text.is_not_null() & ~text.is_in(keys)).then(
                    pl.format(
                        "unmapped_value[{}]: column {} value '{}' is not in the map",
                        pl.lit(field),
                        pl.lit(node.column),
                        text.str.slice(0, 80),
                    )
                )
            )
        text = mapped
    parsed = _parse(text, node.cast, node, field)
    value = parsed.value
    if node.negate:
        value = -value
    if node.absolute:
        value = value.abs()
    cast_kind = node.cast
    if node.scale is not None:
        value = value.cast(pl.Float64) * node.scale
        cast_kind = "number"
    error = pl.coalesce([*errors, parsed.error]) if errors else parsed.error
    return Compiled(_convert(value, cast_kind, kind), error)


def value(node: Value, kind: str, field: str) -> Compiled:
    """Compile a value node for a field of the given kind (see :data:`OUT_DTYPES`).

    A :class:`Hash` compiles to its natural-key text; the engine hashes it afterwards.
    """
    dtype = OUT_DTYPES[kind]
    if isinstance(node, Const):
        return Compiled(pl.lit(node.value, dtype), _NO_ERROR)
    if isinstance(node, ColumnValue):
        return _column_value(node, kind, field)
    if isinstance(node, Concat):
        parts = [value(p, "string", field) for p in node.parts]
        return Compiled(pl.concat_str([p.value for p in parts]), pl.coalesce([p.error for p in parts]))
    if isinstance(node, Hash):
        key = pl.concat_str([source(c).fill_null(NULL_MARK) for c in node.columns], separator=KEY_SEPARATOR)
        return Compiled(key, _NO_ERROR)
    assert isinstance(node, When)
    branches = [(condition(c), value(v, kind, field)) for c, v in node.branches]
    otherwise = value(node.otherwise, kind, field)
    val: pl.Expr | pl.When | pl.Then | None = None
    err: pl.Expr | pl.When | pl.Then | None = None
    for cond, compiled in branches:
        val = (pl.when(cond) if val is None else val.when(cond)).then(compiled.value)  # type: ignore[union-attr]
        err = (pl.when(cond) if err is None else err.when(cond)).then(compiled.error)  # type: ignore[union-attr]
    assert val is not None and err is not None
    return Compiled(val.otherwise(otherwise.value).cast(dtype), err.otherwise(otherwise.error))  # type: ignore[union-attr]
