"""The issue's targets (issues 11 and 21), judged on the medians of a results dict (2 cores,
24 GiB).

DuckDB engine (the embedded default), against the full-output floor (``bench/floor_full.py``:
plain DuckDB from the same landing zone to every output, PostgreSQL included) by process wall:
``seed`` at most 3x, ``100mb`` at most 2x and at most 1.5 GiB peak RSS, ``backfill`` (365 days)
at most 3x (``FULL_FLOOR_MAX_RATIO``); ``overhead`` (one tiny partition end to end) at most 6 s.
Results from before the full-output floor judge none of those three ratios (not measured). Spark
engine: no slower than the Spark medians recorded before the engines (``SPARK_BASELINE``),
within ``SPARK_TOLERANCE``. On both: one job run per step over a backfill's whole range, and the
orchestration per asset. The sensor tick (no engine) under 2 s. Issue 12: ``status`` on an
instance with 2,000 runs stays quick: its call under 10 s, the bound of tests/dagster/test_status.py.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from .breakdown import median_steps
from .shape import engine_parts, floor_summary, full_floor_summary, median

GIB = 2**30
DUCKDB_OVERHEAD_MAX_SECONDS = 6.0
# Issue 21: the DuckDB engine's process wall over the full-output floor's, per workload.
FULL_FLOOR_MAX_RATIO = {"seed": 3.0, "100mb": 2.0, "backfill": 3.0}
FULL_FLOOR_TARGETS = {
    "seed": "seed batch vs full-output floor",
    "100mb": "100 MB/day vs full-output floor",
    "backfill": "backfill (365 days) vs full-output floor",
}
DUCKDB_PEAK_MAX_BYTES = 1.5 * GIB
OVERHEAD_MAX_SECONDS = 1.0  # orchestration per asset, beyond its job
SENSOR_MAX_SECONDS = 2.0
STATUS_MAX_SECONDS = 10.0  # the status call (tests/dagster/test_status.py: 2,000 runs, < 10 s)
DROP_MAX_SECONDS = 15.0  # issue 21: a day's files to its resilience_scores through the daemon
# The Spark medians before the engines: every workload, 3 runs, idle machine (bench/RESULTS.md
# of 2026-11-25). "No slower" allows the runs' own spread (seed 55.8 to 58.7 s there: 5 %).
SPARK_BASELINE = Path(__file__).with_name("results") / "20261125T194052Z.json"
SPARK_TOLERANCE = 0.05


def _target(
    name: str, workload: str, engine: str, limit: str, measured, met: bool | None, note: str
) -> dict:
    status = "not measured" if met is None else ("met" if met else "MISSED")
    return {
        "target": name,
        "workload": workload,
        "engine": engine,
        "limit": limit,
        "measured": measured,
        "status": status,
        "note": note,
    }


def _by(value: float | None, limit: float, unit: str) -> str:
    """How far from the limit: negative is under it."""
    if value is None:
        return ""
    return f"{value - limit:+,.2f} {unit} against the limit ({100 * (value / limit - 1):+.0f}%)"


def _wall_target(name: str, workload: str, summary: dict, limit: float) -> dict:
    wall = median(summary, "wall_seconds")
    spread = summary.get("wall_seconds") or {}
    return _target(
        name,
        workload,
        "duckdb",
        f"<= {limit:g} s wall (median)",
        wall,
        None if wall is None else wall <= limit,
        "" if wall is None else f"{_by(wall, limit, 's')}; runs {spread['min']}–{spread['max']} s",
    )


def _floor_target(workload: str, found: dict, summary: dict) -> dict:
    """The engine's process wall over the full-output floor's (medians); the curated floor's in
    the note, for the scale."""
    limit = FULL_FLOOR_MAX_RATIO[workload]
    wall = median(summary, "wall_seconds")
    full = full_floor_summary(found)
    full_wall = median(full, "wall_seconds")
    curated_wall = median(floor_summary(found), "wall_seconds")
    ratio = round(wall / full_wall, 2) if wall and full_wall else None
    if full is None:
        note = (
            "no full-output floor in these results (they predate it); pipeline"
            f" {wall} s, curated floor {curated_wall} s"
        )
    else:
        note = (
            f"pipeline {wall} s, full-output floor {full_wall} s, curated floor {curated_wall} s"
            f" (process wall, medians); CPU seconds {median(summary, 'cpu_seconds')} vs"
            f" {median(full, 'cpu_seconds')} (full-output floor)"
            + (f"; {_by(ratio, limit, 'x')}" if ratio is not None else "")
        )
    return _target(
        FULL_FLOOR_TARGETS[workload],
        workload,
        "duckdb",
        f"<= {limit:g}x the full-output floor's process wall",
        ratio,
        None if ratio is None else ratio <= limit,
        note,
    )


def _peak_target(summary: dict) -> dict:
    peak = median(summary, "peak_rss_bytes")
    return _target(
        "100 MB/day peak memory",
        "100mb",
        "duckdb",
        f"<= {DUCKDB_PEAK_MAX_BYTES / GIB:g} GiB RSS (whole process tree, median)",
        None if peak is None else round(peak / GIB, 2),
        None if peak is None else peak <= DUCKDB_PEAK_MAX_BYTES,
        ""
        if peak is None
        else f"GiB, sum of RSS over the tree; {_by(peak / GIB, DUCKDB_PEAK_MAX_BYTES / GIB, 'GiB')};"
        f" highest run {summary['peak_rss_bytes']['max'] / GIB:.2f} GiB",
    )


def spark_baseline(path: Path = SPARK_BASELINE) -> dict[str, float]:
    """Workload -> the Spark engine's median process wall in the baseline results file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    found = {}
    for name, workload in data.get("workloads", {}).items():
        spark = engine_parts(workload).get("spark")
        wall = median(spark and spark["summary"], "wall_seconds")
        if wall is not None and not data.get("quick"):
            found[name] = wall
    return found


