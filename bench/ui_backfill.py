"""One benchmark run of a UI backfill, in its own process: ``python -m bench.ui_backfill``.

On the state folder it is given: the whole graph for the days in one run, as
``climate-assets demo`` does (not measured: the state a user has after the demo, so the
sensors' first tick finds nothing new); then ``climate-assets dev`` (webserver + daemon) is
started; then, measured, a backfill of the whole graph over the days is launched as the asset
graph's "Materialize all" dialog launches it, and the daemon's progress is polled every
``POLL_SECONDS`` until the backfill has finished. Written as JSON: launch to completed, and
where that time went (each run's time queued, starting and running; the rest is waiting for the
backfill daemon, whose loop runs every 30 s, a constant of Dagster's, not a setting).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from . import pipeline

POLL_SECONDS = 1.0
BACKFILL_SECONDS = 900
RUNS = """
query($filter: RunsFilter!) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status creationTime startTime endTime assetSelection { path } } } } }"""


def _every_asset(dev) -> list[list[str]]:
    """Every materializable asset, as "Materialize all" on the asset graph selects them."""
    data = dev.graphql("{ assetNodes { assetKey { path } isMaterializable } }")
    return sorted(n["assetKey"]["path"] for n in data["assetNodes"] if n["isMaterializable"])


def _runs(dev, backfill_id: str) -> list[dict]:
    data = dev.graphql(
        RUNS, {"filter": {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}}
    )
    runs = []
    for run in data["runsOrError"]["results"]:
        created, started, ended = run["creationTime"], run["startTime"], run["endTime"]
        runs.append(
            {
                "run_id": run["runId"],
                "status": run["status"],
                "assets": sorted("/".join(a["path"]) for a in run["assetSelection"]),
                "created": created,
                "queued_seconds": round(started - created, 3) if started else None,
                "run_seconds": round(ended - started, 3) if started and ended else None,
                "ended": ended,
            }
        )
    return sorted(runs, key=lambda r: r["created"])


def measure(dev, days: list[str]) -> dict:
    from tests.dev_support import backfill_finished, launch_backfill, materialize_dialog_params

    selection = _every_asset(dev)
    launched_at = time.time()
    started = time.perf_counter()
    backfill = launch_backfill(dev, materialize_dialog_params(selection, days))
    launch_seconds = time.perf_counter() - started
    status = None
    while status is None and time.perf_counter() - started < BACKFILL_SECONDS:
        time.sleep(POLL_SECONDS)
        status = backfill_finished(dev, backfill)
    completed = time.perf_counter() - started
    runs = _runs(dev, backfill)
    running = sum(r["run_seconds"] or 0 for r in runs)
    return {
        "backfill_id": backfill,
        "backfill_status": status or "timed out",
        "assets": len(selection),
        "launch_seconds": round(launch_seconds, 3),
        "launch_to_completed_seconds": round(completed, 3),
        "runs": [{**r, "created_after_launch": round(r["created"] - launched_at, 3)} for r in runs],
        "runs_seconds_sum": round(running, 3),
        "queued_seconds_sum": round(sum(r["queued_seconds"] or 0 for r in runs), 3),
        "last_run_end_to_completed_seconds": round(
            launched_at + completed - max((r["ended"] or 0) for r in runs), 3
        )
        if runs
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui_backfill")
    parser.add_argument("--state", required=True, help="CLIMATE_STATE_DIR of this run")
    parser.add_argument("--start", required=True, type=date.fromisoformat)
    parser.add_argument("--end", required=True, type=date.fromisoformat)
    parser.add_argument("--out", required=True, help="where to write the JSON summary")
    args = parser.parse_args(argv)
    state = Path(args.state)
    prepared = state / "bench-prepare.json"
    if pipeline.main(["--state", args.state, "--start", args.start.isoformat(),
                      "--end", args.end.isoformat(), "--out", str(prepared)]) != 0:  # fmt: skip
        print(f"preparing the state (the demo's run) failed: {prepared}", file=sys.stderr)
        return 1
    from tests.dev_support import Dev, free_port, start, stop

    days = [
        date.fromordinal(d).isoformat()
        for d in range(args.start.toordinal(), args.end.toordinal() + 1)
    ]
    dev = Dev(state, state, free_port(), state / "bench-dev.log")
    started = time.perf_counter()
    try:
        start(dev, {"CLIMATE_SENSOR_INTERVAL": "3600"})  # the sensors tick once, at start
        summary = {"dev_start_seconds": round(time.perf_counter() - started, 3)}
        summary.update(measure(dev, days))
    finally:
        stop(dev)
    Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0 if summary["backfill_status"] == "COMPLETED_SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
