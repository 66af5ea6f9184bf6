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
from climate_assets.settings import DEFAULT_DPU_HOUR_PRICE


class ClimateGlueClient(PipesGlueClient):
    """``PipesGlueClient`` whose run metadata is ``glue_cost.run_metadata`` of the job-run
    record, and which (given a CloudWatch Logs client) streams the driver's output.

    dagster-aws offers no public hook for either, so two of its methods are overridden:

    - ``_extract_dagster_metadata``: the base builds a console link from
      ``client.meta.region_name``, which only a boto3 client has (the local engine's client is
      not one), and shows nothing of time or cost. This returns a pure function of the record.
    - ``_wait_for_job_run_completion``: the driver's log stream is named by the run id, known
      only once ``start_job_run`` has returned; the base attaches a log reader only when the
      messages themselves come from CloudWatch, and ours come from S3. The wait is the one
      point between the start and the end of the run, so the reader is attached there, and
      the run id is handed to ``on_run`` (which records it) there.

    Private names of dagster-aws are used here only (the overrides, and ``_client``,
    ``_message_reader``, ``_context_injector``, ``_terminate_job_run`` of the base);
    ``tests/test_dagster_compat.py`` fails when a release moves or changes one.

    ``follow`` takes the result of a run that an earlier attempt started (``glue_runs``), as
    ``run`` does of the run it starts, stopping it too if the Dagster run is terminated.
    """

    def __init__(
        self,
        *args,
        dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE,
        region: str | None = None,
        logs_client=None,
        on_run: Callable[[str, str], None] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._dpu_hour_price = dpu_hour_price
        self._region = region
        self._logs_client = logs_client
        self._on_run = on_run

    def follow(
        self, context: dg.AssetExecutionContext, job_name: str, run_id: str
    ) -> dg.PipesClientCompletedInvocation:
        """The result of Glue run ``run_id``, in flight, read as if this attempt had started it
        (the message reader must read where that run writes: ``FollowingS3MessageReader``)."""
        with dg.open_pipes_session(
            context=context,
            message_reader=self._message_reader,
            context_injector=self._context_injector,
        ) as session:
            context.log.info(
                f"Glue job {job_name} run {run_id}, started by an earlier attempt on the same"
                " partitions, is still running: following it instead of starting another"
            )
            try:
                response = self._wait_for_job_run_completion(job_name, run_id)
            except dg.DagsterExecutionInterruptedError:
                if self.forward_termination:
                    self._terminate_job_run(context=context, job_name=job_name, run_id=run_id)
                raise
            job_run = response["JobRun"]
            if job_run["JobRunState"] != "SUCCEEDED":  # the base's words: retries.py reads them
                raise RuntimeError(
                    f"Glue job {job_name} run {run_id} completed with status"
                    f" {job_run['JobRunState']} :\n{job_run.get('ErrorMessage')}"
                )
            context.log.info(f"Glue job {job_name} run {run_id} completed successfully")
        return dg.PipesClientCompletedInvocation(
            session, metadata=self._extract_dagster_metadata(response)
        )

    def _wait_for_job_run_completion(self, job_name: str, run_id: str):
        if self._on_run is not None:
            self._on_run(job_name, run_id)
        reader = self._message_reader
        if self._logs_client is not None and isinstance(reader, dg.PipesBlobStoreMessageReader):
            job_run = self._client.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            reader.add_log_reader(
                GlueDriverLogReader(
                    client=self._logs_client,
                    log_group=driver_log_group(job_run),
                    log_stream=run_id,
                    debug_info=f"driver output of Glue job {job_name} run {run_id}",
                )
            )
        return super()._wait_for_job_run_completion(job_name, run_id)

    def _extract_dagster_metadata(self, response):
        return run_metadata(
            response["JobRun"], dpu_hour_price=self._dpu_hour_price, region=self._region
        )
