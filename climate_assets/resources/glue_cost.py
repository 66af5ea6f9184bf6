"""What a Glue job run used and cost, and the metadata a materialization shows of it.

Pure functions of the job-run record (``GetJobRun``'s ``JobRun``): the same record from AWS
Glue or from the local engine (``climate_assets.local_glue``, whose ``GlueVersion`` starts with
``local``) gives the same answer wherever it is computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from climate_assets.settings import DEFAULT_DPU_HOUR_PRICE

# DPUs per worker of each Glue worker type (AWS Glue pricing).
WORKER_TYPE_DPU = {
    "G.025X": 0.25,
    "G.1X": 1,
    "G.2X": 2,
    "G.4X": 4,
    "G.8X": 8,
    "G.12X": 12,
    "G.16X": 16,
    "R.1X": 1,
    "R.2X": 2,
    "R.4X": 4,
    "R.8X": 8,
    "Z.2X": 2,
    "Standard": 1,
}
MIN_BILLED_SECONDS = 60  # Glue 2.0 and later bill per second with a one-minute minimum
LOCAL_GLUE_VERSION_PREFIX = "local"  # the local engine's runs: no AWS bill, no console


def is_local_run(job_run: Mapping[str, Any]) -> bool:
    """Whether the record is of a run on the local engine rather than on AWS Glue."""
    return str(job_run.get("GlueVersion") or "").startswith(LOCAL_GLUE_VERSION_PREFIX)


def dpu_seconds(job_run: Mapping[str, Any]) -> float | None:
    """DPU-seconds of a Glue run: ``DPUSeconds`` when Glue reports it (auto scaling, Flex),
    else ExecutionTime x workers x DPU per worker (or x MaxCapacity). None when unknown."""
    if job_run.get("DPUSeconds") is not None:
        return float(job_run["DPUSeconds"])
    seconds = job_run.get("ExecutionTime")
    if seconds is None:
        return None
    worker_dpu = WORKER_TYPE_DPU.get(job_run.get("WorkerType") or "")
    if worker_dpu is not None and job_run.get("NumberOfWorkers"):
        return float(seconds * job_run["NumberOfWorkers"] * worker_dpu)
    if job_run.get("MaxCapacity"):
        return float(seconds * job_run["MaxCapacity"])
    return None


def cost_usd(job_run: Mapping[str, Any], dpu_hour_price: float) -> float | None:
    """The run's cost as Glue bills it (per second, one-minute minimum); None when unknown
    (no DPU figures) and for local runs, which AWS does not bill."""
    used = dpu_seconds(job_run)
    if used is None or is_local_run(job_run):
        return None
    seconds = job_run.get("ExecutionTime") or 0
    billed = used * MIN_BILLED_SECONDS / seconds if 0 < seconds < MIN_BILLED_SECONDS else used
    return round(billed / 3600 * dpu_hour_price, 4)


def console_url(job_run: Mapping[str, Any], region: str) -> str:
    """The run's page in the AWS Glue console."""
    return (
        f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}"
        f"#/job/{job_run.get('JobName')}/run/{job_run.get('Id')}"
    )


def run_metadata(
    job_run: Mapping[str, Any],
    *,
    dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE,
    region: str | None = None,
) -> dict[str, Any]:
    """The materialization metadata of a finished Glue run: its name and id, the console link
    (given the region of an AWS run), its time, workers, DPU-seconds and cost."""
    metadata: dict[str, Any] = {
        "glue_job_name": job_run.get("JobName"),
        "glue_job_run_id": job_run.get("Id"),
    }
    local = is_local_run(job_run)
    if region and not local:
        metadata["glue_console_url"] = dg.MetadataValue.url(console_url(job_run, region))
    metadata["glue_execution_seconds"] = job_run.get("ExecutionTime", 0)
    if local and "LocalExecutionSeconds" in job_run:  # the local engine: exact seconds
        metadata["glue_execution_seconds"] = job_run["LocalExecutionSeconds"]
        metadata["spark_session_start_seconds"] = job_run["LocalSessionStartSeconds"]
    if job_run.get("WorkerType"):
        metadata["glue_worker_type"] = job_run["WorkerType"]
        metadata["glue_workers"] = job_run.get("NumberOfWorkers")
    cost = cost_usd(job_run, dpu_hour_price)
    if cost is not None:
        metadata["glue_dpu_seconds"] = dpu_seconds(job_run)
        metadata["glue_dpu_hour_price_usd"] = dpu_hour_price
        metadata["glue_cost_usd"] = cost
    return metadata
