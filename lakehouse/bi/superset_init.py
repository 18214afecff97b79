"""Run by the SUPERSET venv's interpreter (never imported by the pipeline): offline initialisation.

Runs ``superset db upgrade``, ``superset fab create-admin`` and ``superset init`` (Superset's own CLI
commands) in ONE interpreter: importing Superset costs 15-50 s, so three separate ``superset``
processes would pay it three times. The admin comes from the environment
(``BEACON_SUPERSET_ADMIN_USER`` / ``_PASSWORD`` / ``_EMAIL``) so the password never appears in a
process's command line.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> int:
    from superset.cli.main import superset

    admin = [
        "fab", "create-admin",
        "--username", os.environ["BEACON_SUPERSET_ADMIN_USER"],
        "--firstname", "Beacon", "--lastname", "Admin",
        "--email", os.environ["BEACON_SUPERSET_ADMIN_EMAIL"],
        "--password", os.environ["BEACON_SUPERSET_ADMIN_PASSWORD"],
    ]  # fmt: skip
    for args in (["db", "upgrade"], admin, ["init"]):
        started = time.monotonic()
        try:
            superset.main(args=args, prog_name="superset", standalone_mode=False)
        except SystemExit as exc:  # click's exit inside a command
            if exc.code not in (None, 0):
                print(f"[beacon] superset {' '.join(args[:2])} failed: exit {exc.code}", flush=True)
                return int(exc.code) if isinstance(exc.code, int) else 1
        print(f"[beacon] superset {' '.join(args[:2])}: {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
