"""``climate-assets upload FILE --dataset NAME``: put a CSV into the landing zone.

Locations go to ``raw/locations/<name>.csv``. A daily dataset's file is split by its ``date``
column (the header matched case-insensitively after trimming, as the contract says) into
``raw/<dataset>/date=YYYY-MM-DD/<name>.csv``, one file per day with the header, so a whole year
can be dropped at once. Every row's date is checked first: a missing or invalid one fails the
upload naming the file and row, and nothing is written. Files are written through the lake, so
each appears complete or not at all, and an upload of the same file again writes the same bytes
(the arrival sensors see no change and launch nothing).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

from climate_glue.contract import RAW_DATASETS, RAW_PREFIX, date_partition
from climate_glue.lake import Lake

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_COLUMN = "date"
MAX_ERRORS_SHOWN = 10


class UploadError(ValueError):
    """A file that cannot be uploaded as given; the message names the file, row and rule."""


def _valid_day(text: str) -> bool:
    if not ISO_DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def split_by_date(path: Path, text: str) -> dict[str, str]:
    """The CSV text per ISO day, each with the header row. Raises UploadError on a bad date."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header:
        raise UploadError(f"{path}: empty file (expected a header row)")
    names = [name.strip().lower() for name in header]
    if DATE_COLUMN not in names:
        raise UploadError(f"{path}: header has no '{DATE_COLUMN}' column: {', '.join(header)}")
    position = names.index(DATE_COLUMN)
    by_day: dict[str, list[list[str]]] = defaultdict(list)
    errors = []
    for number, row in enumerate(rows, start=1):
        if not row or all(not value.strip() for value in row):
            continue
        value = row[position].strip() if position < len(row) else ""
        if not _valid_day(value):
            errors.append(f"row {number}: date {value!r} is missing or not YYYY-MM-DD")
            continue
        by_day[value].append(row)
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = (
            f" and {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        )
        raise UploadError(
            f"{path}: {len(errors)} row(s) with a bad date ({shown}{more}); nothing written"
        )
    if not by_day:
        raise UploadError(f"{path}: no data rows")
    out = {}
    for day, day_rows in sorted(by_day.items()):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(day_rows)
        out[day] = buffer.getvalue()
    return out


def upload(lake: Lake, path: Path, dataset_name: str) -> list[str]:
    """Write ``path`` into the landing zone of ``dataset_name``; returns the keys written."""
    dataset = RAW_DATASETS.get(dataset_name)
    if dataset is None:
        raise UploadError(
            f"unknown dataset {dataset_name!r}: one of {', '.join(sorted(RAW_DATASETS))}"
        )
    if path.suffix.lower() != ".csv":
        raise UploadError(f"{path}: not a .csv file")
    data = path.read_bytes()
    name = f"{path.stem}.csv"
    if not dataset.daily:
        key = f"{RAW_PREFIX}/{dataset.name}/{name}"
        lake.write_bytes(key, data)
        return [key]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"{path}: not UTF-8 (byte {exc.start})") from None
    keys = []
    for day, content in split_by_date(path, text).items():
        key = f"{RAW_PREFIX}/{dataset.name}/{date_partition(day)}/{name}"
        lake.write_text(key, content)
        keys.append(key)
    return keys
