"""Finding and reading raw landing files (contract section 1).

Each file's header is read here (a few bytes per file) to check required columns and to learn
the file's own column order; the engine then reads the rows (``Engine.read_raw``) as strings.
Every row keeps the raw key it came from, exactly as it is named in the lake, and its 1-based
data row number in that file, so a reject can name both.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date

from .contract import RAW_PREFIX, Dataset, date_partition
from .lake import Lake

HEADER_PROBE_BYTES = 64 * 1024
DATE_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


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
    return f"{base}/{date_partition(day)}" if day is not None else base


def _landing_keys(lake: Lake, prefix: str) -> list[str]:
    """Keys under ``prefix``; a key with a '.' or '..' segment (S3 allows them) is refused, since
    no path built from it could be trusted to stay inside the lake."""
    keys = lake.list_keys(prefix)
    for key in keys:
        if {".", ".."} & set(key.split("/")):
            raise RawFileError(key, "key contains '..': not a landing key")
    return keys


def landing_strays(lake: Lake, dataset: Dataset, days: list[date] | None) -> list[RawFileError]:
    """Entries of the requested partitions that are not regular files inside the lake (a
    symbolic link, to a file or a folder; a FIFO): each is quarantined, its target never read."""
    prefixes = (
        [partition_prefix(dataset, d) for d in days or []]
        if dataset.daily
        else [partition_prefix(dataset)]
    )
    strays = {s.key: s.reason for p in prefixes for s in lake.listing(p).strays}
    return [RawFileError(key, reason) for key, reason in sorted(strays.items())]


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


def unexpected(exc: Exception) -> str:
    """The problem of a file whose reading failed in a way no check foresaw."""
    return f"could not be read: {type(exc).__name__}: {exc}"


def read_header(lake: Lake, key: str, dataset: Dataset, partition_date: str | None) -> RawFile:
    """Read and check one file's header row. Whatever goes wrong with its bytes is this file's
    problem: a ``RawFileError`` naming it (with the exception, where no check foresaw it). A
    fault of the lake's I/O (S3 throttling, say) is not: it fails the job, for the retry policy
    to judge, rather than quarantine a good file."""
    head = lake.read_head(key, HEADER_PROBE_BYTES)
    try:
        return _checked_header(head, key, dataset, partition_date)
    except RawFileError:
        raise
    except Exception as exc:
        raise RawFileError(key, unexpected(exc)) from exc


def _checked_header(head: bytes, key: str, dataset: Dataset, partition_date: str | None) -> RawFile:
    if not head.strip():
        raise RawFileError(key, "empty file")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the probe's end is not an error.
        if exc.start < len(head) - 4:
            raise RawFileError(key, f"not UTF-8 (byte {exc.start})") from None
        text = head[: exc.start].decode("utf-8-sig")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise RawFileError(key, "empty file (no header row)")
    first_line = lines[0]
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
    nul: int = 0  # rows with a NUL character: valid UTF-8, but no text (PostgreSQL refuses it)
    first_nul: int | None = None
    unreadable: str | None = None  # why the file could not be scanned at all, if it could not


def file_problem(raw_file: RawFile, scan: FileScan | None) -> str | None:
    """Why a file whose header was fine still cannot be read as the contract says, if it can't."""
    if scan is not None and scan.unreadable:
        return scan.unreadable
    if scan is None or scan.rows == 0:
        return "header only: no data rows"
    if scan.not_utf8:
        return f"not UTF-8 (data row {scan.first_not_utf8}; {scan.not_utf8} row(s) affected)"
    if scan.nul:
        return f"NUL characters (data row {scan.first_nul}; {scan.nul} row(s) affected)"
    if scan.ragged:
        return (
            f"ragged or truncated rows: {scan.ragged} row(s) do not have the header's"
            f" {len(raw_file.header)} fields (first at data row {scan.first_ragged})"
        )
    return None
