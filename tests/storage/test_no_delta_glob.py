"""No code reads Parquet by directory or glob where it could be a Delta table.

Why: a Delta folder keeps every file any version ever had until vacuum; reading it as a Parquet
directory (or a ``*.parquet`` glob) returns the dead rows of compactions, overwrites and deletes.
Delta tables are read through ``lakehouse.storage`` (delta-rs) or, on Spark, through the active
file list (``lakehouse.storage.spark.read_delta``). Every other Parquet read in the source must be
an explicit file (or list of files) and be named in :data:`ALLOWED` with the reason it is safe; an
allow-list entry that no longer matches anything fails too, so the list cannot rot.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Where the product's code lives (tests may read directories on purpose, to show the problem).
SCANNED = {
    "lakehouse": ("*.py",),
    "orchestration": ("*.py",),
    "ml": ("*.py",),
    "expectations": ("*.py",),
    "bench": ("*.py",),
    "dbt_project/models": ("*.sql", "*.yml"),
    "dbt_project/macros": ("*.sql", "*.yml"),
}

#: Text rules, for Python and SQL alike (SQL is often embedded in Python strings).
TEXT_RULES: dict[str, re.Pattern[str]] = {
    # DuckDB / polars / pandas readers: each accepts directories and globs
    "read_parquet": re.compile(r"\b(?:read|scan)_parquet\s*\("),
    "parquet_scan": re.compile(r"\bparquet_scan\s*\("),
    # Spark SQL's direct file query: SELECT ... FROM parquet.`/some/dir`
    "spark_sql_parquet_path": re.compile(r"\bparquet\s*\.\s*`"),
    # a CREATE TABLE ... USING parquet over an existing location reads the directory
    "using_parquet_location": re.compile(r"(?is)\busing\s+parquet\b.{0,400}?\blocation\s*['\"]"),
    # globbing for Parquet files: glob("*.parquet"), rglob("*.parquet"), glob.glob(".../*.parquet")
    "glob_parquet": re.compile(r"\b(?:r|i)?glob\s*\(\s*[^)]*\*[^)]*\.parquet"),
    # pyarrow's directory readers
    "arrow_parquet_dataset": re.compile(r"\bParquetDataset\s*\(|\b(?:pq|parquet)\.read_table\s*\("),
    "arrow_dataset_parquet": re.compile(r"\bdataset\s*\([^)]*format\s*=\s*['\"]parquet['\"]"),
}


@dataclass(frozen=True)
class Finding:
    """One place that reads Parquet by a path that could be a directory or a glob."""

    file: str
    line: int
    rule: str
    code: str


@dataclass(frozen=True)
class Allowed:
    """A finding that is safe, and why: matched by file, rule and a piece of the flagged line."""

    file: str
    rule: str
    snippet: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return finding.file == self.file and finding.rule == self.rule and self.snippet in finding.code


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "lakehouse/storage/spark.py",
        "spark_read_parquet",
        "reader.parquet(*[_spark_uri(p) for p in local])",
        "reads exactly the files delta-rs lists as active for the version (globbing off), never a folder",
    ),
    Allowed(
        "lakehouse/landing/engine.py",
        "read_parquet",
        "read_parquet($files)",
        "the key index's explicit file list: committed active files plus this batch's staged files",
    ),
    Allowed(
        "lakehouse/privacy/erase.py",
        "glob_parquet",
        'truth.rglob("*.parquet")',
        "the generator's ground-truth folder: plain Parquet files, never a Delta table",
    ),
    Allowed(
        "lakehouse/privacy/erase.py",
        "read_parquet",
        "pl.read_parquet(path)",
        "one ground-truth file found above (not Delta)",
    ),
    Allowed(
        "ml/scoring.py",
        "read_parquet",
        "pl.read_parquet(path)",
        "one MLflow artifact file downloaded for a run (not Delta)",
    ),
    Allowed(
        "ml/recommend.py",
        "read_parquet",
        'pl.read_parquet("interactions.parquet")',
        "docstring example: a user's own single export file",
    ),
    Allowed(
        "bench/report_occupancy_accuracy.py",
        "read_parquet",
        "read_parquet('{truth_parquet}')",
        "one ground-truth Parquet file the generator wrote (not Delta)",
    ),
)


def _call_chain(node: ast.AST) -> list[ast.AST]:
    """The receivers of a method chain, innermost last: ``spark.read.option(...).parquet`` ->
    [option call, read attribute, spark name]."""
    chain: list[ast.AST] = []
    current = node
    while True:
        if isinstance(current, ast.Attribute):
            current = current.value
        elif isinstance(current, ast.Call):
            current = current.func
        else:
            return chain
        chain.append(current)


def _is_format_parquet(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and str(node.args[0].value).lower() == "parquet"
    )


def _python_findings(source: str) -> list[tuple[int, str]]:
    """Spark DataFrameReader Parquet reads, however the chain is split over lines or variables.

    Any ``.parquet(...)`` call counts unless its chain is a writer (``df.write...parquet``): a
    reader kept in a variable (``reader = spark.read.schema(s)``) is still a reader.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        chain = _call_chain(node.func)
        if any(isinstance(n, ast.Attribute) and n.attr in ("write", "writeStream") for n in chain):
            continue
        if node.func.attr == "parquet":
            found.append((node.lineno, "spark_read_parquet"))
        elif node.func.attr == "load" and (
            any(_is_format_parquet(n) for n in chain)
            or any(
                k.arg == "format" and isinstance(k.value, ast.Constant) and k.value.value == "parquet"
                for k in node.keywords
            )
        ):
            found.append((node.lineno, "spark_format_parquet_load"))
    return found


