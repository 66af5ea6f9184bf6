"""Processed datasets: each raw dataset cleaned by its Glue job into lake Parquet and PostgreSQL."""

import dagster as dg
from climate_glue.contract import CLIMATE, HEALTH, HOSPITAL, Dataset
from climate_glue.contract import LOCATIONS as LOCATIONS_DATASET

from ..constants import (
    CLIMATE_DATA,
    GROUP_PROCESSED,
    HEALTH_DATA,
    HOSPITAL_DATA,
    JOB_PROCESS_CLIMATE,
    JOB_PROCESS_HEALTH,
    JOB_PROCESS_HOSPITAL,
    JOB_PROCESS_LOCATIONS,
    LOCATIONS,
)
from ..resources.glue import GlueJobRunner
from ..resources.lake import LakeResource
from ..resources.warehouse import WarehouseResource
from .arguments import glue_job_arguments
from .checks import check_specs, quality_arguments
from .metadata import with_numeric_metadata

KINDS = {"glue", "spark", "parquet", "postgres"}


@dg.asset(
    key=LOCATIONS,
    group_name=GROUP_PROCESSED,
    kinds=KINDS,
    description="Locations from raw/locations: ids kept as text, validated, unique by location_id.",
    check_specs=check_specs(LOCATIONS, LOCATIONS_DATASET),
)
def locations(
    context: dg.AssetExecutionContext,
    glue: GlueJobRunner,
    lake: LakeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    arguments = glue_job_arguments(context, lake, warehouse)
    arguments.update(quality_arguments(context, [LOCATIONS]))
    result = glue.run(context, JOB_PROCESS_LOCATIONS, arguments).get_materialize_result()
    return with_numeric_metadata(result)


def daily_processed_asset(
    key: dg.AssetKey,
    job_name: str,
    description: str,
    partitions_def: dg.PartitionsDefinition,
    dataset: Dataset,
) -> dg.AssetsDefinition:
    """A daily dataset processed by its Glue job; a range of days runs as one job."""

    @dg.asset(
        key=key,
        deps=[LOCATIONS],
        group_name=GROUP_PROCESSED,
        kinds=KINDS,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=description,
        check_specs=check_specs(key, dataset),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        glue: GlueJobRunner,
        lake: LakeResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        arguments = glue_job_arguments(context, lake, warehouse)
        arguments.update(quality_arguments(context, [key]))
        result = glue.run(context, job_name, arguments).get_materialize_result()
        return with_numeric_metadata(result)

    return _asset


def processed_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [
        locations,
        daily_processed_asset(
            CLIMATE_DATA,
            JOB_PROCESS_CLIMATE,
            "Daily climate observations per location (raw/climate), validated against locations.",
            partitions_def,
            CLIMATE,
        ),
        daily_processed_asset(
            HEALTH_DATA,
            JOB_PROCESS_HEALTH,
            "Daily health outcomes per location (raw/health): case counts by category.",
            partitions_def,
            HEALTH,
        ),
        daily_processed_asset(
            HOSPITAL_DATA,
            JOB_PROCESS_HOSPITAL,
            "Daily capacity snapshot per hospital (raw/hospital): beds, ICU, backup power, flood zone.",
            partitions_def,
            HOSPITAL,
        ),
    ]
