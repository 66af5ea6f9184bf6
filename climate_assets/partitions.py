"""The daily partitions that every dated asset shares, and ranges of them.

A range of days is inclusive at both ends, as ``dg.PartitionKeyRange`` is. A day is a
``datetime.date`` or its ISO text (a partition key); each function gives back what it was given.
A run covers a range when it carries Dagster's range tags (what a single-run backfill, the arrival
sensor and the CLI set), or one day when it carries the partition tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TypeVar

import dagster as dg

from climate_assets.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

Day = TypeVar("Day", date, str)


def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day from ``start_date`` (CLIMATE_PARTITIONS_START) to yesterday."""
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone="UTC")


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


def _like(day: date, example: date | str):
    return day if isinstance(example, date) else day.isoformat()


def days_of(first: Day, last: Day) -> list[Day]:
    """Every day from ``first`` to ``last``, both included (none when last is before first)."""
    start, end = _as_date(first), _as_date(last)
    return [_like(start + timedelta(days=n), first) for n in range((end - start).days + 1)]


def stretches(days: Iterable[Day]) -> list[tuple[Day, Day]]:
    """The days, sorted and without repeats, grouped into (first, last) stretches of
    consecutive days."""
    found: list[tuple[Day, Day]] = []
    previous: date | None = None
    for day in sorted(set(days), key=_as_date):
        current = _as_date(day)
        if previous is not None and current == previous + timedelta(days=1):
            found[-1] = (found[-1][0], day)
        else:
            found.append((day, day))
        previous = current
    return found


def range_text(first: date | str, last: date | str) -> str:
    """``2024-07-01..2024-07-03``, or the one day when first is last."""
    return f"{first}" if first == last else f"{first}..{last}"


def range_tags(first: date | str, last: date | str) -> dict[str, str]:
    """The run tags of a run over first..last (one run for the range: the assets' single-run
    backfill policy runs each Glue job once for it)."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: _as_date(first).isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: _as_date(last).isoformat(),
    }


def run_range(tags: Mapping[str, str]) -> dg.PartitionKeyRange | None:
    """The days a run covers, from its tags (``DagsterRun.tags``): its range, or its one
    partition as a range of one day; None for a run without partitions."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return dg.PartitionKeyRange(start, end)
    one = tags.get(PARTITION_NAME_TAG)
    return dg.PartitionKeyRange(one, one) if one else None
