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
from urllib.parse import unquote

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
CORRUPT_COLUMN = "__corrupt"
REPLACEMENT_CHARACTER = "\ufffd"


class RawFileError(ValueError):
    """A raw file that cannot be read as the contract says. Names the file and the problem."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class RawFilesError(ValueError):
    """One or more raw files that cannot be read as the contract says (all of them named)."""

    def __init__(self, errors: list[RawFileError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


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


def _landing_keys(lake: Lake, prefix: str) -> list[str]:
    """Keys under ``prefix``; a key with a '.' or '..' segment (S3 allows them) is refused, since
    no path built from it could be trusted to stay inside the lake."""
    keys = lake.list_keys(prefix)
    for key in keys:
        if {".", ".."} & set(key.split("/")):
            raise RawFileError(key, "key contains '..': not a landing key")
    return keys


def list_raw_files(
    lake: Lake, dataset: Dataset, days: list[date] | None
) -> dict[str | None, list[str]]:
    """CSV keys per partition date (``None`` for the unpartitioned locations).

    A daily dataset must have at least one file for every requested day: a missing day is an
    error naming the folders, never an empty partition published by accident.
    """
    if not dataset.daily:
        keys = _landing_keys(lake, partition_prefix(dataset))
        keys = [k for k in keys if k.count("/") == 2]
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
            k
            for k in _landing_keys(lake, prefix)
            if k.lower().endswith(".csv") and k.count("/") == 3
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
            raise RawFileError(key, f"not UTF-8 (byte {exc.start})") from None
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


@dataclass
class FileScan:
    """What the one scan of a file found: data rows, and rows that are not well-formed CSV."""

    rows: int = 0
    ragged: int = 0
    first_ragged: int | None = None  # 1-based data row
    not_utf8: int = 0
    first_not_utf8: int | None = None


def _row_numbers(frame: DataFrame) -> tuple[DataFrame, dict[str, FileScan]]:
    """Add ``_row``: the 1-based data row within its file; also return each file's scan.

    ``monotonically_increasing_id`` numbers rows consecutively within each file split Spark
    reads, and a file's splits are in order of their byte offset; a small table of split row
    counts turns the id into a row number with a broadcast join (no shuffle of the data). The
    same aggregate counts the malformed rows of each split, so checking the whole file for
    ragged rows and bytes that are not UTF-8 costs no extra read.
    """
    splits = frame.groupBy("__path", "__block").agg(
        F.min("__id").alias("__first"),
        F.count(F.lit(1)).alias("__n"),
        F.count(F.when(F.col("__ragged"), 1)).alias("__ragged_n"),
        F.min(F.when(F.col("__ragged"), F.col("__id"))).alias("__ragged_id"),
        F.count(F.when(F.col("__not_utf8"), 1)).alias("__utf8_n"),
        F.min(F.when(F.col("__not_utf8"), F.col("__id"))).alias("__utf8_id"),
    )
    rows = splits.collect()
    offsets: list[tuple[str, int, int, int]] = []
    scans: dict[str, FileScan] = defaultdict(FileScan)
    for row in sorted(rows, key=lambda r: (r["__path"], r["__block"])):
        scan = scans[row["__path"]]
        offsets.append((row["__path"], row["__block"], row["__first"], scan.rows))

        def number(row_id: int | None, _row=row, _before=scan.rows) -> int | None:
            return None if row_id is None else row_id - _row["__first"] + _before + 1

        if row["__ragged_n"]:
            scan.ragged += row["__ragged_n"]
            scan.first_ragged = scan.first_ragged or number(row["__ragged_id"])
        if row["__utf8_n"]:
            scan.not_utf8 += row["__utf8_n"]
            scan.first_not_utf8 = scan.first_not_utf8 or number(row["__utf8_id"])
        scan.rows += row["__n"]
    schema = "__path string, __block long, __first long, __before long"
    table = frame.sparkSession.createDataFrame(offsets, schema)
    joined = frame.join(F.broadcast(table), ["__path", "__block"])
    numbered = joined.withColumn(
        "_row", F.col("__id") - F.col("__first") + F.col("__before") + 1
    ).drop("__path", "__block", "__id", "__first", "__before", "__ragged", "__not_utf8")
    return numbered, dict(scans)


def file_problem(raw_file: RawFile, scan: FileScan | None) -> str | None:
    """Why a file whose header was fine still cannot be read as the contract says, if it can't."""
    if scan is None or scan.rows == 0:
        return "header only: no data rows"
    if scan.not_utf8:
        return f"not UTF-8 (data row {scan.first_not_utf8}; {scan.not_utf8} row(s) affected)"
    if scan.ragged:
        return (
            f"ragged or truncated rows: {scan.ragged} row(s) do not have the header's"
            f" {len(raw_file.header)} fields (first at data row {scan.first_ragged})"
        )
    return None


def read_raw(spark: SparkSession, lake: Lake, dataset: Dataset, files: list[RawFile]) -> DataFrame:
    """All rows of ``files`` as strings: contract columns (absent optional ones null), the raw
    key ``_source_file``, the data row ``_row`` and, for daily datasets, ``_partition_date``.

    Raises ``RawFilesError`` naming every file that has no data rows, a row whose field count
    differs from its header (ragged, or a truncated last line), or bytes that are not UTF-8.
    """
    by_header: dict[tuple[str, ...], list[RawFile]] = defaultdict(list)
    for raw_file in files:
        by_header[tuple(raw_file.header)].append(raw_file)
    frames = []
    for header, group in by_header.items():
        # Positional schema from the file's own header; the header line itself is skipped.
        # A row with more or fewer fields than the header lands in CORRUPT_COLUMN as it was.
        schema = T.StructType(
            [T.StructField(f"__c{i}", T.StringType()) for i in range(len(header))]
            + [T.StructField(CORRUPT_COLUMN, T.StringType())]
        )
        frame = spark.read.csv(
            [lake.spark_path(f.key) for f in group],
            schema=schema,
            header=True,
            enforceSchema=True,
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT_COLUMN,
            encoding="UTF-8",
        )
        fields = [F.coalesce(F.col(f"__c{i}"), F.lit("")) for i in range(len(header))]
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
                F.col(CORRUPT_COLUMN).isNotNull().alias("__ragged"),
                # The decoder turns bytes that are not UTF-8 into U+FFFD.
                F.concat_ws("", *fields).contains(REPLACEMENT_CHARACTER).alias("__not_utf8"),
            )
        )
    # Cached: the split table and every later step read this one scan of the files.
    raw, scans = _row_numbers(union_all(frames).persist(StorageLevel.MEMORY_AND_DISK))
    # Spark reports paths as URIs (a space is %20): decode them to compare with the keys.
    by_key = {
        unquote(re.search(RAW_KEY_PATTERN, path).group(1)): scan for path, scan in scans.items()
    }
    errors = []
    for raw_file in files:
        problem = file_problem(raw_file, by_key.get(raw_file.key))
        if problem:
            errors.append(RawFileError(raw_file.key, problem))
    if errors:
        raise RawFilesError(errors)
    raw = raw.withColumn("_source_file", F.regexp_extract(F.col("__key_path"), RAW_KEY_PATTERN, 1))
    if dataset.daily:
        raw = raw.withColumn(
            "_partition_date", F.regexp_extract("_source_file", r"date=([0-9-]+)/", 1)
        )
    return raw.drop("__key_path")
