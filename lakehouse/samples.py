"""Where the real public data samples live (``shared/data``: UCI Online Retail and Appliances
Energy, see its README). They are never copied into the repository, so they are looked up:

1. ``$BEACON_SAMPLE_DATA`` when set;
2. ``shared/data`` beside the project (``../shared/data``, the usual checkout layout);
3. ``shared/data`` beside the repository this clone was made from, when its ``origin`` is a local
   path (a throw-away clone in a temporary folder still finds the samples of its source).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lakehouse.config import PROJECT_ROOT


def _origin_dir(root: Path) -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = url.removeprefix("file://")
    return Path(url).resolve() if url.startswith("/") else None


def sample_data_dir(root: Path = PROJECT_ROOT) -> Path | None:
    """The ``shared/data`` folder, or None when it cannot be found."""
    candidates = []
    if os.environ.get("BEACON_SAMPLE_DATA"):
        candidates.append(Path(os.environ["BEACON_SAMPLE_DATA"]))
    candidates.append(root.parent / "shared" / "data")
    origin = _origin_dir(root)
    if origin is not None:
        candidates.append(origin.parent / "shared" / "data")
    return next((c for c in candidates if c.is_dir()), None)
