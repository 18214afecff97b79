"""Asset modules, one per layer; each exposes a ``defs`` merged by ``orchestration.definitions``."""
