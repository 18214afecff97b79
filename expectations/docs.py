"""Great Expectations Data Docs: a static site under ``BEACON_DATA_DIR/gx``.

Every check run through Dagster renders its own validation page (the check's metadata links to
it). To (re)build the whole site from the stored results, or to validate the current data
outside Dagster and then build it::

    python -m expectations.docs              # rebuild the site, print the index path
    python -m expectations.docs --validate   # run every suite on the current data first

Open ``$BEACON_DATA_DIR/gx/uncommitted/data_docs/local_site/index.html`` in a browser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lakehouse.config import DataPaths, paths


def build_data_docs(data_paths: DataPaths | None = None) -> Path:
    """Re-render the Data Docs site from every stored suite and validation result; the index path."""
    from expectations.runner import quality_context

    p = data_paths or paths()
    qc = quality_context(p.gx)
    with qc.locked():
        qc.context.build_data_docs()
    return qc.docs_index


def validate_all(data_paths: DataPaths | None = None) -> dict[str, bool]:
    """Run every suite on the data as it is now (whole bronze tables, marts if built): suite -> success."""
    from expectations.suites import run_bronze, run_distribution, run_ledger, run_marts

    p = data_paths or paths()
    results: dict[str, bool] = {}
    for table in ("clickstream_events", "sensor_readings"):
        for run in (run_bronze(p, table, None), run_ledger(p, table, None), run_distribution(p, table, None)):
            results[run.suite.name + (f"[{table}]" if run.suite.name == "landing_ledger" else "")] = (
                run.success
            )
    if (p.build / "marts_build.duckdb").is_file():
        for run in run_marts(p):
            results[run.suite.name] = run.success
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m expectations.docs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="data root (default: $BEACON_DATA_DIR)")
    parser.add_argument("--validate", action="store_true", help="validate the current data before building")
    args = parser.parse_args(argv)
    p = paths(args.data_dir)
    if args.validate:
        for name, ok in validate_all(p).items():
            print(f"{'pass' if ok else 'FAIL'}  {name}")
    print(build_data_docs(p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
