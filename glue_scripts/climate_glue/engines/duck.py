"""The DuckDB engine: the embedded default, in-process, on every core, no JVM.

The contract's SQL (Spark SQL text from ``logic.py``) is transpiled to DuckDB's dialect by
sqlglot. Raw CSV is parsed by pyarrow's reader (RFC 4180: quoted commas, doubled quotes and line
breaks; CRLF; a BOM), which keeps rows in file order, so each row's number in its file is its
position; DuckDB has no row number of a file. Outputs are written by DuckDB's own ``COPY``.
The lake must be a local folder: DuckDB's S3 support is an extension this engine does not load.
"""

from __future__ import annotations

import array
import csv
import io
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlglot

from ..contract import Dataset, hive_partition
from ..lake import Lake
from ..raw import FileScan, RawFile, unexpected
from .base import Engine, Frame, RawScan

# Contract types as Spark DDL names them -> DuckDB types (tests build frames with Spark DDL).
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "long": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "double": "DOUBLE",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}
# Timestamps in CSV and JSON outputs, as the Spark engine writes them.
TEXT_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
# Rows per Arrow batch of a PostgreSQL load: each of a load's COPY streams holds one batch and
# its CSV text at a time, and four streams run at once when two loads do.
BATCH_ROWS = 20_000
# Rows a thread of a partitioned COPY TO holds before writing them out. DuckDB's default
# (524,288) holds a whole 100 MB day until the end: 400 MB more for one day's JSON export of
# 425,000 rows, 240 MB for its Parquet, and more CPU, not less (measured against 20,000: 120 and
# 75 MB). Parquet files still get row groups of tens of thousands of rows.
PARTITION_FLUSH_ROWS = 20_000


@lru_cache(maxsize=512)
def to_duckdb(text: str) -> str:
    """Spark SQL -> DuckDB SQL (the queries are generated, so a cache serves every job)."""
    return sqlglot.transpile(text, read="spark", write="duckdb")[0]


def _ddl_columns(ddl: str) -> list[tuple[str, str]]:
    columns = []
    for part in ddl.split(","):
        name, kind = part.strip().split()
        columns.append((name.strip("`"), DUCKDB_TYPES[kind.lower()]))
    return columns


def _local_path(lake: Lake, key: str) -> str:
    path = getattr(lake, "path", None)
    if path is None:
        raise ValueError(
            f"the duckdb engine needs a local lake, not {lake.root}: use --engine spark"
        )
    return str(path(key))


