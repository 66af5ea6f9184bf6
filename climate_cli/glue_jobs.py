"""``climate-assets jobs``: the five Glue jobs, the assets each materializes, script and engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from climate_assets.job_specs import JOB_SPECS, JobSpec, engine_for
from climate_assets.settings import ENV_AWS, GLUE_SCRIPTS_DIR, Settings


@dataclass(frozen=True)
class GlueJob:
    name: str
    assets: list[str]
    script: str
    engine: str
    description: str
    worker_type: str | None = None  # on AWS: the job's size (job_specs.py)
    workers: int | None = None
    timeout_minutes: int | None = None
    deployed: dict | None = None  # on AWS: the job as Glue has it (GetJob), None if not deployed


def deployed_job(glue_client, name: str) -> dict:
    """The job as Glue has it (GetJob), or why there is none."""
    try:
        job = glue_client.get_job(JobName=name)["Job"]
    except glue_client.exceptions.EntityNotFoundException:
        return {"error": "not deployed: run `climate-assets deploy`"}
    deployed = {k: job.get(k) for k in ("GlueVersion", "WorkerType", "NumberOfWorkers", "Timeout")}
    deployed["LastModifiedOn"] = str(job.get("LastModifiedOn"))
    return deployed


def glue_job(spec: JobSpec, settings: Settings, glue_client=None) -> GlueJob:
    on_aws = settings.environment == ENV_AWS
    return GlueJob(
        name=spec.name,
        assets=[key.to_user_string() for key in spec.assets],
        script=str((GLUE_SCRIPTS_DIR / spec.script).relative_to(GLUE_SCRIPTS_DIR.parent)),
        engine=engine_for(settings),
        description=spec.description,
        worker_type=spec.worker_type if on_aws else None,
        workers=spec.workers if on_aws else None,
        timeout_minutes=spec.timeout_minutes if on_aws else None,
        deployed=None if glue_client is None else deployed_job(glue_client, spec.name),
    )


def glue_jobs(settings: Settings, glue_client=None) -> list[GlueJob]:
    """The jobs; on AWS also the per-job size and, given a Glue client, the deployed definition."""
    return [glue_job(spec, settings, glue_client) for spec in JOB_SPECS.values()]


def render(jobs: list[GlueJob]) -> str:
    lines = [f"{'job':<27} {'engine':<7} {'script':<40} assets"]
    for job in jobs:
        lines.append(f"{job.name:<27} {job.engine:<7} {job.script:<40} {', '.join(job.assets)}")
        if job.worker_type:
            lines.append(
                f"{'':<27} worker size {job.worker_type} x {job.workers},"
                f" timeout {job.timeout_minutes} min"
            )
        if job.deployed:
            deployed = ", ".join(f"{k}={v}" for k, v in job.deployed.items())
            lines.append(f"{'':<27} deployed: {deployed}")
    return "\n".join(lines)


def as_dicts(jobs: list[GlueJob]) -> list[dict]:
    return [asdict(job) for job in jobs]
