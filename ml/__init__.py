"""Beacon's models: recommender, churn, segmentation and A/B readouts, tracked in MLflow.

Each family is a small module that works on plain polars frames (so it runs on any data, not
only Beacon's marts); :mod:`ml.tracking` logs, registers and promotes them; :mod:`ml.scoring`
writes what BI reads. Dagster wiring lives in ``orchestration/assets/ml.py``.
"""