class DuckDBEngine(Engine):
    name = "duckdb"
    # Each query already uses every core; a second part overlaps the PostgreSQL copy's I/O.
    concurrent_parts = 2
    # Two COPY streams into PostgreSQL (two server backends) for each load: measured faster
    # than one (docs/design.md, "PostgreSQL: each row written once").
    copy_streams = 2
    # Binary COPY through ADBC, not CSV: five 425,000-row tables (a 100 MB day) took 2.1 s of
    # the job's CPU instead of 4.5 s and 4.3 s of the server's instead of 6.8 s (no text to
    # write or parse); 50,000 rows, 0.45 s and 0.65 s instead of 0.65 s and 0.85 s.
    binary_copy = True
    duplicates_on_repeated_keys = True

    def __init__(
        self,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_dir: str | None = None,
    ):
        """``memory_limit``: DuckDB's (None: its own, 80% of the machine's memory); beyond it
        DuckDB spills to ``temp_dir`` (None: ``.tmp`` in the working folder). DuckDB names its
        spill files by process and database, and removes them when the connection closes, so
        jobs of other runs may share the folder."""
        super().__init__()
        config = {
            "threads": threads or os.cpu_count() or 1,
            "partitioned_write_flush_threshold": PARTITION_FLUSH_ROWS,
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        if temp_dir:
            config["temp_directory"] = temp_dir
        self._con = duckdb.connect(":memory:", config=config)
        self._con.execute("SET TimeZone = 'UTC'")
        self._local = threading.local()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor per thread: parts of a job run side by side on one database."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
        return cursor

    def _frame(self, name: str) -> Frame:
        described = self._cursor().execute(f"DESCRIBE {name}").fetchall()
        return Frame(name, tuple(row[0] for row in described))

    # --- SQL ---------------------------------------------------------------------------

    def sql(self, text: str, cache: bool = False) -> Frame:
        name = self._new_name()
        kind = "TABLE" if cache else "VIEW"
        self._cursor().execute(f"CREATE {kind} {name} AS {to_duckdb(text)}")
        return self._frame(name)

    def rows(self, source: Frame | str) -> list[dict[str, Any]]:
        text = f"SELECT * FROM {source.name}" if isinstance(source, Frame) else to_duckdb(source)
        cursor = self._cursor().execute(text)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def frame(self, rows: Sequence[Sequence[Any]], ddl: str) -> Frame:
        columns = _ddl_columns(ddl)
        name = self._new_name()
        cursor = self._cursor()
        declared = ", ".join(f'"{c}" {t}' for c, t in columns)
        cursor.execute(f"CREATE TABLE {name} ({declared})")
        if rows:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {name} VALUES ({marks})", [list(r) for r in rows])
        return Frame(name, tuple(c for c, _ in columns))

    def _register_arrow(self, table: pa.Table) -> Frame:
        name = self._new_name()
        cursor = self._cursor()
        cursor.register(f"{name}_arrow", table)
        try:
            cursor.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        finally:
            cursor.unregister(f"{name}_arrow")
        return Frame(name, tuple(table.column_names))

    # --- I/O ---------------------------------------------------------------------------

    def read_raw(self, lake: Lake, dataset: Dataset, files: list[RawFile]) -> RawScan:
        tables, scans = [], {}
        for raw_file in files:
            # Reading the bytes is the lake's I/O: its faults (S3 throttling, say) fail the job
            # for the retry policy to judge, rather than quarantine a good file.
            data = lake.read_bytes(raw_file.key)
            try:
                read = read_csv_file(data, raw_file, dataset)
            except Exception as exc:  # this file's problem: the others are still decided
                read = CsvRead(None, FileScan(unreadable=unexpected(exc)))
            scans[raw_file.key] = read.scan
            if read.table is not None:
                tables.append(read.table)
        schema = raw_schema(dataset)
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        return RawScan(self._register_arrow(table), scans)

    def read_parquet(self, lake: Lake, prefix: str, types: dict[str, str], days) -> Frame:
        folders = [prefix] if days is None else [f"{prefix}/{hive_partition(d)}" for d in days]
        paths = [
            _local_path(lake, key)
            for folder in folders
            for key in lake.list_keys(folder)
            if key.endswith(".parquet")
        ]
        casts = ", ".join(f'CAST("{c}" AS {DUCKDB_TYPES[k]}) AS "{c}"' for c, k in types.items())
        name = self._new_name()
        if paths:
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            source = f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"
            self._cursor().execute(f"CREATE VIEW {name} AS SELECT {casts} FROM {source}")
        else:
            self._cursor().execute(
                f"CREATE VIEW {name} AS SELECT {casts} FROM (SELECT NULL) WHERE FALSE"
            )
        return Frame(name, tuple(types))

    def write(
        self,
        frame: Frame,
        lake: Lake,
        prefix: str,
        fmt: str,
        partition_by: tuple[str, ...],
        folders: Sequence[str] = (),
    ) -> None:
        target = Path(_local_path(lake, prefix))
        cursor = self._cursor()
        types = {row[0]: row[1] for row in cursor.execute(f"DESCRIBE {frame.name}").fetchall()}
        one_day = len(folders) == 1
        columns = []
        for column in frame.columns:
            if one_day and column in partition_by:
                continue  # the folder holds its value, as the partitioned writer leaves it
            if fmt != "parquet" and types[column].startswith("TIMESTAMP"):
                columns.append(f'strftime("{column}", \'{TEXT_TIMESTAMP}\') AS "{column}"')
            else:
                columns.append(f'"{column}"')
        query = f"SELECT {', '.join(columns)} FROM {frame.name}"
        options = {
            "parquet": "FORMAT parquet, COMPRESSION snappy",
            "csv": "FORMAT csv, HEADER true",
            "json": "FORMAT json",
        }[fmt]
        if one_day:
            self._write_day(query, target, folders[0], fmt, options)
        elif partition_by:
            target.parent.mkdir(parents=True, exist_ok=True)
            quoted = ", ".join(f'"{c}"' for c in partition_by)
            cursor.execute(f"COPY ({query}) TO '{target}' ({options}, PARTITION_BY ({quoted}))")
        else:
            target.mkdir(parents=True, exist_ok=True)
            cursor.execute(f"COPY ({query}) TO '{target / ('part-00000.' + fmt)}' ({options})")

    def _write_day(self, query: str, target: Path, folder: str, fmt: str, options: str) -> None:
        """A one-day run's rows straight into the day's ``folder`` under ``target``, in the file
        DuckDB's partitioned writer would write there (``data_0``). The partitioned writer took
        about twice the CPU of this plain ``COPY`` on a day of 425,000 rows
        (bench/floor_duckdb.py, ``copy_by_day``)."""
        day = target / folder
        day.mkdir(parents=True, exist_ok=True)
        path = day / f"data_0.{fmt}"
        (written,) = self._cursor().execute(f"COPY ({query}) TO '{path}' ({options})").fetchone()
        if not written:  # no folder for a day without rows, as the partitioned writer leaves it
            shutil.rmtree(target / Path(folder).parts[0])

    def arrow_batches(self, frame: Frame) -> Iterator[pa.RecordBatch]:
        yield from self._cursor().sql(f"SELECT * FROM {frame.name}").to_arrow_reader(BATCH_ROWS)

    def close(self) -> None:
        self._con.close()


# --------------------------------------------------------------------------- raw CSV


def raw_schema(dataset: Dataset) -> pa.Schema:
    fields = [pa.field(c, pa.string()) for c in dataset.column_names]
    fields += [pa.field("_source_file", pa.string()), pa.field("_row", pa.int64())]
    if dataset.daily:
        fields.append(pa.field("_partition_date", pa.string()))
    return pa.schema(fields)


def _python_scan(text: str, width: int) -> FileScan:
    """The exact count and first data row of ragged, not-UTF-8 and NUL rows, by Python's csv
    module (RFC 4180 as Excel writes it): run only for a file that may be bad."""
    scan = FileScan()
    # No field is longer than its file (the module's own limit is 128 KiB, process-wide).
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    records = csv.reader(io.StringIO(text, newline=""))
    next(records, None)  # the header
    for fields in records:
        if not fields:
            continue  # an empty line is no row (both engines skip them)
        scan.rows += 1
        if len(fields) != width:
            scan.ragged += 1
            scan.first_ragged = scan.first_ragged or scan.rows
        if any("\ufffd" in f for f in fields):
            scan.not_utf8 += 1
            scan.first_not_utf8 = scan.first_not_utf8 or scan.rows
        if any("\x00" in f for f in fields):
            scan.nul += 1
            scan.first_nul = scan.first_nul or scan.rows
    return scan


def _parse_csv(data: bytes, width: int, ragged: list[int], block_size: int | None = None):
    """pyarrow's reading of a file as ``width`` string columns; the line numbers of ragged
    rows go to ``ragged`` (they are skipped)."""

    def invalid(row) -> str:
        ragged.append(row.number)
        return "skip"

    names = [f"__c{i}" for i in range(width)]
    options = pacsv.ReadOptions(column_names=names, skip_rows=1)
    if block_size:
        options.block_size = block_size
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=options,
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


# The lineage columns are built from buffers, not from Python values: pyarrow converting any
# Python value (``pa.array``, ``pa.scalar``, ``pa.repeat``) first imports pandas, to check whether
# it is a pandas object, and a cast imports pyarrow.compute: about 0.3 s of CPU per process that a
# DuckDB job otherwise never needs.
def _repeated(text: str, rows: int) -> pa.Array:
    """``text`` on each of ``rows`` rows, as a string column."""
    data = text.encode("utf-8")
    width = len(data)
    offsets = array.array("i", range(0, width * (rows + 1), width) if width else [0] * (rows + 1))
    return pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data * rows)]
    )


