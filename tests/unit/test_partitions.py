"""Ranges of daily partitions (climate_assets.partitions): days, stretches, run tags."""

from __future__ import annotations

from datetime import date

import dagster as dg

from climate_assets.partitions import (
    daily_partitions,
    days_of,
    range_tags,
    range_text,
    run_range,
    stretches,
)


def test_days_of_a_range_include_both_ends_in_the_type_given():
    assert days_of(date(2024, 2, 28), date(2024, 3, 1)) == [
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
    assert days_of("2024-12-31", "2025-01-01") == ["2024-12-31", "2025-01-01"]
    assert days_of("2024-07-02", "2024-07-01") == []


def test_days_of_agree_with_the_partitions_definition():
    daily = daily_partitions("2024-01-01")
    keys = daily.get_partition_keys_in_range(dg.PartitionKeyRange("2024-02-27", "2024-03-02"))
    assert days_of("2024-02-27", "2024-03-02") == keys


def test_stretches_group_consecutive_days_sorted_without_repeats():
    days = ["2024-07-04", "2024-07-01", "2024-07-02", "2024-07-02", "2024-07-31", "2024-08-01"]
    assert stretches(days) == [
        ("2024-07-01", "2024-07-02"),
        ("2024-07-04", "2024-07-04"),
        ("2024-07-31", "2024-08-01"),
    ]
    assert stretches([date(2024, 7, 3), date(2024, 7, 1)]) == [
        (date(2024, 7, 1), date(2024, 7, 1)),
        (date(2024, 7, 3), date(2024, 7, 3)),
    ]
    assert stretches([]) == []


def test_a_runs_range_is_read_back_from_the_tags_it_was_given():
    tags = range_tags(date(2024, 7, 1), "2024-07-03")
    assert run_range(tags) == dg.PartitionKeyRange("2024-07-01", "2024-07-03")
    assert range_text("2024-07-01", "2024-07-03") == "2024-07-01..2024-07-03"
    assert range_text("2024-07-01", "2024-07-01") == "2024-07-01"


def test_a_run_of_one_partition_is_a_range_of_one_day_and_no_partition_none():
    assert run_range({"dagster/partition": "2024-07-05"}) == dg.PartitionKeyRange(
        "2024-07-05", "2024-07-05"
    )
    assert run_range({"other": "tag"}) is None
