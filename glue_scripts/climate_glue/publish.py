"""Writing outputs aside and publishing them (contract section 3).

A job stages every output of its run under ``_staging/<run id>/`` first. Only when all of them
(and the PostgreSQL staging table) are complete does it publish, one partition folder at a time,
each by an atomic swap. A re-run of a partition replaces exactly that partition; a partition
whose new data has no rows becomes an empty folder rather than keeping stale rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .contract import HIVE_PARTITION_COLUMNS, STAGING_PREFIX
from .lake import Lake


def hive_partition(day: date) -> str:
    return f"year={day:%Y}/month={day:%m}/day={day:%d}"


def date_partition(day: date) -> str:
    return f"date={day.isoformat()}"


# How a dated output is laid out: the folder of a day, and the columns Spark partitions by.
LAYOUTS = {
    "hive": (hive_partition, HIVE_PARTITION_COLUMNS),  # lake, exports
    "date": (date_partition, ("date",)),  # rejects, like the landing zone
}


def with_lineage(frame: DataFrame, processed_at: datetime, run_id: str) -> DataFrame:
    """Add ``_processed_at`` and ``_run_id``; the frame brings its own ``_source_file``."""
    # An ISO string with its offset: a naive datetime literal would be read in local time.
    stamp = F.lit(processed_at.isoformat()).cast("timestamp")
    return frame.withColumn("_processed_at", stamp).withColumn("_run_id", F.lit(run_id))


def with_hive_columns(frame: DataFrame) -> DataFrame:
    return (
        frame.withColumn("year", F.date_format("date", "yyyy"))
        .withColumn("month", F.date_format("date", "MM"))
        .withColumn("day", F.date_format("date", "dd"))
    )


@dataclass
class StagedOutput:
    """One output staged for publishing: where it is now and where it goes."""

    live: str  # lake prefix, e.g. processed/climate_data
    staged: str  # lake prefix under _staging/<run>/
    days: list[date] | None  # None: an unpartitioned output, swapped whole
    layout: str = "hive"

    def publish(self, lake: Lake) -> list[str]:
        """Swap each partition into place; returns the published prefixes."""
        if self.days is None:
            if not lake.exists(self.staged):
                raise RuntimeError(f"nothing staged at {self.staged}")
            lake.publish(self.staged, self.live)
            return [self.live]
        published = []
        for day in self.days:
            part = LAYOUTS[self.layout][0](day)
            staged, live = f"{self.staged}/{part}", f"{self.live}/{part}"
            if not lake.exists(staged):
                lake.make_empty(staged)  # the day has no rows now: publish it empty
            lake.publish(staged, live)
            published.append(live)
        return published


def spread_by_day(frame: DataFrame, columns: tuple[str, ...], days: int) -> DataFrame:
    """Rows grouped for a write partitioned by day: few files per day, and every core busy.

    Each day goes to one task (one file) when there are at least as many days as cores. With
    fewer days (a daily run), a day is split over ``cores // days`` tasks by a hash of the row,
    so writing one big day does not run on a single core while the others wait (about: two
    (day, salt) pairs may hash to the same task). The salt is a hash of the row's values, so a
    retried task gets the same rows.
    """
    cores = frame.sparkSession.sparkContext.defaultParallelism
    ways = max(1, cores // max(days, 1))
    if ways == 1:
        return frame.repartition(*columns)
    salt = F.pmod(F.xxhash64(*frame.columns), F.lit(ways))
    return frame.repartition(days * ways, *columns, salt)


def stage_nothing(
    lake: Lake, run_id: str, live: str, days: list[date], layout: str = "hive"
) -> StagedOutput:
    """A dated output with no rows in any of ``days``: each day is published as an empty
    folder, without a Spark job (a retry's earlier staging is cleared first)."""
    staged = f"{STAGING_PREFIX}/{run_id}/{live}"
    lake.delete(staged)
    return StagedOutput(live=live, staged=staged, days=days, layout=layout)


def stage(
    lake: Lake,
    frame: DataFrame,
    run_id: str,
    live: str,
    fmt: str,
    days: list[date] | None,
    layout: str = "hive",
) -> StagedOutput:
    """Write ``frame`` under the run's staging area in ``fmt`` (parquet, csv or json).

    Dated outputs are partitioned by ``layout``: "hive" derives year/month/day from the frame's
    ``date`` column; "date" partitions by a ``date`` column the frame already has.
    """
    staged = f"{STAGING_PREFIX}/{run_id}/{live}"
    lake.delete(staged)  # a retry of the same run starts clean
    if days is None:
        # One file, written by one task after a shuffle: coalesce(1) would also run everything
        # before the write (parsing, rules) in that one task.
        writer = frame.repartition(1).write
    else:
        columns = LAYOUTS[layout][1]
        if layout == "hive":
            frame = with_hive_columns(frame)
        writer = spread_by_day(frame, columns, len(days)).write.partitionBy(*columns)
    writer = writer.mode("error")
    path = lake.spark_path(staged)
    if fmt == "parquet":
        writer.parquet(path, compression="snappy")
    elif fmt == "csv":
        writer.csv(path, header=True, timestampFormat="yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
    elif fmt == "json":
        writer.option("ignoreNullFields", "false").json(path)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return StagedOutput(live=live, staged=staged, days=days, layout=layout)


def discard_staging(lake: Lake, run_id: str) -> None:
    lake.delete(f"{STAGING_PREFIX}/{run_id}")
