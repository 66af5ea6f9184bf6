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

It also holds a workaround for a Dagster bug that refuses UI backfills of the curated metrics,
and the batched write of a run's planned events (below the bug).

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

**Planned events in one statement** (``PlannedBatchEventLogStorage``). When a run is created,
Dagster records one planned materialization per partition of each asset it targets (so that a
failed run marks exactly its partitions failed: one event for the whole range would not,
dagster-io/dagster#32242 and PR 29288), and one planned evaluation per check. With
``DAGSTER_EVENT_BATCH_SIZE`` set (``climate_assets.instance``) they reach the storage as one
batch, but dagster-postgres 0.29.27 writes a batch in one statement only when it holds
materializations or observations; planned events are written one at a time, each on new
connections: about 2,200 for a backfill of a year. This storage inserts such a batch in one
statement and then updates each asset's row once, with its last planned event, as one at a
time would have left it; the check evaluations planned are stored one by one as before.
dagster-io/dagster PR 33832 (open) does the same in dagster-postgres; when dagster-postgres
writes planned batches itself, this class can go. It needs the event log table
(``SqlEventLogStorageTable``, ``dagster._core.storage.event_log.schema``) and the storage's own
row builder, connection and asset-row update (``prepare_insert_event_batch``, ``_connect``,
``index_transaction``, ``_store_asset_event``), the ones dagster-postgres uses for its own batch
of materializations.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_postgres import PostgresEventLogStorage

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "IN_PROGRESS_RUN_STATUSES",
    "PARTITION_NAME_TAG",
    "InstigatorStatus",
    "PlannedBatchEventLogStorage",
    "SqlEventLogStorageTable",
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


ASSET_PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
CHECK_PLANNED = dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED


class PlannedBatchEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log, writing a batch of planned events in one statement."""

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        kinds = {event.dagster_event_type for event in events}
        if not events or not kinds <= {ASSET_PLANNED, CHECK_PLANNED}:
            super().store_event_batch(events)
            return
        insert = self.prepare_insert_event_batch(events)
        with self._connect() as conn:
            result = conn.execute(insert.returning(SqlEventLogStorageTable.c.id))
            ids = [int(row[0]) for row in result.fetchall()]
        if len(ids) != len(events):
            raise dg.DagsterInvariantViolationError("a planned event was stored without an id")
        last_planned = {}  # asset key -> its last planned event and id, in the batch's order
        for event, event_id in zip(events, ids, strict=True):
            if event.dagster_event_type == ASSET_PLANNED:
                last_planned[event.dagster_event.asset_key] = (event, event_id)
            else:
                self.store_asset_check_event(event, event_id)
        with self.index_transaction() as conn:
            for event, event_id in last_planned.values():
                self._store_asset_event(conn, event, event_id)
