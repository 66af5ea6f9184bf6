"""The Spark engine: AWS Glue 5.0 (Spark 3.5), and local Spark on request for Glue parity.

The contract's SQL runs as it is written (Spark SQL). Raw CSV is read by Spark's reader as RFC
4180 says (``"`` escapes itself, quoted line breaks stay in their field: ``multiLine``, which
reads each file whole in one task, so a row's position in its task is its row number).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from functools import reduce
from typing import Any, NamedTuple
from urllib.parse import unquote

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..contract import SPARK_TYPES, Dataset, hive_partition
from ..lake import Lake
from ..raw import FileScan, RawFile
from .base import Engine, Frame, RawScan

# The last segments of a raw key, found in the file path Spark reports (a URI: "%20" for " ").
RAW_KEY_PATTERN = r"(raw/[^/]+/(date=[^/]+/)?[^/]+)$"
CORRUPT_COLUMN = "__corrupt"
REPLACEMENT_CHARACTER = "\ufffd"
NUL = "\x00"
TEXT_TIMESTAMP = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
# Session settings every job relies on, applied by the job itself so Glue and local agree.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    # Timestamps as INT64 microseconds (what DuckDB writes), not Spark's legacy INT96.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
# Driver threads submitting independent Spark actions at once. With small data a Spark action is
# mostly driver work (planning, code generation, scheduling) on one core while the executors
# wait; running a few side by side keeps every core busy (bench/ANALYSIS.md).
CONCURRENT_ACTIONS = 3
# Raw rows per shuffle partition at most: a job reading more raw rows than its session's
# shuffle partitions allow raises them for the job, so each task's sort (the duplicate rule's
# window, the joins) stays small. Local Spark keeps a few partitions for small data, and its
# executors share the driver's heap: 15 days of 425,000 locations (10.6 million rows) in 4
# partitions ran a 512 MiB heap out of memory merging a sort's spill files (bench/ANALYSIS.md).
ROWS_PER_SHUFFLE_PARTITION = 250_000
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"


def spark_schema(types: dict[str, str]) -> str:
    """A DDL schema string for the contract types (what Spark 3.5's reader takes)."""
    return ", ".join(f"`{name}` {SPARK_TYPES[kind]}" for name, kind in types.items())


class SparkEngine(Engine):
    name = "spark"
    concurrent_parts = CONCURRENT_ACTIONS

    def __init__(self, spark: SparkSession | None = None):
        super().__init__()
        self.spark = spark or SparkSession.builder.getOrCreate()
        for key, value in SESSION_CONF.items():
            self.spark.conf.set(key, value)
        self._frames: dict[str, DataFrame] = {}
        self._shuffle_partitions = self.spark.conf.get(SHUFFLE_PARTITIONS)  # restored at close

    def register(self, df: DataFrame, cache: bool = False) -> Frame:
        name = self._new_name()
        if cache:
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
        df.createOrReplaceTempView(name)
        self._frames[name] = df
        return Frame(name, tuple(df.columns))

    # --- SQL ---------------------------------------------------------------------------

    def sql(self, text: str, cache: bool = False) -> Frame:
        return self.register(self.spark.sql(text), cache)

    def rows(self, source: Frame | str) -> list[dict[str, Any]]:
        df = self._frames[source.name] if isinstance(source, Frame) else self.spark.sql(source)
        return [row.asDict() for row in df.collect()]

    def frame(self, rows: Sequence[Sequence[Any]], ddl: str) -> Frame:
        return self.register(self.spark.createDataFrame([tuple(r) for r in rows], ddl))

    # --- I/O ---------------------------------------------------------------------------

    def read_raw(self, lake: Lake, dataset: Dataset, files: list[RawFile]) -> RawScan:
        by_header: dict[tuple[str, ...], list[RawFile]] = defaultdict(list)
        for raw_file in files:
            by_header[tuple(raw_file.header)].append(raw_file)
        frames = []
        for header, group in by_header.items():
            # Positional schema from the file's own header; the header line itself is skipped.
            # A row with more or fewer fields than the header lands in CORRUPT_COLUMN.
            schema = T.StructType(
                [T.StructField(f"__c{i}", T.StringType()) for i in range(len(header))]
                + [T.StructField(CORRUPT_COLUMN, T.StringType())]
            )
            frame = self.spark.read.csv(
                [lake.spark_path(f.key) for f in group],
                schema=schema,
                header=True,
                enforceSchema=True,
                mode="PERMISSIVE",
                columnNameOfCorruptRecord=CORRUPT_COLUMN,
                encoding="UTF-8",
                quote='"',
                escape='"',  # RFC 4180: "" inside quotes is one " (Spark's default is \)
                multiLine=True,  # a quoted line break stays inside its field
            )
            fields = [F.coalesce(F.col(f"__c{i}"), F.lit("")) for i in range(len(header))]
            position = {name: i for i, name in enumerate(header)}
            columns = [
                (
                    F.expr(f"nullif(__c{position[c]}, '')")
                    if c in position
                    else F.lit(None).cast("string")
                ).alias(c)
                for c in dataset.column_names
            ]
            frames.append(
                frame.select(
                    *columns,
                    F.col("_metadata.file_path").alias("__path"),
                    F.col("_metadata.file_block_start").alias("__block"),
                    F.monotonically_increasing_id().alias("__id"),
                    F.col(CORRUPT_COLUMN).isNotNull().alias("__ragged"),
                    # The decoder turns bytes that are not UTF-8 into U+FFFD.
                    F.concat_ws("", *fields).contains(REPLACEMENT_CHARACTER).alias("__not_utf8"),
                    F.concat_ws("", *fields).contains(NUL).alias("__nul"),
                )
            )
        union = reduce(lambda a, b: a.unionByName(b), frames)
        numbered = _row_numbers(union.persist(StorageLevel.MEMORY_AND_DISK))
        raw, scans = numbered.frame, numbered.scans
        needed = -(-sum(scan.rows for scan in scans.values()) // ROWS_PER_SHUFFLE_PARTITION)
        if needed > int(self.spark.conf.get(SHUFFLE_PARTITIONS)):
            self.spark.conf.set(SHUFFLE_PARTITIONS, str(needed))
        if dataset.daily:
            raw = raw.withColumn(
                "_partition_date", F.regexp_extract("_source_file", r"date=([0-9-]+)/", 1)
            )
        return RawScan(self.register(raw), numbered.scans)

    def read_parquet(self, lake: Lake, prefix: str, types: dict[str, str], days) -> Frame:
        reader = self.spark.read.schema(spark_schema(types))
        if days is None:
            return self.register(reader.parquet(lake.spark_path(prefix)))
        paths = [lake.spark_path(f"{prefix}/{hive_partition(d)}") for d in days]
        frame = reader.option("basePath", lake.spark_path(prefix)).parquet(*paths)
        return self.register(frame.select(*types))

    def write(
        self,
        frame: Frame,
        lake: Lake,
        prefix: str,
        fmt: str,
        partition_by: tuple[str, ...],
        folders: Sequence[str] = (),
    ) -> None:
        df = self._frames[frame.name]
        if partition_by:
            writer = spread_by_day(df, partition_by, len(folders)).write.partitionBy(*partition_by)
        else:
            # One file, written by one task after a shuffle: coalesce(1) would also run
            # everything before the write (parsing, rules) in that one task.
            writer = df.repartition(1).write
        writer = writer.mode("error")
        path = lake.spark_path(prefix)
        if fmt == "parquet":
            writer.parquet(path, compression="snappy")
        elif fmt == "csv":
            writer.csv(path, header=True, escape='"', timestampFormat=TEXT_TIMESTAMP)
        elif fmt == "json":
            writer.option("ignoreNullFields", "false").json(path, timestampFormat=TEXT_TIMESTAMP)
        else:
            raise ValueError(f"unknown output format {fmt!r}")

    def arrow_batches(self, frame: Frame) -> Iterator:
        raise NotImplementedError("the Spark engine copies from its tasks: copy_to_postgres")

    def copy_to_postgres(self, frame: Frame, copy) -> int:
        """Each task copies its own Arrow batches over its own connection, in parallel, on at
        most as many tasks as the job's free COPY slots: a frame with more partitions is
        repartitioned to that many first (a shuffle of the rows loaded; everything before it
        keeps its parallelism, which ``coalesce`` would not). A load takes only the slots its
        partitions use, so the other loads of the job (the derived job's three) run beside it
        within the bound. One row per task comes back to the driver: its count."""

        def task(batches: Iterator) -> Iterator:
            import pyarrow as pa

            yield pa.RecordBatch.from_pydict({"rows": [copy(batches)]})

        df = self._frames[frame.name]
        partitions = df.rdd.getNumPartitions()
        with self.copy_slots.take(partitions) as streams:
            if partitions > streams:
                df = df.repartition(streams)
            counts = df.mapInArrow(task, "rows long").collect()
        return sum(row["rows"] for row in counts)

    def close(self) -> None:
        """Drop this job's views and every cached frame (a cached scan of a raw file would
        otherwise answer the next job's read of the same path with the old bytes), and give the
        session back its shuffle partitions."""
        for name in self._frames:
            self.spark.catalog.dropTempView(name)
        self._frames.clear()
        self.spark.catalog.clearCache()
        self.spark.conf.set(SHUFFLE_PARTITIONS, self._shuffle_partitions)


class Numbered(NamedTuple):
    frame: DataFrame
    scans: dict[str, FileScan]


def _row_numbers(frame: DataFrame) -> Numbered:
    """Add ``_row`` (1-based data row within its file) and ``_source_file`` (the raw key exactly
    as in the lake); also return each file's scan.

    ``monotonically_increasing_id`` numbers rows consecutively within each split Spark reads,
    and a file's splits are in order of their byte offset; a small table of split row counts
    turns the id into a row number with a broadcast join (no shuffle of the data). The same
    aggregate counts the malformed rows of each split, so checking the whole file for ragged
    rows, bytes that are not UTF-8 and NUL characters costs no extra read.
    """
    splits = frame.groupBy("__path", "__block").agg(
        F.min("__id").alias("__first"),
        F.count(F.lit(1)).alias("__n"),
        F.count(F.when(F.col("__ragged"), 1)).alias("__ragged_n"),
        F.min(F.when(F.col("__ragged"), F.col("__id"))).alias("__ragged_id"),
        F.count(F.when(F.col("__not_utf8"), 1)).alias("__utf8_n"),
        F.min(F.when(F.col("__not_utf8"), F.col("__id"))).alias("__utf8_id"),
        F.count(F.when(F.col("__nul"), 1)).alias("__nul_n"),
        F.min(F.when(F.col("__nul"), F.col("__id"))).alias("__nul_id"),
    )
    offsets: list[tuple[str, int, int, int, str]] = []
    scans: dict[str, FileScan] = defaultdict(FileScan)
    for row in sorted(splits.collect(), key=lambda r: (r["__path"], r["__block"])):
        # Spark reports a URI: decode it back to the key as the lake names it.
        key = unquote(re.search(RAW_KEY_PATTERN, row["__path"]).group(1))
        scan = scans[key]
        offsets.append((row["__path"], row["__block"], row["__first"], scan.rows, key))

        def number(row_id: int | None, _row=row, _before=scan.rows) -> int | None:
            return None if row_id is None else row_id - _row["__first"] + _before + 1

        if row["__ragged_n"]:
            scan.ragged += row["__ragged_n"]
            scan.first_ragged = scan.first_ragged or number(row["__ragged_id"])
        if row["__utf8_n"]:
            scan.not_utf8 += row["__utf8_n"]
            scan.first_not_utf8 = scan.first_not_utf8 or number(row["__utf8_id"])
        if row["__nul_n"]:
            scan.nul += row["__nul_n"]
            scan.first_nul = scan.first_nul or number(row["__nul_id"])
        scan.rows += row["__n"]
    schema = "__path string, __block long, __first long, __before long, _source_file string"
    table = frame.sparkSession.createDataFrame(offsets, schema)
    joined = frame.join(F.broadcast(table), ["__path", "__block"])
    numbered = joined.withColumn(
        "_row", F.col("__id") - F.col("__first") + F.col("__before") + 1
    ).drop("__path", "__block", "__id", "__first", "__before", "__ragged", "__not_utf8", "__nul")
    return Numbered(numbered, dict(scans))


def spread_by_day(frame: DataFrame, columns: tuple[str, ...], days: int) -> DataFrame:
    """Rows grouped for a write partitioned by day: few files per day, and every core busy.

    Each day goes to one task (one file) when there are at least as many days as cores. With
    fewer days (a daily run), a day is split over ``cores // days`` tasks by a hash of the row,
    so writing one big day does not run on a single core while the others wait. The salt is a
    hash of the row's values, so a retried task gets the same rows.
    """
    cores = frame.sparkSession.sparkContext.defaultParallelism
    ways = max(1, cores // max(days, 1))
    if ways == 1:
        return frame.repartition(*columns)
    salt = F.pmod(F.xxhash64(*frame.columns), F.lit(ways))
    return frame.repartition(days * ways, *columns, salt)
