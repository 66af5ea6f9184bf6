"""What every job script does around its data work: arguments, Pipes, the engine, timings.

On AWS Glue the script runs as ``python script.py --engine spark --lake-root s3://...
--dagster-pipes-context ...`` and Glue hands it a Spark session. On the embedded default the
local Glue client calls the same ``main(argv)`` in-process with ``--engine duckdb`` (one DuckDB
connection per job, no JVM), or ``--engine spark`` inside a run that already has a Spark
session, so ``getOrCreate`` returns it and no JVM starts per job.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dagster_pipes import (
    DAGSTER_PIPES_CONTEXT_ENV_VAR,
    DAGSTER_PIPES_MESSAGES_ENV_VAR,
    PipesContext,
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesMappingParamsLoader,
    decode_param,
    open_dagster_pipes,
)

from .copy_streams import CopySlots
from .engines import DEFAULT_ENGINE, ENGINES, Engine, open_engine

# The job arguments that carry the Pipes parameters (as Dagster's Pipes session names them).
PIPES_CONTEXT_ARGUMENT = f"--{DAGSTER_PIPES_CONTEXT_ENV_VAR}".replace("_", "-").lower()
PIPES_MESSAGES_ARGUMENT = f"--{DAGSTER_PIPES_MESSAGES_ENV_VAR}".replace("_", "-").lower()


@dataclass
class JobArgs:
    lake_root: str
    run_id: str
    warehouse: str
    start_date: date | None
    end_date: date | None
    pipes_context: str | None
    pipes_messages: str | None
    quality: str | None = None  # JSON: reject-rate threshold and row history (climate_glue.checks)
    engine: str = DEFAULT_ENGINE
    copy_streams: int | None = None  # None: a share of the server's free connections
    duckdb_memory_limit: str | None = None  # None: DuckDB's own (80% of the machine's memory)
    duckdb_temp_dir: str | None = None  # where the DuckDB engine spills; None: DuckDB's own

    @property
    def days(self) -> list[date]:
        if self.start_date is None or self.end_date is None:
            return []
        count = (self.end_date - self.start_date).days + 1
        return [self.start_date + timedelta(days=i) for i in range(count)]


def parse_args(argv: list[str]) -> JobArgs:
    """Parse this project's arguments; Glue's own (``--JOB_ID`` and the like) are ignored."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake-root", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument(
        "--warehouse", required=True, help="env:NAME, pgserver:PATH or secretsmanager:ID"
    )
    parser.add_argument("--start-date", type=date.fromisoformat)
    parser.add_argument("--end-date", type=date.fromisoformat)
    parser.add_argument(PIPES_CONTEXT_ARGUMENT, dest="pipes_context")
    parser.add_argument(PIPES_MESSAGES_ARGUMENT, dest="pipes_messages")
    parser.add_argument("--quality", help="JSON quality settings for the job's asset checks")
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE)
    parser.add_argument(
        "--copy-streams",
        type=int,
        help="most COPY streams into PostgreSQL at once (default: from max_connections)",
    )
    parser.add_argument("--duckdb-memory-limit", help="DuckDB's memory_limit (e.g. 512MB)")
    parser.add_argument("--duckdb-temp-dir", help="where DuckDB spills beyond its memory limit")
    known, _ = parser.parse_known_args(argv)
    if (known.start_date is None) != (known.end_date is None):
        parser.error("--start-date and --end-date go together")
    if known.start_date and known.end_date < known.start_date:
        parser.error("--end-date is before --start-date")
    return JobArgs(**vars(known))


def _pipes(args: JobArgs) -> PipesContext:
    """A Pipes context for this job, on the channel the orchestrator chose: S3 on AWS, a temp
    file locally. It is built directly rather than through the process-wide singleton of
    ``open_dagster_pipes``, because the local engine runs several jobs in one process."""
    if not args.pipes_context:
        return open_dagster_pipes()  # not launched by Dagster: a no-op context, with a warning
    params_loader = PipesMappingParamsLoader(
        {
            DAGSTER_PIPES_CONTEXT_ENV_VAR: args.pipes_context,
            DAGSTER_PIPES_MESSAGES_ENV_VAR: args.pipes_messages,
        }
    )
    if "bucket" in decode_param(args.pipes_context):
        from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriter

        from .aws import aws_client

        s3 = aws_client("s3")
        return PipesContext(
            params_loader, PipesS3ContextLoader(client=s3), PipesS3MessageWriter(client=s3)
        )
    return PipesContext(params_loader, PipesDefaultContextLoader(), PipesDefaultMessageWriter())


