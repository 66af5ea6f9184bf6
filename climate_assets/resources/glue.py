"""Running Glue jobs through Dagster Pipes: the runners.

Both environments use dagster-aws's ``PipesGlueClient``; only the Glue client behind it and the
Pipes channel differ. On the embedded default it is ``LocalGlueClient`` (the real job scripts on
one local Spark session per run) with a temp-file channel. On AWS it is boto3's Glue client on
the jobs that ``climate-assets deploy`` made, with the Pipes context and messages on S3 and the
driver's output streamed from CloudWatch Logs (``glue_logs``). What a run used and cost is in
``glue_cost``. The Pipes client itself (``glue_pipes``) and dagster-aws are imported when a job
runs, not when the code location loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from climate_glue.aws import aws_client
from climate_glue.runtime import PIPES_MESSAGES_ARGUMENT
from dagster_pipes import decode_param
from pydantic import PrivateAttr

from climate_assets.job_specs import AWS_ENGINE, JOB_SPECS
from climate_assets.local_glue.glue_client import LocalGlueClient
from climate_assets.local_glue.spark import local_spark_session
from climate_assets.resources.glue_runs import run_tag, runs_in_flight, same_work, wait_until_ended
from climate_assets.settings import (
    DEFAULT_DPU_HOUR_PRICE,
    DEFAULT_DRIVER_MEMORY,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DEFAULT_ENGINE,
    DEFAULT_PIPES_PREFIX,
    DEFAULT_SPARK_MASTER,
)

if TYPE_CHECKING:  # imported when a job runs: dagster-aws and boto3 are not for the code location
    from climate_assets.resources.glue_pipes import ClimateGlueClient


class GlueJobRunner(dg.ConfigurableResource):
    """Launches a Glue job for an asset and returns what the job reported through Pipes."""

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        raise NotImplementedError

    def run_ids_in_flight(self) -> set[str]:
        """The Dagster run ids (``--run-id``) of the project's Glue runs still in flight: their
        staging folders are in use, whatever became of the Dagster runs."""
        return set()


class LocalGlueRunner(GlueJobRunner):
    """The job scripts in-process: on DuckDB (the default: one connection per job, no JVM), or
    on local PySpark 3.5 for Glue parity (``engine="spark"``: one Spark session per run).

    The Spark session starts on the first job of a run and stops when the run's resources are
    torn down, so a run pays for one JVM whatever the number of assets it materializes. This
    needs the in-process executor (every step in the run's process), which the embedded default
    uses.
    """

    scripts_dir: str
    engine: str = DEFAULT_ENGINE  # duckdb | spark: the job scripts' --engine
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_driver_memory: str = DEFAULT_DRIVER_MEMORY
    spark_java_options: str = ""  # JVM options after the engine's own (the last one wins)
    spark_shuffle_partitions: int = 4  # small local data: few, larger tasks; AQE coalesces
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT  # each DuckDB job's memory_limit
    duckdb_temp_dir: str | None = None  # where DuckDB jobs spill; None: DuckDB's own (./.tmp)

    _client: LocalGlueClient | None = PrivateAttr(default=None)

    def _session(self):
        return local_spark_session(
            master=self.spark_master,
            driver_memory=self.spark_driver_memory,
            java_options=self.spark_java_options,
            shuffle_partitions=self.spark_shuffle_partitions,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        scripts = {name: Path(self.scripts_dir, spec.script) for name, spec in JOB_SPECS.items()}
        self._client = LocalGlueClient(scripts, self._session)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.stop()

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        from climate_assets.resources.glue_pipes import ClimateGlueClient
        from climate_assets.resources.pipes_readers import TempFileMessageReader

        pipes = ClimateGlueClient(
            client=self._client,
            context_injector=dg.PipesTempFileContextInjector(),
            message_reader=TempFileMessageReader(),
        )
        arguments = {**arguments, "--engine": self.engine, **self.engine_arguments()}
        return pipes.run(
            context=context,
            start_job_run_params={"JobName": job_name, "Arguments": arguments},
        )

    def engine_arguments(self) -> dict[str, str]:
        """The DuckDB engine's memory bound and spill folder (the Spark engine's is its heap)."""
        if self.engine != "duckdb":
            return {}
        arguments = {"--duckdb-memory-limit": self.duckdb_memory_limit}
        if self.duckdb_temp_dir:
            arguments["--duckdb-temp-dir"] = self.duckdb_temp_dir
        return arguments


class AwsGlueRunner(GlueJobRunner):
    """Real AWS Glue jobs (deployed by ``climate-assets deploy``) through ``PipesGlueClient``.

    The Pipes context goes to S3 and the job's messages come back through S3, read every
    ``poll_interval_seconds`` while the job runs, so logs and metadata arrive during the run;
    the driver's stdout/stderr stream from CloudWatch Logs. A cancelled Dagster run stops the
    Glue run (``batch_stop_job_run``, PipesGlueClient's ``forward_termination``).
    """

    region: str
    pipes_bucket: str
    pipes_prefix: str = DEFAULT_PIPES_PREFIX
    dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE
    poll_interval_seconds: float = 10
    stream_driver_logs: bool = True

    def glue_client(self):
        return aws_client("glue", self.region)

    def run_ids_in_flight(self) -> set[str]:
        glue = self.glue_client()
        return {
            run.get("Arguments", {}).get("--run-id", "")
            for job_name in JOB_SPECS
            for run in runs_in_flight(glue, job_name)
        } - {""}

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        """Start the job's run, or follow one of the same work still in flight (an earlier
        attempt's, ``glue_runs``) after any other run of the job has ended."""
        glue = self.glue_client()
        arguments = {**arguments, "--engine": AWS_ENGINE}
        for found in runs_in_flight(glue, job_name):
            messages = found.get("Arguments", {}).get(PIPES_MESSAGES_ARGUMENT)
            if same_work(found, arguments) and messages:
                follower = self._pipes(context, glue, decode_param(messages))
                return follower.follow(context, job_name, found["Id"])
            context.log.info(
                f"Glue job {job_name} run {found['Id']} (other days, or not started by Dagster)"
                " is still running: waiting for it to end before starting this one"
            )
            wait_until_ended(glue, job_name, found["Id"], self.poll_interval_seconds)
        return self._pipes(context, glue).run(
            context=context,
            start_job_run_params={"JobName": job_name, "Arguments": arguments},
        )

    def _pipes(
        self, context: dg.AssetExecutionContext, glue, following: dict | None = None
    ) -> ClimateGlueClient:
        """The Pipes client of one attempt; ``following``: the Pipes message parameters of a
        run in flight that it follows (where that run writes its messages)."""
        from dagster_aws.pipes import PipesS3ContextInjector

        from climate_assets.resources.glue_pipes import ClimateGlueClient
        from climate_assets.resources.pipes_readers import (
            FollowingS3MessageReader,
            PrefixedS3MessageReader,
        )

        s3 = aws_client("s3", self.region)
        prefix = self.pipes_prefix.strip("/")
        if following is None:
            reader = PrefixedS3MessageReader(
                bucket=self.pipes_bucket,
                client=s3,
                key_prefix=f"{prefix}/messages",
                interval=self.poll_interval_seconds,
            )
        else:
            reader = FollowingS3MessageReader(
                params=following, client=s3, interval=self.poll_interval_seconds
            )

        def record(job_name: str, run_id: str) -> None:
            # As soon as the run is known: an operator (and `status`) sees which Glue run
            # this Dagster run drives, even if this process dies while it runs.
            context.instance.add_run_tags(context.run.run_id, {run_tag(job_name): run_id})

        return ClimateGlueClient(
            client=glue,
            context_injector=PipesS3ContextInjector(
                bucket=self.pipes_bucket, client=s3, key_prefix=f"{prefix}/context/"
            ),
            message_reader=reader,
            logs_client=aws_client("logs", self.region) if self.stream_driver_logs else None,
            dpu_hour_price=self.dpu_hour_price,
            region=self.region,
            forward_termination=True,
            on_run=record,
            poll_seconds=self.poll_interval_seconds,
        )
