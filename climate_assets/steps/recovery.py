"""Recovering from a run that died: its Dagster run record, pool slots and staging folder.

A run killed outright (SIGKILL of its process tree) never reports its end: the instance keeps
it as STARTED, its pool slots stay claimed and its ``_staging/<run id>/`` folder stays in the
lake. In-process runs (``climate-assets demo``, ``check``) carry the host and process id of
their process as tags, so a later run can tell a live run from a dead one; runs the daemon
launches are watched by Dagster's run monitoring (``dagster.yaml``).
"""

from __future__ import annotations

import os
import socket

import dagster as dg
from climate_glue.contract import STAGING_PREFIX
from climate_glue.lake import Lake

from climate_assets.dagster_compat import IN_PROGRESS_RUN_STATUSES

HOST_TAG = "climate/host"
PID_TAG = "climate/pid"


def process_tags() -> dict[str, str]:
    """Tags naming this process, for a run executed in it."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def process_is_dead(run: dg.DagsterRun) -> bool:
    """True when the run names a process on this host that no longer exists."""
    pid = run.tags.get(PID_TAG)
    if not pid or run.tags.get(HOST_TAG) != socket.gethostname():
        return False
    return not _process_exists(int(pid))


def run_is_alive(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether run ``run_id`` may still be writing: known, in progress, and not a dead process."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return False
    if run.status not in IN_PROGRESS_RUN_STATUSES and run.status != dg.DagsterRunStatus.NOT_STARTED:
        return False
    return not process_is_dead(run)


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark in-progress runs whose process died as failed and free their pool slots."""
    reaped = []
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[*IN_PROGRESS_RUN_STATUSES, dg.DagsterRunStatus.NOT_STARTED]),
        limit=100,
    )
    for record in records:
        run = record.dagster_run
        if not process_is_dead(run):
            continue
        instance.report_run_failed(
            run, f"The process of this run ({run.tags[PID_TAG]}) no longer exists: it was killed."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def remove_stale_staging(
    lake: Lake,
    instance: dg.DagsterInstance,
    current_run_id: str,
    in_use: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """Delete ``_staging/<run id>/`` of every run that is no longer running and not in
    ``in_use`` (the runs whose Glue job runs are still in flight); returns their ids."""
    removed = []
    for run_id in lake.list_dirs(STAGING_PREFIX):
        if run_id == current_run_id or run_id in in_use or run_is_alive(instance, run_id):
            continue
        lake.delete(f"{STAGING_PREFIX}/{run_id}")
        removed.append(run_id)
    return removed
