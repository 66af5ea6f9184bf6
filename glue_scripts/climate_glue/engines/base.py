"""What a job needs of an engine: run the contract's SQL, and do the engine's own I/O.

The data logic (``logic.py``) is SQL text over named relations. An engine registers relations
(``Frame``: a name it can query), runs that text, and does what differs per engine: reading raw
CSV (with each row's file and row number, and the file checks), reading and writing the lake's
Parquet/CSV/JSON, and bulk-copying rows into PostgreSQL.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..copy_streams import CopySlots

if TYPE_CHECKING:
    import pyarrow as pa

    from ..contract import Dataset
    from ..lake import Lake
    from ..raw import FileScan, RawFile

ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"


@dataclass(frozen=True)
class Frame:
    """A relation the engine can query by ``name`` (a view or table in its catalog)."""

    name: str
    columns: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class RawScan:
    """What ``Engine.read_raw`` read: every data row of the files, and per key what the scan of
    that file found (rows, ragged rows, bytes that are not UTF-8)."""

    frame: Frame
    scans: dict[str, FileScan]


class _SharedBatches:
    """One iterator of batches that several threads take from, a batch each in turn."""

    def __init__(self, batches: Iterator):
        self._batches = batches
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator:
        while True:
            with self._lock:
                batch = next(self._batches, None)
            if batch is None:
                return
            yield batch


class Engine(ABC):
    """One engine for one job (one Spark session, or one DuckDB connection)."""

    name: str
    # How many independent parts of a job run side by side (each part is one or more queries).
    concurrent_parts: int = 1
    # How many COPY streams one load of ``arrow_batches`` uses (within the job's copy_slots).
    copy_streams: int = 1
    # Whether a load COPYs in binary through ADBC (``warehouse.ingest_batches``) rather than as
    # CSV through psycopg (``warehouse.copy_batches``).
    binary_copy: bool = False
    # The duplicate rule's form (logic.validate): windows only over the rows whose key repeats
    # (a grouping and joins back; DuckDB: 2.6 -> 0.7 CPU s on a 720,000-row day), or over
    # every row (Spark: one sort, where the grouping and joins would be more shuffles).
    duplicates_on_repeated_keys: bool = False

    def __init__(self) -> None:
        self._prefix = f"f_{uuid.uuid4().hex[:8]}_"
        self._counter = itertools.count()
        # The job's bound on concurrent COPY streams (the job sets its --copy-streams here).
        self.copy_slots = CopySlots()

    def _new_name(self) -> str:
        return f"{self._prefix}{next(self._counter)}"

    # --- SQL ---------------------------------------------------------------------------

    @abstractmethod
    def sql(self, text: str, cache: bool = False) -> Frame:
        """Run ``text`` (Spark SQL) as a new relation; ``cache`` keeps its rows for reuse."""

    @abstractmethod
    def rows(self, source: Frame | str) -> list[dict[str, Any]]:
        """Every row of a relation (or of a query's text) as dicts, in the query's order."""

    @abstractmethod
    def frame(self, rows: Sequence[Sequence[Any]], ddl: str) -> Frame:
        """A small relation from Python values, with a Spark DDL schema ("a string, b date")."""

    # --- I/O ---------------------------------------------------------------------------

    @abstractmethod
    def read_raw(self, lake: Lake, dataset: Dataset, files: list[RawFile]) -> RawScan:
        """Every data row of ``files`` as strings, with ``_source_file`` (the key exactly as in
        the lake), ``_row`` (1-based data row of the file) and, daily, ``_partition_date``; and
        per key what the scan found."""

    @abstractmethod
    def read_parquet(self, lake: Lake, prefix: str, types: dict[str, str], days) -> Frame:
        """The lake Parquet under ``prefix`` (all of it, or the Hive folders of ``days``)."""

    @abstractmethod
    def write(
        self,
        frame: Frame,
        lake: Lake,
        prefix: str,
        fmt: str,
        partition_by: tuple[str, ...],
        folders: Sequence[str] = (),
    ) -> None:
        """Write ``frame`` under the lake ``prefix`` in ``fmt`` (parquet, csv: RFC 4180 with a
        header, json: JSON Lines with nulls kept), in folders per ``partition_by`` columns
        (which are not written inside the files): ``folders`` are the run's days' folders
        (``year=2024/month=06/day=01``), which hold every row. Unpartitioned outputs are one
        file."""

    @abstractmethod
    def arrow_batches(self, frame: Frame) -> Iterator[pa.RecordBatch]:
        """The rows of ``frame`` as Arrow batches (what the PostgreSQL load copies)."""

    def copy_to_postgres(self, frame: Frame, copy) -> int:
        """Copy ``frame``'s rows with ``copy(batches) -> rows`` within the job's ``copy_slots``:
        the Spark engine runs it on up to that many tasks in parallel, the others on up to
        ``copy_streams`` threads, which take the frame's batches in turn."""
        with self.copy_slots.take(self.copy_streams) as streams:
            if streams == 1:
                return copy(self.arrow_batches(frame))
            shared = _SharedBatches(self.arrow_batches(frame))
            with ThreadPoolExecutor(streams, thread_name_prefix="copy-stream") as pool:
                futures = [pool.submit(copy, shared) for _ in range(streams)]
                wait(futures)
            return sum(future.result() for future in futures)

    @abstractmethod
    def close(self) -> None:
        """Release what the engine holds for this job (cached frames, the connection)."""