def _orchestration(name: str, engine: str, runs: list[dict]) -> dict:
    rows = median_steps(runs)
    worst = max(rows, key=lambda r: r["orchestration_per_asset"] or 0.0, default=None)
    value = worst["orchestration_per_asset"] if worst else None
    return _target(
        "orchestration overhead per asset",
        name,
        engine,
        f"<= {OVERHEAD_MAX_SECONDS:g} s beyond its job",
        value,
        None if value is None else value <= OVERHEAD_MAX_SECONDS,
        f"worst step {worst['step']} ({len(worst['assets'])} asset(s),"
        f" {worst['orchestration']} s for the step)"
        if worst
        else "",
    )


def _one_job_per_step(workload: dict, engine: str, runs: list[dict]) -> dict:
    first = date.fromisoformat(workload["start"])
    whole = (first.isoformat(), (first + timedelta(days=workload["days"] - 1)).isoformat())
    rows = median_steps(runs[:1])
    glue = [r for r in rows if r["glue_job_runs"]]
    ok = bool(glue) and all(
        r["glue_job_runs"] == 1 and (not r["partitioned"] or r["partition_ranges"] == [whole])
        for r in glue
    )
    return _target(
        "backfill: one job run per asset for the whole range",
        "backfill",
        engine,
        "1 Glue job run per step, range = whole backfill",
        {r["step"]: r["glue_job_runs"] for r in glue},
        ok if glue else None,
        f"range {whole[0]} .. {whole[1]}",
    )


