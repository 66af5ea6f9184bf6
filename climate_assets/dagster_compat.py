"""The one place the code location reaches into Dagster's private modules, each with its reason.

Dagster exports no public name for these; they are imported here only, re-exported, and
``tests/dagster/test_dagster_compat.py`` imports each one through this module and checks that it still
means what the project relies on, so a Dagster upgrade that moves or changes one fails that
test rather than a run.

- ``PARTITION_NAME_TAG``, ``ASSET_PARTITION_RANGE_START_TAG``, ``ASSET_PARTITION_RANGE_END_TAG``
  (``dagster._core.storage.tags``): the run tags that say which partition, or which range of
  partitions, a run materializes (``dagster/partition``, ``dagster/asset_partition_range_start``,
  ``..._end``): Dagster sets and reads them but exports no constant. ``climate_assets.partitions``
  is the one module of the code location that reads or writes them.
- ``InstigatorStatus`` (``dagster._core.scheduler.instigation``): the status of a stored sensor
  or schedule state (``DagsterInstance.all_instigator_state``), as set by a start or stop in the
  UI; ``dg.DefaultSensorStatus`` is only the default declared in code.
- ``IN_PROGRESS_RUN_STATUSES`` (``dagster._core.storage.dagster_run``): the run statuses of a run
  that has started and not ended. The public ``DagsterRun.is_finished`` answers for one run, but a
  ``dg.RunsFilter`` needs the statuses themselves.

The one private method of dagster-aws that the project overrides,
``PipesGlueClient._extract_dagster_metadata`` (a run's cost and times as its metadata), is kept
the same way in ``climate_assets.resources.glue_pipes`` (not here: dagster-aws and boto3 are
imported only when a job runs, and this module is imported by every Dagster process), tested in
the same test file.

It also holds a workaround for a Dagster bug that refuses UI backfills of the curated metrics.

The bug (Dagster 1.13.27, reported in ``docs/upstream/time-window-subset-ne.md``): Dagster's
time-window partitions subset is a ``NamedTuple`` of (partitions definition, number of
partitions, time windows) that overrides ``__eq__`` to compare the definition and the windows
only, since the number is computed lazily and may be unset. It does not override ``__ne__``, so
``!=`` is the tuple's, which compares the number too: for the same days, a subset built from
partition names (number 2) and one derived through a partition mapping (number unset) are
both ``==`` and ``!=``.

Where it bites: launching an asset backfill with ``assetSelection`` and ``partitionNames``, what
the UI's Materialize dialog sends, the webserver checks that every key of a non-subsettable
multi-asset targets the same subset, with ``!=``. ``resilience_scores`` depends on
``health_risks`` and ``hospital_resources`` inside the ``derived_metrics`` multi-asset, so its
subset is derived through the partition mapping while theirs come from the partition names:
the backfill is refused ("Targeted subset must match between every key in a non-subsettable
multi-asset") although the days are the same. The lineage is right, so the definitions stay.

The fix gives the class the ``__ne__`` that ``__eq__`` implies. It is applied where the instance
is loaded (``climate_assets.instance``), which every Dagster process of the project does: the
webserver (which runs that check), the daemon and run workers. It does nothing once Dagster
defines ``__ne__`` itself; ``tests/e2e/test_ui_backfill.py`` says when the bug is gone.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "IN_PROGRESS_RUN_STATUSES",
    "PARTITION_NAME_TAG",
    "InstigatorStatus",
    "fix_time_window_subset_inequality",
]


def time_window_subset_class() -> type:
    """Dagster's time-window partitions subset class, reached through public API only."""
    return type(dg.DailyPartitionsDefinition(start_date="2020-01-01").empty_subset())


def has_own_inequality(cls: type) -> bool:
    """Whether ``cls`` (or a base before ``tuple``) defines ``__ne__``, as a fix upstream would."""
    for base in cls.__mro__:
        if base is tuple:
            return False
        if "__ne__" in base.__dict__:
            return True
    return False


def _not_equal(self, other) -> bool:
    return not self == other


def fix_time_window_subset_inequality() -> None:
    """``a != b`` is ``not a == b`` for time-window partitions subsets (idempotent)."""
    cls = time_window_subset_class()
    if not has_own_inequality(cls):
        cls.__ne__ = _not_equal
