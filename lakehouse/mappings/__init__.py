"""Declarative source mappings: bring your own export, land it under a Beacon contract.

A mapping is a small YAML file (schema in ``lakehouse/mappings/README.md``) that says how the
columns of a user's CSV or JSON-lines export become the fields of a contract (clickstream or
sensors): renames, casts, timestamp format and timezone, value maps, constants, skip rules,
wide-to-long melting for sensor logs, derived values and deterministic ids. Mappings are data,
never code: conditions are structured (``{column: InvoiceNo, starts_with: C}``).

    m = shipped_mapping("uci_online_retail")
    for chunk in m.read(path):
        validate_frame(CONTRACTS[m.contract], chunk.records)
"""

from lakehouse.mappings.errors import MappingError
from lakehouse.mappings.mapping import (
    MappedChunk,
    SourceMapping,
    load_mapping,
    shipped_mapping,
    shipped_names,
)

__all__ = ["MappedChunk", "MappingError", "SourceMapping", "load_mapping", "shipped_mapping", "shipped_names"]
