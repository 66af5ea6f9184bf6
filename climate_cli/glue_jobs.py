"""``climate-assets jobs``: the five Glue jobs, the assets each materializes, script and engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from climate_assets.constants import (
    CLIMATE_DATA,
    GLUE_JOB_SCRIPTS,
    HEALTH_DATA,
    HEALTH_RISKS,
    HOSPITAL_DATA,
    HOSPITAL_RESOURCES,
    JOB_DERIVED_METRICS,
    JOB_PROCESS_CLIMATE,
    JOB_PROCESS_HEALTH,
    JOB_PROCESS_HOSPITAL,
    JOB_PROCESS_LOCATIONS,
    LOCATIONS,
    RESILIENCE_SCORES,
)
from climate_assets.settings import ENV_AWS, GLUE_SCRIPTS_DIR, Settings

# The assets each Glue job materializes (the derived job is one multi-asset).
JOB_ASSETS = {
    JOB_PROCESS_LOCATIONS: (LOCATIONS,),
    JOB_PROCESS_CLIMATE: (CLIMATE_DATA,),
    JOB_PROCESS_HEALTH: (HEALTH_DATA,),
    JOB_PROCESS_HOSPITAL: (HOSPITAL_DATA,),
    JOB_DERIVED_METRICS: (HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES),
}
DEFAULT_ENGINE = "spark"


def engine_name(settings: Settings) -> str:
    """The engine the jobs run on: ``Settings.engine`` (CLIMATE_ENGINE) once settings have it,
    else Spark, the only engine so far."""
    return getattr(settings, "engine", None) or DEFAULT_ENGINE


@dataclass(frozen=True)
class GlueJob:
    name: str
    assets: list[str]
    script: str
    engine: str
    worker_type: str | None = None  # on AWS: from the deployed definition (deploy.py)
    workers: int | None = None
    deployed: dict | None = None  # on AWS: the job as Glue has it (GetJob), None if not deployed


def glue_jobs(settings: Settings, glue_client=None) -> list[GlueJob]:
    """The jobs; on AWS also the per-job size and, given a Glue client, the deployed definition."""
    sizes = {}
    if settings.environment == ENV_AWS:
        from climate_cli.deploy import DEFAULT_SIZE, JOB_SIZES

        sizes = {name: JOB_SIZES.get(name, DEFAULT_SIZE) for name in JOB_ASSETS}
    jobs = []
    for name, keys in JOB_ASSETS.items():
        size = sizes.get(name)
        deployed = None
        if glue_client is not None:
            try:
                job = glue_client.get_job(JobName=name)["Job"]
                deployed = {
                    k: job.get(k)
                    for k in ("GlueVersion", "WorkerType", "NumberOfWorkers", "Timeout")
                }
                deployed["LastModifiedOn"] = str(job.get("LastModifiedOn"))
            except glue_client.exceptions.EntityNotFoundException:
                deployed = {"error": "not deployed: run `climate-assets deploy`"}
        jobs.append(
            GlueJob(
                name=name,
                assets=[key.to_user_string() for key in keys],
                script=str(
                    (GLUE_SCRIPTS_DIR / GLUE_JOB_SCRIPTS[name]).relative_to(GLUE_SCRIPTS_DIR.parent)
                ),
                engine=engine_name(settings),
                worker_type=getattr(size, "worker_type", None),
                workers=getattr(size, "workers", None),
                deployed=deployed,
            )
        )
    return jobs


def render(jobs: list[GlueJob]) -> str:
    lines = [f"{'job':<27} {'engine':<7} {'script':<40} assets"]
    for job in jobs:
        lines.append(f"{job.name:<27} {job.engine:<7} {job.script:<40} {', '.join(job.assets)}")
        if job.worker_type:
            lines.append(f"{'':<27} worker size {job.worker_type} x {job.workers}")
        if job.deployed:
            deployed = ", ".join(f"{k}={v}" for k, v in job.deployed.items())
            lines.append(f"{'':<27} deployed: {deployed}")
    return "\n".join(lines)


def as_dicts(jobs: list[GlueJob]) -> list[dict]:
    return [asdict(job) for job in jobs]
