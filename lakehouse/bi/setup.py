"""``python -m lakehouse.bi.setup``: Superset over the published marts, in one idempotent command.

Commands (default ``up``):

* ``up`` - install the Superset venv if missing, write the config (secret key generated once),
  initialise offline if not done, start the server on ``BEACON_SUPERSET_HOST:PORT`` unless it
  runs, connect the read-only database, import/refresh every dashboard and print URL and login;
* ``install`` - only the venv (and ``--browser``: playwright-core for screenshots);
* ``import`` - rebuild the dashboards on the running server;
* ``stop`` - kill the server by its pid file; ``status`` - say whether it runs;
* ``screenshot --out DIR`` - one PNG per dashboard from headless Chromium; exit 1 if a chart shows an error.

Settings come from environment variables (:mod:`lakehouse.bi.settings`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lakehouse.bi import builder, install, server
from lakehouse.bi.rest import SupersetClient
from lakehouse.bi.settings import BISettings, load_settings
from lakehouse.bi.specs import check_published, load_specs


def _require_marts(settings: BISettings) -> None:
    if not settings.marts.is_file():
        raise SystemExit(f"{settings.marts} does not exist: run `make demo` (or a pipeline run) first")


def import_dashboards(settings: BISettings) -> list[builder.BuiltDashboard]:
    """Check the specs against the published file, then create/update everything over REST."""
    specs = load_specs()
    check_published(specs, settings.marts)
    client = SupersetClient(settings.url, settings.admin_user, settings.admin_password)
    return builder.build_all(client, settings, specs)


def up(settings: BISettings) -> list[builder.BuiltDashboard]:
    """Everything ``make bi`` does; safe to re-run."""
    _require_marts(settings)
    t0 = time.monotonic()
    venv = install.ensure_superset_venv(settings.cache_dir)
    print(f"[bi] Superset venv {venv} ({time.monotonic() - t0:.0f} s)", flush=True)
    if server.write_config(settings) and server.stop(settings):
        print("[bi] configuration changed: restarting Superset", flush=True)
    t1 = time.monotonic()
    if server.initialise(settings, venv):
        print(f"[bi] initialised {settings.home} ({time.monotonic() - t1:.0f} s)", flush=True)
    pid = server.start(settings, venv)
    print(f"[bi] Superset running, pid {pid} (log {settings.log_file})", flush=True)
    built = import_dashboards(settings)
    print(f"[bi] {len(built)} dashboards imported in {time.monotonic() - t0:.0f} s in all:")
    for b in built:
        print(f"  {b.url}  ({len(b.chart_ids)} charts)")
    print(
        f"\n  Superset  {settings.url}/  login {settings.admin_user} / "
        f"{'(BEACON_SUPERSET_ADMIN_PASSWORD)' if settings.admin_password != 'admin' else 'admin'}"
    )
    print(f"  reads     {settings.marts} (read-only)")
    print("  stop      python -m lakehouse.bi.setup stop")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lakehouse.bi.setup", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("up", help="install, init, start, import dashboards (default)")
    inst = sub.add_parser("install", help="install the Superset venv only")
    inst.add_argument("--browser", action="store_true", help="also install playwright-core for screenshots")
    sub.add_parser("import", help="import/refresh the dashboards on the running server")
    sub.add_parser("stop", help="stop the server (by pid file)")
    sub.add_parser("status", help="is the server running")
    shot = sub.add_parser("screenshot", help="PNG of every dashboard from headless Chromium")
    shot.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = load_settings()
    command = args.command or "up"

    if command == "up":
        up(settings)
    elif command == "install":
        print(install.ensure_superset_venv(settings.cache_dir))
        if args.browser:
            print(install.ensure_playwright_core(settings.cache_dir))
    elif command == "import":
        _require_marts(settings)
        for b in import_dashboards(settings):
            print(b.url)
    elif command == "stop":
        print("stopped" if server.stop(settings) else "not running")
    elif command == "status":
        pid = server.read_pid(settings)
        running = pid is not None and server.healthy(settings)
        print(f"running, pid {pid}, {settings.url}" if running else "not running")
        return 0 if running else 3
    elif command == "screenshot":
        from lakehouse.bi.screenshot import screenshot_dashboards

        run = screenshot_dashboards(settings, load_specs(), args.out)
        for s in run.shots:
            print(f"{s.file}  {s.charts_rendered} charts  {'OK' if not s.errors else 'ERRORS'}")
        for e in run.errors:
            print(f"  ERROR {e}", file=sys.stderr)
        return 1 if run.errors else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
