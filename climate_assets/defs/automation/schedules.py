"""The nightly schedule: yesterday's partition of the whole graph at 02:00 UTC.

It replaces the old workflow trigger ``cron(0 2 * * ? *)``. The whole-graph job also carries the
unpartitioned assets (locations and the Athena tables), so they are refreshed in the same run.
"""

from __future__ import annotations

import dagster as dg

NIGHTLY_SCHEDULE = "nightly_climate_graph"
NIGHTLY_HOUR_UTC = 2


def nightly_schedule(whole_graph: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Daily at 02:00 UTC, for the day that just ended (the job's last daily partition)."""
    return dg.build_schedule_from_partitioned_job(
        whole_graph,
        name=NIGHTLY_SCHEDULE,
        hour_of_day=NIGHTLY_HOUR_UTC,
        minute_of_hour=0,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Yesterday's partition of every asset, plus locations and the Athena tables.",
    )
