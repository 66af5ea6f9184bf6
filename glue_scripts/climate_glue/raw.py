"""Finding and reading raw landing files (contract section 1).

Each file's header is read on the driver (a few bytes per file) to check required columns and to
learn the file's own column order; Spark's CSV reader then reads the rows of all files that share
a header in one scan, as strings. Every row keeps the raw key it came from and its 1-based data
row number in that file, so a reject can name both.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .contract import RAW_PREFIX, Dataset
from .lake import Lake
from .rules import union_all

HEADER_PROBE_BYTES = 64 * 1024
DATE_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
# The last segments of a raw key, found in the file path Spark reports.
RAW_KEY_PATTERN = r"(raw/[^/]+/(date=[^/]+/)?[^/]+)$"


class RawFileError(ValueError):
    """A raw file that cannot be read as the contract says. Names the file and the problem."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class MissingPartitionError(ValueError):
    pass


@dataclass
class RawFile:
    key: str
    header: list[str]  # normalized names, in file order
    partition_date: str | None
    drift: list[str] = field(default_factory=list)  # columns the contract does not list


def normalize(name: str) -> str:
    return name.strip().lower()


def partition_prefix(dataset: Dataset, day: date | None = None) -> str:
    base = f"{RAW_PREFIX}/{dataset.name}"
    return f"{base}/date={day.isoformat()}" if day is not None else base


def list_raw_files(
    lake: Lake, dataset: Dataset, days: list[date] | None
) -> dict[str | None, list[str]]:
    """CSV keys per partition date (``None`` for the unpartitioned locations).

    A daily dataset must have at least one file for every requested day: a missing day is an
    error naming the folders, never an empty partition published by accident.
    """
    if not dataset.daily:
        keys = [k for k in lake.list_keys(partition_prefix(dataset)) if k.count("/") == 2]
        csvs = [k for k in keys if k.lower().endswith(".csv")]
        if not csvs:
            raise MissingPartitionError(
                f"no raw files for {dataset.name} under {partition_prefix(dataset)}/"
            )
        return {None: csvs}
    found: dict[str | None, list[str]] = {}
    missing: list[str] = []
    for day in days or []:
        prefix = partition_prefix(dataset, day)
        csvs = [
            k for k in lake.list_keys(prefix) if k.lower().endswith(".csv") and k.count("/") == 3
        ]
        if csvs:
            found[day.isoformat()] = csvs
        else:
            missing.append(prefix + "/")
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise MissingPartitionError(
            f"no raw {dataset.name} files for {len(missing)} partition(s): {shown}"
        )
    return found


def read_header(lake: Lake, key: str, dataset: Dataset, partition_date: str | None) -> RawFile:
    """Read and check one file's header row."""
    head = lake.read_head(key, HEADER_PROBE_BYTES)
    if not head.strip():
        raise RawFileError(key, "empty file")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the probe's end is not an error.
        if exc.start < len(head) - 4:
            raise RawFileError(key, f"not UTF-8 (byte {exc.start} of the header)") from None
        text = head[: exc.start].decode("utf-8-sig")
    first_line = text.splitlines()[0]
    header = [normalize(n) for n in next(csv.reader([first_line]))]
    if len(header) == 1 and ";" in header[0]:
        raise RawFileError(key, "wrong delimiter: the header has ';' where ',' is expected")
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise RawFileError(key, f"header repeats column(s): {', '.join(duplicated)}")
    missing = [n for n in dataset.required_names if n not in header]
    if missing:
        raise RawFileError(key, f"missing required column(s): {', '.join(missing)}")
    drift = [n for n in header if n not in dataset.column_names]
    return RawFile(key=key, header=header, partition_date=partition_date, drift=drift)


def _row_numbers(frame: DataFrame) -> DataFrame:
    """Add ``_row``: the 1-based data row within its file.

    ``monotonically_increasing_id`` numbers rows consecutively within each file split Spark
    reads, and a file's splits are in order of their byte offset; a small table of split row
    counts turns the id into a row number with a broadcast join (no shuffle of the data).
    """
    splits = frame.groupBy("__path", "__block").agg(
        F.min("__id").alias("__first"), F.count(F.lit(1)).alias("__n")
    )
    rows = splits.collect()
    offsets: list[tuple[str, int, int, int]] = []
    before: dict[str, int] = defaultdict(int)
    for row in sorted(rows, key=lambda r: (r["__path"], r["__block"])):
        offsets.append((row["__path"], row["__block"], row["__first"], before[row["__path"]]))
        before[row["__path"]] += row["__n"]
    schema = "__path string, __block long, __first long, __before long"
    table = frame.sparkSession.createDataFrame(offsets, schema)
    joined = frame.join(F.broadcast(table), ["__path", "__block"])
    return joined.withColumn("_row", F.col("__id") - F.col("__first") + F.col("__before") + 1).drop(
        "__path", "__block", "__id", "__first", "__before"
    )


def read_raw(spark: SparkSession, lake: Lake, dataset: Dataset, files: list[RawFile]) -> DataFrame:
    """All rows of ``files`` as strings: contract columns (absent optional ones null), the raw
    key ``_source_file``, the data row ``_row`` and, for daily datasets, ``_partition_date``."""
    by_header: dict[tuple[str, ...], list[RawFile]] = defaultdict(list)
    for raw_file in files:
        by_header[tuple(raw_file.header)].append(raw_file)
    frames = []
    for header, group in by_header.items():
        # Positional schema from the file's own header; the header line itself is skipped.
        schema = T.StructType(
            [T.StructField(f"__c{i}", T.StringType()) for i in range(len(header))]
        )
        frame = spark.read.csv(
            [lake.spark_path(f.key) for f in group],
            schema=schema,
            header=True,
            enforceSchema=True,
            mode="PERMISSIVE",
            encoding="UTF-8",
        )
        position = {name: i for i, name in enumerate(header)}
        columns = [
            (F.col(f"__c{position[c]}") if c in position else F.lit(None).cast("string")).alias(c)
            for c in dataset.column_names
        ]
        frames.append(
            frame.select(
                *columns,
                F.col("_metadata.file_path").alias("__path"),
                F.col("_metadata.file_path").alias("__key_path"),
                F.col("_metadata.file_block_start").alias("__block"),
                F.monotonically_increasing_id().alias("__id"),
            )
        )
    # Cached: the split table and every later step read this one scan of the files.
    raw = _row_numbers(union_all(frames).persist(StorageLevel.MEMORY_AND_DISK))
    raw = raw.withColumn("_source_file", F.regexp_extract(F.col("__key_path"), RAW_KEY_PATTERN, 1))
    if dataset.daily:
        raw = raw.withColumn(
            "_partition_date", F.regexp_extract("_source_file", r"date=([0-9-]+)/", 1)
        )
    return raw.drop("__key_path")
