"""The engines that run the job scripts: DuckDB (the embedded default) and Spark (AWS Glue).

``open_engine(name)`` is the one place a job turns its ``--engine`` argument into an engine.
The Spark engine is imported only when asked for, so a DuckDB job starts no JVM and does not
even import pyspark.
"""

from __future__ import annotations

from .base import DEFAULT_ENGINE, ENGINES, Engine, Frame


def open_engine(name: str = DEFAULT_ENGINE, **options) -> Engine:
    if name == "duckdb":
        from .duck import DuckDBEngine

        return DuckDBEngine(**options)
    if name == "spark":
        from .spark import SparkEngine

        return SparkEngine(**options)
    raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "Frame", "open_engine"]