@dataclass
class Timings:
    """Seconds spent per stage of a job, reported as materialization metadata.

    Stages (``seconds_<stage>``) follow one another, so they add up to the job's time. Inside a
    stage whose parts run concurrently, each part's own seconds are ``busy_seconds_<part>``:
    those overlap, and add up to more than their stage.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=dict)
    current: str | None = None  # the stage last entered: where a failure happened
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stage(self, name: str):
        """One stage of the job, timed as a context manager."""
        self.current = name
        return self._timed(self.seconds, name)

    def part(self, name: str):
        """One part of a concurrent stage, timed as a context manager (thread-safe)."""
        return self._timed(self.busy, name)

    @contextmanager
    def _timed(self, into: dict[str, float], name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                into[name] = round(into.get(name, 0.0) + elapsed, 3)

    def metadata(self) -> dict[str, float]:
        return {
            **{f"seconds_{name}": value for name, value in self.seconds.items()},
            **{f"busy_seconds_{name}": value for name, value in self.busy.items()},
        }


def run_concurrently(parts: Sequence[Callable[[], object]], workers: int = 2) -> list:
    """Run independent parts of a job (each one or more queries) from ``workers`` threads, in
    the order given; returns their results in that order (the engine says how many help:
    ``Engine.concurrent_parts``).

    Every part runs to its end even when another fails, then the first failure is raised: a
    job's parts only stage outputs, so a failed job has published nothing.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job-part") as pool:
        futures = [pool.submit(part) for part in parts]
        wait(futures)
    return [future.result() for future in futures]


@dataclass
class Job:
    args: JobArgs
    pipes: PipesContext
    engine: Engine
    processed_at: datetime
    timings: Timings


class EnvironmentFaultError(RuntimeError):
    """The job could not run for a reason outside the data (a full disk): its message says
    what, where and what to do, and is the line the operator sees (not the engine's chain)."""


# What each stage does, for "while <doing> <days>"; a failure before publishing published nothing.
STAGE_WORDS = {
    "read": "reading",
    "validate": "validating",
    "outputs": "staging",
    "publish_postgres": "publishing to PostgreSQL",
    "publish_lake": "publishing the lake partitions",
}
PUBLISHING = ("publish_postgres", "publish_lake")
DISK_FULL = re.compile(r"No space left on device|\bENOSPC\b|could not extend file", re.IGNORECASE)


def _chain_text(exc: BaseException) -> str:
    parts, current = [], exc
    while current is not None and len(parts) < 10:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def environment_fault(exc: BaseException, job: Job) -> EnvironmentFaultError | None:
    """The operator's line for a fault of the machine rather than of the data, if it is one."""
    text = _chain_text(exc)
    if not DISK_FULL.search(text):
        return None
    where = (
        "PostgreSQL's disk"
        if "could not extend file" in text or "DiskFull" in text
        else "the lake's disk"
    )
    args = job.args
    days = ""
    if args.start_date is not None:
        days = args.start_date.isoformat()
        if args.end_date != args.start_date:
            days += f"..{args.end_date.isoformat()}"
    stage = job.timings.current
    doing = STAGE_WORDS.get(stage, "running")
    outcome = (
        "publishing was interrupted: free space, then re-run these days"
        if stage in PUBLISHING
        else "nothing was published; free space, then re-run"
    )
    return EnvironmentFaultError(
        f"{where} is full (No space left on device) while {doing} {days}".rstrip() + f"; {outcome}"
    )


def engine_options(args: JobArgs) -> dict[str, str]:
    """The DuckDB engine's memory bound and spill folder, as given (Spark has its own heap)."""
    if args.engine != "duckdb":
        return {}
    options = {"memory_limit": args.duckdb_memory_limit, "temp_dir": args.duckdb_temp_dir}
    return {name: value for name, value in options.items() if value}


@contextmanager
def run_job(argv: list[str]) -> Iterator[Job]:
    """Parse arguments, open Pipes, open the engine; a fault of the machine (a full disk)
    fails the job with one line that says so (``EnvironmentFaultError``), the engine's error as its
    cause."""
    args = parse_args(argv)
    with _pipes(args) as pipes:
        engine = open_engine(args.engine, **engine_options(args))
        engine.copy_slots = CopySlots(args.copy_streams)
        job = Job(
            args=args,
            pipes=pipes,
            engine=engine,
            processed_at=datetime.now(UTC),
            timings=Timings(),
        )
        try:
            yield job
        except Exception as exc:
            fault = environment_fault(exc, job)
            if fault is None:
                raise
            raise fault from exc
        finally:
            engine.close()
