"""Processed datasets: each raw dataset cleaned by its Glue job into lake Parquet and PostgreSQL."""

import warnings

import dagster as dg

from climate_assets.constants import GROUP_PROCESSED, LOCATIONS, OWNERS
from climate_assets.defs.columns import asset_columns
from climate_assets.defs.quality.checks import check_specs
from climate_assets.defs.quality.freshness import DAILY_FRESHNESS
from climate_assets.job_specs import AWS_ENGINE, PROCESSING_JOBS, JobSpec
from climate_assets.resources.glue import GlueJobRunner
from climate_assets.resources.lake import LakeResource
from climate_assets.resources.quality import QualityThresholds
from climate_assets.resources.warehouse import WarehouseResource
from climate_assets.steps.input_files import INPUT_FILES, input_files
from climate_assets.steps.launch import launch_glue_job
from climate_assets.steps.metadata import with_metadata, with_numeric_metadata
from climate_assets.steps.retries import glue_retry_policy

STORAGE_KINDS = {"glue", "parquet", "postgres"}  # and the engine that runs the job


def run_processing_job(
    context: dg.AssetExecutionContext,
    glue: GlueJobRunner,
    lake: LakeResource,
    warehouse: WarehouseResource,
    quality: QualityThresholds,
    spec: JobSpec,
) -> dg.MaterializeResult:
    """The job's result, with the raw files it was launched on (``input_files``: key -> tag).

    A day's materialization records that day's files only: a range run records one
    materialization per day, and the range's files on each would grow as the square of its
    days (a year: 365 records of 365 days of files)."""
    dataset = spec.raw_dataset
    if dataset.daily:
        lake_now = lake.open()
        files = {day: input_files(lake_now, dataset, [day]) for day in context.partition_keys}
    else:
        files = {None: input_files(lake.open(), dataset)}
    result = launch_glue_job(context, glue, lake, warehouse, quality, spec.name, spec.assets)
    materialization = result.get_materialize_result()
    if dataset.daily:
        for day, day_files in files.items():
            context.add_asset_metadata(
                {INPUT_FILES: dg.MetadataValue.json(day_files)}, partition_key=day
            )
    else:
        materialization = with_metadata(
            materialization, {INPUT_FILES: dg.MetadataValue.json(files[None])}
        )
    return with_numeric_metadata(materialization)


def processed_asset(
    spec: JobSpec,
    partitions_def: dg.PartitionsDefinition,
    retry_policy: dg.RetryPolicy | None = None,
    engine: str = AWS_ENGINE,
) -> dg.AssetsDefinition:
    """A raw dataset processed by its Glue job. A daily one is partitioned by day, depends on
    locations (its rows are validated against them), and a range of days runs as one job."""
    dataset = spec.raw_dataset
    (key,) = spec.assets
    daily = {}
    if dataset.daily:
        daily = {
            "deps": [LOCATIONS],
            "partitions_def": partitions_def,
            "backfill_policy": dg.BackfillPolicy.single_run(),
            "freshness_policy": DAILY_FRESHNESS,
        }

    @dg.asset(
        key=key,
        group_name=GROUP_PROCESSED,
        kinds={*STORAGE_KINDS, engine},
        owners=OWNERS,
        description=spec.description,
        metadata=asset_columns(key),
        check_specs=check_specs(key, dataset),
        retry_policy=retry_policy or glue_retry_policy(),
        pool=spec.name,  # one run at a time writes a dataset (dagster.yaml: concurrency.pools)
        **daily,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        glue: GlueJobRunner,
        lake: LakeResource,
        warehouse: WarehouseResource,
        quality: QualityThresholds,
    ) -> dg.MaterializeResult:
        return run_processing_job(context, glue, lake, warehouse, quality, spec)

    return _asset


def processed_assets(
    partitions_def: dg.PartitionsDefinition,
    retry_policy: dg.RetryPolicy | None = None,
    engine: str = AWS_ENGINE,
) -> list[dg.AssetsDefinition]:
    """The four processed assets, one per processing job; ``retry_policy`` retries their
    transient faults. Their single-run backfill policy is the design (a range of days is one
    Glue job); Dagster 1.13 marks ``backfill_policy`` beta on ``@asset`` only (not on
    ``@multi_asset``, where the curated metrics use it), so that one notice is not shown."""
    # A process-wide filter, not warnings.catch_warnings(): that one swaps the global filter
    # list and is not thread-safe, so definitions built in two threads at once (the daemon, a
    # status read during a run) could lose it. Adding the same filter again replaces it.
    warnings.filterwarnings(
        "ignore",
        message="Parameter `backfill_policy` of function `asset` is currently in beta",
        category=dg.BetaWarning,
    )
    return [processed_asset(spec, partitions_def, retry_policy, engine) for spec in PROCESSING_JOBS]