def _row_numbers(rows: int) -> pa.Array:
    """1, 2, ... ``rows`` as an int64 column."""
    return pa.Array.from_buffers(
        pa.int64(), rows, [None, pa.py_buffer(array.array("q", range(1, rows + 1)))]
    )


class CsvRead(NamedTuple):
    """One raw file read: its rows (``None``: quarantine the file), and what the scan found."""

    table: pa.Table | None
    scan: FileScan


def read_csv_file(data: bytes, raw_file: RawFile, dataset: Dataset) -> CsvRead:
    """One raw file's data rows as strings (contract columns; absent optional ones null), or
    no rows and the scan when a row is ragged or has a byte that is not UTF-8 or a NUL: the file is
    then quarantined."""
    width = len(raw_file.header)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return CsvRead(None, _python_scan(data.decode("utf-8", errors="replace"), width))
    if b"\x00" in data:
        scan = _python_scan(data.decode("utf-8-sig"), width)
        if scan.nul:
            return CsvRead(None, scan)
    ragged: list[int] = []
    refused = None
    try:
        table = _parse_csv(data, width, ragged)
    except pa.ArrowInvalid:
        # A row longer than the reader's block (1 MiB) straddles two blocks: one block, then.
        ragged.clear()
        try:
            table = _parse_csv(data, width, ragged, block_size=min(len(data) + 1, 2**31 - 1))
        except pa.ArrowInvalid as exc:
            refused = f"not parseable as CSV: {exc}"
    if ragged or refused:
        scan = _python_scan(data.decode("utf-8-sig"), width)
        if not scan.ragged:  # the two readers disagree: never a file left without an outcome
            scan.unreadable = (
                refused or "not parseable as CSV (a row pyarrow's reader finds ragged)"
            )
        return CsvRead(None, scan)
    rows = table.num_rows
    scan = FileScan(rows=rows)
    if rows == 0:
        return CsvRead(None, scan)
    position = {name: i for i, name in enumerate(raw_file.header)}
    columns = {
        c: table.column(position[c]) if c in position else pa.nulls(rows, pa.string())
        for c in dataset.column_names
    }
    columns["_source_file"] = _repeated(raw_file.key, rows)
    columns["_row"] = _row_numbers(rows)
    if dataset.daily:
        columns["_partition_date"] = _repeated(raw_file.partition_date, rows)
    return CsvRead(pa.table(columns, schema=raw_schema(dataset)), scan)
