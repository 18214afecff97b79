"""Fixtures of the near-real-time tests (helpers live in ``realtime_helpers``: a unique module name)."""

from realtime_helpers import mosquitto, servers

__all__ = ["mosquitto", "servers"]
