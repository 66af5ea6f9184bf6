"""The arguments every Glue-backed asset passes to its job."""

import dagster as dg

from climate_assets.resources.lake import LakeResource
from climate_assets.resources.warehouse import WarehouseResource


def glue_job_arguments(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dict[str, str]:
    """Lake root, run id, warehouse reference (and its COPY stream bound, when set) and, for a
    partitioned run, its day range.

    A run over a range of days (a single-run backfill) passes the whole range to one job; a
    run of one day (the nightly schedule, declarative automation) passes that day as the range.
    """
    arguments = {
        "--lake-root": lake.root_uri(),
        "--run-id": context.run.run_id,
        "--warehouse": warehouse.job_reference(),
    }
    if warehouse.copy_streams is not None:
        arguments["--copy-streams"] = str(warehouse.copy_streams)
    if context.has_partition_key_range or context.has_partition_key:  # a range, or one day
        key_range = context.partition_key_range
        arguments["--start-date"] = key_range.start
        arguments["--end-date"] = key_range.end
    return arguments
