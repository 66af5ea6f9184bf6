"""How the Spark engine groups staged outputs for writing (engines.spark.spread_by_day)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from climate_glue.engines.spark import spread_by_day
from pyspark.sql import functions as F

pytestmark = pytest.mark.spark


def _tasks_per_day(frame) -> dict[date, int]:
    rows = (
        frame.withColumn("task", F.spark_partition_id())
        .groupBy("date")
        .agg(F.countDistinct("task").alias("tasks"))
        .collect()
    )
    return {r["date"]: r["tasks"] for r in rows}


def test_one_big_day_is_split_over_the_cores_and_many_days_go_one_task_each(spark) -> None:
    cores = spark.sparkContext.defaultParallelism
    assert cores >= 2  # the fixture's local[2]
    one_day = spark.createDataFrame(
        [(i, date(2024, 7, 1)) for i in range(200)], "id int, date date"
    )
    spread = spread_by_day(one_day, ("date",), 1)
    assert _tasks_per_day(spread) == {date(2024, 7, 1): cores}
    assert sorted(r["id"] for r in spread.collect()) == list(range(200))  # no row lost or doubled

    days = [date(2024, 7, 1) + timedelta(days=d) for d in range(cores * 3)]
    many = spark.createDataFrame([(i, day) for day in days for i in range(20)], "id int, date date")
    assert set(_tasks_per_day(spread_by_day(many, ("date",), len(days))).values()) == {1}
