"""Run a :class:`~expectations.model.Suite` with Great Expectations Core 1.x and explain the result.

GX is imported inside the functions here (it costs seconds), never at module import. One
:class:`QualityContext` wraps a GX *file* context rooted at ``BEACON_DATA_DIR/gx`` (so results
accumulate and the Data Docs site lists every run) and is reused per process. Suites,
validation definitions and checkpoints are written with ``add_or_update`` on every run, so the
code in :mod:`expectations` stays the only definition and a stale JSON file never wins. A file
lock serialises GX store writes across processes (Dagster runs checks in parallel processes).

Every suite validates ONE pandas frame (a GX ``dataframe`` batch). Cross-table checks are
computed in DuckDB into such a frame first and asserted with GX (see
:mod:`expectations.marts`); no SQL datasource is needed, so no SQLAlchemy dialect for DuckDB.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from expectations.frames import to_pandas
from expectations.model import Expectation, Severity, Suite, When, column_names

#: Failing rows kept per expectation (and shown in Dagster metadata).
SAMPLE_ROWS = 10
DATASOURCE = "beacon"
FRAME_ASSET = "frames"
ID_META = "beacon_id"


@dataclass(frozen=True)
class ExpectationOutcome:
    """What GX said about one expectation, with a sample of the rows that broke it."""

    expectation: Expectation
    success: bool
    observed: str
    unexpected_count: int | None
    sample: pl.DataFrame
    error: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    """One Dagster check: the expectations of a suite that roll up into it."""

    name: str
    severity: Severity
    description: str
    expectations: tuple[ExpectationOutcome, ...]
    docs_url: str | None

    @property
    def passed(self) -> bool:
        return all(o.success for o in self.expectations)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.expectations if not o.success]

    def observed_markdown(self) -> str:
        """A Markdown table: every expectation of the check, pass/fail and its observed value."""
        lines = ["| expectation | result | observed |", "|---|---|---|"]
        for o in sorted(self.expectations, key=lambda o: o.success):
            text = (o.error or o.observed).replace("|", "\\|").replace("\n", " ")[:300]
            lines.append(f"| `{o.expectation.id}` | {'pass' if o.success else '**FAIL**'} | {text} |")
        return "\n".join(lines)

    def sample_markdown(self) -> str:
        """A Markdown table of failing rows (key columns and the columns checked), or ``""``."""
        samples = [
            o.sample.with_columns(pl.lit(o.expectation.id).alias("expectation"))
            for o in self.failed
            if o.sample.height
        ]
        if not samples:
            return ""
        frame = pl.concat([s.select(pl.all().cast(pl.String)) for s in samples], how="diagonal_relaxed")
        frame = frame.select("expectation", pl.exclude("expectation")).head(SAMPLE_ROWS)
        header = "| " + " | ".join(frame.columns) + " |"
        rule = "|" + "---|" * len(frame.columns)
        body = [
            "| " + " | ".join("" if v is None else str(v).replace("|", "\\|")[:80] for v in row) + " |"
            for row in frame.iter_rows()
        ]
        return "\n".join([header, rule, *body])


@dataclass(frozen=True)
class SuiteRun:
    """The result of validating one frame against one suite."""

    suite: Suite
    success: bool
    rows: int
    outcomes: dict[str, ExpectationOutcome]
    docs_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def failed_ids(self) -> set[str]:
        return {i for i, o in self.outcomes.items() if not o.success}

    def checks(self) -> list[CheckOutcome]:
        return [
            CheckOutcome(
                info.name,
                info.severity,
                info.description,
                tuple(self.outcomes[e.id] for e in self.suite.for_check(info.name)),
                self.docs_url,
            )
            for info in self.suite.checks
        ]

    def check(self, name: str) -> CheckOutcome:
        for c in self.checks():
            if c.name == name:
                return c
        raise KeyError(f"suite {self.suite.name} has no check {name!r}")


class QualityContext:
    """A GX context: a FILE context under ``<data root>/gx`` (stores + Data Docs site), or, with
    ``gx_dir=None``, an EPHEMERAL in-memory one (no Data Docs; fast, for unit tests)."""

    def __init__(self, gx_dir: Path | None) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx_dir = Path(gx_dir) if gx_dir is not None else None
        self._thread_lock = threading.RLock()
        self._prepared: dict[tuple[str, bool], tuple[str, Any, Any]] = {}
        self._batch: Any = None
        if self.gx_dir is None:
            self.context = gx.get_context(mode="ephemeral")
        else:
            self.gx_dir.mkdir(parents=True, exist_ok=True)
            with self.locked():
                # GX puts its project in <project_root_dir>/gx: the parent of our gx dir.
                self.context = gx.get_context(mode="file", project_root_dir=str(self.gx_dir.parent))
            if Path(self.context.root_directory).resolve() != self.gx_dir.resolve():
                raise RuntimeError(f"GX context at {self.context.root_directory}, expected {self.gx_dir}")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access to the GX stores across threads and (file context) processes."""
        if self.gx_dir is None:
            with self._thread_lock:
                yield
            return
        with self._thread_lock, (self.gx_dir / ".beacon.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def docs_index(self) -> Path | None:
        """The Data Docs site's entry page (None for an ephemeral context)."""
        if self.gx_dir is None:
            return None
        return self.gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"

    def prepare(self, suite: Suite, docs_result_format: dict[str, Any] | None) -> tuple[Any, Any]:
        """The suite's GX validation definition (and, for Data Docs, checkpoint), written once per process.

        Objects are replaced by delete + add rather than ``add_or_update``: the latter compares
        every old expectation with every new one (seconds for a 60-expectation suite).
        """
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        key = (suite.name, docs_result_format is not None)
        fingerprint = repr(suite)
        cached = self._prepared.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1], cached[2]
        ctx = self.context
        for factory in (ctx.checkpoints, ctx.validation_definitions, ctx.suites):
            # absent: nothing to replace (GX raises a different error type per factory)
            with suppress(Exception):
                factory.delete(suite.name)
        gx_suite = ctx.suites.add(to_gx_suite(suite))
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=self._batch_definition(), suite=gx_suite)
        )
        cp = None
        if docs_result_format is not None:
            cp = ctx.checkpoints.add(
                gx.Checkpoint(
                    name=suite.name,
                    validation_definitions=[vd],
                    actions=[UpdateDataDocsAction(name="update_data_docs")],
                    result_format=docs_result_format,
                )
            )
        # the other variant (with/without checkpoint) shares the deleted objects: forget it
        self._prepared = {k: v for k, v in self._prepared.items() if k[0] != suite.name}
        self._prepared[key] = (fingerprint, vd, cp)
        return vd, cp

    def _batch_definition(self) -> Any:
        """The one in-memory dataframe batch every suite validates (created once per GX project).

        One shared asset, not one per suite: each new asset rewrites great_expectations.yml.
        """
        if self._batch is not None:
            return self._batch
        ctx = self.context
        try:
            source = ctx.data_sources.get(DATASOURCE)
        except KeyError:
            source = ctx.data_sources.add_pandas(DATASOURCE)
        try:
            asset = source.get_asset(FRAME_ASSET)
        except LookupError:
            asset = source.add_dataframe_asset(FRAME_ASSET)
        try:
            self._batch = asset.get_batch_definition("whole_frame")
        except KeyError:
            self._batch = asset.add_batch_definition_whole_dataframe("whole_frame")
        return self._batch


