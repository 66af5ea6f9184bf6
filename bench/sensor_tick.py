"""One tick of the landing sensor over a landing zone, timed: ``python -m bench.sensor_tick``.

What it expects (the sensor is written on another branch): a module ``climate_assets.sensors``
and, among the code location's sensor definitions, the landing sensor (its name contains
"landing" or "arrival", else the only sensor). It evaluates the sensor the way the daemon
does, with the location's resources and a fresh cursor, so the first tick sees every key;
then a second tick with the cursor the first one returned (nothing new). When the module or
the sensor is absent it writes ``status: not measured: sensor not present``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

NOT_PRESENT = "not measured: sensor not present"


def _landing_sensor(sensors):
    named = [s for s in sensors if "landing" in s.name or "arrival" in s.name]
    if named:
        return named[0]
    return sensors[0] if len(sensors) == 1 else None


def _count(result) -> dict:
    runs = getattr(result, "run_requests", None) or []
    skip = getattr(result, "skip_message", None)
    return {"run_requests": len(runs), "skip_message": skip, "cursor_set": bool(result.cursor)}


def measure(state: str) -> dict:
    os.environ["CLIMATE_STATE_DIR"] = state
    os.environ.pop("CLIMATE_LAKE_ROOT", None)
    os.environ.pop("CLIMATE_WAREHOUSE_URL", None)
    try:
        importlib.import_module("climate_assets.sensors")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("climate_assets.sensors"):
            return {"status": NOT_PRESENT}
        raise
    import dagster as dg

    from climate_assets.definitions import build_definitions
    from climate_assets.settings import Settings

    defs = build_definitions(Settings.from_env())
    sensor = _landing_sensor(list(defs.sensors or []))
    if sensor is None:
        return {"status": NOT_PRESENT + " in the definitions"}
    resources = dict(defs.resources or {})
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        started = time.perf_counter()
        first = sensor.evaluate_tick(context)
        first_seconds = time.perf_counter() - started
        context = dg.build_sensor_context(
            instance=instance, resources=resources, cursor=first.cursor
        )
        started = time.perf_counter()
        second = sensor.evaluate_tick(context)
        second_seconds = time.perf_counter() - started
    return {
        "status": "measured",
        "sensor": sensor.name,
        "tick_seconds": round(first_seconds, 3),
        "first_tick": _count(first),
        "second_tick_seconds": round(second_seconds, 3),
        "second_tick": _count(second),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sensor_tick")
    parser.add_argument("--state", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    Path(args.out).write_text(json.dumps(measure(args.state), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
