"""The embedded Glue: job scripts in-process (DuckDB, or local PySpark with one Spark session
per Dagster run)."""
