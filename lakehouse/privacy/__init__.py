"""Privacy by design: erasure, consent, retention and differentially private public metrics.

Modules: :mod:`~lakehouse.privacy.erase` (right to erasure), :mod:`~lakehouse.privacy.consent`
(the consent table landing applies), :mod:`~lakehouse.privacy.retention` (per-table retention),
:mod:`~lakehouse.privacy.dp_metrics` and :mod:`~lakehouse.privacy.budget` (DP public metrics and
their epsilon ledger), :mod:`~lakehouse.privacy.scan` (find identifiers left in files).
Imported lazily by the CLI and the Dagster assets, so nothing heavy loads here.
"""
