"""One tick of the landing sensor over a landing zone, timed: ``python -m bench.sensor_tick``.

It evaluates each arrival sensor of the code location (``climate_assets/defs/automation/arrival_sensor.py``)
the way the daemon does, with the location's resources: first with a fresh cursor, so the tick
sees every key, then with the cursor that tick returned (the steady state: nothing new).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

NOT_PRESENT = "not measured: sensor not present"


def _arrival_sensors(sensors):
    """The landing sensors: one per raw dataset, each ticking over its own prefix."""
    return [s for s in sensors if "landing" in s.name or "arrival" in s.name]


def _count(result) -> dict:
    runs = getattr(result, "run_requests", None) or []
    skip = getattr(result, "skip_message", None)
    return {"run_requests": len(runs), "skip_message": skip, "cursor_set": bool(result.cursor)}


def measure(state: str) -> dict:
    """Tick every arrival sensor twice, as the daemon does: the first tick finds every key new
    (it reads each file once for its content tag and requests runs); the second is the steady
    state, over the same keys with the cursor the first returned. ``tick_seconds`` is the
    second, summed over the sensors; ``first_tick_seconds`` the first."""
    os.environ["CLIMATE_STATE_DIR"] = state
    os.environ.pop("CLIMATE_LAKE_ROOT", None)
    os.environ.pop("CLIMATE_WAREHOUSE_URL", None)
    # The arrival sensor's module: defs/automation/ since the layout by domain, sensors/ before.
    if not any(
        importlib.util.find_spec(name) is not None
        for name in ("climate_assets.defs.automation", "climate_assets.sensors")
    ):
        return {"status": NOT_PRESENT}
    import dagster as dg

    from climate_assets.definitions import build_definitions
    from climate_assets.settings import Settings

    defs = build_definitions(Settings.from_env())
    sensors = _arrival_sensors(list(defs.sensors or []))
    if not sensors:
        return {"status": NOT_PRESENT + " in the definitions"}
    resources = {"lake": defs.resources["lake"]}  # all an arrival sensor takes
    per_sensor = {}
    with dg.instance_for_test() as instance:
        for sensor in sensors:
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                started = time.perf_counter()
                first = sensor.evaluate_tick(context)
                first_seconds = time.perf_counter() - started
            with dg.build_sensor_context(
                instance=instance, resources=resources, cursor=first.cursor
            ) as context:
                started = time.perf_counter()
                second = sensor.evaluate_tick(context)
                second_seconds = time.perf_counter() - started
            per_sensor[sensor.name] = {
                "first_tick_seconds": round(first_seconds, 3),
                "first_tick": _count(first),
                "tick_seconds": round(second_seconds, 3),
                "tick": _count(second),
            }
    return {
        "status": "measured",
        "sensors": per_sensor,
        "tick_seconds": round(sum(v["tick_seconds"] for v in per_sensor.values()), 3),
        "first_tick_seconds": round(sum(v["first_tick_seconds"] for v in per_sensor.values()), 3),
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
