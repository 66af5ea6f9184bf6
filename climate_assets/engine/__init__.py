"""The local engine: Glue job scripts on local PySpark, one Spark session per Dagster run."""
