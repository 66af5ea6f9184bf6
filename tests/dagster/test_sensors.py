"""The arrival sensor on a LocalLake in a temp folder, evaluated the way the daemon evaluates it."""

from __future__ import annotations

import json
import os

import dagster as dg
import pytest
from climate_glue.contract import CLIMATE, HEALTH, HOSPITAL, LOCATIONS
from climate_glue.lake import LocalLake
from climate_glue.quarantine import REASON_SUFFIX

from climate_assets.constants import DERIVED_ASSETS
from climate_assets.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from climate_assets.defs.automation.arrival_sensor import (
    ARRIVAL_SENSOR,
    DATASETS_TAG,
    arrival_sensor,
    load_cursor,
    load_sensor_cursor,
    scan_landing,
)
from climate_assets.partitions import daily_partitions
from climate_assets.resources.lake import LocalLakeResource

HEADER = "location_id,date,temp_max_c,temp_min_c,precipitation_mm\n"
DAILY = daily_partitions("2024-01-01")


@pytest.fixture
def lake(tmp_path):
    return LocalLake(tmp_path / "lake")


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def drop(lake: LocalLake, key: str, text: str, mtime: float | None = None) -> None:
    lake.write_text(key, text)
    if mtime is not None:
        os.utime(lake.path(key), (mtime, mtime))


def climate(day: str, rows: str = "L1,{day},30,20,0\n", name: str = "climate.csv") -> tuple:
    return f"raw/climate/date={day}/{name}", HEADER + rows.format(day=day)


def tick(sensor, lake: LocalLake, instance, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"lake": LocalLakeResource(root=lake.root)}
    )
    result = sensor(context)
    return result, result.cursor


def ranges(result) -> list[tuple[str, str]]:
    return [
        (r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG])
        for r in result.run_requests
    ]


@pytest.fixture
def climate_sensor():
    return arrival_sensor(DAILY, 30, [CLIMATE])


def test_one_sensor_over_the_landing_zone_running_by_default():
    sensor = arrival_sensor(DAILY, 15)
    assert sensor.name == ARRIVAL_SENSOR
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 15


def _day(lake: LocalLake, day: str, *datasets) -> None:
    """A day's file of each of ``datasets`` (headers only: the sensor does not parse them)."""
    for dataset in datasets:
        drop(lake, f"raw/{dataset.name}/date={day}/{dataset.name}.csv", HEADER)


def _assets(request) -> set[str]:
    return {key.to_user_string() for key in request.asset_selection}


def test_a_day_dropped_whole_is_one_run_with_its_derived_metrics(lake, instance):
    sensor = arrival_sensor(DAILY, 30)
    instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(LOCATIONS.asset)))
    _day(lake, "2024-07-01", CLIMATE, HEALTH, HOSPITAL)
    _day(lake, "2024-07-02", CLIMATE, HEALTH, HOSPITAL)
    result, cursor = tick(sensor, lake, instance, None)
    [request] = result.run_requests
    derived = {key.to_user_string() for key in DERIVED_ASSETS}
    assert _assets(request) == {"climate_data", "health_data", "hospital_data", *derived}
    assert ranges(result) == [("2024-07-01", "2024-07-02")]
    assert request.tags[DATASETS_TAG] == "climate+health+hospital"
    assert set(load_sensor_cursor(cursor)) == {"locations", "climate", "health", "hospital"}


def test_derived_metrics_only_when_every_input_of_the_days_will_be_there(lake, instance):
    sensor = arrival_sensor(DAILY, 30)
    # No locations materialized yet: the day's run processes its data, no derived metrics.
    _day(lake, "2024-07-01", CLIMATE, HEALTH, HOSPITAL)
    result, cursor = tick(sensor, lake, instance, None)
    [request] = result.run_requests
    assert _assets(request) == {"climate_data", "health_data", "hospital_data"}

    # Hospital data of a day whose climate and health data are already materialized (and
    # locations): that run computes the day's metrics too.
    instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(LOCATIONS.asset)))
    for dataset in (CLIMATE, HEALTH):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(dg.AssetKey(dataset.asset), partition="2024-07-02")
        )
    _day(lake, "2024-07-02", HOSPITAL)
    # Climate data of a day with no health data yet: processed alone.
    _day(lake, "2024-07-04", CLIMATE)
    result, _ = tick(sensor, lake, instance, cursor)
    by_range = {
        (r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]): r
        for r in result.run_requests
    }
    assert _assets(by_range[("2024-07-02", "2024-07-02")]) == {
        "hospital_data",
        *(key.to_user_string() for key in DERIVED_ASSETS),
    }
    assert _assets(by_range[("2024-07-04", "2024-07-04")]) == {"climate_data"}


def test_new_file_same_again_modified_and_restart(lake, instance, climate_sensor):
    drop(lake, *climate("2024-07-01"))
    first, cursor = tick(climate_sensor, lake, instance, None)
    assert ranges(first) == [("2024-07-01", "2024-07-01")]
    assert first.run_requests[0].asset_selection == [dg.AssetKey(CLIMATE.asset)]

    # The same bytes dropped again (a new modification time): no run.
    drop(lake, *climate("2024-07-01"), mtime=1_000_000)
    again, cursor = tick(climate_sensor, lake, instance, cursor)
    assert again.run_requests == []
    assert "no new or changed files" in again.skip_reason.skip_message

    # Changed content under the same key: a new run with a new run key.
    drop(lake, *climate("2024-07-01", rows="L1,{day},31,20,0\n"))
    changed, cursor = tick(climate_sensor, lake, instance, cursor)
    assert ranges(changed) == [("2024-07-01", "2024-07-01")]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key

    # "Restart": a new sensor object and context from the saved cursor string; a file that
    # landed while it was down is found, nothing seen before is requested again.
    drop(lake, *climate("2024-07-02"))
    restarted = arrival_sensor(DAILY, 30, [CLIMATE])
    after, cursor = tick(restarted, lake, instance, json.loads(json.dumps(cursor)))
    assert ranges(after) == [("2024-07-02", "2024-07-02")]
    quiet, _ = tick(restarted, lake, instance, cursor)
    assert quiet.run_requests == []


