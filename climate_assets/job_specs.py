"""The Glue jobs: the one home for what each job is.

A job's name (the Glue job ``climate-assets deploy`` makes and the asset launches), the script
it runs (the same file locally and on AWS Glue, under ``glue_scripts/``), the assets it
materializes, the raw dataset it processes, its size on AWS Glue, and the engine it runs on.
The assets, ``climate-assets jobs``, ``deploy`` and ``status`` all read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg
from climate_glue.contract import RAW_DATASETS, Dataset

from climate_assets.constants import (
    CLIMATE_DATA,
    HEALTH_DATA,
    HEALTH_RISKS,
    HOSPITAL_DATA,
    HOSPITAL_RESOURCES,
    LOCATIONS,
    RESILIENCE_SCORES,
)
from climate_assets.settings import ENV_AWS, Settings

# A Glue Spark job runs the Spark engine; the local engine (CLIMATE_ENGINE) is the embedded
# default's only.
AWS_ENGINE = "spark"


@dataclass(frozen=True)
class JobSpec:
    """One Glue job; worker type and count, timeout and concurrent runs are its size on AWS."""

    name: str
    script: str  # file name under glue_scripts/
    assets: tuple[dg.AssetKey, ...]
    dataset: str | None  # the raw dataset it processes (contract name); None: the derived job
    description: str
    worker_type: str = "G.1X"
    workers: int = 2
    timeout_minutes: int = 60
    max_concurrent_runs: int = 4  # a backfill of several ranges may run a job in parallel

    @property
    def raw_dataset(self) -> Dataset | None:
        """The contract's raw dataset this job processes, None for the derived job."""
        return None if self.dataset is None else RAW_DATASETS[self.dataset]


def engine_for(settings: Settings) -> str:
    """The engine the jobs run on: Spark on AWS Glue always; locally the settings' engine
    (``CLIMATE_ENGINE``: DuckDB by default, or local Spark)."""
    return AWS_ENGINE if settings.environment == ENV_AWS else settings.engine


PROCESS_LOCATIONS = JobSpec(
    name="process-locations",
    script="process_locations.py",
    assets=(LOCATIONS,),
    dataset="locations",
    description="Locations from raw/locations: ids kept as text, validated, unique by location_id.",
)
PROCESS_CLIMATE = JobSpec(
    name="process-climate-data",
    script="process_climate_data.py",
    assets=(CLIMATE_DATA,),
    dataset="climate",
    description="Daily climate observations per location (raw/climate), validated against"
    " locations.",
)
PROCESS_HEALTH = JobSpec(
    name="process-health-data",
    script="process_health_data.py",
    assets=(HEALTH_DATA,),
    dataset="health",
    description="Daily health outcomes per location (raw/health): case counts by category.",
)
PROCESS_HOSPITAL = JobSpec(
    name="process-hospital-data",
    script="process_hospital_data.py",
    assets=(HOSPITAL_DATA,),
    dataset="hospital",
    description="Daily capacity snapshot per hospital (raw/hospital): beds, ICU, backup power,"
    " flood zone.",
)
DERIVED_METRICS = JobSpec(
    name="calculate-derived-metrics",
    script="calculate_derived_metrics.py",
    assets=(HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES),
    dataset=None,
    description="One Glue job (calculate-derived-metrics) materializes the three curated metrics.",
    # It joins three datasets and writes three outputs in three formats.
    timeout_minutes=120,
)

PROCESSING_JOBS = (PROCESS_LOCATIONS, PROCESS_CLIMATE, PROCESS_HEALTH, PROCESS_HOSPITAL)
# Job name -> spec, in the order the graph runs them.
JOB_SPECS: Mapping[str, JobSpec] = {spec.name: spec for spec in (*PROCESSING_JOBS, DERIVED_METRICS)}
