"""Run a :class:`~expectations.model.Suite` with Great Expectations Core 1.x and explain the result.

GX is imported inside the functions here (it costs seconds), never at module import. One
:class:`QualityContext` wraps a GX *file* context rooted at ``BEACON_DATA_DIR/gx`` (so results
accumulate and the Data Docs site lists every run) and is reused per process. Suites,
validation definitions and checkpoints are written with ``add_or_update`` on every run, so the
code in :mod:`expectations` stays the only definition and a stale JSON file never wins. A file
lock serialises GX store writes across processes (Dagster runs checks in parallel processes).

Cost (the checks run on every delivery day): the frame is rechunked before it becomes pandas
(row-condition filters ``take`` every column, and chunked Arrow strings make that 2-3x slower);
the suite runs with the ``BASIC`` result format and only the expectations that failed are
re-run (``SUMMARY``, in the process's ephemeral context) for the row indices of the failing-row
sample; Data Docs render only this run's validation page (the suite's page only when the suite
was written in this process) and the index is rebuilt once per check step
(:meth:`QualityContext.build_index`) over at most :data:`INDEX_RESULTS_LIMIT` recent results.

Privacy (issue 7): identifier columns (:data:`IDENTIFIER_COLUMNS`) never enter a failing-row
sample or an observed value, so an erased person does not live on in Dagster's event log.

Every suite validates ONE pandas frame (a GX ``dataframe`` batch). Cross-table checks are
computed in DuckDB into such a frame first and asserted with GX (see
:mod:`expectations.marts`); no SQL datasource is needed, so no SQLAlchemy dialect for DuckDB.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from expectations.frames import to_pandas
from expectations.model import Expectation, Severity, Suite, When, column_names
from lakehouse.landing.schemas import ALL_IDENTIFIER_KEYS

#: Failing rows kept per expectation (and shown in Dagster metadata).
SAMPLE_ROWS = 10
#: Columns that identify a person (pseudonyms are still personal data): never in samples/observed.
IDENTIFIER_COLUMNS: frozenset[str] = frozenset(ALL_IDENTIFIER_KEYS)
REDACTED = "<identifier redacted>"
#: The Data Docs index lists this many most recent validation results (its rebuild reads each one).
INDEX_RESULTS_LIMIT = 100
FAST_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": SAMPLE_ROWS}
SAMPLE_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
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


def _without_unusable_spark_connect() -> None:
    """Mark pyspark's Spark Connect package unavailable when importing it would end the process.

    GX probes for Spark by importing ``pyspark.sql.connect`` inside ``except ImportError``. With
    pyspark installed (Beacon's Spark engine) but Spark Connect's optional dependencies missing,
    that package calls ``sys.exit(0)`` on import whenever ``__main__`` has neither a spec nor a
    file (its doctest heuristic), which is the case in pytest-xdist workers and ``python -c``:
    every GX validation there died with ``SystemExit: 0``. Beacon never uses Spark Connect, so the
    package is recorded as missing (``None`` in ``sys.modules``); GX then gets the ImportError it
    handles. Classic pyspark, which the Spark engine uses, imports it only in remote mode.
    """
    import io
    import sys

    if "pyspark.sql.connect" in sys.modules:
        return
    try:
        with redirect_stderr(io.StringIO()):  # its "Skipping doctests" notice is not for our users
            import pyspark.sql.connect  # noqa: F401
    except ImportError:
        return  # no pyspark (or no Spark Connect): GX handles that itself
    except SystemExit:
        sys.modules["pyspark.sql.connect"] = None  # type: ignore[assignment]


class QualityContext:
    """A GX context: a FILE context under ``<data root>/gx`` (stores + Data Docs site), or, with
    ``gx_dir=None``, an EPHEMERAL in-memory one (no Data Docs; fast, for unit tests)."""

    def __init__(self, gx_dir: Path | None) -> None:
        _without_unusable_spark_connect()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx_dir = Path(gx_dir) if gx_dir is not None else None
        self._thread_lock = threading.RLock()
        self._prepared: dict[str, tuple[str, Any]] = {}
        self._batch: Any = None
        self._last_rendered: Any = None
        if self.gx_dir is None:
            self.context = gx.get_context(mode="ephemeral")
        else:
            self.gx_dir.mkdir(parents=True, exist_ok=True)
            with self.locked():
                # GX puts its project in <project_root_dir>/gx: the parent of our gx dir.
                self.context = gx.get_context(mode="file", project_root_dir=str(self.gx_dir.parent))
            if Path(self.context.root_directory).resolve() != self.gx_dir.resolve():
                raise RuntimeError(f"GX context at {self.context.root_directory}, expected {self.gx_dir}")
            with self.locked():
                self._limit_index()
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

    def prepare(self, suite: Suite) -> tuple[Any, bool]:
        """The suite's GX validation definition, written once per process; (definition, written now).

        Objects are replaced by delete + add rather than ``add_or_update``: the latter compares
        every old expectation with every new one (seconds for a 60-expectation suite).
        """
        _without_unusable_spark_connect()
        import great_expectations as gx

        fingerprint = repr(suite)
        cached = self._prepared.get(suite.name)
        if cached is not None and cached[0] == fingerprint:
            return cached[1], False
        ctx = self.context
        for factory in (ctx.checkpoints, ctx.validation_definitions, ctx.suites):
            # absent: nothing to replace (GX raises a different error type per factory)
            with suppress(Exception):
                factory.delete(suite.name)
        gx_suite = ctx.suites.add(to_gx_suite(suite))
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=self._batch_definition(), suite=gx_suite)
        )
        self._prepared[suite.name] = (fingerprint, vd)
        return vd, True

    def _limit_index(self) -> None:
        """Bound the Data Docs index to the most recent results (else each rebuild reads them all)."""
        sites = dict(self.context.variables.data_docs_sites or {})
        changed = False
        for name, site in sites.items():
            builder = dict(site.get("site_index_builder") or {"class_name": "DefaultSiteIndexBuilder"})
            if builder.get("validation_results_limit") != INDEX_RESULTS_LIMIT:
                builder["validation_results_limit"] = INDEX_RESULTS_LIMIT
                sites[name] = {**site, "site_index_builder": builder}
                changed = True
        if changed:
            for name, site in sites.items():
                self.context.update_data_docs_site(name, site)

    def render(self, identifiers: list[Any], *, build_index: bool) -> None:
        """Render only the pages of ``identifiers`` (and the index when asked); caller holds the lock.

        An empty list would make GX re-render EVERY stored result, hence the guard.
        """
        if self.gx_dir is None or not identifiers:
            return
        self.context.build_data_docs(resource_identifiers=identifiers, build_index=build_index)
        self._last_rendered = identifiers[0]

    def build_index(self) -> None:
        """Rebuild the Data Docs index once (after a check step's validations, not after each one)."""
        if self.gx_dir is None or self._last_rendered is None:
            return
        with self.locked():
            self.context.build_data_docs(resource_identifiers=[self._last_rendered], build_index=True)

    def page_url(self, identifier: Any) -> str | None:
        if self.gx_dir is None:
            return None
        urls = self.context.get_docs_sites_urls(resource_identifier=identifier, only_if_exists=False)
        return urls[0]["site_url"] if urls else None

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
    _without_unusable_spark_connect()
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
    _without_unusable_spark_connect()
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


def _observed(result: dict[str, Any], e: Expectation) -> str:
    if "observed_value" in result:
        return _plain(result["observed_value"])
    count = result.get("unexpected_count")
    if count is None:
        return ""
    text = f"{count} of {result.get('element_count', '?')} rows unexpected ({result.get('unexpected_percent') or 0:.2f}%)"
    values = result.get("partial_unexpected_list") or []
    if count and values:
        shown = [REDACTED] if IDENTIFIER_COLUMNS & set(e.columns) else [_plain(v) for v in values[:5]]
        text += "; e.g. " + ", ".join(shown)
    return text


def sample_columns(suite: Suite, e: Expectation, frame_columns: list[str]) -> list[str]:
    """Key columns and the columns ``e`` reads, without identifier columns (issue 7: erasure)."""
    wanted = dict.fromkeys([*suite.key_columns, *column_names([e])])
    return [c for c in wanted if c in frame_columns and c not in IDENTIFIER_COLUMNS]


def _sample(frame: pl.DataFrame, suite: Suite, e: Expectation, result: dict[str, Any]) -> pl.DataFrame:
    indices = [int(i) for i in (result.get("partial_unexpected_index_list") or [])][:SAMPLE_ROWS]
    cols = sample_columns(suite, e, frame.columns)
    if not indices or not cols:
        return pl.DataFrame()
    return frame.select(cols)[indices]


def _result_identifier(qc: QualityContext, validation: Any, suite_name: str) -> Any:
    """The store key GX gave this validation result.

    A dataframe batch's id is ``<datasource>-<asset>`` (GX drops the dataframe parameter); if a
    GX version builds it differently, the key is looked up among the suite's stored results.
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    batch = validation.meta["active_batch_definition"]
    run_id = validation.meta["run_id"]
    identifier = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
        run_id=run_id,
        batch_identifier=f"{batch['datasource_name']}-{batch['data_asset_name']}",
    )
    store = qc.context.validation_results_store
    if store.has_key(identifier):
        return identifier
    for key in store.list_keys():
        if key.expectation_suite_identifier.name == suite_name and key.run_id == run_id:
            return key
    raise RuntimeError(f"suite {suite_name}: validation result of run {run_id} not in the store")


def _redact_stored_identifiers(qc: QualityContext, identifier: Any, validation: Any, suite: Suite) -> None:
    """Replace identifier values in the STORED result (and so in Data Docs) by a redaction mark.

    GX keeps the first unexpected values of each expectation; for an identifier column that fails
    the pseudonym check those are raw identifiers, which must never rest under ``BEACON_DATA_DIR``
    (issue 7: an erased person must not remain anywhere). The result is rewritten in the store
    before any page is rendered from it.
    """
    by_id = {e.id: e for e in suite.expectations}
    changed = False
    for r in validation.results:
        e = by_id.get(r.expectation_config.meta.get(ID_META))
        res = r.result or {}
        if e is None or not IDENTIFIER_COLUMNS & set(e.columns) or not res.get("partial_unexpected_list"):
            continue
        res["partial_unexpected_list"] = [REDACTED] * len(res["partial_unexpected_list"])
        if "partial_unexpected_counts" in res:
            res["partial_unexpected_counts"] = [
                {"value": REDACTED, "count": res.get("unexpected_count") or 0}
            ]
        for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
            res.pop(key, None)
        changed = True
    if changed:
        qc.context.validation_results_store.set(identifier, validation)


def _results_by_id(validation: Any) -> dict[str, Any]:
    return {r.expectation_config.meta[ID_META]: r for r in validation.results}


def run_suite(
    suite: Suite,
    frame: pl.DataFrame | pa.Table,
    qc: QualityContext,
    *,
    docs: bool = True,
    build_index: bool = True,
) -> SuiteRun:
    """Validate ``frame`` against ``suite``; with ``docs`` the Data Docs page of the run is rendered
    (and the index too unless ``build_index`` is False: a caller validating several frames in one
    step calls :meth:`QualityContext.build_index` once at the end).

    Raises nothing on failing data: failures are in the returned :class:`SuiteRun`.
    """
    polars_frame = frame if isinstance(frame, pl.DataFrame) else pl.from_arrow(frame)
    assert isinstance(polars_frame, pl.DataFrame)
    pdf = to_pandas(polars_frame.rechunk())
    docs_url: str | None = None
    with qc.locked():
        vd, suite_written = qc.prepare(suite)
        validation = vd.run(batch_parameters={"dataframe": pdf}, result_format=FAST_FORMAT)
        if qc.gx_dir is not None:
            identifier = _result_identifier(qc, validation, suite.name)
            _redact_stored_identifiers(qc, identifier, validation, suite)
        if docs and qc.gx_dir is not None:
            extra = [_suite_identifier(suite.name)] if suite_written else []
            qc.render([identifier, *extra], build_index=build_index)
            docs_url = qc.page_url(identifier)

    results = _results_by_id(validation)
    by_id = {e.id: e for e in suite.expectations}
    missing = set(by_id) - set(results)
    if missing:
        raise RuntimeError(f"suite {suite.name}: GX returned no result for {sorted(missing)}")
    # the failing-row sample needs row indices (SUMMARY format, slower): only for what failed
    rows_failed = [
        i for i, r in results.items() if not r.success and (r.result or {}).get("unexpected_count")
    ]
    indexed: dict[str, Any] = {}
    if rows_failed:
        scratch = quality_context(None)
        with scratch.locked():
            sub_vd, _ = scratch.prepare(suite.subset(rows_failed))
            indexed = _results_by_id(
                sub_vd.run(batch_parameters={"dataframe": pdf}, result_format=SAMPLE_FORMAT)
            )

    outcomes: dict[str, ExpectationOutcome] = {}
    for eid, r in results.items():
        e = by_id[eid]
        res = dict(r.result or {})
        info = r.exception_info or {}
        error = info.get("exception_message") if info.get("raised_exception") else None
        sample = pl.DataFrame()
        if eid in indexed:
            sample = _sample(polars_frame, suite, e, dict(indexed[eid].result or {}))
        outcomes[eid] = ExpectationOutcome(
            e, bool(r.success), _observed(res, e), res.get("unexpected_count"), sample, error
        )
    return SuiteRun(suite, all(o.success for o in outcomes.values()), polars_frame.height, outcomes, docs_url)


def _suite_identifier(name: str) -> Any:
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    return ExpectationSuiteIdentifier(name=name)


def merge_runs(suite: Suite, runs: list[SuiteRun], labels: list[str]) -> SuiteRun:
    """One result for a suite validated over several frames (batches of partitions of one range).

    An expectation passes when it passed on every frame; its observed value lists the frames it
    failed on (``labels``, e.g. the partitions of each frame), unexpected counts are summed and
    failing-row samples concatenated (at most :data:`SAMPLE_ROWS`). The docs link is the first
    failing frame's page (else the last one's).
    """
    if not runs:
        raise ValueError(f"suite {suite.name}: nothing validated")
    if len(runs) == 1:
        return replace(runs[0], extra={**runs[0].extra, "batches": labels})
    outcomes: dict[str, ExpectationOutcome] = {}
    for e in suite.expectations:
        parts = [(label, run.outcomes[e.id]) for label, run in zip(labels, runs, strict=True)]
        failed = [(label, o) for label, o in parts if not o.success]
        counts = [o.unexpected_count for _, o in parts if o.unexpected_count is not None]
        samples = [o.sample for _, o in failed if o.sample.height]
        if failed:
            observed = "; ".join(f"[{label}] {o.error or o.observed}" for label, o in failed)
        else:
            observed = f"passed on {len(parts)} batches ({parts[-1][0]}: {parts[-1][1].observed})"
        outcomes[e.id] = ExpectationOutcome(
            e,
            not failed,
            observed,
            sum(counts) if counts else None,
            pl.concat(samples, how="diagonal_relaxed").head(SAMPLE_ROWS) if samples else pl.DataFrame(),
            "; ".join(o.error for _, o in failed if o.error) or None,
        )
    failing = [r for r in runs if not r.success]
    return SuiteRun(
        suite,
        not failing,
        sum(r.rows for r in runs),
        outcomes,
        (failing or runs)[-1 if not failing else 0].docs_url,
        {"batches": labels},
    )