def test_one_run_per_contiguous_batch_of_days(lake, instance, climate_sensor):
    for day in ("2024-07-01", "2024-07-02", "2024-07-03", "2024-07-10"):
        drop(lake, *climate(day))
    drop(lake, *climate("2024-07-02", name="late.csv"))
    result, _ = tick(climate_sensor, lake, instance, None)
    assert ranges(result) == [("2024-07-01", "2024-07-03"), ("2024-07-10", "2024-07-10")]
    assert len({r.run_key for r in result.run_requests}) == 2


def test_duplicate_drop_into_another_state_makes_the_same_run_key(tmp_path, instance):
    """run_key depends on (key, content) only, so Dagster never launches a duplicate drop twice."""
    sensor = arrival_sensor(DAILY, 30, [CLIMATE])
    keys = []
    for name in ("a", "b"):
        lake = LocalLake(tmp_path / name)
        drop(lake, *climate("2024-07-01"), mtime=1_000 if name == "a" else 2_000)
        result, _ = tick(sensor, lake, instance, None)
        keys.append(result.run_requests[0].run_key)
    assert keys[0] == keys[1]


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("raw/climate/2024-07-01/climate.csv", "is not date=YYYY-MM-DD"),
        ("raw/climate/date=2024-02-30/climate.csv", "not a calendar date"),
        ("raw/climate/date=2024-07-01/climate.txt", "not a .csv file"),
        ("raw/climate/date=2024-07-01/extra/climate.csv", "nested too deep"),
        ("raw/climate/climate.csv", "not in a date=YYYY-MM-DD folder"),
    ],
)
def test_key_outside_the_layout_is_quarantined_with_its_reason(
    lake, instance, climate_sensor, key, why
):
    drop(lake, key, HEADER)
    result, cursor = tick(climate_sensor, lake, instance, None)
    assert result.run_requests == []
    assert why in result.skip_reason.skip_message and key in result.skip_reason.skip_message
    assert not lake.exists(key)
    record = json.loads(lake.read_bytes(f"quarantine/{key}{REASON_SUFFIX}"))
    assert why in record["reason"] and record["moved_by"] == f"sensor {ARRIVAL_SENSOR}"
    assert lake.read_bytes(f"quarantine/{key}") == HEADER.encode()
    assert load_cursor(load_sensor_cursor(cursor)["climate"]) == {}


def test_files_being_written_and_days_outside_the_partitions_are_left_alone(lake, instance):
    sensor = arrival_sensor(DAILY, 30, [CLIMATE])
    drop(lake, "raw/climate/date=2024-07-01/.climate.csv.partial", HEADER)
    future = "raw/climate/date=2999-01-01/climate.csv"
    drop(lake, future, HEADER)
    result, cursor = tick(sensor, lake, instance, None)
    assert result.run_requests == []
    assert "outside the partitions" in result.skip_reason.skip_message
    assert lake.exists(future) and lake.exists("raw/climate/date=2024-07-01/.climate.csv.partial")
    assert load_cursor(load_sensor_cursor(cursor)["climate"]) == {}


def test_locations_run_is_unpartitioned(lake, instance):
    sensor = arrival_sensor(DAILY, 30, [LOCATIONS])
    drop(lake, "raw/locations/locations.csv", "location_id,name\n")
    drop(lake, "raw/locations/old/locations.csv", "location_id,name\n")
    result, _ = tick(sensor, lake, instance, None)
    [request] = result.run_requests
    assert request.asset_selection == [dg.AssetKey("locations")]
    assert ASSET_PARTITION_RANGE_START_TAG not in request.tags
    assert lake.exists("quarantine/raw/locations/old/locations.csv")


def test_tick_over_ten_thousand_unchanged_keys_reads_no_file(lake, instance, monkeypatch):
    """Bench: ``scan_landing(lake, CLIMATE, cursor)`` is one tick's work, without Dagster."""
    for index in range(10_000):
        day = f"2024-{1 + index // 2000:02d}-{1 + index % 20:02d}"
        drop(lake, f"raw/climate/date={day}/part-{index:05d}.csv", f"{HEADER}L{index},{day}\n")
    first = scan_landing(lake, CLIMATE, None)
    assert first.tags_computed == 10_000
    assert sum(len(b.files) for b in first.batches) == 10_000
    assert len(first.cursor) < 10_000 * 80  # compact: file name, size, time and tag per key

    def no_reads(key):
        raise AssertionError(f"content of {key} read for an unchanged file")

    monkeypatch.setattr(lake, "content_tag", no_reads)
    second = scan_landing(lake, CLIMATE, first.cursor)
    assert (second.batches, second.tags_computed, second.unchanged) == ([], 0, 10_000)
    assert second.cursor == first.cursor
