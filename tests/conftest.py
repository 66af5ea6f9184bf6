"""Shared fixtures: the local Spark session the unit tests run their transforms on."""

from __future__ import annotations

import pytest

from climate_assets.engine.spark import local_spark_session


@pytest.fixture
def spark():
    """The running local session, or a new one.

    Not held across tests: a Dagster run in the end-to-end tests stops its session when the
    run ends, exactly as it does in the product, and the next test simply starts another.
    """
    return local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
