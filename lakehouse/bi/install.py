"""Install the Superset venv and ``playwright-core`` into the cache, once, from pinned versions.

Why ``uv`` and a lock: Superset resolves to ~230 packages; ``uv pip install`` of the compiled,
URL-free ``requirements-superset.lock`` installs them in well under a minute, fast enough for a
cold CI run, and the exact versions are the ones we tested. The venv directory is named after the
lock's hash, so editing the lock yields a fresh venv instead of mutating a working one, and a
stamp file written LAST marks a complete install (a killed install is redone, not trusted).

Browsers are never downloaded: ``playwright-core`` (the driver without browser downloads) is
installed from npm at a pinned version with ``--no-package-lock`` and drives Debian's
``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK_FILE = HERE / "requirements-superset.lock"
#: Pinned npm version of the browser driver (no browsers bundled, no download at install).
PLAYWRIGHT_CORE_VERSION = "1.65.1"
CHROMIUM = "/usr/bin/chromium"
_STAMP = ".beacon-installed"


class InstallError(RuntimeError):
    """A tool the BI stack needs is missing or its installation failed."""


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise installers sharing one cache (two test sessions, a test and ``make bi``)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lock_digest(lock_file: Path = LOCK_FILE) -> str:
    """Short hash of the lock file: the name of the venv built from it."""
    return hashlib.sha256(lock_file.read_bytes()).hexdigest()[:12]


def venv_dir(cache_dir: Path, lock_file: Path = LOCK_FILE) -> Path:
    return cache_dir / f"venv-{lock_digest(lock_file)}"


def find_uv() -> str:
    """``$UV``, ``uv`` on PATH, or the one ``make`` installs into ``.venv-tools``."""
    candidates = [
        os.environ.get("UV"),
        shutil.which("uv"),
        str(HERE.parents[1] / ".venv-tools" / "bin" / "uv"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise InstallError("uv not found: install it (pip install uv==0.13.9) or set UV=/path/to/uv")


def ensure_superset_venv(cache_dir: Path, lock_file: Path = LOCK_FILE, *, quiet: bool = True) -> Path:
    """The venv with Superset installed from ``lock_file`` (installed now if missing). Returns its dir."""
    venv = venv_dir(cache_dir, lock_file)
    if (venv / _STAMP).exists():
        return venv
    with _exclusive(cache_dir / ".install.lock"):
        if (venv / _STAMP).exists():  # another process finished it while we waited
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        uv = find_uv()
        started = time.monotonic()
        q = ["-q"] if quiet else []
        # The venv's interpreter is the one running us (Python 3.11): never let uv fetch a Python.
        subprocess.run(
            [uv, "venv", *q, "--python", sys.executable, "--no-python-downloads", str(venv)], check=True
        )
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        subprocess.run(
            [uv, "pip", "install", *q, "--no-python-downloads", "-r", str(lock_file)], check=True, env=env
        )
        (venv / _STAMP).write_text(
            f"{lock_digest(lock_file)} installed in {time.monotonic() - started:.0f} s\n"
        )
    return venv


def superset_bin(venv: Path, name: str = "superset") -> Path:
    return venv / "bin" / name


def ensure_playwright_core(cache_dir: Path, version: str = PLAYWRIGHT_CORE_VERSION) -> Path:
    """``node_modules`` prefix holding ``playwright-core@version`` (npm install once, no lock file)."""
    prefix = cache_dir / f"playwright-core-{version}"
    if (prefix / _STAMP).exists():
        return prefix
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError("npm not found: apt-get install -y nodejs npm")
    with _exclusive(cache_dir / ".install.lock"):
        if (prefix / _STAMP).exists():
            return prefix
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.mkdir(parents=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-package-lock",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                f"playwright-core@{version}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (prefix / _STAMP).write_text(version + "\n")
    return prefix


def require_chromium(path: str = CHROMIUM) -> str:
    """Debian's Chromium (``apt-get install -y chromium``); browsers are never downloaded."""
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        raise InstallError(f"{path} not found: apt-get install -y chromium")
    return path
