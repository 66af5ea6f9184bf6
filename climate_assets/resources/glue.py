"""Running Glue jobs through Dagster Pipes.

Both environments use dagster-aws's ``PipesGlueClient``; only the Glue client behind it and the
Pipes channel differ. On the embedded default it is ``LocalGlueClient`` (the real job scripts on
one local Spark session per run) with a temp-file channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster_aws.pipes import PipesGlueClient
from pydantic import PrivateAttr

from ..constants import GLUE_JOB_SCRIPTS
from ..engine.glue_client import LocalGlueClient
from ..engine.spark import local_spark_session

DEFAULT_DPU_HOUR_PRICE = 0.44


class ClimateGlueClient(PipesGlueClient):
    """``PipesGlueClient`` whose run metadata also carries the Glue run's time and cost."""

    def __init__(self, *args, dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE, **kwargs):
        super().__init__(*args, **kwargs)
        self._dpu_hour_price = dpu_hour_price

    def _extract_dagster_metadata(self, response):
        job_run = response["JobRun"]
        if self._client.meta.region_name:  # a real AWS Glue: keep the console link
            metadata = dict(super()._extract_dagster_metadata(response))
        else:
            metadata = {
                "glue_job_name": job_run.get("JobName"),
                "glue_job_run_id": job_run.get("Id"),
            }
        metadata["glue_execution_seconds"] = job_run.get("ExecutionTime", 0)
        if "LocalExecutionSeconds" in job_run:  # the local engine: exact, and its Spark start
            metadata["glue_execution_seconds"] = job_run["LocalExecutionSeconds"]
            metadata["spark_session_start_seconds"] = job_run["LocalSessionStartSeconds"]
        if "DPUSeconds" in job_run:
            metadata["glue_dpu_seconds"] = job_run["DPUSeconds"]
            metadata["glue_cost_usd"] = round(
                job_run["DPUSeconds"] / 3600 * self._dpu_hour_price, 4
            )
        return metadata


class GlueJobRunner(dg.ConfigurableResource):
    """Launches a Glue job for an asset and returns what the job reported through Pipes."""

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        raise NotImplementedError


class LocalGlueRunner(GlueJobRunner):
    """The job scripts on local PySpark 3.5 (Glue 5.0 parity), one Spark session per run.

    The session starts on the first job of a run and stops when the run's resources are torn
    down, so a run pays for one JVM whatever the number of assets it materializes. This needs
    the in-process executor (every step in the run's process), which the embedded default uses.
    """

    scripts_dir: str
    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = 4  # small local data: few, larger tasks; AQE coalesces

    _client: LocalGlueClient | None = PrivateAttr(default=None)

    def _session(self):
        return local_spark_session(
            master=self.spark_master,
            driver_memory=self.spark_driver_memory,
            shuffle_partitions=self.spark_shuffle_partitions,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        scripts = {job: Path(self.scripts_dir, script) for job, script in GLUE_JOB_SCRIPTS.items()}
        self._client = LocalGlueClient(scripts, self._session)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.stop()

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        pipes = ClimateGlueClient(
            client=self._client,
            context_injector=dg.PipesTempFileContextInjector(),
            message_reader=dg.PipesTempFileMessageReader(),
        )
        return pipes.run(
            context=context,
            start_job_run_params={"JobName": job_name, "Arguments": dict(arguments)},
        )
