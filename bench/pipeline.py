"""One benchmark run of the whole graph, in its own process: ``python -m bench.pipeline``.

It runs exactly what ``climate-assets demo`` runs (``run_whole_graph``: every asset for the
days in one Dagster run on the project's instance, one Spark session, embedded PostgreSQL) on
the state folder it is given, then reads the run's event log and writes a JSON summary: run
and step durations, each step's Glue job runs, and the metadata every materialization
reported (the jobs' ``seconds_*`` stages among it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

from .breakdown import compact

STARTED = time.perf_counter()

GLUE_STARTED = "Started AWS Glue job"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def run_events(instance, run_id: str) -> dict:
    from dagster import DagsterEventType

    from climate_assets.steps.input_files import INPUT_FILES

    RUN_EVENTS = {  # noqa: N806
        DagsterEventType.RUN_START: "RUN_START",
        DagsterEventType.RUN_SUCCESS: "RUN_SUCCESS",
        DagsterEventType.RUN_FAILURE: "RUN_FAILURE",
    }
    """Steps with start, end and Glue job runs; materializations per asset; run times."""
    steps: dict[str, dict] = defaultdict(lambda: {"glue_job_runs": 0, "materializations": []})
    run: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            if entry.step_key and GLUE_STARTED in (entry.user_message or ""):
                steps[entry.step_key]["glue_job_runs"] += 1
            continue
        kind = event.event_type_value
        if event.event_type in RUN_EVENTS:
            run[RUN_EVENTS[event.event_type]] = entry.timestamp
            continue
        step = event.step_key
        if not step:
            continue
        if kind == "STEP_START":
            steps[step]["start"] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            steps[step]["end"] = entry.timestamp
            steps[step]["status"] = "success" if kind == "STEP_SUCCESS" else "failure"
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            steps[step]["materializations"].append(
                {
                    "asset": materialization.asset_key.to_user_string(),
                    "partition": materialization.partition,
                    # Not the day's own raw files (each day differs): the rest compacts.
                    "metadata": {
                        k: v.value for k, v in materialization.metadata.items() if k != INPUT_FILES
                    },
                }
            )
    first = min((s["start"] for s in steps.values() if "start" in s), default=None)
    for values in steps.values():
        if "start" in values and "end" in values:
            values["seconds"] = round(values["end"] - values["start"], 3)
            values["offset"] = round(values["start"] - first, 3)
    end = run.get("RUN_SUCCESS") or run.get("RUN_FAILURE")
    for values in steps.values():
        values["materializations"] = compact(values["materializations"])
    return {
        "steps": dict(steps),
        "run_event_seconds": round(end - run["RUN_START"], 3)
        if end and "RUN_START" in run
        else None,
        "first_step_after_run_start": round(first - run["RUN_START"], 3)
        if first and "RUN_START" in run
        else None,
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--state", required=True, help="CLIMATE_STATE_DIR of this run")
    parser.add_argument("--start", required=True, type=date.fromisoformat)
    parser.add_argument("--end", required=True, type=date.fromisoformat)
    parser.add_argument("--out", required=True, help="where to write the JSON summary")
    parser.add_argument("--select", help="comma list of asset keys (default: the whole graph)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    from climate_cli.cli import collect_garbage_less_often, exit_without_teardown

    collect_garbage_less_often()  # as the demo's process does, and it ends as that one does
    ends_with = exit_without_teardown()
    os.environ["CLIMATE_STATE_DIR"] = args.state
    os.environ.pop("CLIMATE_LAKE_ROOT", None)
    os.environ.pop("CLIMATE_WAREHOUSE_URL", None)
    from climate_assets.resources.embedded_postgres import start_embedded_server_early
    from climate_assets.settings import Settings

    settings = Settings.from_env()
    start_embedded_server_early(settings)  # as the demo does, while it imports Dagster
    import dagster as dg

    from climate_assets.instance import instance_environment
    from climate_cli.demo import run_whole_graph

    os.environ.update(instance_environment())
    imported = time.perf_counter() - STARTED

    def echo(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        instance.get_runs_count()  # the storage is ready (fresh state: PostgreSQL, tables)
        instance_seconds = time.perf_counter() - started
        started = time.perf_counter()
        selection = [dg.AssetKey(k) for k in args.select.split(",")] if args.select else None
        outcome = run_whole_graph(
            settings, instance, args.start, args.end, echo=echo, asset_selection=selection
        )
        run_seconds = time.perf_counter() - started
        events = run_events(instance, outcome.run_id)
    reported = {
        m["metadata"].get("engine")
        for step in events["steps"].values()
        for m in step["materializations"]
        if m["metadata"].get("engine")
    }
    summary = {
        "engine": settings.engine,
        "engines_reported": sorted(reported),  # the jobs' own "engine" metadata
        "run_id": outcome.run_id,
        "success": outcome.success,
        "errors": outcome.errors,
        "import_seconds": round(imported, 3),
        "instance_seconds": round(instance_seconds, 3),
        "run_seconds": round(run_seconds, 3),
        **events,
    }
    Path(args.out).write_text(json.dumps(_jsonable(summary), indent=1))
    return ends_with(0 if outcome.success else 1)


if __name__ == "__main__":
    sys.exit(main())
