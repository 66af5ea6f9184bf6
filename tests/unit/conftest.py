"""The engines the unit tests run the job library on: DuckDB (the embedded default) and the
local Spark session (as on Glue)."""

from __future__ import annotations

import pytest
from climate_glue.engines import open_engine

from climate_assets.local_glue.spark import local_spark_session


@pytest.fixture
def engine():
    """A fresh DuckDB engine (an in-memory database) per test, closed after it."""
    duck = open_engine("duckdb")
    try:
        yield duck
    finally:
        duck.close()


@pytest.fixture
def spark():
    """The running local session, or a new one.

    Not held across tests: a Dagster run in the end-to-end tests stops its session when the
    run ends, exactly as it does in the product, and the next test simply starts another.
    """
    return local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
