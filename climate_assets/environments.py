"""Resources per environment. The embedded default needs no cloud account."""

from __future__ import annotations

import dagster as dg

from climate_assets.job_specs import engine_for
from climate_assets.resources.athena import DuckDBAthena, GlueCatalogAthena
from climate_assets.resources.glue import AwsGlueRunner, LocalGlueRunner
from climate_assets.resources.lake import LocalLakeResource, S3LakeResource
from climate_assets.resources.quality import QualityThresholds
from climate_assets.resources.warehouse import LocalWarehouse, SecretsManagerWarehouse
from climate_assets.settings import (
    ENV_ATHENA_RESULTS,
    ENV_AWS,
    ENV_AWS_REGION,
    ENV_LAKE_BUCKET,
    ENV_PIPES_BUCKET,
    ENV_RDS_SECRET_ID,
    ENV_WAREHOUSE_URL,
    GLUE_SCRIPTS_DIR,
    AwsSettings,
    Settings,
)


def local_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Lake in a folder, embedded PostgreSQL, job scripts in-process (DuckDB, or local Spark),
    DuckDB for Athena."""
    return {
        "lake": LocalLakeResource(root=str(settings.lake_root)),
        "warehouse": LocalWarehouse(
            url_env_var=ENV_WAREHOUSE_URL if settings.warehouse_url else None,
            embedded_pgdata=str(settings.pgdata),
            lease_timeout_seconds=settings.lease_timeout_seconds,
            copy_streams=settings.copy_streams,
        ),
        "glue": LocalGlueRunner(
            scripts_dir=str(GLUE_SCRIPTS_DIR),
            spark_master=settings.spark_master,
            spark_driver_memory=settings.spark_driver_memory,
            spark_java_options=settings.spark_java_options,
            engine=engine_for(settings),
            duckdb_memory_limit=settings.duckdb_memory_limit,
            duckdb_temp_dir=str(settings.duckdb_temp_dir),
        ),
        "athena": DuckDBAthena(database_path=str(settings.athena_database)),
    }


# One Spark session serves a whole run only if every step runs in the run's process.
LOCAL_EXECUTOR = dg.in_process_executor


def aws_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """S3 lake, Glue jobs through Pipes on S3, RDS through Secrets Manager, Glue Data Catalog
    and Athena. Required settings are ``dg.EnvVar``s, resolved when a run launches."""
    aws = settings.aws or AwsSettings.from_env()
    region = dg.EnvVar(ENV_AWS_REGION)
    return {
        "lake": S3LakeResource(bucket=dg.EnvVar(ENV_LAKE_BUCKET), prefix=aws.lake_prefix),
        "warehouse": SecretsManagerWarehouse(
            secret_id=dg.EnvVar(ENV_RDS_SECRET_ID),
            host=aws.rds_host,
            port=aws.rds_port,
            dbname=aws.rds_database,
            sslmode=aws.rds_sslmode,
            lease_timeout_seconds=settings.lease_timeout_seconds,
            copy_streams=settings.copy_streams,
        ),
        "glue": AwsGlueRunner(
            region=region,
            pipes_bucket=dg.EnvVar(ENV_PIPES_BUCKET),
            pipes_prefix=aws.pipes_prefix,
            dpu_hour_price=aws.dpu_hour_price,
        ),
        "athena": GlueCatalogAthena(
            region=region,
            workgroup=aws.athena_workgroup,
            results_location=dg.EnvVar(ENV_ATHENA_RESULTS),
            first_year=int(settings.partitions_start[:4]),
        ),
    }


# On AWS every step only waits on its Glue job: steps run in parallel processes.
AWS_EXECUTOR = dg.multiprocess_executor


def resources_for(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The environment's resources, and the check thresholds (the same in both)."""
    chosen = (
        aws_resources(settings) if settings.environment == ENV_AWS else local_resources(settings)
    )
    return {**chosen, "quality": QualityThresholds(max_reject_rate=settings.max_reject_rate)}


# What the Athena table assets are in each environment (their ``kinds`` in the UI).
LOCAL_TABLE_KINDS = {"duckdb"}
AWS_TABLE_KINDS = {"athena"}


def table_kinds_for(settings: Settings) -> set[str]:
    return AWS_TABLE_KINDS if settings.environment == ENV_AWS else LOCAL_TABLE_KINDS


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    return AWS_EXECUTOR if settings.environment == ENV_AWS else LOCAL_EXECUTOR