def findings_in(text: str, file: str) -> list[Finding]:
    """Every directory-or-glob Parquet read in one file's text."""
    lines = text.splitlines()
    hits: list[tuple[int, str]] = []
    for rule, pattern in TEXT_RULES.items():
        for match in pattern.finditer(text):
            hits.append((text.count("\n", 0, match.start()) + 1, rule))
    if file.endswith(".py"):
        hits += _python_findings(text)
    return [Finding(file, line, rule, lines[line - 1].strip()) for line, rule in sorted(set(hits))]


def scan_repository(root: Path = ROOT) -> list[Finding]:
    findings: list[Finding] = []
    for folder, patterns in SCANNED.items():
        for pattern in patterns:
            for path in sorted((root / folder).rglob(pattern)):
                if "target" in path.relative_to(root).parts:
                    continue
                rel = path.relative_to(root).as_posix()
                findings += findings_in(path.read_text(encoding="utf-8"), rel)
    return findings


@pytest.fixture(scope="module")
def repository_findings() -> list[Finding]:
    return scan_repository()


def test_no_code_reads_parquet_by_directory_or_glob(repository_findings: list[Finding]) -> None:
    unexplained = [f for f in repository_findings if not any(a.covers(f) for a in ALLOWED)]
    assert not unexplained, (
        "Parquet read by directory/glob where a Delta table could be (use lakehouse.storage / "
        "lakehouse.storage.spark.read_delta, or add an Allowed entry with the reason it is safe):\n"
        + "\n".join(f"  {f.file}:{f.line} [{f.rule}] {f.code}" for f in unexplained)
    )


def test_every_allow_list_entry_still_matches(repository_findings: list[Finding]) -> None:
    stale = [a for a in ALLOWED if not any(a.covers(f) for f in repository_findings)]
    assert not stale, "allow-list entries that match nothing any more (remove them):\n" + "\n".join(
        f"  {a.file} [{a.rule}] {a.snippet!r}" for a in stale
    )
    assert all(a.reason.strip() for a in ALLOWED)


BAD_SNIPPETS = {
    "spark_read_parquet": 'df = spark.read.parquet("data/delta/bronze/clickstream_events")\n',
    "spark_read_parquet_chain": (
        'df = (\n    spark.read\n    .option("mergeSchema", "true")\n    .parquet(f"{root}/events")\n)\n'
    ),
    "spark_reader_variable": "reader = spark.read.schema(schema)\ndf = reader.parquet(table_dir)\n",
    "spark_format_parquet_load": 'df = spark.read.format("parquet").load(path)\n',
    "spark_load_format_keyword": 'df = spark.read.load(path, format="parquet")\n',
    "read_parquet": "rows = duckdb.sql(\"select * from read_parquet('delta/bronze/x/**/*.parquet')\")\n",
    "polars_scan": "lf = pl.scan_parquet(table_dir)\n",
    "parquet_scan": "con.execute(\"select count(*) from parquet_scan('x/*.parquet')\")\n",
    "glob_parquet": 'files = sorted(Path(t).rglob("*.parquet"))\n',
    "glob_module": 'files = glob.glob(f"{t}/**/*.parquet", recursive=True)\n',
    "spark_sql_path": 'spark.sql("select * from parquet.`/data/delta/silver/x`")\n',
    "arrow_dataset": 'ds = pads.dataset(path, format="parquet")\n',
    "arrow_read_table": "t = pq.read_table(table_dir)\n",
}


@pytest.mark.parametrize("name", sorted(BAD_SNIPPETS))
def test_the_detector_flags_directory_reads(name: str) -> None:
    assert findings_in(BAD_SNIPPETS[name], "lakehouse/example.py"), name


def test_the_detector_passes_delta_reads_and_writes() -> None:
    good = (
        "from lakehouse.storage import read_table\n"
        "from lakehouse.storage.spark import read_delta, write_delta\n"
        "frame = read_delta(spark, path, version)\n"
        "write_delta(frame, out, ['event_date'])\n"
        'frame.write.partitionBy("d").parquet(staging)\n'
        "meta = pq.read_metadata(one_file)\n"
        "arrow = read_table(path)\n"
    )
    assert findings_in(good, "lakehouse/example.py") == []
    sql = "select * from {{ source('bronze', 'clickstream_events') }} where event_date >= '{{ var('start_date') }}'\n"
    assert findings_in(sql, "dbt_project/models/x.sql") == []
    assert findings_in("select * from read_parquet('x.parquet')\n", "dbt_project/models/x.sql")[0].rule == (
        "read_parquet"
    )


def test_allow_list_entries_are_precise() -> None:
    """An entry covers only its file, rule and line: the same call elsewhere is still a finding."""
    entry = ALLOWED[1]
    same = Finding(entry.file, 1, entry.rule, f"x = {entry.snippet}")
    elsewhere = Finding("lakehouse/other.py", 1, entry.rule, f"x = {entry.snippet}")
    other_line = Finding(entry.file, 2, entry.rule, "pl.read_parquet(table_dir)")
    assert entry.covers(same) and not entry.covers(elsewhere) and not entry.covers(other_line)


def test_importing_the_storage_module_does_not_load_pyspark() -> None:
    """The Spark read/write functions are exported by ``lakehouse.storage`` but import pyspark only
    when called: DuckDB-engine processes (landing, dbt, the API) never pay for a JVM bridge."""
    import subprocess
    import sys

    code = "import sys, lakehouse.storage as s; s.read_delta, s.write_delta; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
