"""Fixtures every tier may use. Each tier's own are in its folder's ``conftest.py``: the DuckDB
engine of the unit tests (``tests/unit``), moto (``tests/aws``), ``climate-assets dev``
(``tests/e2e``)."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from climate_assets.instance import INSTANCE_SUFFIX
from climate_assets.local_glue.spark import local_spark_session
from tests.support import EXTERNAL_PG_URL

# Put in front of the name of every database the tests make on the external server, where
# several people or checkouts test on one server and want to tell theirs apart.
EXTERNAL_PG_TAG = os.environ.get("CLIMATE_TEST_DATABASE_TAG", "")


def pytest_configure(config):
    """Interrupt signals as in a foreground run, in the test process and in each xdist worker.

    Started in the background by a non-interactive shell (CI, ``cmd &``, ``nohup``), the test
    processes inherit SIGINT ignored. Dagster's interrupt handling, around every run on the main
    thread (``materialize_days``, ``execute_in_process``), maps SIGTERM to SIGINT's handler and
    leaves it so: ignored too (``dagster._utils.interrupts.setup_interrupt_handlers``). Every
    process started after that inherits an ignored SIGTERM, the CLI under test and the
    ``tail -F`` processes of a run's compute-log capture among them; Dagster ends those with
    SIGTERM and waits 30 s for each, so every later run waited 60 s at its end (130 s instead of
    14 s for test_a_full_lake_disk_is_named_in_materialize_and_status) and left both running.
    Python's own SIGINT handler is a handler, not an ignore, so a process started under it
    gets SIGTERM at its default again."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


# The modules that take longest, longest first (`--durations=0` of a whole run, docs/testing.md):
# each runs on one worker, so one started last would leave the other worker idle at the end.
# Only the order depends on this: a module missing here runs among the other slow ones.
LONGEST_FIRST = (
    "tests/e2e/test_ui_backfill.py",
    "tests/e2e/test_operator_errors.py",
    "tests/e2e/test_fuzz_intake.py",
    "tests/e2e/test_daemon_ui.py",
    "tests/e2e/test_bench_seed.py",
)


def pytest_collection_modifyitems(items):
    """The order in which the suite's workers take its modules (pytest-xdist: ``-n 2 --dist
    loadfile --no-loadscope-reorder`` in pyproject.toml). A module's tests run on one worker, in
    order, so its module-scoped fixtures (a ``dev``, a demo, a whole-graph run, a moto server) are
    made once. The longest modules (``LONGEST_FIRST``) are handed out first, then the other
    modules with a slow (``e2e``) test, then the rest, in collection order: while one worker runs
    the last long module, the other takes the many short ones instead of waiting for it. The
    same order serially (``-n 0``)."""
    slow = {item.path for item in items if item.get_closest_marker("e2e")}
    root = Path(__file__).parent.parent

    def rank(item) -> tuple[int, int]:
        name = item.path.relative_to(root).as_posix()
        if name in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(name))
        return (1 if item.path in slow else 2, 0)

    items.sort(key=rank)  # stable: collection order otherwise


@pytest.fixture(scope="module")
def external_database():
    """New databases on the PostgreSQL server of CLIMATE_TEST_EXTERNAL_PG_URL (as RDS would
    be), for the module: ``external_database(prefix)`` makes ``[<tag>_]<prefix>_<random>`` and
    returns its psycopg connection parameters. When the module is done each is dropped, with the
    Dagster instance database a deployment on it makes beside it (``climate_assets.instance``).
    Skips the test when there is no such server."""
    try:
        admin = psycopg.connect(EXTERNAL_PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no external PostgreSQL at {EXTERNAL_PG_URL}: {exc}")
    made = []

    def make(prefix: str) -> dict:
        name = "_".join(filter(None, [EXTERNAL_PG_TAG, prefix, uuid.uuid4().hex[:10]]))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return {**psycopg.conninfo.conninfo_to_dict(EXTERNAL_PG_URL), "dbname": name}

    with admin:
        try:
            yield make
        finally:
            for name in made:
                for database in (name, name + INSTANCE_SUFFIX):
                    admin.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(database)
                        )
                    )


@pytest.fixture
def spark():
    """The running local session, or a new one.

    Not held across tests: a Dagster run in the end-to-end tests stops its session when the
    run ends, exactly as it does in the product, and the next test simply starts another.
    """
    return local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
