"""The code location: merges each layer's definitions and picks resources for the environment."""

from __future__ import annotations

import dagster as dg

from climate_assets.constants import WHOLE_GRAPH_JOB
from climate_assets.defs.athena.assets import athena_tables_asset
from climate_assets.defs.automation.alerts import alerts_resource, run_failure_alerts
from climate_assets.defs.automation.arrival_sensor import arrival_sensor
from climate_assets.defs.automation.conditions import automation_sensor
from climate_assets.defs.automation.held_days import held_days_sensor
from climate_assets.defs.automation.schedules import nightly_schedule
from climate_assets.defs.derived.assets import derived_metrics_asset
from climate_assets.defs.processed.assets import processed_assets
from climate_assets.environments import executor_for, resources_for, table_kinds_for
from climate_assets.job_specs import engine_for
from climate_assets.partitions import daily_partitions
from climate_assets.settings import Settings
from climate_assets.steps.retries import glue_retry_policy


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
            *processed_assets(daily, retry_policy, engine_for(settings)),
            derived_metrics_asset(daily, retry_policy, engine_for(settings)),
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
