"""Glue runs that outlive the Dagster step that started them.

A Glue run goes on when the Dagster process that started it dies (SIGKILL, a lost node): the
asset's write lease dies with that process, the Glue run does not. So before starting a run,
the next attempt of the step (a step retry, a re-execution, a run retry) asks Glue for the job's
runs still in flight (``get_job_runs``): a run of the same work (same job, lake, warehouse and
days, started through Pipes) is followed to its end and its result taken instead of starting a
second one; any other run of the job (other days, or one started by hand) is waited for first,
since two runs of one job must not write at once (what the lease guarantees while its holder
lives). Glue is asked, not Dagster's records, so this holds whichever process, run or instance
started the run.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Job-run states that have not ended (https://docs.aws.amazon.com/glue/latest/dg/job-run-statuses.html).
ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
# The arguments that say what a run writes: equal values, the same work.
WORK_ARGUMENTS = ("--lake-root", "--warehouse", "--start-date", "--end-date")
# Glue's longest job timeout (2,880 minutes): a run started before that has ended.
MAX_RUN_AGE = timedelta(hours=48)
# The run tag that records the Glue run of a job as soon as it starts (or is followed).
RUN_TAG_PREFIX = "climate/glue_run."


def run_tag(job_name: str) -> str:
    return f"{RUN_TAG_PREFIX}{job_name}"


def runs_in_flight(client, job_name: str, now: datetime | None = None) -> list[dict]:
    """The job's runs that have not ended, newest first (Glue lists a job's runs newest first,
    so the listing stops at the first run older than any run can last)."""
    oldest = (now or datetime.now(UTC)) - MAX_RUN_AGE
    found = []
    for page in client.get_paginator("get_job_runs").paginate(JobName=job_name):
        for run in page["JobRuns"]:
            started = run.get("StartedOn")
            if started is not None and started < oldest:
                return found
            if run["JobRunState"] in ACTIVE_STATES:
                found.append(run)
    return found


def same_work(run: dict, arguments: dict[str, str]) -> bool:
    """Whether the Glue run ``run`` writes what a run with ``arguments`` would."""
    given = run.get("Arguments") or {}
    return all(given.get(name) == arguments.get(name) for name in WORK_ARGUMENTS)


def wait_until_ended(client, job_name: str, run_id: str, interval: float) -> str:
    """Poll the run until it has ended; its final state."""
    while True:
        state = client.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]["JobRunState"]
        if state not in ACTIVE_STATES:
            return state
        time.sleep(interval)
