"""The Pipes client behind both Glue runners: dagster-aws's ``PipesGlueClient`` with the run's
cost as metadata and the driver's output streamed from CloudWatch Logs.

Imported only when a job runs (``glue.py``): dagster-aws brings boto3 and its own components
with it (about 0.8 s of imports), which the code location, the daemon's sensors and the CLI do
not need on the embedded default.
"""

from __future__ import annotations

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from ..settings import DEFAULT_DPU_HOUR_PRICE
from .glue_cost import run_metadata
from .glue_logs import GlueDriverLogReader, driver_log_group


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
      point between the start and the end of the run, so the reader is attached there.
    """

    def __init__(
        self,
        *args,
        dpu_hour_price: float = DEFAULT_DPU_HOUR_PRICE,
        region: str | None = None,
        logs_client=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._dpu_hour_price = dpu_hour_price
        self._region = region
        self._logs_client = logs_client

    def _wait_for_job_run_completion(self, job_name: str, run_id: str):
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
