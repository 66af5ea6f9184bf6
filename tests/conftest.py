"""Shared fixtures: one local Spark session for the whole test session."""

from __future__ import annotations

import pytest

from climate_assets.engine.spark import local_spark_session


@pytest.fixture(scope="session")
def spark():
    session = local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
    yield session
