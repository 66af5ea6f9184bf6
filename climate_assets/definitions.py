"""The code location: merges each layer's definitions and picks resources for the environment."""

from __future__ import annotations

import dagster as dg

from .alerts import alerts_resource, run_failure_alerts
from .assets.athena import athena_tables_asset
from .assets.derived import derived_metrics_asset
from .assets.processed import processed_assets
from .automation import automation_sensor
from .constants import WHOLE_GRAPH_JOB
from .environments import engine_kind_for, executor_for, resources_for, table_kinds_for
from .held_days import held_days_sensor
from .partitions import daily_partitions
from .retries import glue_retry_policy
from .schedules import nightly_schedule
from .sensors.arrival import arrival_sensor
from .settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    daily = daily_partitions(settings.partitions_start)
    retry_policy = glue_retry_policy(settings.retry_max, settings.retry_delay_seconds)
    whole_graph = dg.define_asset_job(
        WHOLE_GRAPH_JOB,
        selection=dg.AssetSelection.all(),
        description="Every asset: processed datasets, derived metrics and Athena tables.",
    )
    return dg.Definitions(
        assets=[
            *processed_assets(daily, retry_policy, engine_kind_for(settings)),
            derived_metrics_asset(daily, retry_policy, engine_kind_for(settings)),
            athena_tables_asset(table_kinds_for(settings)),
        ],
        jobs=[whole_graph],
        sensors=[
            arrival_sensor(daily, settings.sensor_interval_seconds),
            automation_sensor(settings.sensor_interval_seconds),
            run_failure_alerts,
            held_days_sensor(whole_graph),
        ],
        schedules=[nightly_schedule(whole_graph)],
        resources={**resources_for(settings), "alerts": alerts_resource(settings.alert_topic_arn)},
        executor=executor_for(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
