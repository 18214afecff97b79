"""The Spark engine: session, bronze views, dbt on Spark and the export of its tables to Delta.

Imported only when ``BEACON_ENGINE=spark`` (or by the Spark tests): pyspark starts a JVM.
"""
