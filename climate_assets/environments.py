"""Resources per environment. The embedded default needs no cloud account."""

from __future__ import annotations

import dagster as dg

from .resources.athena import DuckDBAthena
from .resources.glue import LocalGlueRunner
from .resources.lake import LocalLakeResource
from .resources.warehouse import LocalWarehouse
from .settings import GLUE_SCRIPTS_DIR, Settings


def local_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Lake in a folder, embedded PostgreSQL, job scripts on local Spark, DuckDB for Athena."""
    return {
        "lake": LocalLakeResource(root=str(settings.lake_root)),
        "warehouse": LocalWarehouse(embedded_pgdata=str(settings.pgdata)),
        "glue": LocalGlueRunner(
            scripts_dir=str(GLUE_SCRIPTS_DIR),
            spark_master=settings.spark_master,
            spark_driver_memory=settings.spark_driver_memory,
        ),
        "athena": DuckDBAthena(database_path=str(settings.athena_database)),
    }


# One Spark session serves a whole run only if every step runs in the run's process.
LOCAL_EXECUTOR = dg.in_process_executor
