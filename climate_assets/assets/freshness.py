"""Freshness of the latest daily partition: Dagster's own time-partition freshness checks.

Each dated asset should have yesterday's partition by the deadline. The checks warn (a late
day is not bad data) and are evaluated by Dagster's freshness sensor, not inside the jobs;
the whole-graph job leaves them out, since they judge the wall clock, not a run's data.
"""

from __future__ import annotations

import dagster as dg

from ..constants import CLIMATE_DATA, DERIVED_ASSETS, HEALTH_DATA, HOSPITAL_DATA

# Yesterday's partition is due by 09:00 UTC (raw files land overnight, jobs take minutes).
FRESHNESS_DEADLINE_CRON = "0 9 * * *"
FRESHNESS_SENSOR = "freshness_checks_sensor"
DATED_ASSETS = (CLIMATE_DATA, HEALTH_DATA, HOSPITAL_DATA, *DERIVED_ASSETS)


def freshness_checks() -> list[dg.AssetChecksDefinition]:
    return list(
        dg.build_time_partition_freshness_checks(
            assets=list(DATED_ASSETS),
            deadline_cron=FRESHNESS_DEADLINE_CRON,
            severity=dg.AssetCheckSeverity.WARN,
        )
    )


def freshness_sensor(checks: list[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    return dg.build_sensor_for_freshness_checks(
        freshness_checks=checks,
        name=FRESHNESS_SENSOR,
        default_status=dg.DefaultSensorStatus.RUNNING,  # like every sensor of the project
    )
