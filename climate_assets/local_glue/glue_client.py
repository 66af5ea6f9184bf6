"""A Glue client for the embedded default: the Glue job-run API, in-process.

``PipesGlueClient`` (dagster-aws) drives a boto3 Glue client through ``start_job_run``,
``get_job_run`` and ``batch_stop_job_run``. This class answers the same calls by running the
job's real script (the file AWS Glue would run) in this process. A job run with ``--engine
spark`` gets one Spark session that the client starts on first use and keeps for the rest of the
Dagster run; a DuckDB job (the default) starts no JVM at all. ``start_job_run`` returns when the
job has finished, so the client's first ``get_job_run`` sees a final state and no polling delay
is added to a run.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class _JobRun:
    id: str
    job_name: str
    arguments: dict[str, str]
    started_on: datetime
    state: str = "RUNNING"
    completed_on: datetime | None = None
    error_message: str | None = None
    execution_seconds: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def _argv(arguments: Mapping[str, str]) -> list[str]:
    """Glue passes job arguments to the script as ``--name value`` pairs."""
    argv: list[str] = []
    for name, value in arguments.items():
        argv += [name, str(value)]
    return argv


class LocalGlueClient:
    """Runs Glue job scripts in-process (Spark jobs on a shared local Spark session)."""

    def __init__(self, scripts: Mapping[str, Path], session_factory: Callable[[], SparkSession]):
        self._scripts = dict(scripts)
        self._session_factory = session_factory
        self._session: SparkSession | None = None
        self._modules: dict[str, ModuleType] = {}
        self._runs: dict[str, _JobRun] = {}
        self._lock = threading.Lock()

    def spark(self) -> SparkSession:
        with self._lock:
            if self._session is None:
                self._session = self._session_factory()
            return self._session

    def stop(self) -> None:
        """Stop the Spark session (end of the Dagster run)."""
        with self._lock:
            if self._session is not None:
                self._session.stop()
                self._session = None

    def _script(self, job_name: str) -> ModuleType:
        if job_name not in self._scripts:
            raise KeyError(f"no Glue job named {job_name!r}; known jobs: {sorted(self._scripts)}")
        if job_name not in self._modules:
            path = self._scripts[job_name]
            spec = importlib.util.spec_from_file_location(f"glue_job_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[job_name] = module
        return self._modules[job_name]

    # --- the subset of the boto3 Glue client that PipesGlueClient calls -------------------
    # Argument names are boto3's (JobName, Arguments, RunId), since callers pass them by name.

    def start_job_run(
        self, JobName: str, Arguments: Mapping[str, str] | None = None, **_: Any
    ) -> dict:
        script = self._script(JobName)
        run = _JobRun(
            id=f"jr_local_{uuid.uuid4().hex}",
            job_name=JobName,
            arguments=dict(Arguments or {}),
            started_on=datetime.now(UTC),
        )
        self._runs[run.id] = run
        started = time.perf_counter()
        try:
            if run.arguments.get("--engine") == "spark":
                self.spark()
            run.stats["session_start_seconds"] = time.perf_counter() - started
            script.main(_argv(run.arguments))
            run.state = "SUCCEEDED"
        except Exception as exc:  # the job failed: Glue reports it in the run, not the API call
            run.state = "FAILED"
            run.error_message = f"{type(exc).__name__}: {exc}"
            run.stats["traceback"] = traceback.format_exc()
        except (
            BaseException
        ):  # interrupted (run cancelled): stop Spark's work, then let it propagate
            run.state = "STOPPED"
            if self._session is not None:
                self._session.sparkContext.cancelAllJobs()
            raise
        finally:
            run.completed_on = datetime.now(UTC)
            run.execution_seconds = round(time.perf_counter() - started)
            run.stats["seconds"] = time.perf_counter() - started
        return {"JobRunId": run.id}

    def get_job_run(self, JobName: str, RunId: str, **_: Any) -> dict:
        run = self._runs[RunId]
        job_run: dict[str, Any] = {
            "Id": run.id,
            "JobName": run.job_name,
            "JobRunState": run.state,
            "Arguments": run.arguments,
            "StartedOn": run.started_on,
            "ExecutionTime": run.execution_seconds,
            "GlueVersion": f"local-{run.arguments.get('--engine', 'duckdb')}",
        }
        if run.completed_on is not None:
            job_run["CompletedOn"] = run.completed_on
            # Not in AWS's response: the run's time to the millisecond and, of it, the Spark start.
            job_run["LocalExecutionSeconds"] = round(run.stats["seconds"], 3)
            job_run["LocalSessionStartSeconds"] = round(
                run.stats.get("session_start_seconds", 0.0), 3
            )
        if run.error_message is not None:
            job_run["ErrorMessage"] = run.error_message
        return {"JobRun": job_run}

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str], **_: Any) -> dict:
        stopped = []
        for run_id in JobRunIds:
            run = self._runs.get(run_id)
            if run is not None and run.state == "RUNNING" and self._session is not None:
                self._session.sparkContext.cancelAllJobs()
                run.state = "STOPPED"
            stopped.append({"JobName": JobName, "JobRunId": run_id})
        return {"SuccessfulSubmissions": stopped, "Errors": []}
