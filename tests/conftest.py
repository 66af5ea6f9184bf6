"""Shared fixtures: the DuckDB engine the logic tests run on, and the local Spark session."""

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


@pytest.fixture(scope="module")
def start_dev():
    """Starts ``climate-assets dev`` (webserver + daemon) for a test module and stops it after.

    ``start_dev(state, scratch, log, env)`` returns the running ``tests.dev_support.Dev`` once
    its code location has loaded; everything it started is stopped when the module is done.
    """
    from tests.dev_support import Dev, free_port, start, stop

    started = []

    def _start(state, scratch, log, env: dict[str, str]) -> Dev:
        dev = Dev(state, scratch, free_port(), log)
        started.append(dev)
        start(dev, env)
        return dev

    try:
        yield _start
    finally:
        for dev in started:
            stop(dev)
