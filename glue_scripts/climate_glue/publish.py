"""Writing outputs aside and publishing them (contract section 3).

A job stages every output of its run under ``_staging/<run id>/`` first. Only when all of them
(and the PostgreSQL staging table) are complete, and its blocking checks have passed on them
(``write_audit_publish.audit``), does it publish, one partition folder at a time, each by an
atomic swap; a day whose checks failed is held back, its live folder untouched. A re-run of a
partition replaces exactly that partition; a partition whose new data has no rows becomes an
empty folder rather than keeping stale rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from .contract import HIVE_PARTITION_COLUMNS, STAGING_PREFIX, date_partition, hive_partition
from .engines import Engine, Frame
from .lake import Lake
from .logic import hive_columns


class Layout(NamedTuple):
    """How a dated output is laid out: the folder of a day, and the columns it is written by."""

    folder: Callable[[date], str]
    partition_by: tuple[str, ...]


LAYOUTS = {
    "hive": Layout(hive_partition, HIVE_PARTITION_COLUMNS),  # lake, exports
    "date": Layout(date_partition, ("date",)),  # rejects, like the landing zone
}


@dataclass
class StagedOutput:
    """One output staged for publishing: where it is now and where it goes."""

    live: str  # lake prefix, e.g. processed/climate_data
    staged: str  # lake prefix under _staging/<run>/
    days: list[date] | None  # None: an unpartitioned output, swapped whole
    layout: str = "hive"

    def publish(self, lake: Lake, held: frozenset[date] = frozenset()) -> list[str]:
        """Swap each partition into place, but the ``held`` days (their checks failed: the
        live folder stays as it was); returns the published prefixes."""
        if self.days is None:
            if not lake.exists(self.staged):
                raise RuntimeError(f"nothing staged at {self.staged}")
            lake.publish(self.staged, self.live)
            return [self.live]
        published = []
        for day in self.days:
            if day in held:
                continue
            part = LAYOUTS[self.layout].folder(day)
            staged, live = f"{self.staged}/{part}", f"{self.live}/{part}"
            if not lake.exists(staged):
                lake.make_empty(staged)  # the day has no rows now: publish it empty
            lake.publish(staged, live)
            published.append(live)
        return published


def stage_nothing(
    lake: Lake, run_id: str, live: str, days: list[date], layout: str = "hive"
) -> StagedOutput:
    """A dated output with no rows in any of ``days``: each day is published as an empty
    folder, without a Spark job (a retry's earlier staging is cleared first)."""
    staged = f"{STAGING_PREFIX}/{run_id}/{live}"
    lake.delete(staged)
    return StagedOutput(live=live, staged=staged, days=days, layout=layout)


def stage(
    engine: Engine,
    lake: Lake,
    frame: Frame,
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
        engine.write(frame, lake, staged, fmt, ())
    else:
        if layout == "hive":
            frame = engine.sql(hive_columns(frame.name))
        folders = [LAYOUTS[layout].folder(day) for day in days]
        engine.write(frame, lake, staged, fmt, LAYOUTS[layout].partition_by, folders)
    return StagedOutput(live=live, staged=staged, days=days, layout=layout)


def discard_staging(lake: Lake, run_id: str) -> None:
    lake.delete(f"{STAGING_PREFIX}/{run_id}")
