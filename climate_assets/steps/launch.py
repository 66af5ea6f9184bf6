"""Launching a Glue-backed asset's job: what every one of them does around ``glue.run``.

In order: faults are classified (only transient ones reach the retry policy,
``climate_assets.steps.retries``); the asset's write lease is taken (``climate_assets.steps.lease``), so no
other run writes it meanwhile; staging folders of dead runs are removed
(``climate_assets.steps.recovery``), but not those of Glue runs still in flight (a killed Dagster run's
Glue run goes on); then the job runs through Pipes with its arguments (or, on AWS, an earlier
attempt's Glue run of the same work still in flight is followed: ``resources.glue_runs``).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from climate_assets.defs.quality.checks import quality_arguments
from climate_assets.resources.glue import GlueJobRunner
from climate_assets.resources.lake import LakeResource
from climate_assets.resources.quality import QualityThresholds
from climate_assets.resources.warehouse import WarehouseResource
from climate_assets.steps.arguments import glue_job_arguments
from climate_assets.steps.lease import asset_lease
from climate_assets.steps.recovery import remove_stale_staging
from climate_assets.steps.retries import retry_only_transient


def launch_glue_job(
    context: dg.AssetExecutionContext,
    glue: GlueJobRunner,
    lake: LakeResource,
    warehouse: WarehouseResource,
    quality: QualityThresholds,
    job_name: str,
    asset_keys: Sequence[dg.AssetKey],
) -> dg.PipesClientCompletedInvocation:
    """Run ``job_name`` for ``asset_keys`` under the lease named after the job."""
    with (
        retry_only_transient(context),
        asset_lease(context, warehouse.dsn(), job_name, warehouse.lease_timeout_seconds),
    ):
        removed = remove_stale_staging(
            lake.open(), context.instance, context.run.run_id, glue.run_ids_in_flight()
        )
        if removed:
            context.log.info(f"removed staging folders of runs no longer running: {removed}")
        arguments = glue_job_arguments(context, lake, warehouse)
        arguments.update(quality_arguments(context, list(asset_keys), quality))
        return glue.run(context, job_name, arguments)