def evaluate(results: dict, baseline: dict[str, float] | None = None) -> list[dict]:
    """Every target the results can judge; ``baseline``: workload -> the Spark engine's earlier
    median wall (default: read from ``SPARK_BASELINE``)."""
    found = results["workloads"]
    if baseline is None:
        baseline = spark_baseline()
    out = []

    duck = {name: engine_parts(w).get("duckdb") for name, w in found.items()}
    for name in FULL_FLOOR_MAX_RATIO:
        if duck.get(name):
            out.append(_floor_target(name, found[name], duck[name]["summary"]))
        if name == "100mb" and duck.get(name):
            out.append(_peak_target(duck[name]["summary"]))
    if duck.get("overhead"):
        out.append(
            _wall_target(
                "one tiny partition end to end",
                "overhead",
                duck["overhead"]["summary"],
                DUCKDB_OVERHEAD_MAX_SECONDS,
            )
        )

    for name, w in found.items():
        spark = engine_parts(w).get("spark")
        if not spark:
            continue
        wall = median(spark["summary"], "wall_seconds")
        before = None if results.get("quick") else baseline.get(name)
        limit = None if before is None else round(before * (1 + SPARK_TOLERANCE), 3)
        out.append(
            _target(
                f"{name}: Spark engine no slower than before",
                name,
                "spark",
                f"<= {before} s (earlier Spark median) + {100 * SPARK_TOLERANCE:.0f}%"
                if before is not None
                else "earlier Spark median",
                wall,
                None if wall is None or limit is None else wall <= limit,
                "quick sizes: no earlier median to compare with"
                if results.get("quick")
                else f"{wall - before:+,.2f} s ({100 * (wall / before - 1):+.0f}%) against the"
                f" earlier Spark median {before} s ({SPARK_BASELINE.name})"
                if before is not None and wall is not None
                else "",
            )
        )

    for name, w in found.items():
        for engine, part in engine_parts(w).items():
            if name == "overhead":
                out.append(_orchestration(name, engine, part["runs"]))
            if name == "backfill":
                out.append(_one_job_per_step(w["workload"], engine, part["runs"]))

    sensor = found.get("sensor")
    if sensor:
        runs = sensor["runs"]
        measured = [r["tick_seconds"] for r in runs if r.get("status") == "measured"]
        status = runs[0].get("status", "failed") if runs else "not run"
        value = sorted(measured)[len(measured) // 2] if measured else None
        out.append(
            _target(
                "sensor tick over 10,000 keys",
                "sensor",
                "none",
                f"< {SENSOR_MAX_SECONDS:g} s",
                value,
                None if value is None else value < SENSOR_MAX_SECONDS,
                "" if measured else status,
            )
        )

    found_status = found.get("status")
    if found_status:
        out.append(_status_target(found_status))
    if found.get("drop"):
        out.append(_drop_target(found["drop"]))
    return out


def _drop_target(workload: dict) -> dict:
    summary = workload.get("summary") or {}
    seconds = median(summary, "drop_seconds")
    spread = summary.get("drop_seconds") or {}
    return _target(
        "drop: a day's files to its resilience_scores in PostgreSQL",
        "drop",
        "duckdb",
        f"<= {DROP_MAX_SECONDS:g} s from the last file's rename (median)",
        seconds,
        None if seconds is None else seconds <= DROP_MAX_SECONDS,
        ""
        if seconds is None
        else f"{_by(seconds, DROP_MAX_SECONDS, 's')}; runs {spread['min']}–{spread['max']} s",
    )


def _status_target(workload: dict) -> dict:
    summary, runs = workload.get("summary") or {}, workload.get("runs") or []
    call = median(summary, "status_call_seconds")
    added = workload["workload"].get("runs")
    note = ""
    if call is not None:
        spread = summary["status_call_seconds"]
        note = (
            f"the call: runs {spread['min']}–{spread['max']} s; the whole command"
            f" {median(summary, 'wall_seconds')} s (its own process: imports, instance and"
            f" embedded PostgreSQL start), again on the same instance"
            f" {median(summary, 'again_wall_seconds')} s (medians)"
        )
    elif runs:
        note = runs[0].get("status", "failed")
    return _target(
        f"status over {added:,} runs",
        "status",
        "none",
        f"< {STATUS_MAX_SECONDS:g} s for the status call (median)",
        call,
        None if call is None else call < STATUS_MAX_SECONDS,
        note,
    )
