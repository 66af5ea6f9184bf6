"""Processed datasets: each raw dataset cleaned by its Glue job into lake Parquet and PostgreSQL."""

import warnings

import dagster as dg
from climate_glue.contract import CLIMATE, HEALTH, HOSPITAL, Dataset
from climate_glue.contract import LOCATIONS as LOCATIONS_DATASET

from climate_assets.constants import (
    CLIMATE_DATA,
    GROUP_PROCESSED,
    HEALTH_DATA,
    HOSPITAL_DATA,
    JOB_PROCESS_CLIMATE,
    JOB_PROCESS_HEALTH,
    JOB_PROCESS_HOSPITAL,
    JOB_PROCESS_LOCATIONS,
    LOCATIONS,
    OWNERS,
)
from climate_assets.defs.columns import asset_columns
from climate_assets.defs.quality.checks import check_specs
from climate_assets.defs.quality.freshness import DAILY_FRESHNESS
from climate_assets.resources.glue import GlueJobRunner
from climate_assets.resources.lake import LakeResource
from climate_assets.resources.quality import QualityThresholds
from climate_assets.resources.warehouse import WarehouseResource
from climate_assets.steps.input_files import INPUT_FILES, input_files
from climate_assets.steps.launch import launch_glue_job
from climate_assets.steps.metadata import with_numeric_metadata
from climate_assets.steps.retries import glue_retry_policy

STORAGE_KINDS = {"glue", "parquet", "postgres"}  # and the engine that runs the job


def run_processing_job(
    context: dg.AssetExecutionContext,
    glue: GlueJobRunner,
    lake: LakeResource,
    warehouse: WarehouseResource,
    quality: QualityThresholds,
    key: dg.AssetKey,
    job_name: str,
    dataset: Dataset,
) -> dg.MaterializeResult:
    """The job's result, with the raw files it was launched on (``input_files``: key -> tag)."""
    days = context.partition_key_range if context.has_partition_key_range else None
    files = input_files(lake.open(), dataset, days and days.start, days and days.end)
    result = launch_glue_job(context, glue, lake, warehouse, quality, job_name, [key])
    materialization = result.get_materialize_result()
    return with_numeric_metadata(
        materialization._replace(
            metadata={
                **(materialization.metadata or {}),
                INPUT_FILES: dg.MetadataValue.json(files),
            }
        )
    )


def locations_asset(
    retry_policy: dg.RetryPolicy | None = None, engine: str = "spark"
) -> dg.AssetsDefinition:
    @dg.asset(
        key=LOCATIONS,
        group_name=GROUP_PROCESSED,
        kinds={*STORAGE_KINDS, engine},
        owners=OWNERS,
        description="Locations from raw/locations: ids kept as text, validated, unique by location_id.",
        metadata=asset_columns(LOCATIONS),
        check_specs=check_specs(LOCATIONS, LOCATIONS_DATASET),
        retry_policy=retry_policy or glue_retry_policy(),
        pool=JOB_PROCESS_LOCATIONS,
    )
    def locations(
        context: dg.AssetExecutionContext,
        glue: GlueJobRunner,
        lake: LakeResource,
        warehouse: WarehouseResource,
        quality: QualityThresholds,
    ) -> dg.MaterializeResult:
        return run_processing_job(
            context,
            glue,
            lake,
            warehouse,
            quality,
            LOCATIONS,
            JOB_PROCESS_LOCATIONS,
            LOCATIONS_DATASET,
        )

    return locations


def daily_processed_asset(
    key: dg.AssetKey,
    job_name: str,
    description: str,
    partitions_def: dg.PartitionsDefinition,
    dataset: Dataset,
    retry_policy: dg.RetryPolicy | None = None,
    engine: str = "spark",
) -> dg.AssetsDefinition:
    """A daily dataset processed by its Glue job; a range of days runs as one job."""

    @dg.asset(
        key=key,
        deps=[LOCATIONS],
        group_name=GROUP_PROCESSED,
        kinds={*STORAGE_KINDS, engine},
        owners=OWNERS,
        freshness_policy=DAILY_FRESHNESS,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=description,
        metadata=asset_columns(key),
        check_specs=check_specs(key, dataset),
        retry_policy=retry_policy or glue_retry_policy(),
        pool=job_name,  # one run at a time writes a dataset (dagster.yaml: concurrency.pools)
    )
    def _asset(
        context: dg.AssetExecutionContext,
        glue: GlueJobRunner,
        lake: LakeResource,
        warehouse: WarehouseResource,
        quality: QualityThresholds,
    ) -> dg.MaterializeResult:
        return run_processing_job(context, glue, lake, warehouse, quality, key, job_name, dataset)

    return _asset


def processed_assets(
    partitions_def: dg.PartitionsDefinition,
    retry_policy: dg.RetryPolicy | None = None,
    engine: str = "spark",
) -> list[dg.AssetsDefinition]:
    """The four processed assets; ``retry_policy`` retries their transient faults. Their
    single-run backfill policy is the design (a range of days is one Glue job); Dagster 1.13
    marks ``backfill_policy`` beta on ``@asset`` only (not on ``@multi_asset``, where the curated
    metrics use it), so that one notice is not shown."""
    # A process-wide filter, not warnings.catch_warnings(): that one swaps the global filter
    # list and is not thread-safe, so definitions built in two threads at once (the daemon, a
    # status read during a run) could lose it. Adding the same filter again replaces it.
    warnings.filterwarnings(
        "ignore",
        message="Parameter `backfill_policy` of function `asset` is currently in beta",
        category=dg.BetaWarning,
    )
    return _processed_asset_list(partitions_def, retry_policy, engine)


def _processed_asset_list(
    partitions_def: dg.PartitionsDefinition, retry_policy: dg.RetryPolicy | None, engine: str
) -> list[dg.AssetsDefinition]:
    return [
        locations_asset(retry_policy, engine),
        daily_processed_asset(
            CLIMATE_DATA,
            JOB_PROCESS_CLIMATE,
            "Daily climate observations per location (raw/climate), validated against locations.",
            partitions_def,
            CLIMATE,
            retry_policy,
            engine,
        ),
        daily_processed_asset(
            HEALTH_DATA,
            JOB_PROCESS_HEALTH,
            "Daily health outcomes per location (raw/health): case counts by category.",
            partitions_def,
            HEALTH,
            retry_policy,
            engine,
        ),
        daily_processed_asset(
            HOSPITAL_DATA,
            JOB_PROCESS_HOSPITAL,
            "Daily capacity snapshot per hospital (raw/hospital): beds, ICU, backup power, flood zone.",
            partitions_def,
            HOSPITAL,
            retry_policy,
            engine,
        ),
    ]
