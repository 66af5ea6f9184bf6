"""``climate-assets status`` on an instance with thousands of runs: ``python -m bench.status_runs``.

``build``: on the state folder it is given (a tiny landing zone), run the whole graph once for
real (``run_whole_graph``, as ``climate-assets demo``), then add ``--runs`` more runs of the
Glue jobs spread over the last ``--hours`` (inside the 7 days ``status`` reads), round robin
over the jobs: each a copy of the real run's record under a new run id, with the real run's
materialization-planned events of the job's assets and, except for every job's tenth run (a
failure), their materializations (metadata included), at that run's time.

``time``: run the command, ``climate-assets status --json`` (the CLI's own ``main``, in this
process, the one the runner measures), and write how long its parts took and what it saw.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

STARTED = time.perf_counter()

FAIL_EVERY = 10  # every job's tenth run failed: planned, not materialized (a failed step)
BATCH = 250  # events per batch insert


def _local(state: str) -> None:
    os.environ["CLIMATE_STATE_DIR"] = state
    for name in ("CLIMATE_LAKE_ROOT", "CLIMATE_WAREHOUSE_URL", "CLIMATE_ENV"):
        os.environ.pop(name, None)


def build(state: str, day: date, runs: int, hours: float) -> dict:
    _local(state)
    import dagster as dg

    from climate_assets.instance import instance_environment
    from climate_assets.job_specs import JOB_SPECS
    from climate_assets.settings import Settings
    from climate_cli.demo import run_whole_graph

    os.environ.update(instance_environment())
    settings = Settings.from_env()

    def echo(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        outcome = run_whole_graph(settings, instance, day, day, echo=echo)
        if not outcome.success:
            raise SystemExit(f"the real run failed: {outcome.errors}")
        graph_seconds = time.perf_counter() - started

        started = time.perf_counter()
        source = instance.get_run_by_id(outcome.run_id)
        kinds = {
            dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED: "planned",
            dg.DagsterEventType.ASSET_MATERIALIZATION: "materialized",
        }
        events: dict[tuple[str, dg.AssetKey], object] = {}
        for record in instance.get_records_for_run(outcome.run_id).records:
            entry = record.event_log_entry
            event = entry.dagster_event
            if event is not None and event.event_type in kinds and event.asset_key is not None:
                events.setdefault((kinds[event.event_type], event.asset_key), entry)
        jobs = [spec.assets for spec in JOB_SPECS.values()]
        now = time.time()
        planned, materialized, failed = [], [], 0
        for i in range(runs):
            keys = jobs[i % len(jobs)]
            run_id = str(uuid.uuid4())
            fails = (i // len(jobs)) % FAIL_EVERY == FAIL_EVERY - 1  # each job's tenth run
            failed += fails
            status = dg.DagsterRunStatus.FAILURE if fails else dg.DagsterRunStatus.SUCCESS
            instance.add_run(
                source.with_status(status)._replace(run_id=run_id, asset_selection=frozenset(keys))
            )
            when = now - (i + 1) * hours * 3600 / runs
            for key in keys:
                planned.append(events[("planned", key)]._replace(run_id=run_id, timestamp=when))
                if not fails:
                    copy = events[("materialized", key)]._replace(run_id=run_id, timestamp=when + 1)
                    materialized.append(copy)
        # Oldest first, as a live instance stores them (the asset table keeps the last event).
        for batch in (planned[::-1], materialized[::-1]):
            for i in range(0, len(batch), BATCH):
                instance.event_log_storage.store_event_batch(batch[i : i + BATCH])
        add_seconds = time.perf_counter() - started
        return {
            "real_run_id": outcome.run_id,
            "graph_seconds": round(graph_seconds, 3),
            "runs_added": runs,
            "failed_runs_added": failed,
            "planned_events_added": len(planned),
            "materializations_added": len(materialized),
            "hours": hours,
            "add_seconds": round(add_seconds, 3),
            "runs_in_instance": instance.get_runs_count(),
        }


def time_status(state: str) -> dict:
    """``climate-assets status --json`` as a user runs it, its parts timed: the imports, the
    ``status`` call (definitions, every query), the rest (instance, embedded PostgreSQL start,
    printing)."""
    _local(state)
    from climate_cli import cli
    from climate_cli import status as status_module

    imported = time.perf_counter() - STARTED
    calls: list[float] = []
    real = status_module.status

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            calls.append(time.perf_counter() - began)

    status_module.status = timed  # the CLI imports it from the module when it runs
    printed = io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["status", "--json"])
    command = time.perf_counter() - began
    report = json.loads(printed.getvalue())
    week = [job["windows"]["7d"] for job in report["jobs"]]
    return {
        "exit": code,
        "import_seconds": round(imported, 3),
        "command_seconds": round(command, 3),
        "status_call_seconds": round(calls[0], 3),
        "runs_seen_7d": sum(w["runs"] for w in week),
        "failed_seen_7d": sum(w["failed"] for w in week),
        "alarms": dict(Counter(a["kind"] for a in report["alarms"])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status_runs")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="the real run, then --runs more")
    make.add_argument("--day", required=True, type=date.fromisoformat)
    make.add_argument("--runs", type=int, default=2000)
    make.add_argument("--hours", type=float, default=156.0, help="spread over (< 7 days)")
    timing = commands.add_parser("time", help="climate-assets status --json, timed")
    for sub in (make, timing):
        sub.add_argument("--state", required=True)
        sub.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        found = build(args.state, args.day, args.runs, args.hours)
    else:
        found = time_status(args.state)
    Path(args.out).write_text(json.dumps(found, indent=1))
    return found.get("exit", 0)


if __name__ == "__main__":
    sys.exit(main())
