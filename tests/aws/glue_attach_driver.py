"""A Dagster step on the AWS path whose Glue runs outlive it (for ``tests/aws/test_aws_glue_run.py``).

    python -m tests.aws.glue_attach_driver materialize STATE RUNS SECRET_ID PIPES_BUCKET
    python -m tests.aws.glue_attach_driver worker RUNS RUN_ID

``materialize`` materializes ``locations`` in this process through ``AwsGlueRunner`` on the
Dagster instance of ``DAGSTER_HOME``, with ``DetachedGlue`` as its Glue client, and exits 0 when
the run succeeded. ``DetachedGlue`` is the boto3 Glue client as a Glue service would be: the run
is recorded in moto (so ``get_job_runs`` lists it with its arguments) and executed by a
``worker`` process in a session of its own, so it goes on when the Dagster process is killed,
as a Glue run does. A worker waits for the file ``RUNS/go`` before it runs the deployed script,
so the test decides how long the run stays in flight. The run's state lives in
``RUNS/<run id>.state.json`` once it has ended; every start is a line of ``RUNS/started``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from tests.aws_support import REGION, client

GO_FILE = "go"
STARTED_FILE = "started"
GATE_TIMEOUT_SECONDS = 600


class DetachedGlue:
    """Glue runs recorded in moto, executed by detached worker processes."""

    def __init__(self, runs: Path):
        self._runs = Path(runs)
        self._glue, self._s3 = client("glue"), client("s3")
        self.exceptions = self._glue.exceptions

    def _state(self, run: dict) -> dict:
        path = self._runs / f"{run['Id']}.state.json"
        ended = json.loads(path.read_text()) if path.exists() else {}
        run = {**run, "JobRunState": ended.get("state", "RUNNING")}
        if not ended:
            run.pop("CompletedOn", None)
        if ended.get("error"):
            run["ErrorMessage"] = ended["error"]
        return run

    def start_job_run(self, JobName: str, Arguments: dict, **_) -> dict:  # noqa: N803
        job = self._glue.get_job(JobName=JobName)["Job"]  # fails unless deployed
        run_id = self._glue.start_job_run(JobName=JobName, Arguments=Arguments)["JobRunId"]
        (self._runs / f"{run_id}.job.json").write_text(
            json.dumps({"script": job["Command"]["ScriptLocation"], "arguments": Arguments})
        )
        with open(self._runs / STARTED_FILE, "a") as started:
            started.write(f"{JobName} {run_id}\n")
        with open(self._runs / f"{run_id}.log", "w") as log:
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.aws.glue_attach_driver",
                    "worker",
                    str(self._runs),
                    run_id,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not in the Dagster process's group: it survives a kill
            )
        return {"JobRunId": run_id}

    def get_job_run(self, JobName: str, RunId: str, **_) -> dict:  # noqa: N803
        run = self._glue.get_job_run(JobName=JobName, RunId=RunId)["JobRun"]
        job = self._glue.get_job(JobName=JobName)["Job"]
        run.update(WorkerType=job["WorkerType"], NumberOfWorkers=job["NumberOfWorkers"])
        return {"JobRun": self._state(run)}

    def get_paginator(self, name: str):
        paginator = self._glue.get_paginator(name)
        glue = self

        class WithStates:
            def paginate(self, **kwargs):
                for page in paginator.paginate(**kwargs):
                    yield {**page, "JobRuns": [glue._state(r) for r in page["JobRuns"]]}

        return WithStates()

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str], **_) -> dict:  # noqa: N803
        for run_id in JobRunIds:
            (self._runs / f"{run_id}.state.json").write_text(json.dumps({"state": "STOPPED"}))
        return {
            "SuccessfulSubmissions": [{"JobName": JobName, "JobRunId": i} for i in JobRunIds],
            "Errors": [],
        }


def worker(runs: Path, run_id: str) -> None:
    """One Glue run: wait for the gate, run the deployed script, record how it ended."""
    job = json.loads((runs / f"{run_id}.job.json").read_text())
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while not (runs / GO_FILE).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the test never opened the gate")
        time.sleep(0.2)
    bucket, _, key = job["script"].removeprefix("s3://").partition("/")
    script = runs / f"{run_id}.py"
    script.write_bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    # The run's orchestration is under test here, not its engine (the Spark engine's AWS path
    # is tested by the module's first tests): the script runs on DuckDB, which starts in a second.
    arguments = {**job["arguments"], "--engine": "duckdb"}
    argv = [part for pair in arguments.items() for part in pair]
    state: dict = {"state": "SUCCEEDED"}
    try:
        spec = importlib.util.spec_from_file_location(f"glue_run_{run_id}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(argv)
    except Exception as exc:
        traceback.print_exc()
        state = {"state": "FAILED", "error": f"{type(exc).__name__}: {exc}"}
    (runs / f"{run_id}.state.json").write_text(json.dumps(state))


def materialize(state: Path, runs: Path, secret_id: str, pipes_bucket: str) -> int:
    import dagster as dg

    from climate_assets.constants import LOCATIONS
    from climate_assets.defs.processed.assets import processed_assets
    from climate_assets.partitions import daily_partitions
    from climate_assets.resources.glue import AwsGlueRunner
    from climate_assets.resources.lake import LocalLakeResource
    from climate_assets.resources.quality import QualityThresholds
    from climate_assets.resources.warehouse import SecretsManagerWarehouse

    class DetachedAwsGlueRunner(AwsGlueRunner):
        runs: str

        def glue_client(self):
            return DetachedGlue(Path(self.runs))

    assets = processed_assets(daily_partitions("2024-01-01"))
    locations = next(a for a in assets if LOCATIONS in a.keys)
    result = dg.materialize(
        [locations],
        instance=dg.DagsterInstance.get(),
        resources={
            "lake": LocalLakeResource(root=str(state / "lake")),
            "warehouse": SecretsManagerWarehouse(secret_id=secret_id, lease_timeout_seconds=60),
            "glue": DetachedAwsGlueRunner(
                region=REGION,
                pipes_bucket=pipes_bucket,
                poll_interval_seconds=0.5,
                stream_driver_logs=False,
                runs=str(runs),
            ),
            "quality": QualityThresholds(),
        },
        raise_on_error=False,
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "worker":
        worker(Path(rest[0]), rest[1])
    else:
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        sys.exit(materialize(Path(rest[0]), Path(rest[1]), rest[2], rest[3]))
