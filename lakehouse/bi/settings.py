"""Where the Superset installation lives and how it is reached, from environment variables.

Two directories, both outside the repository so that nothing generated (venv, secret key,
metadata database, logs) can ever be committed:

* the CACHE (``BEACON_SUPERSET_CACHE``, default ``$XDG_CACHE_HOME/beacon/superset`` or
  ``~/.cache/beacon/superset``) holds what is expensive and shareable: the Superset venv (one per
  lock-file hash, so a changed lock gets a fresh venv) and ``playwright-core``;
* the HOME (``BEACON_SUPERSET_HOME``, default ``<cache>/home-<hash of the marts path>``) holds one
  Superset instance: ``superset_config.py``, the secret key (generated once, mode 0600), the
  metadata database, the pid file and the server log. One home per published file, so two
  lakehouses on one machine never share dashboards by accident.

| variable | default | meaning |
|---|---|---|
| ``BEACON_DATA_DIR`` | ``./data`` | the lakehouse; Superset reads ``marts.duckdb`` in it, read-only |
| ``BEACON_SUPERSET_CACHE`` | ``~/.cache/beacon/superset`` | venv and playwright-core |
| ``BEACON_SUPERSET_HOME`` | ``<cache>/home-<hash>`` | this instance's config, key, metadata, pid, log |
| ``BEACON_SUPERSET_HOST`` | ``127.0.0.1`` | bind address (loopback only by default) |
| ``BEACON_SUPERSET_PORT`` | ``8088`` | port |
| ``BEACON_SUPERSET_ADMIN_USER`` | ``admin`` | admin login |
| ``BEACON_SUPERSET_ADMIN_PASSWORD`` | ``admin`` | admin password (local demo default: set your own) |
| ``BEACON_SUPERSET_ADMIN_EMAIL`` | ``admin@beacon.local`` | admin e-mail |
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config import paths

#: The database name Beacon's datasets hang off in Superset.
DATABASE_NAME = "Beacon marts"


def default_cache_dir() -> Path:
    """``$BEACON_SUPERSET_CACHE``, else the user's cache directory (never inside the repository)."""
    if os.environ.get("BEACON_SUPERSET_CACHE"):
        return Path(os.environ["BEACON_SUPERSET_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "beacon" / "superset"


@dataclass(frozen=True)
class BISettings:
    """Everything the setup needs; build it with :func:`load_settings`."""

    marts: Path
    cache_dir: Path
    home: Path
    host: str
    port: int
    admin_user: str
    admin_password: str
    admin_email: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / "superset_config.py"

    @property
    def secret_key_file(self) -> Path:
        return self.home / "secret_key"

    @property
    def metadata_db(self) -> Path:
        return self.home / "superset.db"

    @property
    def pid_file(self) -> Path:
        return self.home / "superset.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "superset.log"

    @property
    def sqlalchemy_uri(self) -> str:
        """duckdb-engine URI of the published file (read-only is set in the connection's ``extra``)."""
        return f"duckdb:///{self.marts}"


def load_settings(data_dir: Path | None = None) -> BISettings:
    """Settings from the environment (see the module docstring for variables and defaults)."""
    marts = paths(data_dir).marts.resolve()
    cache = default_cache_dir().resolve()
    digest = hashlib.sha256(str(marts).encode()).hexdigest()[:12]
    home = Path(os.environ.get("BEACON_SUPERSET_HOME") or cache / f"home-{digest}").expanduser().resolve()
    return BISettings(
        marts=marts,
        cache_dir=cache,
        home=home,
        host=os.environ.get("BEACON_SUPERSET_HOST", "127.0.0.1"),
        port=int(os.environ.get("BEACON_SUPERSET_PORT", "8088")),
        admin_user=os.environ.get("BEACON_SUPERSET_ADMIN_USER", "admin"),
        admin_password=os.environ.get("BEACON_SUPERSET_ADMIN_PASSWORD", "admin"),
        admin_email=os.environ.get("BEACON_SUPERSET_ADMIN_EMAIL", "admin@beacon.local"),
    )
