"""Same arguments, same bytes; another seed, another data set; re-runs replace, not add."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from lakehouse.generator import generate

ARGS = {"users": 150, "homes": 2, "days": 4, "start": dt.date(2026, 3, 27)}  # spans the EU DST switch


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = generate(out=tmp_path / "a" / "landing", truth=tmp_path / "a" / "truth", seed=5, **ARGS)
    b = generate(out=tmp_path / "b" / "landing", truth=tmp_path / "b" / "truth", seed=5, **ARGS)
    assert (a.events, a.readings) == (b.events, b.readings)
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.events > 1000 and a.readings > 1000
    assert files_a.keys() == files_b.keys()
    assert any(name.startswith("landing/clickstream/") for name in files_a)
    assert any(name.startswith("landing/sensors/") for name in files_a)
    assert "truth/manifest.json" in files_a and "truth/users.parquet" in files_a
    different = [name for name in files_a if files_a[name] != files_b[name]]
    assert different == []


def test_gzip_headers_carry_no_time_or_name(tmp_path: Path) -> None:
    generate(out=tmp_path / "landing", truth=tmp_path / "truth", seed=5, **ARGS)
    for path in (tmp_path / "landing").rglob("*.gz"):
        header = path.read_bytes()[:10]
        assert header[3] & 0x08 == 0, f"{path} stores a file name"
        assert header[4:8] == b"\0\0\0\0", f"{path} stores a modification time"
        assert gzip.decompress(path.read_bytes())  # and it is a valid gzip stream


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    generate(out=tmp_path / "a" / "landing", truth=tmp_path / "a" / "truth", seed=5, **ARGS)
    generate(out=tmp_path / "b" / "landing", truth=tmp_path / "b" / "truth", seed=6, **ARGS)
    files_a, files_b = _files(tmp_path / "a" / "landing"), _files(tmp_path / "b" / "landing")
    common = files_a.keys() & files_b.keys()
    assert common
    assert all(files_a[name] != files_b[name] for name in common)


def test_rerun_into_same_folder_replaces_previous_files(tmp_path: Path) -> None:
    generate(
        out=tmp_path / "landing",
        truth=tmp_path / "truth",
        seed=5,
        users=150,
        homes=2,
        days=6,
        start=ARGS["start"],
    )
    second = generate(out=tmp_path / "landing", truth=tmp_path / "truth", seed=5, **ARGS)
    reference = generate(out=tmp_path / "ref" / "landing", truth=tmp_path / "ref" / "truth", seed=5, **ARGS)
    assert _files(tmp_path / "landing") == _files(tmp_path / "ref" / "landing")
    assert second.events == reference.events
