"""A range run's records: written in batches, and still one per day with that day's metadata.

A range of days is one job per asset, and Dagster records one planned materialization and one
materialization per day of it. Loading the project's instance makes the process write those in
batches (``climate_assets.instance``), and its event log stores a batch of planned events in
one statement (``climate_assets.dagster_compat.PlannedBatchEventLogStorage``). These tests run
ranges for real on the project's instance (``ProjectPostgresStorage`` on a PostgreSQL server,
as a deployment on RDS keeps it) and read what was stored: every day's materialization with its
own metadata, each kind of record written in one PostgreSQL transaction (rows inserted by one
statement share their ``xmin``), and a failed range still marking exactly its days failed.
"""

from __future__ import annotations

import os
from datetime import date

import dagster as dg
import psycopg
import pytest
from climate_glue.lake import LocalLake

from climate_assets.constants import CLIMATE_DATA, LOCATIONS
from climate_assets.instance import (
    EVENT_BATCH,
    EVENT_BATCH_SIZE,
    INSTANCE_SUFFIX,
    instance_environment,
)
from climate_assets.partitions import daily_partitions
from climate_assets.settings import Settings
from climate_assets.steps.input_files import INPUT_FILES
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days

DAYS = ("2024-03-01", "2024-03-02", "2024-03-03")
NOT_LANDED = ("2024-03-04", "2024-03-05")  # no raw files: the job fails on them


@pytest.fixture(scope="module")
def deployment(external_database, tmp_path_factory):
    """The project's instance (database ``<warehouse>_dagster``) after a range run of three
    days of ``climate_data`` and a failed run of two more; its connection parameters."""
    params = external_database("records")
    state = tmp_path_factory.mktemp("state")
    generate_landing_zone(state / "lake", locations=3, days=3, start=date(2024, 3, 1), seed=5)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in instance_environment().items():
            mp.setenv(name, value)
        mp.setenv("CLIMATE_STATE_DIR", str(state))
        mp.setenv("CLIMATE_WAREHOUSE_URL", psycopg.conninfo.make_conninfo(**params))
        mp.setenv(EVENT_BATCH_SIZE, "")  # restored as it was (unset) when the module ends
        mp.delenv(EVENT_BATCH_SIZE)
        with dg.DagsterInstance.get() as instance:
            # Loading the instance set it in this process, which runs the steps (in-process).
            assert os.environ.get(EVENT_BATCH_SIZE) == str(EVENT_BATCH)
            ok, log = materialize_days(
                state, DAYS[0], DAYS[-1], [LOCATIONS, CLIMATE_DATA], instance
            )
            assert ok.success, log[-3000:]
            failed, _ = materialize_days(
                state, NOT_LANDED[0], NOT_LANDED[-1], [CLIMATE_DATA], instance
            )
            assert not failed.success
            yield (
                instance,
                LocalLake(state / "lake"),
                ok.run_id,
                failed.run_id,
                {
                    **params,
                    "dbname": params["dbname"] + INSTANCE_SUFFIX,
                },
            )


def _transactions(params: dict, run_id: str, asset: dg.AssetKey) -> dict[str, tuple[int, int]]:
    """Event type -> (records, PostgreSQL transactions that wrote them) of one asset in a run."""
    with psycopg.connect(**params) as conn:
        rows = conn.execute(
            "SELECT dagster_event_type, count(*), count(DISTINCT xmin::text) FROM event_logs"
            " WHERE run_id = %s AND asset_key = %s GROUP BY 1",
            (run_id, asset.to_string()),
        ).fetchall()
    return {kind: (count, transactions) for kind, count, transactions in rows}


def test_each_day_is_materialized_with_its_own_metadata(deployment):
    instance, lake, run_id, _, _ = deployment
    records = instance.fetch_materializations(CLIMATE_DATA, limit=10).records
    mine = {
        r.partition_key: r.asset_materialization.metadata for r in records if r.run_id == run_id
    }
    assert sorted(mine) == list(DAYS)
    for day, metadata in mine.items():
        assert metadata["rows_per_day"].value == 3.0  # the range's, on every day
        assert metadata["partition_start"].value == DAYS[0]
        landed = {o.key for o in lake.list_objects(f"raw/climate/date={day}/")}
        assert set(metadata[INPUT_FILES].value) == landed  # the day's own files only


def test_a_range_is_recorded_in_one_transaction_per_kind(deployment):
    _, _, run_id, _, params = deployment
    written = _transactions(params, run_id, CLIMATE_DATA)
    # Three days: three records of each kind, each kind written by one statement.
    assert written["ASSET_MATERIALIZATION_PLANNED"] == (3, 1)
    assert written["ASSET_MATERIALIZATION"] == (3, 1)


def test_a_failed_range_marks_exactly_its_days_failed(deployment):
    instance, _, _, failed_run, params = deployment
    partitions = daily_partitions(Settings.from_env().partitions_start)  # the assets' days
    status = instance.get_status_by_partition(CLIMATE_DATA, [*DAYS, *NOT_LANDED], partitions)
    assert {day: status[day] for day in DAYS} == dict.fromkeys(
        DAYS, dg.AssetPartitionStatus.MATERIALIZED
    )
    assert {day: status[day] for day in NOT_LANDED} == dict.fromkeys(
        NOT_LANDED, dg.AssetPartitionStatus.FAILED
    )
    # Its planned events were written in one batch too.
    assert _transactions(params, failed_run, CLIMATE_DATA)["ASSET_MATERIALIZATION_PLANNED"] == (
        2,
        1,
    )
