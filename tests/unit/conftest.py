"""The engine the unit tests run the job library on: DuckDB, the embedded default (the local
Spark session, as on Glue, is the ``spark`` fixture of tests/conftest.py)."""

from __future__ import annotations

import pytest
from climate_glue.engines import open_engine


@pytest.fixture
def engine():
    """A fresh DuckDB engine (an in-memory database) per test, closed after it."""
    duck = open_engine("duckdb")
    try:
        yield duck
    finally:
        duck.close()
