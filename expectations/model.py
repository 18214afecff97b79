"""Suites as plain data: what is expected, of which frame, how bad a failure is.

Suites are declared here without importing Great Expectations (importing it takes seconds), so
the Dagster code location can list every check at load time and the runner
(:mod:`expectations.runner`) turns a suite into GX expectations only when a check executes.
Each expectation belongs to a named *check* (the unit Dagster shows and gates on) and carries a
severity: ``ERROR`` checks block downstream assets, ``WARN`` checks only flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How a failed check is treated: ERROR blocks downstream assets, WARN only flags."""

    ERROR = "ERROR"
    WARN = "WARN"


#: Operators a row condition may use (GX Core 1.x ``row_conditions.Column`` comparisons).
CONDITION_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")


@dataclass(frozen=True)
class When:
    """One term of a row condition: the expectation only looks at rows where ``column op value``.

    Terms of an expectation's ``where`` are ANDed; they become GX ``Column`` conditions in the runner.
    """

    column: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if self.op not in CONDITION_OPS:
            raise ValueError(f"row condition on {self.column!r}: unknown operator {self.op!r}")


@dataclass(frozen=True)
class Expectation:
    """One GX expectation, named.

    ``id`` is unique in its suite and stable (tests refer to it, GX ``meta`` carries it);
    ``gx_type`` is the GX Core class name (``ExpectColumnValuesToNotBeNull``); ``kwargs`` are
    its arguments; ``check`` is the Dagster check it rolls up into; ``doc`` says why it exists.
    """

    id: str
    check: str
    gx_type: str
    kwargs: Mapping[str, Any]
    doc: str
    severity: Severity = Severity.ERROR
    where: tuple[When, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this expectation reads (shown next to the keys in failing-row samples)."""
        cols: list[str] = []
        for key in ("column", "column_A", "column_B"):
            if key in self.kwargs:
                cols.append(self.kwargs[key])
        cols.extend(self.kwargs.get("column_list", ()) if "Compound" in self.gx_type else ())
        cols.extend(w.column for w in self.where)
        return tuple(dict.fromkeys(cols))


@dataclass(frozen=True)
class CheckInfo:
    """A Dagster asset check made of one or more expectations of a suite."""

    name: str
    severity: Severity
    description: str


@dataclass(frozen=True)
class Suite:
    """A named list of expectations over ONE frame (a GX batch).

    ``key_columns`` identify a row in failing-row samples; ``checks`` describes each check name
    the expectations use (severity must agree with every expectation in the check).
    """

    name: str
    description: str
    expectations: tuple[Expectation, ...]
    checks: tuple[CheckInfo, ...]
    key_columns: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [e.id for e in self.expectations]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"suite {self.name}: duplicate expectation ids {dupes}")
        infos = {c.name: c for c in self.checks}
        for e in self.expectations:
            info = infos.get(e.check)
            if info is None:
                raise ValueError(f"suite {self.name}: expectation {e.id} names unknown check {e.check!r}")
            if info.severity != e.severity:
                raise ValueError(
                    f"suite {self.name}: expectation {e.id} is {e.severity} but check {e.check} is {info.severity}"
                )

    def expectation(self, expectation_id: str) -> Expectation:
        for e in self.expectations:
            if e.id == expectation_id:
                return e
        raise KeyError(f"suite {self.name} has no expectation {expectation_id!r}")

    def for_check(self, check: str) -> list[Expectation]:
        return [e for e in self.expectations if e.check == check]

    def subset(self, expectation_ids: Sequence[str]) -> Suite:
        """A suite of only some expectations (its own GX name), e.g. to test one expectation fast."""
        wanted = list(dict.fromkeys(expectation_ids))
        exps = tuple(self.expectation(i) for i in wanted)
        names = {e.check for e in exps}
        tag = "__".join(i.replace(":", "-").replace("/", "-") for i in wanted)[:80]
        return replace(
            self,
            name=f"{self.name}.subset.{tag}",
            expectations=exps,
            checks=tuple(c for c in self.checks if c.name in names),
        )

    def error_expectations(self) -> list[Expectation]:
        return [e for e in self.expectations if e.severity is Severity.ERROR]


def check_infos(*infos: tuple[str, Severity, str]) -> tuple[CheckInfo, ...]:
    """Shorthand for a suite's ``checks``: ``(name, severity, description)`` triples."""
    return tuple(CheckInfo(n, s, d) for n, s, d in infos)


def column_names(exps: Sequence[Expectation]) -> list[str]:
    """Every column the given expectations read, in first-seen order."""
    return list(dict.fromkeys(c for e in exps for c in e.columns))
