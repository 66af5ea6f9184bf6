"""The ``drop`` workload: one day's files dropped into a running ``climate-assets dev``.

``python -m bench.drop --state DIR --out FILE`` (the runner calls it in a process of its own):

1. from a generated landing zone (``--landing``, the runner's cached one) puts locations and the
   first ``--days`` days in the lake and processes them (the whole graph in one run, as the demo
   does);
2. starts ``climate-assets dev`` on that state with ``CLIMATE_SENSOR_INTERVAL=--interval`` and
   waits until every sensor has ticked and no run is queued or running;
3. renames the next day's three files into ``raw/<dataset>/date=D/`` one after the other (atomic
   renames, as an upload tool does), and polls PostgreSQL until that day has rows in every
   processed table and in ``resilience_scores``.

Measured: seconds from the last rename to each table's first rows of the day (``drop_seconds``
is ``resilience_scores``), and each run the daemon made for the drop: created, started, ended.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from climate_glue.contract import RAW_DATASETS, WAREHOUSE_SCHEMA
from climate_glue.lake import LocalLake
from psycopg import errors, sql

from climate_assets.resources.warehouse import LocalWarehouse
from climate_assets.settings import PROJECT_ROOT

DAILY = [d for d in RAW_DATASETS.values() if d.daily]
# What "the day reached PostgreSQL" means: every processed table, then the last derived one.
TABLES = [*(d.asset for d in DAILY), "resilience_scores"]
RUNS_QUERY = (
    "{ runsOrError { ... on Runs { results { runId status creationTime startTime endTime"
    " assetSelection { path } tags { key value } } } } }"
)
SENSORS_QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {"
    " ... on RepositoryLocation { repositories { sensors { name"
    " sensorState { ticks(limit: 1) { timestamp } } } } } } } } } }"
)
IN_FLIGHT = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}
READY_SECONDS = 600  # dev up, sensors ticked, the first ticks' runs done
DROP_SECONDS = 300  # from the last rename to the day's resilience scores


def _runs(dev) -> list[dict]:
    return dev.graphql(RUNS_QUERY)["runsOrError"]["results"]


def _sensor_ticks(dev) -> dict[str, float | None]:
    entries = dev.graphql(SENSORS_QUERY)["workspaceOrError"]["locationEntries"]
    ticks = {}
    for entry in entries:
        for repository in (entry["locationOrLoadError"] or {}).get("repositories", []):
            for sensor in repository["sensors"]:
                last = sensor["sensorState"]["ticks"]
                ticks[sensor["name"]] = last[0]["timestamp"] if last else None
    return ticks


def prepare(state: Path, scratch: Path, days: int, start: date) -> str:
    """The landing zone with locations and the first ``days`` days of ``scratch``, processed.
    Returns the day after them, the one to drop."""
    shutil.rmtree(state, ignore_errors=True)
    dropped = (start + timedelta(days=days)).isoformat()
    for path in sorted((scratch / "raw").rglob("*.csv")):
        relative = path.relative_to(scratch)
        if f"date={dropped}" not in str(relative):
            target = state / "lake" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    end = start + timedelta(days=days - 1)
    command = [
        sys.executable, "-m", "bench.pipeline", "--state", str(state), "--start",
        start.isoformat(), "--end", end.isoformat(), "--out", str(state / "bench-prepare.json"),
    ]  # fmt: skip
    with (state / "bench-prepare.log").open("w") as log:
        subprocess.run(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    return dropped


def idle(dev) -> bool:
    """Every sensor has ticked and no run is queued or running."""
    ticks = _sensor_ticks(dev)
    ticked = all(at is not None for at in ticks.values())
    return bool(ticks) and ticked and not any(run["status"] in IN_FLIGHT for run in _runs(dev))


def drop_day(state: Path, scratch: Path, day: str) -> float:
    """Rename the day's files into the landing zone; the time of the last rename."""
    staging = state / "lake" / "_drop"
    staging.mkdir(parents=True, exist_ok=True)
    lake = LocalLake(state / "lake")
    moves = []
    for dataset in DAILY:
        for path in sorted((scratch / f"raw/{dataset.name}/date={day}").iterdir()):
            staged = staging / f"{dataset.name}-{path.name}"
            shutil.copy(path, staged)  # same filesystem: the rename below is atomic
            target = Path(lake.root) / path.relative_to(scratch)
            target.parent.mkdir(parents=True, exist_ok=True)
            moves.append((staged, target))
    for staged, target in moves:
        os.rename(staged, target)
    return time.time()


