"""The arrival sensor started on a lake that was already processed: nothing runs again.

The processed datasets are materialized for real (local Spark, embedded PostgreSQL) on a tiny
landing zone, as ``climate-assets demo`` would; then the arrival sensor, over each dataset, is evaluated the way
the daemon evaluates it, with no cursor (a first tick) against the instance the run wrote. Each
materialization recorded its ``input_files`` (key -> content tag), so the first tick requests no
run and says how many files were already processed; a file changed afterwards is requested.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from climate_glue.contract import CLIMATE, HEALTH, RAW_DATASETS
from climate_glue.lake import LocalLake

from climate_assets.constants import (
    CLIMATE_DATA,
    DERIVED_ASSETS,
    HEALTH_DATA,
    HOSPITAL_DATA,
    LOCATIONS,
)
from climate_assets.dagster_compat import ASSET_PARTITION_RANGE_START_TAG
from climate_assets.defs.automation.arrival_sensor import arrival_sensor
from climate_assets.partitions import daily_partitions
from climate_assets.resources.lake import LocalLakeResource
from climate_assets.steps.input_files import INPUT_FILES
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days

pytestmark = pytest.mark.e2e

DAILY = daily_partitions("2024-01-01")
DAYS = ("2024-03-01", "2024-03-02")


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Three locations x two days, every processed dataset materialized in one range run."""
    state = tmp_path_factory.mktemp("state")
    generate_landing_zone(state / "lake", locations=3, days=2, start=date(2024, 3, 1), seed=13)
    with dg.instance_for_test() as instance:
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
            result, log = materialize_days(
                state, *DAYS, [LOCATIONS, CLIMATE_DATA, HEALTH_DATA, HOSPITAL_DATA], instance
            )
        assert result.success, log[-3000:]
        yield instance, LocalLake(state / "lake")


def _first_tick(instance, lake: LocalLake, dataset):
    sensor = arrival_sensor(DAILY, 30, [dataset])
    context = dg.build_sensor_context(
        instance=instance, cursor=None, resources={"lake": LocalLakeResource(root=lake.root)}
    )
    return sensor(context)


def test_materializations_record_their_input_files_and_tags(processed):
    instance, lake = processed
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CLIMATE_DATA, asset_partitions=[DAYS[0]]), limit=1
    ).records
    files = record.asset_materialization.metadata[INPUT_FILES].value
    key = f"raw/climate/date={DAYS[0]}/climate.csv"
    assert files[key] == lake.content_tag(key)
    # Each day of the range records its own files only.
    assert set(files) == {o.key for o in lake.list_objects(f"raw/climate/date={DAYS[0]}/")}


@pytest.mark.parametrize("dataset", list(RAW_DATASETS.values()), ids=list(RAW_DATASETS))
def test_first_tick_on_a_processed_lake_requests_no_run(processed, dataset):
    instance, lake = processed
    result = _first_tick(instance, lake, dataset)
    assert result.run_requests == []
    files = len(lake.list_keys(f"raw/{dataset.name}/"))
    assert files > 0
    message = result.skip_reason.skip_message
    assert message.startswith(f"first tick: {files} file(s) already processed"), message


def test_a_file_changed_since_its_materialization_is_requested(processed):
    instance, lake = processed
    key = f"raw/health/date={DAYS[1]}/health.csv"
    original = lake.read_bytes(key)
    try:
        lake.write_bytes(key, original + original.splitlines(keepends=True)[1])
        result = _first_tick(instance, lake, HEALTH)
    finally:
        lake.write_bytes(key, original)
    [request] = result.run_requests
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == DAYS[1]
    # Every other input of that day is materialized: the run recomputes its metrics too.
    assert request.asset_selection == [dg.AssetKey(HEALTH.asset), *DERIVED_ASSETS]
    # Unchanged: the other dataset's first tick still requests nothing.
    assert _first_tick(instance, lake, CLIMATE).run_requests == []
