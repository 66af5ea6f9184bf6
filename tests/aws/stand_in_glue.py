"""A stand-in for the boto3 Glue client, as dagster-aws tests its own Glue client: moto's Glue
stores jobs but runs no script, so the stand-in checks that the job is deployed and runs the
deployed script on local Spark (``tests/aws/test_aws_glue_run.py``, ``test_infra_stack.py``)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid

from climate_assets.job_specs import JOB_SPECS
from climate_assets.local_glue.glue_client import LocalGlueClient
from climate_assets.resources.glue import AwsGlueRunner
from climate_assets.settings import GLUE_SCRIPTS_DIR
from tests.aws_support import client


class StandInGlue:
    """The boto3 Glue client as PipesGlueClient calls it: the job comes from moto (as deployed),
    the run happens on local Spark with the deployed script, and the driver's output goes to
    moto's CloudWatch Logs where Glue 5.0 puts it (``/aws-glue/jobs/output``, stream = run id)."""

    def __init__(self, local: LocalGlueClient | None = None, finishes: bool = True):
        self._glue, self._logs, self._s3 = client("glue"), client("logs"), client("s3")
        self._local = local
        self._finishes = finishes
        self.exceptions = self._glue.exceptions
        self.started: list[tuple[str, dict]] = []
        self.stopped: list[str] = []
        self._jobs: dict[str, dict] = {}
        self._polls = 0

    def _deployed_script(self, job: dict) -> bytes:
        location = job["Command"]["ScriptLocation"].removeprefix("s3://")
        bucket, _, key = location.partition("/")
        return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def start_job_run(self, JobName: str, Arguments: dict, **_) -> dict:  # noqa: N803
        job = self._glue.get_job(JobName=JobName)["Job"]  # fails unless deployed
        script = JOB_SPECS[JobName].script
        assert self._deployed_script(job) == (GLUE_SCRIPTS_DIR / script).read_bytes()
        self.started.append((JobName, dict(Arguments)))
        if not self._finishes:
            run_id = f"jr_{uuid.uuid4().hex}"
            self._jobs[run_id] = job
            return {"JobRunId": run_id}
        run_id = self._local.start_job_run(JobName=JobName, Arguments=Arguments)["JobRunId"]
        self._jobs[run_id] = job
        state = self._local.get_job_run(JobName=JobName, RunId=run_id)["JobRun"]["JobRunState"]
        group = "/aws-glue/jobs/output"
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_group(logGroupName=group)
        self._logs.create_log_stream(logGroupName=group, logStreamName=run_id)
        self._logs.put_log_events(
            logGroupName=group,
            logStreamName=run_id,
            logEvents=[
                {
                    "timestamp": int(time.time() * 1000),
                    "message": f"stand-in Glue driver: {script} finished {state}",
                }
            ],
        )
        return {"JobRunId": run_id}

    def get_job_run(self, JobName: str, RunId: str, **_) -> dict:  # noqa: N803
        job = self._jobs[RunId]
        if not self._finishes:
            self._polls += 1
            if self._polls == 2:  # the run is waiting on Glue: cancel it as a user would
                os.kill(os.getpid(), signal.SIGINT)
            job_run = {"Id": RunId, "JobName": JobName, "JobRunState": "RUNNING"}
        else:
            job_run = self._local.get_job_run(JobName=JobName, RunId=RunId)["JobRun"]
        job_run.update(
            GlueVersion=job["GlueVersion"],  # the deployed job's, as AWS Glue reports it
            WorkerType=job["WorkerType"],
            NumberOfWorkers=job["NumberOfWorkers"],
            LogGroupName="/aws-glue/jobs",
        )
        return {"JobRun": job_run}

    def get_paginator(self, name: str):
        return self._glue.get_paginator(name)  # moto's: no run of this stand-in is in flight

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str], **_) -> dict:  # noqa: N803
        self.stopped += JobRunIds
        return {
            "SuccessfulSubmissions": [{"JobName": JobName, "JobRunId": i} for i in JobRunIds],
            "Errors": [],
        }


STAND_INS: dict[str, StandInGlue] = {}


class StandInAwsGlueRunner(AwsGlueRunner):
    """``AwsGlueRunner`` with the stand-in Glue client (everything else is the real runner)."""

    stand_in: str

    def glue_client(self):
        return STAND_INS[self.stand_in]
