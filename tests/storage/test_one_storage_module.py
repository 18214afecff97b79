"""Every Delta read and write of the product goes through ``lakehouse.storage``.

Why: the storage module is where the Delta rules live (active files only, partition paths decoded,
view types rewritten after deletes, one commit per write, the Spark engine behind the same calls).
A module that opens ``deltalake.DeltaTable`` or calls ``write_deltalake`` itself silently skips
them, so no product module outside ``lakehouse/storage`` may import ``deltalake``. Tests may (they
check what the storage module wrote); an exception in the product is named in :data:`ALLOWED` with
its reason, and an entry that no longer matches fails, so the list cannot rot.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("lakehouse", "orchestration", "ml", "expectations", "bench")
STORAGE = "lakehouse/storage/"
ALLOWED = {
    "bench/bench_landing.py": "the benchmark's floor is a bare write_deltalake, measured beside landing on purpose",
}


def deltalake_imports(source: str) -> list[int]:
    """Line numbers of every ``import deltalake...`` / ``from deltalake... import`` (nested ones too)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(n == "deltalake" or n.startswith("deltalake.") for n in names):
            lines.append(node.lineno)
    return sorted(lines)


def _importers() -> dict[str, list[int]]:
    found = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = deltalake_imports(path.read_text(encoding="utf-8"))
            if lines and not rel.startswith(STORAGE):
                found[rel] = lines
    return found


def test_only_the_storage_module_imports_deltalake() -> None:
    found = _importers()
    unexplained = {rel: lines for rel, lines in found.items() if rel not in ALLOWED}
    assert not unexplained, (
        "modules that use deltalake directly (go through lakehouse.storage: table_exists, table_version, "
        "read_table, arrow_dataset, write_partitions, ...; or add the function you need there):\n"
        + "\n".join(f"  {rel}: line(s) {lines}" for rel, lines in unexplained.items())
    )
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"allow-list entries that import deltalake no more (remove them): {stale}"


def test_the_scan_sees_every_import_form() -> None:
    """The failure path: each way of reaching deltalake is found, the storage module's own API is not."""
    source = (
        "import deltalake\n"
        "import deltalake.writer as w\n"
        "from deltalake import DeltaTable\n"
        "def f():\n"
        "    from deltalake.transaction import AddAction\n"
        "from lakehouse import storage\n"
        "from lakehouse.storage import read_table\n"
        "import deltalake_extras\n"
    )
    assert deltalake_imports(source) == [1, 2, 3, 5]
