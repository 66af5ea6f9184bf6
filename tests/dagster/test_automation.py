"""The nightly schedule and the declarative automation of derived metrics and Athena tables,
evaluated on the project's real definitions (no job runs: upstream updates are reported)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from climate_assets.constants import (
    CLIMATE_DATA,
    DERIVED_ASSETS,
    HEALTH_DATA,
    HOSPITAL_DATA,
    LOCATIONS,
    PROCESSED_ASSETS,
    WHOLE_GRAPH_JOB,
    athena_table_key,
)
from climate_assets.definitions import build_definitions
from climate_assets.defs.automation.conditions import AUTOMATION_SENSOR
from climate_assets.defs.automation.schedules import NIGHTLY_SCHEDULE
from climate_assets.resources import athena as athena_resource
from climate_assets.settings import Settings

DAY = "2024-07-01"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    settings = Settings.from_env()
    return Settings(**{**settings.__dict__, "state_dir": state, "lake_root": state / "lake"})


@pytest.fixture(scope="module")
def defs(settings):
    return build_definitions(settings)


def test_nightly_schedule_runs_yesterday_of_the_whole_graph_at_two_utc(defs):
    schedule = defs.resolve_schedule_def(NIGHTLY_SCHEDULE)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == WHOLE_GRAPH_JOB
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # The context as a context manager: it enters the instance, and only its exit lets go of it
    # (left open, Dagster's current definitions-state storage keeps pointing at a dead instance
    # and a later test that resolves a job fails).
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2024, 7, 2, 2, 0, tzinfo=UTC)
        ) as context,
    ):
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == DAY
    job = defs.resolve_job_def(WHOLE_GRAPH_JOB)
    assert set(job.asset_layer.executable_asset_keys) >= {LOCATIONS, athena_table_key(LOCATIONS)}


def _report(instance, defs, key, partition=None, checks_pass=True):
    """A materialization of ``key`` and, as its job reports them, a result for each of its checks."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    for check in defs.resolve_asset_graph().get(key).check_keys:
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=key, check_name=check.name, passed=checks_pass)
        )


def _requested(result) -> dict[dg.AssetKey, set]:
    """What the tick requests per asset (a non-subsettable multi-asset is requested whole)."""
    requested = {}
    for r in result.results:
        if not isinstance(r.key, dg.AssetKey):
            continue
        partitions = result.get_requested_partitions(r.key)
        if partitions:
            requested[r.key] = partitions
    return requested


def _tick(instance, defs, result=None):
    return dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=result.cursor if result else None
    )


def test_derived_metrics_wait_for_the_days_three_inputs(defs):
    sensor = defs.resolve_sensor_def(AUTOMATION_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        # The sensor's first tick sees the graph as it is; updates count from then on.
        result = _tick(instance, defs)
        assert _requested(result) == {}
        _report(instance, defs, LOCATIONS)
        _report(instance, defs, CLIMATE_DATA, DAY)
        _report(instance, defs, HEALTH_DATA, DAY)
        result = _tick(instance, defs, result)
        # Hospital data of the day is missing: no derived metrics yet.
        assert not set(DERIVED_ASSETS) & set(_requested(result))

        # Hospital data arrives, but a blocking check of it fails: still no derived metrics.
        _report(instance, defs, HOSPITAL_DATA, DAY, checks_pass=False)
        result = _tick(instance, defs, result)
        assert not set(DERIVED_ASSETS) & set(_requested(result))

        # Fixed and re-dropped: its checks pass, and the day's derived metrics are requested.
        _report(instance, defs, HOSPITAL_DATA, DAY)
        result = _tick(instance, defs, result)
        requested = _requested(result)
        assert {k: requested[k] for k in DERIVED_ASSETS} == {k: {DAY} for k in DERIVED_ASSETS}

        # Handled: the next tick requests nothing again.
        result = _tick(instance, defs, result)
        assert _requested(result) == {}

        # The nightly refresh of locations recomputes no day's metrics.
        _report(instance, defs, LOCATIONS)
        result = _tick(instance, defs, result)
        assert not set(DERIVED_ASSETS) & set(_requested(result))


def test_athena_tables_run_when_made_or_redefined_not_when_data_is_added(
    settings, defs, monkeypatch
):
    tables = {athena_table_key(k) for k in (LOCATIONS, CLIMATE_DATA)}
    with dg.instance_for_test() as instance:
        result = _tick(instance, defs)
        _report(instance, defs, LOCATIONS)
        _report(instance, defs, CLIMATE_DATA, DAY)
        # Never made, and their datasets have data: made once.
        result = _tick(instance, defs, result)
        assert set(_requested(result)) == tables
        for table in tables:
            instance.report_runless_asset_event(dg.AssetMaterialization(table))

        # A new day of data, a locations refresh: the tables already see them; no run.
        _report(instance, defs, CLIMATE_DATA, "2024-07-02")
        _report(instance, defs, LOCATIONS)
        result = _tick(instance, defs, result)
        assert not set(_requested(result)) & tables

        # The tables' DDL changes (a new code version for every table): each is made again once.
        monkeypatch.setattr(
            athena_resource, "TABLE_DDL_VERSION", athena_resource.TABLE_DDL_VERSION + 1
        )
        redefined = build_definitions(settings)
        result = _tick(instance, redefined, result)
        assert tables <= set(_requested(result))
        result = _tick(instance, redefined, result)
        assert not set(_requested(result)) & tables


def test_processed_assets_have_no_automation_of_their_own(defs):
    graph = defs.resolve_asset_graph()
    assert all(graph.get(k).automation_condition is None for k in PROCESSED_ASSETS)
