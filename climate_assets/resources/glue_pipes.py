"""The Pipes client behind both Glue runners: dagster-aws's ``PipesGlueClient`` with the run's
cost as metadata, the driver's output streamed from CloudWatch Logs, and a run in flight
followed (``follow``).

Imported only when a job runs (``glue.py``): dagster-aws brings boto3 and its own components
with it (about 0.8 s of imports), which the code location, the daemon's sensors and the CLI do
not need on the embedded default.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from climate_assets.resources.glue_cost import run_metadata
from climate_assets.resources.glue_logs import GlueDriverLogReader, driver_log_group
from climate_assets.resources.glue_runs import wait_until_ended
from climate_assets.settings import DEFAULT_DPU_HOUR_PRICE

DEFAULT_POLL_SECONDS = 5  # between two GetJobRun calls while a followed run goes on


class _WatchedGlueClient:
    """The Glue client as ``PipesGlueClient`` is given it (its ``client`` argument): every call
    goes to ``client``; a run that ``start_job_run`` started is handed to ``on_start`` (job
    name, run id) as soon as the call returns."""

    def __init__(self, client, on_start: Callable[[str, str], None]):
        self._client = client
        self._on_start = on_start

    def start_job_run(self, **params) -> dict:
        response = self._client.start_job_run(**params)
        self._on_start(params["JobName"], response["JobRunId"])
        return response

    def __getattr__(self, name: str):
        return getattr(self._client, name)


class ClimateGlueClient(PipesGlueClient):
    """``PipesGlueClient`` whose run metadata is ``glue_cost.run_metadata`` of the job-run
    record, and which (given a CloudWatch Logs client) streams the driver's output.

    A started run is seen through dagster-aws's public ``client`` argument: the Glue client is
    wrapped (``_WatchedGlueClient``), so once ``start_job_run`` returns the run id is handed to
    ``on_run`` (which records it) and the driver's log stream, named by the run id, is attached
    to the message reader (the base attaches one only when the messages themselves come from
    CloudWatch, and ours come from S3).

    The run's metadata has no public hook: ``PipesGlueClient.run`` builds its result from
    ``_extract_dagster_metadata``, the one private method overridden here. The base's builds a
    console link from ``client.meta.region_name``, which only a boto3 client has (the local
    engine's client is not one), and shows nothing of time or cost; this one is a pure function
    of the record. ``tests/dagster/test_dagster_compat.py`` fails when a dagster-aws release moves it.

    ``follow`` takes the result of a run that an earlier attempt started (``glue_runs``), as
    ``run`` does of the run it starts, stopping it too if the Dagster run is terminated.
    """

    def __init__(
        self,
        *,
        client,
        context_injector: dg.PipesContextInjector,
        message_reader: dg.PipesMessageReader,
        forward_termination: bool = True,
        dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE,
        region: str | None = None,
        logs_client=None,
        on_run: Callable[[str, str], None] | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ):
        super().__init__(
            context_injector=context_injector,
            message_reader=message_reader,
            client=_WatchedGlueClient(client, self._started),
            forward_termination=forward_termination,
        )
        self._glue = client
        self._injector = context_injector
        self._reader = message_reader
        self._dpu_hour_price = dpu_hour_price
        self._region = region
        self._logs_client = logs_client
        self._on_run = on_run
        self._poll_seconds = poll_seconds

    def _started(self, job_name: str, run_id: str) -> None:
        """A run is known: record it, and stream its driver's output (given a logs client)."""
        if self._on_run is not None:
            self._on_run(job_name, run_id)
        if self._logs_client is not None and isinstance(
            self._reader, dg.PipesBlobStoreMessageReader
        ):
            job_run = self._glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            self._reader.add_log_reader(
                GlueDriverLogReader(
                    client=self._logs_client,
                    log_group=driver_log_group(job_run),
                    log_stream=run_id,
                    debug_info=f"driver output of Glue job {job_name} run {run_id}",
                )
            )

    def follow(
        self, context: dg.AssetExecutionContext, job_name: str, run_id: str
    ) -> dg.PipesClientCompletedInvocation:
        """The result of Glue run ``run_id``, in flight, read as if this attempt had started it
        (the message reader must read where that run writes: ``FollowingS3MessageReader``)."""
        with dg.open_pipes_session(
            context=context, message_reader=self._reader, context_injector=self._injector
        ) as session:
            context.log.info(
                f"Glue job {job_name} run {run_id}, started by an earlier attempt on the same"
                " partitions, is still running: following it instead of starting another"
            )
            self._started(job_name, run_id)
            try:
                wait_until_ended(self._glue, job_name, run_id, self._poll_seconds)
            except dg.DagsterExecutionInterruptedError:
                if self.forward_termination:
                    context.log.info(f"execution interrupted: stopping Glue job run {run_id}")
                    self._glue.batch_stop_job_run(JobName=job_name, JobRunIds=[run_id])
                raise
            job_run = self._glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            if job_run["JobRunState"] != "SUCCEEDED":  # the base's words: retries.py reads them
                raise RuntimeError(
                    f"Glue job {job_name} run {run_id} completed with status"
                    f" {job_run['JobRunState']} :\n{job_run.get('ErrorMessage')}"
                )
            context.log.info(f"Glue job {job_name} run {run_id} completed successfully")
        return dg.PipesClientCompletedInvocation(session, metadata=self._run_metadata(job_run))

    def _run_metadata(self, job_run: dict) -> dict:
        return run_metadata(job_run, dpu_hour_price=self._dpu_hour_price, region=self._region)

    def _extract_dagster_metadata(self, response):  # dagster-aws's, overridden: see the class
        return self._run_metadata(response["JobRun"])
