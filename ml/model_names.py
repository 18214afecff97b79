"""Names of the registered MLflow models, importable without MLflow or the model libraries.

The scoring assets look champions up by these names; keeping them here (not only in
:mod:`ml.training`) lets the Dagster asset module name them without importing the trainers.
"""

RECOMMENDER_MODEL = "beacon_recommender"
CHURN_MODEL = "beacon_churn"
SEGMENT_MODEL = "beacon_segments"