def rows_of_day(state: Path, day: str) -> dict[str, int]:
    counts = {}
    with LocalWarehouse(embedded_pgdata=str(state / "pgdata")).connect() as conn:
        for table in TABLES:
            query = sql.SQL("SELECT count(*) FROM {}.{} WHERE date = %s").format(
                sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table)
            )
            try:
                counts[table] = conn.execute(query, (day,)).fetchone()[0]
            except errors.UndefinedTable:
                conn.rollback()
                counts[table] = 0
    return counts


def watch(state: Path, day: str, dropped_at: float) -> dict[str, float]:
    """Seconds from the drop to each table's first rows of the day."""
    reached: dict[str, float] = {}
    deadline = time.monotonic() + DROP_SECONDS
    while len(reached) < len(TABLES):
        now = time.time()
        for table, count in rows_of_day(state, day).items():
            if count and table not in reached:
                reached[table] = round(now - dropped_at, 2)
        if time.monotonic() > deadline:
            missing = sorted(set(TABLES) - set(reached))
            raise SystemExit(f"drop: {day} did not reach {missing} in {DROP_SECONDS}s")
        time.sleep(0.2)
    return reached


def drop_runs(dev, dropped_at: float) -> list[dict]:
    """The runs made after the drop: what, and created -> started -> ended relative to it."""

    def at(stamp):
        return None if stamp is None else round(stamp - dropped_at, 2)

    found = []
    for run in _runs(dev):
        if run["creationTime"] < dropped_at - 1:
            continue
        tags = {t["key"]: t["value"] for t in run["tags"]}
        found.append(
            {
                "assets": sorted("/".join(a["path"]) for a in run["assetSelection"] or []),
                "status": run["status"],
                "by": tags.get("dagster/sensor_name", ""),
                "created": at(run["creationTime"]),
                "started": at(run["startTime"]),
                "ended": at(run["endTime"]),
            }
        )
    return sorted(found, key=lambda r: r["created"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drop")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--landing", required=True, type=Path, help="a generated lake root")
    parser.add_argument("--days", type=int, default=7, help="days processed before the drop")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 6, 1))
    parser.add_argument("--interval", type=int, default=5, help="CLIMATE_SENSOR_INTERVAL")
    args = parser.parse_args(argv)
    state, scratch = args.state / "state", args.landing
    day = prepare(state, scratch, args.days, args.start)
    # The tests' driver of `climate-assets dev` (start, GraphQL, Ctrl-C stop), as bench.ui_backfill.
    from tests.dev_support import Dev, free_port, start, stop

    dev = Dev(state, scratch, free_port(), args.state / "dev.log")
    try:
        started = time.monotonic()
        start(dev, {"CLIMATE_SENSOR_INTERVAL": str(args.interval)})
        dev.wait_for(
            "every sensor's first tick, no run in flight", lambda: idle(dev), READY_SECONDS
        )
        ready_seconds = round(time.monotonic() - started, 1)
        time.sleep(args.interval)  # a quiet moment: the drop lands at a random point of a tick
        dropped_at = drop_day(state, scratch, day)
        reached = watch(state, day, dropped_at)
        runs = drop_runs(dev, dropped_at)
    finally:
        stop(dev)
    result = {
        "day": day,
        "interval_seconds": args.interval,
        "drop_seconds": reached["resilience_scores"],
        "reached_seconds": reached,
        "runs": runs,
        "dev_ready_seconds": ready_seconds,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
