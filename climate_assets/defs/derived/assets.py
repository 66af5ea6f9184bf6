"""Curated metrics: one Glue job (job_specs.DERIVED_METRICS) materializes all three."""

import dagster as dg
from climate_glue.contract import DERIVED

from climate_assets.constants import (
    CLIMATE_DATA,
    GROUP_CURATED,
    HEALTH_DATA,
    HEALTH_RISKS,
    HOSPITAL_DATA,
    HOSPITAL_RESOURCES,
    LOCATIONS,
    OWNERS,
    RESILIENCE_SCORES,
)
from climate_assets.defs.automation.conditions import DERIVED_AUTOMATION
from climate_assets.defs.columns import asset_columns
from climate_assets.defs.quality.checks import check_specs
from climate_assets.defs.quality.freshness import DAILY_FRESHNESS
from climate_assets.job_specs import AWS_ENGINE, DERIVED_METRICS
from climate_assets.resources.glue import GlueJobRunner
from climate_assets.resources.lake import LakeResource
from climate_assets.resources.quality import QualityThresholds
from climate_assets.resources.warehouse import WarehouseResource
from climate_assets.steps.launch import launch_glue_job
from climate_assets.steps.metadata import each_with_numeric_metadata
from climate_assets.steps.retries import glue_retry_policy

STORAGE_KINDS = {"glue", "parquet", "postgres", "csv", "json"}  # and the engine that runs the job


def _derived_spec(
    key: dg.AssetKey, deps: list[dg.AssetKey], description: str, engine: str
) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=deps,
        group_name=GROUP_CURATED,
        kinds={*STORAGE_KINDS, engine},
        owners=OWNERS,
        freshness_policy=DAILY_FRESHNESS,
        automation_condition=DERIVED_AUTOMATION,
        description=description,
        metadata=asset_columns(key),
    )


# What each curated metric is computed from, and what it holds.
METRICS: dict[dg.AssetKey, tuple[list[dg.AssetKey], str]] = {
    HEALTH_RISKS: (
        [CLIMATE_DATA, HEALTH_DATA, LOCATIONS],
        "Climate hazard and health burden per location and day -> health_risk_index, risk_level.",
    ),
    HOSPITAL_RESOURCES: (
        [HOSPITAL_DATA, LOCATIONS],
        "Hospital capacity per location and day (every location, zeros without hospitals).",
    ),
    RESILIENCE_SCORES: (
        [HEALTH_RISKS, HOSPITAL_RESOURCES],
        "Resilience score and category per location and day.",
    ),
}


def derived_specs(engine: str) -> list[dg.AssetSpec]:
    """The specs of the derived job's assets, in its order."""
    return [_derived_spec(key, *METRICS[key], engine) for key in DERIVED_METRICS.assets]


def derived_metrics_asset(
    partitions_def: dg.PartitionsDefinition,
    retry_policy: dg.RetryPolicy | None = None,
    engine: str = AWS_ENGINE,
) -> dg.AssetsDefinition:
    specs = derived_specs(engine)

    @dg.multi_asset(
        name="derived_metrics",
        description=DERIVED_METRICS.description,
        specs=specs,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[
            check for spec in DERIVED for check in check_specs(dg.AssetKey(spec.asset), spec)
        ],
        retry_policy=retry_policy or glue_retry_policy(),
        pool=DERIVED_METRICS.name,  # one run at a time writes the curated layer
    )
    def derived_metrics(
        context: dg.AssetExecutionContext,
        glue: GlueJobRunner,
        lake: LakeResource,
        warehouse: WarehouseResource,
        quality: QualityThresholds,
    ):
        results = launch_glue_job(
            context, glue, lake, warehouse, quality, DERIVED_METRICS.name, DERIVED_METRICS.assets
        ).get_results()
        yield from each_with_numeric_metadata(results)

    return derived_metrics
