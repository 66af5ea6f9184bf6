"""Helpers the Dagster-level tests share."""

from __future__ import annotations


def materialize_days(state_dir, start: str, end: str, asset_selection=None, instance=None):
    """Run the whole-graph job (or a selection of it) in-process for days start..end, with the
    project's resources on ``state_dir`` (on ``instance``, else a temporary one); return the
    result and the run's event log as text."""
    import os
    from contextlib import nullcontext

    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from climate_assets.constants import WHOLE_GRAPH_JOB
    from climate_assets.definitions import build_definitions
    from climate_assets.settings import Settings

    previous = os.environ.get("CLIMATE_STATE_DIR")
    os.environ["CLIMATE_STATE_DIR"] = str(state_dir)
    try:
        job = build_definitions(Settings.from_env()).resolve_job_def(WHOLE_GRAPH_JOB)
        with nullcontext(instance) if instance else dg.instance_for_test() as instance:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=asset_selection,
                tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
                raise_on_error=False,
            )
            records = instance.get_records_for_run(result.run_id).records
            event_log = "\n".join(str(r.event_log_entry) for r in records)
    finally:
        if previous is None:
            os.environ.pop("CLIMATE_STATE_DIR")
        else:
            os.environ["CLIMATE_STATE_DIR"] = previous
    return result, event_log
