"""Running Glue jobs through Dagster Pipes.

Both environments use dagster-aws's ``PipesGlueClient``; only the Glue client behind it and the
Pipes channel differ. On the embedded default it is ``LocalGlueClient`` (the real job scripts on
one local Spark session per run) with a temp-file channel. On AWS it is boto3's Glue client on
the jobs that ``climate-assets deploy`` made, with the Pipes context and messages on S3 and the
driver's output streamed from CloudWatch Logs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.pipes.utils import PipesThreadedMessageReader, forward_only_logs_to_file
from dagster_aws.pipes import (
    PipesCloudWatchLogReader,
    PipesGlueClient,
    PipesS3ContextInjector,
    PipesS3MessageReader,
)
from dagster_aws.pipes.message_readers import get_log_events
from pydantic import PrivateAttr

from ..constants import GLUE_JOB_SCRIPTS
from ..engine.glue_client import LocalGlueClient
from ..engine.spark import local_spark_session

DEFAULT_DPU_HOUR_PRICE = 0.44
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
# Glue 5.0 writes the driver's stdout and stderr to "<LogGroupName>/output", stream = run id.
DEFAULT_GLUE_LOG_GROUP = "/aws-glue/jobs"


def dpu_seconds(job_run: Mapping) -> float | None:
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


class GlueDriverLogReader(PipesCloudWatchLogReader):
    """Streams a Glue run's driver log (CloudWatch Logs) to stdout while the job runs.

    dagster-aws's reader tails through a generator that only yields when new events arrive, so
    once the stream goes quiet it polls ``get_log_events`` without pause and never notices that
    the Pipes session closed. This one pauses ``interval`` seconds between empty polls and stops
    after the first empty poll once the session has closed.
    """

    def __init__(self, *, interval: float = 5, **kwargs):
        super().__init__(**kwargs)
        self.interval = interval

    def _start(self, params, is_session_closed) -> None:
        request = {
            "logGroupName": params.get("log_group") or self.log_group,
            "logStreamName": params.get("log_stream") or self.log_stream,
            "startFromHead": True,
        }
        while True:
            closed = is_session_closed.is_set()
            response = get_log_events(self.client, max_retries=self.max_retries, **request)
            events = response.get("events", [])
            for event in events:
                for line in event.get("message", "").splitlines():
                    if line:
                        forward_only_logs_to_file(line, self.target_stream)
            request["nextToken"] = response["nextForwardToken"]
            if not events:
                if closed:
                    return
                is_session_closed.wait(self.interval)


class ClimateGlueClient(PipesGlueClient):
    """``PipesGlueClient`` whose run metadata also carries the Glue run's time and cost, and
    which (given a CloudWatch Logs client) streams the driver's output while the job runs."""

    def __init__(
        self,
        *args,
        dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE,
        logs_client=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._dpu_hour_price = dpu_hour_price
        self._logs_client = logs_client

    def _wait_for_job_run_completion(self, job_name: str, run_id: str):
        """Attach a reader of the run's driver log stream, then wait as PipesGlueClient does."""
        reader = self._message_reader
        if self._logs_client is not None and isinstance(reader, PipesThreadedMessageReader):
            job_run = self._client.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            log_group = job_run.get("LogGroupName") or DEFAULT_GLUE_LOG_GROUP
            reader.add_log_reader(
                GlueDriverLogReader(
                    client=self._logs_client,
                    log_group=f"{log_group}/output",
                    log_stream=run_id,
                    debug_info=f"driver output of Glue job {job_name} run {run_id}",
                )
            )
        return super()._wait_for_job_run_completion(job_name, run_id)

    def _extract_dagster_metadata(self, response):
        job_run = response["JobRun"]
        metadata = {
            "glue_job_name": job_run.get("JobName"),
            "glue_job_run_id": job_run.get("Id"),
        }
        region = self._client.meta.region_name
        if region:  # a real AWS Glue: the console link of the run
            metadata["glue_console_url"] = dg.MetadataValue.url(
                f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}"
                f"#/job/{job_run.get('JobName')}/run/{job_run.get('Id')}"
            )
        metadata["glue_execution_seconds"] = job_run.get("ExecutionTime", 0)
        if not region and "LocalExecutionSeconds" in job_run:  # the local engine: exact seconds
            metadata["glue_execution_seconds"] = job_run["LocalExecutionSeconds"]
            metadata["spark_session_start_seconds"] = job_run["LocalSessionStartSeconds"]
        if job_run.get("WorkerType"):
            metadata["glue_worker_type"] = job_run["WorkerType"]
            metadata["glue_workers"] = job_run.get("NumberOfWorkers")
        used = dpu_seconds(job_run)
        if used is not None:
            seconds = job_run.get("ExecutionTime") or 0
            billed = (
                used * MIN_BILLED_SECONDS / seconds if 0 < seconds < MIN_BILLED_SECONDS else used
            )
            metadata["glue_dpu_seconds"] = used
            metadata["glue_dpu_hour_price_usd"] = self._dpu_hour_price
            metadata["glue_cost_usd"] = round(billed / 3600 * self._dpu_hour_price, 4)
        return metadata