_CONTEXTS: dict[Path | None, QualityContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def quality_context(gx_dir: Path | None) -> QualityContext:
    """The process-wide :class:`QualityContext` for ``gx_dir`` (None: ephemeral), created on first use."""
    key = Path(gx_dir).resolve() if gx_dir is not None else None
    with _CONTEXTS_LOCK:
        if key not in _CONTEXTS:
            _CONTEXTS[key] = QualityContext(key)
        return _CONTEXTS[key]


def _condition(where: tuple[When, ...]) -> Any:
    from great_expectations.expectations.row_conditions import Column

    terms = []
    for w in where:
        col = Column(w.column)
        ops = {
            "==": lambda c, v: c == v,
            "!=": lambda c, v: c != v,
            "<": lambda c, v: c < v,
            "<=": lambda c, v: c <= v,
            ">": lambda c, v: c > v,
            ">=": lambda c, v: c >= v,
            "in": lambda c, v: c.is_in(list(v)),
            "not in": lambda c, v: c.is_not_in(list(v)),
        }
        terms.append(ops[w.op](col, w.value))
    cond = terms[0]
    for t in terms[1:]:
        cond = cond & t
    return cond


def to_gx_suite(suite: Suite) -> Any:
    """The GX ``ExpectationSuite`` for a Beacon suite (severity and id carried over)."""
    import great_expectations as gx
    from great_expectations.expectations.metadata_types import FailureSeverity

    exps = []
    for e in suite.expectations:
        cls = getattr(gx.expectations, e.gx_type)
        kwargs: dict[str, Any] = dict(e.kwargs)
        if e.where:
            kwargs["row_condition"] = _condition(e.where)
        severity = FailureSeverity.CRITICAL if e.severity is Severity.ERROR else FailureSeverity.WARNING
        exps.append(cls(**kwargs, meta={ID_META: e.id, "check": e.check, "why": e.doc}, severity=severity))
    return gx.ExpectationSuite(name=suite.name, expectations=exps, meta={"description": suite.description})


def _plain(value: Any) -> str:
    """A value as people read it: numpy scalars unwrapped, pairs as ``(a, b)``."""
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    if hasattr(value, "item") and callable(value.item):
        with suppress(ValueError, TypeError):
            return str(value.item())
    return str(value)


def _observed(result: dict[str, Any]) -> str:
    if "observed_value" in result:
        return _plain(result["observed_value"])
    count = result.get("unexpected_count")
    if count is None:
        return ""
    text = f"{count} of {result.get('element_count', '?')} rows unexpected ({result.get('unexpected_percent') or 0:.2f}%)"
    values = result.get("partial_unexpected_list") or []
    if count and values:
        text += "; e.g. " + ", ".join(_plain(v) for v in values[:5])
    return text


def _sample(frame: pl.DataFrame, suite: Suite, e: Expectation, result: dict[str, Any]) -> pl.DataFrame:
    indices = [int(i) for i in (result.get("partial_unexpected_index_list") or [])][:SAMPLE_ROWS]
    cols = [c for c in dict.fromkeys([*suite.key_columns, *column_names([e])]) if c in frame.columns]
    if not indices or not cols:
        return pl.DataFrame()
    return frame.select(cols)[indices]


def run_suite(
    suite: Suite, frame: pl.DataFrame | pa.Table, qc: QualityContext, *, docs: bool = True
) -> SuiteRun:
    """Validate ``frame`` against ``suite``; with ``docs`` the Data Docs page of the run is rendered.

    Raises nothing on failing data: failures are in the returned :class:`SuiteRun`.
    """
    polars_frame = frame if isinstance(frame, pl.DataFrame) else pl.from_arrow(frame)
    assert isinstance(polars_frame, pl.DataFrame)
    pdf = to_pandas(polars_frame)
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
    docs_url: str | None = None
    with qc.locked():
        vd, cp = qc.prepare(suite, result_format if docs else None)
        if cp is not None:
            cp_result = cp.run(batch_parameters={"dataframe": pdf})
            ((identifier, validation),) = cp_result.run_results.items()
            urls = qc.context.get_docs_sites_urls(resource_identifier=identifier)
            docs_url = urls[0]["site_url"] if urls else None
        else:
            validation = vd.run(batch_parameters={"dataframe": pdf}, result_format=result_format)

    by_id = {e.id: e for e in suite.expectations}
    outcomes: dict[str, ExpectationOutcome] = {}
    for r in validation.results:
        e = by_id[r.expectation_config.meta[ID_META]]
        res = dict(r.result or {})
        info = r.exception_info or {}
        error = info.get("exception_message") if info.get("raised_exception") else None
        outcomes[e.id] = ExpectationOutcome(
            e,
            bool(r.success),
            _observed(res),
            res.get("unexpected_count"),
            _sample(polars_frame, suite, e, res) if not r.success else pl.DataFrame(),
            error,
        )
    missing = set(by_id) - set(outcomes)
    if missing:
        raise RuntimeError(f"suite {suite.name}: GX returned no result for {sorted(missing)}")
    return SuiteRun(suite, all(o.success for o in outcomes.values()), polars_frame.height, outcomes, docs_url)
