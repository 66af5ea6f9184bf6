"""A job's COPY streams into PostgreSQL are bounded, over all its loads at once.

On Glue the Spark engine COPYs from its tasks; with 200 DPUs that could be hundreds of
connections to RDS. Here a local Spark session with 4 task slots loads three frames of 16
partitions each at once (as the derived-metrics job loads its three tables) with a bound of 2,
while a thread samples ``pg_stat_activity`` for the job's COPY connections (``application_name``
``climate-copy:<run id>``): PostgreSQL must never see more than 2, and every row must arrive.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from climate_glue.copy_streams import COPY_STREAMS_CAP, CopySlots, default_copy_streams
from climate_glue.engines.spark import SparkEngine
from climate_glue.runtime import parse_args, run_concurrently
from climate_glue.warehouse import stage_load
from psycopg import sql

from climate_assets.local_glue.spark import local_spark_session
from climate_assets.settings import ENV_COPY_STREAMS, Settings
from tests.support import ConnectionSampler

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.external_postgres]

TASK_SLOTS = 4
PARTITIONS = 16
ROWS = 240_000
BOUND = 2
TYPES = {"id": "long", "name": "string", "value": "double"}


@pytest.fixture(scope="module")
def database(external_database):
    dsn = psycopg.conninfo.make_conninfo(**external_database("climate_copy_streams"))
    with psycopg.connect(dsn, autocommit=True) as conn:  # as the processed jobs leave it
        conn.execute("CREATE SCHEMA climate_health")
    return dsn


@pytest.fixture(scope="module")
def spark_slots():
    """A local session with more task slots than the bound (a running one with fewer is
    stopped first), so that an unbounded load would open more connections than the bound."""
    session = local_spark_session(master=f"local[{TASK_SLOTS}]", driver_memory="1g")
    if session.sparkContext.defaultParallelism < TASK_SLOTS:
        session.stop()
        session = local_spark_session(master=f"local[{TASK_SLOTS}]", driver_memory="1g")
    yield session
    session.stop()


def test_a_job_never_has_more_copy_streams_open_than_its_bound(spark_slots, database):
    engine = SparkEngine(spark_slots)
    engine.copy_slots = CopySlots(BOUND)
    run_id = f"copytest{uuid.uuid4().hex[:8]}"
    frame = engine.register(
        spark_slots.range(0, ROWS, numPartitions=PARTITIONS).selectExpr(
            "id", "repeat(concat('row-', id), 8) AS name", "id / 7.0 AS value"
        )
    )
    tables = ["copy_a", "copy_b", "copy_c"]
    sampler = ConnectionSampler(database, run_id)
    sampler.start()
    try:
        staged = run_concurrently(
            [
                lambda t=t: stage_load(engine, frame, database, t, TYPES, ("id",), run_id)
                for t in tables
            ],
            workers=len(tables),
        )
    finally:
        sampler.stop()
    assert sampler.samples > 10
    assert 1 <= sampler.most <= BOUND, f"PostgreSQL saw {sampler.most} COPY connections at once"
    with psycopg.connect(database) as conn:
        for table in staged:
            assert table.rows == ROWS
            count, distinct, low, high = conn.execute(
                sql.SQL("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {}.{}").format(
                    sql.Identifier("climate_health"), sql.Identifier(table.stage_name)
                )
            ).fetchone()
            assert (count, distinct, low, high) == (ROWS, ROWS, 0, ROWS - 1), table.name
    for table in staged:
        table.discard()


def test_loads_of_few_partitions_run_side_by_side_within_the_bound(spark_slots, database):
    """A load takes only the slots its partitions use: three one-partition loads under a bound
    of 16 are open at once (a load that took every slot made the others wait for it)."""
    engine = SparkEngine(spark_slots)
    engine.copy_slots = CopySlots(COPY_STREAMS_CAP)
    run_id = f"copytest{uuid.uuid4().hex[:8]}"
    frame = engine.register(
        spark_slots.range(0, ROWS, numPartitions=1).selectExpr(
            "id", "repeat(concat('row-', id), 8) AS name", "id / 7.0 AS value"
        )
    )
    tables = ["side_a", "side_b", "side_c"]
    sampler = ConnectionSampler(database, run_id)
    sampler.start()
    try:
        staged = run_concurrently(
            [
                lambda t=t: stage_load(engine, frame, database, t, TYPES, ("id",), run_id)
                for t in tables
            ],
            workers=len(tables),
        )
    finally:
        sampler.stop()
    assert 2 <= sampler.most <= len(tables), f"{sampler.most} COPY connection(s) at most at once"
    assert [table.rows for table in staged] == [ROWS] * len(tables)
    for table in staged:
        table.discard()


def test_the_default_bound_is_a_share_of_the_free_connections(database):
    with psycopg.connect(database) as conn:
        limit = int(conn.execute("SHOW max_connections").fetchone()[0])
        before = default_copy_streams(conn)
        held = [psycopg.connect(database) for _ in range(8)]
        try:
            during = default_copy_streams(conn)
        finally:
            for other in held:
                other.close()
    assert 1 <= during <= before <= COPY_STREAMS_CAP
    if before < COPY_STREAMS_CAP:  # 8 more connections in use: 2 fewer streams
        assert during <= before - 1
    assert before <= max(1, limit // 4)


def test_the_bound_is_a_setting_passed_to_the_job(monkeypatch):
    monkeypatch.setenv(ENV_COPY_STREAMS, "3")
    assert Settings.from_env().copy_streams == 3
    argv = ["--lake-root", "/l", "--run-id", "r", "--warehouse", "env:X"]
    assert parse_args([*argv, "--copy-streams", "3"]).copy_streams == 3
    assert parse_args(argv).copy_streams is None
    monkeypatch.setenv(ENV_COPY_STREAMS, "0")
    with pytest.raises(ValueError, match=f"{ENV_COPY_STREAMS}='0'"):
        Settings.from_env()