class GlueJobRunner(dg.ConfigurableResource):
    """Launches a Glue job for an asset and returns what the job reported through Pipes."""

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        raise NotImplementedError


class LocalGlueRunner(GlueJobRunner):
    """The job scripts in-process: on DuckDB (the default: one connection per job, no JVM), or
    on local PySpark 3.5 for Glue parity (``engine="spark"``: one Spark session per run).

    The Spark session starts on the first job of a run and stops when the run's resources are
    torn down, so a run pays for one JVM whatever the number of assets it materializes. This
    needs the in-process executor (every step in the run's process), which the embedded default
    uses.
    """

    scripts_dir: str
    engine: str = "duckdb"  # duckdb | spark: the job scripts' --engine
    spark_master: str = "local[*]"
    spark_driver_memory: str = "1536m"
    spark_java_options: str = ""  # JVM options after the engine's own (the last one wins)
    spark_shuffle_partitions: int = 4  # small local data: few, larger tasks; AQE coalesces

    _client: LocalGlueClient | None = PrivateAttr(default=None)

    def _session(self):
        return local_spark_session(
            master=self.spark_master,
            driver_memory=self.spark_driver_memory,
            java_options=self.spark_java_options,
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
        arguments = {**arguments, "--engine": self.engine}
        return pipes.run(
            context=context,
            start_job_run_params={"JobName": job_name, "Arguments": arguments},
        )


def _aws_client(service: str, region: str):
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 10})
    return boto3.client(service, region_name=region or None, config=config)


class PrefixedS3MessageReader(PipesS3MessageReader):
    """``PipesS3MessageReader`` whose message chunks go under a key prefix of the bucket (the
    reader alone writes them at the bucket's root), so IAM can scope Pipes to that prefix."""

    def __init__(self, *, key_prefix: str, **kwargs):
        super().__init__(**kwargs)
        self._key_prefix = key_prefix.strip("/")

    @contextmanager
    def get_params(self) -> Iterator[dict]:
        with super().get_params() as params:
            yield {**params, "key_prefix": f"{self._key_prefix}/{params['key_prefix']}"}


class AwsGlueRunner(GlueJobRunner):
    """Real AWS Glue jobs (deployed by ``climate-assets deploy``) through ``PipesGlueClient``.

    The Pipes context goes to S3 and the job's messages come back through S3, read every
    ``poll_interval_seconds`` while the job runs, so logs and metadata arrive during the run;
    the driver's stdout/stderr stream from CloudWatch Logs. A cancelled Dagster run stops the
    Glue run (``batch_stop_job_run``, PipesGlueClient's ``forward_termination``).
    """

    region: str
    pipes_bucket: str
    pipes_prefix: str = "dagster-pipes"
    dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE
    poll_interval_seconds: float = 10
    stream_driver_logs: bool = True

    def glue_client(self):
        return _aws_client("glue", self.region)

    def run(
        self, context: dg.AssetExecutionContext, job_name: str, arguments: Mapping[str, str]
    ) -> dg.PipesClientCompletedInvocation:
        s3 = _aws_client("s3", self.region)
        prefix = self.pipes_prefix.strip("/")
        pipes = ClimateGlueClient(
            client=self.glue_client(),
            context_injector=PipesS3ContextInjector(
                bucket=self.pipes_bucket, client=s3, key_prefix=f"{prefix}/context/"
            ),
            message_reader=PrefixedS3MessageReader(
                bucket=self.pipes_bucket,
                client=s3,
                key_prefix=f"{prefix}/messages",
                interval=self.poll_interval_seconds,
            ),
            logs_client=_aws_client("logs", self.region) if self.stream_driver_logs else None,
            dpu_hour_price=self.dpu_hour_price,
            forward_termination=True,
        )
        # Glue Spark jobs run the Spark engine: DuckDB is the embedded default's.
        arguments = {**arguments, "--engine": "spark"}
        return pipes.run(
            context=context,
            start_job_run_params={"JobName": job_name, "Arguments": arguments},
        )
